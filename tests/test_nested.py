"""A connection under a list is batched across its parents: one statement per level.

``PartnerAdmin.assignedCustomers`` is the API's connection that can sit under
a list (``partnerAdmins``, ``Customer.partnerAdmins``); its pages and counts
come from two grouped statements whatever the number of admins.
"""

from __future__ import annotations

import pytest

from tests import factories as f

QUERY = """{ partnerAdmins(first: 50, filter: {roles: [SALES_ADMIN]}) { nodes { email
    assignedCustomers(first: 2) { totalCount pageInfo { hasNextPage endCursor }
      nodes { name partnerAdmins { email } } } } } }"""
NEXT = """query($after: String) { partnerAdmins(first: 50, filter: {roles: [SALES_ADMIN]}) { nodes { email
    assignedCustomers(first: 2, after: $after) { pageInfo { hasNextPage } nodes { name } } } } }"""


async def _sellers(session, count: int) -> None:
    """``count`` sales admins s0, s1, …; seller i is assigned customers "C<i> a", "C<i> b", "C<i> c"."""
    partner = await f.partner(session, key="nest")
    await f.admin(session, partner_id=partner, key="boss", role="PARTNER_FULL_ADMIN", token="t-boss")
    for i in range(count):
        seller = await f.admin(session, partner_id=partner, key=f"s{i}", role="SALES_ADMIN")
        for suffix in ("c", "a", "b"):  # inserted out of name order
            customer = await f.customer(session, partner_id=partner, name=f"C{i} {suffix}", created_on="2026-01-01")
            await f.assign(session, customer_id=customer, admin_id=seller)
    await session.commit()


@pytest.mark.parametrize("sellers", [2, 6])
async def test_assigned_customers_of_many_admins_take_one_statement_per_level(api, session, sellers) -> None:
    await _sellers(session, sellers)
    body = await api(QUERY, token="t-boss")
    assert body.get("errors") is None, body["errors"]
    nodes = body["data"]["partnerAdmins"]["nodes"]
    # Each seller has 3 customers; the first page of 2 is "a" and "b" by name, each with
    # that seller as its only assigned admin; "c" is on the next page.
    assert [n["email"] for n in nodes] == [f"s{i}@p1.example" for i in range(sellers)]
    for i, node in enumerate(nodes):
        page = node["assignedCustomers"]
        assert page["totalCount"] == 3
        assert page["pageInfo"]["hasNextPage"] is True
        assert page["nodes"] == [
            {"name": f"C{i} a", "partnerAdmins": [{"email": f"s{i}@p1.example"}]},
            {"name": f"C{i} b", "partnerAdmins": [{"email": f"s{i}@p1.example"}]},
        ]
    # token 1 + admins page 1 + every seller's page 1 + every seller's count 1 +
    # the page customers' admins 1 = 5, for 2 sellers as for 6.
    assert api.last_statements == 5

    # The next page, from the first seller's cursor: for every seller, the rows after
    # (name "C0 b"): seller 0 has "C0 c" left; the others' names all sort after it.
    after = nodes[0]["assignedCustomers"]["pageInfo"]["endCursor"]
    body = await api(NEXT, {"after": after}, token="t-boss")
    pages = [n["assignedCustomers"] for n in body["data"]["partnerAdmins"]["nodes"]]
    assert pages[0] == {"pageInfo": {"hasNextPage": False}, "nodes": [{"name": "C0 c"}]}
    for i, page in enumerate(pages[1:], start=1):
        assert page["nodes"] == [{"name": f"C{i} a"}, {"name": f"C{i} b"}]
    assert api.last_statements == 3  # token, admins page, one page statement for all sellers
