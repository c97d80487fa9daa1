"""Execution plans (schema/compiled.py) answer byte for byte like the normal executor, and step aside otherwise.

Every request runs twice on the same app: once with plans off (the normal
fast executor) and once with the document planned; the status, the body
bytes and the SQL statement count must be the same, and the plan must have
answered (or, for the documents it must not take, never have).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import queries
from schema.compiled import Plans
from tests.world import TOKENS

ANA, SAM, OSCAR = TOKENS["ana"], TOKENS["sam"], TOKENS["oscar"]

# Documents a plan takes: plain fields, relations, connections' edges, pageInfo and totalCount, aliases, __typename.
CONNECTION = """query($first: Int, $after: String) { customers(first: $first, after: $after) {
    __typename totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { __typename id n: name statuses products
      trials { trialId status startsOn endsOn daysRemaining licenses { product total assigned assignmentRate } }
      partnerAdmins { email role hasAccessToAllCustomers } } } } }"""
VIEWER = "{ viewer { id email displayName role hasAccessToAllCustomers } }"
DETAIL_NO_HISTORY = """query($id: ID!) { customer(id: $id) { id name statuses
    subscriptions { subscriptionId status renewalDate customer { name } invoices { number amount status issuedOn }
                    orders { number action product quantity } } } }"""

# Documents a plan must not take (each for its own reason).
NOT_PLANNED = {
    "fragment": "{ customers(first: 3) { nodes { ...C } } } fragment C on Customer { name }",
    "inline_fragment": "{ customers(first: 3) { nodes { ... on Customer { name } } } }",
    "include": "query($t: Boolean!) { customers(first: 3) { nodes { name @include(if: $t) } } }",
    "two_roots": "{ customers(first: 1) { nodes { name } } viewer { email } }",
    "root_typename": "{ __typename customers(first: 1) { nodes { name } } }",
    "argument_below_root": "{ customers(first: 2) { nodes { partnerAdmins { assignedCustomers(first: 1) { totalCount } } } } }",
    "resolver_with_argument": "{ customers(first: 2) { nodes { subscriptions { licenses { history(weeks: 2) { date } } } } } }",
    "facets": "{ customers(first: 2) { facets { statuses { value count } } } }",
    "same_name_twice": "{ customers(first: 2) { nodes { name } nodes { id } } }",
    "abstract_type": "query($id: ID!) { node(id: $id) { id } }",
}


def _endpoint(app: Any) -> Any:
    return next(route.app for route in app.routes if getattr(route, "path", None) == "/graphql")


async def _answer(api: Any, query: str, variables: dict | None, token: str | None) -> tuple[int, bytes, str | None]:
    response = await api.post(query, variables, token=token)
    return response.status_code, response.content, response.headers.get("x-sql-statements")


async def _without_plans(api: Any, query: str, variables: dict | None, token: str | None):
    """The answer of the normal executor (plans switched off for this one request)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Plans, "enabled", property(lambda self: False))
        return await _answer(api, query, variables, token)


async def _normal_then_planned(api: Any, query: str, variables: dict | None, token: str | None):
    """``(normal answer, planned answer, plans)``: first with plans off, then learned and answered by the plan."""
    plans: Plans = _endpoint(api.app).plans
    normal = await _without_plans(api, query, variables, token)
    await _answer(api, query, variables, token)  # learns the plan (if it had none yet)
    runs = plans.runs
    planned = await _answer(api, query, variables, token)
    return normal, planned, plans.runs - runs


