"""Authentication, tenant isolation and role scoping (SPEC §4)."""

from __future__ import annotations

import pytest

from tests.world import NAME_ORDER, TOKENS


async def test_no_token_is_401_unauthenticated(api, world):
    response = await api.post("{ viewer { email } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    response = await api.post("{ viewer { email } }", token="not-a-token")
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "The bearer token is invalid or revoked."


async def test_introspection_needs_no_token(api, world):
    response = await api.post("{ __schema { queryType { name } } __typename }")
    assert response.status_code == 200
    assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}, "__typename": "Query"}
    # Mixing introspection with data still needs a token.
    assert (await api.post("{ __typename viewer { email } }")).status_code == 401


async def test_viewer(api, world):
    result = await api("{ viewer { email role displayName hasAccessToAllCustomers } }", token=TOKENS["sam"])
    assert result == {
        "data": {
            "viewer": {
                "email": "sam@p1.example",
                "role": "SALES_FULL_ADMIN",
                "displayName": "Sam",
                "hasAccessToAllCustomers": False,
            }
        }
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("ana", NAME_ORDER),
        ("rita", NAME_ORDER),  # read-only still sees everything
        ("sam", ["Alpha", "gamma"]),  # its assigned customers only
        ("sally", ["Beta"]),
        ("oscar", ["Aardvark"]),  # the other partner: never acme's customers
    ],
)
async def test_each_role_sees_its_customers_and_counts(api, world, who, expected):
    result = await api("{ customers(first: 100) { totalCount nodes { name } } }", token=TOKENS[who])
    assert [n["name"] for n in result["data"]["customers"]["nodes"]] == expected
    assert result["data"]["customers"]["totalCount"] == len(expected)


async def test_out_of_scope_objects_are_null(api, world):
    beta = world.gid("Customer", "Beta")
    sub_b = world.gid("Subscription", "Sub-B")
    query = "query($id: ID!) { customer(id: $id) { name } node(id: $id) { id } }"
    assert (await api(query, {"id": beta}, token=TOKENS["sam"]))["data"] == {"customer": None, "node": None}
    assert (await api(query, {"id": beta}, token=TOKENS["oscar"]))["data"] == {"customer": None, "node": None}
    assert (await api(query, {"id": beta}, token=TOKENS["sally"]))["data"] == {
        "customer": {"name": "Beta"},
        "node": {"id": beta},
    }
    plan_query = "query($id: ID!) { node(id: $id) { ... on Subscription { subscriptionId } } }"
    assert (await api(plan_query, {"id": sub_b}, token=TOKENS["sam"]))["data"] == {"node": None}
    assert (await api(plan_query, {"id": sub_b}, token=TOKENS["ana"]))["data"] == {"node": {"subscriptionId": "Sub-B"}}
    # Another partner's admin is not a node for acme.
    oscar = world.gid("PartnerAdmin", "oscar")
    assert (await api("query($id: ID!) { node(id: $id) { id } }", {"id": oscar}, token=TOKENS["ana"]))["data"] == {
        "node": None
    }


async def test_filtering_by_an_invisible_customer_admin_reveals_nothing(api, world):
    query = "query($a: ID!) { customers(filter: {assignedTo: $a}) { totalCount nodes { name } } }"
    result = await api(query, {"a": world.gid("PartnerAdmin", "sally")}, token=TOKENS["sam"])
    assert result["data"]["customers"] == {"totalCount": 0, "nodes": []}


async def test_assigned_customers_are_scoped_by_the_caller(api, world):
    query = "{ partnerAdmins(filter: {roles: [SALES_FULL_ADMIN]}) { nodes { email assignedCustomers { totalCount nodes { name } } } } }"
    by_ana = (await api(query, token=TOKENS["ana"]))["data"]["partnerAdmins"]["nodes"]
    assert by_ana == [
        {
            "email": "sam@p1.example",
            "assignedCustomers": {"totalCount": 2, "nodes": [{"name": "Alpha"}, {"name": "gamma"}]},
        }
    ]
    by_sally = (await api(query, token=TOKENS["sally"]))["data"]["partnerAdmins"]["nodes"]
    assert by_sally == [{"email": "sam@p1.example", "assignedCustomers": {"totalCount": 0, "nodes": []}}]


async def test_partner_admins_list_is_per_partner_by_email(api, world):
    query = "{ partnerAdmins { totalCount nodes { email role } } }"
    result = await api(query, token=TOKENS["ana"])
    assert result["data"]["partnerAdmins"] == {
        "totalCount": 4,
        "nodes": [
            {"email": "ana@p1.example", "role": "PARTNER_FULL_ADMIN"},
            {"email": "rita@p1.example", "role": "PARTNER_READ_ONLY_ADMIN"},
            {"email": "sally@p1.example", "role": "SALES_ADMIN"},
            {"email": "sam@p1.example", "role": "SALES_FULL_ADMIN"},
        ],
    }
    other = await api(query, token=TOKENS["oscar"])
    assert other["data"]["partnerAdmins"] == {
        "totalCount": 1,
        "nodes": [{"email": "oscar@p2.example", "role": "PARTNER_FULL_ADMIN"}],
    }
    page = await api("{ partnerAdmins(first: 2) { edges { cursor } pageInfo { endCursor } } }", token=TOKENS["ana"])
    after = page["data"]["partnerAdmins"]["pageInfo"]["endCursor"]
    rest = await api(
        "query($a: String) { partnerAdmins(first: 2, after: $a) { nodes { email } pageInfo { hasNextPage } } }",
        {"a": after},
        token=TOKENS["ana"],
    )
    assert rest["data"]["partnerAdmins"] == {
        "nodes": [{"email": "sally@p1.example"}, {"email": "sam@p1.example"}],
        "pageInfo": {"hasNextPage": False},
    }
