"""partnerhub: the Starlette app serving ``/graphql``, and the ``partnerhub`` CLI.

``python server.py ARGS`` is the same as ``partnerhub ARGS``; with no
arguments both serve.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import logging
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from db.engine import make_engine, make_sessionmaker
from db.settings import Settings, get_settings, today
from loaders import Loaders
from resolvers import metrics
from resolvers.auth import bearer_token, is_introspection_only, viewer_for_token
from resolvers.context import Context
from schema.errors import classify
from schema.schema import schema

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


GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class RequestError(Exception):
    """A request that is not a well-formed GraphQL-over-HTTP request."""

    def __init__(
        self, status: int, message: str, code: str = "BAD_REQUEST", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header (GraphQL-over-HTTP §Accept).

    No header means a legacy client: ``application/json``. Of the two GraphQL
    media types the one with the higher q wins; on a tie (and for wildcards)
    ``application/graphql-response+json``. ``None`` when neither is acceptable.
    """
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        media = media.lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (q, 2, GRAPHQL_RESPONSE)
        elif media in ("*/*", "application/*"):
            candidate = (q, 1, GRAPHQL_RESPONSE)
        elif media == JSON:
            candidate = (q, 1, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def graphql_response(
    body: dict[str, Any], *, status: int, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """Encode a GraphQL response body with orjson."""
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        headers=headers,
    )


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


@dataclass
class GraphQLRequest:
    """The parameters of one GraphQL-over-HTTP request."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def _parse_params(raw: dict[str, Any], *, from_get: bool) -> GraphQLRequest:
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "The request has no `query` string.")
    variables = raw.get("variables")
    if from_get and isinstance(variables, str):
        try:
            variables = orjson.loads(variables) if variables else None
        except orjson.JSONDecodeError:
            raise RequestError(400, "`variables` is not valid JSON.") from None
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "`variables` must be a JSON object.")
    operation_name = raw.get("operationName")
    if operation_name == "":
        operation_name = None
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "`operationName` must be a string.")
    return GraphQLRequest(query=query, variables=variables, operation_name=operation_name)


async def read_graphql_request(request: Request, max_body_bytes: int) -> GraphQLRequest:
    """Parse a GET or POST GraphQL request, or raise :class:`RequestError`."""
    if request.method == "GET":
        return _parse_params(dict(request.query_params), from_get=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise RequestError(415, "Send the request as `Content-Type: application/json`.", "UNSUPPORTED_MEDIA_TYPE")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise RequestError(413, f"The request body exceeds {max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body_bytes:
            raise RequestError(413, f"The request body exceeds {max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(400, "The request body is not valid JSON.") from None
    if isinstance(payload, list):
        raise RequestError(400, "Batched requests are not supported; send one operation per request.")
    if not isinstance(payload, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return _parse_params(payload, from_get=False)


REQUEST_ERROR_CODES = frozenset(
    {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_COMPLEX", "BAD_USER_INPUT"}
)


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

    def __init__(self, graphiql_html: str) -> None:
        self.graphiql_html = graphiql_html

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
            response = await self.execute(request, gql, media_type, log_fields)
            # Statements run for this request (token lookup included): bench/ reads it.
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

    async def execute(
        self, request: Request, gql: GraphQLRequest, media_type: str, log_fields: dict[str, Any]
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
                if viewer is None and not is_introspection_only(gql.query):
                    message = (
                        "A valid bearer token is required."
                        if token is None
                        else "The bearer token is invalid or revoked."
                    )
                    log_fields["errors"] = ["UNAUTHENTICATED"]
                    return graphql_response(
                        error_body(message, "UNAUTHENTICATED"),
                        status=401,
                        media_type=media_type,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                log_fields["caller"] = viewer.email if viewer else None
                # Open the connection now: loaders then share it one statement at a time.
                await session.connection()
            except Exception as exc:  # noqa: BLE001 - the database is down or misbehaving
                error = classify(GraphQLError(str(exc), original_error=exc))
                log_fields["errors"] = [error.extensions["code"]]
                return graphql_response({"errors": [error.formatted]}, status=503, media_type=media_type)
            day = today()
            context = Context(
                session=session,
                viewer=viewer,
                loaders=Loaders(session=session, viewer=viewer, today=day, settings=settings),
                today=day,
                settings=settings,
                stats={"statements": STATEMENTS.get()},
            )
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
                if media_type == GRAPHQL_RESPONSE:
                    status = 503 if "SERVICE_UNAVAILABLE" in codes else 400
            else:
                body = {"data": result.data}
                if errors:
                    body["errors"] = [e.formatted for e in errors]
            return graphql_response(body, status=status, media_type=media_type)
        finally:
            await _close_quietly(session)


async def healthz(_request: Request) -> Response:
    """The process is up."""
    return PlainTextResponse("ok")


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics of this process."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    metrics.sample_pool(request.app.state.engine.pool)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def readyz(request: Request) -> Response:
    """The database answers."""
    try:
        async with request.app.state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": "unavailable", "reason": exc.__class__.__name__}, status_code=503)
    return JSONResponse({"status": "ready"})


# The dashboard (web/static/): files installed with the package beside this module.
# Only that folder is served, never the package's Python modules.
WEB_DIR = Path(__file__).resolve().parent / "web" / "static"
DASHBOARD_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def dashboard(_request: Request) -> Response:
    """``/``: the single-page dashboard on the public GraphQL API."""
    index = WEB_DIR / "index.html"
    if not index.is_file():
        return PlainTextResponse("The dashboard is not installed; the API is at /graphql.", status_code=404)
    return FileResponse(index, headers=DASHBOARD_HEADERS)


def dashboard_routes() -> list:
    """``/`` (the page) and ``/static/...`` (its files, from web/static/)."""
    return [
        Route("/", dashboard, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=WEB_DIR, check_dir=False), name="static"),
    ]


def create_app(*, engine: AsyncEngine | None = None, settings: Settings | None = None) -> Starlette:
    """The ASGI application. Tests pass their own engine."""
    settings = settings or get_settings()
    owns_engine = engine is None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        nonlocal engine
        if engine is None:
            engine = make_engine(settings.database_url)
        instrument(engine)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.settings = settings
        try:
            yield
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", _count_statement)
            if owns_engine:
                await engine.dispose()

    return Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(get_graphql_ide_html("graphiql"))),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *dashboard_routes(),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )


app = create_app()


# ---------------------------------------------------------------- CLI


async def _with_session(fn, url: str | None = None):
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


async def _migrate(url: str | None = None) -> None:
    from db.migrate import migrate

    engine = make_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


DEMO_CUSTOMERS = 500


async def _prepare_for_serve(settings: Settings) -> str | None:
    """Migrate; on an empty database seed the demo partner. Returns a new token, if one was made."""
    from db.models import Partner, PartnerAdmin
    from db.seed import seed
    from db.tokens import create_token

    await _migrate(settings.database_url)

    async def _seed_if_empty(session: AsyncSession) -> str | None:
        partners = (await session.execute(select(func.count()).select_from(Partner))).scalar_one()
        if partners:
            return None
        print(f"Empty database: seeding a demo partner with {DEMO_CUSTOMERS} customers…", file=sys.stderr)
        await seed(
            session, customers=DEMO_CUSTOMERS, seed=1, partner="demo", today=today(), progress=sys.stderr.isatty()
        )
        email = (
            await session.execute(
                select(PartnerAdmin.email)
                .where(PartnerAdmin.role == "PARTNER_FULL_ADMIN")
                .order_by(PartnerAdmin.email)
                .limit(1)
            )
        ).scalar_one()
        token = await create_token(session, email=email)
        await session.commit()
        return f"{token}\t{email}"

    return await _with_session(_seed_if_empty, settings.database_url)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    created = asyncio.run(_prepare_for_serve(settings))
    url = f"http://{host}:{port}/graphql"
    print(f"partnerhub: dashboard at http://{host}:{port}/ · GraphiQL at {url}", file=sys.stderr)
    if created:
        token, email = created.split("\t")
        print(f"Demo token for {email} (PARTNER_FULL_ADMIN); add this header in GraphiQL:", file=sys.stderr)
        print(f'  {{"Authorization": "Bearer {token}"}}', file=sys.stderr)
        print(
            "Then run:  { viewer { email role } customers(first: 5) { totalCount nodes { name statuses } } }",
            file=sys.stderr,
        )
    else:
        print("Make a token with:  partnerhub token create EMAIL", file=sys.stderr)
    if args.workers == 1:
        # The schema, ORM metadata and modules live as long as the process: keep
        # them out of the cyclic GC's full collections, which otherwise rescan
        # them every few requests (bench/README.md).
        gc.collect()
        gc.freeze()
    uvicorn.run(
        "server:app" if args.workers > 1 else app,
        host=host,
        port=port,
        workers=args.workers,
        log_level=settings.log_level,
        # Every request already gets one JSON line (partnerhub.request) with the
        # operation, caller, status and timing; uvicorn's access line repeated it.
        access_log=False,
        timeout_graceful_shutdown=20,
        # The C event loop and HTTP parser (uvicorn[standard] installs both where
        # they exist); bench/README.md measures them against asyncio + h11.
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
    )
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    asyncio.run(_migrate())
    print("partnerhub: database schema is up to date", file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from db.io import ImportValidationError, load_document

    if args.file == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as fh:
            raw = fh.read()
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        print(f"$: not valid JSON: {exc}", file=sys.stderr)
        return 2

    async def _load(session: AsyncSession):
        return await load_document(session, doc)

    try:
        asyncio.run(_migrate())
        result = asyncio.run(_with_session(_load))
    except ImportValidationError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"partnerhub: {len(exc.problems)} problem(s); nothing was written", file=sys.stderr)
        return 1
    print(f"partnerhub: loaded {result}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from db.io import dump_json, export_document

    data = dump_json(asyncio.run(_with_session(export_document)))
    if args.file == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(args.file, "wb") as fh:
            fh.write(data)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from db.seed import seed

    async def _seed(session: AsyncSession):
        return await seed(
            session,
            customers=args.customers,
            seed=args.seed,
            partner=args.partner,
            today=today(),
            progress=sys.stderr.isatty(),
        )

    asyncio.run(_migrate())
    result = asyncio.run(_with_session(_seed))
    print(f"partnerhub: seeded {result}", file=sys.stderr)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from db.tokens import create_token, revoke_tokens

    async def _run(session: AsyncSession):
        if args.action == "create":
            value = await create_token(session, email=args.email)
        else:
            value = await revoke_tokens(session, email=args.email)
        await session.commit()
        return value

    try:
        value = asyncio.run(_with_session(_run))
    except LookupError as exc:
        print(f"partnerhub: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    if args.action == "create":
        print(value)
    else:
        print(f"partnerhub: revoked {value} token(s) of {args.email}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="partnerhub", description="GraphQL API server behind a partner portal.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="migrate, seed demo data into an empty database, serve")
    serve.add_argument("--host", default=None, help="bind address (PARTNERHUB_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (PARTNERHUB_PORT, default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(fn=cmd_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(fn=cmd_migrate)
    load = sub.add_parser("load", help="import the JSON of SPEC §5 (- for stdin)")
    load.add_argument("file")
    load.set_defaults(fn=cmd_load)
    export = sub.add_parser("export", help="export the whole database as JSON (- for stdout)")
    export.add_argument("file")
    export.set_defaults(fn=cmd_export)
    seed = sub.add_parser("seed", help="generate deterministic demo data")
    seed.add_argument("--customers", type=int, required=True, help="number of customers (up to 100000)")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    seed.add_argument("--partner", default="demo", help="partner id (default demo)")
    seed.set_defaults(fn=cmd_seed)
    token = sub.add_parser("token", help="create or revoke API tokens")
    token.add_argument("action", choices=["create", "revoke"])
    token.add_argument("email")
    token.set_defaults(fn=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``partnerhub`` console script."""
    logging.basicConfig(level=get_settings().log_level.upper(), format="%(message)s")
    # Alembic narrates every plugin and revision at INFO; only its problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
