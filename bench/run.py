"""The benchmark of issue 6: seed, serve, measure over HTTP, report.

    .venv/bin/python -m bench.run                       # everything (see bench/README.md)
    .venv/bin/python -m bench.run --sizes 10000 --dbs postgresql --quick

For each database (SQLite file, PostgreSQL) and size (1,000 / 10,000 /
100,000 customers) it makes sure a seeded database exists (reused between
runs; ``--reseed`` rebuilds), starts the real server with uvicorn in its own
process, and measures over HTTP:

0. the comparison page, 1. the list page, 2. the list page deep by cursor
and filtered by EXPIRING_SOON, 3. a customer detail, 4. the dashboard (when the
schema has ``kpis``) — p50/p95 latency one request at a time; 5. throughput
of (0) and (1) at 16 connections for 20 s. Every response is checked for
errors; SQL statements per request come from the server's
``X-SQL-Statements`` header; the server's CPU time per request and peak RSS
come from /proc. The floor of (0) and (1) — the same rows by hand-written SQL
encoded to the same JSON bytes — is timed in this process next to the same
pages through strawberry in-process. On PostgreSQL, page (0) is also served
by PostGraphile 5 on the same database (bench/graphile.py installs it into the
git-ignored bench/.postgraphile/ once) and both servers are measured in
alternating rounds (``--no-postgraphile`` leaves it out).

Results go to bench/results/<timestamp>.json and a table on stdout;
``--update-readme`` writes the table into bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from bench import floor, graphile, loadgen, queries
from bench.process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
RESULTS_DIR = ROOT / "bench" / "results"
README = ROOT / "bench" / "README.md"
TODAY = "2026-11-25"  # fixed, so seeded databases stay valid whatever the date
PARTNER = "bench"
SIZES = (1000, 10000, 100000)
DEEP_PAGES = 100
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- databases


def database_url(kind: str, size: int, pg_base: str, pg_prefix: str = "bench_") -> str:
    if kind == "sqlite":
        return f"sqlite:///{DATA_DIR / f'sqlite_{size}.db'}"
    return f"{pg_base.rstrip('/')}/{pg_prefix}{size}"


async def _customer_count(url: str) -> int | None:
    try:
        db = floor.Db(url)
        await db.open()
    except Exception:
        return None
    try:
        rows = await db.fetch(
            "SELECT count(*) FROM customer c JOIN partner p ON p.id = c.partner_id WHERE p.key = :1", PARTNER
        )
        return int(rows[0][0])
    except Exception:
        return None
    finally:
        await db.close()


async def _pg_admin(pg_base: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{pg_base.rstrip('/')}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_exists(pg_base: str, name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(f"{pg_base.rstrip('/')}/postgres")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "PARTNERHUB_TODAY": TODAY, "PYTHONUNBUFFERED": "1"})
    # The bench is one caller sending thousands of requests a second: issue 13's
    # per-caller cost budget would answer most of them RATE_LIMITED (12,000
    # errors in 5 s at 16 connections), so the bench measures with a budget
    # that never runs dry (the server's own environment may still override it).
    env.setdefault("PARTNERHUB_COST_BUDGET", str(10**12))
    env.setdefault("PARTNERHUB_COST_REFILL_PER_SECOND", str(10**12))
    return env


async def _sql(url: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one statement on its own connection (committed on SQLite, which does not autocommit writes)."""
    db = floor.Db(url)
    await db.open()
    try:
        rows = await db.fetch(sql, *args)
        if not db.pg:
            await db.conn.commit()
        return rows
    finally:
        await db.close()


def _same_data_bytes(floor_body: bytes, server_body: bytes | None) -> bool:
    """The server's body is the floor's bytes, followed by nothing or by its ``extensions`` (the request's cost).

    The floor writes ``{"data":…}`` only; the server adds the cost it charged
    (issue 13) after ``data``, which the floor has no part in.
    """
    if server_body is None:
        return False
    return server_body == floor_body or server_body.startswith(floor_body[:-1] + b',"extensions":')


async def analyze(url: str) -> None:
    """Planner statistics, as a maintained database has them.

    ``partnerhub seed``/``load`` write in bulk and leave the statistics to
    autovacuum, which this machine's PostgreSQL runs with off; without them
    PostgreSQL sorts all 100,000 customers for a page instead of walking the
    (partner_id, name_key) index (60 ms instead of 0.2 ms).
    """
    await _sql(url, "ANALYZE")


async def ensure_database(kind: str, size: int, pg_base: str, reseed: bool, pg_prefix: str = "bench_") -> str:
    """A database of ``size`` seeded customers (partner ``bench``); seeds it only when needed."""
    url = database_url(kind, size, pg_base, pg_prefix)
    if not reseed and await _customer_count(url) == size:
        log(f"{kind} {size:,}: reusing the seeded database")
        await analyze(url)
        return url
    log(f"{kind} {size:,}: seeding {size:,} customers (a few minutes for 100,000)…")
    if kind == "sqlite":
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(DATA_DIR / f"sqlite_{size}.db") + suffix).unlink(missing_ok=True)
    else:
        name = f"{pg_prefix}{size}"
        if await _pg_exists(pg_base, name):
            await _pg_admin(pg_base, f'DROP DATABASE "{name}" WITH (FORCE)')
        await _pg_admin(pg_base, f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "seed", "--customers", str(size), "--partner", PARTNER],
        env=_env(url),
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log(f"{kind} {size:,}: seeded in {time.perf_counter() - started:.0f} s")
    await analyze(url)
    return url


