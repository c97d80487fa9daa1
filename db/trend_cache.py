"""The partner-wide licence trend of past days, kept once computed.

A trend point of a past day is the most expensive number of the dashboard:
each line's value on that day is a lookup of its latest snapshot on or before
the day, several times the cost of today's point, which reads the values
stored on the lines (bench/README.md, "Measured"). Past days rarely change, so the sums for a partner-wide
viewer (who sees every customer of the partner, hence the same sums as any
other such viewer) are stored in ``trend_cache`` once computed.

Exactness rests on invalidation, written next to every write that can change
a past day's sums:

* a plan's liveness on past days (``cancelTrial``, ``convertTrial``,
  ``extendTrial`` of an already ended trial, ``completeOrderSetup``): the
  mutation measures the changed plans' share of each cached day in their
  range before and after its write and adjusts the cached sums by the
  difference (:func:`plans_before`, :func:`plans_after`); the plans' rows are
  locked by the mutation, so no other writer moves them in between;
* imports: only the document's customers can change, so their contribution
  to each cached day is measured before and after the writes and the cached
  sums are adjusted by the difference (:func:`customer_sums`, :func:`adjust`);
  past :data:`MAX_ADJUSTED` customers the partner's cached days are
  recomputed after the writes instead (:func:`recompute`: measuring would
  cost what recomputing does), the newest :data:`MAX_RECOMPUTED` of them,
  the older forgotten.

Besides the requests that compute a past day, the day-boundary rebuild of the
stored analytics facts keeps the day that ended: its facts are that day's
live lines, so their sums are its point (:func:`db.analytics_facts.ensure_fresh`,
stored through :func:`store` like any computed day). A server that sees a
request every day therefore has the weekly points of its trends cached.

Adjusting rather than forgetting is what keeps the first dashboard after a
write fast: a forgotten day is recomputed by the next request, about half a
second per past day at 100,000 customers (bench/README.md).

Writes that cannot change a past day are not listed: ``startTrial`` and
``convertTrial``'s new subscription start today (not past), usage snapshots
are written only by imports, and assignments change only what sales roles see
(their trends are never cached). Days from today on are always computed.

Races: every writer (:func:`forget`, :func:`adjust`, :func:`plans_before`,
:func:`recompute`) bumps the partner's row in ``trend_cache_version`` (a row
lock until the writer commits; no row means version 0) before it touches the
cached rows; adjustments are additive (``total = total + :d``), so writers of
different plans never lose each other's change. A request reads that
version before it computes, and stores its sums only if the version is
unchanged, checked on a connection of its own
that first inserts the version row if missing (waiting for a writer inserting
it) and then reads it ``FOR SHARE`` (waiting for a writer updating it), so a
value computed before a write committed is never stored after it. On SQLite
that insert is the transaction's first statement, so the single write lock
is taken before the version is read.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, literal_column, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db.lines import KPI_PRODUCTS, Where, live_lines
from db.tables import TREND_CACHE as CACHE
from db.tables import TREND_CACHE_VERSION as VERSION

log = logging.getLogger(__name__)

Sums = tuple[int, int, int]  # total, assigned, used
MAX_ADJUSTED = 5000
"""An import of more customers recomputes the partner's cached days instead of adjusting them."""
MAX_RECOMPUTED = 24
"""A recompute keeps the partner's newest cached days, up to this many (two dashboards' past weeks); the rest are forgotten."""


async def forget(session: AsyncSession | AsyncConnection, partner_id: int) -> None:
    """Drop every cached trend day of the partner.

    Call inside the writing transaction: the version bump holds the version
    row's lock until commit.
    """
    await _bump(session, partner_id)
    await session.execute(delete(CACHE).where(CACHE.c.partner_id == partner_id))


def _insert(bind: AsyncSession | AsyncConnection | AsyncEngine):
    """The dialect's INSERT (both have ON CONFLICT)."""
    engine = bind.bind if isinstance(bind, AsyncSession) else bind
    if engine is None:
        raise ValueError("trend cache: the session is bound to no engine")
    return pg_insert if engine.dialect.name == "postgresql" else sqlite_insert


async def _bump(session: AsyncSession | AsyncConnection, partner_id: int) -> None:
    bump = _insert(session)(VERSION).values(partner_id=partner_id, version=1)
    await session.execute(
        bump.on_conflict_do_update(index_elements=[VERSION.c.partner_id], set_={"version": VERSION.c.version + 1})
    )


async def cached_days(session: AsyncSession | AsyncConnection, partner_id: int) -> list[dt.date]:
    """The days the partner has cached (any product), oldest first."""
    rows = await session.execute(select(CACHE.c.day).where(CACHE.c.partner_id == partner_id).distinct())
    return sorted(r.day for r in rows)


