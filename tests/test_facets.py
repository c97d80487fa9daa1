"""CustomerConnection.facets (SPEC §3.3): counts beside the filters, each ignoring its own, in one statement.

Counts are worked out by hand from tests/world.py (statuses in EXPECTED_STATUSES, products in
EXPECTED_PRODUCTS; managed by EXTERNAL_ADMIN: Zeta and Čačak Telekom, the other five PARTNER_ORG).
"""

from __future__ import annotations

from schema.cost import Weights
from tests.test_cost import cost
from tests.world import TOKENS

FACETS = """
query($filter: CustomerFilter) {
  customers(first: 2, filter: $filter) {
    totalCount
    nodes { name }
    facets {
      statuses { value count }
      products { value count }
      managedBy { value count }
      subscriptionTypes { value count }
    }
  }
}
"""


def _counts(facets: dict) -> dict:
    return {name: [(c["value"], c["count"]) for c in values] for name, values in facets.items()}


async def test_facets_without_a_filter_count_every_visible_customer(api, world):
    result = await api(FACETS, token=TOKENS["ana"])
    assert result.get("errors") is None, result
    connection = result["data"]["customers"]
    assert connection["totalCount"] == 7  # acme's seven; the other partner's Aardvark is not counted
    assert _counts(connection["facets"]) == {
        # SUSPENDED Delta; LICENSE_OVERAGE Beta; EXPIRING_SOON Alpha, gamma; READY_FOR_SETUP gamma;
        # NO_RECENT_ACTIVITY Beta, gamma; TRIAL gamma; SUBSCRIPTION Alpha, Beta, Zeta; EXPIRED Epsilon, Čačak.
        "statuses": [
            ("SUSPENDED", 1),
            ("LICENSE_OVERAGE", 1),
            ("EXPIRING_SOON", 2),
            ("READY_FOR_SETUP", 1),
            ("NO_RECENT_ACTIVITY", 2),
            ("TRIAL", 1),
            ("SUBSCRIPTION", 3),
            ("EXPIRED", 2),
        ],
        # MEETINGS Alpha, Zeta; CALLING Beta, Zeta; MESSAGING gamma; nobody has REAL_TIME_TRANSLATION.
        "products": [("MEETINGS", 2), ("CALLING", 2), ("MESSAGING", 1), ("REAL_TIME_TRANSLATION", 0)],
        "managedBy": [("PARTNER_ORG", 5), ("EXTERNAL_ADMIN", 2)],
        # Live subscriptions: Alpha, Beta, Zeta (Epsilon's are not live); live trial: gamma.
        "subscriptionTypes": [("SUBSCRIPTION", 3), ("TRIAL", 1)],
    }


async def test_each_facet_ignores_its_own_filter_and_applies_the_others(api, world):
    result = await api(FACETS, {"filter": {"statuses": ["SUBSCRIPTION"], "managedBy": "PARTNER_ORG"}}, token="t-ana")
    connection = result["data"]["customers"]
    assert connection["totalCount"] == 2  # Alpha, Beta
    assert _counts(connection["facets"]) == {
        # managedBy PARTNER_ORG only: Alpha, Beta, gamma, Delta, Epsilon.
        "statuses": [
            ("SUSPENDED", 1),  # Delta
            ("LICENSE_OVERAGE", 1),  # Beta
            ("EXPIRING_SOON", 2),  # Alpha, gamma
            ("READY_FOR_SETUP", 1),  # gamma
            ("NO_RECENT_ACTIVITY", 2),  # Beta, gamma
            ("TRIAL", 1),  # gamma
            ("SUBSCRIPTION", 2),  # Alpha, Beta
            ("EXPIRED", 1),  # Epsilon
        ],
        # Both filters: Alpha (MEETINGS), Beta (CALLING).
        "products": [("MEETINGS", 1), ("CALLING", 1), ("MESSAGING", 0), ("REAL_TIME_TRANSLATION", 0)],
        # SUBSCRIPTION only: Alpha, Beta and Zeta (EXTERNAL_ADMIN).
        "managedBy": [("PARTNER_ORG", 2), ("EXTERNAL_ADMIN", 1)],
        "subscriptionTypes": [("SUBSCRIPTION", 2), ("TRIAL", 0)],
    }


async def test_products_and_type_filters_leave_their_own_facets_whole(api, world):
    result = await api(
        FACETS, {"filter": {"products": ["MESSAGING"], "subscriptionType": "SUBSCRIPTION"}}, token="t-ana"
    )
    connection = result["data"]["customers"]
    assert connection["totalCount"] == 0  # gamma's MESSAGING line is on its trial
    facets = _counts(connection["facets"])
    # products ignores products, keeps SUBSCRIPTION: Alpha (MEETINGS), Beta (CALLING), Zeta (both).
    assert facets["products"] == [("MEETINGS", 2), ("CALLING", 2), ("MESSAGING", 0), ("REAL_TIME_TRANSLATION", 0)]
    # subscriptionTypes ignores its own, keeps MESSAGING: gamma, with a trial only.
    assert facets["subscriptionTypes"] == [("SUBSCRIPTION", 0), ("TRIAL", 1)]
    # statuses keeps both filters: nobody.
    assert [count for _, count in facets["statuses"]] == [0] * 8


