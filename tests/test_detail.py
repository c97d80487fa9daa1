"""Customer detail tabs, node round trips, and the statement count of a full page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import insert

from db.collation import name_columns
from db.models import Customer, CustomerAdmin, Invoice, LicenseLine, Plan, PurchaseOrder, UsageSnapshot
from schema.schema import schema
from tests import factories as f
from tests.world import TOKENS


async def test_node_round_trips_for_every_node_type(api, world):
    cases = [
        ("Customer", world.gid("Customer", "Alpha")),
        ("Subscription", world.gid("Subscription", "Sub-A")),
        ("Trial", world.gid("Trial", "Trial-G")),
        ("PartnerAdmin", world.gid("PartnerAdmin", "sam")),
    ]
    for type_name, gid in cases:
        result = await api("query($id: ID!) { node(id: $id) { __typename id } }", {"id": gid}, token=TOKENS["ana"])
        assert result == {"data": {"node": {"__typename": type_name, "id": gid}}}
    # A Trial's database id under the Subscription type is not a subscription.
    from resolvers.ids import to_global_id

    wrong = to_global_id("Subscription", world.plans["Trial-G"])
    assert (await api("query($id: ID!) { node(id: $id) { id } }", {"id": wrong}, token=TOKENS["ana"]))["data"] == {
        "node": None
    }
    assert (await api('{ node(id: "garbage") { id } }', token=TOKENS["ana"]))["data"] == {"node": None}


async def test_subscription_tab(api, world):
    query = """query($id: ID!) { customer(id: $id) { subscriptions {
        subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining customer { name }
        licenses { product total assigned used usedLast90Days available overage assignmentRate usageRate }
        invoices { number issuedOn dueOn amount currency status }
        orders { number placedOn action product quantity } } } }"""
    alpha = (await api(query, {"id": world.gid("Customer", "Alpha")}, token=TOKENS["ana"]))["data"]["customer"]
    assert alpha["subscriptions"] == [
        {
            "subscriptionId": "Sub-A",
            "status": "ACTIVE",
            "startsOn": "2026-01-01",
            "endsOn": "2026-12-25",
            "autoRenew": False,
            "renewalDate": None,
            "daysRemaining": 30,
            "customer": {"name": "Alpha"},
            # 10 of 10 assigned, 6 used: available 0, overage 0, rates 1.0 and 0.6
            "licenses": [
                {
                    "product": "MEETINGS",
                    "total": 10,
                    "assigned": 10,
                    "used": 6,
                    "usedLast90Days": 8,
                    "available": 0,
                    "overage": 0,
                    "assignmentRate": 1.0,
                    "usageRate": 0.6,
                }
            ],
            # newest first: issued 06-01 before 01-01; due 30 days after issue
            "invoices": [
                {
                    "number": "INV-A2",
                    "issuedOn": "2026-06-01",
                    "dueOn": "2026-07-01",
                    "amount": "1234.50",
                    "currency": "USD",
                    "status": "UNPAID",
                },
                {
                    "number": "INV-A1",
                    "issuedOn": "2026-01-01",
                    "dueOn": "2026-01-31",
                    "amount": "10.00",
                    "currency": "USD",
                    "status": "PAID",
                },
            ],
            "orders": [
                {
                    "number": "ORD-A2",
                    "placedOn": "2026-06-01",
                    "action": "ADD_LICENSES",
                    "product": "MEETINGS",
                    "quantity": 5,
                },
                {"number": "ORD-A1", "placedOn": "2025-12-20", "action": "NEW", "product": "MEETINGS", "quantity": 10},
            ],
        }
    ]
    zeta = (await api(query, {"id": world.gid("Customer", "Zeta")}, token=TOKENS["ana"]))["data"]["customer"]
    sub = zeta["subscriptions"][0]
    assert (sub["renewalDate"], sub["daysRemaining"]) == ("2026-12-01", 6)  # auto-renews; 12-01 − 11-25
    # Product order: MEETINGS before CALLING although CALLING was inserted first.
    assert [(ln["product"], ln["available"], ln["assignmentRate"], ln["usageRate"]) for ln in sub["licenses"]] == [
        ("MEETINGS", 50, 0.5, 0.4),  # 50/100 assigned, 40/100 used
        ("CALLING", 15, 0.25, 0.25),  # 5/20, 5/20
    ]


async def test_values_ignore_snapshots_after_today_and_missing_snapshots_are_zero(api, world):
    query = "query($id: ID!) { customer(id: $id) { subscriptions { licenses { assigned used usedLast90Days overage available } } trials { licenses { assigned used available assignmentRate } } } }"
    beta = (await api(query, {"id": world.gid("Customer", "Beta")}, token=TOKENS["ana"]))["data"]["customer"]
    # the 11-20 snapshot (11, 4, 9), not the later 11-30 one (5, 1, 2); overage 11 − 10 = 1
    assert beta["subscriptions"][0]["licenses"] == [
        {"assigned": 11, "used": 4, "usedLast90Days": 9, "overage": 1, "available": 0}
    ]
    gamma = (await api(query, {"id": world.gid("Customer", "gamma")}, token=TOKENS["ana"]))["data"]["customer"]
    assert gamma["trials"][0]["licenses"] == [{"assigned": 0, "used": 0, "available": 5, "assignmentRate": 0.0}]


async def test_line_history(api, world):
    query = "query($id: ID!) { customer(id: $id) { subscriptions { licenses { history(weeks: 3) { date total assigned used } } } } }"
    beta = (await api(query, {"id": world.gid("Customer", "Beta")}, token=TOKENS["ana"]))["data"]["customer"]
    # points 11-11, 11-18, 11-25; the first snapshot is dated 11-20, so only 11-25 sees it
    assert beta["subscriptions"][0]["licenses"][0]["history"] == [
        {"date": "2026-11-11", "total": 10, "assigned": 0, "used": 0},
        {"date": "2026-11-18", "total": 10, "assigned": 0, "used": 0},
        {"date": "2026-11-25", "total": 10, "assigned": 11, "used": 4},
    ]
    bad = await api(query.replace("weeks: 3", "weeks: 0"), {"id": world.gid("Customer", "Beta")}, token=TOKENS["ana"])
    assert bad["errors"][0]["message"] == "`weeks` must be between 1 and 52; got 0."


async def test_trials_tab_and_admins_tab(api, world):
    query = """query($id: ID!) { customer(id: $id) { trials { trialId status startsOn endsOn daysRemaining
        startedBy { email } licenses { product total } customer { name } } partnerAdmins { email role } } }"""
    gamma = (await api(query, {"id": world.gid("Customer", "gamma")}, token=TOKENS["sam"]))["data"]["customer"]
    assert gamma == {
        "trials": [
            {
                "trialId": "Trial-G",
                "status": "ACTIVE",
                "startsOn": "2026-11-01",
                "endsOn": "2026-11-25",
                "daysRemaining": 0,
                "startedBy": {"email": "sam@p1.example"},
                "licenses": [{"product": "MESSAGING", "total": 5}],
                "customer": {"name": "gamma"},
            }
        ],
        "partnerAdmins": [{"email": "sam@p1.example", "role": "SALES_FULL_ADMIN"}],
    }
    epsilon = (
        await api(
            "query($id: ID!) { customer(id: $id) { subscriptions { subscriptionId } trials { trialId status } } }",
            {"id": world.gid("Customer", "Epsilon")},
            token=TOKENS["ana"],
        )
    )["data"]["customer"]
    # newest first by startsOn: E2 (2026-11-26) before E1 (2025-11-25)
    assert epsilon == {
        "subscriptions": [{"subscriptionId": "Sub-E2"}, {"subscriptionId": "Sub-E1"}],
        "trials": [{"trialId": "Trial-E", "status": "CANCELLED"}],
    }


FULL_PAGE = """query($first: Int!) { customers(first: $first) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
    subscriptions { id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining customer { id }
      licenses { product total assigned used usedLast90Days available overage assignmentRate usageRate
                 history(weeks: 4) { date total assigned used } }
      invoices { number amount status } orders { number action quantity } }
    trials { id trialId status startsOn endsOn daysRemaining startedBy { email } licenses { product total assigned } }
    partnerAdmins { id email role } } } } }"""


async def _many_customers(session, count: int) -> None:
    partner = await f.partner(session, key="many")
    boss = await f.admin(session, partner_id=partner, key="boss", role="PARTNER_FULL_ADMIN", token="t-boss")
    seller = await f.admin(session, partner_id=partner, key="seller", role="SALES_ADMIN")
    day = dt.date(2026, 1, 1)
    await session.execute(
        insert(Customer.__table__),
        [
            {
                "id": 1000 + i,
                "partner_id": partner,
                "key": f"c{i}",
                "name": f"Customer {i:03d}",
                **name_columns(f"Customer {i:03d}"),
                "managed_by": "PARTNER_ORG",
                "created_on": day,
            }
            for i in range(count)
        ],
    )
    await session.execute(
        insert(CustomerAdmin.__table__), [{"customer_id": 1000 + i, "admin_id": seller} for i in range(count)]
    )
    plans, lines, snaps, invoices, orders = [], [], [], [], []
    for i in range(count):
        sub, trial = 5000 + 2 * i, 5001 + 2 * i
        plans.append(
            {
                "id": sub,
                "partner_id": partner,
                "customer_id": 1000 + i,
                "kind": "SUBSCRIPTION",
                "ext_id": f"S{i}",
                "status": "ACTIVE",
                "starts_on": day,
                "ends_on": dt.date(2027, 1, 1),
                "auto_renew": True,
                "started_by_id": None,
            }
        )
        plans.append(
            {
                "id": trial,
                "partner_id": partner,
                "customer_id": 1000 + i,
                "kind": "TRIAL",
                "ext_id": f"T{i}",
                "status": "ACTIVE",
                "starts_on": dt.date(2026, 11, 1),
                "ends_on": dt.date(2026, 12, 1),
                "auto_renew": False,
                "started_by_id": boss,
            }
        )
        for j, (plan, product) in enumerate(((sub, "MEETINGS"), (sub, "CALLING"), (trial, "MESSAGING"))):
            line_id = 9000 + 3 * i + j
            lines.append(
                {
                    "id": line_id,
                    "plan_id": plan,
                    "product": product,
                    "total": 10,
                    "cur_date": dt.date(2026, 11, 18),
                    "cur_assigned": 5,
                    "cur_used": 2,
                    "cur_used90": 3,
                }
            )
            snaps.append({"line_id": line_id, "date": dt.date(2026, 11, 18), "assigned": 5, "used": 2, "used90": 3})
        invoices.append(
            {
                "partner_id": partner,
                "plan_id": sub,
                "number": f"I{i}",
                "issued_on": day,
                "due_on": day,
                "amount": "1.00",
                "currency": "EUR",
                "status": "PAID",
            }
        )
        orders.append(
            {
                "partner_id": partner,
                "plan_id": sub,
                "number": f"O{i}",
                "placed_on": day,
                "action": "NEW",
                "product": "MEETINGS",
                "quantity": 10,
            }
        )
    for model, rows in (
        (Plan, plans),
        (LicenseLine, lines),
        (UsageSnapshot, snaps),
        (Invoice, invoices),
        (PurchaseOrder, orders),
    ):
        await session.execute(insert(model.__table__), rows)
    await session.commit()


async def test_statements_per_page_do_not_grow_with_page_size(api, session):
    await _many_customers(session, 100)
    counts = {}
    for size in (10, 100):
        result = await api(FULL_PAGE, {"first": size}, token="t-boss")
        assert result.get("errors") is None, result["errors"]
        assert len(result["data"]["customers"]["edges"]) == size
        counts[size] = api.last_statements
    # 1 token lookup + 1 page + 1 count + statuses + products + plans + lines + history
    # + invoices + orders + assigned admins + startedBy admins = 12; customer { id } of a
    # subscription is served from the page's primed loader cache.
    assert counts == {10: 12, 100: 12}


def test_schema_sdl_is_committed():
    committed = (Path(__file__).resolve().parent.parent / "schema.graphql").read_text()
    assert schema.as_str() + "\n" == committed, (
        "schema.graphql differs from the code's schema; review the change and regenerate with "
        '`python -c "from schema.schema import schema; print(schema.as_str())" > schema.graphql`'
    )


def test_every_type_field_and_argument_has_a_description():
    from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

    missing = []
    for name, gtype in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field_name, field in gtype.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gtype, GraphQLEnumType) and not gtype.description:
            missing.append(name)
    assert missing == []
