"""A small HTTP/1.1 load generator: keep-alive connections, prebuilt requests.

Python, so the benchmark needs nothing beyond the project's own environment,
but lean: each connection is a raw asyncio stream on uvloop writing prebuilt
request bytes and reading ``Content-Length`` bodies, so the client spends a few
tens of microseconds per request (it reports its own CPU time, which shares
the machine's two cores with the server and the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

ERROR_MARKER = b'"errors":['  # a JSON key: an unescaped quote cannot occur inside a string value


def build_request(host: str, port: int, token: str | None, query: str, variables: dict | None) -> bytes:
    """The bytes of one POST /graphql request."""
    body = orjson.dumps({"query": query, "variables": variables or {}})
    headers = [
        "POST /graphql HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Stats:
    """What a run measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    bytes: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None  # seconds, over the measured requests only (when a reader was given)

    def record(self, latency: float, response: Response) -> None:
        self.latencies.append(latency)
        self.bytes += len(response.body)
        sql = response.headers.get("x-sql-statements")
        if sql is not None and sql.isdigit():
            self.statements.append(int(sql))
        if response.status != 200 or ERROR_MARKER in response.body:
            self.errors += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(f"HTTP {response.status}: {response.body[:300]!r}")

    @classmethod
    def merged(cls, parts: list[Stats]) -> Stats:
        """One run's worth of several (rounds of one side of an A/B comparison)."""
        out = cls()
        for part in parts:
            out.latencies += part.latencies
            out.errors += part.errors
            out.error_samples += part.error_samples[: max(0, 3 - len(out.error_samples))]
            out.statements += part.statements
            out.bytes += part.bytes
            out.elapsed += part.elapsed
            out.client_cpu += part.client_cpu
            if part.server_cpu is not None:
                out.server_cpu = (out.server_cpu or 0.0) + part.server_cpu
        return out

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(p: float) -> float | None:
            if not n:
                return None
            return round(lat[min(n - 1, max(0, round(p / 100 * n + 0.5) - 1))] * 1000, 2)

        statements = sorted(set(self.statements))
        return {
            "requests": n,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "mean_ms": round(sum(lat) / n * 1000, 2) if n else None,
            "rps": round(n / self.elapsed, 1) if self.elapsed else None,
            "sql_per_request": statements[0] if len(statements) == 1 else statements,
            "response_bytes": self.bytes // n if n else None,
            "client_cpu_ms_per_request": round(self.client_cpu / n * 1000, 3) if n else None,
            "server_cpu_ms_per_request": (
                round(self.server_cpu / n * 1000, 2) if n and self.server_cpu is not None else None
            ),
        }


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**22)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
            self.writer = None

    async def send(self, request: bytes) -> Response:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)


async def request_once(host: str, port: int, request: bytes) -> Response:
    connection = Connection(host, port)
    try:
        return await connection.send(request)
    finally:
        await connection.close()


async def sequential(
    host: str,
    port: int,
    requests: Iterable[bytes],
    *,
    count: int,
    max_seconds: float,
    warmup: int = 5,
    min_count: int = 20,
    server_cpu: Callable[[], float] | None = None,
) -> Stats:
    """``count`` requests one after another on one connection (after ``max_seconds``, at least ``min_count``).

    ``server_cpu`` reads the server's CPU seconds; it is read after the warm-up
    and after the last measured request, so ``Stats.server_cpu`` covers exactly
    the measured requests.
    """
    cycle = itertools.cycle(list(requests))
    connection = Connection(host, port)
    stats = Stats()
    try:
        for _ in range(warmup):
            await connection.send(next(cycle))
        server0 = server_cpu() if server_cpu else None
        cpu0, started = time.process_time(), time.perf_counter()
        deadline = started + max_seconds
        for _ in range(count):
            t0 = time.perf_counter()
            response = await connection.send(next(cycle))
            stats.record(time.perf_counter() - t0, response)
            if time.perf_counter() > deadline and len(stats.latencies) >= min_count:
                break
        stats.elapsed = time.perf_counter() - started
        stats.client_cpu = time.process_time() - cpu0
        if server_cpu:
            stats.server_cpu = server_cpu() - server0
    finally:
        await connection.close()
    return stats


async def concurrent(
    host: str,
    port: int,
    requests: Iterable[bytes],
    *,
    connections: int,
    seconds: float,
    warmup_seconds: float = 2.0,
    server_cpu: Callable[[], float] | None = None,
) -> Stats:
    """``connections`` clients sending back to back for ``seconds`` (after a warm-up).

    ``server_cpu`` (the server's CPU seconds) is read when the measured window
    opens and once its last request has been answered, not during the warm-up.
    """
    pool = list(requests)
    stats = Stats()
    window = {"start": float("inf"), "stop": float("inf")}

    async def client(index: int) -> None:
        connection = Connection(host, port)
        cycle = itertools.cycle(pool[index % len(pool) :] + pool[: index % len(pool)])
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= window["stop"]:
                    return
                measured = t0 >= window["start"]
                try:
                    response = await connection.send(next(cycle))
                except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                    await connection.close()
                    if measured:
                        stats.errors += 1
                        if len(stats.error_samples) < 3:
                            stats.error_samples.append(repr(exc))
                    continue
                if measured:
                    stats.record(time.perf_counter() - t0, response)
        finally:
            await connection.close()

    tasks = [asyncio.ensure_future(client(i)) for i in range(connections)]
    await asyncio.sleep(warmup_seconds)
    server0 = server_cpu() if server_cpu else None
    cpu0, started = time.process_time(), time.perf_counter()
    window["start"], window["stop"] = started, started + seconds
    await asyncio.gather(*tasks)
    stats.elapsed = seconds
    stats.client_cpu = time.process_time() - cpu0
    if server_cpu:
        stats.server_cpu = server_cpu() - server0
    return stats
