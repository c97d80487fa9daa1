"""API bearer tokens: created and revoked from the command line (SPEC §4).

Only the SHA-256 of a token is stored. Tokens are 256-bit random strings, so
a fast unsalted hash is the right tool: there is nothing to brute-force, and
the lookup on every request must stay a single indexed equality.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import secrets
import time
import unicodedata
import weakref
from collections.abc import Iterable
from typing import Any, ClassVar, cast

from sqlalchemy import CursorResult, Engine, bindparam, delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db import events
from db.access import Viewer
from db.models import ApiToken, PartnerAdmin
from db.tables import ADMIN, PARTNER, TOKEN

TOKEN_PREFIX = "ph_"


def hash_token(token: str) -> str:
    """The stored form of a token.

    Args:
        token: The plaintext bearer token.

    Returns:
        The lower-case hex SHA-256 of the token's UTF-8 bytes (64 characters).
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token.

    Returns:
        ``"ph_"`` followed by 32 random bytes in URL-safe base64; the prefix
        lets secret scanners and people recognise a partnerhub token.
    """
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def normalize_email(email: str) -> str:
    """The stored form of an email address (trimmed, NFC-normalised, lower-cased).

    Args:
        email: An email address as typed.

    Returns:
        The address as kept in ``partner_admin.email``.
    """
    return unicodedata.normalize("NFC", email.strip()).lower()


class AmbiguousEmail(LookupError):
    """The email belongs to admins of several partners and no partner was named.

    Attributes:
        partners: ``(key, db id)`` of every partner with an admin of that email, by key.
    """

    def __init__(self, email: str, partners: list[tuple[str, int]]) -> None:
        self.partners = partners
        listed = ", ".join(f"{key!r} (id {db_id})" for key, db_id in partners)
        super().__init__(f"{email!r} is the email of admins at {len(partners)} partners: {listed}; name the partner")


def _is_partner(partner: str, key: str, db_id: int) -> bool:
    # A partner is named by its external id (the import's "id", e.g. "acme") or
    # by its database id; only ASCII digits spell a database id.
    return partner == key or (partner.isascii() and partner.isdigit() and int(partner) == db_id)


async def _admin_by_email(session: AsyncSession, email: str, partner: str | None) -> PartnerAdmin:
    # Emails are unique per partner only (uq_partner_admin_email): one address
    # may be an admin at several partners, each a different person.
    address = normalize_email(email)
    rows = (
        await session.execute(
            select(PartnerAdmin, PARTNER.c.key)
            .join(PARTNER, PARTNER.c.id == col(PartnerAdmin.partner_id))
            .where(col(PartnerAdmin.email) == address)
            .order_by(PARTNER.c.key)
        )
    ).all()
    if partner is not None:
        rows = [row for row in rows if _is_partner(partner.strip(), row[1], row[0].partner_id)]
    if not rows:
        at = "" if partner is None else f" at partner {partner.strip()!r}"
        raise LookupError(f"no partner admin with email {email.strip()!r}{at}")
    if len(rows) > 1:
        raise AmbiguousEmail(address, [(key, admin.partner_id) for admin, key in rows])
    return rows[0][0]


async def create_token(session: AsyncSession, *, email: str, partner: str | None = None, commit: bool = True) -> str:
    """Create a token for the admin with ``email`` and return its plaintext.

    Args:
        session: The database session.
        email: The admin's email, in any letter case.
        partner: The admin's partner, by external id or database id; needed
            only when admins of several partners have that email.
        commit: Commit the session afterwards; pass ``False`` to keep the
            insert inside a larger transaction of the caller.

    Returns:
        The new plaintext token. It is shown once and never stored.

    Raises:
        LookupError: No admin has that email (at that partner).
        AmbiguousEmail: Admins of several partners have it and ``partner`` is ``None``.
    """
    admin = await _admin_by_email(session, email, partner)
    assert admin.id is not None  # a loaded row always has its key
    token = new_token()
    session.add(ApiToken(admin_id=admin.id, token_hash=hash_token(token), created_at=dt.datetime.now(dt.UTC)))
    if commit:
        await session.commit()
    else:
        await session.flush()
    return token


async def revoke_tokens(session: AsyncSession, *, email: str, partner: str | None = None, commit: bool = True) -> int:
    """Delete every token of the admin with ``email``.

    Args:
        session: The database session.
        email: The admin's email, in any letter case.
        partner: The admin's partner (see :func:`create_token`).
        commit: Commit the session afterwards (see :func:`create_token`).

    Returns:
        How many tokens were deleted.

    Raises:
        LookupError: No admin has that email (at that partner).
        AmbiguousEmail: Admins of several partners have it and ``partner`` is ``None``.
    """
    admin = await _admin_by_email(session, email, partner)
    result = cast(CursorResult, await session.execute(delete(ApiToken).where(col(ApiToken.admin_id) == admin.id)))
    # Live connections of the token are closed when their worker re-checks tokens: on
    # PostgreSQL at once, by this event at commit (every worker hears it), else within
    # PARTNERHUB_LIVE_RECHECK_S.
    await events.notify_in_transaction(await session.connection(), events.Event(events.CHANGE, admin.partner_id))
    if commit:
        await session.commit()
    return int(result.rowcount or 0)


# Built once: every request runs it, and building it cost more than running it.
_VIEWER_BY_HASH = (
    select(
        ADMIN.c.id, ADMIN.c.partner_id, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role, TOKEN.c.id.label("token_id")
    )
    .select_from(TOKEN.join(ADMIN, ADMIN.c.id == TOKEN.c.admin_id))
    .where(TOKEN.c.token_hash == bindparam("token_hash"))
)


def _viewer_of(row: Any) -> Viewer:
    """The viewer of a row of :data:`_VIEWER_BY_HASH` or :data:`_VIEWERS_BY_HASHES`."""
    return Viewer(
        id=row.id,
        partner_id=row.partner_id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        token_id=row.token_id,
    )


async def viewer_for_token(session: AsyncSession, token: str) -> Viewer | None:
    """The admin a bearer token belongs to.

    Args:
        session: The database session.
        token: The plaintext token from the ``Authorization`` header.

    Returns:
        The admin as a :class:`~db.access.Viewer`, or ``None`` when the token
        is empty, unknown or revoked.
    """
    if not token:
        return None
    row = (await session.execute(_VIEWER_BY_HASH, {"token_hash": hash_token(token)})).first()
    if row is None:
        return None
    return _viewer_of(row)


# The same columns for a set of hashes (an expanding parameter: one cached compiled form).
_VIEWERS_BY_HASHES = (
    select(
        ADMIN.c.id,
        ADMIN.c.partner_id,
        ADMIN.c.email,
        ADMIN.c.display_name,
        ADMIN.c.role,
        TOKEN.c.id.label("token_id"),
        TOKEN.c.token_hash,
    )
    .select_from(TOKEN.join(ADMIN, ADMIN.c.id == TOKEN.c.admin_id))
    .where(TOKEN.c.token_hash.in_(bindparam("token_hashes", expanding=True)))
)


async def viewers_for_tokens(session: AsyncSession, tokens: Iterable[str]) -> dict[str, Viewer]:
    """The admins of many bearer tokens in one statement (the live events' re-check of every connection).

    Args:
        session: The database session.
        tokens: Plaintext tokens.

    Returns:
        The viewer of each token that names an admin; unknown, revoked and
        empty tokens are absent.
    """
    by_hash = {hash_token(token): token for token in tokens if token}
    if not by_hash:
        return {}
    rows = await session.execute(_VIEWERS_BY_HASHES, {"token_hashes": list(by_hash)})
    return {by_hash[row.token_hash]: _viewer_of(row) for row in rows}


# -- The per-process cache of token lookups -----------------------------------

CACHE_SECONDS = 30.0
"""How long a looked-up token is answered from memory (the bound for writes partnerhub does not see); 0: never."""
CACHE_SIZE = 10_000
AUTH_CHANNEL = "partnerhub_auth"
"""The PostgreSQL ``NOTIFY`` channel of writes to tokens, admins or partners."""

# A write that can revoke a token or change what its admin may do: any DML
# whose target is one of these tables (inserts too, cheaply over-invalidating).
_AUTH_WRITE = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+\"?(?:api_token|partner_admin|partner)\b",
    re.IGNORECASE,
)
_WROTE_AUTH = "partnerhub_wrote_auth"
# Loop iterations before a cached answer: one to poll the sockets, one to run
# their handlers, one for the callbacks those schedule (asyncpg's listeners).
_SETTLE_ITERATIONS = 3


class _State:
    # Bumped by every auth write this process sees (its own, at the statement
    # and again when its connection goes back to the pool, i.e. after commit
    # or rollback) and by every notification from another process; an entry
    # is good only while the generation it was looked up in is current.
    generation: ClassVar[int] = 0
    entries: ClassVar[dict[str, tuple[Viewer, int, float]]] = {}
    # Pooled PostgreSQL connections LISTENing on AUTH_CHANNEL. Nothing is
    # cached while there is none: a notification could be missed.
    listeners: ClassVar[weakref.WeakSet[Any]] = weakref.WeakSet()


def _bump(*_args: Any) -> None:
    _State.generation += 1
    _State.entries.clear()


def _after_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if not _AUTH_WRITE.match(statement):
        return
    _bump()
    conn.info[_WROTE_AUTH] = True
    if conn.dialect.name == "postgresql":
        # Transactional: delivered to every listening connection (of every
        # worker) when this transaction commits, dropped if it rolls back.
        # Its own cursor, so the write's rowcount and rows stay readable.
        cursor = conn.connection.cursor()
        try:
            cursor.execute(f"NOTIFY {AUTH_CHANNEL}")
        finally:
            cursor.close()


def _after_transaction(_dbapi_connection: Any, record: Any) -> None:
    # Back in the pool: the write has been committed or rolled back by now.
    if record is not None and record.info.pop(_WROTE_AUTH, False):
        _bump()


def forget_cached_tokens() -> None:
    """Empty this process's token cache (tests start from it empty)."""
    _bump()


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    driver: Any = getattr(dbapi_connection, "driver_connection", None)
    if type(driver).__module__.split(".")[0] != "asyncpg":
        return
    if not any(not listener.is_closed() for listener in _State.listeners):
        # Nobody listened until now: whatever was cached may have missed a notification.
        _bump()
    dbapi_connection.run_async(lambda connection: connection.add_listener(AUTH_CHANNEL, _bump))
    driver.add_termination_listener(_bump)
    _State.listeners.add(driver)


event.listen(Engine, "after_cursor_execute", _after_execute)
event.listen(Engine, "checkin", _after_transaction)
event.listen(Engine, "connect", _on_connect)
# A connection that fails or is thrown away may have carried a write.
event.listen(Engine, "invalidate", _bump)


def _listening() -> bool:
    return any(not listener.is_closed() for listener in _State.listeners)


async def cached_viewer(session: AsyncSession, token: str) -> Viewer | None:
    """:func:`viewer_for_token`, answered from a per-process cache for up to :data:`CACHE_SECONDS`.

    Only PostgreSQL is cached, and only while this process has a pooled
    connection ``LISTEN``-ing on :data:`AUTH_CHANNEL`; SQLite (no signal
    between processes) looks every token up. Unknown tokens are never cached.

    Invalidation, and its window exactly:

    - Every statement through SQLAlchemy (any engine, the API's mutations,
      ``partnerhub token revoke``, imports, seeding) that inserts into,
      updates, deletes from or truncates ``api_token``, ``partner_admin`` or
      ``partner`` empties this process's cache at once, again when its
      connection returns to the pool (so a lookup racing the uncommitted
      write is not kept), and sends ``NOTIFY partnerhub_auth`` in its
      transaction.
    - Another process's cache is emptied when one of its pooled connections
      receives that notification: PostgreSQL sends it at the writer's commit
      to connections not inside a transaction, and the receiving event loop
      handles it on its next read of that socket. So a request another worker
      starts after the commit is refused unless it is checked before that
      worker's loop has read the notification — a window of the order of a
      loop iteration, longer only while every one of its pooled connections
      is inside a request's transaction (it then ends with the first such
      request). A lookup begun before the commit that ends after it is not
      kept (its generation is gone).
    - Writes that bypass SQLAlchemy (``psql`` by hand) are seen after at most
      :data:`CACHE_SECONDS`. Mutations re-read their token row at commit in
      any case (``resolvers/mutations/runner.py``).
    - Before answering from the cache, the request lets the event loop run
      three iterations (microseconds), so that a notification or a connection
      closed by a database restart that has already reached this process's
      sockets is handled first. Losing the last listening connection empties
      the cache and stops caching until a connection listens again, so after a
      restart the request's first statement is the lookup, which the endpoint
      retries on a fresh connection.

    Args:
        session: The request's session.
        token: The plaintext token from the ``Authorization`` header.

    Returns:
        As :func:`viewer_for_token`.
    """
    if not token:
        return None
    if CACHE_SECONDS <= 0:
        return await viewer_for_token(session, token)
    key = hash_token(token)
    now = time.monotonic()
    entry = _State.entries.get(key)
    if entry is not None and entry[1] == _State.generation and entry[2] > now and _listening():
        # Let the event loop read what already reached this process's sockets:
        # a notification, or the end of connections a database restart closed.
        for _ in range(_SETTLE_ITERATIONS):
            await asyncio.sleep(0)
        if entry[1] == _State.generation and _listening():
            return entry[0]
    generation = _State.generation
    viewer = await viewer_for_token(session, token)
    # Checked after the lookup: a connect during it may just have started listening.
    if viewer is not None and generation == _State.generation and _listening():
        if len(_State.entries) >= CACHE_SIZE:
            _State.entries.clear()
        _State.entries[key] = (viewer, generation, now + CACHE_SECONDS)
    return viewer
