"""Fan-out of live events: one re-read per (viewer, request) group, shared by its subscriptions (SPEC §3.3).

A subscription (:class:`Member`) joins its partner's :class:`PartnerFanout`,
which alone takes that partner's events from the broker (:mod:`db.events`).
Events are handled in bursts — every event that has arrived by the time the
previous burst is done — and per burst:

1. Every connection with a subscription of the partner has its token looked
   up again, all of them in one statement (:func:`db.tokens.viewers_for_tokens`):
   a revoked token or a removed admin closes its connection (4401) at once, and
   a subscription the admin's current role no longer allows ends with its
   error (``auditEvent`` of a demoted reader: ``FORBIDDEN``).
2. Subscriptions are grouped by the viewer as it is now (admin, partner, role:
   what visibility depends on; not the token) and by the request as sent
   (document text, variables, operation name). Each group gets one session's
   :class:`~resolvers.context.Context` with the group's viewer, re-reads the
   burst's events through its loaders at once (so the customers of a burst are
   one statement) and executes the selection once per delivered value.
3. Each subscription of the group receives the same result
   (:class:`Executed`, serialized once) in its own bounded queue, in event
   order; its own task numbers it (``extensions.sequence``), charges it to its
   token's budget and sends it (web/live.py writes the serialized result into
   the member's ``next`` message, so nothing is executed or encoded per
   member).

So N subscriptions of one viewer and one document cost the statements of
one, and the visibility of every result is that of its group's viewer: two
viewers who see different things are never in one group.

Falling behind is bounded twice: a partner's fan-out more than
``queue_size`` events behind the broker ends every subscription of the
partner (the broker's queue overflowed), and a subscription whose socket
is more than ``queue_size`` results behind ends alone; both with
``LIVE_OVERFLOW``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from graphql import DocumentNode, ExecutionResult, GraphQLError, GraphQLSchema
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import events
from db.access import Viewer
from db.settings import Settings, today
from db.tokens import viewers_for_tokens
from resolvers.context import Context
from schema.execution import FastExecutionContext

log = logging.getLogger("partnerhub.live")

REVOKED_CODE = 4401
REVOKED_REASON = "The bearer token is invalid or revoked."
LIVE_OVERFLOW = "LIVE_OVERFLOW"


class Executed:
    """A group's result for one event, shared by its members and serialized once.

    Attributes:
        result: graphql-core's result (never modified).
    """

    __slots__ = ("_body", "result")

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result
        self._body: str | None = None

    @property
    def body(self) -> str:
        """The ``next`` payload's members as JSON text without the braces: ``"data": {...}`` (and ``"errors": [...]``).

        The same text strawberry would send for the result (``json.dumps`` of
        ``data`` and of each error's ``formatted``), made by the first member
        that sends it; web/live.py adds the member's own ``extensions``.
        """
        if self._body is None:
            text = '"data": ' + json.dumps(self.result.data)
            if self.result.errors:
                text += ', "errors": ' + json.dumps([error.formatted for error in self.result.errors])
            self._body = text
        return self._body


def overflow_error(queue_size: int) -> GraphQLError:
    """The error that ends a subscription which fell too far behind."""
    return GraphQLError(
        f"Dropped: more than {queue_size} events were waiting to be sent; resubscribe and refetch.",
        extensions={"code": LIVE_OVERFLOW},
    )


class Connection(Protocol):
    """What the fan-out needs of a WebSocket connection (:class:`schema.subscription.LiveConnection`)."""

    token: str | None
    viewer: Viewer | None

    def close(self, code: int, reason: str) -> None:
        """Close the connection (scheduled, not awaited)."""


@dataclass(frozen=True)
class Request:
    """A subscription request as sent: the group's key besides the viewer.

    Attributes:
        document: The parsed document.
        query: Its text.
        variables: The variables as sent.
        operation_name: The operation to run.
    """

    document: DocumentNode
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        """Equal for requests that execute alike."""
        return self.query, json.dumps(self.variables or {}, sort_keys=True, default=str), self.operation_name


Read = Callable[[Context, events.Event, dict[Any, Any]], Awaitable[list[Any]]]
"""Re-reads one event for a group: the values to execute, one message each (none: nothing to send).

The dict is the group's memo for the burst (values every event of a burst shares, such as KPIs).
"""


@dataclass(frozen=True)
class Field:
    """What one subscription field delivers (declared by each field of :class:`schema.subscription.LiveEvents`).

    Attributes:
        wanted: Whether an event concerns the subscription at all.
        read: See :data:`Read`.
        check: The error ending the subscription once the viewer's current
            role no longer allows it; ``None`` while it does.
    """

    wanted: Callable[[events.Event], bool]
    read: Read
    check: Callable[[Viewer], GraphQLError | None] = lambda _viewer: None


# What a member's queue holds: (kind, event number, payload).
DELIVERY, RESET, END, CLOSED = "delivery", "reset", "end", "closed"


@dataclass(eq=False)
class Member:
    """One running subscription: its connection, field, request and queue of results.

    Attributes:
        conn: Its connection.
        spec: What it delivers.
        request: What was sent.
        schema: The GraphQL schema (graphql-core's) to execute in.
        queue: Results waiting to be sent; one slot more than the limit, for the end.
    """

    conn: Connection
    spec: Field
    request: Request
    schema: GraphQLSchema
    queue_size: int
    queue: asyncio.Queue[tuple[str, int, Any]] = field(init=False)
    ended: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size + 1)

    def offer(self, kind: str, sequence: int = 0, payload: Any = None) -> None:
        """Queue an item; a full queue ends the member with ``LIVE_OVERFLOW`` (what waited is dropped)."""
        if self.ended:
            return
        if kind in (END, CLOSED):
            self._end(kind, payload)
        elif self.queue.qsize() >= self.queue_size:
            self._end(END, overflow_error(self.queue_size))
        else:
            self.queue.put_nowait((kind, sequence, payload))

    def _end(self, kind: str, payload: Any) -> None:
        self.ended = True
        # The consumer learns at once, not after sending results it would refetch anyway.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait((kind, 0, payload))

    async def next(self) -> tuple[str, int, Any]:
        """The next item: ``(DELIVERY, event, Executed)``, ``(RESET, event, None)``, ``(END, 0, error)``, ``(CLOSED, 0, None)``."""
        return await self.queue.get()


def _executor(schema: GraphQLSchema, request: Request, ctx: Context) -> FastExecutionContext:
    """An executor of the request in ``ctx`` (one per group and burst)."""
    executor = FastExecutionContext.build(
        schema,
        request.document,
        context_value=ctx,
        raw_variable_values=request.variables,
        operation_name=request.operation_name,
    )
    if isinstance(executor, list):  # pragma: no cover - the same request was valid when it subscribed
        raise executor[0]
    return cast(FastExecutionContext, executor)


async def _execute(executor: FastExecutionContext, value: Any) -> ExecutionResult:
    """The request's selection executed once on ``value`` (the subscription field's value)."""
    result = executor.build_per_event_executor(value).execute_operation(False)
    if executor.is_awaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult)
    return result


class PartnerFanout:
    """The fan-out of one partner's events to its subscriptions in this process (see the module docstring).

    Args:
        partner_id: The partner.
        broker: Where its events arrive.
        sessionmaker: Makes each burst's session.
        settings: The app's settings (for each group's context).
    """

    def __init__(
        self,
        partner_id: int,
        broker: events.Broker,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        self.partner_id = partner_id
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.members: set[Member] = set()
        self.subscriber = broker.subscribe(partner_id)
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop taking events."""
        self.broker.unsubscribe(self.subscriber)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task

    async def _run(self) -> None:
        while True:
            first = await self.subscriber.next()
            burst = [first]
            while not self.subscriber.queue.empty():
                burst.append(self.subscriber.queue.get_nowait())
            if None in burst:
                # This fan-out fell queue_size events behind: so did every subscription of the partner.
                error = overflow_error(self.broker.queue_size)
                for member in list(self.members):
                    member.offer(END, payload=error)
                self.broker.unsubscribe(self.subscriber)
                self.subscriber = self.broker.subscribe(self.partner_id)
                continue
            try:
                await self.dispatch([event for event in burst if event is not None])
            except Exception:
                # Never silent: whoever may have missed something is told to refetch.
                log.exception("live events: a burst of %d events failed", len(burst))
                for member in list(self.members):
                    member.offer(RESET, burst[-1].sequence if burst[-1] is not None else 0)

    async def dispatch(self, burst: list[events.Event]) -> None:
        """Re-read and deliver one burst of the partner's events (see the module docstring)."""
        members = [m for m in self.members if not m.ended]
        if not members:
            return
        changes = [e for e in burst if e.kind != events.RESET]
        results: dict[tuple[Member, int], list[Executed]] = {}
        async with self.sessionmaker() as session:
            connections = {m.conn for m in members}
            current = await viewers_for_tokens(session, [c.token or "" for c in connections])
            groups: dict[tuple[Viewer, tuple[str, str, str | None]], list[Member]] = {}
            for conn in connections:
                viewer = current.get(conn.token or "")
                if viewer is None:
                    conn.close(REVOKED_CODE, REVOKED_REASON)
                    for member in members:
                        if member.conn is conn:
                            member.offer(CLOSED)
                    continue
                conn.viewer = viewer
            for member in members:
                viewer = current.get(member.conn.token or "")
                if viewer is None:
                    continue
                error = member.spec.check(viewer)
                if error is not None:
                    member.offer(END, payload=error)
                    continue
                groups.setdefault((viewer, member.request.key), []).append(member)
            # The groups one after another on the burst's session (it runs one statement at a time).
            for (viewer, _key), group in groups.items():
                lead = group[0]
                wanted = [e for e in changes if lead.spec.wanted(e)]
                if not wanted:
                    continue
                ctx = Context.create(session=session, viewer=viewer, today=today(), settings=self.settings)
                memo: dict[Any, Any] = {}
                # Together, so the loaders batch the burst's customers into one statement.
                values = await asyncio.gather(*(lead.spec.read(ctx, e, memo) for e in wanted))
                executor = _executor(lead.schema, lead.request, ctx)
                done = await asyncio.gather(*(_execute(executor, value) for vs in values for value in vs))
                it = iter(done)
                for event, vs in zip(wanted, values, strict=True):
                    shared = [Executed(next(it)) for _ in vs]
                    for member in group:
                        results[(member, event.sequence)] = shared
        for event in burst:
            for member in members:
                if event.kind == events.RESET:
                    member.offer(RESET, event.sequence)
                    continue
                for executed in results.get((member, event.sequence), ()):
                    member.offer(DELIVERY, event.sequence, executed)


