"""The licence trend of past days is cached for partner-wide viewers, and every write that
can change a past day adjusts it (or, for a large import, recomputes it; db/trend_cache.py).

Today is 2026-11-25; the trend has 3 weekly points W = 11-11, E = 11-18, D = 11-25
(MEETINGS). Each step below changes the data through the API (or an import) and checks the
trend against sums worked out by hand, so a stale cached day would show.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from db import trend_cache
from db.io import export_document, load_document
from db.models import TrendCache
from db.trend_cache import forget, partner_trend
from resolvers.ids import to_global_id
from tests import factories as f

TREND = "query { analytics(product: MEETINGS) { licenseTrend(weeks: 3) { date total assigned used } } }"
W, E, D = dt.date(2026, 11, 11), dt.date(2026, 11, 18), dt.date(2026, 11, 25)
CACHE = TrendCache.__table__


async def _world(session) -> dict[str, int]:
    ids: dict[str, int] = {}
    acme = ids["acme"] = await f.partner(session, key="acme")
    ids["ana"] = await f.admin(session, partner_id=acme, key="ana", role="PARTNER_FULL_ADMIN", token="t-ana")
    c1 = ids["c1"] = await f.customer(session, partner_id=acme, name="One", created_on="2026-01-01")
    c2 = ids["c2"] = await f.customer(session, partner_id=acme, name="Two", created_on="2026-01-01")
    # T1: live 11-01..12-10, 10 licences; snapshots 11-10 (4, 2) and 11-20 (6, 3).
    ids["t1"] = await f.plan(
        session, partner_id=acme, customer_id=c1, kind="TRIAL", ext_id="T1", starts="2026-11-01", ends="2026-12-10"
    )
    await f.line(
        session,
        plan_id=ids["t1"],
        product="MEETINGS",
        total=10,
        usage=[("2026-11-10", 4, 2, 2), ("2026-11-20", 6, 3, 3)],
    )
    # S1: waiting for setup since 11-05 (not live), 20 licences; snapshot 11-15 (8, 5).
    ids["s1"] = await f.plan(
        session,
        partner_id=acme,
        customer_id=c1,
        ext_id="S1",
        status="PENDING_SETUP",
        starts="2026-11-05",
        ends="2027-11-05",
    )
    ids["s1_line"] = await f.line(
        session, plan_id=ids["s1"], product="MEETINGS", total=20, usage=[("2026-11-15", 8, 5, 5)]
    )
    # T2: ACTIVE but ended 11-15 (live 10-20..11-15), 5 licences; snapshot 11-01 (2, 1).
    ids["t2"] = await f.plan(
        session, partner_id=acme, customer_id=c2, kind="TRIAL", ext_id="T2", starts="2026-10-20", ends="2026-11-15"
    )
    await f.line(session, plan_id=ids["t2"], product="MEETINGS", total=5, usage=[("2026-11-01", 2, 1, 1)])
    await session.commit()
    return ids


async def _trend(api) -> list[tuple[str, int, int, int]]:
    body = await api(TREND, token="t-ana")
    assert "errors" not in body, body
    return [(p["date"], p["total"], p["assigned"], p["used"]) for p in body["data"]["analytics"]["licenseTrend"]]


async def _cached(session) -> dict[dt.date, tuple[int, int, int]]:
    await session.rollback()  # a fresh snapshot (SQLite keeps one per transaction)
    rows = await session.execute(
        select(CACHE.c.day, CACHE.c.total, CACHE.c.assigned, CACHE.c.used).where(CACHE.c.product == "MEETINGS")
    )
    return {r.day: (r.total, r.assigned, r.used) for r in rows}


async def _mutate(api, mutation: str) -> None:
    body = await api(mutation, token="t-ana")
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], payload


async def _import_snapshot(session, plan: str, date: str, assigned: int, used: int) -> None:
    """Export, add a usage snapshot to the first line of One's plan ``plan``, and import the document again."""
    doc = await export_document(session)
    one = next(c for c in doc["partners"][0]["customers"] if c["name"] == "One")
    plans = one["subscriptions"] + one["trials"]
    line = next(p for p in plans if plan in (p.get("subscriptionId"), p.get("trialId")))["lines"][0]
    line["usage"].append({"date": date, "assigned": assigned, "used": used, "used90": used})
    line["usage"].sort(key=lambda u: u["date"])
    await load_document(session, doc)


