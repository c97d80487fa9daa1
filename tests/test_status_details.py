"""Customer.statusDetails (SPEC §3.3): why each status holds, worked out by hand for tests/world.py.

Today is 2026-11-25; both windows are 30 days.
"""

from __future__ import annotations

from tests import factories as f
from tests.test_browser import DOCUMENTS
from tests.test_cost import cost
from tests.world import EXPECTED_STATUSES, TOKENS

DETAILS = """
query($first: Int) {
  customers(first: $first) {
    nodes {
      name statuses
      statusDetails {
        status reason since until
        plans { __typename ... on Subscription { subscriptionId } ... on Trial { trialId } }
      }
    }
  }
}
"""


def _sub(ext_id: str) -> dict:
    return {"__typename": "Subscription", "subscriptionId": ext_id}


def _trial(ext_id: str) -> dict:
    return {"__typename": "Trial", "trialId": ext_id}


def _detail(status, reason, since, until, plans=()):
    return {"status": status, "reason": reason, "since": since, "until": until, "plans": list(plans)}


EXPECTED = {
    # Sub-A: 2026-01-01 – 2026-12-25, no auto-renew. daysUntilEnd 30 ≤ 30 from 12-25 − 30 = 11-25 (today).
    "Alpha": [
        _detail(
            "EXPIRING_SOON",
            "Subscription Sub-A ends on 2026-12-25, in 30 days, without auto-renewal (within the 30-day window).",
            "2026-11-25",
            "2026-12-25",
            [_sub("Sub-A")],
        ),
        _detail(
            "SUBSCRIPTION",
            "Subscription Sub-A is active from 2026-01-01 to 2026-12-25 (ends in 30 days).",
            "2026-01-01",
            "2026-12-25",
            [_sub("Sub-A")],
        ),
    ],
    # Sub-B ends 12-26, in 31 days: not EXPIRING_SOON. Its only snapshot on or before today (11-20:
    # 11 of 10) is over the limit → overage since 11-20. Last activity 10-25: more than 30 days back
    # from 10-25 + 31 = 11-25 on (on 11-24 it was exactly 30).
    "Beta": [
        _detail(
            "LICENSE_OVERAGE",
            "Subscription Sub-B is active and has more licences assigned than bought.",
            "2026-11-20",
            None,
            [_sub("Sub-B")],
        ),
        _detail(
            "NO_RECENT_ACTIVITY",
            "No admin of the customer has signed in to its admin portal since 2026-10-25, 31 days ago "
            "(more than 30 days).",
            "2026-11-25",
            None,
        ),
        _detail(
            "SUBSCRIPTION",
            "Subscription Sub-B is active from 2026-02-01 to 2026-12-26 (ends in 31 days).",
            "2026-02-01",
            "2026-12-26",
            [_sub("Sub-B")],
        ),
    ],
    "Delta": [_detail("SUSPENDED", "Subscription Sub-D is suspended.", None, None, [_sub("Sub-D")])],
    # Sub-E1 ended 11-24 (the later of it and Trial-E's 2025-05-31) → expired since 11-25.
    "Epsilon": [
        _detail(
            "EXPIRED",
            "No plan is active today and no subscription is suspended or waiting for setup; "
            "the last plan ended on 2026-11-24, 1 day ago.",
            "2026-11-25",
            None,
        )
    ],
    # Trial-G: 11-01 – 11-25, expiring from max(11-01, 11-25 − 30 = 10-26) = 11-01; never active.
    "gamma": [
        _detail(
            "EXPIRING_SOON",
            "Trial Trial-G ends on 2026-11-25, today (within the 30-day window).",
            "2026-11-01",
            "2026-11-25",
            [_trial("Trial-G")],
        ),
        _detail("READY_FOR_SETUP", "Subscription Sub-G is waiting for its order setup.", None, None, [_sub("Sub-G")]),
        _detail("NO_RECENT_ACTIVITY", "No admin of the customer has ever signed in to its admin portal.", None, None),
        _detail(
            "TRIAL",
            "Trial Trial-G is active from 2026-11-01 to 2026-11-25 (ends today).",
            "2026-11-01",
            "2026-11-25",
            [_trial("Trial-G")],
        ),
    ],
    "Zeta": [
        _detail(
            "SUBSCRIPTION",
            "Subscription Sub-Z is active from 2025-12-01 to 2026-12-01 (ends in 6 days).",
            "2025-12-01",
            "2026-12-01",
            [_sub("Sub-Z")],
        )
    ],
    # No plan ever: nothing says since when.
    "Čačak Telekom": [
        _detail("EXPIRED", "No plan is active today and no subscription is suspended or waiting for setup.", None, None)
    ],
}


