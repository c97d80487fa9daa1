"""The partner-wide licence trend of past days, kept once computed.

A trend point of a past day is the most expensive number of the dashboard:
each line's value on that day is a lookup of its latest snapshot on or before
the day (measured at 100,000 customers: ~450 ms per past point, 4.5 s for the
default 12 weeks, against ~140 ms for today's point, which reads the values
stored on the lines). Past days rarely change, so the sums for a partner-wide
viewer (who sees every customer of the partner, hence the same sums as any
other such viewer) are stored in ``trend_cache`` once computed.

Exactness rests on invalidation, written next to every write that can change
a past day's sums:

* a plan's liveness on past days (``cancelTrial``, ``convertTrial``,
  ``extendTrial`` of an already ended trial, ``completeOrderSetup``): the
  mutation calls :func:`forget` for the plan's days;
* imports and seeding (any row may change): :func:`forget` for the partner.

Writes that cannot change a past day are not listed: ``startTrial`` and
``convertTrial``'s new subscription start today (not past), usage snapshots
are written only by imports, and assignments change only what sales roles see
(their trends are never cached). Days from today on are always computed.

Races: :func:`forget` bumps ``partner.analytics_version`` (a row lock until
the writer commits) before deleting. A request reads that version before it
computes, and stores its sums only if the version is unchanged, checked under
``FOR SHARE`` of the partner row (which waits for a writer in progress), so a
value computed before a write committed is never stored after it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Awaitable, Callable, Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import Partner, TrendCache

PARTNER = Partner.__table__
CACHE = TrendCache.__table__
log = logging.getLogger(__name__)

Sums = tuple[int, int, int]  # total, assigned, used


async def forget(session: AsyncSession | AsyncConnection, partner_id: int, *, start: dt.date | None = None, end: dt.date | None = None) -> None:
    """Drop the partner's cached trend days in ``[start, end]`` (all of them by default).

    Call inside the writing transaction, before or after the write: the
    version bump takes the partner row's lock until commit.
    """
    await session.execute(
        update(PARTNER).where(PARTNER.c.id == partner_id).values(analytics_version=PARTNER.c.analytics_version + 1)
    )
    statement = delete(CACHE).where(CACHE.c.partner_id == partner_id)
    if start is not None:
        statement = statement.where(CACHE.c.day >= start)
    if end is not None:
        statement = statement.where(CACHE.c.day <= end)
    await session.execute(statement)


async def forget_partners(session: AsyncSession | AsyncConnection, partner_ids: Iterable[int]) -> None:
    """:func:`forget` every cached day of these partners (imports, seeding)."""
    for partner_id in sorted(set(partner_ids)):
        await forget(session, partner_id)


async def partner_trend(
    session: AsyncSession,
    *,
    partner_id: int,
    product: str,
    days: list[dt.date],
    today: dt.date,
    compute: Callable[[tuple[dt.date, ...]], Awaitable[dict[dt.date, Sums]]],
) -> dict[dt.date, Sums]:
    """The sums of each of ``days``: cached past days, the rest from ``compute``.

    ``compute(days)`` must return the partner-wide sums of those days; the
    past ones among them are then stored (when no write intervened).
    """
    past = sorted({d for d in days if d < today})
    found: dict[dt.date, Sums] = {}
    if past:
        rows = await session.execute(
            select(CACHE.c.day, CACHE.c.total, CACHE.c.assigned, CACHE.c.used).where(
                CACHE.c.partner_id == partner_id, CACHE.c.product == product, CACHE.c.day.in_(past)
            )
        )
        found = {r.day: (r.total, r.assigned, r.used) for r in rows}
    missing = tuple(sorted({d for d in days if d not in found}))
    if not missing:
        return found
    to_store = [d for d in missing if d < today]
    version = None
    if to_store:
        version = (await session.execute(
            select(PARTNER.c.analytics_version).where(PARTNER.c.id == partner_id)
        )).scalar_one_or_none()
    computed = await compute(missing)
    if to_store and version is not None:
        await _store(session, partner_id, product, version, {d: computed[d] for d in to_store})
    return {**found, **computed}


async def _store(session: AsyncSession, partner_id: int, product: str, version: int, sums: dict[dt.date, Sums]) -> None:
    """Insert computed past days on a connection of their own, if the partner's version is still ``version``.

    Never fails the request: a value not stored is computed again next time.
    """
    engine = session.bind
    dialect = engine.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {"partner_id": partner_id, "product": product, "day": day, "total": t, "assigned": a, "used": u}
        for day, (t, a, u) in sorted(sums.items())
    ]
    try:
        async with engine.connect() as conn:
            if dialect == "sqlite":
                # Take the write lock before reading the version (a stale read
                # snapshot must not pass the check); wait briefly, never block
                # a request for the connection's full busy timeout.
                await conn.exec_driver_sql("PRAGMA busy_timeout = 200")
                await conn.commit()
            try:
                async with conn.begin():
                    if dialect == "sqlite":
                        await conn.execute(
                            update(PARTNER).where(PARTNER.c.id == partner_id).values(name=PARTNER.c.name)
                        )
                    current = (await conn.execute(
                        select(PARTNER.c.analytics_version).where(PARTNER.c.id == partner_id).with_for_update(read=True)
                    )).scalar_one_or_none()
                    if current != version:
                        return
                    await conn.execute(insert(CACHE).values(rows).on_conflict_do_nothing())
            finally:
                if dialect == "sqlite":
                    await conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
                    await conn.commit()
    except Exception:  # noqa: BLE001 - a cache write must not fail a read
        log.warning("could not store licence trend days for partner %s", partner_id, exc_info=True)
