"""Async engines and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm.session import SessionTransactionState

from db.settings import get_settings


def async_url(url: str) -> str:
    """Map a plain database URL to its async driver.

    ``postgresql://`` and ``postgres://`` become ``postgresql+asyncpg://``;
    ``sqlite://`` becomes ``sqlite+aiosqlite://``. URLs naming a driver are
    kept as they are.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside
    # the one writer; busy_timeout makes a second writer wait, not fail.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MB page cache per connection (default ~2 MB): the cold trend and the
    # day's fact rebuild scan every live line. 128 MB took the server past
    # 300 MB RSS at 100,000 customers for no measured gain (bench/README.md, "Measured").
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


# SQLite has no statement timeout: a progress handler, called every this many
# virtual-machine steps of a running statement, aborts it past its deadline
# (sqlite3.OperationalError "interrupted"). 10,000 steps take well under 1 ms.
SQLITE_PROGRESS_STEPS = 10_000
_DEADLINE = "partnerhub_deadline"


def _sqlite_time_limit(engine: AsyncEngine, timeout_ms: int | None) -> None:
    """Give each statement of ``engine`` a deadline: ``timeout_ms`` from its start, or none.

    The handler is installed whatever the timeout, so that :func:`interrupter`
    can stop a statement of a request that was cancelled.
    """
    timeout = math.inf if timeout_ms is None else timeout_ms / 1000

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        deadline = [math.inf]
        record.info[_DEADLINE] = deadline

        def past_deadline() -> int:
            return 1 if time.monotonic() > deadline[0] else 0

        # aiosqlite runs sqlite3 in its own thread; install the handler there.
        dbapi_connection.run_async(lambda conn: conn.set_progress_handler(past_deadline, SQLITE_PROGRESS_STEPS))

    def before_execute(conn: Any, *_args: Any) -> None:
        deadline = conn.connection.info.get(_DEADLINE)
        if deadline is not None:
            deadline[0] = time.monotonic() + timeout

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "before_cursor_execute", before_execute)


def interrupter(connection: AsyncConnection) -> Callable[[], None]:
    """A function that stops the statement running on ``connection`` now, to call when its request is cancelled.

    SQLite's statement runs on in aiosqlite's thread when the task awaiting it
    is cancelled; this moves its deadline to the past, so the progress handler
    aborts it. On PostgreSQL it does nothing: asyncpg sends the server a cancel
    request itself when the awaiting task is cancelled.
    """
    deadline = connection.sync_connection.connection.info.get(_DEADLINE) if connection.sync_connection else None

    def interrupt() -> None:
        if deadline is not None:
            deadline[0] = -math.inf

    return interrupt


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # PostgreSQL only notices a client that went away when it next writes to
    # it: a long statement of a killed or exited server would run on. From 14
    # on it can poll the socket while a statement runs, and cancel it then.
    # (Set here, not in the startup packet, which older servers would refuse.)
    cursor.execute(
        "SELECT set_config('client_connection_check_interval', '1000', false) "
        "WHERE current_setting('server_version_num')::int >= 140000"
    )
    cursor.close()


