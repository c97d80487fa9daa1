"""Every request has a cost, computed before it runs; too costly ones and over-budget callers are refused.

Costs are worked out by hand from the weights of ``schema/cost.py``: an object
1, a scan 2,000, a trend point 500, a ``totalCount`` 10, a mutation 100; unbounded
lists count their typical size (a customer's subscriptions 5, trials 5, partner
admins 10; a plan's licences 4; a subscription's invoices and orders 20).
"""

from __future__ import annotations

import math

import httpx
import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, get_introspection_query, get_named_type

from bench import queries
from db.settings import get_settings
from schema.cost import CostModel, Weights
from schema.schema import schema
from server import create_app
from tests.world import TOKENS
from web.ratelimit import Budgets

LIMIT = 50_000
MODEL = CostModel(schema._schema, Weights(), max_tokens=5000)
ATTACK = (
    "{ customers(first:100){ nodes{ partnerAdmins{ assignedCustomers(first:100){ nodes{ partnerAdmins{"
    " assignedCustomers(first:100){ nodes{ statuses products subscriptions{ licenses{ total } } } } } } } } } } }"
)


def cost(query: str, variables: dict | None = None) -> int | None:
    return MODEL.cost(query, variables, None)


def test_objects_multiply_down_the_tree() -> None:
    # connection 1 + totalCount 10 + 3 nodes + 3 × 5 subscriptions = 29
    assert cost("{ customers(first: 3) { totalCount nodes { name subscriptions { subscriptionId } } } }") == 29
    # The page size may come from a variable; default 25 without one: 1 + 25 = 26.
    assert cost("query($n: Int) { customers(first: $n) { nodes { id } } }", {"n": 7}) == 8
    assert cost("{ customers { nodes { id } } }") == 26
    # edges and nodes both hold the page: 1 + 4 edges + 4 edge nodes + 4 nodes = 13.
    assert cost("{ customers(first: 4) { edges { cursor node { id } } nodes { id } } }") == 13
    # Scalars and __typename cost nothing; the viewer is one object.
    assert cost("{ __typename viewer { email role } }") == 1


def test_the_nested_attack_costs_ten_to_the_ninth() -> None:
    # 100 customers × 10 admins × 100 customers × 10 admins × 100 customers at the bottom,
    # each with 5 subscriptions × 4 licences: the bottom level alone is 10^8 × (1 + 5 + 20).
    assert cost(ATTACK) == 2_602_102_101


def test_a_scan_counts_once_per_distinct_arguments() -> None:
    # kpis: one scan (2,000) + its object (1).
    assert cost("{ kpis { totalCustomers } }") == 2_001
    # The same kpis under 30 aliases is one scan; 30 different days are 30 scans.
    same = "{" + " ".join(f"k{i}: kpis {{ totalCustomers }}" for i in range(30)) + "}"
    days = "{" + " ".join(f'k{i}: kpis(asOf: "2026-11-{i + 1:02d}") {{ totalCustomers }}' for i in range(30)) + "}"
    assert cost(same) == 2_030
    assert cost(days) == 60_030
    # A section's KPIs and its totalCount are one statement: analytics 1 + section 1 +
    # rows connection 1 + one KPI scan 2,000 + one rows scan 2,000 = 4,003.
    section = "{ analytics(product: MEETINGS) { expiring { expiringCustomers rows(first: 1) { totalCount } } } }"
    assert cost(section) == 4_003
    # licenseTrend: 500 a point: analytics 1 + 12 points × (1 object + 500) = 6,013.
    assert cost("{ analytics(product: CALLING) { licenseTrend { date total } } }") == 6_013


def test_introspection_costs_what_it_returns() -> None:
    # GraphiQL's full introspection fits the limit three times over (an explorer
    # must always load); 30 aliases of a deep __schema walk (0.43 s of CPU) do not.
    single = cost(get_introspection_query(descriptions=True))
    assert single is not None and 1_000 < single < LIMIT // 3
    # __schema { types { name } }: the schema object and one per type, 3 points each.
    assert cost("{ __schema { types { name } } }") == 3 * (1 + len(schema._schema.type_map))
    deep = "__schema { types { name fields { name args { name type { name ofType { name } } } } } }"
    assert cost("{ " + " ".join(f"a{i}: {deep}" for i in range(30)) + " }") > LIMIT


