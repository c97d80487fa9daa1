"""partnerhub: the Starlette app serving ``/graphql``, and the ``partnerhub`` CLI.

``python server.py ARGS`` is the same as ``partnerhub ARGS``; with no
arguments both serve.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import deque
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from db.engine import make_engine, make_sessionmaker
from db.settings import Settings, get_settings, today
from loaders import Loaders
from resolvers.auth import bearer_token, is_introspection_only, viewer_for_token
from resolvers.context import Context
from schema.errors import classify
from schema.schema import schema

log = logging.getLogger("partnerhub")

# SQL statements run on behalf of the current request (for logs, tests, bench).
STATEMENTS: ContextVar[list[int] | None] = ContextVar("partnerhub_statements", default=None)
# Statement counts of the most recent requests, newest last (tests read it).
STATEMENT_LOG: deque[int] = deque(maxlen=100)


def _count_statement(*_args: Any) -> None:
    counter = STATEMENTS.get()
    if counter is not None:
        counter[0] += 1


def instrument(engine: AsyncEngine) -> None:
    """Count statements per request through :data:`STATEMENTS`."""
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status, headers=headers)


class StrawberryApp(GraphQL):
    """Strawberry's ASGI view, taking the context the endpoint prepared."""

    async def get_context(self, request: Any, response: Any) -> Context:  # noqa: D401
        return request.scope["partnerhub.context"]

    async def process_result(self, request: Any, result: Any) -> Any:
        # Parse errors never reach schema extensions; give every error its code here.
        if result.errors:
            result.errors = [classify(e) for e in result.errors]
        return await super().process_result(request, result)


class GraphQLEndpoint:
    """``/graphql``: authentication, one session per request, then strawberry.

    The request body is read here once (bounded by ``max_body_bytes``) and
    replayed to strawberry.
    """

    def __init__(self, strawberry_app: StrawberryApp) -> None:
        self.strawberry_app = strawberry_app

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        app_state = request.app.state
        settings: Settings = app_state.settings
        if request.method == "GET" and "query" not in request.query_params:
            # GraphiQL (for a browser) needs no token; strawberry answers it.
            await self.strawberry_app(scope, receive, send)
            return
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            await _error(413, f"Request body exceeds {settings.max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")(scope, receive, send)
            return
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                await _error(413, f"Request body exceeds {settings.max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")(scope, receive, send)
                return

        counter = [0]
        token_var = STATEMENTS.set(counter)
        started = time.perf_counter()
        session: AsyncSession = app_state.sessionmaker()
        try:
            viewer = None
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                viewer = await viewer_for_token(session, token)
            if viewer is None and not is_introspection_only(_query_text(request, body)):
                message = "A valid bearer token is required." if token is None else "The bearer token is invalid or revoked."
                await _error(401, message, "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
            # Open the connection now: loaders then share it one statement at a time.
            await session.connection()
            scope["partnerhub.context"] = Context(
                session=session,
                viewer=viewer,
                loaders=Loaders(session=session, viewer=viewer, today=today(), settings=settings),
                today=today(),
                settings=settings,
                stats={"statements": counter},
            )
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.strawberry_app(scope, replay, send)
        finally:
            await session.close()
            STATEMENTS.reset(token_var)
            STATEMENT_LOG.append(counter[0])
            log.debug("graphql request took %.1f ms, %d statements", (time.perf_counter() - started) * 1000, counter[0])


def _query_text(request: Request, body: bytes) -> str | None:
    if request.method == "GET":
        return request.query_params.get("query")
    content_type = request.headers.get("content-type", "")
    if "application/graphql" in content_type and "json" not in content_type:
        return body.decode("utf-8", "replace")
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("query"), str):
        return payload["query"]
    return None


async def healthz(_request: Request) -> Response:
    """The process is up."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """The database answers."""
    try:
        async with request.app.state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": "unavailable", "reason": exc.__class__.__name__}, status_code=503)
    return JSONResponse({"status": "ready"})


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

    strawberry_app = StrawberryApp(schema, graphql_ide="graphiql")
    return Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(strawberry_app), methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
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
        await seed(session, customers=DEMO_CUSTOMERS, seed=1, partner="demo", today=today(), progress=sys.stderr.isatty())
        email = (
            await session.execute(
                select(PartnerAdmin.email).where(PartnerAdmin.role == "PARTNER_FULL_ADMIN").order_by(PartnerAdmin.email).limit(1)
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
    print(f"partnerhub: GraphiQL at {url}", file=sys.stderr)
    if created:
        token, email = created.split("\t")
        print(f"Demo token for {email} (PARTNER_FULL_ADMIN); add this header in GraphiQL:", file=sys.stderr)
        print(f'  {{"Authorization": "Bearer {token}"}}', file=sys.stderr)
        print("Then run:  { viewer { email role } customers(first: 5) { totalCount nodes { name statuses } } }", file=sys.stderr)
    else:
        print("Make a token with:  partnerhub token create EMAIL", file=sys.stderr)
    uvicorn.run(
        "server:app" if args.workers > 1 else app,
        host=host,
        port=port,
        workers=args.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=20,
    )
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    asyncio.run(_migrate())
    print("partnerhub: database schema is up to date", file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from db.io import ImportValidationError, load_document

    raw = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
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
            session, customers=args.customers, seed=args.seed, partner=args.partner, today=today(), progress=sys.stderr.isatty()
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
