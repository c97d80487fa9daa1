"""Limits on a connection's request head, where uvicorn has no setting for them (issue 13).

uvicorn's httptools protocol reads a request head of any size (httptools
gathers a whole header value before handing it over: a 50 MB
``Authorization`` header is 50 MB of memory), any number of headers, and
waits forever for a head that never ends. :class:`LimitedHttpToolsProtocol`
adds, per request head:

- at most ``PARTNERHUB_MAX_HEADER_BYTES`` bytes: the bytes are fed to the
  parser no further than that, so an oversize head is refused with 431
  without being read whole;
- at most ``PARTNERHUB_MAX_HEADERS`` headers: 431;
- ``PARTNERHUB_HEADER_TIMEOUT_S`` from the connection's first byte wait (or
  a new request's first byte) to the head's end: then the connection is
  closed, so connections that never finish their headers do not pile up.

Two caps replace uvicorn's ``limit_concurrency``, which counts open
connections and running requests together: 2,000 connections that never
finish a head then made every new request, an admin's included, a 503 until
the head timeout. Here ``PARTNERHUB_MAX_CONCURRENCY`` counts running requests
only (past it: 503), and past ``PARTNERHUB_MAX_CONNECTIONS`` open connections
the one that has waited longest in a request head is closed to make room, so
a flood of idle connections evicts itself instead of the clients that talk.

The keep-alive timeout is uvicorn's own setting (``server.py``). The limits are read from the settings once per process, when
the first connection arrives (with ``--workers N`` each worker reads them).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from db.settings import Settings, get_settings

STATUS_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


class _TooManyHeaders(Exception):
    """Raised from the parser's header callback; httptools reports it from ``feed_data``."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with limits on the request head's size, header count and time."""

    settings: ClassVar[Settings | None] = None
    # Connections of this process in a request head, oldest first (dicts keep
    # insertion order): the ones to close when the connection cap is reached.
    in_head: ClassVar[dict[LimitedHttpToolsProtocol, None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if LimitedHttpToolsProtocol.settings is None:
            LimitedHttpToolsProtocol.settings = get_settings()
        settings = LimitedHttpToolsProtocol.settings
        self.max_head_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.header_timeout = settings.header_timeout_s
        self.max_requests = settings.max_concurrency
        self.max_connections = settings.max_connections
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()
        if len(self.connections) > self.max_connections:
            oldest = next((p for p in LimitedHttpToolsProtocol.in_head if p is not self), None)
            if oldest is not None:
                oldest._evict()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        LimitedHttpToolsProtocol.in_head.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Feed the head no further than its limit; past the head, uvicorn's own flow control applies.
        while self._in_head and data:
            if self._head_timer is None:
                self._arm_head_timer()
            room = self.max_head_bytes - self._head_bytes
            if room <= 0:
                self._refuse(f"The request head exceeds {self.max_head_bytes} bytes.")
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refusal = f"The request has more than {self.max_headers} headers."
            raise _TooManyHeaders
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        # uvicorn answers 503 when limit_concurrency is reached; only running
        # requests count here (0 forces its 503, None lets the request run).
        self.limit_concurrency = 0 if len(self.tasks) >= self.max_requests else None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Whatever arrives next is the head of the next request.
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        # httptools turns the callback's _TooManyHeaders into a parser error, which uvicorn answers with 400.
        if self._refusal is not None:
            self._refuse(self._refusal)
        else:
            super().send_400_response(msg)

    def _refuse(self, message: str) -> None:
        self._disarm_head_timer()
        body = message.encode()
        self.transport.write(
            STATUS_431
            + b"content-type: text/plain; charset=utf-8\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)
        LimitedHttpToolsProtocol.in_head[self] = None

    def _disarm_head_timer(self) -> None:
        LimitedHttpToolsProtocol.in_head.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _evict(self) -> None:
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()
