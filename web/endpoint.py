"""``/graphql``: one GraphQL request from HTTP to a response, with its session, viewer and loaders."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
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

from db.engine import interrupter, open_connection
from db.settings import Settings, today
from db.tokens import cached_viewer
from resolvers.context import Context
from schema.compiled import Plans
from schema.cost import CostModel, is_introspection
from schema.errors import classify
from schema.guard import hostile_string_error
from schema.schema import schema
from web import idempotency, metrics
from web.auth import bearer_token
from web.persisted import TrustedDocuments
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
    if not event.contains(engine.sync_engine, "before_cursor_execute", _count_statement):
        event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)


def uninstrument(engine: AsyncEngine) -> None:
    """Stop counting statements of ``engine`` (undoes :func:`instrument`)."""
    # Two apps may share a test's engine: the first to stop removes the listener.
    if event.contains(engine.sync_engine, "before_cursor_execute", _count_statement):
        event.remove(engine.sync_engine, "before_cursor_execute", _count_statement)


QUERY_TIMEOUT = "QUERY_TIMEOUT"  # extensions.code of a field whose statement ran past its time limit
# PostgreSQL's query_canceled (statement_timeout) and in_failed_sql_transaction:
# after a timeout the request's transaction is aborted, so the fields that run
# after it fail with the second one; they are the same timeout to the client.
_CANCELED, _ABORTED = "57014", "25P02"


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__


def statement_timed_out(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps) is a statement stopped by its time limit (db/engine.py)."""
    return any(
        getattr(e, "sqlstate", None) == _CANCELED
        or (isinstance(e, sqlite3.OperationalError) and str(e) == "interrupted")
        for e in _chain(exc)
    )


def _timeout_fallout(exc: BaseException | None) -> bool:
    return statement_timed_out(exc) or any(getattr(e, "sqlstate", None) == _ABORTED for e in _chain(exc))


def timeout_error(error: GraphQLError, timeout_ms: int) -> GraphQLError:
    """The client's view of a field whose statement ran past the time limit."""
    return GraphQLError(
        f"The query ran past the {timeout_ms} ms database time limit; ask for less "
        "(fewer items, fewer nested lists or fewer analytics days).",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": QUERY_TIMEOUT, "timeoutMs": timeout_ms},
    )


class ServerStopping(Exception):
    """The request was cancelled because the server is shutting down."""


