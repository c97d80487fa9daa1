"""GraphQL-over-HTTP behaviour of /graphql, health endpoints and error masking."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from db.settings import get_settings
from server import create_app
from tests.world import TOKENS
from web.metrics import OperationLabels, dashboard_operations
from web.protocol import negotiate

AUTH = {"Authorization": f"Bearer {TOKENS['ana']}"}
GQL = "application/graphql-response+json"


@pytest.fixture
def client(api):
    return api.client


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),  # legacy client
        ("application/json", "application/json"),
        (GQL, GQL),
        ("*/*", "application/json"),  # graphql-http audit: SHOULD be application/json
        ("application/*;q=0.9", "application/json"),
        (f"{GQL};q=0.5, */*", "application/json"),  # the wildcard's higher q wins
        (f"*/*, {GQL}", GQL),  # same q: the named type beats the wildcard
        ("application/json, application/graphql-response+json", GQL),  # tie → the new type
        ("application/json;q=1, application/graphql-response+json;q=0.5", "application/json"),
        ("application/graphql-response+json;q=0, application/json", "application/json"),
        ("text/plain", None),
    ],
)
def test_accept_negotiation(accept, expected):
    assert negotiate(accept) == expected


async def test_media_type_follows_accept(client, world):
    body = {"query": "{ viewer { email } }"}
    r = await client.post("/graphql", json=body, headers={**AUTH, "Accept": "application/json"})
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json; charset=utf-8")
    r = await client.post("/graphql", json=body, headers={**AUTH, "Accept": GQL})
    assert (r.status_code, r.headers["content-type"]) == (200, f"{GQL}; charset=utf-8")
    # Cost: one object (viewer); the budget of 250,000 keeps 249,999.
    cost = {"requested": 1, "limit": 50_000, "remaining": 249_999}
    assert r.json() == {"data": {"viewer": {"email": "ana@p1.example"}}, "extensions": {"cost": cost}}
    r = await client.post("/graphql", json=body, headers={**AUTH, "Accept": "text/plain"})
    assert r.status_code == 406


async def test_request_errors_are_400_without_data_under_the_new_media_type(client, world):
    body = {"query": "{ viewer { nope } }"}
    r = await client.post("/graphql", json=body, headers={**AUTH, "Accept": GQL})
    assert r.status_code == 400
    assert "data" not in r.json() and r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    r = await client.post("/graphql", json=body, headers={**AUTH, "Accept": "application/json"})
    assert r.status_code == 200  # legacy media type: 200 for every well-formed request
    assert "data" not in r.json()


async def test_field_errors_keep_data_and_200(client, world):
    # `customer` is nullable: a bad page size inside a field error would null `customers`; use
    # the history bound (resolver-checked too) on a nullable parent instead.
    r = await client.post(
        "/graphql", json={"query": '{ viewer { email } node(id: "x") { id } }'}, headers={**AUTH, "Accept": GQL}
    )
    cost = {"requested": 2, "limit": 50_000, "remaining": 249_998}  # two objects: viewer, node
    assert (r.status_code, r.json()) == (
        200,
        {"data": {"viewer": {"email": "ana@p1.example"}, "node": None}, "extensions": {"cost": cost}},
    )


async def test_get_queries_and_no_mutations_over_get(client, world):
    r = await client.get(
        "/graphql",
        params={"query": "query Q($n: Int) { customers(first: $n) { totalCount } }", "variables": json.dumps({"n": 2})},
        headers=AUTH,
    )
    # The connection object (1) and its totalCount (10).
    cost = {"requested": 11, "limit": 50_000, "remaining": 249_989}
    assert (r.status_code, r.json()) == (200, {"data": {"customers": {"totalCount": 7}}, "extensions": {"cost": cost}})
    r = await client.get("/graphql", params={"query": "mutation { __typename }"}, headers=AUTH)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = await client.get("/graphql", params={"query": "{ viewer { email } }", "variables": "{not json"}, headers=AUTH)
    assert r.status_code == 400 and r.json()["errors"][0]["message"] == "`variables` is not valid JSON."


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (
            b'{"query": "{ viewer { email } }"}',
            "text/plain",
            415,
            "Send the request as `Content-Type: application/json`.",
        ),
        (b"{not json", "application/json", 400, "The request body is not valid JSON."),
        (
            b'[{"query": "{ viewer { email } }"}]',
            "application/json",
            400,
            "Batched requests are not supported; send one operation per request.",
        ),
        (b'{"variables": {}}', "application/json", 400, "The request has no `query` string."),
        (
            b'{"query": "{ viewer { email } }", "variables": [1]}',
            "application/json",
            400,
            "`variables` must be a JSON object.",
        ),
        # graphql-http audit 58B0–58B3: extensions that are not an object are refused.
        *(
            (
                b'{"query": "{ viewer { email } }", "extensions": ' + bad + b"}",
                "application/json",
                400,
                "`extensions` must be a JSON object.",
            )
            for bad in (b'"x"', b"1", b"true", b"[]")
        ),
        (
            b'{"query": "{ viewer { email } }", "operationName": 5}',
            "application/json",
            400,
            "`operationName` must be a string.",
        ),
    ],
)
async def test_malformed_requests(client, world, content, content_type, status, message):
    r = await client.post("/graphql", content=content, headers={**AUTH, "Content-Type": content_type})
    assert r.status_code == status
    assert r.json()["errors"][0]["message"] == message


async def test_body_size_limit(client, world, monkeypatch):
    big = {"query": "{ viewer { email } }", "variables": {"pad": "x" * 1_000_001}}
    r = await client.post("/graphql", json=big, headers=AUTH)
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_unknown_operation_name(client, world):
    r = await client.post(
        "/graphql", json={"query": "query A { viewer { email } }", "operationName": "B"}, headers=AUTH
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"] == 'Unknown operation named "B".'


async def test_graphiql_for_browsers(client):
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()


async def test_health(client):
    assert (await client.get("/healthz")).text == "ok"
    r = await client.get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})


async def test_unexpected_exceptions_are_masked(client, world, monkeypatch, caplog):
    from loaders import StatusesByCustomerLoader

    async def boom(self, keys):
        raise RuntimeError("secret internals: SELECT * FROM customer")

    monkeypatch.setattr(StatusesByCustomerLoader, "batch_load_fn", boom)
    r = await client.post(
        "/graphql", json={"query": "{ customers(first: 1) { nodes { name statuses } } }"}, headers=AUTH
    )
    assert r.status_code == 200
    body = r.json()
    assert body["errors"] == [
        {
            "message": "Internal server error.",
            "locations": [{"line": 1, "column": 38}],
            "path": ["customers", "nodes", 0, "statuses"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    assert "secret" not in r.text and "SELECT" not in r.text


METRICS_TOKEN = "metrics-token-0123456789"


@pytest.fixture
async def metrics_client(engine):
    app = create_app(engine=engine, settings=get_settings().replace(metrics_token=METRICS_TOKEN))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client


async def test_metrics_count_requests_errors_and_statements(metrics_client, world):
    client = metrics_client
    await client.post(
        "/graphql",
        json={"query": "query ListMetrics { viewer { email } }", "operationName": "ListMetrics"},
        headers=AUTH,
    )
    await client.post("/graphql", json={"query": "query ListMetrics { viewer { nope } }"}, headers=AUTH)
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    assert 'partnerhub_requests_total{operation="ListMetrics",status="200"} 1.0' in text
    # the second request names no operation in `operationName`: counted as anonymous, status 400
    assert 'partnerhub_requests_total{operation="anonymous",status="400"}' in text
    assert 'partnerhub_errors_total{code="GRAPHQL_VALIDATION_FAILED"}' in text
    assert "partnerhub_request_seconds_bucket" in text and "partnerhub_db_pool_checked_out" in text


async def test_metrics_need_the_metrics_token(client, metrics_client, world):
    # Without PARTNERHUB_METRICS_TOKEN the endpoint does not exist.
    assert (await client.get("/metrics")).status_code == 404
    # With it: no token, an API token, or a wrong one are 401; only the metrics token reads.
    for headers in ({}, AUTH, {"Authorization": f"Bearer {METRICS_TOKEN}x"}, {"Authorization": METRICS_TOKEN}):
        r = await metrics_client.get("/metrics", headers=headers)
        assert (r.status_code, r.headers.get("www-authenticate")) == (401, "Bearer")
        assert "partnerhub_" not in r.text
    r = await metrics_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200 and "partnerhub_requests_total" in r.text


def test_operation_labels_stay_bounded_and_junk_cannot_take_them():
    labels = OperationLabels({"Customers", "Kpis"}, limit=2)
    assert labels.label(None, authenticated=True) == "anonymous"
    # Names that are no names, and any name without a valid token, count as other and take no slot.
    assert labels.label("drop table; --", authenticated=True) == "other"
    assert labels.label("x" * 65, authenticated=True) == "other"
    assert [labels.label(f"Junk{i}", authenticated=False) for i in range(500)] == ["other"] * 500
    assert labels.learned == set()
    # With a token: two names learned (the limit), the third is other; the first two keep their labels.
    assert [labels.label(n, authenticated=True) for n in ("Mine", "Yours", "Third")] == ["Mine", "Yours", "other"]
    assert labels.label("Mine", authenticated=False) == "Mine"
    # The dashboard's operations keep theirs whatever came before, with or without a token.
    assert labels.label("Customers", authenticated=False) == "Customers"


def test_every_dashboard_operation_has_a_label():
    # documents.js declares 36 operations: Features, Viewer, Kpis, Analytics, 5 sections × (Rows,
    # RowsOrdered), Customers and Customer (each also WithStatusDetails), AssignableAdmins,
    # PartnerAdmins, AuditLog, the 10 mutations and the 5 live subscriptions (LiveCustomers,
    # LiveCustomer, LiveKpis, LiveAudit, LiveAdmins): 4 + 10 + 4 + 3 + 10 + 5 = 36.
    names = dashboard_operations()
    assert len(names) == 36
    assert {"Features", "Viewer", "Customers", "AuditLog", "RemovePartnerAdmin", "LiveCustomers"} <= names


async def test_junk_operation_names_do_not_evict_real_ones(metrics_client, world):
    client = metrics_client
    # 201 junk names without a token are refused (401) and counted as other.
    for i in range(201):
        r = await client.post(
            "/graphql", json={"query": f"query J{i} {{ viewer {{ email }} }}", "operationName": f"J{i}"}
        )
        assert r.status_code == 401
    r = await client.post("/graphql", json={"query": "query Viewer { viewer { email } }"}, headers=AUTH)
    await client.post(
        "/graphql", json={"query": "query Viewer { viewer { email } }", "operationName": "Viewer"}, headers=AUTH
    )
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    assert 'operation="J0"' not in text and 'operation="J200"' not in text
    assert 'partnerhub_requests_total{operation="Viewer",status="200"}' in text


async def test_one_json_log_line_per_request_without_the_token(client, world, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="partnerhub.request")
    await client.post("/graphql", json={"query": "query Me { viewer { email } }", "operationName": "Me"}, headers=AUTH)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "partnerhub.request"]
    assert len(lines) == 1
    line = lines[0]
    # token lookup + viewer's admin row = 2 statements
    assert {k: line[k] for k in ("operation", "caller", "status", "sql")} == {
        "operation": "Me",
        "caller": "ana@p1.example",
        "status": 200,
        "sql": 2,
    }
    assert TOKENS["ana"] not in caplog.text


def test_readme_error_table_names_every_code_the_server_sends():
    # Codes are string literals on lines that mention a code (extensions, error_body, RequestError,
    # classify's assignments) in the HTTP, schema and resolver layers; mutation payload codes
    # (UserErrorCode) are not GraphQL errors and live in schema/mutations.py.
    root = Path(__file__).resolve().parent.parent
    sources = [p for layer in ("web", "schema", "resolvers") for p in (root / layer).glob("*.py")]
    found = set()
    for path in sources:
        if path.name.startswith("mutations"):
            continue
        for line in path.read_text().splitlines():
            if re.search(r"code|error_body\(|RequestError\(", line, re.I):
                found |= set(re.findall(r'"([A-Z][A-Z_]{3,})"', line))
    found -= {"UNKNOWN"}  # the metrics label of an error without a code, never sent
    readme = (root / "README.md").read_text().split("## Errors", 1)[1]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \| ", readme, re.M))
    assert found <= documented, found - documented
    must = {"METHOD_NOT_ALLOWED", "BAD_REQUEST", "RATE_LIMITED", "QUERY_TOO_COMPLEX", "UNAUTHENTICATED"}
    assert must | {"FORBIDDEN", "BAD_USER_INPUT", "QUERY_TIMEOUT", "SERVICE_UNAVAILABLE"} <= found
