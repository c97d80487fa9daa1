"""A/B of two source trees on the same database: page (0) or (1) throughput in alternating rounds.

    .venv/bin/python -m bench.ab --db postgresql://127.0.0.1/bench_pg_10000 --a /tmp/before --b . \\
        [--case 0] [--rounds 6] [--seconds 5] [--connections 16]

Both servers (``server.py serve`` of each tree, via bench/serve.py) run
throughout; the rounds alternate A B A B … with the same load generator and
request, after a warm-up of each. Prints each round's req/s and server CPU ms
per request, and the medians per side; every response must be 200 without
``errors`` and both trees must answer the same bytes (checked once).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

import orjson

from bench import loadgen, queries, run

CASES = {"0": (queries.COMPARE, {"first": 50}), "1": (queries.LIST_PAGE, {"first": 50})}


async def main(args: argparse.Namespace) -> int:
    token = await run.make_token(args.db)
    query, variables = CASES[args.case]
    servers = {
        name: run.Server(args.db, Path(tree).resolve(), [], run.RESULTS_DIR / "logs" / f"ab-{name}.log")
        for name, tree in (("A", args.a), ("B", args.b))
    }
    for server in servers.values():
        await server.start()
    try:
        bodies = {}
        for name, server in servers.items():
            response = await loadgen.request_once(
                run.HOST, server.port, run.Client(server.port, token).request(query, variables)
            )
            body = orjson.loads(response.body)
            if response.status != 200 or body.get("errors"):
                raise RuntimeError(f"{name}: {response.status} {str(body)[:300]}")
            bodies[name] = response.body
        print("same bytes:", bodies["A"] == bodies["B"])
        results: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
        for i in range(args.rounds):
            name = "AB"[i % 2]
            server = servers[name]
            stats = await loadgen.concurrent(
                run.HOST,
                server.port,
                [run.Client(server.port, token).request(query, variables)],
                connections=args.connections,
                seconds=args.seconds,
                warmup_seconds=1.0,
                server_cpu=server.cpu_seconds,
            )
            summary = stats.summary()
            if summary["errors"]:
                raise RuntimeError(f"{name}: {summary['errors']} errors")
            results[name].append((summary["rps"], summary["server_cpu_ms_per_request"]))
            print(f"round {i + 1} {name}: {summary['rps']} req/s, {summary['server_cpu_ms_per_request']} ms CPU")
        for name, rows in results.items():
            print(
                f"{name} ({Path(getattr(args, name.lower())).resolve()}): median "
                f"{statistics.median(r for r, _ in rows):.1f} req/s, {statistics.median(c for _, c in rows):.2f} ms CPU"
            )
    finally:
        for server in servers.values():
            server.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--a", required=True, help="source tree A (e.g. a worktree of the commit before)")
    parser.add_argument("--b", default=".", help="source tree B (default: this one)")
    parser.add_argument("--case", default="0", choices=sorted(CASES))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