async def test_mutations_and_imports_adjust_the_cached_days(api, session) -> None:
    ids = await _world(session)
    t1, t2 = to_global_id("Trial", ids["t1"]), to_global_id("Trial", ids["t2"])

    # W: T1 (10, 4, 2: snapshot 11-10) + T2 (5, 2, 1: snapshot 11-01) = (15, 6, 3)
    # E: T1 (10, 4, 2: 11-10; 11-20 is later); T2 ended 11-15          = (10, 4, 2)
    # D: T1 (10, 6, 3: snapshot 11-20)                                  = (10, 6, 3)
    expected = [("2026-11-11", 15, 6, 3), ("2026-11-18", 10, 4, 2), ("2026-11-25", 10, 6, 3)]
    assert await _trend(api) == expected
    # The past days are now kept; today is not.
    assert await _cached(session) == {W: (15, 6, 3), E: (10, 4, 2)}
    assert await _trend(api) == expected  # served from the cache, same numbers

    # Cancelling T1 removes it from every day it was live on (11-01..12-10), past ones included.
    await _mutate(api, f'mutation {{ cancelTrial(input: {{trialId: "{t1}"}}) {{ userErrors {{ code }} }} }}')
    # The cached days were adjusted by T1's share (W and E: 10, 4, 2), not forgotten.
    assert await _cached(session) == {W: (5, 2, 1), E: (0, 0, 0)}
    # W: T2 (5, 2, 1); E and D: nothing live.
    assert await _trend(api) == [("2026-11-11", 5, 2, 1), ("2026-11-18", 0, 0, 0), ("2026-11-25", 0, 0, 0)]

    # Extending the ended T2 by 20 days (to 12-05) makes it live again on E and D.
    await _mutate(api, f'mutation {{ extendTrial(input: {{trialId: "{t2}", days: 20}}) {{ userErrors {{ code }} }} }}')
    # Only E lies in the days it gained (11-16..12-05): + T2 (5, 2, 1).
    assert await _cached(session) == {W: (5, 2, 1), E: (5, 2, 1)}
    # W, E, D: T2 (5, 2, 1: snapshot 11-01)
    assert await _trend(api) == [("2026-11-11", 5, 2, 1), ("2026-11-18", 5, 2, 1), ("2026-11-25", 5, 2, 1)]

    # Completing the setup makes S1 live since 11-05.
    c1 = to_global_id("Customer", ids["c1"])
    await _mutate(
        api,
        f'mutation {{ completeOrderSetup(input: {{customerId: "{c1}", acceptTerms: true}}) '
        f"{{ userErrors {{ code }} }} }}",
    )
    assert await _cached(session) == {W: (25, 2, 1), E: (25, 10, 6)}
    # W: S1 (20, 0, 0: no snapshot by 11-11) + T2 (5, 2, 1) = (25, 2, 1)
    # E, D: S1 (20, 8, 5: snapshot 11-15) + T2 (5, 2, 1)   = (25, 10, 6)
    assert await _trend(api) == [("2026-11-11", 25, 2, 1), ("2026-11-18", 25, 10, 6), ("2026-11-25", 25, 10, 6)]

    # Converting T2: the trial is no longer live on any day; its subscription waits for setup.
    await _mutate(
        api,
        f'mutation {{ convertTrial(input: {{trialId: "{t2}", subscriptionId: "S2", termMonths: 12, '
        f"autoRenew: false}}) {{ userErrors {{ code }} }} }}",
    )
    # W: S1 (20, 0, 0); E, D: S1 (20, 8, 5)
    assert await _cached(session) == {W: (20, 0, 0), E: (20, 8, 5)}
    assert await _trend(api) == [("2026-11-11", 20, 0, 0), ("2026-11-18", 20, 8, 5), ("2026-11-25", 20, 8, 5)]

    # An import that adds a snapshot on 11-11 (3, 1) to S1's line changes W.
    await session.rollback()
    await _import_snapshot(session, "S1", "2026-11-11", 3, 1)
    # The import adjusted the cached days instead of forgetting them (db/trend_cache.adjust): W by
    # One's change (0, 3, 1) → (20, 3, 1); E unchanged (its snapshot 11-18 still gives 8, 5).
    assert await _cached(session) == {W: (20, 3, 1), E: (20, 8, 5)}
    # W: S1 (20, 3, 1: snapshot 11-11)
    assert await _trend(api) == [("2026-11-11", 20, 3, 1), ("2026-11-18", 20, 8, 5), ("2026-11-25", 20, 8, 5)]