@pytest.mark.parametrize(
    ("name", "query", "variables", "token"),
    [
        ("compare", queries.COMPARE, {"first": 50}, ANA),
        ("list_page", queries.LIST_PAGE, {"first": 50}, ANA),
        ("list_page_sales", queries.LIST_PAGE, {"first": 3}, SAM),
        ("list_filtered", queries.LIST_PAGE, {"first": 2, "filter": {"statuses": ["EXPIRING_SOON", "TRIAL"]}}, ANA),
        ("connection", CONNECTION, {"first": 3}, ANA),
        ("connection_last_page", CONNECTION, {"first": 100}, SAM),
        ("viewer", VIEWER, None, SAM),
        ("detail", DETAIL_NO_HISTORY, "Alpha", ANA),
        ("detail_invisible", DETAIL_NO_HISTORY, "Alpha", OSCAR),
    ],
)
async def test_planned_documents_answer_like_the_executor(api, world, name, query, variables, token):
    if isinstance(variables, str):
        variables = {"id": world.gid("Customer", variables)}
    normal, planned, runs = await _normal_then_planned(api, query, variables, token)
    assert planned == normal, name
    assert normal[0] == 200 and b'"errors"' not in normal[1], normal
    if name == "detail_invisible":
        # oscar (the other partner) does not see Alpha: customer is null (nullable root), as the plan answers it.
        assert json.loads(normal[1])["data"] == {"customer": None}
    assert runs == 1, name


async def test_hand_checked_values_of_a_planned_page(api, world) -> None:
    """The planned connection as worked out from tests/world.py, for two viewers of one plan."""
    await api(CONNECTION, {"first": 3}, token=ANA)  # learns the plan
    plans = _endpoint(api.app).plans
    runs = plans.runs
    ana = (await api(CONNECTION, {"first": 3}, token=ANA))["data"]["customers"]
    sam = (await api(CONNECTION, {"first": 3}, token=SAM))["data"]["customers"]
    assert plans.runs == runs + 2
    # acme has 7 customers; in name order Alpha, Beta, Čačak Telekom, Delta, … — the first 3 of them.
    assert ana["totalCount"] == 7
    assert [e["node"]["n"] for e in ana["edges"]] == ["Alpha", "Beta", "Čačak Telekom"]
    assert ana["pageInfo"]["hasNextPage"] is True and ana["pageInfo"]["hasPreviousPage"] is False
    assert ana["pageInfo"]["endCursor"] == ana["edges"][2]["cursor"]
    assert ana["__typename"] == "CustomerConnection" and ana["edges"][0]["node"]["__typename"] == "Customer"
    # Alpha: EXPIRING_SOON and SUBSCRIPTION (tests/world.py); Beta: LICENSE_OVERAGE, NO_RECENT_ACTIVITY, SUBSCRIPTION.
    assert ana["edges"][0]["node"]["statuses"] == ["EXPIRING_SOON", "SUBSCRIPTION"]
    assert ana["edges"][1]["node"]["statuses"] == ["LICENSE_OVERAGE", "NO_RECENT_ACTIVITY", "SUBSCRIPTION"]
    # The same plan for sam (sales, assigned Alpha and gamma) answers sam's customers only.
    assert sam["totalCount"] == 2
    assert [e["node"]["n"] for e in sam["edges"]] == ["Alpha", "gamma"]
    assert sam["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("name", sorted(NOT_PLANNED))
async def test_documents_the_plan_does_not_handle_run_normally(api, world, name) -> None:
    query = NOT_PLANNED[name]
    variables = {"t": True} if "$t" in query else ({"id": world.gid("Customer", "Alpha")} if "$id" in query else None)
    normal, planned, runs = await _normal_then_planned(api, query, variables, ANA)
    assert planned == normal
    assert runs == 0
    plans = _endpoint(api.app).plans
    assert plans.known(query, None)  # looked at once, found not plannable, not looked at again


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"first": 500}, "BAD_USER_INPUT"),  # bound: 1..100
        ({"first": 0}, "BAD_USER_INPUT"),  # just below the lower bound
        ({"first": 2, "after": "nonsense"}, "BAD_USER_INPUT"),  # not a cursor
        ({"first": "two"}, "BAD_USER_INPUT"),  # does not coerce to Int
    ],
)
async def test_a_planned_document_with_bad_input_steps_aside(api, world, variables, code) -> None:
    """The plan never writes an error: the normal executor answers, exactly as without plans."""
    plans = _endpoint(api.app).plans
    await api(CONNECTION, {"first": 1}, token=ANA)  # learns the plan
    assert plans.known(CONNECTION, None)
    normal = await _without_plans(api, CONNECTION, variables, ANA)
    fallbacks, runs = plans.fallbacks, plans.runs
    planned = await _answer(api, CONNECTION, variables, ANA)
    assert planned == normal
    assert code in normal[1].decode()
    assert plans.runs == runs
    # Variables that do not coerce, or a bound graphql-core refuses, never reach the plan's
    # resolver call; every case here is a plan that stepped aside, once.
    assert plans.fallbacks == fallbacks + 1


