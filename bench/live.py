"""Live events under load (issue 16): open subscriptions, a steady rate of mutations, delivery latency.

Starts ``partnerhub serve --workers N`` on ``DATABASE_URL`` (PostgreSQL: the
workers share events through LISTEN/NOTIFY), opens ``--subscriptions``
``customerChanged { id }`` subscriptions spread over tokens of the demo's full
admin (20 per token, one connection each: the per-token caps), then runs
``--rate`` mutations per second for ``--seconds`` (assign / unassign a sales
admin, alternately, on one customer: one event each). Mutations run one at a
time, so every subscriber receives them in order and message *k* is mutation
*k*'s; its latency is measured from the moment the mutation was sent.

    DATABASE_URL=postgresql://127.0.0.1:5432/bench python -m bench.live \\
        --subscriptions 1000 --rate 50 --seconds 30 --workers 2

Prints delivery latency p50/p99, events lost (expected − received, for
subscriptions still connected), subscriptions dropped, and the workers' RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from db.engine import make_engine, make_sessionmaker
from db.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "ana.full@demo.example"
PER_TOKEN = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its children (the workers), MB."""
    pids = [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def tokens(database_url: str, count: int) -> list[str]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return [await create_token(session, email=EMAIL) for _ in range(count)]
    finally:
        await engine.dispose()


class Subscriber:
    """One connection with up to 20 subscriptions; records each message's arrival per subscription."""

    def __init__(self, url: str, token: str, count: int) -> None:
        self.url, self.token, self.count = url, token, count
        self.arrivals: dict[str, list[float]] = {str(i): [] for i in range(count)}
        self.ended: set[str] = set()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with connect(self.url, subprotocols=[Subprotocol("graphql-transport-ws")], max_queue=None) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": self.token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            for i in range(self.count):
                query = "subscription { customerChanged { id } }"
                await ws.send(json.dumps({"id": str(i), "type": "subscribe", "payload": {"query": query}}))
            self.ready.set()
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "next" and not message["payload"].get("errors"):
                    self.arrivals[message["id"]].append(time.monotonic())
                elif message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif message["type"] in ("error", "complete") or message["payload"].get("errors"):
                    self.ended.add(message["id"])


async def run(args: argparse.Namespace) -> dict:
    database_url = os.environ["DATABASE_URL"]
    port = free_port()
    env = {**os.environ, "PARTNERHUB_COST_REFILL_PER_SECOND": "1e9", "PARTNERHUB_LOG_LEVEL": "warning"}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.3)
        connections = -(-args.subscriptions // PER_TOKEN)
        plain = await tokens(database_url, connections + 1)
        url = f"ws://127.0.0.1:{port}/graphql"
        subscribers = [
            Subscriber(url, plain[i], min(PER_TOKEN, args.subscriptions - i * PER_TOKEN)) for i in range(connections)
        ]
        tasks = [asyncio.create_task(s.run()) for s in subscribers]
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)), timeout=120)
        await asyncio.sleep(1)  # the last subscribe messages reach their operations
        rss_idle = rss_mb(server.pid)
        headers = {"Authorization": f"Bearer {plain[-1]}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
            body = (
                await http.post(
                    "/graphql",
                    json={
                        "query": "{ customers(first: 1) { nodes { id } } partnerAdmins(first: 100) { nodes { id role } } }"
                    },
                )
            ).json()
            customer = body["data"]["customers"]["nodes"][0]["id"]
            sales = next(a["id"] for a in body["data"]["partnerAdmins"]["nodes"] if a["role"].startswith("SALES"))
            sent: list[float] = []
            interval = 1 / args.rate
            start = time.monotonic()
            for k in range(int(args.rate * args.seconds)):
                await asyncio.sleep(max(0.0, start + k * interval - time.monotonic()))
                field = "assignCustomerAdmins" if k % 2 == 0 else "unassignCustomerAdmins"
                query = f"mutation($i: CustomerAdminsInput!) {{ {field}(input: $i) {{ userErrors {{ code }} }} }}"
                t0 = time.monotonic()
                answer = (
                    await http.post(
                        "/graphql",
                        json={"query": query, "variables": {"i": {"customerId": customer, "adminIds": [sales]}}},
                    )
                ).json()
                assert answer["data"][field]["userErrors"] == [], answer
                sent.append(t0)
            achieved = len(sent) / (time.monotonic() - start)
        await asyncio.sleep(args.drain)
        rss_busy = rss_mb(server.pid)
        for task in tasks:
            task.cancel()
        latencies: list[float] = []
        lost = dropped = 0
        for s in subscribers:
            for sid, arrivals in s.arrivals.items():
                if sid in s.ended:
                    dropped += 1
                    continue
                lost += len(sent) - len(arrivals)
                latencies += [(a - t) * 1000 for a, t in zip(arrivals, sent, strict=False)]
        latencies.sort()
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
        return {
            "subscriptions": args.subscriptions,
            "workers": args.workers,
            "mutations": len(sent),
            "rate_achieved_per_s": round(achieved, 1),
            "deliveries": len(latencies),
            "latency_ms_p50": round(q[49], 1),
            "latency_ms_p99": round(q[98], 1),
            "lost_connected": lost,
            "subscriptions_dropped": dropped,
            "rss_mb_idle_subscribed": round(rss_idle, 1),
            "rss_mb_after": round(rss_busy, 1),
        }
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="mutations per second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--drain", type=float, default=5, help="seconds to wait for the last events")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
