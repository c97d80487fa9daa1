"""Shared fixtures: a fresh, migrated database for every test.

The suite runs on SQLite by default. Set ``TEST_DATABASE_URL`` (for example
``postgresql://127.0.0.1/test``) to run it on PostgreSQL; that database is
wiped, so never point it at one you care about.

Async tests run on anyio's pytest plugin (anyio ships with starlette and
httpx); every ``async def`` test is marked for it automatically.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import tokens
from db.engine import make_engine, make_sessionmaker
from db.migrate import migrate
from db.models import metadata
from tests.world import World, build_world

TEST_TODAY = "2026-11-25"


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    # Mark before collection so that parametrize and anyio's own
    # parametrization of the backend see the marker.
    if collector.funcnamefilter(name) and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def no_token_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request looks its token up, so statement counts include the lookup.

    tests/test_token_cache.py turns the cache (db/tokens.py) back on.
    """
    monkeypatch.setattr(tokens, "CACHE_SECONDS", 0)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on 2026-11-25 unless it sets PARTNERHUB_TODAY itself.

    Cost budgets refill at once, so every answer's ``extensions.cost.remaining``
    is the budget minus that request's cost, whatever ran before it;
    ``tests/test_cost.py`` sets its own refill rate to test the budget.
    """
    monkeypatch.setenv("PARTNERHUB_TODAY", TEST_TODAY)
    monkeypatch.setenv("PARTNERHUB_COST_REFILL_PER_SECOND", "1e12")
    # The background rebuild (web/warmer.py) would race the tests' own writes and
    # day changes; tests/test_warmer.py runs it where it is the subject.
    monkeypatch.setenv("PARTNERHUB_FACTS_WARMER", "false")
    return TEST_TODAY


def is_postgres() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"))


async def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run: a template file for SQLite, the schema for PostgreSQL."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        asyncio.run(_reset_postgres(url))
        return url
    template = tmp_path_factory.mktemp("template") / "template.db"

    async def _migrate() -> None:
        engine = make_engine(f"sqlite:///{template}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(_migrate())
    return str(template)


_TABLES = ", ".join(t.name for t in metadata.sorted_tables)


@pytest.fixture
def db_url(migrated_database: str, tmp_path: Path) -> str:
    """URL of an empty, migrated database private to this test."""
    if migrated_database.startswith("postgres"):

        async def _truncate() -> None:
            engine = make_engine(migrated_database)
            try:
                async with engine.begin() as conn:
                    await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
            finally:
                await engine.dispose()

        asyncio.run(_truncate())
        return migrated_database
    target = tmp_path / "test.db"
    shutil.copyfile(migrated_database, target)
    return f"sqlite:///{target}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with make_sessionmaker(engine)() as session:
        yield session


class Api:
    """Calls ``/graphql`` of the real ASGI app in-process, like a client would."""

    def __init__(self, client, app) -> None:
        self.client = client
        self.app = app
        self.last_statements = 0
        self.last_cost: dict | None = None

    async def post(self, query: str, variables: dict | None = None, *, token: str | None = None):
        # A current GraphQL-over-HTTP client names the new media type (a bare */* is
        # answered as the legacy application/json, with request errors at 200).
        headers = {"Accept": "application/graphql-response+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def __call__(self, query: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        """The JSON body of a query.

        Asserts HTTP 200, or 400 for a request error (no ``data`` entry), as
        GraphQL-over-HTTP prescribes for ``application/graphql-response+json``.
        """
        response = await self.post(query, variables, token=token)
        body = response.json()
        assert response.status_code == (200 if "data" in body else 400), response.text
        statements = response.headers.get("x-sql-statements")
        self.last_statements = int(statements) if statements is not None else None
        # Every answer carries its cost (tests/test_cost.py checks it); the other
        # tests compare the rest of the body.
        extensions = body.get("extensions") or {}
        self.last_cost = extensions.pop("cost", None)
        if "extensions" in body and not extensions:
            del body["extensions"]
        return body


@pytest.fixture
async def world(session: AsyncSession) -> World:
    """The hand-built world of tests/world.py, committed."""
    return await build_world(session)


@pytest.fixture
async def api(engine: AsyncEngine):
    import httpx

    from server import create_app

    app = create_app(engine=engine)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield Api(client, app)