async def test_first_at_the_upper_bound_is_planned(api, world) -> None:
    """first: 100 (the largest page) runs by the plan; acme's 7 customers all fit."""
    await api(CONNECTION, {"first": 1}, token=ANA)
    plans = _endpoint(api.app).plans
    runs = plans.runs
    body = await api(CONNECTION, {"first": 100}, token=ANA)
    assert plans.runs == runs + 1
    assert len(body["data"]["customers"]["edges"]) == 7


async def test_failed_batch_in_a_plan_falls_back_to_the_executor(api, world, monkeypatch) -> None:
    """A relation batch that fails under the plan: the executor runs the request and reports as it always does."""
    from loaders import _Loader

    expected = await _answer(api, queries.LIST_PAGE, {"first": 50}, ANA)  # also learns the plan
    plans = _endpoint(api.app).plans
    original = _Loader.load_now
    failed: list[str] = []

    async def fail_once(self, keys):
        if not failed:
            failed.append(type(self).__name__)
            raise RuntimeError("batch lost")
        return await original(self, keys)

    monkeypatch.setattr(_Loader, "load_now", fail_once)
    fallbacks = plans.fallbacks
    response = await api.post(queries.LIST_PAGE, {"first": 50}, token=ANA)
    assert failed and plans.fallbacks == fallbacks + 1
    assert response.content == expected[1]


def test_the_plan_cache_is_bounded_least_recently_used_first() -> None:

    from schema.schema import schema

    plans = Plans(schema, size=2)
    documents = [f"{{ viewer {{ {field} }} }}" for field in ("email", "role", "id")]
    plans.learn(documents[0], None)
    plans.learn(documents[1], None)
    assert len(plans) == 2
    plans.learn(documents[2], None)
    # Size 2: the third document pushes out the first (least recently used).
    assert len(plans) == 2
    assert not plans.known(documents[0], None)
    assert plans.known(documents[1], None) and plans.known(documents[2], None)


def test_an_operation_name_that_does_not_match_is_not_planned() -> None:

    from schema.schema import schema

    query = "query A { viewer { email } }"
    plans = Plans(schema)
    plans.learn(query, "B")
    plans.learn(query, "A")
    plans.learn(query, None)
    assert plans._plans[(query, "B")] is not plans._plans[(query, "A")]
    assert type(plans._plans[(query, "A")]).__name__ == "_Plan"
    assert type(plans._plans[(query, None)]).__name__ == "_Plan"
    assert type(plans._plans[(query, "B")]).__name__ != "_Plan"


# ---------------------------------------------------------------- cursors and primed customers on demand


def test_cursors_are_encoded_when_read_and_read_like_a_list() -> None:
    from resolvers.pagination import Cursors

    encoded: list[int] = []

    def encode(row: int) -> str:
        encoded.append(row)
        return f"c{row}"

    cursors = Cursors([10, 11, 12], encode)
    assert len(cursors) == 3 and bool(cursors) and encoded == []
    # First and last (what pageInfo reads): two encodings, the middle one untouched.
    assert cursors[0] == "c10" and cursors[-1] == "c12"
    assert encoded == [10, 12]
    assert cursors[-1] == "c12" and encoded == [10, 12]  # remembered, not encoded again
    assert list(cursors) == ["c10", "c11", "c12"] and encoded == [10, 12, 11]
    assert cursors[1:] == ["c11", "c12"]
    assert cursors == ["c10", "c11", "c12"]
    with pytest.raises(IndexError):
        cursors[3]  # one past the end
    with pytest.raises(IndexError):
        cursors[-4]
    assert not Cursors([], encode)


