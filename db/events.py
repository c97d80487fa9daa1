"""Live events (SPEC §3.3): what changed, published after commit, fanned out to subscribers.

An :class:`Event` carries ids only (partner, customers, audit event); each
subscriber re-reads what it may see with its own viewer. Delivery is
at-most-once:

* SQLite (one process): :class:`Broker` hands events straight to the
  subscribers' queues.
* PostgreSQL: :class:`PgBroker` sends ``NOTIFY partnerhub_events, '<json>'`` on
  a dedicated connection of its own and ``LISTEN``\\ s on it, so every process
  on the database (this one included) receives every event. When that
  connection drops, the broker reconnects and hands every subscriber a
  ``reset`` event: something may have been missed, refetch.

Each subscriber has a bounded queue: one that falls ``queue_size`` events
behind is dropped (:attr:`Subscriber.overflowed`) rather than buffered
without bound. Events are numbered per process (:attr:`Event.sequence`).

Brokers are found by engine (:func:`broker_for`): the app registers one at
start-up, the mutation runner publishes through it; with none registered (a
script, a test without the app) publishing does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import weakref
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("partnerhub.events")

CHANNEL = "partnerhub_events"
MAX_PAYLOAD = 7_900
"""Longest ``NOTIFY`` payload sent (ASCII, so bytes; PostgreSQL's limit is just under 8,000)."""
CHANGE = "change"
RESET = "reset"


@dataclass(frozen=True)
class Event:
    """One committed change, by ids.

    Attributes:
        kind: :data:`CHANGE`, or :data:`RESET` (events may have been lost, or
            too much changed to list it, as by an import: refetch).
        partner_id: The partner whose data changed (``0`` for a reset of all partners).
        customer_ids: Customers whose statuses, plans or admins changed.
        audit_id: The audit event the change wrote, if any.
        sequence: Number given by the receiving process, 1, 2, 3...
    """

    kind: str
    partner_id: int = 0
    customer_ids: tuple[int, ...] = ()
    audit_id: int | None = None
    sequence: int = 0

    def to_json(self) -> str:
        """The ``NOTIFY`` payload: ids only.

        PostgreSQL refuses a payload of 8,000 bytes or more; a change of more
        customers than fit (a removed admin assigned to about a thousand) is
        sent as a reset of its partner instead: its subscribers refetch.
        """
        text = json.dumps({"k": self.kind, "p": self.partner_id, "c": list(self.customer_ids), "a": self.audit_id})
        if len(text) > MAX_PAYLOAD:
            return Event(RESET, self.partner_id).to_json()
        return text

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Parse a ``NOTIFY`` payload written by :meth:`to_json`."""
        data = json.loads(text)
        kind = RESET if data.get("k") == RESET else CHANGE
        return cls(kind, int(data["p"]), tuple(int(c) for c in data["c"]), data["a"])


class Subscriber:
    """One subscription's queue of events of its partner."""

    def __init__(self, partner_id: int, queue_size: int) -> None:
        self.partner_id = partner_id
        # One slot more than queue_size, for the ``None`` that ends an overflowed subscriber.
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=queue_size + 1)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        """Queue ``event``; a full queue marks the subscriber overflowed and ends it."""
        if self.overflowed:
            return
        if self.queue.qsize() >= self.queue.maxsize - 1:
            self.overflowed = True
            # What waits is dropped with it: the consumer learns at once, not
            # after sending events it will have to refetch anyway.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    async def next(self) -> Event | None:
        """The next event, or ``None`` once the subscriber was dropped for falling behind."""
        return await self.queue.get()


class Broker:
    """In-process fan-out of events to subscribers (SQLite, and the receiving end on PostgreSQL).

    Args:
        queue_size: Events a subscriber may fall behind before it is dropped.
    """

    def __init__(self, *, queue_size: int = 100) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.sequence = 0

    def subscribe(self, partner_id: int) -> Subscriber:
        """A new subscriber to ``partner_id``'s events (and resets)."""
        subscriber = Subscriber(partner_id, self.queue_size)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget ``subscriber`` (idempotent)."""
        self.subscribers.discard(subscriber)

    def deliver(self, event: Event) -> None:
        """Number ``event`` and queue it for its partner's subscribers (all of them for a reset)."""
        self.sequence += 1
        numbered = dataclasses.replace(event, sequence=self.sequence)
        for subscriber in list(self.subscribers):
            if subscriber.partner_id == event.partner_id or (event.kind == RESET and event.partner_id == 0):
                subscriber.offer(numbered)

    async def publish(self, event: Event) -> None:
        """Publish a committed change: here, deliver it in this process."""
        self.deliver(event)

    async def start(self) -> None:
        """Nothing to start in-process."""

    async def stop(self) -> None:
        """Nothing to stop in-process."""