async def _until_disconnect(receive: Any) -> None:
    """Return when the client has gone (only call once the request body has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(
    request: Request, work: Awaitable[Response], stoppers: list[Callable[[], None]], in_flight: set[asyncio.Future]
) -> Response | None:
    """Run ``work`` while the client stays; cancel it (and with it its SQL) if the client leaves or the server stops.

    Args:
        request: The request, whose body has been read.
        work: Answers the request.
        stoppers: Filled by ``work`` with functions that stop its running
            statement (:func:`db.engine.interrupter`). They are called before
            the task is cancelled: cancelling first would make SQLAlchemy close
            the SQLite connection, which waits for the statement to end.
        in_flight: The app's running work; the work is in it until it ends, so
            that the app's shutdown can wait for cancelled work to end.

    Returns:
        The response, or ``None`` when the client left first.
    """
    task = asyncio.ensure_future(work)
    in_flight.add(task)
    task.add_done_callback(in_flight.discard)

    def stop() -> None:
        for stopper in stoppers:
            stopper()
        task.cancel()

    watch = asyncio.ensure_future(_until_disconnect(request.receive))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # The server is shutting down past its grace period (uvicorn cancels
        # the request): stop the work too, and wait for its statements to be
        # cancelled and its session closed before the engine is disposed.
        stop()
        await asyncio.gather(task, return_exceptions=True)
        # Answer 503 rather than end in an exception (uvicorn logs a traceback for it).
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        raise ServerStopping from None
    finally:
        watch.cancel()
    if task.done():
        return task.result()
    stop()
    await asyncio.gather(task, return_exceptions=True)
    return None


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

    def __init__(
        self,
        graphiql_html: str,
        *,
        graphiql_headers: dict[str, str],
        costs: CostModel,
        budgets: Budgets,
        trusted: TrustedDocuments | None = None,
    ) -> None:
        self.graphiql_html = graphiql_html
        self.trusted = trusted or TrustedDocuments()
        self.graphiql_headers = graphiql_headers
        # Hashes of tokens seen valid by this process (bounded; see admit()).
        self.valid_tokens: OrderedDict[str, None] = OrderedDict()
        self.costs = costs
        self.budgets = budgets
        # Execution plans of the documents seen (schema/compiled.py): per process, bounded.
        self.plans = Plans(schema)

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        state = request.app.state
        settings: Settings = state.settings
        accept = request.headers.get("accept")
        if request.method == "GET" and "query" not in request.query_params and "text/html" in (accept or ""):
            return HTMLResponse(self.graphiql_html, headers=self.graphiql_headers)
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
                gql = self.trusted.resolve(gql, lambda query: is_introspection(self.costs.document(query)))
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
                response = await self.answer(request, gql, media_type, log_fields, admitted)
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
                authenticated=log_fields.get("caller") is not None,
                status=status,
                seconds=elapsed,
                statements=counter[0],
                codes=log_fields.get("errors") or [],
            )

    def remember_valid(self, token: str) -> None:
        """Budget ``token`` on its own from now on (at most 10,000 remembered, oldest forgotten)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        self.valid_tokens[key] = None
        self.valid_tokens.move_to_end(key)
        if len(self.valid_tokens) > 10_000:
            self.valid_tokens.popitem(last=False)

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
        token = bearer_token(request.headers.get("authorization"))
        token_hash = hashlib.sha256(token.encode()).hexdigest() if token is not None else None
        # A token is its own caller once it has been seen valid; until then (and
        # without one) the client's address pays, so made-up tokens get no fresh budgets.
        if token_hash is not None and token_hash in self.valid_tokens:
            caller = "token:" + token_hash
        else:
            caller = f"address:{request.client.host if request.client else '-'}"
        if cost > limit:
            # A refusal costs a tenth of the limit: a client that keeps sending
            # what cannot run soon waits like one that runs too much.
            charge = self.budgets.charge(caller, limit // 10)
            if not charge.allowed:
                return _rate_limited(cost, charge, media_type, log_fields)
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
        if token is None and not is_introspection(self.costs.document(gql.query)):
            return _unauthenticated("A valid bearer token is required.", media_type, log_fields)
        charge = self.budgets.charge(caller, cost)
        if not charge.allowed:
            return _rate_limited(cost, charge, media_type, log_fields)
        return {"requested": cost, "limit": limit, "remaining": charge.remaining}

    async def answer(
        self, request: Request, gql: GraphQLRequest, media_type: str, log_fields: dict[str, Any], cost: dict[str, int]
    ) -> Response:
        """Execute the admitted request (once per ``Idempotency-Key``) unless its client leaves or the server stops."""
        return await idempotency.once(
            request,
            gql,
            self.costs.document(gql.query),
            media_type,
            log_fields,
            cost,
            lambda: self.run(request, gql, media_type, log_fields, cost),
        )

    async def run(
        self, request: Request, gql: GraphQLRequest, media_type: str, log_fields: dict[str, Any], cost: dict[str, int]
    ) -> Response:
        """Execute the admitted request unless its client leaves or the server stops first."""
        stoppers: list[Callable[[], None]] = []
        try:
            answer = await unless_disconnected(
                request,
                self.execute(request, gql, media_type, log_fields, cost, stoppers),
                stoppers,
                request.app.state.in_flight,
            )
        except ServerStopping:
            log_fields["errors"] = ["SERVICE_UNAVAILABLE"]
            return graphql_response(
                error_body("The server is shutting down; retry the request.", "SERVICE_UNAVAILABLE"),
                status=503,
                media_type=media_type,
                headers={"Retry-After": "1"},
            )
        if answer is None:
            # Nobody reads it; 499 (nginx's "client closed request") in the log and metrics.
            log_fields["errors"] = ["CLIENT_CLOSED_REQUEST"]
            return Response(status_code=499)
        return answer

    async def execute(
        self,
        request: Request,
        gql: GraphQLRequest,
        media_type: str,
        log_fields: dict[str, Any],
        cost: dict[str, int],
        stoppers: list[Callable[[], None]],
    ) -> Response:
        state = request.app.state
        settings: Settings = state.settings
        session: AsyncSession = state.sessionmaker()
        # Only a mutation needs the session's transaction (the mutation runner
        # ends it and opens its own); anything else runs in autocommit on
        # PostgreSQL (db.engine.open_connection).
        read_only = not idempotency.is_mutation(self.costs.document(gql.query), gql.operation_name)
        try:
            try:
                viewer = None
                # Opened now, before the token lookup, so that a query's lookup
                # runs without a transaction too; loaders then share it one
                # statement at a time.
                connection = await open_connection(session, read_only=read_only)
                token = bearer_token(request.headers.get("authorization"))
                if token is not None:
                    try:
                        viewer = await cached_viewer(session, token)
                    except DBAPIError as exc:
                        if not exc.connection_invalidated:
                            raise
                        # A pooled connection had died (the database restarted):
                        # SQLAlchemy has now invalidated the pool. Nothing has run
                        # yet, so retry once on a fresh connection. This replaces
                        # pool_pre_ping, a round trip on every request (db/engine.py).
                        await _close_quietly(session)
                        session = state.sessionmaker()
                        connection = await open_connection(session, read_only=read_only)
                        viewer = await cached_viewer(session, token)
                if viewer is None and not is_introspection(self.costs.document(gql.query)):
                    return _unauthenticated("The bearer token is invalid or revoked.", media_type, log_fields)
                if viewer is not None and token is not None:
                    self.remember_valid(token)
                log_fields["caller"] = viewer.email if viewer else None
                stoppers.append(interrupter(connection))
            except Exception as exc:  # noqa: BLE001 - the database is down or misbehaving
                error = classify(GraphQLError(str(exc), original_error=exc))
                log_fields["errors"] = [(error.extensions or {}).get("code")]
                return graphql_response({"errors": [error.formatted]}, status=503, media_type=media_type)
            context = Context.create(session=session, viewer=viewer, today=today(), settings=settings)
            allowed = (
                {OperationType.QUERY} if request.method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
            )
            # A query whose document has a plan runs by it; the plan steps aside
            # (None) for anything it does not expect, and the request runs normally.
            result = await self.plans.execute(gql.query, gql.operation_name, gql.variables, context)
            try:
                if result is None:
                    result = await schema.execute(
                        gql.query,
                        variable_values=gql.variables,
                        context_value=context,
                        operation_name=gql.operation_name,
                        allowed_operation_types=allowed,
                    )
                    if (
                        not result.errors
                        and result.data is not None
                        and not self.plans.known(gql.query, gql.operation_name)
                    ):
                        self.plans.learn(gql.query, gql.operation_name)
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
            raw = result.errors or []
            timed_out = any(statement_timed_out(e.original_error) for e in raw)
            if timed_out:
                log.warning(
                    "statement time limit (%d ms) reached: %s", settings.statement_timeout_ms, gql.operation_name
                )
            errors = [
                timeout_error(e, settings.statement_timeout_ms)
                if timed_out and _timeout_fallout(e.original_error)
                else classify(e)
                for e in raw
            ]
            codes = [(e.extensions or {}).get("code") for e in errors]
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


def _rate_limited(cost: int, charge: Any, media_type: str, log_fields: dict[str, Any]) -> Response:
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
    return graphql_response(body, status=429, media_type=media_type, headers={"Retry-After": str(charge.retry_after)})


def _unauthenticated(message: str, media_type: str, log_fields: dict[str, Any]) -> Response:
    log_fields["errors"] = ["UNAUTHENTICATED"]
    return graphql_response(
        error_body(message, "UNAUTHENTICATED"),
        status=401,
        media_type=media_type,
        headers={"WWW-Authenticate": "Bearer"},
    )
