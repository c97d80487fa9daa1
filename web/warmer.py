"""The day-boundary shift of the stored analytics, done in the background (issue 14).

The stored facts of a partner (``db/analytics_facts.py``) are of one day; on
a new day the first request that reads them rebuilt the whole partner
in-request: ~2.5 s at 100,000 customers on PostgreSQL, and ~7 s when that
day's weekly trend points were never kept. The server does it instead, at
start and right after every UTC midnight, for every partner whose facts are
stale (:func:`warm_once`), and caches each one's default licence trends. A
request that comes first still rebuilds its partner itself, and one that
comes during a rebuild waits for it (the fact-day lock), so the answers are
the same either way; only who pays for the rebuild changes. With
``--workers N`` every worker runs it: the first to take a partner's lock
rebuilds it, the others find it current.

``PARTNERHUB_TODAY`` fixes the day the rebuild is for; the wake-ups still
follow the UTC clock (with a fixed day, every one after the first finds
nothing stale: one statement a day).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from db.analytics_facts import ensure_fresh, stale_partners
from db.settings import Settings, today
from resolvers.analytics.trend import warm_partner_trends

log = logging.getLogger(__name__)

AFTER_MIDNIGHT_S = 5.0
"""Seconds past UTC midnight at which the rebuild runs (the clock of the request path may lag)."""


def seconds_to_next_run(now: dt.datetime) -> float:
    """Seconds from ``now`` (aware, any zone) to :data:`AFTER_MIDNIGHT_S` past the next UTC midnight."""
    utc = now.astimezone(dt.UTC)
    midnight = dt.datetime.combine(utc.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return (midnight - utc).total_seconds() + AFTER_MIDNIGHT_S


async def warm_once(engine: AsyncEngine, settings: Settings, *, day: dt.date) -> list[int]:
    """Bring every stale partner's facts and default trends to ``day``; never raises.

    One partner at a time, each rebuild in its own transaction
    (:func:`db.analytics_facts.ensure_fresh`, which also keeps the day that
    ended as a trend point), then its default trend of each KPI product
    computed and cached (:func:`resolvers.analytics.trend.warm_partner_trends`).
    A failure is logged and skips that partner or the rest: requests then
    rebuild and compute as they would without this.

    Returns:
        The partners found stale, by id.
    """
    min_days = settings.low_assignment_min_days
    started = time.perf_counter()
    try:
        partners = await stale_partners(engine, day=day, min_days=min_days)
    except Exception:
        log.warning("could not bring the analytics facts up to date for %s", day, exc_info=True)
        return []
    for partner_id in partners:
        try:
            if await ensure_fresh(engine, partner_id=partner_id, day=day, min_days=min_days):
                await warm_partner_trends(engine, partner_id=partner_id, day=day)
        except Exception:
            log.warning("could not compute the licence trends of partner %s for %s", partner_id, day, exc_info=True)
    if partners:
        log.info(
            "analytics of %d partner(s) brought up to date for %s in %.1f s",
            len(partners),
            day,
            time.perf_counter() - started,
        )
    return partners


async def run_warmer(
    engine: AsyncEngine,
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    day: Callable[[], dt.date] = today,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Forever: :func:`warm_once` for today, then sleep until just past the next UTC midnight.

    Cancelled by the application's shutdown. ``clock``, ``day`` and ``sleep``
    are the test's handles on time.
    """
    while True:
        await warm_once(engine, settings, day=day())
        await sleep(seconds_to_next_run(clock()))


__all__ = ["AFTER_MIDNIGHT_S", "run_warmer", "seconds_to_next_run", "warm_once"]