async def test_a_large_import_recomputes_the_newest_cached_days_and_forgets_the_older(
    api, session, monkeypatch
) -> None:
    """Past MAX_ADJUSTED customers an import recomputes the cached days, at most MAX_RECOMPUTED of them."""
    await _world(session)
    assert await _trend(api) == [("2026-11-11", 15, 6, 3), ("2026-11-18", 10, 4, 2), ("2026-11-25", 10, 6, 3)]
    assert await _cached(session) == {W: (15, 6, 3), E: (10, 4, 2)}
    monkeypatch.setattr("db.trend_cache.MAX_ADJUSTED", 0)  # every import is "large"
    monkeypatch.setattr("db.trend_cache.MAX_RECOMPUTED", 1)  # keep the newest day only
    # The import adds a snapshot on 11-16 (7, 5) to T1's line.
    await _import_snapshot(session, "T1", "2026-11-16", 7, 5)
    # E (11-18) recomputed: T1 (10, 7, 5: snapshot 11-16); T2 ended 11-15. W (older) forgotten.
    assert await _cached(session) == {E: (10, 7, 5)}
    # W computed again: T1 (10, 4, 2: 11-16 is later) + T2 (5, 2, 1); D: T1's 11-20 snapshot (6, 3).
    assert await _trend(api) == [("2026-11-11", 15, 6, 3), ("2026-11-18", 10, 7, 5), ("2026-11-25", 10, 6, 3)]


async def test_each_missing_past_day_is_computed_in_a_statement_of_its_own(session) -> None:
    """Past points one per call (each bounded by the statement time limit), today with the later days."""
    ids = await _world(session)
    calls: list[tuple[dt.date, ...]] = []

    async def compute(days):
        calls.append(days)
        return dict.fromkeys(days, (1, 2, 3))

    later = D + dt.timedelta(days=7)
    await partner_trend(
        session, partner_id=ids["acme"], product="MEETINGS", days=[later, D, E, W], today=D, compute=compute
    )
    assert calls == [(W,), (E,), (D, later)]
    assert await _cached(session) == {W: (1, 2, 3), E: (1, 2, 3)}
    calls.clear()
    await partner_trend(session, partner_id=ids["acme"], product="MEETINGS", days=[D, E, W], today=D, compute=compute)
    assert calls == [(D,)]  # the past days are cached now


async def test_concurrent_mutations_each_adjust_the_cached_days_once(api, session) -> None:
    """Five cancellations at once: the additive updates of one cached row must all count, once each."""
    ids = await _world(session)
    extra = []
    for n in range(1, 5):  # X1..X4, a customer each: live 11-01..12-10, n licences, no snapshot (0 assigned, 0 used)
        customer = await f.customer(session, partner_id=ids["acme"], name=f"X{n}", created_on="2026-01-01")
        plan = await f.plan(
            session,
            partner_id=ids["acme"],
            customer_id=customer,
            kind="TRIAL",
            ext_id=f"X{n}",
            starts="2026-11-01",
            ends="2026-12-10",
        )
        await f.line(session, plan_id=plan, product="MEETINGS", total=n, usage=[])
        extra.append(plan)
    await session.commit()
    # W: T1 (10, 4, 2) + T2 (5, 2, 1) + X (1+2+3+4 = 10, 0, 0) = (25, 6, 3); E: T1 + X = (20, 4, 2)
    assert (await _trend(api))[:2] == [("2026-11-11", 25, 6, 3), ("2026-11-18", 20, 4, 2)]
    trials = [to_global_id("Trial", i) for i in [ids["t1"], *extra]]
    await asyncio.gather(
        *[
            _mutate(api, f'mutation {{ cancelTrial(input: {{trialId: "{t}"}}) {{ userErrors {{ code }} }} }}')
            for t in trials
        ]
    )
    # Left: T2 on W (5, 2, 1); nothing on E.
    assert await _cached(session) == {W: (5, 2, 1), E: (0, 0, 0)}


