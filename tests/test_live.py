"""Live events over WebSocket (issue 16, SPEC §3.3): subscribe, mutate through HTTP, receive exactly the right events.

These tests are synchronous: starlette's TestClient runs the app (its own
engine, broker and event loop) in a thread, and its WebSocket sessions block.
A test never waits for "no message": to show that a change sent nothing, it
makes a second change that must arrive and checks that it is the next
message (the socket keeps order).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from db.engine import make_engine, make_sessionmaker
from db.settings import get_settings
from server import create_app
from tests.world import TOKENS, World, build_world

PROTOCOL = ["graphql-transport-ws"]

START_TRIAL = """mutation($input: StartTrialInput!) {
  startTrial(input: $input) { customer { id } userErrors { code message } } }"""
ASSIGN = """mutation($input: AssignAdminsInput!) {
  assignAdmins(input: $input) { customer { id } userErrors { code message } } }"""


@pytest.fixture
def live_world(db_url: str) -> World:
    async def build() -> World:
        engine = make_engine(db_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await build_world(session)
        finally:
            await engine.dispose()

    return asyncio.run(build())


@pytest.fixture
def client(db_url: str, live_world: World) -> Iterator[TestClient]:
    settings = get_settings().replace(database_url=db_url)
    with TestClient(create_app(settings=settings)) as test_client, contextlib.ExitStack() as sockets:
        # Sockets are closed (and their server side waited for) before the app stops.
        test_client.sockets = sockets  # type: ignore[attr-defined]
        yield test_client


def connect(client: TestClient, payload: dict[str, Any]) -> Any:
    ws = client.sockets.enter_context(client.websocket_connect("/graphql", subprotocols=PROTOCOL))  # type: ignore[attr-defined]
    ws.send_json({"type": "connection_init", "payload": payload})
    return ws


def subscribe(client: TestClient, who: str, query: str, variables: dict | None = None) -> Any:
    ws = connect(client, {"Authorization": f"Bearer {TOKENS[who]}"})
    assert ws.receive_json() == {"type": "connection_ack"}
    ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
    return ws


def post(client: TestClient, who: str, query: str, variables: dict) -> dict:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {TOKENS[who]}"}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def start_trial(client: TestClient, who: str, customer_gid: str) -> None:
    data = post(
        client, who, START_TRIAL, {"input": {"customerId": customer_gid, "products": ["MEETINGS"], "licenses": 5}}
    )
    assert data["startTrial"]["userErrors"] == [], data


def next_payload(ws: Any) -> dict:
    message = ws.receive_json()
    assert message["type"] == "next", message
    return message["payload"]


CUSTOMER_CHANGED = "subscription { customerChanged { id name trials { status } } }"


def test_customer_changed_after_a_trial_is_started(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "ana", CUSTOMER_CHANGED)
    start_trial(client, "ana", w.gid("Customer", "Zeta"))
    payload = next_payload(ws)
    # Zeta had no trial; the one just started is ACTIVE. First message of the subscription.
    assert payload["data"]["customerChanged"]["id"] == w.gid("Customer", "Zeta")
    assert payload["data"]["customerChanged"]["trials"] == [{"status": "ACTIVE"}]
    assert payload["extensions"]["sequence"] == 1
    start_trial(client, "ana", w.gid("Customer", "Delta"))
    assert next_payload(ws)["extensions"]["sequence"] == 2


def test_sales_admin_sees_only_assigned_customers(client: TestClient, live_world: World) -> None:
    w = live_world
    # sam is assigned Alpha and gamma, not Zeta or Beta.
    ws = subscribe(client, "sam", "subscription { customerChanged { name } }")
    start_trial(client, "ana", w.gid("Customer", "Zeta"))  # not sam's: nothing
    start_trial(client, "ana", w.gid("Customer", "Alpha"))  # sam's
    assert next_payload(ws)["data"] == {"customerChanged": {"name": "Alpha"}}


def test_rolled_back_mutation_sends_nothing(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "ana", "subscription { customerChanged { name } }")
    # 0 licences is refused: rolled back, no event.
    data = post(
        client,
        "ana",
        START_TRIAL,
        {"input": {"customerId": w.gid("Customer", "Zeta"), "products": ["MEETINGS"], "licenses": 0}},
    )
    assert data["startTrial"]["userErrors"] != []
    start_trial(client, "ana", w.gid("Customer", "Delta"))
    payload = next_payload(ws)
    assert payload["data"] == {"customerChanged": {"name": "Delta"}}
    assert payload["extensions"]["sequence"] == 1


def test_no_token_or_bad_token_closes_4401(client: TestClient) -> None:
    for payload in ({}, {"token": "t-nobody"}, {"Authorization": "Bearer t-nobody"}):
        ws = connect(client, payload)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401, payload


def test_token_key_in_payload(client: TestClient) -> None:
    ws = connect(client, {"token": TOKENS["rita"]})
    assert ws.receive_json() == {"type": "connection_ack"}
