"""The real server process: graceful shutdown, HTTP limits, SQL cancelled on disconnect and shutdown.

A request whose body is still arriving when SIGTERM lands is an in-flight
request: the server must finish it (and answer it completely) before it exits
cleanly, while refusing new connections. Request heads are bounded in size,
header count and time (web/http.py); an idle keep-alive connection closes;
past the concurrency cap requests get 503. On PostgreSQL, a statement of a
request whose client left, or of a request still running past the shutdown
grace period, is cancelled on the server (pg_stat_activity).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

# Starts server processes: outside the fast loop.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-25"
PG = os.environ.get("TEST_DATABASE_URL", "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _seeded_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PARTNERHUB_TODAY": TODAY,
        "PARTNERHUB_LOG_LEVEL": "warning",
        **extra,
    }
    _run(env, "seed", "--customers", "20")
    env["TOKEN"] = _run(env, "token", "create", "ana.full@demo.example").strip()
    return env


@pytest.fixture
def server_env(tmp_path):
    if PG:
        pytest.skip("runs once, in the SQLite pass")
    return _seeded_env(f"sqlite:///{tmp_path / 'p.db'}")


class Server:
    """``partnerhub serve`` (or ``tests/slow_server.py``) on a free port, with its log."""

    def __init__(self, env: dict[str, str], log_path: Path, script: str = "server.py") -> None:
        self.port = _free_port()
        self.log: IO[str] = open(log_path, "w+")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / script), "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).close()
                break
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)

    def connect(self, timeout: float = 30) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def serve(tmp_path) -> Iterator:
    servers: list[Server] = []

    def start(env: dict[str, str], script: str = "server.py") -> Server:
        servers.append(Server(env, tmp_path / f"server{len(servers)}.log", script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _read_all(sock: socket.socket) -> bytes:
    response = b""
    try:
        while chunk := sock.recv(65536):
            response += chunk
    except ConnectionResetError:
        pass
    return response


def _graphql_head(env: dict[str, str], body: bytes, connection: str = "close") -> bytes:
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {env['TOKEN']}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {connection}\r\n\r\n"
    ).encode()


def test_sigterm_lets_in_flight_requests_finish(server_env, serve):
    server = serve(server_env)
    body = json.dumps({"query": "{ customers(first: 3) { totalCount nodes { name } } }"}).encode()
    sock = server.connect()
    sock.sendall(_graphql_head(server_env, body) + body[:10])
    time.sleep(0.5)  # headers read: the request is in flight
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(OSError):  # shutting down: no new connections
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2)
    sock.sendall(body[10:])
    response = _read_all(sock)
    sock.close()
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK"
    payload = json.loads(rest.partition(b"\r\n\r\n")[2])
    # seed of 20 customers: all 20 visible to the full admin, 3 on the page
    assert payload["data"]["customers"]["totalCount"] == 20
    assert len(payload["data"]["customers"]["nodes"]) == 3
    # uvicorn re-raises the signal once shutdown is complete, so a clean exit
    # reads as "terminated by SIGTERM"; anything else (a crash, a kill) fails.
    assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Traceback" not in server.log_text()


def _healthy(server: Server) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
        return r.status == 200


def test_a_head_over_the_size_limit_is_refused_with_431(server_env, serve):
    server = serve({**server_env, "PARTNERHUB_MAX_HEADER_BYTES": "4096"})
    # A head of 4,096 bytes passes (the limit is inclusive); 4,097 is refused.
    for size, status in ((4096, b"HTTP/1.1 404 Not Found"), (4097, b"HTTP/1.1 431 Request Header Fields Too Large")):
        start = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
        head = start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"
        assert len(head) == size
        sock = server.connect()
        sock.sendall(head)
        response = _read_all(sock)
        sock.close()
        assert response.partition(b"\r\n")[0] == status, response[:200]
    assert b"exceeds 4096 bytes" in response
    assert _healthy(server)


def test_a_50_mb_authorization_header_is_not_read_whole(server_env, serve):
    server = serve(server_env)
    before = server.rss_mb()
    sock = server.connect()
    sent = 0
    chunk = b"a" * 65536
    response = b""
    try:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        while sent < 50 * 2**20:
            sock.sendall(chunk)
            sent += len(chunk)
        response = _read_all(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused and closed before the whole header was sent
    sock.close()
    # Refused after the first 16 KB: the server closed long before 50 MB were
    # sent (the socket buffers hold a few MB), and its memory did not grow by them.
    assert sent < 20 * 2**20
    assert response == b"" or response.startswith(b"HTTP/1.1 431 ")
    assert server.rss_mb() - before < 20
    assert _healthy(server)


def test_too_many_headers_are_refused_with_431(server_env, serve):
    server = serve({**server_env, "PARTNERHUB_MAX_HEADERS": "10"})
    # Host, Connection and 8 more: 10 headers pass; one more is refused.
    for extra, status in ((8, b"HTTP/1.1 404 Not Found"), (9, b"HTTP/1.1 431 Request Header Fields Too Large")):
        headers = "".join(f"X-H{i}: {i}\r\n" for i in range(extra))
        sock = server.connect()
        sock.sendall(f"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
        response = _read_all(sock)
        sock.close()
        assert response.partition(b"\r\n")[0] == status, response[:200]
    assert b"more than 10 headers" in response
    assert _healthy(server)


def test_a_connection_that_never_finishes_its_headers_is_closed(server_env, serve):
    server = serve({**server_env, "PARTNERHUB_HEADER_TIMEOUT_S": "1"})
    silent = server.connect()  # sends nothing at all
    slow = server.connect()
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    started = time.monotonic()
    for sock in (silent, slow):
        assert _read_all(sock) == b""  # closed by the server, no answer
        sock.close()
    # Closed after the 1 s limit (not at once, and not never: recv's timeout is 30 s).
    assert 0.9 < time.monotonic() - started < 10
    assert _healthy(server)


def test_an_idle_keep_alive_connection_is_closed(server_env, serve):
    server = serve({**server_env, "PARTNERHUB_KEEP_ALIVE_TIMEOUT_S": "1"})
    sock = server.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"\r\n\r\nok"):  # /healthz answers "ok"
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 OK")
    started = time.monotonic()
    assert _read_all(sock) == b""  # nothing more, then closed by the server
    assert 0.9 < time.monotonic() - started < 10
    sock.close()


def test_past_the_concurrency_cap_requests_get_503(server_env, serve):
    server = serve({**server_env, "PARTNERHUB_MAX_CONCURRENCY": "2"})
    # A POST whose head is complete runs (it waits for its body): two reach the cap.
    held = [server.connect(), server.connect()]
    for sock in held:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n"
        )
    time.sleep(0.3)
    sock = server.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _read_all(sock).startswith(b"HTTP/1.1 503 Service Unavailable")
    sock.close()
    for sock in held:
        sock.close()
    time.sleep(0.3)
    assert _healthy(server)


def test_idle_connections_do_not_count_against_the_request_cap(server_env, serve):
    # uvicorn's own cap counted connections: two idle ones made every request a 503.
    server = serve({**server_env, "PARTNERHUB_MAX_CONCURRENCY": "2"})
    idle = [server.connect() for _ in range(5)]
    time.sleep(0.3)
    assert _healthy(server)
    for sock in idle:
        sock.close()


def test_past_the_connection_cap_the_oldest_unfinished_head_is_closed(server_env, serve):
    server = serve({**server_env, "PARTNERHUB_MAX_CONNECTIONS": "3"})
    oldest, second, third = (server.connect() for _ in range(3))
    for sock in (oldest, second, third):
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head that never ends
        time.sleep(0.1)
    # The fourth connection is over the cap: the oldest half head makes room,
    # and the newcomer is answered.
    assert _healthy(server)
    assert _read_all(oldest) == b""  # closed without an answer
    for sock in (second, third):
        sock.close()


# ------------------------------------------------- SQL cancelled (PostgreSQL)


@pytest.fixture
def pg_env(db_url):
    if not PG.startswith("postgres"):
        pytest.skip("pg_stat_activity: PostgreSQL only")
    return _seeded_env(db_url)


def _sleeping(env: dict[str, str], marker: str) -> int:
    """Statements of ``tests/slow_server.py`` with ``marker`` still running on the PostgreSQL server."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%' "
        f"AND query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
    )
    done = subprocess.run(
        ["psql", "-At", "-d", env["DATABASE_URL"], "-c", sql], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def _start_slow_request(server: Server, env: dict[str, str], marker: str) -> socket.socket:
    body = json.dumps({"query": "{ kpis { totalCustomers } }"}).encode()
    sock = server.connect()
    sock.sendall(_graphql_head(env, body) + body)
    deadline = time.monotonic() + 20
    while _sleeping(env, marker) != 1:
        assert time.monotonic() < deadline, "the slow statement did not start"
        time.sleep(0.2)
    return sock


def test_a_client_that_leaves_has_its_statement_cancelled(pg_env, serve):
    env = {**pg_env, "SLOW_SQL_MARKER": "left-client"}
    server = serve(env, "tests/slow_server.py")
    sock = _start_slow_request(server, env, "left-client")
    sock.close()  # the client leaves mid-request
    deadline = time.monotonic() + 10
    while _sleeping(env, "left-client"):
        assert time.monotonic() < deadline, "the statement kept running after the client left"
        time.sleep(0.2)
    assert server.process.poll() is None and _healthy(server)


def test_sigterm_cancels_statements_still_running_after_the_grace_period(pg_env, serve):
    env = {**pg_env, "SLOW_SQL_MARKER": "shutdown", "PARTNERHUB_SHUTDOWN_GRACE_S": "1"}
    server = serve(env, "tests/slow_server.py")
    sock = _start_slow_request(server, env, "shutdown")
    server.process.send_signal(signal.SIGTERM)
    # The 60 s statement is cancelled after the 1 s grace period and the client told so; the process exits.
    response = _read_all(sock)
    sock.close()
    assert response.startswith(b"HTTP/1.1 503 Service Unavailable"), server.log_text()
    assert json.loads(response.partition(b"\r\n\r\n")[2])["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert _sleeping(env, "shutdown") == 0
    log = server.log_text()
    assert "Cancel 1 running task(s)" in log and "Traceback" not in log
