"""Facets and statusDetails agree with the filters and statuses on demo data (300 seeded customers).

The hand-worked cases are in tests/test_facets.py and tests/test_status_details.py; here every
facet count is checked against the list's own totalCount with that value chosen, and every
customer's details against its statuses.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select

from db.models import ApiToken, PartnerAdmin
from db.rules import STATUS_RULES
from db.seed import seed
from db.tokens import hash_token

TOKEN = "t-demo-full"
FACET_FILTERS = {
    "statuses": "statuses",
    "products": "products",
    "managedBy": "managedBy",
    "subscriptionTypes": "subscriptionType",
}
SINGLE = {"managedBy", "subscriptionType"}  # filters that take one value, not a list


@pytest.fixture
async def demo(session):
    await seed(session, customers=300, seed=5, today=dt.date(2026, 11, 25), chunk_size=150)
    admin_id = (
        await session.execute(select(PartnerAdmin.id).where(PartnerAdmin.role == "PARTNER_FULL_ADMIN").limit(1))
    ).scalar_one()
    await session.execute(
        insert(ApiToken.__table__).values(
            admin_id=admin_id, token_hash=hash_token(TOKEN), created_at=dt.datetime.now(dt.UTC)
        )
    )
    await session.commit()


FACETS = """query($filter: CustomerFilter) { customers(first: 1, filter: $filter) { totalCount facets {
  statuses { value count } products { value count } managedBy { value count } subscriptionTypes { value count } } } }"""
COUNT = "query($filter: CustomerFilter) { customers(first: 1, filter: $filter) { totalCount } }"


@pytest.mark.parametrize(
    "base", [{}, {"statuses": ["EXPIRING_SOON", "NO_RECENT_ACTIVITY"], "managedBy": "PARTNER_ORG"}]
)
async def test_every_facet_count_is_the_total_with_that_value_chosen(api, demo, base):
    result = await api(FACETS, {"filter": base}, token=TOKEN)
    assert result.get("errors") is None, result
    facets = result["data"]["customers"]["facets"]
    assert sum(c["count"] for c in facets["managedBy"]) > 0
    for facet, field in FACET_FILTERS.items():
        for entry in facets[facet]:
            chosen = entry["value"] if field in SINGLE else [entry["value"]]
            total = await api(COUNT, {"filter": {**base, field: chosen}}, token=TOKEN)
            assert total["data"]["customers"]["totalCount"] == entry["count"], (facet, entry)


async def test_every_customers_details_follow_its_statuses(api, demo):
    query = """query($after: String) { customers(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { statuses statusDetails { status reason since until plans { __typename } } } } }"""
    after, seen, per_status = None, 0, {}
    while True:
        result = await api(query, {"after": after}, token=TOKEN)
        assert result.get("errors") is None, result
        page = result["data"]["customers"]
        for node in page["nodes"]:
            details = node["statusDetails"]
            assert [d["status"] for d in details] == node["statuses"]
            for d in details:
                assert d["reason"].endswith(".")
                # Plan-level statuses name their plans; NO_RECENT_ACTIVITY and EXPIRED none.
                assert bool(d["plans"]) == STATUS_RULES[d["status"]].per_plan, d
                if d["since"] and d["until"]:
                    assert d["since"] <= "2026-11-25" <= d["until"], d
                per_status[d["status"]] = per_status.get(d["status"], 0) + 1
        seen += len(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == 300
    assert set(per_status) == set(STATUS_RULES)  # the demo data has every status
