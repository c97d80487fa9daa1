"""Loader and page statements as prepared statements on the raw connection (db/records.py ``fetch_records``, issue 14)."""

from __future__ import annotations

from typing import Any

import loaders
from bench import queries
from db import records as db_records
from resolvers import pagination
from tests.conftest import is_postgres
from tests.world import TOKENS


def _compared(monkeypatch) -> list[str]:
    """Run every loader statement both ways: the prepared path and SQLAlchemy's ``execute`` + ``records``.

    Returns the SQL texts compared; a difference in rows, column names or
    value types fails the test where it occurs.
    """
    compared: list[str] = []
    real = db_records.fetch_records

    async def both(
        connection: Any, statement: Any, keys: list[Any] | None = None, values: dict[str, Any] | None = None
    ) -> list[Any]:
        fast = await real(connection, statement, keys, values)
        given = {**({"keys": keys} if keys is not None else {}), **(values or {})}
        slow = db_records.records(await connection.execute(statement, given or None))
        assert fast == slow, str(statement)
        assert [r._fields for r in fast] == [r._fields for r in slow]
        assert [[type(v) for v in r] for r in fast] == [[type(v) for v in r] for r in slow]
        compared.append(str(statement))
        return fast

    monkeypatch.setattr(loaders, "fetch_records", both)
    monkeypatch.setattr(pagination, "fetch_records", both)
    return compared


async def test_list_and_detail_pages_read_the_same_records_both_ways(api, world, monkeypatch) -> None:
    compared = _compared(monkeypatch)
    page = await api(queries.LIST_PAGE, {"first": 50}, token=TOKENS["ana"])
    assert page.get("errors") is None
    # Twice: the second run of each statement uses the compiled form and the result processors kept.
    assert await api(queries.LIST_PAGE, {"first": 50}, token=TOKENS["ana"]) == page
    detail = await api(queries.DETAIL, {"id": world.gid("Customer", "Alpha")}, token=TOKENS["ana"])
    assert detail.get("errors") is None
    # A sales admin: the statements with the visibility EXISTS and the viewer's id bound.
    assert (await api(queries.LIST_PAGE, {"first": 50}, token=TOKENS["sam"])).get("errors") is None
    # Facets under a list of admins: expanding IN lists of fixed values, rendered once.
    facets = """{ partnerAdmins(first: 10) { nodes { email assignedCustomers(first: 5) { nodes { name }
      facets { statuses { value count } managedBy { value count } subscriptionTypes { value count } } } } } }"""
    assert (await api(facets, token=TOKENS["ana"])).get("errors") is None
    # The list page's loader statements (statuses, status details, products, plans,
    # lines, history, invoices, orders, admins...) and the facets': at least 8 distinct texts.
    assert len(set(compared)) >= 8


async def test_prepared_statements_are_counted(api, world) -> None:
    await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    # token lookup + page + plans = 3, as before the prepared path (bench/README.md, case 0).
    assert api.last_statements == 3


async def test_a_compiled_statement_is_kept_per_statement_object(api, world) -> None:
    await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    kept = dict(db_records._PREPARED)
    await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    if is_postgres():
        # The plans statement: compiled once, the same entry reused by the second request.
        assert kept and all(db_records._PREPARED[k] is v for k, v in kept.items())


WALK = """query($first: Int, $after: String, $last: Int, $before: String, $field: CustomerOrderField!,
  $direction: OrderDirection!) {
  customers(first: $first, after: $after, last: $last, before: $before, orderBy: {field: $field, direction: $direction}) {
    edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage } } }"""


async def _walk(api, token: str, field: str, direction: str) -> list[str]:
    """Every customer's name, paged 2 at a time forwards by cursor, then the 2 before the last one backwards."""
    order = {"field": field, "direction": direction}
    names: list[str] = []
    after = None
    while True:
        body = await api(WALK, {"first": 2, "after": after, **order}, token=token)
        assert body.get("errors") is None, body
        page = body["data"]["customers"]
        names += [edge["node"]["name"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    # Backwards: the 2 before the very last customer's cursor are the 2 names before it.
    body = await api(WALK, {"last": 2, "before": page["edges"][-1]["cursor"], **order}, token=token)
    assert [edge["node"]["name"] for edge in body["data"]["customers"]["edges"]] == names[-3:-1]
    return names


async def test_unfiltered_customer_pages_read_the_same_records_both_ways(api, world, monkeypatch) -> None:
    compared = _compared(monkeypatch)
    pagination._PAGE_STATEMENTS.clear()
    for field, direction in (("NAME", "ASC"), ("NAME", "DESC"), ("CREATED_ON", "ASC"), ("CREATED_ON", "DESC")):
        ana = await _walk(api, TOKENS["ana"], field, direction)
        # ana (full admin) sees every customer of her partner; sam (sales) his assigned ones.
        sam = await _walk(api, TOKENS["sam"], field, direction)
        assert set(sam) < set(ana)
        assert len(sam) <= 2 < len(ana)  # sam's customers fit on one page of 2, ana's do not
    # The pages' statements went the prepared way and matched SQLAlchemy's rows.
    assert any("ORDER BY" in text and "LIMIT" in text for text in compared)
    # One statement per viewer and page shape, reused across the walk: ana's first
    # page, pages after a cursor, a page before one (3 shapes); sam's first page and
    # a page before a cursor (2: one page of his own); × 4 orders = (3 + 2) × 4 = 20.
    assert len(pagination._PAGE_STATEMENTS) == 20


async def test_a_filtered_page_is_built_per_request(api, world) -> None:
    pagination._PAGE_STATEMENTS.clear()
    body = await api(queries.LIST_PAGE, {"first": 50, "filter": {"search": "a"}}, token=TOKENS["ana"])
    assert body.get("errors") is None
    # The search text is client input: not a reusable statement.
    assert pagination._PAGE_STATEMENTS == {}
    await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    assert len(pagination._PAGE_STATEMENTS) == 1


async def test_records_are_built_with_and_without_result_processors(engine) -> None:
    """Records from the prepared path equal SQLAlchemy's, for a statement with a processed column and one without."""
    from decimal import Decimal

    from sqlalchemy import Numeric, cast, literal, select

    # Numeric(asdecimal=False) has a result processor (asyncpg gives Decimal, SQLAlchemy
    # a float); the text and integer columns have none. 2.5 * 2 = 5.0 as a float.
    processed = select(
        literal("a").label("t"), cast(literal(Decimal("2.5")) * 2, Numeric(asdecimal=False)).label("f"), literal(7)
    )
    plain = select(literal("b").label("t"), literal(8).label("n"))
    async with engine.connect() as connection:
        for _ in range(2):  # the second run uses the kept compiled form and processors
            got = await db_records.fetch_records(connection, processed)
            assert got == db_records.records(await connection.execute(processed))
            assert [tuple(r) for r in got] == [("a", 5.0, 7)] and type(got[0].f) is float
            assert got[0]._fields[:2] == ("t", "f")
            got = await db_records.fetch_records(connection, plain)
            assert got == db_records.records(await connection.execute(plain))
            assert [tuple(r) for r in got] == [("b", 8)] and got[0].n == 8
        if is_postgres():
            # Only the processed column is kept, by its index.
            assert [i for i, _ in db_records._PREPARED[id(processed)].processors or []] == [1]
            assert db_records._PREPARED[id(plain)].processors == []
