"""The floor over HTTP: page (0) from a bare ASGI app, beside partnerhub and PostGraphile (issue 14).

    .venv/bin/python -m bench.floor_http --db postgresql://127.0.0.1/bench_10000 [--rounds 3] [--seconds 10]
    .venv/bin/python -m bench.floor_http serve --db URL --port P     # the floor server alone

The in-process floor (``bench/floor.py``) says what GraphQL execution costs
inside one process. This asks the question the ratio target of issue 14 turns
on: how fast can *any* server written in Python on this stack answer page (0)
over HTTP on this machine? The floor server is uvicorn with the same event
loop (uvloop) and HTTP parser (httptools) as ``partnerhub serve``, one raw
ASGI callable (no Starlette, no GraphQL, no SQLAlchemy, no DataLoaders), an
asyncpg pool of 10 (PostGraphile's), the viewer of a token kept after its
first lookup (as partnerhub keeps it for 30 s, so both send 2 statements a
page), ``floor.compare_page``'s hand-written SQL and ``orjson``. It ignores
the query text: it answers page (0) and nothing else.

The three servers run at once, one process each, on the same database; the
rounds alternate partnerhub, floor, PostGraphile with the same load generator
(``bench/loadgen.py``), one request at a time and then at 16 connections.
The floor's bytes must equal partnerhub's data (up to its ``extensions``) and
PostGraphile's page must list the same customers and subscriptions, or
nothing is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench import floor, graphile, loadgen, queries, run
from bench.process import ServerProcess


def asgi_app(url: str) -> Any:
    """The floor server: page (0) for any ``POST /graphql`` with a bearer token; ``GET /readyz``."""
    state: dict[str, Any] = {"pool": None}
    viewers: dict[str, Any] = {}

    class PooledDb(floor.Db):
        def __init__(self, conn: Any) -> None:
            self.url, self.pg, self.conn = url, True, conn

    async def reply(send: Any, status: int, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    import asyncpg

                    state["pool"] = await asyncpg.create_pool(url, min_size=10, max_size=10)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["pool"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/readyz":
            await reply(send, 200, b"{}")
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request = orjson.loads(b"".join(chunks))
        token = next(v for k, v in scope["headers"] if k == b"authorization").decode().removeprefix("Bearer ")
        first = request["variables"]["first"]
        async with state["pool"].acquire() as conn:
            db = PooledDb(conn)
            viewer = viewers.get(token)
            if viewer is None:
                viewer = viewers[token] = await floor._viewer(db, token)
            body = await floor.page_for_viewer(db, viewer, first)
        await reply(send, 200, body)

    return app


class FloorServer(ServerProcess):
    """``python -m bench.floor_http serve`` in its own process."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.url, self.log_path = url, log_path
        self.port = run._free_port()

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor_http", "serve", "--db", self.url, "--port", str(self.port)],
            cwd=run.ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        await self.wait_ready(run.HOST, "the floor server", self.log_path, seconds=60)


async def compare(args: argparse.Namespace) -> int:
    installed = graphile.install(run.log)
    if isinstance(installed, str):
        print(f"PostGraphile unavailable: {installed}")
        return 1
    url = args.db
    token = await run.make_token(url)
    partner_id = (await run._sql(url, "SELECT id FROM partner WHERE key = :1", run.PARTNER))[0][0]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = run.RESULTS_DIR / "logs"
    ours = run.Server(url, run.ROOT, [], logs / f"{stamp}-floor-http-partnerhub.log")
    bare = FloorServer(url, logs / f"{stamp}-floor-http-floor.log")
    reference = graphile.PostGraphile(installed, url, run._free_port(), run.HOST, logs / f"{stamp}-floor-http-pg.log")
    servers: list[ServerProcess] = [ours, bare, reference]
    for server in servers:
        await server.start()
    try:
        variables = {"first": queries.PAGE_SIZE}
        requests = {
            "partnerhub": loadgen.build_request(run.HOST, ours.port, token, queries.COMPARE, variables),
            "floor": loadgen.build_request(run.HOST, bare.port, token, queries.COMPARE, variables),
            "PostGraphile": loadgen.build_request(
                run.HOST, reference.port, None, queries.POSTGRAPHILE_COMPARE, {**variables, "partnerId": partner_id}
            ),
        }
        sides = {"partnerhub": ours, "floor": bare, "PostGraphile": reference}
        bodies = {}
        for name, server in sides.items():
            response = await loadgen.request_once(run.HOST, server.port, requests[name])
            if response.status != 200 or loadgen.ERROR_MARKER in response.body:
                raise RuntimeError(f"{name}: HTTP {response.status}: {response.body[:300]!r}")
            bodies[name] = response.body
        if not run._same_data_bytes(bodies["floor"], bodies["partnerhub"]):
            raise RuntimeError("the floor's page is not partnerhub's")
        difference = run.page_difference(bodies["partnerhub"], bodies["PostGraphile"])
        if difference is not None:
            raise RuntimeError(f"PostGraphile's page differs: {difference}")
        print("same pages: yes")

        pairs = {name: (sides[name], requests[name]) for name in sides}
        for process, request in pairs.values():
            await loadgen.concurrent(run.HOST, process.port, [request], connections=args.connections, seconds=1.0)
        rounds = args.rounds * len(pairs)
        for label, measure, figure in (
            ("one at a time", run.one_at_a_time(args.seconds), "p50_ms"),
            (f"{args.connections} connections", run.at_connections(args.seconds, args.connections), "rps"),
        ):
            out = await run._ab(pairs, rounds, measure, figure)
            print(f"\n{label} ({args.rounds} rounds of {args.seconds} s each, alternating):")
            print("| server | p50 ms | req/s | rounds | server CPU ms per request | errors |")
            print("|---|---:|---:|---|---:|---:|")
            for name, s in out.items():
                print(
                    f"| {name} | {s['p50_ms']} | {s['rps']} | {s['rounds']} | "
                    f"{s['server_cpu_ms_per_request']} | {s['errors']} |"
                )
        return 0
    finally:
        for server in servers:
            server.stop()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        asgi_app(args.db),
        host=run.HOST,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mode", nargs="?", choices=["compare", "serve"], default="compare")
    parser.add_argument("--db", required=True, help="a seeded PostgreSQL database (bench.run's bench_10000)")
    parser.add_argument("--port", type=int, default=0, help="serve: the port")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server and mode")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if args.mode == "serve":
        return serve(args)
    return asyncio.run(compare(args))


if __name__ == "__main__":
    sys.exit(main())