def _dashboard_overview() -> str:
    """The heaviest page the dashboard loads: every KPI, the trend and every section with a page of rows."""
    analytics = schema._schema.type_map["Analytics"]
    assert isinstance(analytics, GraphQLObjectType)
    parts = []
    for name, field in analytics.fields.items():
        section = get_named_type(field.type)
        if not (isinstance(section, GraphQLObjectType) and section.name.endswith("Section")):
            continue
        kpis = " ".join(n for n, f in section.fields.items() if n != "rows" and not f.args)
        row = get_named_type(section.fields["rows"].type).fields["nodes"].type
        columns = " ".join(n for n, f in get_named_type(row).fields.items() if n != "customer")
        parts.append(
            f"{name} {{ {kpis} rows(first: 10) {{ totalCount pageInfo {{ hasNextPage endCursor }}"
            f" edges {{ cursor node {{ customer {{ id name }} {columns} }} }} }} }}"
        )
    return (
        "{ kpis { asOf totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit }"
        " analytics(product: MEETINGS) { product asOf licenseTrend(weeks: 12) { date total assigned used } "
        + " ".join(parts)
        + " } }"
    )


def _aliased_introspection(times: int) -> str:
    """GraphiQL's full introspection with its ``__schema`` selection under ``times`` aliases."""
    text = get_introspection_query(descriptions=True)
    start = text.index("__schema")
    depth, end = 0, start
    for end in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            break
    block = text[start : end + 1]
    return text[:start] + " ".join(f"s{i}: {block}" for i in range(times)) + text[end + 1 :]


@pytest.mark.parametrize(
    ("name", "query", "variables"),
    [
        ("dashboard overview", _dashboard_overview(), None),
        ("list page of 100", queries.LIST_PAGE, {"first": 100}),
        ("detail", queries.DETAIL, {"id": "x"}),
        ("compare", queries.COMPARE, {"first": 100}),
        ("GraphiQL's introspection", get_introspection_query(descriptions=True), None),
        (
            "README",
            """{ viewer { email role }
                 customers(first: 5, filter: { statuses: [EXPIRING_SOON] }) { totalCount nodes {
                   name statuses products subscriptions { subscriptionId endsOn autoRenew licenses { product total assigned } }
                   trials { trialId endsOn } partnerAdmins { email role } } } }""",
            None,
        ),
    ],
)
def test_what_we_send_ourselves_passes_with_room(name: str, query: str, variables: dict | None) -> None:
    value = cost(query, variables)
    assert value is not None and value <= LIMIT * 2 // 3, (name, value)


# ---------------------------------------------------------------- over HTTP


async def test_too_costly_requests_are_refused_before_any_sql(api, world) -> None:
    trend = (
        "{"
        + " ".join(
            f'a{i}: analytics(product: MEETINGS, asOf: "2026-10-{i + 1:02d}") {{ licenseTrend(weeks: 52) {{ total }} }}'
            for i in range(30)
        )
        + "}"
    )
    kpis = "{" + " ".join(f'k{i}: kpis(asOf: "2026-11-{i + 1:02d}") {{ totalCustomers }}' for i in range(30)) + "}"
    introspection = _aliased_introspection(30)
    for query, token in (
        (ATTACK, TOKENS["sally"]),
        (trend, TOKENS["ana"]),
        (kpis, TOKENS["ana"]),
        (introspection, None),
    ):
        response = await api.post(query, token=token)
        assert response.status_code == 400, response.text[:300]
        assert response.headers["x-sql-statements"] == "0"  # not even the token look-up ran
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["extensions"]["limit"] == LIMIT and error["extensions"]["cost"] > LIMIT


async def test_every_answer_carries_its_cost(api, world) -> None:
    body = await api(
        "{ customers(first: 3) { totalCount nodes { name subscriptions { subscriptionId } } } }", token=TOKENS["ana"]
    )
    assert body.get("errors") is None
    # 29 as worked out above; the budget (250,000) refills at once in tests.
    assert api.last_cost == {"requested": 29, "limit": LIMIT, "remaining": 250_000 - 29}
    # A request error (validation) carries it too: the unknown field costs nothing.
    response = await api.post("{ viewer { nope } }", token=TOKENS["ana"])
    assert response.json()["extensions"]["cost"] == {"requested": 1, "limit": LIMIT, "remaining": 250_000 - 1}


