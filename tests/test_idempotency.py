"""``Idempotency-Key`` on mutations (SPEC §3.3, web/idempotency.py), against the hand-built world.

World recap (tests/world.py): ana is acme's full admin, oscar the full admin
of another partner. Acme has no customer named "Idem Co".
"""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from db import idempotency as keys
from db.tables import AUDIT, CUSTOMER, IDEMPOTENCY_KEY, PLAN
from server import create_app
from tests.world import TOKENS
from web import idempotency

START = """mutation Start($input: StartTrialInput!) { startTrial(input: $input) {
    trial { trialId status endsOn } customer { name } userErrors { field code } } }"""
NEW = {"newCustomer": {"name": "Idem Co"}, "products": ["MEETINGS"], "licenses": 5, "days": 30}
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


async def send(api, key: str | bytes | None, variables: dict, *, who: str = "ana", query: str = START):
    headers = {"Accept": "application/graphql-response+json", "Authorization": f"Bearer {TOKENS[who]}"}
    if key is not None:
        headers["Idempotency-Key"] = key  # type: ignore[assignment]
    return await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


async def counts(engine) -> tuple[int, int, int]:
    """(customers, plans, audit events) in the whole database."""
    async with engine.connect() as conn:
        return tuple(
            [(await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in (CUSTOMER, PLAN, AUDIT)]
        )


def without_cost(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "extensions"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idempotency, "now", lambda: T0)


async def test_a_retried_start_trial_gets_the_first_answer_and_runs_once(api, engine, world):
    before = await counts(engine)
    first = await send(api, "retry-1", {"input": NEW})
    assert first.status_code == 200, first.text
    payload = first.json()["data"]["startTrial"]
    assert payload["userErrors"] == [] and payload["customer"] == {"name": "Idem Co"}
    after_first = await counts(engine)
    # One new customer, one new trial, one audit event (startTrial's own).
    assert after_first == (before[0] + 1, before[1] + 1, before[2] + 1)
    unkeyed_statements = int(
        (await send(api, None, {"input": {**NEW, "newCustomer": {"name": "Other Co"}}})).headers["x-sql-statements"]
    )
    after_other = await counts(engine)

    retry = await send(api, "retry-1", {"input": NEW})
    assert retry.status_code == first.status_code
    assert retry.headers["idempotent-replayed"] == "true"
    assert without_cost(retry.json()) == without_cost(first.json())
    assert "cost" in retry.json()["extensions"]
    assert await counts(engine) == after_other
    # The retry runs no mutation: token lookup, expired-key delete, the insert that
    # loses to the stored row, and its read = 4 statements.
    assert retry.headers["x-sql-statements"] == "4"
    # The first, keyed run paid 4 more than an unkeyed one: token lookup, delete, insert, store.
    assert int(first.headers["x-sql-statements"]) == unkeyed_statements + 4

    # Without the key the same retry is a second attempt, which the name rule refuses.
    again = (await send(api, None, {"input": NEW})).json()["data"]["startTrial"]
    assert again["userErrors"] == [{"field": ["input", "newCustomer", "name"], "code": "NAME_TAKEN"}]


async def test_variables_in_another_key_order_are_the_same_request(api, engine, world):
    first = await send(api, "order", {"input": NEW})
    reordered = {"input": {"days": 30, "licenses": 5, "products": ["MEETINGS"], "newCustomer": {"name": "Idem Co"}}}
    retry = await send(api, "order", reordered)
    assert retry.headers.get("idempotent-replayed") == "true"
    assert without_cost(retry.json()) == without_cost(first.json())


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(api, engine, world):
    await send(api, "k", {"input": NEW})
    before = await counts(engine)
    other = await send(api, "k", {"input": {**NEW, "licenses": 6}})
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Another operation name over the same text is another request too.
    renamed = await send(api, "k", {"input": NEW}, query=START.replace("Start(", "Start2("))
    assert renamed.status_code == 422
    assert await counts(engine) == before


async def test_another_admins_same_key_is_independent(api, engine, world):
    before = await counts(engine)
    ana = await send(api, "shared", {"input": NEW}, who="ana")
    oscar = await send(api, "shared", {"input": NEW}, who="oscar")
    for response in (ana, oscar):
        assert "idempotent-replayed" not in response.headers
        assert response.json()["data"]["startTrial"]["userErrors"] == []
    # Each partner got its own "Idem Co" and trial.
    assert (await counts(engine))[:2] == (before[0] + 2, before[1] + 2)


async def test_a_retry_while_the_first_runs_is_told_to_wait(api, engine, world):
    # A request of another process holds the key and has not answered yet.
    sessionmaker = api.app.state.sessionmaker
    digest = idempotency.request_hash(idempotency.GraphQLRequest(START, {"input": NEW}, None))
    assert await keys.claim(sessionmaker, world.admins["ana"], "busy", digest, T0) is None
    before = await counts(engine)
    retry = await send(api, "busy", {"input": NEW})
    assert retry.status_code == 409
    assert retry.headers["retry-after"] == "1"
    assert retry.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert await counts(engine) == before


async def test_two_concurrent_requests_with_one_key_run_once(api, engine, world):
    before = await counts(engine)
    a, b = await asyncio.gather(send(api, "race", {"input": NEW}), send(api, "race", {"input": NEW}))
    ran = [r for r in (a, b) if "idempotent-replayed" not in r.headers and r.status_code == 200]
    assert len(ran) == 1, (a.text, b.text)
    other = b if ran[0] is a else a
    if other.status_code == 409:
        assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    else:
        assert without_cost(other.json()) == without_cost(ran[0].json())
    assert await counts(engine) == (before[0] + 1, before[1] + 1, before[2] + 1)


async def test_keys_expire_after_24_hours(api, engine, monkeypatch, world):
    first = await send(api, "daily", {"input": NEW})
    assert first.json()["data"]["startTrial"]["userErrors"] == []
    # created_at T0; held while created_at >= now - 24 h, i.e. up to T0 + 24 h inclusive.
    monkeypatch.setattr(idempotency, "now", lambda: T0 + dt.timedelta(hours=24))
    assert (await send(api, "daily", {"input": NEW})).headers.get("idempotent-replayed") == "true"
    # One microsecond later the key is forgotten: the request runs again, and meets its own customer.
    monkeypatch.setattr(idempotency, "now", lambda: T0 + dt.timedelta(hours=24, microseconds=1))
    again = await send(api, "daily", {"input": NEW})
    assert "idempotent-replayed" not in again.headers
    assert again.json()["data"]["startTrial"]["userErrors"][0]["code"] == "NAME_TAKEN"
    # The new run replaced the row: a retry now gets the new answer.
    replay = await send(api, "daily", {"input": NEW})
    assert without_cost(replay.json()) == without_cost(again.json())
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(IDEMPOTENCY_KEY))).scalar_one() == 1


