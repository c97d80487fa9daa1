"""Soak test: 32 clients mixing reads and mutations against the real server.

    python -m bench.soak [--seconds 60] [--clients 32] [--customers 2000] [--database-url URL]

Starts ``partnerhub serve`` on a fresh database (SQLite by default), seeds it,
then runs the clients for the given time. Each client owns a disjoint slice of
customers, so the expected end state is known exactly: every trial a client
saw started exists once, with the status the client last set; every admin it
created exists once. Also checks 0 errors and the server's memory (RSS
sampled each second; the last 10 s must stay within 25 % of the first 10 s
after warm-up). Prints a JSON summary and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

LIST = """query { customers(first: 20, filter: {statuses: [EXPIRING_SOON]}) { totalCount nodes { id name statuses
  subscriptions { subscriptionId licenses { product total assigned } } trials { trialId status } partnerAdmins { email } } } }"""
KPIS = "{ kpis { totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit } }"
START = """mutation($id: ID!) { startTrial(input: {customerId: $id, products: [MEETINGS], licenses: 5, days: 14}) {
  trial { id trialId status } userErrors { code message } } }"""
CANCEL = "mutation($id: ID!) { cancelTrial(input: {trialId: $id}) { trial { id status } userErrors { code } } }"
CREATE_ADMIN = """mutation($email: String!) { createPartnerAdmin(input: {email: $email, displayName: "Soak", role: SALES_ADMIN}) {
  partnerAdmin { id } userErrors { code } } }"""
ALL_IDS = "query($after: String) { customers(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { id trials { id status } } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client:
    def __init__(self, http: httpx.AsyncClient, customers: list[dict], number: int) -> None:
        self.http = http
        self.customers = customers
        self.number = number
        self.errors: list[str] = []
        self.requests = 0
        self.trials: dict[str, str] = {}  # trial global id -> status this client last set
        self.active: dict[str, str] = {
            c["id"]: t["id"] for c in customers for t in c["trials"] if t["status"] == "ACTIVE"
        }
        self.admins: list[str] = []

    async def gql(self, query: str, variables: dict | None = None) -> dict:
        self.requests += 1
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            self.errors.append(f"{response.status_code} {str(body)[:300]}")
        return body.get("data") or {}

    async def step(self, rng: random.Random) -> None:
        roll = rng.random()
        if roll < 0.5:
            await self.gql(LIST)
        elif roll < 0.6:
            await self.gql(KPIS)
        elif roll < 0.95 and self.customers:
            customer = rng.choice(self.customers)["id"]
            if customer in self.active:
                data = await self.gql(CANCEL, {"id": self.active[customer]})
                payload = data.get("cancelTrial") or {}
                if payload.get("trial") and not payload["userErrors"]:
                    self.trials[payload["trial"]["id"]] = "CANCELLED"
                    del self.active[customer]
                else:
                    self.errors.append(f"cancel refused: {payload}")
            else:
                data = await self.gql(START, {"id": customer})
                payload = data.get("startTrial") or {}
                if payload.get("trial") and not payload["userErrors"]:
                    self.trials[payload["trial"]["id"]] = "ACTIVE"
                    self.active[customer] = payload["trial"]["id"]
                else:
                    self.errors.append(f"start refused: {payload}")
        else:
            email = f"soak{self.number}.{len(self.admins)}@soak.example"
            data = await self.gql(CREATE_ADMIN, {"email": email})
            payload = data.get("createPartnerAdmin") or {}
            if payload.get("partnerAdmin") and not payload["userErrors"]:
                self.admins.append(payload["partnerAdmin"]["id"])
            else:
                self.errors.append(f"create admin refused: {payload}")


async def soak(url: str, token: str, *, seconds: float, clients: int, pid: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        customers, after = [], None
        while True:
            page = (await http.post("/graphql", json={"query": ALL_IDS, "variables": {"after": after}})).json()["data"][
                "customers"
            ]
            customers += page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        workers = [Client(http, customers[i::clients], i) for i in range(clients)]
        rss: list[tuple[float, int]] = []
        started = time.monotonic()

        async def run(client: Client) -> None:
            rng = random.Random(client.number)
            while time.monotonic() - started < seconds:
                await client.step(rng)

        async def sample() -> None:
            while time.monotonic() - started < seconds:
                rss.append((time.monotonic() - started, _rss_kb(pid)))
                await asyncio.sleep(1)

        await asyncio.gather(sample(), *[run(c) for c in workers])
        elapsed = time.monotonic() - started

        # The end state, read back through the API.
        final: dict[str, str] = {}
        after = None
        while True:
            page = (await http.post("/graphql", json={"query": ALL_IDS, "variables": {"after": after}})).json()["data"][
                "customers"
            ]
            for node in page["nodes"]:
                for trial in node["trials"]:
                    if trial["id"] in final:
                        final["duplicate:" + trial["id"]] = "DUPLICATE"
                    final[trial["id"]] = trial["status"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        admins = (
            await http.post(
                "/graphql",
                json={"query": '{ partnerAdmins(first: 100, filter: {search: "@soak.example"}) { totalCount } }'},
            )
        ).json()

    expected = {tid: status for c in workers for tid, status in c.trials.items()}
    lost = [tid for tid in expected if tid not in final]
    wrong = [tid for tid, status in expected.items() if final.get(tid) not in (None, status)]
    duplicates = [k for k in final if k.startswith("duplicate:")]
    created_admins = sum(len(c.admins) for c in workers)
    warm = [kb for t, kb in rss if 5 <= t < 15]
    last = [kb for t, kb in rss if t >= seconds - 10]
    summary = {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "requests": sum(c.requests for c in workers),
        "requests_per_second": round(sum(c.requests for c in workers) / elapsed, 1),
        "errors": sum(len(c.errors) for c in workers),
        "error_samples": [e for c in workers for e in c.errors][:5],
        "trials_written": len(expected),
        "trials_lost": len(lost),
        "trials_wrong_status": len(wrong),
        "trials_duplicated": len(duplicates),
        "admins_created": created_admins,
        "admins_found": admins["data"]["partnerAdmins"]["totalCount"],
        "rss_mb_warm": round(sum(warm) / len(warm) / 1024, 1) if warm else None,
        "rss_mb_end": round(sum(last) / len(last) / 1024, 1) if last else None,
        "rss_mb_peak": round(max(kb for _, kb in rss) / 1024, 1) if rss else None,
    }
    summary["ok"] = (
        summary["errors"] == 0
        and not lost
        and not wrong
        and not duplicates
        and created_admins == summary["admins_found"]
        and (not warm or not last or summary["rss_mb_end"] <= 1.25 * summary["rss_mb_warm"])
    )
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="partnerhub-soak-")
    env = {
        **os.environ,
        "PARTNERHUB_TODAY": os.environ.get("PARTNERHUB_TODAY", "2026-11-25"),
        "PARTNERHUB_LOG_LEVEL": "warning",
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/soak.db",
    }
    cli = [sys.executable, str(ROOT / "server.py")]
    subprocess.run([*cli, "seed", "--customers", str(args.customers)], env=env, check=True, cwd=ROOT)
    token = subprocess.run(
        [*cli, "token", "create", "ana.full@demo.example"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(f"{tmp}/server.log", "w"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print(Path(f"{tmp}/server.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.3)
        summary = asyncio.run(
            soak(f"http://127.0.0.1:{port}", token, seconds=args.seconds, clients=args.clients, pid=server.pid)
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
