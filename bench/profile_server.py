"""Profile the real server under load with py-spy (sampling, native-free).

    pip install py-spy   # anywhere; it is not a project dependency
    .venv/bin/python -m bench.profile_server --db postgresql://127.0.0.1/bench_10000 --case 1 \\
        [--connections 16] [--seconds 15] [--py-spy /path/to/py-spy] [--variant '--executor stock']

Starts ``server.py serve`` on the given (seeded) database, loads it with one
benchmark case, records the server with ``py-spy record --format raw`` and
prints where the samples fall: by package, and the hottest functions (own
samples and samples including callees). The raw collapsed stacks are kept
under bench/results/ for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import loadgen, run

OUR_TOP_LEVEL = ("schema", "resolvers", "loaders", "db", "bench", "server.py")


def classify(frame: str) -> str:
    """The package of a py-spy frame ``function (path:line)`` (paths are relative to sys.path)."""
    path = frame.rsplit("(", 1)[-1].rstrip(")").split(":")[0]
    if "site-packages/" in path:
        path = path.split("site-packages/")[1]
    if path.startswith(str(run.ROOT)):
        path = path[len(str(run.ROOT)) + 1 :]
    first = path.split("/")[0]
    if first in OUR_TOP_LEVEL:
        return "partnerhub:" + first.replace(".py", "")
    if "/" not in path:
        return "stdlib:" + first.replace(".py", "")
    return first


def report(raw: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any("_connection_worker_thread" in f for f in frames[-2:]) and "core.py:59" in frames[-1]:
            continue  # aiosqlite's worker blocked on its queue: idle, not work
        total += count
        leaf = frames[-1]
        own[leaf] += count
        packages[classify(leaf)] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"{total} samples")
    print("\nown samples by package:")
    for name, count in packages.most_common(20):
        print(f"  {count / total * 100:5.1f} %  {name}")
    print("\nhottest functions (own):")
    for name, count in own.most_common(top):
        print(f"  {count / total * 100:5.1f} %  {name}")
    print("\nfunctions including callees:")
    for name, count in inclusive.most_common(top + 15):
        print(f"  {count / total * 100:5.1f} %  {name}")


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="a database seeded by bench.run")
    parser.add_argument("--case", default="1", help="0 compare, 1 list, 2a, 2b, 3 detail, 4 dashboard")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--variant", default="")
    parser.add_argument("--server-dir", default=str(run.ROOT))
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    token = await run.make_token(args.db)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    server = run.Server(
        args.db, Path(args.server_dir), args.variant.split(), run.RESULTS_DIR / "logs" / f"{stamp}-profile.log"
    )
    await server.start()
    raw = run.RESULTS_DIR / f"{stamp}-profile-case{args.case}.txt"
    try:
        client = run.Client(server.port, token)
        cases, _notes = await run.build_cases(client)
        case = next(v for k, v in cases.items() if k.split()[0] == args.case)
        spy = subprocess.Popen(
            [
                args.py_spy,
                "record",
                "--pid",
                str(server.process.pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--duration",
                str(int(args.seconds)),
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        await asyncio.sleep(1.0)
        stats = await loadgen.concurrent(
            run.HOST,
            server.port,
            case["requests"],
            connections=args.connections,
            seconds=args.seconds,
            warmup_seconds=0.5,
        )
        spy.wait(timeout=60)
        print(f"load: {stats.summary()['rps']} req/s, p50 {stats.summary()['p50_ms']} ms, errors {stats.errors}")
    finally:
        server.stop()
    if raw.exists():
        report(raw, args.top)
        print(f"\nraw stacks: {raw}")
    else:
        print(spy.stderr.read().decode() if spy.stderr else "py-spy produced nothing", file=sys.stderr)
    return 0


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
