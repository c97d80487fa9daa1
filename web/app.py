"""The ASGI application: ``/graphql``, health, metrics and the dashboard's files."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from db import events
from db.engine import make_engine, make_sessionmaker
from db.settings import Settings, get_settings
from schema.cost import CostModel, Weights
from schema.fanout import Fanout
from schema.schema import schema
from web import metrics
from web.auth import bearer_token
from web.endpoint import GraphQLEndpoint, instrument, uninstrument
from web.live import LiveGraphQL
from web.persisted import TrustedDocuments
from web.ratelimit import Budgets
from web.warmer import run_warmer


async def healthz(_request: Request) -> Response:
    """The process is up."""
    return PlainTextResponse("ok")


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics of this process, for the bearer of ``PARTNERHUB_METRICS_TOKEN`` only.

    Without that setting the endpoint does not exist (404): metrics name
    operations, error rates and pool use, which are not for every caller.
    """
    expected = request.app.state.settings.metrics_token
    if expected is None:
        return PlainTextResponse("Not Found", status_code=404)
    given = bearer_token(request.headers.get("authorization"))
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        return PlainTextResponse(
            "The metrics bearer token is required.", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
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
WEB_DIR = Path(__file__).resolve().parent / "static"
DASHBOARD_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# GraphiQL (web/static/graphiql/, vendored: no CDN) embeds its fonts as data: URLs.
GRAPHIQL_HEADERS = {
    **DASHBOARD_HEADERS,
    "Content-Security-Policy": DASHBOARD_HEADERS["Content-Security-Policy"] + "; font-src 'self' data:",
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
    """The ASGI application.

    Args:
        engine: The database engine; by default one made from ``settings``
            with its statement timeout and pool size. Tests pass their own
            (and with it their own time limit, if any).
        settings: Read once from the environment when omitted.
    """
    settings = settings or get_settings()
    owns_engine = engine is None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        nonlocal engine
        if engine is None:
            engine = make_engine(
                settings.database_url,
                statement_timeout_ms=settings.statement_timeout_ms,
                pool_size=settings.db_pool_size,
            )
        instrument(engine)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.settings = settings
        app.state.trusted = trusted
        app.state.in_flight = set()
        app.state.broker = events.make_broker(engine, queue_size=settings.live_queue_size)
        app.state.fanout = Fanout(app.state.broker, app.state.sessionmaker, settings)
        await app.state.broker.start()
        warmer = asyncio.create_task(run_warmer(engine, settings)) if settings.facts_warmer else None
        try:
            yield
        finally:
            if warmer is not None:
                warmer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warmer
            await app.state.fanout.stop()
            await app.state.broker.stop()
            events.forget_broker(engine, app.state.broker)
            # Requests still running past the shutdown grace period have been
            # cancelled by uvicorn; let them end (their statements cancelled,
            # their sessions closed) before the engine goes.
            if app.state.in_flight:
                await asyncio.wait(app.state.in_flight, timeout=5)
            uninstrument(engine)
            if owns_engine:
                await engine.dispose()

    # One for HTTP and WebSocket: the same rule, and in apq mode the same documents remembered.
    trusted = TrustedDocuments.load(settings.trusted_documents, cache_size=settings.persisted_queries_cache)
    costs = CostModel(schema._schema, Weights(), max_tokens=settings.max_tokens)
    budgets = Budgets(capacity=settings.cost_budget, refill_per_second=settings.cost_refill_per_second)
    return Starlette(
        routes=[
            Route(
                "/graphql",
                GraphQLEndpoint(
                    (WEB_DIR / "graphiql" / "index.html").read_text(encoding="utf-8"),
                    graphiql_headers=GRAPHIQL_HEADERS,
                    costs=costs,
                    budgets=budgets,
                    trusted=trusted,
                ),
            ),
            WebSocketRoute(
                "/graphql",
                LiveGraphQL(
                    costs=costs,
                    budgets=budgets,
                    trusted=trusted,
                    max_connections=settings.live_max_connections,
                    max_subscriptions=settings.live_max_subscriptions,
                    ping_seconds=settings.live_ping_s,
                    recheck_seconds=settings.live_recheck_s,
                ),
            ),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *dashboard_routes(),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