KPIS = "query { kpis { asOf totalCustomers } }"  # reads the stored facts: the first request of a day rebuilds them


async def test_the_day_rebuild_keeps_the_ended_day_as_a_trend_point(api, session, monkeypatch) -> None:
    """The facts of the day that ended are that day's live lines: their sums become its cached point."""
    await _world(session)
    body = await api(KPIS, token="t-ana")  # facts built for D (from "never": nothing ended)
    assert body["data"]["kpis"]["asOf"] == "2026-11-25"
    assert await _cached(session) == {}
    monkeypatch.setenv("PARTNERHUB_TODAY", "2026-12-02")
    body = await api(KPIS, token="t-ana")  # the first request of 12-02 moves the facts from D
    assert body["data"]["kpis"]["asOf"] == "2026-12-02"
    # D (11-25): T1 live 11-01..12-10, 10 licences, snapshot 11-20 (6, 3); S1 waits for setup; T2 ended 11-15.
    assert await _cached(session) == {D: (10, 6, 3)}
    # The trend of 12-02: E computed (T1's 11-10 snapshot: 10, 4, 2), D cached, 12-02 from the facts (10, 6, 3).
    assert await _trend(api) == [("2026-11-18", 10, 4, 2), ("2026-11-25", 10, 6, 3), ("2026-12-02", 10, 6, 3)]


async def test_the_ended_day_is_not_kept_when_a_write_changed_the_past_meanwhile(api, session, monkeypatch) -> None:
    """A version read before the facts' sums that is no longer current at the store: nothing is kept."""
    await _world(session)
    await api(KPIS, token="t-ana")
    read_version = trend_cache.read_version

    async def then_a_write(conn, partner_id):
        version = await read_version(conn, partner_id)
        return version - 1  # as if a write had bumped the version after this read

    monkeypatch.setattr(trend_cache, "read_version", then_a_write)
    monkeypatch.setenv("PARTNERHUB_TODAY", "2026-12-02")
    body = await api(KPIS, token="t-ana")
    assert "errors" not in body, body
    assert await _cached(session) == {}


async def test_a_value_computed_before_a_write_is_not_stored(session, engine) -> None:
    """A write that commits while a request computes: the request answers, but stores nothing."""
    ids = await _world(session)

    async def compute(days):
        # A mutation commits meanwhile (it forgets the partner's days and bumps its version).
        async with engine.begin() as conn:
            await forget(conn, ids["acme"])
        return dict.fromkeys(days, (1, 2, 3))

    sums = await partner_trend(
        session, partner_id=ids["acme"], product="MEETINGS", days=[W, E, D], today=D, compute=compute
    )
    assert sums == {W: (1, 2, 3), E: (1, 2, 3), D: (1, 2, 3)}
    assert await _cached(session) == {}


async def test_sales_roles_are_never_cached(api, session) -> None:
    """A sales admin sees only assigned customers: its trend is computed every time, never stored."""
    ids = await _world(session)
    await f.admin(session, partner_id=ids["acme"], key="sam", role="SALES_FULL_ADMIN", token="t-sam")
    await f.assign(session, customer_id=ids["c2"], admin_id=ids["ana"])  # not sam's
    await session.commit()
    body = await api(TREND, token="t-sam")
    # sam sees no customer: zeros everywhere
    assert [(p["total"], p["assigned"], p["used"]) for p in body["data"]["analytics"]["licenseTrend"]] == [
        (0, 0, 0)
    ] * 3
    assert await _cached(session) == {}