async def test_details_of_every_world_customer(api, world):
    result = await api(DETAILS, {"first": 100}, token=TOKENS["ana"])
    assert result.get("errors") is None, result
    nodes = result["data"]["customers"]["nodes"]
    assert {n["name"]: n["statusDetails"] for n in nodes} == EXPECTED
    # One detail per status, in `statuses` order, for every customer.
    for node in nodes:
        assert [d["status"] for d in node["statusDetails"]] == node["statuses"] == EXPECTED_STATUSES[node["name"]]


async def test_single_customer_and_plan_relations(api, world):
    query = """query($id: ID!) { customer(id: $id) { statusDetails { status plans {
      ... on Subscription { subscriptionId customer { name } licenses { product assigned total } } } } } }"""
    result = await api(query, {"id": world.gid("Customer", "Beta")}, token=TOKENS["ana"])
    assert result.get("errors") is None, result
    overage = result["data"]["customer"]["statusDetails"][0]
    assert overage == {
        "status": "LICENSE_OVERAGE",
        "plans": [
            {
                "subscriptionId": "Sub-B",
                "customer": {"name": "Beta"},
                "licenses": [{"product": "CALLING", "assigned": 11, "total": 10}],
            }
        ],
    }


async def _customer_with(session, name: str, *, usage, starts="2026-01-01", ends="2027-06-30", total=10):
    partner = await f.partner(session, key=f"p-{name}")
    await f.admin(session, partner_id=partner, key=f"boss-{name}", role="PARTNER_FULL_ADMIN", token=f"t-{name}")
    customer = await f.customer(session, partner_id=partner, name=name, last_activity="2026-11-25")
    plan = await f.plan(
        session, partner_id=partner, customer_id=customer, ext_id=f"Sub-{name}", starts=starts, ends=ends
    )
    await f.line(session, plan_id=plan, product="MEETINGS", total=total, usage=usage)
    await session.commit()


async def test_overage_since_is_the_start_of_the_unbroken_run(api, session):
    # Total 10: 11-01 over (12), 11-08 within (9), 11-15 over (11), 11-22 over (13), 11-29 within but
    # after today. Today's value is 11-22's; the run began on 11-15, after the last within-limit 11-08.
    await _customer_with(
        session,
        "Run",
        usage=[
            ("2026-11-01", 12, 0, 0),
            ("2026-11-08", 9, 0, 0),
            ("2026-11-15", 11, 0, 0),
            ("2026-11-22", 13, 0, 0),
            ("2026-11-29", 5, 0, 0),
        ],
    )
    result = await api("{ customers { nodes { statusDetails { status since until } } } }", token="t-Run")
    details = result["data"]["customers"]["nodes"][0]["statusDetails"]
    assert details == [
        {"status": "LICENSE_OVERAGE", "since": "2026-11-15", "until": None},
        {"status": "SUBSCRIPTION", "since": "2026-01-01", "until": "2027-06-30"},
    ]


async def test_overage_since_is_not_before_the_plan_starts(api, session):
    # Over the limit since 2026-10-01 (the only snapshot), but the plan is live from 2026-11-10 only.
    await _customer_with(session, "Late", usage=[("2026-10-01", 20, 0, 0)], starts="2026-11-10")
    result = await api("{ customers { nodes { statusDetails { status since } } } }", token="t-Late")
    details = result["data"]["customers"]["nodes"][0]["statusDetails"]
    assert details == [
        {"status": "LICENSE_OVERAGE", "since": "2026-11-10"},
        {"status": "SUBSCRIPTION", "since": "2026-11-10"},
    ]


async def test_expiring_window_edges(api, session):
    # Ends 12-25: daysUntilEnd 30 → EXPIRING_SOON since 11-25; ends 12-26: 31 → not.
    partner = await f.partner(session, key="edges")
    await f.admin(session, partner_id=partner, key="edge-boss", role="PARTNER_FULL_ADMIN", token="t-edges")
    for name, ends in (("In", "2026-12-25"), ("Out", "2026-12-26")):
        customer = await f.customer(session, partner_id=partner, name=name, last_activity="2026-11-25")
        await f.plan(
            session,
            partner_id=partner,
            customer_id=customer,
            ext_id=f"T-{name}",
            kind="TRIAL",
            starts="2026-11-01",
            ends=ends,
        )
    await session.commit()
    result = await api("{ customers { nodes { name statusDetails { status since until } } } }", token="t-edges")
    assert {n["name"]: n["statusDetails"] for n in result["data"]["customers"]["nodes"]} == {
        "In": [
            {"status": "EXPIRING_SOON", "since": "2026-11-25", "until": "2026-12-25"},
            {"status": "TRIAL", "since": "2026-11-01", "until": "2026-12-25"},
        ],
        "Out": [{"status": "TRIAL", "since": "2026-11-01", "until": "2026-12-26"}],
    }


