"""``/graphql`` over WebSocket: live events with ``graphql-transport-ws`` (SPEC §3.3).

Strawberry runs the protocol (``connection_init`` → ``connection_ack``,
``subscribe``/``next``/``complete``, ``ping``/``pong``); this module adds the
API's rules to it:

* Authentication: the bearer token of the ``connection_init`` payload
  (``{"Authorization": "Bearer ph_..."}`` or ``{"token": "ph_..."}``); none or
  an invalid one closes the socket with ``4401 Unauthorized``; a token past
  :attr:`LiveGraphQL.max_connections` open connections gets ``4403 Forbidden``.
  Every ``recheck_seconds`` (and at each burst of events, :mod:`schema.fanout`)
  the token is looked up again: revoked, or its admin removed → ``4401``; a
  subscription its role no longer allows ends with ``FORBIDDEN``.
* Trusted documents (web/persisted.py, shared with HTTP): a ``subscribe``
  payload is read as a POST body is, and goes through the same rule; in
  ``allow-list`` mode a document not listed is refused with
  ``PERSISTED_QUERY_NOT_ALLOWED``, and ``extensions.persistedQuery`` names a
  document by its hash as over HTTP (unknown: ``PERSISTED_QUERY_NOT_FOUND``).
  A refusal is the ``error`` message of that subscription id; the connection
  stays open.
* Budgets (web/ratelimit.py, shared with HTTP): a subscription pays its query
  cost when it starts and again per event delivered (:data:`EVENT_COST`); at most
  :attr:`LiveGraphQL.max_subscriptions` subscriptions per token over all its
  connections of this process.
* Keep-alive: the server pings every ``ping_seconds``; graphql-ws clients
  answer with a pong (and may ping themselves).
* Each ``next`` message carries ``extensions.sequence`` (1, 2, 3... per
  subscription) and ``extensions.event`` (this process's event number).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from db.tokens import viewer_for_token
from schema.cost import CostModel, is_introspection
from schema.fanout import REVOKED_CODE, REVOKED_REASON, Request
from schema.guard import hostile_string_error
from schema.schema import schema
from schema.subscription import REQUEST, SEQUENCE, LiveConnection
from web.auth import bearer_token
from web.persisted import TrustedDocuments
from web.protocol import RequestError, request_params
from web.ratelimit import Budgets

log = logging.getLogger("partnerhub.live")

EVENT_COST: contextvars.ContextVar[int] = contextvars.ContextVar("partnerhub_live_event_cost", default=1)
"""Cost points of one event of the running subscription: its query's cost (at least 1).

Set before strawberry creates the operation's task, which copies it.
"""


OPERATION: contextvars.ContextVar[str] = contextvars.ContextVar("partnerhub_live_operation", default="")
"""The id of the running subscription (set, like :data:`EVENT_COST`, before its task is created)."""
# A "next" message as strawberry's send_json writes it (json.dumps' separators), with the
# payload's shared "data"/"errors" text and the subscription's own numbers.
NEXT = '{"id": %s, "type": "next", "payload": {%s, "extensions": {"sequence": %d, "event": %d}}}'


def token_of(payload: dict[str, Any]) -> str | None:
    """The bearer token of a ``connection_init`` payload, if any."""
    for key in ("Authorization", "authorization"):
        value = payload.get(key)
        if isinstance(value, str):
            return bearer_token(value)
    token = payload.get("token")
    return token.strip() or None if isinstance(token, str) else None


def caller_key(token: str | None) -> str:
    """The budget key of a token: the same as the HTTP endpoint's for a valid token."""
    return "token:" + hashlib.sha256((token or "").encode()).hexdigest()


