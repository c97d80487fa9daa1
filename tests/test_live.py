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
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from db.engine import make_engine, make_sessionmaker
from db.events import CHANGE, RESET, Event
from db.io.load import load_document
from db.settings import get_settings
from db.tokens import revoke_tokens
from server import create_app
from tests.conftest import is_postgres
from tests.test_import import small_doc
from tests.test_server_process import Server, _seeded_env
from tests.world import TOKENS, World, build_world
from web.live import LiveGraphQL
from web.persisted import dashboard_documents, sha256_hex
from web.ratelimit import Budgets

PROTOCOL = ["graphql-transport-ws"]

START_TRIAL = """mutation($input: StartTrialInput!) {
  startTrial(input: $input) { customer { id } userErrors { code message } } }"""


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


def start_trial(client: TestClient, who: str, customer_gid: str, product: str = "MEETINGS") -> None:
    """A 30-day trial of 5 licences of ``product``, from today (2026-11-25) to 2026-12-25."""
    data = post(client, who, START_TRIAL, {"input": {"customerId": customer_gid, "products": [product], "licenses": 5}})
    assert data["startTrial"]["userErrors"] == [], data


def next_payload(ws: Any) -> dict:
    message = ws.receive_json()
    assert message["type"] == "next", message
    return message["payload"]


def assert_ended(ws: Any, code: str) -> None:
    """The subscription's last result is an error with ``code``, then ``complete``."""
    payload = next_payload(ws)
    assert payload["errors"][0]["extensions"]["code"] == code, payload
    assert ws.receive_json() == {"id": "1", "type": "complete"}


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


ASSIGN = """mutation($input: CustomerAdminsInput!) {
  %s(input: $input) { userErrors { code message } } }"""
AUDIT_EVENT = "subscription { auditEvent { action targetType } }"


def assign(client: TestClient, field: str, w: World, customer: str, admin: str) -> None:
    variables = {"input": {"customerId": w.gid("Customer", customer), "adminIds": [w.gid("PartnerAdmin", admin)]}}
    data = post(client, "ana", ASSIGN % field, variables)
    assert data[field]["userErrors"] == [], data


def test_assignment_brings_the_customer_unassignment_ends_it(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "sally", "subscription { customerChanged { name } }")
    # Zeta becomes sally's by this very change: it arrives with it.
    assign(client, "assignCustomerAdmins", w, "Zeta", "sally")
    assert next_payload(ws)["data"] == {"customerChanged": {"name": "Zeta"}}
    # Unassigned by this change: sally no longer sees Zeta, so nothing arrives, nor
    # for the trial started on it afterwards; the next message is Beta's (still hers).
    assign(client, "unassignCustomerAdmins", w, "Zeta", "sally")
    start_trial(client, "ana", w.gid("Customer", "Zeta"))
    start_trial(client, "ana", w.gid("Customer", "Beta"))
    payload = next_payload(ws)
    assert payload["data"] == {"customerChanged": {"name": "Beta"}}
    assert payload["extensions"]["sequence"] == 2


def test_audit_event_for_the_two_partner_roles_only(client: TestClient, live_world: World) -> None:
    w = live_world
    readers = {who: subscribe(client, who, AUDIT_EVENT) for who in ("ana", "rita")}
    for who in ("sam", "sally"):
        assert_ended(subscribe(client, who, AUDIT_EVENT), "FORBIDDEN")
    # sam's own trial on his customer Alpha: audited, so both readers get it.
    start_trial(client, "sam", w.gid("Customer", "Alpha"))
    for ws in readers.values():
        assert next_payload(ws)["data"] == {"auditEvent": {"action": "startTrial", "targetType": "Trial"}}


def test_other_partner_receives_nothing(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "oscar", AUDIT_EVENT)
    start_trial(client, "ana", w.gid("Customer", "Zeta"))  # acme's: not for oscar
    data = post(
        client,
        "oscar",
        START_TRIAL,
        {"input": {"customerId": w.gid("Customer", "Aardvark"), "products": ["MEETINGS"], "licenses": 5}},
    )
    assert data["startTrial"]["userErrors"] == []
    payload = next_payload(ws)
    assert payload["data"] == {"auditEvent": {"action": "startTrial", "targetType": "Trial"}}
    assert payload["extensions"]["sequence"] == 1


KPIS = "totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit"


def test_kpis_changed_after_a_trial(client: TestClient, live_world: World) -> None:
    w = live_world
    before = post(client, "ana", f"{{ kpis {{ {KPIS} }} }}", {})["kpis"]
    ws = subscribe(client, "ana", f"subscription {{ kpisChanged {{ {KPIS} }} }}")
    start_trial(client, "ana", w.gid("Customer", "Čačak Telekom"))
    got = next_payload(ws)["data"]["kpisChanged"]
    # Čačak Telekom had no plan: its 30-day MEETINGS trial gives it a live line (+1 total)
    # ending in 30 ≤ 90 days without auto-renewal (+1 expiring); nothing else moves.
    assert got == {**before, "totalCustomers": before["totalCustomers"] + 1, "expiring": before["expiring"] + 1}
    assert got == post(client, "ana", f"{{ kpis {{ {KPIS} }} }}", {})["kpis"]


