"""Trusted documents (SPEC §3.3, web/persisted.py): Automatic Persisted Queries and the allow-list mode."""

from __future__ import annotations

import hashlib

import httpx
import orjson
import pytest

import server
from db.settings import get_settings
from server import create_app
from tests.world import TOKENS
from web import metrics
from web.persisted import (
    DOCUMENTS_JSON,
    TrustedDocuments,
    dashboard_documents,
    documents_json,
    sha256_hex,
)
from web.protocol import GraphQLRequest, RequestError

VIEWER = "{ viewer { email } }"
# printf '%s' '{ viewer { email } }' | sha256sum
VIEWER_HASH = "b71bc3d6471f374e9638bbd045e1184ee0186d8642c3bc2455c4deed64e3614a"
HEADERS = {"Accept": "application/graphql-response+json", "Authorization": f"Bearer {TOKENS['ana']}"}


def persisted(digest: str, version: object = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def post(client, body: dict) -> httpx.Response:
    return await client.post("/graphql", json=body, headers=HEADERS)


async def get(client, extensions: dict, **params: str) -> httpx.Response:
    return await client.get(
        "/graphql", params={"extensions": orjson.dumps(extensions).decode(), **params}, headers=HEADERS
    )


def code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def test_the_hash_is_the_sha256_of_the_text():
    assert sha256_hex(VIEWER) == VIEWER_HASH == hashlib.sha256(VIEWER.encode()).hexdigest()


async def test_apq_over_post_and_get(api, world):
    client = api.client
    unknown = await post(client, {"extensions": persisted(VIEWER_HASH)})
    # Apollo's clients resend with the document on exactly this answer.
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    # Answered while reading the request, like every request error: before any SQL (no statement count).
    assert "x-sql-statements" not in unknown.headers

    registered = await post(client, {"query": VIEWER, "extensions": persisted(VIEWER_HASH)})
    assert registered.json()["data"] == {"viewer": {"email": "ana@p1.example"}}
    by_hash = await post(client, {"extensions": persisted(VIEWER_HASH)})
    assert by_hash.json()["data"] == {"viewer": {"email": "ana@p1.example"}}
    over_get = await get(client, persisted(VIEWER_HASH))
    assert over_get.status_code == 200
    assert over_get.json()["data"] == {"viewer": {"email": "ana@p1.example"}}
    # Upper-case hex names the same document.
    assert (await get(client, persisted(VIEWER_HASH.upper()))).json()["data"] == {"viewer": {"email": "ana@p1.example"}}


async def test_apq_with_variables_and_a_mutation_by_hash_over_get_is_refused(api, world):
    client = api.client
    query = "query Named($first: Int!) { customers(first: $first) { nodes { name } } }"
    digest = sha256_hex(query)
    await post(client, {"query": query, "extensions": persisted(digest), "variables": {"first": 1}})
    response = await get(client, persisted(digest), variables='{"first": 1}')
    assert len(response.json()["data"]["customers"]["nodes"]) == 1
    mutation = 'mutation { startTrial(input: {newCustomer: {name: "X"}, products: [MEETINGS], licenses: 1}) { trial { trialId } } }'
    # Registered by another client's POST (put in the cache directly: that POST would run it).
    mutation_hash = sha256_hex(mutation)
    api.app.routes[0].endpoint.trusted.cache[mutation_hash] = mutation
    assert (await get(client, persisted(mutation_hash))).status_code == 405


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (persisted("0" * 64), "is not the SHA-256 of the `query` sent"),
        (persisted(VIEWER_HASH, version=2), "version` must be 1"),
        (persisted(VIEWER_HASH, version=True), "version` must be 1"),
        (persisted(VIEWER_HASH[:63]), "64 hexadecimal digits"),
        (persisted("g" * 64), "64 hexadecimal digits"),
        ({"persistedQuery": "yes"}, "must be an object"),
    ],
    ids=["mismatch", "version-2", "version-true", "63-digits", "not-hex", "not-object"],
)
async def test_bad_persisted_query_extensions_are_bad_requests(api, world, extensions, message):
    response = await post(api.client, {"query": VIEWER, "extensions": extensions})
    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"
    assert message in response.json()["errors"][0]["message"]
    # Nothing was registered: the hash alone is still unknown.
    assert code(await post(api.client, {"extensions": persisted(VIEWER_HASH)})) == "PERSISTED_QUERY_NOT_FOUND"