class LiveHandler(BaseGraphQLTransportWSHandler[LiveConnection, None]):
    """Strawberry's ``graphql-transport-ws`` handler with the API's authentication and limits."""

    view: LiveGraphQL

    async def handle(self) -> None:
        watchers = [asyncio.create_task(self._ping()), asyncio.create_task(self._recheck())]
        try:
            await super().handle()
        finally:
            for task in watchers:
                task.cancel()
            for task in watchers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            key = caller_key(self.context.token) if self.context.token else None
            if key is not None:
                self.view.connections.get(key, set()).discard(self)
                if not self.view.connections.get(key):
                    self.view.connections.pop(key, None)

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict) and not self.connection_init_received and not self.connection_timed_out:
            refusal = await self._authenticate(payload)
            if refusal is not None:
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                await self.websocket.close(code=refusal[0], reason=refusal[1])
                return
        await super().handle_connection_init(message)

    async def _authenticate(self, payload: dict[str, Any]) -> tuple[int, str] | None:
        """Look the token up; the refusal's close code and reason, or ``None`` when it may connect."""
        token = token_of(payload)
        if token is None:
            return REVOKED_CODE, "A bearer token is required in the connection_init payload."
        async with self.context.sessionmaker() as session:
            viewer = await viewer_for_token(session, token)
        if viewer is None:
            return REVOKED_CODE, REVOKED_REASON
        key = caller_key(token)
        mine = self.view.connections.setdefault(key, set())
        if len(mine) >= self.view.max_connections:
            return 4403, f"At most {self.view.max_connections} live connections per token."
        mine.add(self)
        self.context.token = token
        self.context.viewer = viewer
        return None

    async def handle_subscribe(self, message: Any) -> None:
        if self.connection_acknowledged and message.get("id") not in self.operations:
            error = self._admit(message.get("id"), message.get("payload") or {})
            if error is not None:
                await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
                return
        await super().handle_subscribe(message)

    def _admit(self, message_id: Any, payload: dict[str, Any]) -> GraphQLError | None:
        """Refuse a subscription over the per-token cap, untrusted, or over the budget, before it starts.

        A document named by its persisted-query hash is written into ``payload`` for strawberry to run.
        """
        key = caller_key(self.context.token)
        running = sum(len(handler.operations) for handler in self.view.connections.get(key, ()))
        if running >= self.view.max_subscriptions:
            return GraphQLError(
                f"At most {self.view.max_subscriptions} live subscriptions per token.",
                extensions={"code": "RATE_LIMITED"},
            )
        extensions = payload.get("extensions")
        named = isinstance(extensions, dict) and "persistedQuery" in extensions
        if not isinstance(payload.get("query"), str) and not named:
            return None  # strawberry answers the malformed message
        costs = self.view.costs
        try:
            # The HTTP endpoint's reading of its parameters and its trusted-documents rule
            # (web/persisted.py): in allow-list mode only listed documents subscribe; a
            # persisted query's hash is honoured as over HTTP (the same documents remembered).
            gql = self.view.trusted.resolve(
                request_params(payload), lambda text: is_introspection(costs.document(text))
            )
        except RequestError as exc:
            return GraphQLError(exc.message, extensions={"code": exc.code})
        payload["query"] = query = gql.query  # a document named by its hash runs as if sent in full
        variables, operation_name = gql.variables, gql.operation_name
        document = costs.document(query)
        operation = None if document is None else get_operation_ast(document, operation_name)
        if operation is not None and operation.operation != OperationType.SUBSCRIPTION:
            # Queries and mutations keep to HTTP, where their transaction, limits and logs are.
            return GraphQLError(
                "Only subscriptions run over WebSocket; send queries and mutations with HTTP POST /graphql.",
                extensions={"code": "BAD_REQUEST"},
            )
        # The same refusal of control characters as over HTTP, before any SQL.
        hostile = hostile_string_error(document, variables, operation_name)
        if hostile is not None:
            return hostile
        cost = costs.cost(query, variables, operation_name) or 0
        if cost > self.context.settings.max_cost:
            return GraphQLError(
                f"The subscription costs {cost} points; at most {self.context.settings.max_cost} are allowed.",
                extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost},
            )
        charge = self.view.budgets.charge(key, cost)
        EVENT_COST.set(max(1, cost))
        if document is not None:
            # The fan-out groups subscriptions by the request as sent and executes it once per group.
            REQUEST.set(Request(document, query, variables, operation_name))
        OPERATION.set(str(message_id))
        if not charge.allowed:
            return GraphQLError(
                f"The subscription costs {cost} points; {charge.remaining} are left; retry in {charge.retry_after} s.",
                extensions={"code": "RATE_LIMITED", "cost": cost, "remaining": charge.remaining},
            )
        return None

    async def send_message(self, message: Any) -> None:
        if message.get("type") == "next":
            numbers = SEQUENCE.get()
            if numbers is not None:
                numbers["sequence"] += 1
                payload = message["payload"]
                payload["extensions"] = {
                    **(payload.get("extensions") or {}),
                    "sequence": numbers["sequence"],
                    "event": numbers["event"],
                }
        await super().send_message(message)

    async def _ping(self) -> None:
        """Ping the client now and then, so idle connections stay open through proxies."""
        while True:
            await asyncio.sleep(self.view.ping_seconds)
            if self.connection_acknowledged:
                await self.send_message({"type": "ping"})

    async def _recheck(self) -> None:
        """Close the connection soon after its token is revoked or its admin removed."""
        while True:
            await asyncio.sleep(self.view.recheck_seconds)
            if not self.connection_acknowledged or self.context.token is None:
                continue
            async with self.context.sessionmaker() as session:
                viewer = await viewer_for_token(session, self.context.token)
            if viewer is None:
                await self.websocket.close(code=REVOKED_CODE, reason=REVOKED_REASON)
                return
            # A role changed without an event reaching us: subscriptions it no longer allows end now.
            self.context.fanout.recheck(self.context, viewer)


