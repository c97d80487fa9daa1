"""Demo data (db/seed.py): deterministic, realistic, loadable (SPEC §5)."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.io import dump_json, export_document, load_document, validate_document
from db.models import PRODUCTS, ROLES, SUBSCRIPTION_STATUSES, TRIAL_STATUSES, metadata
from db.seed import _Generator, add_months, generate_document, seed

TODAY = dt.date(2026, 11, 25)


def test_same_arguments_give_identical_documents() -> None:
    first = generate_document(customers=150, seed=7, today=TODAY)
    second = generate_document(customers=150, seed=7, today=TODAY)
    assert first == second
    assert dump_json(first) == dump_json(second)
    assert dump_json(generate_document(customers=150, seed=8, today=TODAY)) != dump_json(first)
    assert validate_document(first) == []


def test_admin_roster_scales_mildly() -> None:
    # 2 full + 2 read-only + 3 sales-full + (4 + N // 2000) sales admins.
    roles = [a["role"] for a in generate_document(customers=0, today=TODAY)["partners"][0]["admins"]]
    assert [roles.count(r) for r in ROLES] == [2, 2, 3, 4]
    assert generate_document(customers=0, partner="acme", today=TODAY)["partners"][0]["admins"][0]["email"] == (
        "ana.full@acme.example"
    )
    # 10,000 customers: 4 + 5 = 9 sales admins; 100,000: 4 + 50 = 54, capped at 50.
    for customers, sales in ((10_000, 9), (100_000, 50)):
        header = _Generator(customers=customers, seed=1, partner="demo", today=TODAY).header()
        assert sum(a["role"] == "SALES_ADMIN" for a in header["admins"]) == sales


def test_add_months_clamps_to_the_month_end() -> None:
    # 31 January + 1 month: February 2027 has 28 days.
    assert add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2026, 1, 10), 12) == dt.date(2027, 1, 10)
    assert add_months(dt.date(2026, 3, 15), -3) == dt.date(2025, 12, 15)


def _values_on(line: dict[str, Any], day: dt.date) -> tuple[int, int]:
    """(assigned, used) of the latest snapshot on or before ``day`` (SPEC §2)."""
    latest = None
    for snap in line["usage"]:
        if dt.date.fromisoformat(snap["date"]) <= day and (latest is None or snap["date"] > latest["date"]):
            latest = snap
    return (latest["assigned"], latest["used"]) if latest else (0, 0)


def _live(plan: dict[str, Any], day: dt.date) -> bool:
    return plan["status"] == "ACTIVE" and dt.date.fromisoformat(plan["startsOn"]) <= day <= dt.date.fromisoformat(
        plan["endsOn"]
    )


def test_every_status_and_analytics_section_has_members() -> None:
    """Re-derives SPEC §2.1 statuses and §2.2 section rows from the document."""
    doc = generate_document(customers=300, today=TODAY)
    customers = doc["partners"][0]["customers"]
    statuses: set[str] = set()
    for c in customers:
        subs, trials = c["subscriptions"], c["trials"]
        live_subs = [s for s in subs if _live(s, TODAY)]
        live_trials = [t for t in trials if _live(t, TODAY)]
        days_left = lambda p: (dt.date.fromisoformat(p["endsOn"]) - TODAY).days  # noqa: E731
        if any(s["status"] == "SUSPENDED" for s in subs):
            statuses.add("SUSPENDED")
        if any(_values_on(line, TODAY)[0] > line["total"] for p in live_subs + live_trials for line in p["lines"]):
            statuses.add("LICENSE_OVERAGE")
        if any(days_left(p) <= 30 for p in live_trials + [s for s in live_subs if not s["autoRenew"]]):
            statuses.add("EXPIRING_SOON")
        if any(s["status"] == "PENDING_SETUP" for s in subs):
            statuses.add("READY_FOR_SETUP")
        last = c["lastAdminActivityOn"]
        if last is None or (TODAY - dt.date.fromisoformat(last)).days > 30:
            statuses.add("NO_RECENT_ACTIVITY")
        if live_trials:
            statuses.add("TRIAL")
        if live_subs:
            statuses.add("SUBSCRIPTION")
        if not live_subs and not live_trials and not any(s["status"] in ("PENDING_SETUP", "SUSPENDED") for s in subs):
            statuses.add("EXPIRED")
    assert statuses == {
        "SUSPENDED", "LICENSE_OVERAGE", "EXPIRING_SOON", "READY_FOR_SETUP",
        "NO_RECENT_ACTIVITY", "TRIAL", "SUBSCRIPTION", "EXPIRED",
    }  # fmt: skip

    for product in ("MEETINGS", "CALLING"):
        sections: dict[str, set[str]] = {k: set() for k in ("recent", "expiring", "renewing", "over", "low")}
        eligible: list[tuple[str, float]] = []
        for c in customers:
            plans = [(s, "SUBSCRIPTION") for s in c["subscriptions"]] + [(t, "TRIAL") for t in c["trials"]]
            for plan, kind in plans:
                if not _live(plan, TODAY):
                    continue
                for line in plan["lines"]:
                    if line["product"] != product:
                        continue
                    since = (TODAY - dt.date.fromisoformat(plan["startsOn"])).days
                    until = (dt.date.fromisoformat(plan["endsOn"]) - TODAY).days
                    assigned, _ = _values_on(line, TODAY)
                    if since <= 90:
                        sections["recent"].add(c["id"])
                    if until <= 90 and (kind == "TRIAL" or not plan["autoRenew"]):
                        sections["expiring"].add(c["id"])
                    if until <= 90 and kind == "SUBSCRIPTION" and plan["autoRenew"]:
                        sections["renewing"].add(c["id"])
                    if assigned > line["total"]:
                        sections["over"].add(c["id"])
                    if line["total"] > 0 and since >= 30:
                        eligible.append((c["id"], assigned / line["total"]))
        median = statistics.median(rate for _, rate in eligible)
        sections["low"] = {cid for cid, rate in eligible if rate < 0.5 * median}
        assert all(len(members) >= 3 for members in sections.values()), (product, sections)


async def test_seeded_database_has_every_status_product_and_role(session: AsyncSession) -> None:
    result = await seed(session, customers=300, today=TODAY, chunk_size=120)
    # 300 customers in chunks of 120, 120, 60; partner and 11 admins counted once.
    assert (result.customers, result.partners, result.admins) == (300, 1, 11)

    async def values(sql: str) -> set[Any]:
        return {row[0] for row in (await session.execute(text(sql))).all()}

    assert await values("SELECT DISTINCT status FROM plan WHERE kind = 'SUBSCRIPTION'") == set(SUBSCRIPTION_STATUSES)
    assert await values("SELECT DISTINCT status FROM plan WHERE kind = 'TRIAL'") == set(TRIAL_STATUSES)
    assert await values("SELECT DISTINCT product FROM license_line") == set(PRODUCTS)
    assert await values("SELECT DISTINCT role FROM partner_admin") == set(ROLES)
    assert await values("SELECT count(*) FROM customer") == {300}
    assert max(await values("SELECT count(*) FROM customer_admin GROUP BY customer_id")) > 1
    over = await values(
        "SELECT count(*) FROM license_line l JOIN plan p ON p.id = l.plan_id"
        " WHERE l.cur_assigned > l.total AND p.status = 'ACTIVE'"
        " AND p.starts_on <= '2026-11-25' AND p.ends_on >= '2026-11-25'"
    )
    assert over.pop() > 0
    # Trials are at most 90 days long; usage never has used > assigned or used > used90.
    assert await values("SELECT count(*) FROM usage_snapshot WHERE used > assigned OR used > used90") == {0}
    lengths = (await session.execute(text("SELECT starts_on, ends_on FROM plan WHERE kind = 'TRIAL'"))).all()
    assert max((dt.date.fromisoformat(str(e)) - dt.date.fromisoformat(str(s))).days for s, e in lengths) <= 90
    # Names are unique case-insensitively and some are not ASCII.
    names = await values("SELECT name FROM customer")
    assert len({n.casefold() for n in names}) == 300
    assert any(not n.isascii() for n in names)


async def test_seed_export_load_round_trip(session: AsyncSession) -> None:
    await seed(session, customers=300, seed=3, today=TODAY, chunk_size=100)
    exported = await export_document(session)
    first = dump_json(exported)
    # Chunked seeding stores exactly the one-shot document.
    assert first == dump_json(generate_document(customers=300, seed=3, today=TODAY))
    for table in reversed(metadata.sorted_tables):
        await session.execute(delete(table))
    await session.commit()
    assert (await session.execute(select(func.count()).select_from(metadata.tables["customer"]))).scalar_one() == 0
    await load_document(session, exported)
    assert dump_json(await export_document(session)) == first


def test_demo_names_are_distinct_without_numbered_copies() -> None:
    # 40,000 customers is more than the 32,370 single-prefix names: clashes must
    # be resolved by other words, never by " 2" suffixes, and folded names stay unique.
    from db.seed import fold

    document = generate_document(customers=40_000, seed=3, today=TODAY)
    names = [c["name"] for c in document["partners"][0]["customers"]]
    assert len(names) == 40_000
    assert [n for n in names if n.rsplit(" ", 1)[-1].isdigit()] == []
    assert len({fold(n) for n in names}) == 40_000


def test_demo_licence_totals_equal_the_sum_of_their_orders() -> None:
    # Per subscription line: NEW + ADD_LICENSES − REMOVE_LICENSES = total
    # (RENEWAL and CANCELLATION restate a quantity; they change nothing).
    document = generate_document(customers=3_000, seed=1, today=TODAY)
    sign = {"NEW": 1, "ADD_LICENSES": 1, "REMOVE_LICENSES": -1, "RENEWAL": 0, "CANCELLATION": 0}
    checked = changed = 0
    for customer in document["partners"][0]["customers"]:
        for sub in customer["subscriptions"]:
            for line in sub["lines"]:
                orders = [o for o in sub["orders"] if o["product"] == line["product"]]
                assert sum(sign[o["action"]] * o["quantity"] for o in orders) == line["total"], sub["subscriptionId"]
                checked += 1
                changed += any(o["action"] in ("ADD_LICENSES", "REMOVE_LICENSES") for o in orders)
    assert checked > 3_000 and changed > 300  # the rule is exercised on lines that did change
