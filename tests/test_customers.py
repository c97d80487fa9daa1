"""Customer list: statuses, filters, ordering and paging against the hand-built world."""

from __future__ import annotations

import pytest

from tests.world import EXPECTED_PRODUCTS, EXPECTED_STATUSES, NAME_ORDER, TOKENS

LIST = """
query($filter: CustomerFilter, $order: CustomerOrder, $first: Int, $after: String, $last: Int, $before: String) {
  customers(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name } }
  }
}
"""


async def names(api, token="t-ana", **variables):
    result = await api(LIST, variables, token=token)
    assert result.get("errors") is None, result
    return [e["node"]["name"] for e in result["data"]["customers"]["edges"]]


async def test_statuses_and_products_follow_every_rule(api, world):
    result = await api("{ customers(first: 100) { nodes { name statuses products } } }", token=TOKENS["ana"])
    assert result.get("errors") is None
    nodes = result["data"]["customers"]["nodes"]
    assert {n["name"]: n["statuses"] for n in nodes} == EXPECTED_STATUSES
    assert {n["name"]: n["products"] for n in nodes} == EXPECTED_PRODUCTS


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"statuses": ["EXPIRING_SOON"]}, ["Alpha", "gamma"]),  # 30 days and 0 days; Beta's 31 is out
        ({"statuses": ["EXPIRED"]}, ["Čačak Telekom", "Epsilon"]),
        ({"statuses": ["SUSPENDED", "LICENSE_OVERAGE"]}, ["Beta", "Delta"]),  # list values OR
        ({"statuses": ["NO_RECENT_ACTIVITY"]}, ["Beta", "gamma"]),  # 31 days back, and never
        ({"statuses": ["READY_FOR_SETUP"]}, ["gamma"]),
        ({"statuses": []}, []),
        ({"products": ["CALLING"]}, ["Beta", "Zeta"]),
        ({"products": ["MESSAGING", "MEETINGS"]}, ["Alpha", "gamma", "Zeta"]),
        ({"subscriptionType": "TRIAL"}, ["gamma"]),
        ({"subscriptionType": "SUBSCRIPTION"}, ["Alpha", "Beta", "Zeta"]),  # Epsilon's are not live
        ({"managedBy": "EXTERNAL_ADMIN"}, ["Čačak Telekom", "Zeta"]),
        ({"search": "čač"}, ["Čačak Telekom"]),
        ({"search": "ČAČAK"}, ["Čačak Telekom"]),
        ({"search": "ET"}, ["Beta", "Zeta"]),
        ({"search": "%"}, []),  # a literal percent sign, not a wildcard
        ({"search": "_"}, []),
        # fields AND together
        ({"statuses": ["NO_RECENT_ACTIVITY"], "subscriptionType": "SUBSCRIPTION"}, ["Beta"]),
        ({"products": ["MEETINGS"], "managedBy": "EXTERNAL_ADMIN"}, ["Zeta"]),
        ({"statuses": ["EXPIRED"], "managedBy": "PARTNER_ORG"}, ["Epsilon"]),
    ],
)
async def test_filters(api, world, flt, expected):
    assert await names(api, filter=flt, first=100) == expected


async def test_filter_by_assigned_admin(api, world):
    assert await names(api, filter={"assignedTo": world.gid("PartnerAdmin", "sam")}) == ["Alpha", "gamma"]
    result = await api(LIST, {"filter": {"assignedTo": "nonsense"}}, token="t-ana")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_total_count_follows_filter(api, world):
    result = await api(LIST, {"filter": {"statuses": ["EXPIRED"]}, "first": 1}, token="t-ana")
    connection = result["data"]["customers"]
    assert connection["totalCount"] == 2
    assert connection["pageInfo"]["hasNextPage"] is True


async def test_order_by_name_both_ways(api, world):
    assert await names(api) == NAME_ORDER
    assert await names(api, order={"field": "NAME", "direction": "DESC"}) == list(reversed(NAME_ORDER))


async def test_order_by_created_on_breaks_ties_by_id(api, world):
    # created: Epsilon 2025-06-01, Alpha 01-01, Beta 02-01, gamma 03-01 (id 3), Delta 03-01 (id 4),
    # Čačak 04-01, Zeta 05-01.  Descending reverses the ties too.
    ascending = ["Epsilon", "Alpha", "Beta", "gamma", "Delta", "Čačak Telekom", "Zeta"]
    assert await names(api, order={"field": "CREATED_ON"}) == ascending
    assert await names(api, order={"field": "CREATED_ON", "direction": "DESC"}) == list(reversed(ascending))


async def test_forward_paging_across_pages(api, world):
    result = await api(LIST, {"first": 3}, token="t-ana")
    page = result["data"]["customers"]
    assert [e["node"]["name"] for e in page["edges"]] == ["Alpha", "Beta", "Čačak Telekom"]
    assert page["pageInfo"]["hasNextPage"] is True and page["pageInfo"]["hasPreviousPage"] is False
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    page2 = (await api(LIST, {"first": 3, "after": page["pageInfo"]["endCursor"]}, token="t-ana"))["data"]["customers"]
    assert [e["node"]["name"] for e in page2["edges"]] == ["Delta", "Epsilon", "gamma"]
    assert page2["pageInfo"]["hasNextPage"] is True and page2["pageInfo"]["hasPreviousPage"] is True
    page3 = (await api(LIST, {"first": 3, "after": page2["pageInfo"]["endCursor"]}, token="t-ana"))["data"]["customers"]
    assert [e["node"]["name"] for e in page3["edges"]] == ["Zeta"]
    assert page3["pageInfo"]["hasNextPage"] is False
    assert page3["totalCount"] == 7