async def test_facets_count_only_what_a_sales_admin_sees(api, world):
    # Sam is assigned Alpha (EXPIRING_SOON, SUBSCRIPTION; MEETINGS) and gamma (EXPIRING_SOON,
    # READY_FOR_SETUP, NO_RECENT_ACTIVITY, TRIAL; MESSAGING), both PARTNER_ORG.
    expected = {
        "statuses": [
            ("SUSPENDED", 0),
            ("LICENSE_OVERAGE", 0),
            ("EXPIRING_SOON", 2),
            ("READY_FOR_SETUP", 1),
            ("NO_RECENT_ACTIVITY", 1),
            ("TRIAL", 1),
            ("SUBSCRIPTION", 1),
            ("EXPIRED", 0),
        ],
        "products": [("MEETINGS", 1), ("CALLING", 0), ("MESSAGING", 1), ("REAL_TIME_TRANSLATION", 0)],
        "managedBy": [("PARTNER_ORG", 2), ("EXTERNAL_ADMIN", 0)],
        "subscriptionTypes": [("SUBSCRIPTION", 1), ("TRIAL", 1)],
    }
    result = await api(FACETS, token=TOKENS["sam"])
    assert _counts(result["data"]["customers"]["facets"]) == expected
    # The same customers through a full admin's assignedTo filter (not a facet: it applies to all) ...
    result = await api(FACETS, {"filter": {"assignedTo": world.gid("PartnerAdmin", "sam")}}, token=TOKENS["ana"])
    assert _counts(result["data"]["customers"]["facets"]) == expected
    # ... and through the admin's assignedCustomers connection.
    query = """query($id: ID!) { node(id: $id) { ... on PartnerAdmin { assignedCustomers { facets {
      statuses { value count } products { value count } managedBy { value count } subscriptionTypes { value count }
    } } } } }"""
    result = await api(query, {"id": world.gid("PartnerAdmin", "sam")}, token=TOKENS["ana"])
    assert result.get("errors") is None, result
    assert _counts(result["data"]["node"]["assignedCustomers"]["facets"]) == expected


async def test_facets_are_one_more_statement(api, world):
    plain = "query($filter: CustomerFilter) { customers(first: 2, filter: $filter) { totalCount nodes { name } } }"
    flt = {"filter": {"statuses": ["EXPIRED", "TRIAL"], "products": ["MEETINGS"], "managedBy": "PARTNER_ORG"}}
    assert (await api(plain, flt, token="t-ana")).get("errors") is None
    before = api.last_statements  # token + page + count = 3
    assert (await api(FACETS, flt, token="t-ana")).get("errors") is None
    assert (before, api.last_statements) == (3, 4)


async def test_a_bad_filter_is_refused_before_any_count(api, world):
    result = await api(FACETS, {"filter": {"assignedTo": "nonsense"}}, token="t-ana")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result["data"] == {"customers": None}


def test_facets_cost_a_count_per_value():
    # connection 1 + facets 1 + 8 status values + one count (10) for each of the 16 values counted = 170.
    assert Weights().count == 10
    assert cost("{ customers(first: 1) { facets { statuses { value count } } } }") == 170
    # Every facet: 1 + 1 + (8 + 4 + 2 + 2) + 160 = 178.
    every = "{ customers(first: 1) { facets { statuses { value } products { value } managedBy { value } subscriptionTypes { value } } } }"
    assert cost(every) == 178


async def test_an_empty_status_list_empties_the_other_facets_only(api, world):
    result = await api(FACETS, {"filter": {"statuses": []}}, token="t-ana")
    connection = result["data"]["customers"]
    assert connection["totalCount"] == 0  # "any of no statuses" holds for nobody
    facets = _counts(connection["facets"])
    # statuses ignores its own (empty) filter: the unfiltered counts.
    assert facets["statuses"] == [
        ("SUSPENDED", 1),
        ("LICENSE_OVERAGE", 1),
        ("EXPIRING_SOON", 2),
        ("READY_FOR_SETUP", 1),
        ("NO_RECENT_ACTIVITY", 2),
        ("TRIAL", 1),
        ("SUBSCRIPTION", 3),
        ("EXPIRED", 2),
    ]
    assert facets["managedBy"] == [("PARTNER_ORG", 0), ("EXTERNAL_ADMIN", 0)]
    assert facets["products"] == [("MEETINGS", 0), ("CALLING", 0), ("MESSAGING", 0), ("REAL_TIME_TRANSLATION", 0)]


async def test_facets_under_a_list_of_admins_are_one_statement(api, world):
    query = """{ partnerAdmins(first: 10) { nodes { email assignedCustomers { facets {
      managedBy { value count } subscriptionTypes { value count } } } } } }"""
    result = await api(query, token=TOKENS["ana"])
    assert result.get("errors") is None, result
    by_admin = {
        n["email"].split("@")[0]: _counts(n["assignedCustomers"]["facets"])
        for n in result["data"]["partnerAdmins"]["nodes"]
    }
    # sam: Alpha (live subscription) and gamma (live trial), both PARTNER_ORG; sally: Beta; ana, rita: nobody.
    assert by_admin == {
        "sam": {
            "managedBy": [("PARTNER_ORG", 2), ("EXTERNAL_ADMIN", 0)],
            "subscriptionTypes": [("SUBSCRIPTION", 1), ("TRIAL", 1)],
        },
        "sally": {
            "managedBy": [("PARTNER_ORG", 1), ("EXTERNAL_ADMIN", 0)],
            "subscriptionTypes": [("SUBSCRIPTION", 1), ("TRIAL", 0)],
        },
        "ana": {
            "managedBy": [("PARTNER_ORG", 0), ("EXTERNAL_ADMIN", 0)],
            "subscriptionTypes": [("SUBSCRIPTION", 0), ("TRIAL", 0)],
        },
        "rita": {
            "managedBy": [("PARTNER_ORG", 0), ("EXTERNAL_ADMIN", 0)],
            "subscriptionTypes": [("SUBSCRIPTION", 0), ("TRIAL", 0)],
        },
    }
    # token + admins page + one statement for the four assignedCustomers pages + one grouped
    # facets statement for all four = 4 (one per admin would be 2 + 4 + 4 = 10).
    assert api.last_statements == 4