class Fanout:
    """Every partner's fan-out of this process, made when its first subscription joins.

    Args:
        broker: The app's broker.
        sessionmaker: The app's sessionmaker.
        settings: The app's settings.
    """

    def __init__(self, broker: events.Broker, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings):
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.partners: dict[int, PartnerFanout] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    @property
    def queue_size(self) -> int:
        """Results a subscription may fall behind (the broker's queue size)."""
        return self.broker.queue_size

    def join(self, partner_id: int, conn: Connection, spec: Field, request: Request, schema: GraphQLSchema) -> Member:
        """A new member of ``partner_id``'s fan-out; it hears events published from now on."""
        fanout = self.partners.get(partner_id)
        if fanout is None:
            fanout = self.partners[partner_id] = PartnerFanout(
                partner_id, self.broker, self.sessionmaker, self.settings
            )
        member = Member(conn, spec, request, schema, self.broker.queue_size)
        fanout.members.add(member)
        return member

    def leave(self, partner_id: int, member: Member) -> None:
        """Forget ``member`` (idempotent); the partner's fan-out stops with its last member."""
        fanout = self.partners.get(partner_id)
        if fanout is None:
            return
        fanout.members.discard(member)
        if not fanout.members:
            del self.partners[partner_id]
            task = asyncio.create_task(fanout.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def recheck(self, conn: Connection, viewer: Viewer) -> None:
        """End ``conn``'s subscriptions that ``viewer`` (its admin as now looked up) may no longer run."""
        conn.viewer = viewer
        for fanout in list(self.partners.values()):
            for member in list(fanout.members):
                if member.conn is conn:
                    error = member.spec.check(viewer)
                    if error is not None:
                        member.offer(END, payload=error)

    async def stop(self) -> None:
        """Stop every partner's fan-out."""
        fanouts, self.partners = list(self.partners.values()), {}
        for fanout in fanouts:
            await fanout.stop()
        for task in list(self._stopping):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = [
    "CLOSED",
    "DELIVERY",
    "END",
    "LIVE_OVERFLOW",
    "RESET",
    "REVOKED_REASON",
    "Executed",
    "Fanout",
    "Field",
    "Member",
    "PartnerFanout",
    "Request",
    "overflow_error",
]
