"""partnerhub: the ASGI app (``server:app``) and the ``partnerhub`` command line.

``python server.py ARGS`` is the same as ``partnerhub ARGS``; with no
arguments both serve. The HTTP layer itself lives in :mod:`web`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import logging
import math
import sys
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.engine import make_engine, make_sessionmaker
from db.io import ImportValidationError, dump_json, export_document, load_document
from db.migrate import migrate
from db.models import Partner, PartnerAdmin
from db.seed import seed
from db.settings import Settings, get_settings, today
from db.tokens import AmbiguousEmail, create_token, revoke_tokens
from web.app import create_app
from web.http import LimitedHttpToolsProtocol
from web.persisted import DOCUMENTS_JS, DOCUMENTS_JSON, documents_json

log = logging.getLogger("partnerhub")

# Read once per process; a bad value stops here, naming its variable.
SETTINGS = get_settings()
app = create_app(settings=SETTINGS)

# ---------------------------------------------------------------- CLI


async def _with_session(fn, url: str | None = None):
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


async def _migrate(url: str | None = None) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


DEMO_CUSTOMERS = 500


async def _prepare_for_serve(settings: Settings) -> tuple[str | None, str | None]:
    """Migrate; on an empty database seed the demo partner.

    Returns a new token (only when the demo was just seeded) and the email of
    a full admin to name in the start-up message (``None`` when there is none).
    """
    await _migrate(settings.database_url)

    async def _seed_if_empty(session: AsyncSession) -> tuple[str | None, str | None]:
        partners = (await session.execute(select(func.count()).select_from(Partner))).scalar_one()
        if not partners:
            print(f"Empty database: seeding a demo partner with {DEMO_CUSTOMERS} customers…", file=sys.stderr)
            await seed(
                session, customers=DEMO_CUSTOMERS, seed=1, partner="demo", today=today(), progress=sys.stderr.isatty()
            )
        email = (
            await session.execute(
                select(col(PartnerAdmin.email))
                .where(col(PartnerAdmin.role) == "PARTNER_FULL_ADMIN")
                .order_by(PartnerAdmin.email)
                .limit(1)
            )
        ).scalar_one_or_none()
        if partners or email is None:
            return None, email
        token = await create_token(session, email=email)
        await session.commit()
        return token, email

    return await _with_session(_seed_if_empty, settings.database_url)


def startup_hint(token: str | None, email: str | None) -> str:
    """What the start-up message says about signing in: the new demo token, or how to make one."""
    if token is not None:
        return "\n".join(
            (
                f"Demo token for {email} (PARTNER_FULL_ADMIN); sign in to the dashboard with it, or in GraphiQL add the header",
                f'  {{"Authorization": "Bearer {token}"}}',
                "or in a shell:",
                f"  TOKEN={token}",
            )
        )
    if email is None:
        return "No full admin yet: import a partner (partnerhub import FILE), then: partnerhub token create EMAIL"
    return f"Make a token with:  partnerhub token create {email}"


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = SETTINGS
    host = args.host or settings.host
    port = args.port or settings.port
    token, email = asyncio.run(_prepare_for_serve(settings))
    url = f"http://{host}:{port}/graphql"
    print(f"partnerhub: dashboard at http://{host}:{port}/ · GraphiQL at {url}", file=sys.stderr)
    print(startup_hint(token, email), file=sys.stderr)
    if args.workers == 1:
        # The schema, ORM metadata and modules live as long as the process: keep
        # them out of the cyclic GC's full collections, which otherwise rescan
        # them every few requests (bench/README.md).
        gc.collect()
        gc.freeze()
    # The C HTTP parser (uvicorn[standard] installs it; bench/README.md measures it
    # against h11) with the head limits uvicorn lacks (web/http.py). Without
    # httptools, h11 bounds the head's size only.
    if importlib.util.find_spec("httptools"):
        LimitedHttpToolsProtocol.settings = settings
        http: Any = LimitedHttpToolsProtocol
    else:
        log.warning("httptools is not installed: header count and header timeout are not enforced")
        http = "h11"
    uvicorn.run(
        "server:app" if args.workers > 1 else app,
        host=host,
        port=port,
        workers=args.workers,
        log_level=settings.log_level,
        # Every request already gets one JSON line (partnerhub.request) with the
        # operation, caller, status and timing; uvicorn's access line repeated it.
        access_log=False,
        # In-flight requests get this long after SIGTERM; then uvicorn cancels
        # them, and with them their SQL (web/endpoint.py unless_disconnected).
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        timeout_keep_alive=settings.keep_alive_timeout_s,  # type: ignore[arg-type]
        # Running requests and connections are capped apart in web/http.py.
        limit_concurrency=None if http != "h11" else settings.max_concurrency,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # The C event loop where it exists (uvicorn[standard]).
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=http,
    )
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    asyncio.run(_migrate())
    print("partnerhub: database schema is up to date", file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
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
    data = dump_json(asyncio.run(_with_session(export_document)))
    if args.file == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(args.file, "wb") as fh:
            fh.write(data)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
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
    async def _run(session: AsyncSession) -> str | int:
        value: str | int
        if args.action == "create":
            value = await create_token(session, email=args.email, partner=args.partner)
        else:
            value = await revoke_tokens(session, email=args.email, partner=args.partner)
        await session.commit()
        return value

    try:
        value = asyncio.run(_with_session(_run))
    except LookupError as exc:
        hint = " with --partner ID" if isinstance(exc, AmbiguousEmail) else ""
        print(f"partnerhub: {exc.args[0] if exc.args else exc}{hint}", file=sys.stderr)
        return 1
    if args.action == "create":
        print(value)
    else:
        print(f"partnerhub: revoked {value} token(s) of {args.email}", file=sys.stderr)
    return 0


def cmd_documents(_args: argparse.Namespace) -> int:
    """Write the dashboard's trusted-documents list (web/static/documents.json) from documents.js."""
    DOCUMENTS_JSON.write_text(documents_json(DOCUMENTS_JS), encoding="utf-8")
    print(f"partnerhub: wrote {DOCUMENTS_JSON}", file=sys.stderr)
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
    token.add_argument(
        "--partner", default=None, help="the admin's partner (its id in the import file, or database id)"
    )
    token.set_defaults(fn=cmd_token)
    sub.add_parser(
        "documents", help="write web/static/documents.json (the allow-list of PARTNERHUB_TRUSTED_DOCUMENTS)"
    ).set_defaults(fn=cmd_documents)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``partnerhub`` console script."""
    logging.basicConfig(level=SETTINGS.log_level.upper(), format="%(message)s")
    # Alembic narrates every plugin and revision at INFO; only its problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
