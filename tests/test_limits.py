"""Time limits in the database (issue 13): a statement past its limit, a request whose client left."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text

import schema.query
from db.engine import interrupter, make_engine
from db.settings import get_settings
from server import create_app
from tests.conftest import is_postgres
from tests.world import TOKENS

AUTH = {"Authorization": f"Bearer {TOKENS['ana']}"}
# Runs for minutes unless stopped: PostgreSQL sleeps, SQLite counts to 10⁹.
SQLITE_SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"
)
SLOW_SQL = "SELECT pg_sleep(60)" if is_postgres() else SQLITE_SLOW


@pytest.fixture
def slow_kpis(monkeypatch):
    """``kpis`` runs SLOW_SQL on the request's session: the test-only path to a slow statement."""
    started = asyncio.Event()

    async def resolve(info, _as_of, _product=None):
        started.set()
        await info.context.session.execute(text(SLOW_SQL))
        raise AssertionError("the slow statement was not stopped")

    monkeypatch.setattr(schema.query, "resolve_kpis", resolve)
    return started


async def _app_client(db_url: str, timeout_ms: int):
    engine = make_engine(db_url, statement_timeout_ms=timeout_ms)
    app = create_app(engine=engine, settings=get_settings().replace(statement_timeout_ms=timeout_ms))
    return engine, app


async def test_a_statement_past_the_time_limit_answers_query_timeout(db_url, world, slow_kpis):
    engine, app = await _app_client(db_url, 300)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                started = time.monotonic()
                r = await client.post("/graphql", json={"query": "{ kpis { totalCustomers } }"}, headers=AUTH)
                elapsed = time.monotonic() - started
                # Stopped at 0.3 s, not after the 60 s the statement would take (10 s: slack for a busy machine).
                assert elapsed < 10
                body = r.json()
                assert r.status_code == 200
                # A field error nulls kpis alone (SPEC §3.2).
                assert body["data"] == {"kpis": None}
                assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
                    (["kpis"], {"code": "QUERY_TIMEOUT", "timeoutMs": 300})
                ]
                assert "300 ms database time limit" in body["errors"][0]["message"]
                # The connection goes back to the pool usable: the next request answers.
                r = await client.post("/graphql", json={"query": "{ viewer { email } }"}, headers=AUTH)
                assert r.json()["data"] == {"viewer": {"email": "ana@p1.example"}}
    finally:
        await engine.dispose()


async def test_the_time_limit_is_per_statement_and_ordinary_requests_pass(db_url, world):
    # 300 ms is far above what the world's queries take (a few ms each).
    engine, app = await _app_client(db_url, 300)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                query = "{ kpis { totalCustomers } customers(first: 5) { totalCount } }"
                r = await client.post("/graphql", json={"query": query}, headers=AUTH)
                assert "errors" not in r.json(), r.text
    finally:
        await engine.dispose()


async def test_sqlite_interrupter_stops_a_running_statement(tmp_path):
    # SQLite only: PostgreSQL needs no interrupter (asyncpg cancels the statement of a cancelled task).
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")  # no time limit at all
    try:
        async with engine.connect() as conn:
            interrupt = interrupter(conn)
            asyncio.get_running_loop().call_later(0.2, interrupt)
            started = time.monotonic()
            with pytest.raises(Exception, match="interrupted"):
                await conn.execute(text(SQLITE_SLOW))
            assert time.monotonic() - started < 10
            await conn.rollback()
            # The next statement gets a fresh deadline (none): it runs.
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def _sleeping(engine) -> int:
    """Statements of SLOW_SQL running on the PostgreSQL server now."""
    async with engine.connect() as conn:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'"
        return (await conn.execute(text(sql))).scalar()


async def test_a_request_whose_client_left_is_cancelled_with_its_statement(db_url, world, slow_kpis):
    # The ASGI app is called directly: the client "leaves" by sending http.disconnect.
    engine, app = await _app_client(db_url, 60_000)
    try:
        async with app.router.lifespan_context(app):
            body = b'{"query": "{ kpis { totalCustomers } }"}'
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            left = asyncio.Event()

            async def receive():
                if messages:
                    return messages.pop(0)
                await left.wait()
                return {"type": "http.disconnect"}

            sent = []

            async def send(message):
                sent.append(message)

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/graphql",
                "raw_path": b"/graphql",
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"authorization", AUTH["Authorization"].encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
                "client": ("127.0.0.1", 1),
                "server": ("t", 80),
            }
            request = asyncio.ensure_future(app(scope, receive, send))
            await asyncio.wait_for(slow_kpis.wait(), 10)
            await asyncio.sleep(0.2)  # the slow statement is running
            if is_postgres():
                assert await _sleeping(engine) == 1
            started = time.monotonic()
            left.set()
            await asyncio.wait_for(request, 10)
            assert time.monotonic() - started < 10  # not the 60 s of the statement
            assert sent[0]["status"] == 499
            if is_postgres():
                assert await _sleeping(engine) == 0
    finally:
        await engine.dispose()


async def test_a_planned_statement_past_the_time_limit_runs_once(db_url, world, monkeypatch) -> None:
    """Under an execution plan (schema/compiled.py) the timeout answers as without one, and the slow statement runs once.

    Running the request again through the executor would run it again: 2 × 300 ms before the answer.
    """
    import re

    from schema.compiled import Plans

    engine, app = await _app_client(db_url, 300)
    plans = next(r.app for r in app.routes if getattr(r, "path", None) == "/graphql").plans
    query = "{ kpis { totalCustomers } }"
    calls: list[int] = []

    async def slow(info, _as_of, _product=None):
        calls.append(1)
        await info.context.session.execute(text(SLOW_SQL))
        raise AssertionError("the slow statement was not stopped")

    def answer(response) -> tuple[int, bytes]:
        # The caller's remaining cost budget moves with every request: not the plan's.
        return response.status_code, re.sub(rb'"remaining":\d+', b"", response.content)

    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                learned = await client.post("/graphql", json={"query": query}, headers=AUTH)
                assert "errors" not in learned.json() and plans.known(query, None)
                monkeypatch.setattr(schema.query, "resolve_kpis", slow)
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(Plans, "enabled", property(lambda self: False))
                    normal = await client.post("/graphql", json={"query": query}, headers=AUTH)
                assert calls == [1]
                runs = plans.runs
                planned = await client.post("/graphql", json={"query": query}, headers=AUTH)
                assert plans.runs == runs + 1  # the plan answered it
                assert calls == [1, 1]  # one more slow statement, not two
                assert answer(planned) == answer(normal)
                assert planned.json()["errors"][0]["extensions"] == {"code": "QUERY_TIMEOUT", "timeoutMs": 300}
                assert planned.json()["errors"][0]["locations"] == [{"line": 1, "column": 3}]
    finally:
        await engine.dispose()
