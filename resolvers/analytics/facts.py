"""When the analytics read the stored aggregates (db/analytics_facts.py), and the day-boundary rebuild.

Stored facts answer only for ``asOf`` = today and a viewer who sees the whole
partner (``PARTNER_FULL_ADMIN``, ``PARTNER_READ_ONLY_ADMIN``): a sales
admin's analytics cover its assigned customers, and a past day's live lines
are those of that day, so both compute on read. The answers are the same
either way (tests/test_analytics_facts.py compares them).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncEngine

from db.analytics_facts import ensure_fresh, fact_day_statement
from resolvers.context import Context


async def use_facts(ctx: Context, as_of: dt.date) -> bool:
    """Whether this request's analytics of ``as_of`` may read the stored facts; makes them current first.

    One statement per request (the fact day, read once whatever the number
    of sections); when the facts are of another day (the first request of a
    new day, or a changed ``PARTNERHUB_LOW_ASSIGNMENT_MIN_DAYS``) they are
    rebuilt on a connection of their own before anything reads them; if
    that fails the request computes on read.
    """
    viewer = ctx.require_viewer()
    if not viewer.sees_all_customers or as_of != ctx.today:
        return False
    if ctx.facts_ready is None:
        ctx.facts_ready = asyncio.ensure_future(_ready(ctx))
    return await asyncio.shield(ctx.facts_ready)


async def _ready(ctx: Context) -> bool:
    viewer = ctx.require_viewer()
    min_days = ctx.settings.low_assignment_min_days
    row = (await ctx.session.execute(fact_day_statement(viewer.partner_id))).first()
    if row is not None and (row.day, row.min_days) == (ctx.today, min_days):
        ctx.facts_version = row.version
        return True
    # Rebuilt here: nothing is kept from this request's results (its version
    # was not read before them), which compute on the new facts.
    engine = ctx.session.bind
    if not isinstance(engine, AsyncEngine):  # pragma: no cover - db.engine binds every session to the engine
        return False
    return await ensure_fresh(engine, partner_id=viewer.partner_id, day=ctx.today, min_days=min_days)


async def facts_version(ctx: Context, as_of: dt.date) -> int | None:
    """The version of the stored facts this request's analytics of ``as_of`` read, if it reads them.

    None when they compute on read, or right after this request rebuilt the
    facts; otherwise results may be kept under it (:mod:`.kept`).
    """
    return ctx.facts_version if await use_facts(ctx, as_of) else None


__all__ = ["facts_version", "use_facts"]
