"""Live events under load (issue 16): open subscriptions, a steady rate of mutations, delivery latency.

Starts ``partnerhub serve --workers N`` on ``DATABASE_URL`` (PostgreSQL: the
workers share events through LISTEN/NOTIFY), opens ``--subscriptions``
``customerChanged { id }`` subscriptions spread over tokens of the demo's full
admin (20 per token, one connection each: the per-token caps), then runs
``--rate`` mutations per second for ``--seconds`` (assign / unassign a sales
admin, in turn, on ``--customers`` customers taken in turn: one event each).

By default mutations run one at a time (closed loop: the next is sent once the
previous one is answered, so the rate achieved is bounded by the mutation's
round trip). With ``--open`` they are sent at the rate whatever the answers
(still one at a time per customer, so its events keep their order). The
*j*-th message about a customer is its *j*-th mutation's; latency is measured
from the moment that mutation was sent.

    DATABASE_URL=postgresql://127.0.0.1:5432/bench python -m bench.live \\
        --subscriptions 1000 --rate 50 --seconds 30 --workers 2 [--open --customers 50]

Prints delivery latency p50/p99, events lost (expected − received, for
subscriptions still connected), subscriptions dropped, the workers' RSS, and
the CPU seconds the server (all its processes) and this client used.
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


def family(pid: int) -> list[int]:
    """``pid`` and its children (the workers)."""
    return [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in family(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its children (the workers), MB."""
    total = 0
    for p in family(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def tokens(database_url: str, count: int, email: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return [await create_token(session, email=email) for _ in range(count)]
    finally:
        await engine.dispose()


class Subscriber:
    """One connection with up to 20 subscriptions; records each message's arrival per subscription."""

    def __init__(self, url: str, token: str, count: int) -> None:
        self.url, self.token, self.count = url, token, count
        # Per subscription: (arrival time, customer id) of each message.
        self.arrivals: dict[str, list[tuple[float, str]]] = {str(i): [] for i in range(count)}
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
                    customer = message["payload"]["data"]["customerChanged"]["id"]
                    self.arrivals[message["id"]].append((time.monotonic(), customer))
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
        plain = await tokens(database_url, connections + 1, args.email)
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
                        "query": "query($n: Int!) { customers(first: $n) { nodes { id } } "
                        "partnerAdmins(first: 100) { nodes { id role } } }",
                        "variables": {"n": args.customers},
                    },
                )
            ).json()
            customers = [node["id"] for node in body["data"]["customers"]["nodes"]]
            sales = next(a["id"] for a in body["data"]["partnerAdmins"]["nodes"] if a["role"].startswith("SALES"))
            # Send times per customer, in the order its mutations committed (one at a time per customer).
            sent: dict[str, list[float]] = {c: [] for c in customers}
            locks = {c: asyncio.Lock() for c in customers}

            async def mutate(k: int) -> None:
                customer = customers[k % len(customers)]
                # Each customer is assigned, then unassigned, then assigned... (one event each).
                field = "assignCustomerAdmins" if (k // len(customers)) % 2 == 0 else "unassignCustomerAdmins"
                query = f"mutation($i: CustomerAdminsInput!) {{ {field}(input: $i) {{ userErrors {{ code }} }} }}"
                async with locks[customer]:
                    t0 = time.monotonic()
                    answer = (
                        await http.post(
                            "/graphql",
                            json={"query": query, "variables": {"i": {"customerId": customer, "adminIds": [sales]}}},
                        )
                    ).json()
                    assert answer["data"][field]["userErrors"] == [], answer
                    sent[customer].append(t0)

            interval = 1 / args.rate
            server_cpu0, client_cpu0 = cpu_seconds(server.pid), time.process_time()
            start = time.monotonic()
            running = []
            for k in range(int(args.rate * args.seconds)):
                await asyncio.sleep(max(0.0, start + k * interval - time.monotonic()))
                task = asyncio.create_task(mutate(k))
                running.append(task)
                if not args.open:
                    await task  # closed loop: the next is sent once this one is answered
            await asyncio.gather(*running)
            elapsed = time.monotonic() - start
            achieved = len(running) / elapsed
        await asyncio.sleep(args.drain)
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        client_cpu = time.process_time() - client_cpu0
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
                by_customer: dict[str, list[float]] = {}
                for at, customer in arrivals:
                    by_customer.setdefault(customer, []).append(at)
                for customer, times in sent.items():
                    got = by_customer.get(customer, [])
                    lost += len(times) - len(got)
                    latencies += [(a - t) * 1000 for a, t in zip(got, times, strict=False)]
        latencies.sort()
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
        return {
            "subscriptions": args.subscriptions,
            "workers": args.workers,
            "mutations": len(running),
            "open_loop": args.open,
            "rate_achieved_per_s": round(achieved, 1),
            "deliveries": len(latencies),
            "latency_ms_p50": round(q[49], 1),
            "latency_ms_p99": round(q[98], 1),
            "lost_connected": lost,
            "subscriptions_dropped": dropped,
            "rss_mb_idle_subscribed": round(rss_idle, 1),
            "rss_mb_after": round(rss_busy, 1),
            # Over the mutations' seconds plus the drain: what each side used of the 2 cores.
            "deliveries_per_s": round(len(latencies) / (elapsed + args.drain), 1),
            "server_cpu_s": round(server_cpu, 1),
            "client_cpu_s": round(client_cpu, 1),
            "wall_s": round(elapsed + args.drain, 1),
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
    parser.add_argument(
        "--open",
        action="store_true",
        help="open loop: send at the rate without waiting for answers (one at a time per customer)",
    )
    parser.add_argument("--customers", type=int, default=1, help="customers the mutations take turns on")
    parser.add_argument("--email", default=EMAIL, help="the full admin whose tokens subscribe and mutate")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