async def customer_sums(
    session: AsyncSession | AsyncConnection, partner_id: int, customers: Iterable[int], days: list[dt.date]
) -> dict[tuple[str, dt.date], Sums]:
    """Σ total, assigned, used of these customers' live lines on each day, by product (one statement)."""
    ids = sorted(set(customers))
    if not ids:
        return {}
    return await _sums(session, partner_id, days, lambda plan, line: [plan.c.customer_id.in_(ids)])


async def _sums(
    session: AsyncSession | AsyncConnection, partner_id: int, days: list[dt.date], where: Where | None
) -> dict[tuple[str, dt.date], Sums]:
    """Σ total, assigned, used of the partner's live lines (``where`` narrows them) on each day, by product."""
    if not days:
        return {}
    parts = []
    for i, day in enumerate(days):
        base = live_lines(
            partner_id=partner_id, viewer=None, product=KPI_PRODUCTS, d=day, where=where, name=f"adjust{i}"
        )
        parts.append(
            select(
                literal_column(str(i), Integer).label("point"),
                base.c.product,
                func.sum(base.c.total).label("total"),
                func.sum(base.c.assigned).label("assigned"),
                func.sum(base.c.used).label("used"),
            ).group_by(base.c.product)
        )
    rows = await session.execute(union_all(*parts) if len(parts) > 1 else parts[0])
    return {(r.product, days[r.point]): (int(r.total), int(r.assigned), int(r.used)) for r in rows}


async def adjust(
    session: AsyncSession | AsyncConnection,
    partner_id: int,
    before: dict[tuple[str, dt.date], Sums],
    after: dict[tuple[str, dt.date], Sums],
) -> None:
    """Add ``after − before`` to the partner's cached sums, inside the writing transaction.

    The version is bumped as by :func:`forget`, so a request that computed
    before this write stores nothing after it.
    """
    await _bump(session, partner_id)
    await _add(session, partner_id, before, after)


async def _add(
    session: AsyncSession | AsyncConnection,
    partner_id: int,
    before: dict[tuple[str, dt.date], Sums],
    after: dict[tuple[str, dt.date], Sums],
) -> None:
    """Add ``after − before`` to the cached rows (the caller has bumped the version)."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, (0, 0, 0)), after.get(key, (0, 0, 0))
        if old != new:
            product, day = key
            changes.append(
                {"p": partner_id, "pr": product, "d": day}
                | {f"d_{name}": n - o for name, n, o in zip(("total", "assigned", "used"), new, old, strict=True)}
            )
    if changes:
        statement = _update_rows(
            total=CACHE.c.total + bindparam("d_total"),
            assigned=CACHE.c.assigned + bindparam("d_assigned"),
            used=CACHE.c.used + bindparam("d_used"),
        )
        await session.execute(statement, changes)


def _update_rows(**values: Any) -> Any:
    """UPDATE of cached rows by key, executed with parameter rows ``{"p": partner, "pr": product, "d": day, …}``."""
    return (
        update(CACHE)
        .where(CACHE.c.partner_id == bindparam("p"), CACHE.c.product == bindparam("pr"), CACHE.c.day == bindparam("d"))
        .values(**values)
    )


@dataclass(frozen=True)
class PlanChange:
    """The changed plans' share of the cached days they can touch, measured before the write."""

    partner_id: int
    plan_ids: tuple[int, ...]
    days: list[dt.date]
    before: dict[tuple[str, dt.date], Sums]


async def plans_before(
    session: AsyncSession | AsyncConnection,
    partner_id: int,
    plan_ids: Iterable[int],
    *,
    start: dt.date,
    end: dt.date,
    today: dt.date,
) -> PlanChange | None:
    """Before a write that changes these plans' liveness on ``[start, end]``: their share of the cached days there.

    Call inside the writing transaction with the plans' rows locked, then
    :func:`plans_after` once written. The version is bumped here (held until
    commit), so no request stores a day computed before the write. None when
    the range has no past day: days from today on are never cached.
    """
    if start >= today:
        return None
    await _bump(session, partner_id)
    days = [d for d in await cached_days(session, partner_id) if start <= d <= end]
    ids = tuple(sorted(set(plan_ids)))
    return PlanChange(partner_id, ids, days, await _plan_sums(session, partner_id, ids, days))


async def plans_after(session: AsyncSession | AsyncConnection, change: PlanChange | None) -> None:
    """After the write measured by :func:`plans_before`: add the plans' change to the cached days."""
    if change is None or not change.days:
        return
    after = await _plan_sums(session, change.partner_id, change.plan_ids, change.days)
    await _add(session, change.partner_id, change.before, after)


