"""The dashboard (4) right after a write: a mutation, or an import (issue 14, stored aggregates).

    .venv/bin/python -m bench.after_write --db postgresql://127.0.0.1/bench_100000 [--rounds 10] [--server-dir .]

Starts the real server on a seeded bench database, then measures one
dashboard at a time: steady (``rounds`` repeats), right after each mutation
(``startTrial`` on a customer without a trial, then ``cancelTrial`` of it, a
dashboard after each: the customer count stays the same, so the database
stays a bench database), and right after each import (``partnerhub load`` of
the first 10 seeded customers again, or ``--import-customers``, as
``generate_document`` makes them: an upsert that runs every maintenance step). Prints p50/max per kind and the
time of the write itself. Every answer is checked for errors.

``--past-cancels N`` also cancels N of the seeded ACTIVE trials that started
before today, a dashboard after each: a write that changes past days of the
licence trend (db/trend_cache.py). It changes the database for good, so run
it on a copy (``createdb -T bench_100000 aw_100000``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench import loadgen, run
from db.seed import generate_document
from resolvers.ids import to_global_id

CUSTOMER_WITHOUT_TRIAL = (
    "SELECT c.id FROM customer c JOIN partner p ON p.id = c.partner_id WHERE p.key = :1 "
    "AND NOT EXISTS (SELECT 1 FROM plan t WHERE t.customer_id = c.id AND t.kind = 'TRIAL' AND t.status = 'ACTIVE') "
    "ORDER BY c.id LIMIT 1"
)
START = """mutation($c: ID!) { startTrial(input: {customerId: $c, products: [MEETINGS], licenses: 5}) {
  trial { id } userErrors { code } } }"""
PAST_TRIALS = (
    "SELECT t.id FROM plan t JOIN partner p ON p.id = t.partner_id WHERE p.key = :1 AND t.kind = 'TRIAL' "
    "AND t.status = 'ACTIVE' AND t.starts_on < :2 AND t.ends_on >= :2 ORDER BY t.id LIMIT :3"
)
CANCEL = "mutation($t: ID!) { cancelTrial(input: {trialId: $t}) { trial { status } userErrors { code } } }"


async def _timed(client: run.Client, query: str, variables: dict | None = None) -> tuple[float, dict]:
    started = time.perf_counter()
    response = await loadgen.request_once(run.HOST, client.port, client.request(query, variables))
    elapsed = (time.perf_counter() - started) * 1000
    body = orjson.loads(response.body)
    if response.status != 200 or body.get("errors"):
        raise RuntimeError(f"{response.status}: {str(body)[:500]}")
    return elapsed, body["data"]


def _summary(name: str, values: list[float]) -> str:
    return f"{name}: p50 {statistics.median(values):.1f} ms, max {max(values):.1f} ms ({len(values)} requests)"


async def main(args: argparse.Namespace) -> int:
    server_dir = Path(args.server_dir).resolve()
    token = await run.make_token(args.db)
    server = run.Server(args.db, server_dir, [], run.RESULTS_DIR / "logs" / "after-write.log")
    await server.start()
    try:
        client = run.Client(server.port, token)
        dashboard = await run.dashboard_query(client)
        if dashboard is None:
            raise SystemExit("the schema has no kpis: no dashboard to measure")
        for _ in range(3):
            await _timed(client, dashboard)
        steady = [(await _timed(client, dashboard))[0] for _ in range(args.rounds)]
        customer = (await run._sql(args.db, CUSTOMER_WITHOUT_TRIAL, run.PARTNER))[0][0]
        mutations, after_mutation = [], []
        for _ in range(args.rounds):
            took, data = await _timed(client, START, {"c": to_global_id("Customer", customer)})
            mutations.append(took)
            trial = data["startTrial"]["trial"]["id"]
            after_mutation.append((await _timed(client, dashboard))[0])
            took, _ = await _timed(client, CANCEL, {"t": trial})
            mutations.append(took)
            after_mutation.append((await _timed(client, dashboard))[0])
        doc = generate_document(
            customers=args.import_customers, seed=1, partner=run.PARTNER, today=dt.date.fromisoformat(run.TODAY)
        )
        imports, after_import = [], []
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        for _ in range(args.import_rounds or max(3, args.rounds // 3)):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(server_dir / "server.py"), "load", f.name],
                env=run._env(args.db),
                cwd=server_dir,
                check=True,
                capture_output=True,
            )
            imports.append((time.perf_counter() - started) * 1000)
            after_import.append((await _timed(client, dashboard))[0])
        Path(f.name).unlink()
        past, after_past = [], []
        if args.past_cancels:
            trials = await run._sql(
                args.db, PAST_TRIALS, run.PARTNER, dt.date.fromisoformat(run.TODAY), args.past_cancels
            )
            for (trial_id,) in trials:
                took, _ = await _timed(client, CANCEL, {"t": to_global_id("Trial", trial_id)})
                past.append(took)
                after_past.append((await _timed(client, dashboard))[0])
        print(_summary("dashboard, steady", steady))
        print(_summary("dashboard right after a mutation", after_mutation))
        print(_summary("  the mutations themselves", mutations))
        print(_summary(f"dashboard right after an import of {args.import_customers:,} customers", after_import))
        print(_summary("  the imports themselves (partnerhub load, process start included)", imports))
        if after_past:
            print(_summary("dashboard right after cancelling a trial started before today", after_past))
            print(_summary("  the cancellations themselves", past))
        print(f"peak server RSS: {server.peak_rss_mb():.1f} MB")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--import-customers", type=int, default=10, help="customers per import (past 5,000 the trend is recomputed)"
    )
    parser.add_argument(
        "--import-rounds", type=int, default=0, help="imports to time (default: rounds // 3, at least 3)"
    )
    parser.add_argument("--past-cancels", type=int, default=0, help="cancel this many trials started before today")
    parser.add_argument("--server-dir", default=str(run.ROOT))
    sys.exit(asyncio.run(main(parser.parse_args())))
