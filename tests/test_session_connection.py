"""The session's connection without SQLAlchemy's greenlet when the session already holds it (db/engine.py, issue 14)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bench import queries
from db.engine import _held_connection, make_sessionmaker, session_connection
from tests.world import TOKENS


async def test_the_held_connection_is_the_one_sqlalchemy_returns(engine) -> None:
    async with make_sessionmaker(engine)() as session:
        # No transaction yet: SQLAlchemy must begin one (and check a connection out).
        assert _held_connection(session) is None
        first = await session.connection()
        # Now held: the very proxy AsyncSession.connection() gives, both ways.
        assert _held_connection(session) is first
        assert await session_connection(session) is first
        assert await session.connection() is first
        assert (await (await session_connection(session)).execute(text("select 1"))).scalar() == 1
        await session.commit()
        # The transaction ended: nothing held, SQLAlchemy begins the next one.
        assert _held_connection(session) is None
        again = await session_connection(session)
        assert _held_connection(session) is again
        await session.rollback()
        assert _held_connection(session) is None


async def test_a_begin_block_and_an_invalidated_connection_are_left_to_sqlalchemy(engine) -> None:
    async with make_sessionmaker(engine)() as session:
        async with session.begin():
            await session.connection()
            # Inside `session.begin()`: SQLAlchemy checks the block is still open; so do we, by asking it.
            assert _held_connection(session) is None
    async with make_sessionmaker(engine)() as session:
        connection = await session.connection()
        await connection.invalidate()
        assert _held_connection(session) is None


async def test_a_page_asks_sqlalchemy_for_its_connection_once(api, world, monkeypatch) -> None:
    """Page (0): the endpoint opens the connection; the page and the plans statement reuse it without the greenlet.

    Before: 3 calls of AsyncSession.connection() per request (open, page, plans batch); now 1.
    """
    calls: list[Any] = []
    real = AsyncSession.connection

    async def counted(self: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        calls.append(self)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "connection", counted)
    body = await api(queries.COMPARE, {"first": 50}, token=TOKENS["ana"])
    assert body.get("errors") is None and body["data"]["customers"]["nodes"]
    statements = api.last_statements
    assert len(calls) == 1
    # The same statements as before (token lookup + page + plans = 3; bench/README.md, case 0).
    assert statements == 3