def test_kpis_changed_skips_changes_the_sales_admin_cannot_see(client: TestClient, live_world: World) -> None:
    w = live_world
    before = post(client, "sam", f"{{ kpis {{ {KPIS} }} }}", {})["kpis"]
    ws = subscribe(client, "sam", f"subscription {{ kpisChanged {{ {KPIS} }} }}")
    start_trial(client, "ana", w.gid("Customer", "Čačak Telekom"))  # not sam's: no message
    start_trial(client, "ana", w.gid("Customer", "Alpha"))  # sam's
    payload = next_payload(ws)
    assert payload["extensions"]["sequence"] == 1
    # Alpha already has a live MEETINGS line ending in 30 days: counted in total and
    # expiring before its trial too, so sam's numbers stay as they were.
    assert payload["data"] == {"kpisChanged": before}


KPIS_OF = f"query($p: KpiProduct) {{ kpis(product: $p) {{ {KPIS} }} }}"
KPIS_CHANGED_OF = f"subscription($p: KpiProduct) {{ kpisChanged(product: $p) {{ {KPIS} }} }}"


def kpis_of(client: TestClient, who: str, product: str | None) -> dict:
    return post(client, who, KPIS_OF, {"p": product})["kpis"]


def counts(total: int, expiring: int, renewing: int, low: int, over: int) -> dict:
    return {
        "totalCustomers": total,
        "expiring": expiring,
        "renewing": renewing,
        "lowLicenseAssignment": low,
        "overLicenseLimit": over,
    }


def test_kpis_of_one_product_per_role(client: TestClient, live_world: World) -> None:
    # CALLING lines live today: Beta 10 (11 assigned, no auto-renew, ends 12-26) and Zeta 20 (5 assigned,
    # auto-renewing, ends 12-01). total {Beta, Zeta}; expiring {Beta}; renewing {Zeta}; over {Beta: 11 > 10};
    # low: both eligible (started before 10-26), rates 1.1 and 0.25, median 0.675, Zeta's 0.25 < 0.5 × 0.675.
    # MEETINGS: Alpha 10 (10 assigned, ends 12-25, no auto-renew), Zeta 100 (50 assigned): total 2;
    # expiring {Alpha}; renewing {Zeta}; median (1.0 + 0.5) / 2 = 0.75, neither below 0.375; none over.
    # Both together (the unchanged default): total {Alpha, Beta, Zeta} = 3; expiring {Alpha, Beta}.
    full = {None: counts(3, 2, 1, 1, 1), "CALLING": counts(2, 1, 1, 1, 1), "MEETINGS": counts(2, 1, 1, 0, 0)}
    expected = {
        "ana": full,
        "rita": full,
        # sam sees Alpha (MEETINGS) and gamma (MESSAGING only): nothing of CALLING.
        "sam": {None: counts(1, 1, 0, 0, 0), "CALLING": counts(0, 0, 0, 0, 0), "MEETINGS": counts(1, 1, 0, 0, 0)},
        # sally sees Beta (CALLING only); Zeta, the low one, is not hers.
        "sally": {None: counts(1, 1, 0, 0, 1), "CALLING": counts(1, 1, 0, 0, 1), "MEETINGS": counts(0, 0, 0, 0, 0)},
    }
    for who, by_product in expected.items():
        for product, want in by_product.items():
            assert kpis_of(client, who, product) == want, (who, product)


def test_kpis_changed_of_one_product_per_role(client: TestClient, live_world: World) -> None:
    w = live_world
    # Before (test_kpis_of_one_product_per_role): ana and rita (2, 1, 1, 1, 1), sam zeros, sally (1, 1, 0, 0, 1).
    subs = {who: subscribe(client, who, KPIS_CHANGED_OF, {"p": "CALLING"}) for who in ("ana", "rita", "sam", "sally")}
    # 1. A MEETINGS trial of Čačak Telekom, which has no plan: no CALLING line anywhere, so no
    #    CALLING number can have moved; nobody's CALLING subscription hears of it.
    start_trial(client, "ana", w.gid("Customer", "Čačak Telekom"), "MEETINGS")
    # 2. A CALLING trial of Alpha (sam's; not sally's): Alpha's first CALLING line, live, ending in
    #    30 ≤ 90 days (expiring); started today, so not eligible for low assignment (the median stays
    #    0.675); 0 assigned (not over).
    start_trial(client, "ana", w.gid("Customer", "Alpha"), "CALLING")
    # 3. A CALLING trial of Beta (sally's; not sam's): Beta is counted in total and expiring already,
    #    so the numbers stay; it arrives all the same (the change could have moved them).
    start_trial(client, "ana", w.gid("Customer", "Beta"), "CALLING")
    after_alpha = counts(3, 2, 1, 1, 1)
    for who in ("ana", "rita"):
        first, second = next_payload(subs[who]), next_payload(subs[who])
        # Sequence 1 is Alpha's: Čačak's MEETINGS trial sent nothing.
        assert (first["extensions"]["sequence"], first["data"]["kpisChanged"]) == (1, after_alpha), who
        assert (second["extensions"]["sequence"], second["data"]["kpisChanged"]) == (2, after_alpha), who
        assert kpis_of(client, who, "CALLING") == after_alpha
    got = next_payload(subs["sam"])
    assert (got["extensions"]["sequence"], got["data"]["kpisChanged"]) == (1, counts(1, 1, 0, 0, 0))
    got = next_payload(subs["sally"])  # Beta's, the first she may see
    assert (got["extensions"]["sequence"], got["data"]["kpisChanged"]) == (1, counts(1, 1, 0, 0, 1))
    assert kpis_of(client, "sam", "CALLING") == counts(1, 1, 0, 0, 0)
    assert kpis_of(client, "sally", "CALLING") == counts(1, 1, 0, 0, 1)