@pytest.mark.parametrize(
    "key",
    ["", "a b", "x" * 256, "é".encode("latin-1"), "tab\there"],
    ids=["empty", "space", "256-chars", "non-ascii", "control"],
)
async def test_a_malformed_key_is_refused_naming_the_header(api, engine, world, key):
    before = await counts(engine)
    response = await send(api, key, {"input": NEW})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Idempotency-Key" in error["message"]
    assert await counts(engine) == before


@pytest.mark.parametrize("key", ["x", "~" * 255, "!"], ids=["one-char", "255-chars", "punctuation"])
async def test_keys_of_1_to_255_visible_characters_are_accepted(api, world, key):
    first = await send(api, key, {"input": NEW})
    assert first.json()["data"]["startTrial"]["userErrors"] == []
    assert (await send(api, key, {"input": NEW})).headers.get("idempotent-replayed") == "true"


async def test_a_query_with_the_header_just_runs(api, engine, world):
    query = "query Me { viewer { email } }"
    for _ in range(2):
        response = await send(api, "q", {}, query=query)
        assert response.json()["data"] == {"viewer": {"email": "ana@p1.example"}}
        assert "idempotent-replayed" not in response.headers
    # Even a malformed key: a query ignores the header.
    assert (await send(api, "a b", {}, query=query)).status_code == 200
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(IDEMPOTENCY_KEY))).scalar_one() == 0


async def test_a_failed_run_releases_the_key_so_a_retry_runs(api, engine, monkeypatch, world):
    real = api.app.routes[0].endpoint.run

    async def fails(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.app.routes[0].endpoint, "run", fails)
    with pytest.raises(RuntimeError):
        await send(api, "flaky", {"input": NEW})
    monkeypatch.setattr(api.app.routes[0].endpoint, "run", real)
    retry = await send(api, "flaky", {"input": NEW})
    assert "idempotent-replayed" not in retry.headers
    assert retry.json()["data"]["startTrial"]["userErrors"] == []


async def test_a_retry_on_another_server_process_gets_the_first_answer(api, engine, world):
    # Another app on the same database stands for another worker or server: nothing is kept in memory.
    first = await send(api, "across", {"input": NEW})
    other_app = create_app(engine=engine)
    async with other_app.router.lifespan_context(other_app):
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            retry = await send(SimpleNamespace(client=client), "across", {"input": NEW})
    assert retry.headers.get("idempotent-replayed") == "true"
    assert without_cost(retry.json()) == without_cost(first.json())
