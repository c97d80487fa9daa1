"""The ``idempotency_key`` table: who runs a mutation sent with an ``Idempotency-Key`` (web/idempotency.py).

Each function runs its own short transaction on a session of its own, never
the request's: the claim must be committed (and so visible to every other
process) before the mutation starts, and the answer stored after the
mutation's transaction has committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.tables import IDEMPOTENCY_KEY

PENDING, DONE = "PENDING", "DONE"
KEY_LIFETIME = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Claimed:
    """The row of an admin's key as another request left it."""

    request_hash: str
    status: str
    http_status: int | None
    response: str | None


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], admin_id: int, key: str, request_hash: str, now: dt.datetime
) -> Claimed | None:
    """Insert the pending row of ``(admin_id, key)``, or read the row another request holds.

    Rows older than :data:`KEY_LIFETIME` are deleted first (the admin's
    expired keys, all at once: the table holds at most a day of keys per
    admin), so an expired key is claimed afresh. Two statements when the key
    is new; the unique primary key decides between concurrent claims.

    Returns:
        ``None`` when this request holds the key (it must run and then
        :func:`finish` or :func:`release`), else the row that holds it.
    """
    for _attempt in range(3):
        async with sessionmaker() as session:
            try:
                await session.execute(
                    delete(IDEMPOTENCY_KEY).where(
                        IDEMPOTENCY_KEY.c.partner_admin_id == admin_id,
                        IDEMPOTENCY_KEY.c.created_at < now - KEY_LIFETIME,
                    )
                )
                await session.execute(
                    insert(IDEMPOTENCY_KEY).values(
                        partner_admin_id=admin_id, key=key, request_hash=request_hash, status=PENDING, created_at=now
                    )
                )
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            row = (
                await session.execute(
                    select(
                        IDEMPOTENCY_KEY.c.request_hash,
                        IDEMPOTENCY_KEY.c.status,
                        IDEMPOTENCY_KEY.c.http_status,
                        IDEMPOTENCY_KEY.c.response,
                    ).where(IDEMPOTENCY_KEY.c.partner_admin_id == admin_id, IDEMPOTENCY_KEY.c.key == key)
                )
            ).first()
            await session.commit()
            if row is not None:
                return Claimed(row.request_hash, row.status, row.http_status, row.response)
        # The holder released the key between our insert and our read: claim again.
    raise RuntimeError(f"idempotency key {key!r} kept changing hands")


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession], admin_id: int, key: str, http_status: int, response: str
) -> None:
    """Store the answer of the request holding ``(admin_id, key)``; retries get it from now on."""
    async with sessionmaker() as session:
        await session.execute(
            update(IDEMPOTENCY_KEY)
            .where(IDEMPOTENCY_KEY.c.partner_admin_id == admin_id, IDEMPOTENCY_KEY.c.key == key)
            .values(status=DONE, http_status=http_status, response=response)
        )
        await session.commit()


async def release(sessionmaker: async_sessionmaker[AsyncSession], admin_id: int, key: str) -> None:
    """Forget a pending key whose request gave no answer worth repeating, so that a retry runs."""
    async with sessionmaker() as session:
        await session.execute(
            delete(IDEMPOTENCY_KEY).where(
                IDEMPOTENCY_KEY.c.partner_admin_id == admin_id,
                IDEMPOTENCY_KEY.c.key == key,
                IDEMPOTENCY_KEY.c.status == PENDING,
            )
        )
        await session.commit()
