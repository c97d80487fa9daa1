"""In-process timing and profiling of one benchmark query (no HTTP).

    .venv/bin/python -m bench.inprocess --db sqlite:///bench/data/sqlite_1000.db --case list \\
        [--executor stock|fast] [--gc freeze] [--repeat 200] [--profile [--by-package]]

Runs the query through ``schema.execute`` with a request context built the way
``GraphQLEndpoint`` builds it (fresh session and loaders per execution), and
prints the mean and median time per execution, split into SQL time and the
rest, and the CPU time of the process per execution (with SQLite this
includes the database's own work in aiosqlite's thread), which is the
figure to compare on a busy machine. ``--profile`` prints the top of a
cProfile of the repetitions (function-call counts are deterministic; its
timings are distorted by greenlets and GC pauses — use
``bench/profile_server.py`` for where the time goes).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PARTNERHUB_TODAY", "2026-11-25")

from sqlalchemy import event, select

from bench import queries


def _case(name: str) -> tuple[str, dict]:
    if name == "compare":
        return queries.COMPARE, {"first": queries.PAGE_SIZE}
    if name == "list":
        return queries.LIST_PAGE, {"first": queries.PAGE_SIZE}
    if name == "filtered":
        return queries.LIST_PAGE, {"first": queries.PAGE_SIZE, "filter": {"statuses": ["EXPIRING_SOON"]}}
    raise SystemExit(f"unknown case {name}")


def _by_package(stats: pstats.Stats, repeat: int) -> None:
    """Own time and calls per package (site-packages name, stdlib module, or our directory)."""
    totals: dict[str, list[float]] = {}
    root = str(Path(__file__).resolve().parent.parent)
    for (filename, _line, func), (_cc, ncalls, tottime, _ct, _callers) in stats.stats.items():
        if "site-packages/" in filename:
            key = filename.split("site-packages/")[1].split("/")[0]
        elif filename.startswith(root):
            key = "partnerhub:" + filename[len(root) + 1 :].split("/")[0]
        elif filename == "~":
            key = "builtins:" + func.split(" of ")[0].strip("<>{}").split(".")[0][:40]
        else:
            key = "stdlib:" + Path(filename).stem
        entry = totals.setdefault(key, [0.0, 0])
        entry[0] += tottime
        entry[1] += ncalls
    grand = sum(v[0] for v in totals.values())
    for key, (tottime, ncalls) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"{tottime / grand * 100:5.1f} %  {ncalls / repeat:9,.0f} calls/exec  {key}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--case", default="list")
    parser.add_argument("--executor", choices=["stock", "fast", "default"], default="default")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--by-package", action="store_true", help="sum the profile's own time per package")
    parser.add_argument(
        "--gc",
        choices=["default", "freeze"],
        default="default",
        help="freeze: gc.collect(); gc.freeze() after warm-up, as `partnerhub serve` does",
    )
    args = parser.parse_args()

    import strawberry.schema.schema as sschema

    from db.engine import make_engine, make_sessionmaker
    from db.models import PartnerAdmin
    from db.settings import get_settings, today
    from resolvers.context import Context
    from resolvers.permissions import Viewer
    from schema.schema import schema

    if args.executor == "stock":
        schema.execution_context_class = sschema.StrawberryGraphQLCoreExecutionContext
    elif args.executor == "fast":
        from schema.execution import FastExecutionContext

        schema.execution_context_class = FastExecutionContext
    print(f"executor: {schema.execution_context_class.__name__}", file=sys.stderr)

    settings = get_settings()
    engine = make_engine(args.db)
    sql_time = [0.0]
    started: list[float] = []

    def before(*_a):
        started.append(time.perf_counter())

    def after(*_a):
        sql_time[0] += time.perf_counter() - started.pop()

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    maker = make_sessionmaker(engine)
    async with maker() as session:
        admin = (
            await session.execute(
                select(PartnerAdmin.__table__).where(PartnerAdmin.__table__.c.role == "PARTNER_FULL_ADMIN").limit(1)
            )
        ).first()
    viewer = Viewer(
        id=admin.id, partner_id=admin.partner_id, email=admin.email, display_name=admin.display_name, role=admin.role
    )
    query, variables = _case(args.case)

    async def once() -> tuple[float, float, float]:
        sql_time[0] = 0.0
        c0 = time.process_time()
        t0 = time.perf_counter()
        async with maker() as session:
            await session.connection()
            ctx = Context.create(session=session, viewer=viewer, today=today(), settings=settings)
            result = await schema.execute(query, variable_values=variables, context_value=ctx)
        assert not result.errors, result.errors
        return time.perf_counter() - t0, sql_time[0], time.process_time() - c0

    for _ in range(20):
        await once()
    if args.gc == "freeze":
        import gc

        gc.collect()
        gc.freeze()
    profiler = cProfile.Profile() if args.profile else None
    totals, sqls, cpus = [], [], []
    if profiler:
        profiler.enable()
    for _ in range(args.repeat):
        total, sql, cpu = await once()
        totals.append(total)
        sqls.append(sql)
        cpus.append(cpu)
    if profiler:
        profiler.disable()
    await engine.dispose()
    print(
        f"{args.case}: CPU {statistics.mean(cpus) * 1000:.2f} ms (median {statistics.median(cpus) * 1000:.2f}); "
        f"wall mean {statistics.mean(totals) * 1000:.2f} ms, median {statistics.median(totals) * 1000:.2f} ms, "
        f"of which waiting on SQL {statistics.mean(sqls) * 1000:.2f} ms"
    )
    if profiler:
        stats = pstats.Stats(profiler)
        calls = sum(v[1] for v in stats.stats.values())
        print(f"{calls / args.repeat:,.0f} function calls per execution")
        if args.by_package:
            _by_package(stats, args.repeat)
        elif args.top:
            stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