async def clear_trend_cache(url: str) -> None:
    """Forget every cached trend day (db/trend_cache.py), as an import does."""
    await _sql(url, "DELETE FROM trend_cache")


async def make_token(url: str) -> str:
    rows = await _sql(
        url,
        "SELECT a.email FROM partner_admin a JOIN partner p ON p.id = a.partner_id "
        "WHERE p.key = :1 AND a.role = 'PARTNER_FULL_ADMIN' ORDER BY a.email LIMIT 1",
        PARTNER,
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "token", "create", rows[0][0]],
        env=_env(url),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server(ServerProcess):
    """The real server (``server.py serve``) in its own process."""

    def __init__(self, url: str, server_dir: Path, variant: list[str], log_path: Path, workers: int = 1) -> None:
        self.url, self.server_dir, self.variant, self.log_path = url, server_dir, variant, log_path
        self.workers = workers
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        command = [
            sys.executable,
            str(ROOT / "bench" / "serve.py"),
            "--server-dir",
            str(self.server_dir),
            *self.variant,
            "--",
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command, env=_env(self.url), cwd=self.server_dir, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        await self.wait_ready(HOST, "the server", self.log_path)


# ---------------------------------------------------------------- cases


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token

    def request(self, query: str, variables: dict | None = None) -> bytes:
        return loadgen.build_request(HOST, self.port, self.token, query, variables)

    async def json(self, query: str, variables: dict | None = None) -> dict:
        response = await loadgen.request_once(HOST, self.port, self.request(query, variables))
        body = orjson.loads(response.body)
        if response.status != 200 or body.get("errors"):
            raise RuntimeError(f"{response.status}: {str(body)[:500]}")
        return body["data"]


async def deep_cursor(client: Client, flt: dict | None) -> tuple[str | None, int]:
    """The cursor after ``DEEP_PAGES`` pages of 50 (or the last full page), walking by cursor."""
    after, page, cursors = None, 0, []
    while page < DEEP_PAGES:
        data = await client.json(queries.CURSOR_WALK, {"first": queries.PAGE_SIZE, "after": after, "filter": flt})
        info = data["customers"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        cursors.append(after)
        page += 1
    if page < DEEP_PAGES and len(cursors) >= 2:
        # The list ends earlier: take the cursor before the last full page.
        return cursors[-2], len(cursors) - 1
    return (cursors[-1] if cursors else None), len(cursors)


def _scalar(type_ref: dict) -> bool:
    while type_ref["kind"] in ("NON_NULL", "LIST"):
        type_ref = type_ref["ofType"]
    return type_ref["kind"] in ("SCALAR", "ENUM")


def _named(type_ref: dict) -> str:
    while type_ref["kind"] in ("NON_NULL", "LIST"):
        type_ref = type_ref["ofType"]
    return type_ref["name"]


def _callable(field: dict) -> bool:
    return all(a["defaultValue"] is not None or a["type"]["kind"] != "NON_NULL" for a in field["args"])


async def dashboard_query(client: Client) -> str | None:
    """(4) built from introspection: kpis, and analytics(MEETINGS) with every section's first 25 rows."""
    fields = {f["name"] for f in (await client.json(queries.HAS_KPIS))["__schema"]["queryType"]["fields"]}
    if "kpis" not in fields or "analytics" not in fields:
        return None
    types: dict[str, dict] = {}

    async def of(name: str) -> dict:
        if name not in types:
            types[name] = (await client.json(queries.TYPE_FIELDS, {"name": name}))["__type"]
        return types[name]

    async def scalars(name: str) -> list[str]:
        return [f["name"] for f in (await of(name))["fields"] if _scalar(f["type"]) and _callable(f)]

    query_type = {f["name"]: f for f in (await of("Query"))["fields"]}
    kpis = " ".join(await scalars(_named(query_type["kpis"]["type"])))
    analytics_type = _named(query_type["analytics"]["type"])
    parts = await scalars(analytics_type)
    for field in (await of(analytics_type))["fields"]:
        if _scalar(field["type"]):
            continue
        sub = _named(field["type"])
        sub_fields = {f["name"]: f for f in (await of(sub))["fields"]}
        if "rows" in sub_fields:
            row_type = _named(
                {f["name"]: f for f in (await of(_named(sub_fields["rows"]["type"])))["fields"]}["nodes"]["type"]
            )
            row_fields = " ".join(await scalars(row_type))
            customer = (
                " customer { id name }" if any(f["name"] == "customer" for f in (await of(row_type))["fields"]) else ""
            )
            section = " ".join(await scalars(sub))
            parts.append(f"{field['name']} {{ {section} rows(first: 25) {{ nodes {{ {row_fields}{customer} }} }} }}")
        elif _callable(field):
            parts.append(f"{field['name']} {{ {' '.join(await scalars(sub))} }}")
    return f"query Dashboard {{ kpis {{ {kpis} }} analytics(product: MEETINGS) {{ {' '.join(parts)} }} }}"


async def build_cases(client: Client) -> tuple[dict[str, dict], list[str]]:
    """The requests of each case (several variants where a case rotates)."""
    notes: list[str] = []
    page = {"first": queries.PAGE_SIZE}
    deep_after, deep_pages = await deep_cursor(client, None)
    flt = {"statuses": ["EXPIRING_SOON"]}
    filtered_after, filtered_pages = await deep_cursor(client, flt)
    ids = [n["id"] for n in (await client.json(queries.DETAIL_IDS, {"first": 50}))["customers"]["nodes"]]
    cases: dict[str, dict] = {
        "0 compare": {"requests": [client.request(queries.COMPARE, page)]},
        "1 list": {"requests": [client.request(queries.LIST_PAGE, page)]},
        "2a deep": {
            "requests": [client.request(queries.LIST_PAGE, {**page, "after": deep_after})],
            "note": f"page {deep_pages + 1}",
        },
        "2b deep+filtered": {
            "requests": [client.request(queries.LIST_PAGE, {**page, "after": filtered_after, "filter": flt})],
            "note": f"EXPIRING_SOON, page {filtered_pages + 1}",
        },
        "3 detail": {
            "requests": [client.request(queries.DETAIL, {"id": i}) for i in ids],
            "note": f"{len(ids)} customers in turn",
        },
    }
    dashboard = await dashboard_query(client)
    if dashboard is None:
        notes.append("(4) skipped: the schema has no `kpis` yet.")
    else:
        cases["4 dashboard"] = {"requests": [client.request(dashboard)], "query": dashboard}
    return cases, notes


# ---------------------------------------------------------------- floor vs in-process GraphQL


async def floor_and_inprocess(url: str, token: str, http_bodies: dict[str, bytes], repeat: int) -> dict:
    """Time (0) and (1) by hand-written SQL and through strawberry, in this process."""
    os.environ["PARTNERHUB_TODAY"] = TODAY
    from db.engine import make_engine, make_sessionmaker
    from db.settings import get_settings, today
    from db.tokens import viewer_for_token
    from resolvers.context import Context
    from schema.schema import schema

    settings = get_settings()
    day = dt.date.fromisoformat(TODAY)
    db = floor.Db(url)
    await db.open()
    engine = make_engine(url)
    maker = make_sessionmaker(engine)

    async def graphql(query: str, variables: dict) -> bytes:
        async with maker() as session:
            viewer = await viewer_for_token(session, token)
            await session.connection()
            context = Context.create(session=session, viewer=viewer, today=today(), settings=settings)
            result = await schema.execute(query, variable_values=variables, context_value=context)
        assert not result.errors, result.errors
        return orjson.dumps({"data": result.data})

    pages = {
        "0 compare": (
            lambda: floor.compare_page(db, token, queries.PAGE_SIZE),
            lambda: graphql(queries.COMPARE, {"first": queries.PAGE_SIZE}),
        ),
        "1 list": (
            lambda: floor.list_page(db, token, queries.PAGE_SIZE, day, settings.launch_base_url),
            lambda: graphql(queries.LIST_PAGE, {"first": queries.PAGE_SIZE}),
        ),
    }
    out: dict[str, Any] = {}
    try:
        for name, (hand, gql) in pages.items():
            hand_body, gql_body = await hand(), await gql()
            timings = {}
            for label, fn in (("floor", hand), ("graphql", gql)):
                for _ in range(5):
                    await fn()
                samples = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    await fn()
                    samples.append(time.perf_counter() - t0)
                timings[label] = round(statistics.median(samples) * 1000, 2)
            out[name] = {
                "floor_ms": timings["floor"],
                "graphql_inprocess_ms": timings["graphql"],
                "ratio": round(timings["graphql"] / timings["floor"], 1),
                "identical_to_http_response": _same_data_bytes(hand_body, http_bodies.get(name)),
                "identical_to_inprocess": hand_body == gql_body,
            }
    finally:
        await db.close()
        await engine.dispose()
    return out


# ---------------------------------------------------------------- PostGraphile reference (issue 14)


def _customer_id(global_id: str) -> int:
    """The row id in partnerhub's global ID (urlsafe base64 of ``Customer:<id>``, unpadded)."""
    kind, _, db_id = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().partition(":")
    assert kind == "Customer", global_id
    return int(db_id)


def page_difference(ours: bytes, theirs: bytes) -> str | None:
    """None when both (0) pages list the same customers in the same order with the same subscriptions."""
    a = [
        (_customer_id(n["id"]), n["name"], [tuple(s.values()) for s in n["subscriptions"]])
        for n in orjson.loads(ours)["data"]["customers"]["nodes"]
    ]
    b = [
        (n["rowId"], n["name"], [tuple(s.values()) for s in n["plansByCustomerId"]["nodes"]])
        for n in orjson.loads(theirs)["data"]["allCustomers"]["nodes"]
    ]
    if len(a) != len(b):
        return f"{len(a)} customers vs {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x[:2] != y[:2]:
            return f"customer {i + 1}: {x[:2]} vs {y[:2]}"
        if x[2] != y[2]:
            return f"subscriptions of {x[1]!r}: {x[2]} vs {y[2]}"
    return None


Measure = Callable[[ServerProcess, bytes], Awaitable[loadgen.Stats]]


def one_at_a_time(seconds: float) -> Measure:
    """A round of an A/B comparison: one request at a time for ``seconds`` (after 5), the server's CPU read."""

    async def measure(process: ServerProcess, request: bytes) -> loadgen.Stats:
        return await loadgen.sequential(
            HOST,
            process.port,
            [request],
            count=10**9,
            max_seconds=seconds,
            warmup=5,
            min_count=1,
            server_cpu=process.cpu_seconds,
        )

    return measure


def at_connections(seconds: float, connections: int) -> Measure:
    """A round of an A/B comparison: ``connections`` clients for ``seconds``, the server's CPU read."""

    async def measure(process: ServerProcess, request: bytes) -> loadgen.Stats:
        return await loadgen.concurrent(
            HOST, process.port, [request], connections=connections, seconds=seconds, server_cpu=process.cpu_seconds
        )

    return measure


async def _ab(
    sides: dict[str, tuple[ServerProcess, bytes]],
    rounds: int,
    measure: Measure,
    per_round: str,
) -> dict[str, dict]:
    """``rounds`` rounds of equal length alternating between the sides (A B A B …); one summary per side.

    ``per_round`` names the figure of each round kept in the summary (to show the spread).
    """
    names = list(sides)
    parts: dict[str, list] = {name: [] for name in names}
    for i in range(rounds):
        name = names[i % len(names)]
        parts[name].append(await measure(*sides[name]))
    out = {}
    for name in names:
        summary = loadgen.Stats.merged(parts[name]).summary()
        summary["rounds"] = [part.summary()[per_round] for part in parts[name]]
        out[name] = summary
    return out


async def postgraphile_reference(
    installed: graphile.Installed, url: str, server: Server, token: str, args: argparse.Namespace, log_path: Path
) -> dict:
    """(0) on partnerhub and on PostGraphile, same database, same load generator, A/B/A/B rounds."""
    partner_id = (await _sql(url, "SELECT id FROM partner WHERE key = :1", PARTNER))[0][0]
    reference = graphile.PostGraphile(installed, url, _free_port(), HOST, log_path)
    log(f"PostGraphile {installed.version} on Node {installed.node_version}: starting")
    await reference.start()
    try:
        ours = loadgen.build_request(HOST, server.port, token, queries.COMPARE, {"first": queries.PAGE_SIZE})
        theirs = loadgen.build_request(
            HOST,
            reference.port,
            None,
            queries.POSTGRAPHILE_COMPARE,
            {"first": queries.PAGE_SIZE, "partnerId": partner_id},
        )
        bodies = []
        for port, request in ((server.port, ours), (reference.port, theirs)):
            response = await loadgen.request_once(HOST, port, request)
            if response.status != 200 or loadgen.ERROR_MARKER in response.body:
                raise RuntimeError(f"HTTP {response.status}: {response.body[:300]!r}")
            bodies.append(response.body)
        difference = page_difference(*bodies)
        if difference is not None:
            return {"skipped": f"the two pages differ ({difference}); not compared"}
        sides = {"partnerhub": (server, ours), "PostGraphile": (reference, theirs)}
        seconds = args.ab_seconds

        # Warm both up alike (the JIT of node, the caches of both) before measuring.
        for process, request in sides.values():
            await loadgen.concurrent(HOST, process.port, [request], connections=args.connections, seconds=1.0)
        out: dict[str, Any] = {
            "same_page": True,
            "partner_id": partner_id,
            "query": queries.POSTGRAPHILE_COMPARE,
            "rounds": args.ab_rounds,
            "round_seconds": seconds,
            "latency": await _ab(sides, args.ab_rounds, one_at_a_time(seconds), "p50_ms"),
        }
        if not args.no_throughput:
            out["throughput"] = await _ab(sides, args.ab_rounds, at_connections(seconds, args.connections), "rps")
        out["peak_rss_mb"] = reference.peak_rss_mb()
        for mode in ("latency", "throughput"):
            if mode in out:
                a, b = out[mode]["partnerhub"], out[mode]["PostGraphile"]
                log(
                    f"(0) A/B {mode}: partnerhub p50 {a['p50_ms']} ms, {a['rps']} req/s; "
                    f"PostGraphile p50 {b['p50_ms']} ms, {b['rps']} req/s"
                )
        return out
    finally:
        reference.stop()


# ---------------------------------------------------------------- one database and size


async def run_one(kind: str, size: int, args: argparse.Namespace) -> dict:
    url = await ensure_database(kind, size, args.pg, args.reseed, args.pg_prefix)
    token = await make_token(url)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    server = Server(
        url, Path(args.server_dir), args.variant, RESULTS_DIR / "logs" / f"{stamp}-{kind}-{size}.log", args.workers
    )
    log(f"{kind} {size:,}: starting the server")
    await server.start()
    result: dict[str, Any] = {"db": kind, "customers": size, "cases": {}, "throughput": {}}
    try:
        client = Client(server.port, token)
        cases, notes = await build_cases(client)
        result["notes"] = notes
        bodies: dict[str, bytes] = {}
        for name, case in cases.items():
            if args.cases and name.split()[0] not in args.cases:
                continue
            if name.startswith("4"):
                # The partner-wide trend of past days is cached once computed
                # (db/trend_cache.py). Measure the first dashboard after every
                # cached day was forgotten (as after an import), then the usual
                # repeated requests, which read the cached days.
                await clear_trend_cache(url)
                stats = await loadgen.sequential(
                    HOST,
                    server.port,
                    case["requests"],
                    count=1,
                    max_seconds=0,
                    warmup=0,
                    min_count=1,
                    server_cpu=server.cpu_seconds,
                )
                summary = stats.summary()
                summary["note"] = "first request, trend cache empty"
                result["cases"]["4c dashboard, cold"] = summary
                log(
                    f"{kind} {size:,} 4c dashboard, cold: {summary['p50_ms']} ms, {summary['sql_per_request']} SQL, "
                    f"errors {summary['errors']}"
                )
            t0 = time.perf_counter()
            first = await loadgen.request_once(HOST, server.port, case["requests"][0])
            first_seconds = time.perf_counter() - t0
            slow = first_seconds > 1.0
            bodies[name] = first.body
            if "query" in case:
                result["dashboard_query"] = case["query"]
            stats = await loadgen.sequential(
                HOST,
                server.port,
                case["requests"],
                count=args.requests,
                max_seconds=args.seconds_per_case,
                warmup=1 if slow else 5,
                min_count=(2 if first_seconds > 5 else 5) if slow else 20,
                server_cpu=server.cpu_seconds,
            )
            summary = stats.summary()
            summary["note"] = case.get("note")
            result["cases"][name] = summary
            log(
                f"{kind} {size:,} {name}: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
                f"{summary['sql_per_request']} SQL, errors {summary['errors']}"
            )
        if not args.no_throughput:
            for name in ("0 compare", "1 list"):
                if args.cases and name.split()[0] not in args.cases:
                    continue
                stats = await loadgen.concurrent(
                    HOST,
                    server.port,
                    cases[name]["requests"],
                    connections=args.connections,
                    seconds=args.duration,
                    server_cpu=server.cpu_seconds,
                )
                summary = stats.summary()
                result["throughput"][name] = summary
                log(
                    f"{kind} {size:,} {name} x{args.connections}: {summary['rps']} req/s, p50 {summary['p50_ms']} ms, "
                    f"p95 {summary['p95_ms']} ms, errors {summary['errors']}"
                )
        if kind == "postgresql" and args.reference is not None and (not args.cases or "0" in args.cases):
            if isinstance(args.reference, str):
                result["postgraphile"] = {"skipped": args.reference}
            else:
                try:
                    result["postgraphile"] = await postgraphile_reference(
                        args.reference,
                        url,
                        server,
                        token,
                        args,
                        RESULTS_DIR / "logs" / f"{stamp}-{kind}-{size}-postgraphile.log",
                    )
                except (RuntimeError, OSError) as exc:
                    result["postgraphile"] = {"skipped": str(exc)}
            if "skipped" in result["postgraphile"]:
                log(f"{kind} {size:,}: PostGraphile row skipped: {result['postgraphile']['skipped']}")
        result["peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
    if not args.no_floor and (not args.cases or {"0", "1"} & set(args.cases)):
        result["floor"] = await floor_and_inprocess(url, token, bodies, args.floor_repeat)
        for name, f in result["floor"].items():
            log(
                f"{kind} {size:,} {name}: floor {f['floor_ms']} ms vs strawberry in-process {f['graphql_inprocess_ms']} ms "
                f"(identical bytes: {f['identical_to_http_response']})"
            )
    return result


# ---------------------------------------------------------------- report


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**20, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def calibrate() -> float:
    """Milliseconds of a fixed pure-Python loop: how busy/slow the machine is right now."""
    t0 = time.process_time()
    x = 0
    for i in range(2_000_000):
        x += i
    return round((time.process_time() - t0) * 1000, 1)


def _issue14_targets(by: dict[tuple[str, int], dict]) -> list[tuple[str, str, str]]:
    """Issue 14's targets this run can judge that issue 6's rows do not (its "(1) ≥ 200 req/s" is issue 6's row).

    One server process; "after a write" is bench/after_write.py's.
    """
    out = []
    pg10 = by.get(("postgresql", 10000)) or {}
    ab = (pg10.get("postgraphile") or {}).get("throughput") or {}
    if ab.get("partnerhub") and ab.get("PostGraphile"):
        ours, theirs = ab["partnerhub"]["rps"], ab["PostGraphile"]["rps"]
        ratio = ours / theirs
        out.append(
            (
                "issue 14: (0) partnerhub / PostGraphile ≥ 1.0 req/s at 16 connections, PostgreSQL 10k",
                "met" if ratio >= 1 else "NOT met",
                f"{ours} / {theirs} req/s = {ratio:.2f}",
            )
        )
    pg100 = by.get(("postgresql", 100000)) or {}
    p50s = {
        c: (pg100.get("cases", {}).get(c) or {}).get("p50_ms")
        for c in ("1 list", "2a deep", "2b deep+filtered", "3 detail")
    }
    if all(v is not None for v in p50s.values()):
        out.append(
            (
                "issue 14: p50 of (1)–(3) < 20 ms at 100k, PostgreSQL",
                "met" if max(p50s.values()) < 20 else "NOT met",
                ", ".join(f"({c.split()[0]}) {v} ms" for c, v in p50s.items()),
            )
        )
    sqlite100 = (by.get(("sqlite", 100000)) or {}).get("cases", {}).get("4 dashboard") or {}
    if sqlite100.get("p50_ms") is not None:
        out.append(
            (
                "issue 14: (4) SQLite 100k < 1 s",
                "met" if sqlite100["p50_ms"] < 1000 else "NOT met",
                f"{sqlite100['p50_ms']} ms",
            )
        )
    return out


def check_targets(runs: list[dict]) -> list[tuple[str, str, str]]:
    """(target, status, evidence) for each target of issues 6 and 14 this run can judge."""
    by = {(r["db"], r["customers"]): r for r in runs}
    out = []

    def rps(db: str, size: int, case: str) -> float | None:
        return ((by.get((db, size)) or {}).get("throughput", {}).get(case) or {}).get("rps")

    for case, need in (("0 compare", 500), ("1 list", 200)):
        value = rps("postgresql", 10000, case)
        if value is not None:
            out.append(
                (f"({case[0]}) ≥ {need} req/s, PostgreSQL 10k", "met" if value >= need else "NOT met", f"{value} req/s")
            )
    for db in ("postgresql", "sqlite"):
        big, small = by.get((db, 100000)), by.get((db, 1000))
        if big:
            for case in ("1 list", "2a deep", "2b deep+filtered", "3 detail"):
                p50 = (big["cases"].get(case) or {}).get("p50_ms")
                if p50 is not None:
                    out.append(
                        (
                            f"({case.split()[0]}) p50 < 40 ms at 100k, {db}",
                            "met" if p50 < 40 else "NOT met",
                            f"{p50} ms",
                        )
                    )
                if small and p50 is not None and (small["cases"].get(case) or {}).get("p50_ms"):
                    base = small["cases"][case]["p50_ms"]
                    ratio = p50 / base
                    out.append(
                        (
                            f"({case.split()[0]}) 100k ≤ 1.5 × 1k, {db}",
                            "met" if ratio <= 1.5 else "NOT met",
                            f"{base} → {p50} ms (×{ratio:.2f})",
                        )
                    )
            dash = (big["cases"].get("4 dashboard") or {}).get("p50_ms")
            if dash is not None:
                out.append(
                    (
                        f"(4) p50 < 250 ms at 100k, {db} (trend's past days cached)",
                        "met" if dash < 250 else "NOT met",
                        f"{dash} ms",
                    )
                )
            cold = (big["cases"].get("4c dashboard, cold") or {}).get("p50_ms")
            if cold is not None:
                out.append(
                    (
                        f"(4) < 250 ms at 100k, {db}, first request with the trend cache empty",
                        "met" if cold < 250 else "NOT met",
                        f"{cold} ms",
                    )
                )
    out += _issue14_targets(by)
    peak = max((r.get("peak_rss_mb") or 0) for r in runs) if runs else None
    if peak:
        out.append(("peak RSS < 300 MB", "met" if peak < 300 else "NOT met", f"max {peak} MB"))
    errors = sum(c["errors"] for r in runs for c in [*r["cases"].values(), *r["throughput"].values()])
    out.append(("0 errors", "met" if errors == 0 else "NOT met", f"{errors} errors"))
    varying = []
    for db in ("postgresql", "sqlite"):
        for case in ("0 compare", "1 list", "2a deep", "2b deep+filtered", "3 detail", "4 dashboard"):
            # The detail case rotates through customers whose tabs differ (no trials:
            # no trial licences to load), so compare the most statements a request took.
            counts = {r["customers"]: _most(r["cases"].get(case)) for r in runs if r["db"] == db}
            counts = {k: v for k, v in counts.items() if v is not None}
            if len(set(counts.values())) > 1:
                varying.append(f"{db} {case}: {counts}")
    out.append(
        (
            "SQL statements per request independent of size",
            "met" if not varying else "NOT met",
            "same (most) count at every size" if not varying else "; ".join(varying),
        )
    )
    return out


def _most(summary: dict | None) -> int | None:
    value = (summary or {}).get("sql_per_request")
    if isinstance(value, list):
        return max(value) if value else None
    return value


def _rows(run: dict) -> list[tuple[str, dict | None, str]]:
    """(case, summary, partnerhub / PostGraphile) rows of one run; the A/B rows of (0) follow (0)'s own rows."""
    rows = [(name, s, "") for name, s in run["cases"].items()]
    rows += [(f"5 throughput {name}", s, "") for name, s in run["throughput"].items()]
    reference = run.get("postgraphile")
    if not reference:
        return rows
    if "skipped" in reference:
        extra = {"0 compare": [("0 compare, PostGraphile", None, f"skipped: {reference['skipped']}")]}
    else:
        extra = {}
        for mode, anchor, metric in (
            ("latency", "0 compare", "p50_ms"),
            ("throughput", "5 throughput 0 compare", "rps"),
        ):
            if mode not in reference:
                continue
            ours, theirs = reference[mode]["partnerhub"], reference[mode]["PostGraphile"]
            unit = "ms" if metric == "p50_ms" else "req/s"
            label = "p50" if metric == "p50_ms" else "req/s"
            extra[anchor] = []
            for side, s in (("partnerhub", ours), ("PostGraphile", theirs)):
                rounds = ", ".join(str(v) for v in s["rounds"])
                note = f"A/B, {len(s['rounds'])} rounds of {reference['round_seconds']} s: {rounds} {unit}"
                ratio = ""
                if side == "PostGraphile" and ours[metric] and theirs[metric]:
                    ratio = f"{label} ×{ours[metric] / theirs[metric]:.2f}"
                extra[anchor].append((f"{anchor}, A/B {side}", {**s, "note": note}, ratio))
    out = []
    for row in rows:
        out.append(row)
        out += extra.pop(row[0], [])
    for leftover in extra.values():
        out += leftover
    return out


def table(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"Run {meta['date']} on {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gib']} GiB, Python {meta['machine']['python']}; {meta['postgresql']}; "
        f"SQLite {meta['sqlite']}. Load average before/after: {meta['load_before']} / {meta['load_after']}; "
        f"calibration loop {meta['calibration_ms']} ms (≈ 90 ms on an idle core). Commit {meta['commit']}"
        + (f"; variant {meta['variant']}" if meta.get("variant") else "")
        + ".",
        "",
        f"Latency: one request at a time. Throughput: {meta.get('connections', 16)} connections for "
        f"{meta['duration']} s. *SQL* = statements per request (`X-SQL-Statements`, token lookup included); "
        "*CPU* = server process CPU ms per request.",
        "",
    ]
    reference = meta.get("postgraphile")
    if reference:
        lines += [
            f"PostGraphile rows (issue 14): PostGraphile {reference['version']} on Node {reference['node']} "
            "(Amber preset, `SubscriptionPlugin` disabled, pool of 10, `GRAPHILE_ENV=production`) on the same "
            "database; page (0) on both servers, one process each, in alternating rounds (partnerhub first) of "
            f"{reference['round_seconds']} s, {reference['rounds']} rounds one at a time, then "
            f"{reference['rounds']} at {meta.get('connections', 16)} connections, with the same load generator; "
            "both pages checked to list the same customers in the same order with the same subscriptions. "
            "*partnerhub / PostGraphile*: partnerhub's p50 over PostGraphile's (one at a time; below 1: "
            "partnerhub answers sooner) and req/s over req/s (throughput; above 1: partnerhub serves more).",
            "",
        ]
    lines += [
        "| db | customers | case | p50 ms | p95 ms | req/s | errors | SQL | CPU ms | KiB | note | partnerhub / PostGraphile |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for run in results["runs"]:
        for name, s, ratio in _rows(run):
            if s is None:
                lines.append(f"| {run['db']} | {run['customers']:,} | {name} | | | | | | | | {ratio} | |")
                continue
            sql = s["sql_per_request"] if s["sql_per_request"] != [] else "–"
            lines.append(
                f"| {run['db']} | {run['customers']:,} | {name} | {s['p50_ms']} | {s['p95_ms']} | {s['rps']} | "
                f"{s['errors']} | {sql} | {s.get('server_cpu_ms_per_request')} | "
                f"{(s['response_bytes'] or 0) // 1024} | {s.get('note') or ''} | {ratio} |"
            )
    rss = [f"{r['db']} {r['customers']:,}: {r.get('peak_rss_mb')} MB" for r in results["runs"]]
    rss += [
        f"PostGraphile {r['db']} {r['customers']:,}: {r['postgraphile']['peak_rss_mb']} MB"
        for r in results["runs"]
        if (r.get("postgraphile") or {}).get("peak_rss_mb")
    ]
    lines += ["", "Peak server RSS: " + ", ".join(rss) + "."]
    floors = [(r, n, f) for r in results["runs"] for n, f in (r.get("floor") or {}).items()]
    if floors:
        lines += [
            "",
            "Floor: the same page by hand-written SQL on the raw driver, encoded to the same JSON bytes, "
            "vs the same page through strawberry, both in one process (median ms per page, no HTTP).",
            "",
            "| db | customers | page | floor ms | strawberry ms | × | same bytes as the server |",
            "|---|---:|---|---:|---:|---:|---|",
        ]
        for r, n, f in floors:
            lines.append(
                f"| {r['db']} | {r['customers']:,} | {n} | {f['floor_ms']} | {f['graphql_inprocess_ms']} | "
                f"{f['ratio']} | {'yes' if f['identical_to_http_response'] else 'NO'} |"
            )
    lines += ["", "| target | status | measured |", "|---|---|---|"]
    lines += [f"| {t} | {s} | {e} |" for t, s, e in results["targets"]]
    notes = sorted({n for r in results["runs"] for n in r.get("notes", [])})
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def update_readme(text: str) -> None:
    content = README.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start in content and end in content:
        head, rest = content.split(start, 1)
        _old, tail = rest.split(end, 1)
        content = f"{head}{start}\n{text}\n{end}{tail}"
    else:
        content += f"\n{start}\n{text}\n{end}\n"
    README.write_text(content)


async def pg_version(pg_base: str) -> str:
    import asyncpg

    try:
        conn = await asyncpg.connect(f"{pg_base.rstrip('/')}/postgres")
    except Exception:
        return "PostgreSQL unreachable"
    try:
        return "PostgreSQL " + (await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> int:
    import sqlite3

    if args.render:
        # The table again from a saved run (the targets are judged anew, by this code).
        saved = orjson.loads(Path(args.render).read_bytes())
        saved["targets"] = check_targets(saved["runs"])
        _publish(saved, args.update_readme)
        return 0
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "postgresql": await pg_version(args.pg) if "postgresql" in args.dbs else "PostgreSQL not run",
            "sqlite": sqlite3.sqlite_version,
            "commit": commit + ("+uncommitted changes" if dirty else ""),
            "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "calibration_ms": calibrate(),
            "duration": args.duration,
            "connections": args.connections,
            "variant": " ".join(args.variant) or None,
            "server_dir": str(args.server_dir),
        },
        "runs": [],
    }
    # PostGraphile (issue 14): installed once for all PostgreSQL sizes; a
    # string is why its rows are skipped.
    args.reference = None
    if args.postgraphile and "postgresql" in args.dbs and (not args.cases or "0" in args.cases):
        args.reference = graphile.install(log)
        if isinstance(args.reference, str):
            log(f"PostGraphile row skipped: {args.reference}")
        else:
            results["meta"]["postgraphile"] = {
                "version": args.reference.version,
                "node": args.reference.node_version,
                "rounds": args.ab_rounds,
                "round_seconds": args.ab_seconds,
            }
    try:
        for kind in args.dbs:
            for size in args.sizes:
                results["runs"].append(await run_one(kind, size, args))
    finally:
        results["meta"]["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        results["targets"] = check_targets(results["runs"])
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"{stamp}{'-' + args.label if args.label else ''}.json"
        path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
        log(f"results: {path}")
        _publish(results, args.update_readme)
    return 0


def _publish(results: dict[str, Any], readme: bool) -> None:
    """Print the results' table and, with ``readme``, write it into bench/README.md."""
    text = table(results)
    print(text)
    if readme:
        update_readme(text)
        log(f"table written to {README}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="customer counts (default 1000,10000,100000)"
    )
    parser.add_argument("--dbs", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG", "postgresql://127.0.0.1"),
        help="PostgreSQL server URL without a database; <prefix><size> databases are created there",
    )
    parser.add_argument(
        "--pg-prefix",
        default=os.environ.get("BENCH_PG_PREFIX", "bench_"),
        help="name prefix of the PostgreSQL databases (default bench_, i.e. bench_10000); another prefix keeps "
        "one checkout's databases apart from another's on a shared server",
    )
    parser.add_argument("--reseed", action="store_true", help="drop and seed the databases again")
    parser.add_argument("--requests", type=int, default=300, help="requests per latency case (default 300)")
    parser.add_argument("--seconds-per-case", type=float, default=6.0, help="time limit per latency case")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per throughput run (default 20)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--floor-repeat", type=int, default=100)
    parser.add_argument("--cases", default="", help="only these case numbers, e.g. 0,1")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer requests, 5 s throughput runs")
    parser.add_argument("--server-dir", default=str(ROOT), help="source tree to serve (for before/after runs)")
    parser.add_argument("--variant", default="", help="bench/serve.py options, e.g. '--executor stock'")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="`partnerhub serve --workers N` (N > 1: CPU and RSS columns are the supervisor's only; compare req/s)",
    )
    parser.add_argument(
        "--postgraphile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="PostGraphile reference rows for (0) on each PostgreSQL size (default on; installs it into "
        "bench/.postgraphile/ with npm once, skipped with a message when npm or the registry is missing)",
    )
    parser.add_argument(
        "--ab-rounds", type=int, default=4, help="rounds of the (0) partnerhub/PostGraphile A/B comparison (A B A B)"
    )
    parser.add_argument(
        "--ab-seconds", type=float, default=None, help="seconds per A/B round (default 10, with --quick 3)"
    )
    parser.add_argument("--label", default="", help="suffix of the results file")
    parser.add_argument(
        "--render",
        default="",
        help="measure nothing: print (and with --update-readme write) the table of this results file",
    )
    parser.add_argument("--update-readme", action="store_true", help="write the table into bench/README.md")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.dbs = [d.strip() for d in args.dbs.split(",") if d.strip()]
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.variant = args.variant.split()
    if args.quick:
        args.requests, args.seconds_per_case, args.duration, args.floor_repeat = 60, 2.0, 5.0, 20
    if args.ab_seconds is None:
        args.ab_seconds = 3.0 if args.quick else 10.0
    if args.ab_rounds < 2 or args.ab_rounds % 2:
        parser.error("--ab-rounds must be even and at least 2 (A B, A B A B, …)")
    return args


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main(parse_args())))
