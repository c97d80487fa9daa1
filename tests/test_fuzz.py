"""Property-based hostile input: random valid queries from our own schema, every role.

Whatever the query and its values, the server never answers 5xx, never shows
a traceback or SQL, never reports an internal error, and never shows one
partner's customers to another partner's admins. FUZZ_EXAMPLES raises the
number of examples per role (default 150; CI runs 150 × 5 roles).
"""

from __future__ import annotations

import os

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries
from starlette.testclient import TestClient

from db.settings import get_settings
from schema.schema import schema
from server import create_app
from tests.world import TOKENS, world_in_sqlite_copy

# Hundreds of generated queries per role: a few seconds each, outside the fast loop.
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
ACME_ONLY = ("Alpha", "Beta", "Delta", "Epsilon", "Zeta", "Čačak", 'Sub-A"', "Trial-G")
OTHER_ONLY = ("Aardvark", "Sub-A-other")
FORBIDDEN_TEXT = ("Traceback", "SELECT ", "sqlalchemy", "asyncpg", "sqlite3", "INTERNAL_SERVER_ERROR")

SCALARS = {
    "Date": st.dates().map(lambda d: graphql.StringValueNode(value=d.isoformat())),
    "Decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2).map(
        lambda d: graphql.StringValueNode(value=str(d))
    ),
    "DateTime": st.datetimes().map(lambda d: graphql.StringValueNode(value=d.isoformat())),
    "JSON": st.just(graphql.StringValueNode(value="{}")),
}


@pytest.fixture(scope="module")
def client(migrated_database, tmp_path_factory):
    if migrated_database.startswith("postgres"):
        # The properties are about the HTTP layer and scoping, which the SQLite
        # pass covers; on PostgreSQL the thread-hosted TestClient's pool outlived
        # the module once and upset the next test's setup (flaky in CI).
        pytest.skip("hostile-input properties run once, in the SQLite pass")
    url = world_in_sqlite_copy(migrated_database, tmp_path_factory.mktemp("fuzz"))
    app = create_app(settings=get_settings().replace(database_url=url))
    with TestClient(app) as test_client:
        yield test_client


def _check(response, who: str) -> None:
    assert response.status_code < 500, response.text
    text = response.text
    for marker in FORBIDDEN_TEXT:
        assert marker not in text, (marker, text)
    foreign = OTHER_ONLY if who != "oscar" else ACME_ONLY
    for name in foreign:
        assert name not in text, (who, name, text)


SDL = schema.as_str()
QUERY_FIELDS = ["customers", "customer", "node", "viewer", "partnerAdmins"] + [
    f for f in ("kpis", "analytics", "auditLog") if f in schema._schema.query_type.fields
]


@pytest.mark.parametrize("who", ["ana", "rita", "sam", "sally", "oscar"])
def test_random_queries_never_fail_or_leak(client, who):
    headers = {"Authorization": f"Bearer {TOKENS[who]}"}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(query=queries(SDL, fields=QUERY_FIELDS, custom_scalars=SCALARS))
    def run(query: str) -> None:
        _check(client.post("/graphql", json={"query": query}, headers=headers), who)

    run()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_random_bodies_are_refused_cleanly(client, body):
    response = client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKENS['ana']}"},
    )
    _check(response, "ana")
    assert response.headers["content-type"].startswith(("application/json", "application/graphql-response+json"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    variables=st.dictionaries(
        st.sampled_from(["n", "id", "f", "a"]),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_random_variable_values_are_refused_cleanly(client, variables):
    query = (
        "query($n: Int, $id: ID!, $f: CustomerFilter, $a: String) { customers(first: $n, after: $a, filter: $f) "
        "{ totalCount nodes { name } } node(id: $id) { id } }"
    )
    _check(
        client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {TOKENS['sam']}"},
        ),
        "sam",
    )