async def _plan_sums(
    session: AsyncSession | AsyncConnection, partner_id: int, plan_ids: tuple[int, ...], days: list[dt.date]
) -> dict[tuple[str, dt.date], Sums]:
    if not plan_ids:
        return {}
    return await _sums(session, partner_id, days, lambda plan, line: [plan.c.id.in_(plan_ids)])


async def recompute(session: AsyncSession | AsyncConnection, partner_id: int) -> None:
    """Recompute the partner's newest cached days from its data, forget the older; inside the writing transaction.

    For writes too large to measure before and after (:data:`MAX_ADJUSTED`).
    One statement per day, so that no statement grows with the number of
    days (each is a full pass over the partner's live lines).
    """
    await _bump(session, partner_id)
    days = await cached_days(session, partner_id)
    keep, drop = days[-MAX_RECOMPUTED:], days[:-MAX_RECOMPUTED]
    if drop:
        await session.execute(delete(CACHE).where(CACHE.c.partner_id == partner_id, CACHE.c.day <= drop[-1]))
    for day in keep:
        sums = await _sums(session, partner_id, [day], None)
        rows = [
            {"p": partner_id, "pr": product, "d": day, "t": t, "a": a, "u": u}
            for product in KPI_PRODUCTS
            for t, a, u in [sums.get((product, day), (0, 0, 0))]
        ]
        await session.execute(_update_rows(total=bindparam("t"), assigned=bindparam("a"), used=bindparam("u")), rows)


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

    ``compute(days)`` must return the partner-wide sums of those days; it is
    called once per missing past day and once for the days from today on.
    The past ones are then stored (when no write intervened).
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
    version = await read_version(session, partner_id) if to_store else 0
    # Each past day in a statement of its own: a past point is the dearest
    # statement of the dashboard (a snapshot lookup per line), and eleven of
    # them in one statement ran past the statement time limit at 100,000
    # customers, so nothing was stored and every later request failed again.
    chunks: list[tuple[dt.date, ...]] = [(d,) for d in to_store]
    if later := tuple(d for d in missing if d >= today):
        chunks.append(later)
    computed: dict[dt.date, Sums] = {}
    for chunk in chunks:
        computed |= await compute(chunk)
    if to_store:
        engine = session.bind
        if not isinstance(engine, AsyncEngine):  # pragma: no cover - db.engine binds every session to the engine
            log.warning("could not store licence trend days for partner %s: no engine to connect to", partner_id)
        else:
            await store(engine, partner_id, version, {(product, d): computed[d] for d in to_store})
    return {**found, **computed}


async def read_version(session: AsyncSession | AsyncConnection, partner_id: int) -> int:
    """The partner's version, to be read before computing sums that :func:`store` may keep."""
    statement = select(VERSION.c.version).where(VERSION.c.partner_id == partner_id)
    return (await session.execute(statement)).scalar_one_or_none() or 0


async def store(engine: AsyncEngine, partner_id: int, version: int, sums: dict[tuple[str, dt.date], Sums]) -> None:
    """Insert computed past days ``(product, day) → sums`` on a connection of their own, if the partner's version is still ``version``.

    ``version`` must have been read (:func:`read_version`) before the sums
    were computed. Never fails the caller: a value not stored is computed
    again next time.
    """
    sqlite = engine.dialect.name == "sqlite"
    insert = _insert(engine)
    rows = [
        {"partner_id": partner_id, "product": product, "day": day, "total": t, "assigned": a, "used": u}
        for (product, day), (t, a, u) in sorted(sums.items())
    ]
    try:
        async with engine.connect() as conn:
            if sqlite:
                # Wait briefly for the write lock; never hold a request for the
                # connection's full busy timeout (an import may be running).
                await conn.exec_driver_sql("PRAGMA busy_timeout = 200")
                await conn.commit()
            try:
                async with conn.begin():
                    await conn.execute(
                        insert(VERSION).values(partner_id=partner_id, version=0).on_conflict_do_nothing()
                    )
                    current = (
                        await conn.execute(
                            select(VERSION.c.version)
                            .where(VERSION.c.partner_id == partner_id)
                            .with_for_update(read=True)
                        )
                    ).scalar_one()
                    if current != version:
                        return
                    await conn.execute(insert(CACHE).values(rows).on_conflict_do_nothing())
            finally:
                if sqlite:
                    await conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
                    await conn.commit()
    except Exception:
        log.warning("could not store licence trend days for partner %s", partner_id, exc_info=True)
