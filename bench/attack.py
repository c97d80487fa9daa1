"""Issue 13's attack set against the real server, while a bystander keeps asking ``{ viewer { email } }``.

Usage (a seeded database; ``python -m bench.run`` seeds ``bench_pg_100000``)::

    python -m bench.attack --db postgresql://127.0.0.1:5432/bench_pg_100000 --seconds 60

It starts ``server.py serve`` on the database, makes a token for a sales admin
(the attacker: the lowest role) and one for a full admin (the bystander), and
for ``--seconds`` runs at once:

* the bystander: one ``{ viewer { email } }`` every 50 ms, its latency and status;
* attackers replaying the documents of issue 13 (nested connections, aliases
  of analytics with different ``asOf``, every section's rows, ``kpis`` with
  30 days, 30 aliases of a full introspection without a token), each as fast
  as the server answers;
* 2,000 connections that send half a request head and never finish it;
* 8 requests with a 50 MB ``Authorization`` header, sent in 64 KB chunks;

and samples the server's resident memory every 200 ms. At the end it stops
the server with SIGTERM and looks for statements of ours still running in
PostgreSQL. The report (stdout, JSON) gives the bystander's p50/p99/max,
every status each attack got, the 5xx count, the peak RSS and the leftovers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

NESTED = (
    "{ customers(first:100){ nodes{ partnerAdmins{ assignedCustomers(first:100){ nodes{ partnerAdmins{"
    " assignedCustomers(first:100){ nodes{ statuses products subscriptions{ licenses{ total } } } } } } } } } } }"
)


def _aliases(template: str, count: int = 30) -> str:
    return (
        "{ "
        + " ".join(f"a{i}: " + template.format(day=f"2026-{1 + i % 12:02d}-{1 + i:02d}") for i in range(count))
        + " }"
    )


SECTIONS = " ".join(
    f"{name} {{ rows(first: 100) {{ nodes {{ customer {{ name }} }} }} }}"
    for name in ("recentlyAdded", "expiring", "renewing", "lowAssignment", "overLimit")
)
ATTACKS: dict[str, str] = {
    "nested": NESTED,
    "trend_aliases": _aliases('analytics(product: MEETINGS, asOf: "{day}") {{ licenseTrend(weeks: 52) {{ total }} }}'),
    "section_aliases": _aliases(
        'analytics(product: MEETINGS, asOf: "{day}") {{ ' + SECTIONS.replace("{", "{{").replace("}", "}}") + " }}"
    ),
    "kpis_aliases": _aliases('kpis(asOf: "{day}") {{ totalCustomers expiring }}'),
}
INTROSPECTION = _aliases(
    "__schema {{ types {{ name fields {{ name args {{ name type {{ name ofType {{ name }} }} }} }} }} }}"
).replace("{day}", "")


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "PARTNERHUB_LOG_LEVEL": "warning"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def _sql(url: str, query: str, *args: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def _token(url: str, email: str) -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "token", "create", email],
        env=_env(url),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def _email(url: str, role: str) -> str:
    rows = await _sql(url, "SELECT email FROM partner_admin WHERE role = $1 ORDER BY id LIMIT 1", role)
    return rows[0]["email"]


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Report:
    def __init__(self) -> None:
        self.bystander: list[float] = []
        self.bystander_status: Counter[int] = Counter()
        self.attacks: dict[str, Counter[Any]] = {}
        self.peak_rss_kib = 0

    def hit(self, name: str, status: Any) -> None:
        self.attacks.setdefault(name, Counter())[status] += 1


async def bystander(client: httpx.AsyncClient, token: str, stop: float, report: Report) -> None:
    body = {"query": "{ viewer { email } }"}
    while time.monotonic() < stop:
        started = time.perf_counter()
        try:
            r = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
            report.bystander_status[r.status_code] += 1
        except httpx.HTTPError as exc:
            report.bystander_status[type(exc).__name__] += 1  # type: ignore[index]
        report.bystander.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def attacker(
    client: httpx.AsyncClient, name: str, query: str, token: str | None, stop: float, report: Report, backoff: bool
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.monotonic() < stop:
        try:
            r = await client.post("/graphql", json={"query": query}, headers=headers)
            code = None
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                code = r.json()["errors"][0]["extensions"]["code"]
            report.hit(name, f"{r.status_code} {code or ''}".strip())
            if r.status_code == 429 and backoff:
                await asyncio.sleep(min(float(r.headers.get("retry-after", "1")), 1.0))
        except httpx.HTTPError as exc:
            report.hit(name, type(exc).__name__)


async def half_heads(port: int, count: int, stop: float, report: Report) -> None:
    """Connections that start a request head and never finish it."""
    writers = []
    for _ in range(count):
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as exc:
            report.hit("half_heads", f"connect {type(exc).__name__}")
            continue
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        writers.append((reader, writer))
    report.hit("half_heads", f"opened {len(writers)}")
    await asyncio.sleep(max(stop - time.monotonic(), 0))
    closed = 0
    for reader, writer in writers:
        # A connection the server closed reads EOF (or resets) at once.
        try:
            data = await asyncio.wait_for(reader.read(1024), 0.01)
            closed += data == b"" or data.startswith(b"HTTP/1.1 4")
        except (TimeoutError, OSError):
            closed += isinstance(reader.exception(), OSError) if reader.exception() else 0
        writer.close()
    report.hit("half_heads", f"closed by the server {closed}")


async def huge_header(port: int, report: Report) -> None:
    """A 50 MB Authorization header in 64 KB chunks; how far it got before the server answered or closed."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ")
        sent = 0
        chunk = b"a" * 65536
        while sent < 50 * 2**20:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        writer.write(b"\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        head = await asyncio.wait_for(reader.read(64), 30)
        report.hit("huge_header", f"{head[:12].decode(errors='replace')} after {sent // 2**20} MB")
        writer.close()
    except (OSError, TimeoutError) as exc:
        report.hit("huge_header", f"closed by the server ({type(exc).__name__})")


async def rss_sampler(pid: int, stop: float, report: Report) -> None:
    while time.monotonic() < stop + 2:
        report.peak_rss_kib = max(report.peak_rss_kib, _rss_kib(pid))
        await asyncio.sleep(0.2)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a seeded PostgreSQL (or SQLite) database URL")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--attackers", type=int, default=2, help="concurrent clients per attack document")
    parser.add_argument("--half-heads", type=int, default=2000)
    parser.add_argument("--no-backoff", action="store_true", help="attackers ignore Retry-After and send again at once")
    args = parser.parse_args()

    postgres = args.db.startswith("postgres")
    sales = _token(args.db, await _email(args.db, "SALES_ADMIN")) if postgres else None
    full = _token(args.db, await _email(args.db, "PARTNER_FULL_ADMIN")) if postgres else None
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "serve", "--host", HOST, "--port", str(port)],
        env=_env(args.db),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    report = Report()
    try:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=120, limits=limits) as client:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            rss_before = _rss_kib(server.pid)
            stop = time.monotonic() + args.seconds
            tasks = [
                bystander(client, full or "", stop, report),
                rss_sampler(server.pid, stop, report),
                half_heads(port, args.half_heads, stop, report),
                *(huge_header(port, report) for _ in range(8)),
                *(
                    attacker(client, "introspection", INTROSPECTION, None, stop, report, not args.no_backoff)
                    for _ in range(args.attackers)
                ),
            ]
            for name, query in ATTACKS.items():
                tasks += [
                    attacker(client, name, query, sales, stop, report, not args.no_backoff)
                    for _ in range(args.attackers)
                ]
            await asyncio.gather(*tasks)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    leftovers = None
    if postgres:
        rows = await _sql(
            args.db,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active'",
        )
        leftovers = rows[0]["n"]
    latencies = sorted(report.bystander)
    fives = sum(n for status, n in report.bystander_status.items() if isinstance(status, int) and status >= 500)
    fives += sum(n for c in report.attacks.values() for s, n in c.items() if str(s).startswith("5"))
    result = {
        "seconds": args.seconds,
        "bystander": {
            "requests": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
            "max_ms": round(latencies[-1], 1) if latencies else None,
            "statuses": dict(report.bystander_status),
        },
        "attacks": {name: dict(counter) for name, counter in report.attacks.items()},
        "responses_5xx": fives,
        "rss_mb": {"before": round(rss_before / 1024), "peak": round(report.peak_rss_kib / 1024)},
        "statements_left_running_after_sigterm": leftovers,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
