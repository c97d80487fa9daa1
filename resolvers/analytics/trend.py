"""The licence trend (F12): weekly sums of the visible live lines, one statement for the days not cached."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import trend_cache
from db.access import Viewer
from db.analytics_facts import fact_lines
from db.engine import make_sessionmaker
from db.lines import KPI_PRODUCTS
from db.settings import today as get_today
from resolvers.analytics.lines import DEFAULT_WEEKS, check_product, check_weeks, live_lines, memo


@dataclass(frozen=True)
class TrendPoint:
    """Σ total, assigned and used of the lines live on ``date``."""

    date: dt.date
    total: int
    assigned: int
    used: int


async def license_trend(
    *,
    session: AsyncSession,
    viewer: Viewer,
    product: str,
    as_of: dt.date,
    weeks: int = DEFAULT_WEEKS,
    today: dt.date | None = None,
    facts: bool = False,
) -> list[TrendPoint]:
    """Σ total/assigned/used of the visible P-lines of plans live on each of
    ``as_of``, ``as_of - 7``, … (``weeks`` points, oldest first), values as of
    that day. One statement (a UNION ALL of one aggregate per day) for the
    days not cached: for a partner-wide viewer, days before ``today`` come from
    the trend cache once computed (:mod:`db.trend_cache`). With ``facts``
    (``as_of`` is today, the viewer sees the whole partner) the point of
    ``as_of`` sums the stored facts (:mod:`db.analytics_facts`).
    """
    product, weeks = check_product(product), check_weeks(weeks)
    days = [as_of - dt.timedelta(days=7 * i) for i in range(weeks)]

    async def compute(wanted: tuple[dt.date, ...]) -> dict[dt.date, tuple[int, int, int]]:
        rows = (await session.execute(trend_statement(viewer, product, wanted, as_of if facts else None))).all()
        by_point = {r.point: r for r in rows}
        return {
            day: (int(by_point[i].total), int(by_point[i].assigned), int(by_point[i].used))
            for i, day in enumerate(wanted)
        }

    if viewer.sees_all_customers:
        sums = await trend_cache.partner_trend(
            session,
            partner_id=viewer.partner_id,
            product=product,
            days=days,
            today=today or get_today(),
            compute=compute,
        )
    else:
        sums = await compute(tuple(days))
    return [TrendPoint(day, *sums[day]) for day in reversed(days)]


async def warm_partner_trends(engine: AsyncEngine, *, partner_id: int, day: dt.date) -> None:
    """Compute and cache the partner-wide default trend (:data:`DEFAULT_WEEKS` points to ``day``) of each KPI product.

    For the background day-boundary rebuild (``web/warmer.py``), after the
    partner's facts were moved to ``day``: the weekly points a new day's
    first dashboard would otherwise compute (~0.45 s each at 100,000
    customers) are then cached; a server that ran every day has them all
    already, and this reads them (one statement per product).
    """
    # Any partner-wide role sums the same lines; the id is not read for these roles.
    viewer = Viewer(id=0, partner_id=partner_id, email="", display_name="", role="PARTNER_READ_ONLY_ADMIN")
    async with make_sessionmaker(engine)() as session:
        for product in KPI_PRODUCTS:
            await license_trend(session=session, viewer=viewer, product=product, as_of=day, today=day, facts=True)


@memo
def trend_statement(viewer: Viewer, product: str, days: tuple[dt.date, ...], fact_day: dt.date | None = None) -> Any:
    """One aggregate per day, as a UNION ALL (one statement); ``fact_day``'s from the stored facts."""
    parts = []
    for i, day in enumerate(days):
        if day == fact_day:
            base = fact_lines(partner_id=viewer.partner_id, product=product, d=day, name=f"trend{i}")
        else:
            base = live_lines(partner_id=viewer.partner_id, viewer=viewer, product=product, d=day, name=f"trend{i}")
        parts.append(
            select(
                literal_column(str(i), Integer).label("point"),
                func.coalesce(func.sum(base.c.total), 0).label("total"),
                func.coalesce(func.sum(base.c.assigned), 0).label("assigned"),
                func.coalesce(func.sum(base.c.used), 0).label("used"),
            )
        )
    return union_all(*parts) if len(parts) > 1 else parts[0]