def test_kpis_changed_of_meetings_hears_a_meetings_trial(client: TestClient, live_world: World) -> None:
    w = live_world
    # MEETINGS before: (2, 1, 1, 0, 0) (test_kpis_of_one_product_per_role).
    ws = subscribe(client, "ana", KPIS_CHANGED_OF, {"p": "MEETINGS"})
    start_trial(client, "ana", w.gid("Customer", "Čačak Telekom"), "MEETINGS")
    # Čačak's new MEETINGS line: +1 total, +1 expiring (ends in 30 days); not eligible for low; 0 assigned.
    payload = next_payload(ws)
    assert (payload["extensions"]["sequence"], payload["data"]["kpisChanged"]) == (1, counts(3, 2, 1, 0, 0))


def test_kpis_changed_of_a_product_reads_only_what_it_must(client: TestClient, live_world: World) -> None:
    w = live_world
    broker = client.app.state.broker  # type: ignore[attr-defined]
    kpis = subscribe(client, "ana", KPIS_CHANGED_OF, {"p": "CALLING"})
    # A second group of ana's, to tell when a burst has been handled: it hears every visible change.
    names = subscribe(client, "ana", "subscription { customerChanged { name } }")
    cacak = Event(CHANGE, 1, (int(w.customers["Čačak Telekom"]),), None)  # acme is partner 1
    zeta = Event(CHANGE, 1, (int(w.customers["Zeta"]),), None)
    start_trial(client, "ana", w.gid("Customer", "Delta"), "CALLING")  # both subscriptions are running
    assert next_payload(names)["data"] == {"customerChanged": {"name": "Delta"}}
    assert next_payload(kpis)["extensions"]["sequence"] == 1
    with statements(client) as skipped:
        client.portal.call(broker.deliver, cacak)  # type: ignore[union-attr]
        assert next_payload(names)["data"] == {"customerChanged": {"name": "Čačak Telekom"}}
    # 1 token lookup (both connections) + kpisChanged's group: 1 customer read, 1 read of the
    # products of its plans' lines (none: no CALLING) and no KPI scan + customerChanged's group:
    # 1 customer read = 4.
    assert len(skipped) == 4, skipped
    assert not [s for s in skipped if "kpi_line" in s]
    with statements(client) as delivered:
        client.portal.call(broker.deliver, zeta)  # type: ignore[union-attr]
        assert next_payload(names)["data"] == {"customerChanged": {"name": "Zeta"}}
        payload = next_payload(kpis)
    # The same 4 + the one KPI scan (Zeta has a CALLING line) = 5.
    assert len(delivered) == 5, delivered
    assert len([s for s in delivered if "kpi_line" in s]) == 1
    # Sequence 2: Čačak's event sent nothing. CALLING: Delta's suspended plan holds no live line
    # (its trial's does: total 3, expiring 2), then unchanged by Zeta's event.
    assert payload["extensions"]["sequence"] == 2
    assert payload["data"]["kpisChanged"] == counts(3, 2, 1, 1, 1)


def revoke_sallys_token(db_url: str) -> None:
    """Revoke sally's token through an engine of its own, as `partnerhub token revoke` in another process does."""

    async def revoke() -> None:
        engine = make_engine(db_url)
        try:
            async with make_sessionmaker(engine)() as session:
                assert await revoke_tokens(session, email="sally@p1.example") == 1
        finally:
            await engine.dispose()

    asyncio.run(revoke())


def test_revoked_token_closes_the_connection(client: TestClient, live_world: World, db_url: str) -> None:
    w = live_world
    ws = subscribe(client, "sally", "subscription { customerChanged { name } }")

    revoke_sallys_token(db_url)
    start_trial(client, "ana", w.gid("Customer", "Beta"))  # sally's customer: the event re-reads her token
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401