@pytest.fixture
async def tight_api(engine, world):
    """The app with a budget of 100 points refilled at 10 a second (and requests of at most 100)."""
    settings = get_settings().replace(max_cost=100, cost_budget=100, cost_refill_per_second=10.0)
    app = create_app(engine=engine, settings=settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client


async def test_a_caller_over_its_budget_gets_429_with_retry_after(tight_api) -> None:
    # A token's first request is paid by the client's address (the token is not
    # yet known valid): { viewer { email } } costs 1, the address keeps 99.
    ana = {"Authorization": f"Bearer {TOKENS['ana']}"}
    warm = await tight_api.post("/graphql", json={"query": "{ viewer { email } }"}, headers=ana)
    assert warm.json()["extensions"]["cost"]["remaining"] == 99
    # From now on ana's token pays: 1 + 59 nodes = 60 points: the first fits
    # (100 → 40), the second does not: it waits for (60 − 40) / 10 per second = 2 s.
    query = {"query": "{ customers(first: 59) { nodes { id } } }"}
    first = await tight_api.post("/graphql", json=query, headers=ana)
    assert first.status_code == 200 and first.json()["extensions"]["cost"]["remaining"] == 40
    second = await tight_api.post("/graphql", json=query, headers=ana)
    assert second.status_code == 429
    assert second.headers["retry-after"] == "2"
    assert second.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert second.headers["x-sql-statements"] == "0"
    # Another caller has its own budget (its first request paid by the address,
    # which holds 99 plus what refilled meanwhile).
    other = await tight_api.post("/graphql", json=query, headers={"Authorization": f"Bearer {TOKENS['rita']}"})
    assert other.status_code == 200


async def test_made_up_tokens_share_their_address_budget(tight_api) -> None:
    # Every new random token would otherwise bring a fresh budget of its own.
    query = {"query": "{ customers(first: 59) { nodes { id } } }"}
    statuses = [
        (await tight_api.post("/graphql", json=query, headers={"Authorization": f"Bearer ph_made_up_{i}"})).status_code
        for i in range(2)
    ]
    # The first is admitted on the address's budget (100 → 40) and then refused
    # as an unknown token; the second cannot be paid for.
    assert statuses == [401, 429]


async def test_refused_queries_cost_a_tenth_of_the_limit(tight_api) -> None:
    # first: 100 costs 101 > 100: refused, and charged 100 // 10 = 10 to the address.
    ana = {"Authorization": f"Bearer {TOKENS['ana']}"}
    too_big = {"query": "{ customers(first: 100) { nodes { id } } }"}
    codes = []
    for _ in range(11):
        r = await tight_api.post("/graphql", json=too_big, headers=ana)
        codes.append(r.json()["errors"][0]["extensions"]["code"])
    # 100 points pay for ten refusals; the eleventh waits.
    assert codes == ["QUERY_TOO_COMPLEX"] * 10 + ["RATE_LIMITED"]


async def test_unauthenticated_introspection_is_budgeted_by_address(tight_api) -> None:
    # (__schema 1 + queryType 1 + __type 1 + its fields: the schema's fields of
    # object types per type) × 3 points per introspection object.
    types = schema._schema.type_map.values()
    fields = sum(len(t.fields) for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType))
    each = math.ceil(3 * (3 + fields / len(types)))
    fits = 100 // each
    query = {"query": '{ __schema { queryType { name } } __type(name: "Customer") { fields { name } } }'}
    codes = [(await tight_api.post("/graphql", json=query)).status_code for _ in range(fits + 1)]
    assert codes == [200] * fits + [429]  # no token: charged to the client's address


def test_budget_refills_over_time_and_forgets_idle_callers() -> None:
    now = [0.0]
    budgets = Budgets(capacity=100, refill_per_second=10, max_callers=2, clock=lambda: now[0])
    assert budgets.charge("a", 70).remaining == 30
    refused = budgets.charge("a", 70)
    assert (refused.allowed, refused.retry_after) == (False, 4)  # (70 − 30) / 10
    now[0] = 4.0
    assert budgets.charge("a", 70).allowed  # 30 + 40 = 70 held
    budgets.charge("b", 1)
    budgets.charge("c", 1)  # three callers, two kept: "a" (least recent) is dropped, and comes back full
    assert budgets.charge("a", 100).allowed


def test_kpis_changed_weighs_the_scan_it_makes_per_event() -> None:
    # Each event re-reads the summary KPIs: one scan (2,000) + the summary object (1) = 2,001,
    # as much as the `kpis` query it repeats.
    assert cost("subscription { kpisChanged { totalCustomers } }") == 2_001
    assert cost("{ kpis { totalCustomers } }") == 2_001


def test_kpis_of_one_product_is_a_scan_of_its_own() -> None:
    # kpis(product:) is the same one-statement scan over fewer lines: 2,000 + 1, as is
    # kpisChanged(product:) per event.
    assert cost("{ kpis(product: CALLING) { totalCustomers } }") == 2_001
    assert cost("subscription { kpisChanged(product: CALLING) { totalCustomers } }") == 2_001
    assert cost("query($p: KpiProduct) { kpis(product: $p) { totalCustomers } }", {"p": "MEETINGS"}) == 2_001
    # Both products, CALLING and MEETINGS are three statements: 3 × 2,000 + 3 objects; the
    # same product twice is one scan: 2 × 2,000 + 3.
    three = (
        "{ a: kpis { totalCustomers } c: kpis(product: CALLING) { expiring } m: kpis(product: MEETINGS) { renewing } }"
    )
    assert cost(three) == 6_003
    twice = (
        "{ a: kpis { totalCustomers } c: kpis(product: CALLING) { expiring } d: kpis(product: CALLING) { renewing } }"
    )
    assert cost(twice) == 4_003