PAGE = """
query($first: Int) { customers(first: $first) { nodes { name statusDetails { status reason since until plans {
  ... on Subscription { subscriptionId licenses { product } } ... on Trial { trialId } } } } } }
"""


async def test_statements_for_a_page_do_not_grow_with_its_size(api, session):
    partner = await f.partner(session, key="many")
    await f.admin(session, partner_id=partner, key="many-boss", role="PARTNER_FULL_ADMIN", token="t-many")
    for i in range(30):
        customer = await f.customer(session, partner_id=partner, name=f"C{i:02d}", last_activity="2026-10-01")
        for kind, ext in (("SUBSCRIPTION", f"S{i}"), ("TRIAL", f"T{i}")):
            plan = await f.plan(
                session,
                partner_id=partner,
                customer_id=customer,
                kind=kind,
                ext_id=ext,
                starts="2026-11-01",
                ends="2026-12-10",
            )
            await f.line(session, plan_id=plan, product="CALLING", total=5, usage=[("2026-11-20", 7, 1, 1)])
    await session.commit()
    counts = {}
    for size in (3, 30):
        result = await api(PAGE, {"first": size}, token="t-many")
        assert result.get("errors") is None, result
        nodes = result["data"]["customers"]["nodes"]
        assert len(nodes) == size
        # Each: overage, expiring (both plans), no recent activity, trial, subscription.
        assert [d["status"] for d in nodes[0]["statusDetails"]] == [
            "LICENSE_OVERAGE",
            "EXPIRING_SOON",
            "NO_RECENT_ACTIVITY",
            "TRIAL",
            "SUBSCRIPTION",
        ]
        counts[size] = api.last_statements
    # token + page + status details (one UNION ALL) + licence lines of the plans = 4.
    assert counts == {3: 4, 30: 4}


def test_the_dashboard_list_with_details_costs_what_it_holds():
    # customers 1 + totalCount 10 + pageInfo 1 + 100 nodes + 100 × 8 details (one per status at most) = 912;
    # with plans, each detail counts 2 more: + 100 × 8 × 2 = 2,512.
    assert cost(DOCUMENTS["CustomersWithStatusDetails"], {"first": 100}) == 912
    assert (
        cost("{ customers(first: 100) { nodes { statusDetails { plans { __typename } } } } }") == 1 + 100 + 800 + 1600
    )


async def test_expired_since_only_when_the_last_live_day_is_recorded(api, session):
    partner = await f.partner(session, key="gone")
    await f.admin(session, partner_id=partner, key="gone-boss", role="PARTNER_FULL_ADMIN", token="t-gone")
    # Known: Sub-K1 (ACTIVE) ran to 10-31; the trial cancelled on some day before its 09-30 end was
    # over by then, and Sub-K2 starts tomorrow → since 11-01.
    known = await f.customer(session, partner_id=partner, name="Known", last_activity="2026-11-25")
    for ext, kind, status, starts, ends in (
        ("Sub-K1", "SUBSCRIPTION", "ACTIVE", "2025-11-01", "2026-10-31"),
        ("Trial-K", "TRIAL", "CANCELLED", "2025-09-01", "2025-09-30"),
        ("Sub-K2", "SUBSCRIPTION", "ACTIVE", "2026-11-26", "2027-11-25"),
    ):
        await f.plan(
            session,
            partner_id=partner,
            customer_id=known,
            ext_id=ext,
            kind=kind,
            status=status,
            starts=starts,
            ends=ends,
        )
    # Unknown: Sub-U1 ran to 10-31, but Sub-U2 (2026-10-01 – 2027-01-01) was cancelled on a day not
    # recorded, possibly after 10-31 → since null.
    unknown = await f.customer(session, partner_id=partner, name="Unknown", last_activity="2026-11-25")
    for ext, status, starts, ends in (
        ("Sub-U1", "ACTIVE", "2025-11-01", "2026-10-31"),
        ("Sub-U2", "CANCELLED", "2026-10-01", "2027-01-01"),
    ):
        await f.plan(
            session, partner_id=partner, customer_id=unknown, ext_id=ext, status=status, starts=starts, ends=ends
        )
    await session.commit()
    result = await api(
        "{ customers { nodes { name statusDetails { status reason since plans { __typename } } } } }", token="t-gone"
    )
    assert {n["name"]: n["statusDetails"] for n in result["data"]["customers"]["nodes"]} == {
        "Known": [
            {
                "status": "EXPIRED",
                "reason": "No plan is active today and no subscription is suspended or waiting for setup; "
                "the last plan ended on 2026-10-31, 25 days ago.",
                "since": "2026-11-01",
                "plans": [],
            }
        ],
        "Unknown": [
            {
                "status": "EXPIRED",
                "reason": "No plan is active today and no subscription is suspended or waiting for setup.",
                "since": None,
                "plans": [],
            }
        ],
    }