def make_engine(
    url: str | None = None, *, statement_timeout_ms: int | None = None, pool_size: int | None = None, **kwargs: Any
) -> AsyncEngine:
    """Create the async engine for ``url`` (default: ``DATABASE_URL``).

    Args:
        url: Database URL; ``DATABASE_URL`` when omitted.
        statement_timeout_ms: Abort any statement running longer (the server's
            request engine sets it; the command line's loads and seeds do not).
        pool_size: PostgreSQL connections kept (``PARTNERHUB_DB_POOL_SIZE``
            when omitted).
        **kwargs: Passed to :func:`create_async_engine`.
    """
    url = async_url(url or get_settings().database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise ValueError("an in-memory SQLite database cannot be shared by sessions; use a file")
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _sqlite_time_limit(engine, statement_timeout_ms)
        return engine
    # A request holds one connection from its token lookup to its response:
    # size the pool for the concurrency one process serves (32 clients measured
    # in bench/soak.py), and let a burst wait a little before SERVICE_UNAVAILABLE.
    kwargs.setdefault("pool_size", pool_size or get_settings().db_pool_size)
    kwargs.setdefault("max_overflow", 10)
    # No pool_pre_ping: it costs a round trip and ~0.45 ms of CPU on every
    # request (measured; ~8 % of a small page). A connection that died with the
    # server fails its first statement instead, SQLAlchemy then invalidates the
    # whole pool, and the endpoint retries the request's first statement (the
    # token lookup) once on a fresh connection (server.py).
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_timeout", 10)
    # JIT compilation cost seconds on the analytics queries for no gain at
    # this size (measured: 8.7 s of a 12.6 s licence trend at 20,000 customers).
    server_settings = {"jit": "off"}
    if statement_timeout_ms is not None:
        # Set once per connection at connect: no extra statement per request.
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    kwargs.setdefault("connect_args", {"timeout": 5, "command_timeout": 30, "server_settings": server_settings})
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _postgres_session)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no lazy reloads)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def driver_adapter(connection: AsyncConnection) -> Any:
    """SQLAlchemy's adapter around the DB-API driver connection under ``connection`` (checked out, as it is).

    For :mod:`db.records`' prepared path on PostgreSQL: the adapter holds
    asyncpg's connection, SQLAlchemy's per-connection prepared statement cache
    and the lazily begun transaction, which that path shares.
    """
    raw = await connection.get_raw_connection()
    return raw.dbapi_connection


# A read-only request on PostgreSQL runs each statement in autocommit, so it
# sends no BEGIN before its first statement and no ROLLBACK at its end: two of
# the four round trips of page (0) (bench/README.md, "Measured"). What it reads is unchanged: PostgreSQL's READ COMMITTED (this
# server's default, and what a BEGIN without options gives) already takes a
# new snapshot for every statement of a transaction, so a page and the loader
# statements after it never shared one snapshot. The statement timeout is a
# connection setting (make_engine), so it still applies to every statement.
_READ_ONLY_OPTIONS = {"isolation_level": "AUTOCOMMIT"}


async def open_connection(session: AsyncSession, *, read_only: bool) -> AsyncConnection:
    """Open ``session``'s connection for a request, before its first statement.

    Args:
        session: A fresh session (no connection yet).
        read_only: The request only reads (a GraphQL query, not a mutation):
            on PostgreSQL its statements then run in autocommit, without the
            ``BEGIN``/``ROLLBACK`` round trips of a transaction. A mutation
            (``read_only=False``) keeps the session's transaction, which the
            mutation runner ends and replaces by its own.

    Returns:
        The session's connection, which later statements of the request share.
    """
    bind = session.bind
    if read_only and bind is not None and bind.dialect.name == "postgresql":
        return await session.connection(execution_options=_READ_ONLY_OPTIONS)
    return await session.connection()


def _held_connection(session: AsyncSession) -> AsyncConnection | None:
    """The connection ``session.connection()`` would return now, when the session already holds it; else ``None``.

    ``AsyncSession.connection()`` runs ``Session.connection`` in a greenlet
    (~40 µs of CPU) even when its active transaction already has the
    connection for the session's one bind, which it then returns: the case of
    every statement of a request after the first (bench/README.md, fifth
    round). This answers that case directly, with what SQLAlchemy would
    return (the same ``AsyncConnection`` proxy of the same connection), and
    leaves every other case to SQLAlchemy: no transaction yet, one not
    active, a ``session.begin()`` block, other binds, a closed or
    invalidated connection.
    """
    sync = session.sync_session
    transaction = sync._transaction
    bind = sync.bind
    if (
        transaction is None
        or bind is None
        or sync.binds
        or sync._trans_context_manager is not None
        or transaction._state is not SessionTransactionState.ACTIVE
    ):
        return None
    entry = transaction._connections.get(bind)
    if entry is None:
        return None
    connection = entry[0]
    if connection.closed or connection.invalidated:
        return None
    return AsyncConnection._retrieve_proxy_for_target(connection)


async def session_connection(session: AsyncSession) -> AsyncConnection:
    """``await session.connection()``, without its greenlet when the session already holds the connection."""
    held = _held_connection(session)
    if held is not None:
        return held
    return await session.connection()
