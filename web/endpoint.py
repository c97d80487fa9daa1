"""``/graphql``: one GraphQL request from HTTP to a response, with its session, viewer and loaders."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from contextvars import ContextVar
from typing import Any

import orjson
from graphql import GraphQLError
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from db.settings import Settings, today
from db.tokens import viewer_for_token
from resolvers.context import Context
from schema.cost import CostModel, is_introspection
from schema.errors import classify
from schema.guard import hostile_string_error
from schema.schema import schema
from web import metrics
from web.auth import bearer_token
from web.protocol import (
    GRAPHQL_RESPONSE,
    JSON,
    GraphQLRequest,
    RequestError,
    error_body,
    graphql_response,
    negotiate,
    read_graphql_request,
)
from web.ratelimit import Budgets

log = logging.getLogger("partnerhub")
request_log = logging.getLogger("partnerhub.request")

# SQL statements run on behalf of the current request (for logs, tests, bench).
STATEMENTS: ContextVar[list[int] | None] = ContextVar("partnerhub_statements", default=None)


def _count_statement(*_args: Any) -> None:
    counter = STATEMENTS.get()
    if counter is not None:
        counter[0] += 1


def instrument(engine: AsyncEngine) -> None:
    """Count statements per request through :data:`STATEMENTS`."""
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)


def uninstrument(engine: AsyncEngine) -> None:
    """Stop counting statements of ``engine`` (undoes :func:`instrument`)."""
    event.remove(engine.sync_engine, "before_cursor_execute", _count_statement)


async def _close_quietly(session: AsyncSession) -> None:
    """Close the request's session without turning a finished answer into a 500.

    When an error nulls ``data`` at the root, graphql-core returns while a
    sibling field may still be running a query on this session; closing then
    fails on PostgreSQL ("another operation is in progress"). The response is
    already complete, so drop the connection instead of failing the request.
    """
    try:
        await session.close()
    except Exception:
        log.warning("closing a busy session; invalidating its connection", exc_info=True)
        with contextlib.suppress(Exception):
            await session.invalidate()


class GraphQLEndpoint:
    """``/graphql`` over HTTP (GraphQL-over-HTTP): negotiation, auth, one session per request.

    GraphiQL is served to browsers asking for HTML. Everything else runs
    through the strawberry schema with a context holding the request's
    session, viewer and fresh loaders.
    """

    def __init__(self, graphiql_html: str, *, costs: CostModel, budgets: Budgets) -> None:
        self.graphiql_html = graphiql_html
        self.costs = costs
        self.budgets = budgets

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        state = request.app.state
        settings: Settings = state.settings
        accept = request.headers.get("accept")
        if request.method == "GET" and "query" not in request.query_params and "text/html" in (accept or ""):
            return HTMLResponse(self.graphiql_html)
        media_type = negotiate(accept)
        if media_type is None:
            return graphql_response(
                error_body(f"Accept {GRAPHQL_RESPONSE} or {JSON}.", "NOT_ACCEPTABLE"), status=406, media_type=JSON
            )
        if request.method not in ("GET", "POST"):
            return graphql_response(
                error_body("Use GET or POST.", "METHOD_NOT_ALLOWED"),
                status=405,
                media_type=media_type,
                headers={"Allow": "GET, POST"},
            )
        started = time.perf_counter()
        counter = [0]
        token_var = STATEMENTS.set(counter)
        log_fields: dict[str, Any] = {"method": request.method}
        status = 500
        try:
            try:
                gql = await read_graphql_request(request, settings.max_body_bytes)
            except RequestError as exc:
                log_fields["errors"] = [exc.code]
                status = exc.status
                return graphql_response(
                    error_body(exc.message, exc.code), status=exc.status, media_type=media_type, headers=exc.headers
                )
            log_fields["operation"] = gql.operation_name
            admitted = self.admit(request, gql, media_type, log_fields)
            if isinstance(admitted, Response):
                response = admitted
            else:
                response = await self.execute(request, gql, media_type, log_fields, admitted)
            # Statements run for this request (token lookup included): bench/ and tests read it.
            response.headers["X-SQL-Statements"] = str(counter[0])
            status = response.status_code
            return response
        finally:
            STATEMENTS.reset(token_var)
            elapsed = time.perf_counter() - started
            log_fields["status"] = status
            log_fields["ms"] = round(elapsed * 1000, 2)
            log_fields["sql"] = counter[0]
            request_log.info(orjson.dumps(log_fields).decode())
            metrics.observe(
                operation=log_fields.get("operation"),
                status=status,
                seconds=elapsed,
                statements=counter[0],
                codes=log_fields.get("errors") or [],
            )

    def admit(
        self, request: Request, gql: GraphQLRequest, media_type: str, log_fields: dict[str, Any]
    ) -> Response | dict[str, int]:
        """Refuse what must not run, before any SQL: too costly, unauthenticated, over the caller's budget.

        Returns:
            The refusal, or the ``extensions.cost`` of the request to answer with.
        """
        settings: Settings = request.app.state.settings
        cost = self.costs.cost(gql.query, gql.variables, gql.operation_name) or 0
        limit = settings.max_cost
        log_fields["cost"] = cost
        if cost > limit:
            log_fields["errors"] = ["QUERY_TOO_COMPLEX"]
            body = {
                "errors": [
                    {
                        "message": f"The query costs {cost} points; at most {limit} are allowed. Ask for fewer "
                        "items (smaller `first`/`last`), fewer nested lists or fewer analytics days.",
                        "extensions": {"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": limit},
                    }
                ]
            }
            return graphql_response(body, status=request_error_status(media_type), media_type=media_type)
        hostile = hostile_string_error(self.costs.document(gql.query), gql.variables, gql.operation_name)
        if hostile is not None:
            log_fields["errors"] = ["BAD_USER_INPUT"]
            return graphql_response(
                {"errors": [hostile.formatted]}, status=request_error_status(media_type), media_type=media_type
            )
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            if not is_introspection(self.costs.document(gql.query)):
                return _unauthenticated("A valid bearer token is required.", media_type, log_fields)
            caller = f"address:{request.client.host if request.client else '-'}"
        else:
            caller = "token:" + hashlib.sha256(token.encode()).hexdigest()
        charge = self.budgets.charge(caller, cost)
        if not charge.allowed:
            log_fields["errors"] = ["RATE_LIMITED"]
            body = {
                "errors": [
                    {
                        "message": f"Rate limited: this request costs {cost} points and your budget holds "
                        f"{charge.remaining}; retry in {charge.retry_after} s.",
                        "extensions": {"code": "RATE_LIMITED", "cost": cost, "remaining": charge.remaining},
                    }
                ]
            }
            return graphql_response(
                body, status=429, media_type=media_type, headers={"Retry-After": str(charge.retry_after)}
            )
        return {"requested": cost, "limit": limit, "remaining": charge.remaining}

    async def execute(
        self,
        request: Request,
        gql: GraphQLRequest,
        media_type: str,
        log_fields: dict[str, Any],
        cost: dict[str, int],
    ) -> Response:
        state = request.app.state
        settings: Settings = state.settings
        session: AsyncSession = state.sessionmaker()
        try:
            try:
                viewer = None
                token = bearer_token(request.headers.get("authorization"))
                if token is not None:
                    try:
                        viewer = await viewer_for_token(session, token)
                    except DBAPIError as exc:
                        if not exc.connection_invalidated:
                            raise
                        # A pooled connection had died (the database restarted):
                        # SQLAlchemy has now invalidated the pool. Nothing has run
                        # yet, so retry once on a fresh connection. This replaces
                        # pool_pre_ping, a round trip on every request (db/engine.py).
                        await _close_quietly(session)
                        session = state.sessionmaker()
                        viewer = await viewer_for_token(session, token)
                if viewer is None and not is_introspection(self.costs.document(gql.query)):
                    return _unauthenticated("The bearer token is invalid or revoked.", media_type, log_fields)
                log_fields["caller"] = viewer.email if viewer else None
                # Open the connection now: loaders then share it one statement at a time.
                await session.connection()
            except Exception as exc:  # noqa: BLE001 - the database is down or misbehaving
                error = classify(GraphQLError(str(exc), original_error=exc))
                log_fields["errors"] = [error.extensions["code"]]
                return graphql_response({"errors": [error.formatted]}, status=503, media_type=media_type)
            context = Context.create(session=session, viewer=viewer, today=today(), settings=settings)
            allowed = (
                {OperationType.QUERY} if request.method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
            )
            try:
                result = await schema.execute(
                    gql.query,
                    variable_values=gql.variables,
                    context_value=context,
                    operation_name=gql.operation_name,
                    allowed_operation_types=allowed,
                )
            except InvalidOperationTypeError as exc:
                log_fields["errors"] = ["METHOD_NOT_ALLOWED"]
                return graphql_response(
                    error_body(f"{exc.as_http_error_reason(request.method)}; use POST.", "METHOD_NOT_ALLOWED"),
                    status=405,
                    media_type=media_type,
                    headers={"Allow": "POST"},
                )
            except CannotGetOperationTypeError as exc:
                log_fields["errors"] = ["BAD_REQUEST"]
                return graphql_response(
                    error_body(exc.as_http_error_reason(), "BAD_REQUEST"), status=400, media_type=media_type
                )
            errors = [classify(e) for e in result.errors] if result.errors else []
            codes = [e.extensions.get("code") for e in errors]
            if codes:
                log_fields["errors"] = codes
            status = 200
            # Errors without a path were raised before execution (parse, validation,
            # bounds): the response has no `data` entry and, under the new media
            # type, status 400 (GraphQL-over-HTTP). Field errors keep `data`.
            if result.data is None and errors and all(e.path is None for e in errors):
                body: dict[str, Any] = {"errors": [e.formatted for e in errors]}
                status = 503 if "SERVICE_UNAVAILABLE" in codes else request_error_status(media_type)
            else:
                body = {"data": result.data}
                if errors:
                    body["errors"] = [e.formatted for e in errors]
            body["extensions"] = {"cost": cost}
            return graphql_response(body, status=status, media_type=media_type)
        finally:
            await _close_quietly(session)


def request_error_status(media_type: str) -> int:
    """The status of a request error (parse, validation, bounds): 400, or 200 for legacy JSON clients.

    GraphQL-over-HTTP: under ``application/graphql-response+json`` a request
    error is a 4xx; a legacy ``application/json`` client gets 200.
    """
    return 400 if media_type == GRAPHQL_RESPONSE else 200


def _unauthenticated(message: str, media_type: str, log_fields: dict[str, Any]) -> Response:
    log_fields["errors"] = ["UNAUTHENTICATED"]
    return graphql_response(
        error_body(message, "UNAUTHENTICATED"),
        status=401,
        media_type=media_type,
        headers={"WWW-Authenticate": "Bearer"},
    )