def test_reset_tells_subscribers_to_refetch(client: TestClient, live_world: World) -> None:
    ws = subscribe(client, "rita", "subscription { customerChanged { name } }")
    broker = client.app.state.broker  # type: ignore[attr-defined]
    client.portal.call(broker.deliver, Event(RESET))  # type: ignore[union-attr]
    payload = next_payload(ws)
    assert payload["data"] == {"customerChanged": None}
    assert payload["errors"][0]["extensions"]["code"] == "LIVE_RESET"
    assert payload["extensions"]["sequence"] == 1


def test_slow_consumer_is_dropped(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "ana", "subscription { customerChanged { name } }")
    broker = client.app.state.broker  # type: ignore[attr-defined]
    zeta = int(w.customers["Zeta"])

    def flood() -> None:
        # 101 events in one go on the server's loop: one more than the queue holds.
        for _ in range(broker.queue_size + 1):
            broker.deliver(Event(CHANGE, 1, (zeta,), None))

    client.portal.call(flood)  # type: ignore[union-attr]
    assert_ended(ws, "LIVE_OVERFLOW")


def test_subscriptions_per_token_are_capped(client: TestClient, live_world: World) -> None:
    ws = subscribe(client, "ana", AUDIT_EVENT)  # id "1"
    for n in range(2, 21):  # 20 in all: the cap
        ws.send_json({"id": str(n), "type": "subscribe", "payload": {"query": AUDIT_EVENT}})
    ws.send_json({"id": "21", "type": "subscribe", "payload": {"query": AUDIT_EVENT}})
    message = ws.receive_json()
    assert message["id"] == "21" and message["type"] == "error", message
    assert message["payload"][0]["message"] == "At most 20 live subscriptions per token."


@pytest.mark.skipif(not is_postgres(), reason="LISTEN/NOTIFY is PostgreSQL's")
def test_dropped_listen_connection_recovers(client: TestClient, live_world: World, db_url: str) -> None:
    w = live_world
    ws = subscribe(client, "ana", "subscription { customerChanged { name } }")
    broker = client.app.state.broker  # type: ignore[attr-defined]
    pid = broker.connection.get_server_pid()

    async def terminate() -> None:
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await engine.dispose()

    asyncio.run(terminate())
    # Told to refetch once the broker is listening again, then events flow as before.
    payload = next_payload(ws)
    assert payload["errors"][0]["extensions"]["code"] == "LIVE_RESET"
    assert broker.connection.get_server_pid() != pid
    start_trial(client, "ana", w.gid("Customer", "Zeta"))
    assert next_payload(ws)["data"] == {"customerChanged": {"name": "Zeta"}}


def test_connections_per_token_are_capped(client: TestClient, live_world: World) -> None:
    for _ in range(5):  # the cap
        assert connect(client, {"token": TOKENS["sam"]}).receive_json() == {"type": "connection_ack"}
    ws = connect(client, {"token": TOKENS["sam"]})
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (4403, "At most 5 live connections per token.")


@pytest.mark.slow
@pytest.mark.skipif(not is_postgres(), reason="across processes through PostgreSQL LISTEN/NOTIFY")
def test_two_server_processes_one_database(db_url: str, tmp_path: Path) -> None:
    env = _seeded_env(db_url)
    servers = [Server(env, tmp_path / f"server{n}.log") for n in range(2)]
    try:
        with ws_connect(f"ws://127.0.0.1:{servers[0].port}/graphql", subprotocols=[Subprotocol(PROTOCOL[0])]) as ws:
            ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {env['TOKEN']}"}}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "connection_ack"}
            query = "subscription { customerChanged { id } }"
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))

            def http(query: str, variables: dict) -> dict:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{servers[1].port}/graphql",
                    data=json.dumps({"query": query, "variables": variables}).encode(),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {env['TOKEN']}"},
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())["data"]

            customer = http("{ customers(first: 1) { nodes { id } } }", {})["customers"]["nodes"][0]["id"]
            # The other process handles the mutation; its NOTIFY reaches the subscriber's process.
            http(
                "mutation($input: CustomerAdminsInput!) { assignCustomerAdmins(input: $input) { userErrors { code } } }",
                {"input": {"customerId": customer, "adminIds": [sales_admin_id(http)]}},
            )
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] == "next", message
            assert message["payload"]["data"] == {"customerChanged": {"id": customer}}
            assert message["payload"]["extensions"]["sequence"] == 1
    finally:
        for server in servers:
            server.stop()


def sales_admin_id(http: Any) -> str:
    """A sales admin of the demo partner, to assign."""
    query = "{ partnerAdmins(first: 100) { nodes { id role } } }"
    admins = http(query, {})["partnerAdmins"]["nodes"]
    return next(a["id"] for a in admins if a["role"] in ("SALES_FULL_ADMIN", "SALES_ADMIN"))


def live_view(client: TestClient) -> LiveGraphQL:
    """The app's WebSocket view, to tune its limits for a test."""
    return next(r.app for r in client.app.routes if isinstance(r, WebSocketRoute))  # type: ignore[attr-defined]