class PgBroker(Broker):
    """Events through PostgreSQL ``LISTEN/NOTIFY`` on one dedicated asyncpg connection per process.

    Args:
        dsn: A libpq URL of the database (``postgresql://...``).
        queue_size: See :class:`Broker`.
        retry_seconds: Wait between reconnection attempts.
    """

    def __init__(self, dsn: str, *, queue_size: int = 100, retry_seconds: float = 0.5) -> None:
        super().__init__(queue_size=queue_size)
        self.dsn = dsn
        self.retry_seconds = retry_seconds
        self.connection: Any = None
        self._lost = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = Event.from_json(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed %s payload", CHANNEL)
            return
        self.deliver(event)

    def _on_lost(self, _conn: Any) -> None:
        self._lost.set()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        connection.add_termination_listener(self._on_lost)
        await connection.add_listener(CHANNEL, self._on_notify)
        self.connection = connection
        self._lost.clear()
        self.connected.set()

    async def _supervise(self) -> None:
        """Keep the LISTEN connection up; after a loss, reconnect and tell subscribers to refetch."""
        while True:
            await self._lost.wait()
            self.connected.clear()
            old, self.connection = self.connection, None
            if old is not None:
                with contextlib.suppress(Exception):
                    old.terminate()
            while True:
                try:
                    await self._connect()
                    break
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("LISTEN connection lost (%s); retrying", exc.__class__.__name__)
                    await asyncio.sleep(self.retry_seconds)
            # Events notified while we were away are gone for this process.
            self.deliver(Event(RESET))

    async def start(self) -> None:
        """Connect and listen; the supervisor reconnects after a loss."""
        try:
            await self._connect()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN connection failed at start (%s); retrying", exc.__class__.__name__)
            self._lost.set()
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.connection.close(), timeout=2)
            self.connection = None

    async def publish(self, event: Event) -> None:
        """``NOTIFY`` the change; every listening process (this one too) delivers it."""
        connection = self.connection
        if connection is None:
            # Reconnecting: the event is lost; subscribers get the reset once back.
            log.warning("event lost: no LISTEN connection")
            return
        try:
            async with self._lock:  # one statement at a time on an asyncpg connection
                await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, event.to_json())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("event lost: NOTIFY failed (%s)", exc.__class__.__name__)
            self._lost.set()


_BROKERS: weakref.WeakKeyDictionary[Engine, Broker] = weakref.WeakKeyDictionary()


def make_broker(engine: AsyncEngine, *, queue_size: int = 100) -> Broker:
    """The broker for ``engine``'s database, registered for :func:`broker_for`."""
    url = engine.url
    broker: Broker
    if url.get_backend_name() == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        broker = PgBroker(dsn, queue_size=queue_size)
    else:
        broker = Broker(queue_size=queue_size)
    _BROKERS[engine.sync_engine] = broker
    return broker


def broker_for(engine: AsyncEngine | Any) -> Broker | None:
    """The broker registered for ``engine`` (an ``AsyncEngine`` or a session's bind), if any."""
    sync = getattr(engine, "sync_engine", None)
    return None if sync is None else _BROKERS.get(sync)


def forget_broker(engine: AsyncEngine, broker: Broker) -> None:
    """Unregister ``broker`` if it is still ``engine``'s."""
    if _BROKERS.get(engine.sync_engine) is broker:
        del _BROKERS[engine.sync_engine]


async def notify_in_transaction(conn: AsyncConnection, event: Event) -> None:
    """On PostgreSQL, ``NOTIFY`` ``event`` from inside the caller's transaction.

    PostgreSQL delivers it when (and only if) that transaction commits; for a
    writer outside the server processes (``partnerhub load``), which has no
    broker. Nothing on SQLite, where only the server's own process could hear.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": event.to_json()}
        )


async def publish(engine: AsyncEngine | Any, event: Event) -> None:
    """Publish a committed change through ``engine``'s broker; never raises.

    Args:
        engine: The engine (or session bind) the change was committed on.
        event: What changed.
    """
    broker = broker_for(engine)
    if broker is None:
        return
    try:
        await broker.publish(event)
    except Exception:  # a lost event must never fail the committed mutation
        log.exception("publishing a live event failed")