async def test_backward_paging(api, world):
    page = (await api(LIST, {"last": 2}, token="t-ana"))["data"]["customers"]
    assert [e["node"]["name"] for e in page["edges"]] == ["gamma", "Zeta"]
    assert page["pageInfo"]["hasPreviousPage"] is True and page["pageInfo"]["hasNextPage"] is False
    before = page["pageInfo"]["startCursor"]
    page2 = (await api(LIST, {"last": 2, "before": before}, token="t-ana"))["data"]["customers"]
    assert [e["node"]["name"] for e in page2["edges"]] == ["Delta", "Epsilon"]
    assert page2["pageInfo"]["hasNextPage"] is True


async def test_paging_with_descending_created_on(api, world):
    order = {"field": "CREATED_ON", "direction": "DESC"}
    page = (await api(LIST, {"first": 3, "order": order}, token="t-ana"))["data"]["customers"]
    assert [e["node"]["name"] for e in page["edges"]] == ["Zeta", "Čačak Telekom", "Delta"]
    after = page["pageInfo"]["endCursor"]
    page2 = (await api(LIST, {"first": 3, "order": order, "after": after}, token="t-ana"))["data"]["customers"]
    # The tie on 2026-03-01 continues with gamma (id 3) after Delta (id 4).
    assert [e["node"]["name"] for e in page2["edges"]] == ["gamma", "Beta", "Alpha"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 0}, "`first` must be between 1 and 100; got 0."),
        ({"first": 101}, "`first` must be between 1 and 100; got 101."),
        ({"last": 101}, "`last` must be between 1 and 100; got 101."),
        ({"first": 2, "last": 2}, "Pass either `first` or `last`, not both."),
        ({"after": "garbage"}, "`after` is not a cursor of this list and ordering."),
    ],
)
async def test_bad_paging_arguments_are_named(api, world, variables, message):
    result = await api(LIST, variables, token="t-ana")
    # Bounds are refused before execution (no data); the others are field errors
    # that null `customers` alone (SPEC §3.2 partial results).
    before_execution = "between 1 and 100" in message
    assert result.get("data") == (None if before_execution else {"customers": None})
    assert result["errors"][0]["message"] == message
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_cursor_of_other_ordering_is_refused(api, world):
    page = (await api(LIST, {"first": 1}, token="t-ana"))["data"]["customers"]
    result = await api(
        LIST, {"first": 1, "after": page["pageInfo"]["endCursor"], "order": {"field": "CREATED_ON"}}, token="t-ana"
    )
    assert result["errors"][0]["message"] == "`after` is not a cursor of this list and ordering."


async def test_default_page_size_is_25(api, session):
    from tests import factories as f

    partner = await f.partner(session, key="big")
    await f.admin(session, partner_id=partner, key="boss", role="PARTNER_FULL_ADMIN", token="t-boss")
    for i in range(30):
        await f.customer(session, partner_id=partner, name=f"Customer {i:02d}")
    await session.commit()
    page = (await api("{ customers { totalCount nodes { name } pageInfo { hasNextPage } } }", token="t-boss"))["data"][
        "customers"
    ]
    assert page["totalCount"] == 30
    assert len(page["nodes"]) == 25 and page["nodes"][-1]["name"] == "Customer 24"
    assert page["pageInfo"]["hasNextPage"] is True


async def test_page_size_from_a_variable_is_refused_before_anything_runs(api, world):
    # Both connections are out of bounds: the whole operation is refused, each named.
    query = "query($n: Int) { viewer { email } customers(first: $n) { totalCount } partnerAdmins(first: 500) { totalCount } }"
    result = await api(query, {"n": 101}, token="t-ana")
    assert "data" not in result  # refused before execution
    assert [e["message"] for e in result["errors"]] == [
        "`first` must be between 1 and 100; got 101.",
        "`first` must be between 1 and 100; got 500.",
    ]
    assert {e["extensions"]["code"] for e in result["errors"]} == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        # depth 15 > 12: customers > nodes > (subscriptions > customer) × 6 > name
        (
            "{ customers { nodes { " + "subscriptions { customer { " * 6 + "name" + " } }" * 6 + " } } }",
            "QUERY_TOO_COMPLEX",
        ),
        ("{ " + " ".join(f"a{i}: viewer {{ email }}" for i in range(31)) + " }", "QUERY_TOO_COMPLEX"),
        ("{ viewer { " + " ".join(["email"] * 6000) + " } }", "QUERY_TOO_COMPLEX"),
        ("{ viewer { email ", "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { nope } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_query_bounds_are_refused_with_a_code(api, world, query, code):
    result = await api(query, token="t-ana")
    assert "data" not in result  # refused before execution
    assert result["errors"][0]["extensions"]["code"] == code