def test_subscription_and_its_events_pay_from_the_budget(client: TestClient, live_world: World) -> None:
    w = live_world
    live_view(client).budgets = Budgets(capacity=5, refill_per_second=1e-9)
    ws = subscribe(client, "rita", "subscription { auditEvent { action } }")
    # Cost 1 (one object): 5 − 1 = 4 left at start; each event pays 1 more, so
    # events 1–4 arrive (0 left) and the fifth ends the subscription.
    for n in range(5):
        field = "assignCustomerAdmins" if n % 2 == 0 else "unassignCustomerAdmins"
        assign(client, field, w, "Zeta", "sally")
    for n in range(1, 5):
        assert next_payload(ws)["extensions"]["sequence"] == n
    assert_ended(ws, "RATE_LIMITED")
    # Nothing left for a new one either: refused before it starts.
    ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": AUDIT_EVENT}})
    message = ws.receive_json()
    assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "RATE_LIMITED", message


def test_revoked_token_closes_an_idle_connection(client: TestClient, live_world: World, db_url: str) -> None:
    live_view(client).recheck_seconds = 0.1
    ws = subscribe(client, "sally", "subscription { customerChanged { name } }")

    revoke_sallys_token(db_url)
    # No event at all: the periodic re-check closes it.
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401


def test_server_pings(client: TestClient, live_world: World) -> None:
    live_view(client).ping_seconds = 0.05
    ws = connect(client, {"token": TOKENS["ana"]})
    assert ws.receive_json() == {"type": "connection_ack"}
    assert ws.receive_json() == {"type": "ping"}
    ws.send_json({"type": "pong"})
    ws.send_json({"type": "ping"})
    # The client's ping is answered (server pings may come first).
    while (message := ws.receive_json()) == {"type": "ping"}:
        pass
    assert message == {"type": "pong"}


def test_import_tells_the_partner_to_refetch(client: TestClient, live_world: World) -> None:
    ws = subscribe(client, "rita", "subscription { customerChanged { name } }")
    other = subscribe(client, "oscar", "subscription { customerChanged { name } }")

    async def load() -> None:
        async with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
            doc = small_doc()  # partner "acme" only
            for n, customer in enumerate(doc["partners"][0]["customers"]):
                customer["name"] = f"Imported {n}"  # the world's names are taken
            await load_document(session, doc)

    client.portal.call(load)  # type: ignore[union-attr]
    payload = next_payload(ws)
    assert payload["data"] == {"customerChanged": None}
    assert payload["errors"][0]["extensions"]["code"] == "LIVE_RESET"
    # The other partner was not in the file: its next message is its own change.
    w = live_world
    post(
        client,
        "oscar",
        START_TRIAL,
        {"input": {"customerId": w.gid("Customer", "Aardvark"), "products": ["MEETINGS"], "licenses": 5}},
    )
    assert next_payload(other)["data"] == {"customerChanged": {"name": "Aardvark"}}


def test_queries_and_mutations_keep_to_http(client: TestClient, live_world: World) -> None:
    ws = subscribe(client, "ana", "{ viewer { email } }")
    message = ws.receive_json()
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_removed_admin_is_closed_at_once(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "sally", "subscription { customerChanged { name } }")
    query = "mutation($input: RemovePartnerAdminInput!) { removePartnerAdmin(input: $input) { userErrors { code } } }"
    data = post(client, "ana", query, {"input": {"adminId": w.gid("PartnerAdmin", "sally")}})
    assert data["removePartnerAdmin"]["userErrors"] == []
    # No customer changed, and the periodic re-check is 10 s away: the removal's own event closes it.
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401


def test_hostile_strings_and_odd_variables_are_refused_as_over_http(client: TestClient, live_world: World) -> None:
    query = "subscription($id: ID) { customerChanged(customerId: $id) { name } }"
    ws = subscribe(client, "ana", query, {"id": "Q3VzdG9tZXI6MQ\u0000"})
    message = ws.receive_json()
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "U+0000" in message["payload"][0]["message"]
    ws = connect(client, {"Authorization": f"Bearer {TOKENS['ana']}"})
    assert ws.receive_json() == {"type": "connection_ack"}
    ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": [1]}})
    message = ws.receive_json()
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


# -- fan-out per (viewer, request): tests/test_live.py's counts are of the app's engine