class LiveGraphQL(GraphQL[LiveConnection, None]):
    """Strawberry's ASGI view, serving only WebSocket ``graphql-transport-ws`` (HTTP stays on web/endpoint.py).

    Args:
        costs: The cost model of the HTTP endpoint.
        budgets: The HTTP endpoint's budgets (one per caller for both).
        trusted: The HTTP endpoint's trusted documents (allow-list, persisted queries).
        max_connections: Open connections per token in this process.
        max_subscriptions: Running subscriptions per token in this process.
        ping_seconds: Server ping interval.
        recheck_seconds: Token re-check interval.
    """

    graphql_transport_ws_handler_class = LiveHandler

    def __init__(
        self,
        *,
        costs: CostModel,
        budgets: Budgets,
        trusted: TrustedDocuments | None = None,
        max_connections: int = 5,
        max_subscriptions: int = 20,
        ping_seconds: float = 15,
        recheck_seconds: float = 10,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=max_subscriptions,
        )
        self.costs = costs
        self.budgets = budgets
        self.trusted = trusted or TrustedDocuments()
        self.max_connections = max_connections
        self.max_subscriptions = max_subscriptions
        self.ping_seconds = ping_seconds
        self.recheck_seconds = recheck_seconds
        self.connections: dict[str, set[LiveHandler]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def get_context(self, request: Any, response: Any) -> LiveConnection:
        state = request.app.state
        websocket: WebSocket = response

        def close(code: int, reason: str) -> None:
            # Called from inside an operation, which the close will cancel: not awaited there.
            self._spawn(websocket.close(code=code, reason=reason))

        keys: dict[str | None, str] = {}

        def charge_event() -> bool:
            # The key hashes the token: once per connection, not per delivered message.
            key = keys.get(connection.token)
            if key is None:
                key = keys[connection.token] = caller_key(connection.token)
            return self.budgets.charge(key, EVENT_COST.get()).allowed

        async def send_next(body: str, event: int) -> None:
            # The operation's own numbers, as send_message counts them for strawberry's messages.
            numbers = SEQUENCE.get()
            assert numbers is not None  # set by the subscription before its first event
            numbers["sequence"] += 1
            numbers["event"] = event
            text = NEXT % (json.dumps(OPERATION.get()), body, numbers["sequence"], event)
            try:
                await websocket.send_text(text)
            except WebSocketDisconnect as exc:  # as strawberry's own sending
                raise WebSocketDisconnected from exc

        connection = LiveConnection(
            sessionmaker=state.sessionmaker,
            settings=state.settings,
            fanout=state.fanout,
            close=close,
            charge_event=charge_event,
            send_next=send_next,
        )
        return connection

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
