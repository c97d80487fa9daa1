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

from db.engine import make_engine, make_sessionmaker
from db.migrate import migrate
from db.models import metadata

TEST_TODAY = "2026-11-25"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.anyio)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on 2026-11-25 unless it sets PARTNERHUB_TODAY itself."""
    monkeypatch.setenv("PARTNERHUB_TODAY", TEST_TODAY)
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