def test_the_apq_cache_is_a_bounded_lru():
    trusted = TrustedDocuments(cache_size=2)
    docs = ["{ a }", "{ b }", "{ c }"]

    def send(doc: str | None, digest: str) -> str:
        gql = GraphQLRequest(doc or "", None, None, persisted(digest))
        return trusted.resolve(gql, lambda _q: False).query

    send(docs[0], sha256_hex(docs[0]))
    send(docs[1], sha256_hex(docs[1]))
    assert send(None, sha256_hex(docs[0])) == docs[0]  # a is now the most recently used
    send(docs[2], sha256_hex(docs[2]))  # 3 > 2: b, the least recently used, goes
    assert list(trusted.cache.values()) == [docs[0], docs[2]]
    with pytest.raises(RequestError) as refused:
        send(None, sha256_hex(docs[1]))
    assert refused.value.code == "PERSISTED_QUERY_NOT_FOUND"


@pytest.fixture
async def allow_list(engine):
    app = create_app(engine=engine, settings=get_settings().replace(trusted_documents="allow-list"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client


async def test_allow_list_runs_only_the_dashboards_documents(allow_list, world):
    viewer = dashboard_documents()["Viewer"]
    by_hash = await post(allow_list, {"extensions": persisted(sha256_hex(viewer)), "operationName": "Viewer"})
    assert by_hash.json()["data"]["viewer"]["email"] == "ana@p1.example"
    in_full = await post(allow_list, {"query": viewer})
    assert in_full.json()["data"]["viewer"]["email"] == "ana@p1.example"
    over_get = await get(allow_list, persisted(sha256_hex(viewer)))
    assert over_get.json()["data"]["viewer"]["email"] == "ana@p1.example"

    for body in (
        {"query": VIEWER},
        {"query": VIEWER, "extensions": persisted(VIEWER_HASH)},
        {"query": 'mutation { cancelTrial(input: {trialId: "x"}) { userErrors { code } } }'},
    ):
        refused = await post(allow_list, body)
        assert refused.status_code == 400
        assert code(refused) == "PERSISTED_QUERY_NOT_ALLOWED"
        assert "x-sql-statements" not in refused.headers  # refused while reading the request, before any SQL
    # Registering is not possible in this mode: the hash stays unknown.
    assert code(await post(allow_list, {"extensions": persisted(VIEWER_HASH)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_allow_list_still_runs_introspection(allow_list):
    response = await post(allow_list, {"query": '{ __type(name: "Customer") { name } }'})
    assert response.json()["data"] == {"__type": {"name": "Customer"}}


def test_allow_list_mode_needs_its_list(tmp_path):
    with pytest.raises(SystemExit, match=r"allow-list: cannot read .*missing\.json"):
        TrustedDocuments.load("allow-list", cache_size=10, path=tmp_path / "missing.json")


def test_documents_json_is_generated_from_documents_js():
    # Regenerate with `partnerhub documents` after editing web/static/documents.js.
    assert DOCUMENTS_JSON.read_text(encoding="utf-8") == documents_json(), "run `partnerhub documents`"
    listed = orjson.loads(DOCUMENTS_JSON.read_bytes())
    names = dashboard_documents()
    # Every key of documents.js (the parser metrics uses too) is one entry of the list.
    assert set(names) == metrics.dashboard_operations()
    assert sorted(listed.values()) == sorted(names.values())
    assert all(sha256_hex(doc) == digest for digest, doc in listed.items())


def test_the_documents_command_writes_the_list(tmp_path, monkeypatch):
    target = tmp_path / "documents.json"
    monkeypatch.setattr(server, "DOCUMENTS_JSON", target)
    assert server.main(["documents"]) == 0
    assert target.read_text(encoding="utf-8") == documents_json()
