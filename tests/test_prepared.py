"""Loader statements as prepared statements on the raw connection (db/records.py ``fetch_records``, issue 14)."""

from __future__ import annotations

from typing import Any

import loaders
from bench import queries
from db import records as db_records
from tests.conftest import is_postgres
from tests.world import TOKENS


def _compared(monkeypatch) -> list[str]:
    """Run every loader statement both ways: the prepared path and SQLAlchemy's ``execute`` + ``records``.

    Returns the SQL texts compared; a difference in rows, column names or
    value types fails the test where it occurs.
    """
    compared: list[str] = []
    real = db_records.fetch_records

    async def both(connection: Any, statement: Any, keys: list[Any] | None = None) -> list[Any]:
        fast = await real(connection, statement, keys)
        slow = db_records.records(await connection.execute(statement, {"keys": keys} if keys is not None else None))
        assert fast == slow, str(statement)
        assert [r._fields for r in fast] == [r._fields for r in slow]
        assert [[type(v) for v in r] for r in fast] == [[type(v) for v in r] for r in slow]
        compared.append(str(statement))
        return fast

    monkeypatch.setattr(loaders, "fetch_records", both)
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
