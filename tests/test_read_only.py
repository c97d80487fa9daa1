"""A query runs without BEGIN/ROLLBACK on PostgreSQL; a mutation keeps its one transaction (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from bench import queries
from tests.conftest import is_postgres
from tests.world import TOKENS

pytestmark = pytest.mark.skipif(not is_postgres(), reason="autocommit reads are PostgreSQL's (SQLite sends no BEGIN)")

START = """mutation Start($input: StartTrialInput!) { startTrial(input: $input) {
    trial { trialId } userErrors { code } } }"""
NEW = {"newCustomer": {"name": "Read Only Co"}, "products": ["MEETINGS"], "licenses": 5, "days": 30}
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")
MUTATION = ["BEGIN", "COMMIT", "BEGIN", "COMMIT", "BEGIN", "ROLLBACK"]


@pytest.fixture
def control(engine) -> list[str]:
    """The transaction control statements asyncpg sends on the engine's connections, in order.

    BEGIN/COMMIT/ROLLBACK are simple queries of asyncpg's ``Transaction``,
    which its query loggers see; SQLAlchemy's statement events do not (they
    are not in ``X-SQL-Statements``).
    """
    seen: list[str] = []

    def log(record: Any) -> None:
        word = record.query.split()[0].rstrip(";").upper()
        if word in _CONTROL:
            seen.append(word)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.remove_query_logger(log)
        driver.add_query_logger(log)

    event.listen(engine.sync_engine, "checkout", on_checkout)
    yield seen
    event.remove(engine.sync_engine, "checkout", on_checkout)


async def test_a_query_sends_no_begin_or_rollback(api, world, control) -> None:
    page = await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    assert page.get("errors") is None and page["data"]["customers"]["nodes"]
    # Token lookup, page, plans: the statements counted are the same 3 as in a
    # transaction (tests/test_prepared.py); only the transaction's two round trips are gone.
    assert api.last_statements == 3
    assert control == []
    # A detail and the list page (loaders of every kind, the prepared path) too.
    detail = await api(queries.DETAIL, {"id": world.gid("Customer", "Alpha")}, token=TOKENS["ana"])
    assert detail.get("errors") is None
    assert (await api(queries.LIST_PAGE, {"first": 50}, token=TOKENS["sam"])).get("errors") is None
    assert control == []


async def test_a_mutation_is_one_transaction_as_before(api, world, control) -> None:
    body = await api(START, {"input": NEW}, token=TOKENS["ana"])
    assert body["data"]["startTrial"]["userErrors"] == []
    # Unchanged by autocommit reads: the token lookup's read transaction (BEGIN,
    # ended by the runner's COMMIT), the mutation's own (BEGIN … COMMIT), then the
    # payload's objects read after the commit (BEGIN, rolled back at the session's close).
    assert control == MUTATION, control


async def test_a_query_after_a_mutation_on_the_same_pooled_connection_is_autocommit(api, world, control) -> None:
    # The pool hands the mutation's connection back to the next request: the
    # mutation's isolation setting must not stick to it, nor autocommit to the mutation.
    await api(START, {"input": NEW}, token=TOKENS["ana"])
    control.clear()
    await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    assert control == []
    await api(START, {"input": {**NEW, "newCustomer": {"name": "Read Only Two"}}}, token=TOKENS["ana"])
    assert control == MUTATION, control
