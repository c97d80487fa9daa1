"""Database faults: a throwaway PostgreSQL cluster is stopped under the running app.

Requests then fail fast with SERVICE_UNAVAILABLE (HTTP 503), /readyz says not
ready, and once the database is back the same app answers again — no restart.
Needs PostgreSQL's server binaries (initdb, pg_ctl); skipped without them,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import httpx
import pytest

from db.engine import make_engine, make_sessionmaker
from db.migrate import migrate
from db.settings import get_settings
from server import create_app
from tests.world import TOKENS, build_world

# Starts and stops a PostgreSQL cluster: outside the fast loop.
pytestmark = pytest.mark.slow

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:  # initdb refuses to run as root
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster():
    if not BIN or not os.path.exists(os.path.join(BIN[-1], "initdb")):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries (initdb) are required under CI=true")
        pytest.skip("no PostgreSQL server binaries to start a throwaway cluster")
    bindir = BIN[-1]
    root = tempfile.mkdtemp(prefix="partnerhub-pg-")
    os.chmod(root, 0o777)
    data = os.path.join(root, "data")
    port = _free_port()
    subprocess.run(
        _as_postgres([f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start() -> None:
        # -l: the server must not inherit our pipes, or waiting for pg_ctl never ends.
        subprocess.run(
            _as_postgres(
                [f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", f"{root}/log", "-w", "-t", "30", "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def stop() -> None:
        subprocess.run(
            _as_postgres([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    start()
    try:
        yield {"url": f"postgresql://postgres@127.0.0.1:{port}/postgres", "start": start, "stop": stop}
    finally:
        subprocess.run(
            _as_postgres([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


HEADERS = {"Authorization": f"Bearer {TOKENS['ana']}"}
QUERY = {"query": "{ customers(first: 2) { totalCount } }"}


@contextlib.asynccontextmanager
async def _client_on(url: str):
    """An HTTP client of the app on a migrated cluster holding the test world."""
    engine = make_engine(url)
    await migrate(engine)
    async with make_sessionmaker(engine)() as session:
        await build_world(session)
    await engine.dispose()
    app = create_app(settings=get_settings().replace(database_url=url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client


async def test_database_outage_and_recovery(cluster):
    async with _client_on(cluster["url"]) as client:
        r = await client.post("/graphql", json=QUERY, headers=HEADERS)
        assert (r.status_code, r.json()["data"]) == (200, {"customers": {"totalCount": 7}})

        cluster["stop"]()
        started = time.monotonic()
        r = await client.post("/graphql", json=QUERY, headers=HEADERS)
        elapsed = time.monotonic() - started
        assert r.status_code == 503
        assert r.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "Traceback" not in r.text and "asyncpg" not in r.text
        assert elapsed < 10  # connect timeout is 5 s; a refused connection fails at once
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"

        cluster["start"]()
        for _ in range(20):  # the dead pooled connections are replaced by themselves
            r = await client.post("/graphql", json=QUERY, headers=HEADERS)
            if r.status_code == 200:
                break
            await asyncio.sleep(0.5)
        assert (r.status_code, r.json()["data"]) == (200, {"customers": {"totalCount": 7}})
        assert (await client.get("/readyz")).status_code == 200


async def test_restarted_database_costs_no_failed_request(cluster):
    """A database restart between two requests: the next request succeeds at once.

    The pool's connections all died with the server. Without pool_pre_ping the
    request's first statement (the token lookup) finds that out, SQLAlchemy
    invalidates the pool, and the endpoint retries that statement once on a
    fresh connection (server.py) — no 503 for the caller.
    """
    async with _client_on(cluster["url"]) as client:
        # Two concurrent requests: the pool then holds two connections.
        first = await asyncio.gather(*[client.post("/graphql", json=QUERY, headers=HEADERS) for _ in range(2)])
        assert [r.status_code for r in first] == [200, 200]
        cluster["stop"]()
        cluster["start"]()
        for _ in range(3):
            r = await client.post("/graphql", json=QUERY, headers=HEADERS)
            assert (r.status_code, r.json()["data"]) == (200, {"customers": {"totalCount": 7}})