async def test_a_page_without_edges_encodes_only_the_cursors_it_shows(api, world, monkeypatch) -> None:
    import resolvers.pagination as pagination

    calls: list[str] = []
    original = pagination.encode_cursor

    def counting(kind, values):
        calls.append(kind)
        return original(kind, values)

    monkeypatch.setattr(pagination, "encode_cursor", counting)
    for planned in (False, True):  # the first request learns the plan, the second runs it
        calls.clear()
        await api("{ customers(first: 5) { nodes { name } } }", token=ANA)
        # nodes only: none (pageInfo's cursors are encoded when selected; before: 2, the first and last).
        assert len(calls) == 0, planned
        calls.clear()
        body = await api("{ customers(first: 5) { pageInfo { endCursor } nodes { name } } }", token=ANA)
        # endCursor only: the last row's, 1 (before: 2).
        assert len(calls) == 1, planned
        calls.clear()
        both = await api("{ customers(first: 5) { pageInfo { startCursor endCursor } } }", token=ANA)
        assert len(calls) == 2, planned
        calls.clear()
        edges = await api("{ customers(first: 5) { edges { cursor } } }", token=ANA)
        # The 5 rows once each: 5 for 5 rows, none twice.
        assert len(calls) == 5, planned
        calls.clear()
        everything = await api(
            "{ customers(first: 5) { pageInfo { startCursor endCursor } edges { cursor } } }", token=ANA
        )
        # pageInfo's 2, then the 3 rows between them: still 5, none encoded twice.
        assert len(calls) == 5, planned
        cursors = [edge["cursor"] for edge in edges["data"]["customers"]["edges"]]
        assert both["data"]["customers"]["pageInfo"] == {"startCursor": cursors[0], "endCursor": cursors[-1]}
        assert everything["data"]["customers"]["pageInfo"] == both["data"]["customers"]["pageInfo"]
        assert [edge["cursor"] for edge in everything["data"]["customers"]["edges"]] == cursors
        empty = await api(
            '{ customers(first: 5, filter: {search: "no such customer zzz"}) { pageInfo { startCursor endCursor } } }',
            token=ANA,
        )
        assert empty["data"]["customers"]["pageInfo"] == {"startCursor": None, "endCursor": None}
        assert edges["data"]["customers"]["edges"][-1]["cursor"] == body["data"]["customers"]["pageInfo"]["endCursor"]


async def test_a_pages_customers_answer_their_plans_customer_without_sql(api, world) -> None:
    """customer_by_id is primed with the page's records when first used: `customer` below a plan asks no SQL."""
    without = "{ customers(first: 7) { nodes { name subscriptions { subscriptionId } } } }"
    with_customer = "{ customers(first: 7) { nodes { name subscriptions { subscriptionId customer { name } } } } }"
    for _ in range(2):  # learned, then planned
        await api(without, token=ANA)
        plain = api.last_statements
        body = await api(with_customer, token=ANA)
        assert api.last_statements == plain  # no statement for the customers: all primed
        for node in body["data"]["customers"]["nodes"]:
            assert all(s["customer"]["name"] == node["name"] for s in node["subscriptions"])


async def test_pending_primes_are_dropped_by_clear_all(session, world) -> None:
    from types import SimpleNamespace

    from db.settings import get_settings, today
    from resolvers.context import Context
    from tests.test_fast_execution import _ana

    loaders = Context.create(
        session=session, viewer=await _ana(session, world), today=today(), settings=get_settings()
    ).loaders
    alpha = world.customers["Alpha"]
    loaders.prime_customers([SimpleNamespace(id=alpha, name="stale")])
    assert "customer_by_id" not in vars(loaders)  # kept, no loader created yet
    loaders.clear_all()  # a mutation changed the data: the kept records are forgotten too
    assert (await loaders.customer_by_id.load(alpha)).name == "Alpha"  # from the database
    loaders.prime_customers([SimpleNamespace(id=alpha, name="later")])
    # Primed after creation, as DataLoader.prime does: an entry already there is kept.
    assert (await loaders.customer_by_id.load(alpha)).name == "Alpha"
    other = Context.create(
        session=session, viewer=await _ana(session, world), today=today(), settings=get_settings()
    ).loaders
    other.prime_customers([SimpleNamespace(id=alpha, name="primed")])
    # Primed before creation: the loader starts with it and asks no SQL for it.
    assert (await other.customer_by_id.load(alpha)).name == "primed"