@contextlib.contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the app runs inside the block (the fan-out runs in the app's thread)."""
    seen: list[str] = []
    engine = client.app.state.engine.sync_engine  # type: ignore[attr-defined]

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


CUSTOMER_WITH_TRIALS = "subscription { customerChanged { id name trials { status } } }"


def test_subscriptions_of_one_viewer_and_document_share_one_re_read(client: TestClient, live_world: World) -> None:
    w = live_world
    broker = client.app.state.broker  # type: ignore[attr-defined]
    zeta = Event(CHANGE, 1, (int(w.customers["Zeta"]),), None)  # acme is partner 1
    first = subscribe(client, "ana", CUSTOMER_WITH_TRIALS)
    with statements(client) as one:
        client.portal.call(broker.deliver, zeta)  # type: ignore[union-attr]
        assert next_payload(first)["data"]["customerChanged"]["name"] == "Zeta"
    # Four subscriptions of ana's: two more on the first connection, one on a second connection.
    for n in ("2", "3"):
        first.send_json({"id": n, "type": "subscribe", "payload": {"query": CUSTOMER_WITH_TRIALS}})
    second = subscribe(client, "ana", CUSTOMER_WITH_TRIALS)
    # A mutation's message tells that the new ones are running (each subscription hears it).
    start_trial(client, "ana", w.gid("Customer", "Delta"))
    got = [first.receive_json() for _ in range(3)] + [second.receive_json()]
    assert sorted(m["id"] for m in got) == ["1", "1", "2", "3"]
    with statements(client) as four:
        client.portal.call(broker.deliver, zeta)  # type: ignore[union-attr]
        messages = [first.receive_json() for _ in range(3)] + [second.receive_json()]
    # 1 token lookup for both connections + 1 customer read + 1 trials read = 3, for one
    # subscription and for four (one group: same admin, same document).
    assert len(one) == 3, one
    assert len(four) == 3, four
    assert {m["payload"]["data"]["customerChanged"]["name"] for m in messages} == {"Zeta"}
    # Each numbers its own messages: the first connection's "1" is at its 3rd (Zeta, Delta,
    # Zeta), its "2" and "3" and the second connection's "1" at their 2nd (Delta, Zeta).
    sequences = [(m["id"], m["payload"]["extensions"]["sequence"]) for m in messages]
    assert sorted(sequences[:3]) == [("1", 3), ("2", 2), ("3", 2)]
    assert sequences[3] == ("1", 2)


def test_two_viewers_get_what_each_may_see(client: TestClient, live_world: World) -> None:
    w = live_world
    broker = client.app.state.broker  # type: ignore[attr-defined]
    query = "subscription { customerChanged { name } }"
    ana, sam = subscribe(client, "ana", query), subscribe(client, "sam", query)
    # One event about Zeta (sam is not assigned) and Alpha (sam's).
    both = Event(CHANGE, 1, (int(w.customers["Zeta"]), int(w.customers["Alpha"])), None)
    with statements(client) as seen:
        client.portal.call(broker.deliver, both)  # type: ignore[union-attr]
        got_ana = [next_payload(ana)["data"] for _ in range(2)]
        got_sam = next_payload(sam)["data"]
    assert got_ana == [{"customerChanged": {"name": "Zeta"}}, {"customerChanged": {"name": "Alpha"}}]
    assert got_sam == {"customerChanged": {"name": "Alpha"}}
    # 1 token lookup (both connections) + 1 customer read per viewer (two groups) = 3.
    assert len(seen) == 3, seen
    # And nothing more for sam: his next message is the next change of his customer.
    start_trial(client, "ana", w.gid("Customer", "Alpha"))
    payload = next_payload(sam)
    assert payload["data"] == {"customerChanged": {"name": "Alpha"}}
    assert payload["extensions"]["sequence"] == 2


def test_a_burst_is_read_in_one_statement_per_group(client: TestClient, live_world: World) -> None:
    w = live_world
    broker = client.app.state.broker  # type: ignore[attr-defined]
    ws = subscribe(client, "ana", "subscription { customerChanged { name } }")
    names = ["Zeta", "Delta", "Alpha"]

    def burst() -> None:
        # Three events in one go on the server's loop: the fan-out takes them together.
        for name in names:
            broker.deliver(Event(CHANGE, 1, (int(w.customers[name]),), None))

    with statements(client) as seen:
        client.portal.call(burst)  # type: ignore[union-attr]
        got = [next_payload(ws) for _ in names]
    # In event order, numbered 1, 2, 3; 1 token lookup + 1 customer read for the three.
    assert [p["data"]["customerChanged"]["name"] for p in got] == names
    assert [p["extensions"]["sequence"] for p in got] == [1, 2, 3]
    assert len(seen) == 2, seen


def test_removing_an_admin_announces_its_customers(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "ana", "subscription { customerChanged { name partnerAdmins { email } } }")
    query = "mutation($input: RemovePartnerAdminInput!) { removePartnerAdmin(input: $input) { userErrors { code } } }"
    data = post(client, "ana", query, {"input": {"adminId": w.gid("PartnerAdmin", "sally")}})
    assert data["removePartnerAdmin"]["userErrors"] == []
    # sally was assigned Beta only (tests/world.py): Beta arrives without her.
    payload = next_payload(ws)
    assert payload["data"] == {"customerChanged": {"name": "Beta", "partnerAdmins": []}}


def test_a_role_without_assignments_announces_the_customers_it_lost(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = subscribe(client, "ana", "subscription { customerChanged { name partnerAdmins { email } } }")
    query = "mutation($input: SetPartnerAdminRoleInput!) { setPartnerAdminRole(input: $input) { userErrors { code } } }"
    variables = {"input": {"adminId": w.gid("PartnerAdmin", "sam"), "role": "PARTNER_READ_ONLY_ADMIN"}}
    assert post(client, "ana", query, variables)["setPartnerAdminRole"]["userErrors"] == []
    # sam was assigned Alpha and gamma; a partner-wide role has no assignments, so both lose him.
    got = sorted(next_payload(ws)["data"]["customerChanged"]["name"] for _ in range(2))
    assert got == ["Alpha", "gamma"]


def set_role(client: TestClient, w: World, who: str, role: str) -> None:
    query = "mutation($input: SetPartnerAdminRoleInput!) { setPartnerAdminRole(input: $input) { userErrors { code } } }"
    variables = {"input": {"adminId": w.gid("PartnerAdmin", who), "role": role}}
    assert post(client, "ana", query, variables)["setPartnerAdminRole"]["userErrors"] == []


def test_demoted_audit_reader_is_ended_with_forbidden(client: TestClient, live_world: World) -> None:
    w = live_world
    rita = subscribe(client, "rita", AUDIT_EVENT)
    ana = subscribe(client, "ana", AUDIT_EVENT)
    set_role(client, w, "rita", "SALES_ADMIN")
    # The demotion's own audit event: ana reads it; rita, no longer allowed, is ended (not left quiet).
    assert next_payload(ana)["data"] == {"auditEvent": {"action": "setPartnerAdminRole", "targetType": "PartnerAdmin"}}
    payload = next_payload(rita)
    assert payload["errors"][0]["extensions"]["code"] == "FORBIDDEN", payload
    assert payload["errors"][0]["message"] == "Your role may not read the audit log."
    assert rita.receive_json() == {"id": "1", "type": "complete"}


def test_demotion_without_an_event_ends_the_audit_subscription_at_the_re_check(
    client: TestClient, live_world: World, db_url: str
) -> None:
    w = live_world
    live_view(client).recheck_seconds = 0.1
    rita = subscribe(client, "rita", AUDIT_EVENT)

    async def demote() -> None:
        # Written past the API (as by hand): no live event.
        engine = make_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE partner_admin SET role = 'SALES_ADMIN' WHERE id = :id"), {"id": w.admins["rita"]}
                )
        finally:
            await engine.dispose()

    asyncio.run(demote())
    assert_ended(rita, "FORBIDDEN")


@pytest.mark.skipif(not is_postgres(), reason="the revocation's NOTIFY is PostgreSQL's")
def test_revoked_token_is_closed_at_once_through_notify(client: TestClient, live_world: World, db_url: str) -> None:
    live_view(client).recheck_seconds = 3600  # not the periodic re-check
    ws = subscribe(client, "sally", "subscription { customerChanged { name } }")

    revoke_sallys_token(db_url)  # no mutation, no customer changed
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401


def test_the_live_caps_are_settings(db_url: str, live_world: World) -> None:
    w = live_world
    settings = get_settings().replace(
        database_url=db_url, live_max_connections=2, live_max_subscriptions=3, live_queue_size=4
    )
    with TestClient(create_app(settings=settings)) as client, contextlib.ExitStack() as sockets:
        client.sockets = sockets  # type: ignore[attr-defined]
        ws = subscribe(client, "ana", "subscription { customerChanged { name } }")
        assert connect(client, {"token": TOKENS["ana"]}).receive_json() == {"type": "connection_ack"}  # the 2nd
        third = connect(client, {"token": TOKENS["ana"]})
        with pytest.raises(WebSocketDisconnect) as closed:
            third.receive_json()
        assert (closed.value.code, closed.value.reason) == (4403, "At most 2 live connections per token.")
        for n in ("2", "3", "4"):  # 3 running, then the 4th is refused
            ws.send_json({"id": n, "type": "subscribe", "payload": {"query": AUDIT_EVENT}})
        message = ws.receive_json()
        assert (message["id"], message["payload"][0]["message"]) == ("4", "At most 3 live subscriptions per token.")
        broker = client.app.state.broker  # type: ignore[attr-defined]
        zeta = int(w.customers["Zeta"])

        def flood() -> None:
            # 5 events in one go: one more than the queue of 4 holds.
            for _ in range(5):
                broker.deliver(Event(CHANGE, 1, (zeta,), None))

        client.portal.call(flood)  # type: ignore[union-attr]
        payload = next_payload(ws)
        assert payload["errors"][0]["extensions"]["code"] == "LIVE_OVERFLOW", payload
        assert payload["errors"][0]["message"].startswith("Dropped: more than 4 events were waiting")


# -- trusted documents over WebSocket: the HTTP endpoint's rule (web/persisted.py), one code path


@pytest.fixture
def allow_list_client(db_url: str, live_world: World) -> Iterator[TestClient]:
    settings = get_settings().replace(database_url=db_url, trusted_documents="allow-list")
    with TestClient(create_app(settings=settings)) as test_client, contextlib.ExitStack() as sockets:
        test_client.sockets = sockets  # type: ignore[attr-defined]
        yield test_client


def persisted(document: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}


def ready(client: TestClient, who: str = "ana") -> Any:
    """An acknowledged connection with no subscription yet."""
    ws = connect(client, {"Authorization": f"Bearer {TOKENS[who]}"})
    assert ws.receive_json() == {"type": "connection_ack"}
    return ws


def refusal(ws: Any, sub_id: str, payload: dict) -> dict:
    """Send a subscribe message that must be refused: its ``error`` message's one error."""
    ws.send_json({"id": sub_id, "type": "subscribe", "payload": payload})
    message = ws.receive_json()
    assert (message["id"], message["type"]) == (sub_id, "error"), message
    [error] = message["payload"]
    return error


NAMES = "subscription { customerChanged { name } }"


def test_allow_list_refuses_unlisted_subscriptions_over_websocket(
    allow_list_client: TestClient, live_world: World
) -> None:
    client, w = allow_list_client, live_world
    ws = ready(client)
    with statements(client) as seen:
        error = refusal(ws, "1", {"query": NAMES})
        by_hash = refusal(ws, "2", {"extensions": persisted(NAMES)})
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    # Only a listed document may be named by its hash; this one is not: unknown.
    assert by_hash == {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    assert seen == []  # refused before any SQL
    # The same document over HTTP: the same code and message (HTTP 400 there).
    response = client.post("/graphql", json={"query": NAMES}, headers={"Authorization": f"Bearer {TOKENS['ana']}"})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {**error, "extensions": {"code": "PERSISTED_QUERY_NOT_ALLOWED"}}
    # A hash that is not the document's: BAD_REQUEST, as over HTTP.
    wrong = refusal(ws, "3", {"query": NAMES, "extensions": persisted(CUSTOMER_CHANGED)})
    assert wrong["extensions"]["code"] == "BAD_REQUEST"
    assert wrong["message"] == "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the `query` sent."

    # A listed subscription runs, in full or by its hash alone. The dashboard's list has none
    # yet, so this test lists one (the list is read once at start; here it is extended in place).
    client.app.state.trusted.allowed[sha256_hex(NAMES)] = NAMES  # type: ignore[attr-defined]
    ws.send_json({"id": "4", "type": "subscribe", "payload": {"query": NAMES}})
    ws.send_json({"id": "5", "type": "subscribe", "payload": {"extensions": persisted(NAMES)}})
    # The change, through the dashboard's own (listed) StartTrial document.
    variables = {"input": {"customerId": w.gid("Customer", "Zeta"), "products": ["MEETINGS"], "licenses": 5}}
    data = post(client, "ana", dashboard_documents()["StartTrial"], variables)
    assert data["startTrial"]["userErrors"] == [], data
    got = [ws.receive_json() for _ in range(2)]
    # The refusals ended nothing: the connection and its new subscriptions carry on.
    assert sorted((m["id"], m["type"], m["payload"]["data"]["customerChanged"]["name"]) for m in got) == [
        ("4", "next", "Zeta"),
        ("5", "next", "Zeta"),
    ]


def test_persisted_queries_over_websocket_in_apq_mode(client: TestClient, live_world: World) -> None:
    w = live_world
    ws = ready(client)
    # Unknown hash: the answer Apollo's clients resend the document on.
    unknown = refusal(ws, "1", {"extensions": persisted(NAMES)})
    assert unknown == {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    wrong = refusal(ws, "2", {"query": NAMES, "extensions": persisted(CUSTOMER_CHANGED)})
    assert wrong["extensions"]["code"] == "BAD_REQUEST"
    # Sent with its hash, the document runs and is remembered; then the hash alone runs it.
    ws.send_json({"id": "3", "type": "subscribe", "payload": {"query": NAMES, "extensions": persisted(NAMES)}})
    start_trial(client, "ana", w.gid("Customer", "Zeta"))  # and 3 is running when it arrives
    assert ws.receive_json()["id"] == "3"
    ws.send_json({"id": "4", "type": "subscribe", "payload": {"extensions": persisted(NAMES)}})
    start_trial(client, "ana", w.gid("Customer", "Delta"))
    got = [ws.receive_json() for _ in range(2)]
    assert sorted((m["id"], m["payload"]["data"]["customerChanged"]["name"]) for m in got) == [
        ("3", "Delta"),
        ("4", "Delta"),
    ]
    # One cache for HTTP and WebSocket: HTTP knows the hash registered over WebSocket (and
    # refuses to run a subscription there, after finding its document).
    response = client.post(
        "/graphql", json={"extensions": persisted(NAMES)}, headers={"Authorization": f"Bearer {TOKENS['ana']}"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] != "PERSISTED_QUERY_NOT_FOUND", response.text
