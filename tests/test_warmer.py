"""The background day-boundary rebuild of the stored analytics (web/warmer.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db import analytics_facts, trend_cache
from db.engine import make_sessionmaker
from db.settings import get_settings
from tests.test_analytics_facts import EXPIRING, T, _day_world, _fact_day, assert_facts_exact
from web import warmer

NEXT = T + dt.timedelta(days=1)  # 2026-11-26


def test_the_next_run_is_five_seconds_past_the_next_utc_midnight() -> None:
    # 23:59:50 UTC: 10 s to midnight + 5 s.
    assert warmer.seconds_to_next_run(dt.datetime(2026, 11, 25, 23, 59, 50, tzinfo=dt.UTC)) == 15.0
    # Exactly midnight: the next one is a whole day away (86,400 s) + 5 s.
    assert warmer.seconds_to_next_run(dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)) == 86_405.0
    # 01:00 at UTC+2 is 23:00 UTC the day before: 3,600 s + 5 s, whatever the zone.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert warmer.seconds_to_next_run(dt.datetime(2026, 11, 26, 1, 0, tzinfo=plus_two)) == 3_605.0


async def _stale(engine: AsyncEngine, day: dt.date, min_days: int) -> list[int]:
    async with make_sessionmaker(engine)() as session:
        return list((await session.execute(analytics_facts.stale_partners_statement(day, min_days))).scalars())


async def test_warm_once_rebuilds_stale_partners_so_the_first_request_of_the_day_does_not(
    engine, api, monkeypatch
) -> None:
    token, viewer = await _day_world(engine)
    settings = get_settings()  # low-assignment age 30, as the import built the facts
    async with make_sessionmaker(engine)() as session:
        kept_before = await trend_cache.cached_days(session, viewer.partner_id)
    assert T not in kept_before
    assert await _stale(engine, T, 30) == []
    assert await _stale(engine, T, 10) == [viewer.partner_id]  # another eligibility age is stale too
    # Nothing stale on T: nothing done.
    assert await warmer.warm_once(engine, settings, day=T) == []
    assert await _fact_day(engine, viewer.partner_id) == T
    # On T + 1 the partner is stale and is rebuilt, before any request.
    assert await warmer.warm_once(engine, settings, day=NEXT) == [viewer.partner_id]
    assert await _fact_day(engine, viewer.partner_id) == NEXT
    async with make_sessionmaker(engine)() as session:
        # The day that ended is kept as a trend point (it had no request), and the default
        # trend of T + 1 computed: its 11 past weekly points, T + 1 - 77 = 2026-09-10 … T + 1 - 7
        # = 2026-11-19 (T + 1 itself is today: summed from the facts, never cached).
        weekly = [NEXT - dt.timedelta(days=7 * k) for k in range(11, 0, -1)]
        assert weekly[0] == dt.date(2026, 9, 10) and weekly[-1] == dt.date(2026, 11, 19)
        assert await trend_cache.cached_days(session, viewer.partner_id) == [*kept_before, *weekly, T]
    monkeypatch.setenv("PARTNERHUB_TODAY", NEXT.isoformat())
    body = await api(EXPIRING, token=token)
    # Sub-S ended on T (gone); Sub-L is 90 days from T + 1 — as
    # test_day_boundary_shifts_the_windows finds when the request rebuilds.
    assert body["data"] == {
        "kpis": {"asOf": "2026-11-26", "totalCustomers": 1, "expiring": 1},
        "analytics": {
            "expiring": {"expiringCustomers": 1, "rows": {"nodes": [{"subscriptionId": "Sub-L", "daysToExpiry": 90}]}}
        },
    }
    # The first request of the day: token 1 + fact day 1 + kpis 1 + expiring KPIs 1 + rows 1 = 5,
    # not the 16 (SQLite 18) of a request that rebuilds.
    assert api.last_statements == 5
    await assert_facts_exact(engine, viewer, NEXT)


async def test_warm_once_logs_a_failure_and_returns_nothing(engine, monkeypatch, caplog) -> None:
    async def broken(*_args: Any, **_kw: Any) -> list[int]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(warmer, "stale_partners", broken)
    with caplog.at_level(logging.WARNING, logger="web.warmer"):
        assert await warmer.warm_once(engine, get_settings(), day=NEXT) == []
    assert "could not bring the analytics facts up to date for 2026-11-26" in caplog.text


async def test_run_warmer_rebuilds_for_each_new_day_and_sleeps_to_the_next_midnight(engine) -> None:
    _token, viewer = await _day_world(engine)
    days = iter([T, NEXT])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise asyncio.CancelledError  # the application's shutdown

    with pytest.raises(asyncio.CancelledError):
        await warmer.run_warmer(
            engine,
            get_settings(),
            clock=lambda: dt.datetime(2026, 11, 25, 23, 0, tzinfo=dt.UTC),
            day=lambda: next(days),
            sleep=sleep,
        )
    # T: nothing stale; slept 3,600 + 5 s; T + 1: rebuilt; slept again, then cancelled.
    assert sleeps == [3_605.0, 3_605.0]
    assert await _fact_day(engine, viewer.partner_id) == NEXT


async def test_the_application_runs_the_warmer_at_start_when_enabled(engine, monkeypatch) -> None:
    from server import create_app

    _token, viewer = await _day_world(engine)  # facts of T
    monkeypatch.setenv("PARTNERHUB_TODAY", NEXT.isoformat())
    monkeypatch.setenv("PARTNERHUB_FACTS_WARMER", "true")
    app = create_app(engine=engine)
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if await _fact_day(engine, viewer.partner_id) == NEXT:
                break
            await asyncio.sleep(0.05)
        assert await _fact_day(engine, viewer.partner_id) == NEXT
    # Leaving the lifespan cancelled the sleeping warmer (no task left behind).
    assert not [t for t in asyncio.all_tasks() if "run_warmer" in repr(t.get_coro())]


async def test_the_application_does_not_run_it_when_disabled(engine, monkeypatch) -> None:
    from server import create_app

    _token, viewer = await _day_world(engine)
    monkeypatch.setenv("PARTNERHUB_TODAY", NEXT.isoformat())  # PARTNERHUB_FACTS_WARMER=false (conftest)
    app = create_app(engine=engine)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.3)
        assert await _fact_day(engine, viewer.partner_id) == T


async def test_a_partner_whose_trends_fail_is_logged_and_its_facts_stay_rebuilt(engine, monkeypatch, caplog) -> None:
    _token, viewer = await _day_world(engine)

    async def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("statement timeout")

    monkeypatch.setattr(warmer, "warm_partner_trends", broken)
    with caplog.at_level(logging.WARNING, logger="web.warmer"):
        assert await warmer.warm_once(engine, get_settings(), day=NEXT) == [viewer.partner_id]
    assert f"could not compute the licence trends of partner {viewer.partner_id} for 2026-11-26" in caplog.text
    # The rebuild committed before the trends were attempted.
    assert await _fact_day(engine, viewer.partner_id) == NEXT
    await assert_facts_exact(engine, viewer, NEXT)
