"""The subscription root type ``LiveEvents`` (SPEC §3.3 "Live events").

A subscription listens to its partner's committed changes (:mod:`db.events`)
and, per event, re-reads what it delivers with the subscriber's *current*
viewer: the token is looked up again in a fresh session, so a revoked token or
a removed admin ends the connection at its next event, and visibility is
exactly that of the queries (a sales admin's ``customerChanged`` skips the
customers it is not assigned to; once assigned, the customer arrives with that
very change; once unassigned, nothing further arrives about it).

Every resolver below runs inside one event's :class:`Context` (fresh session,
fresh loaders), made current through :data:`CURRENT`: strawberry gives a
WebSocket connection one context object for all its operations, so the
connection (:class:`LiveConnection`) forwards what resolvers read
(``session``, ``loaders``, ``viewer``...) to the current event's context. Each
operation runs in an asyncio task of its own, and an async generator runs in
the task that iterates it, so the context variable is the operation's alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import events
from db.access import Viewer
from db.settings import Settings, today
from db.tokens import viewer_for_token
from resolvers import analytics as A
from resolvers import audit as audit_resolvers
from resolvers.context import Context
from resolvers.ids import id_of
from resolvers.permissions import Permission, allowed
from schema.analytics import KpiSummary
from schema.audit import AuditEvent
from schema.types import Customer

CURRENT: contextvars.ContextVar[Context] = contextvars.ContextVar("partnerhub_live_event")
# The operation's numbers, for its messages' extensions (web/live.py counts "sequence" as it
# sends; "event" is the process's number of the event being sent).
SEQUENCE: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("partnerhub_live_seq", default=None)

LIVE_RESET = "LIVE_RESET"
RESET_MESSAGE = "Live events may have been missed (the server's event connection was re-established); refetch."
REVOKED_CODE = 4401
REVOKED_REASON = "The bearer token is invalid or revoked."


@dataclass
class LiveConnection:
    """The context of one WebSocket connection, shared by its subscriptions.

    Attributes:
        sessionmaker: Makes each event's session.
        settings: The app's settings.
        broker: Where events arrive.
        close: Closes the connection with a code and reason (scheduled, not awaited).
        charge_event: Takes one delivered event's cost from the caller's budget;
            ``False`` when the budget is spent.
        token: The bearer token of ``connection_init``.
        viewer: The admin as of ``connection_init``.
        connection_params: The ``connection_init`` payload (set by strawberry).
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    broker: events.Broker
    close: Callable[[int, str], None]
    charge_event: Callable[[], bool]
    token: str | None = None
    viewer: Viewer | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    checked: dict[int, Viewer | None] = field(default_factory=dict)

    async def viewer_at(self, session: AsyncSession, sequence: int) -> Viewer | None:
        """The token's admin as of event ``sequence``, looked up once per event for all the connection's subscriptions.

        Returns:
            The viewer, or ``None`` when the token is revoked or its admin removed.
        """
        if sequence in self.checked:
            return self.checked[sequence]
        viewer = await viewer_for_token(session, self.token or "")
        self.checked[sequence] = viewer
        while len(self.checked) > 16:  # the events still being delivered on this connection
            del self.checked[next(iter(self.checked))]
        return viewer

    def __getattr__(self, name: str) -> Any:
        # Only for names the connection lacks: session, loaders, today, windows...
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(CURRENT.get(), name)

    def require_viewer(self) -> Viewer:
        """The current event's viewer (re-read for it), else the connection's."""
        ctx = CURRENT.get(None)
        if ctx is not None:
            return ctx.require_viewer()
        if self.viewer is None:  # pragma: no cover - connection_init refuses first
            raise GraphQLError(REVOKED_REASON, extensions={"code": "UNAUTHENTICATED"})
        return self.viewer


def _reset() -> GraphQLError:
    # Yielded as the field's value: graphql-core answers it as the field's
    # error (data null) and the subscription goes on.
    return GraphQLError(RESET_MESSAGE, extensions={"code": LIVE_RESET})


async def _event_contexts(
    info: strawberry.Info[Any, Any], wanted: Callable[[events.Event], bool]
) -> AsyncGenerator[tuple[events.Event, Context | None], None]:
    """Each wanted event with a fresh context of the subscriber, current while the caller resolves it.

    A reset comes with no context. Ends the subscription (and closes the
    connection) when the token no longer names an admin; raises when the
    subscriber fell too far behind or its budget is spent.
    """
    conn: LiveConnection = info.context
    viewer = conn.require_viewer()
    subscriber = conn.broker.subscribe(viewer.partner_id)
    numbers = {"sequence": 0, "event": 0}
    SEQUENCE.set(numbers)
    try:
        while True:
            event = await subscriber.next()
            if event is None:
                raise GraphQLError(
                    f"Dropped: more than {conn.broker.queue_size} events were waiting to be sent; "
                    "resubscribe and refetch.",
                    extensions={"code": "LIVE_OVERFLOW"},
                )
            if event.kind != events.RESET and not wanted(event):
                if not event.customer_ids:
                    # An admin change (role, removal) may be this subscriber's own:
                    # checked now, not at the next event it wants.
                    async with conn.sessionmaker() as session:
                        if await conn.viewer_at(session, event.sequence) is None:
                            conn.close(REVOKED_CODE, REVOKED_REASON)
                            return
                continue
            if not conn.charge_event():
                raise GraphQLError("The cost budget is spent; resubscribe later.", extensions={"code": "RATE_LIMITED"})
            numbers["event"] = event.sequence
            if event.kind == events.RESET:
                yield event, None
                continue
            async with conn.sessionmaker() as session:
                current = await conn.viewer_at(session, event.sequence)
                if current is None:
                    conn.close(REVOKED_CODE, REVOKED_REASON)
                    return
                ctx = Context.create(session=session, viewer=current, today=today(), settings=conn.settings)
                CURRENT.set(ctx)
                # The caller resolves the fields before asking for the next event,
                # so the session stays open for them.
                yield event, ctx
    finally:
        conn.broker.unsubscribe(subscriber)


async def _visible(ctx: Context, customer_ids: tuple[int, ...]) -> list[Any]:
    """The records of those customers the event's viewer may see."""
    found = await asyncio.gather(*(ctx.loaders.customer_by_id.load(i) for i in customer_ids))
    return [record for record in found if record is not None]


@strawberry.type(
    name="LiveEvents",
    description=(
        "Live events over WebSocket (graphql-transport-ws), scoped like queries. Each message's "
        "`extensions.sequence` counts the subscription's messages 1, 2, 3...; an error with code "
        "LIVE_RESET (the field null) means events may have been missed: refetch."
    ),
)
class LiveEvents:
    """The subscription root (``Subscription`` is taken: a customer's subscription plan)."""

    @strawberry.subscription(
        description=(
            "The customer after each committed change of its statuses, plans or admins (trials, "
            "assignments, order setup), for customers the caller may see; all of them, or only `customerId`. "
            "A customer assigned to a sales admin arrives with that change; after an unassignment nothing "
            "further arrives about it."
        )
    )
    async def customer_changed(
        self,
        info: strawberry.Info[Any, Any],
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this customer (global ID).")
        ] = None,
    ) -> AsyncGenerator[Customer | None, None]:
        only = None if customer_id is None else id_of(customer_id, "Customer")
        if customer_id is not None and only is None:
            raise GraphQLError(
                f"customerId {customer_id!r} is not a Customer ID.", extensions={"code": "BAD_USER_INPUT"}
            )

        def wanted(event: events.Event) -> bool:
            return bool(event.customer_ids) and (only is None or only in event.customer_ids)

        async for event, ctx in _event_contexts(info, wanted):
            if ctx is None:
                yield _reset()  # type: ignore[misc]
                continue
            ids = event.customer_ids if only is None else (only,)
            for record in await _visible(ctx, ids):
                yield Customer.from_record(record, ctx)

    @strawberry.subscription(
        description=(
            "Each new audit event of the caller's partner. PARTNER_FULL_ADMIN and "
            "PARTNER_READ_ONLY_ADMIN only (others get FORBIDDEN)."
        )
    )
    async def audit_event(self, info: strawberry.Info[Any, Any]) -> AsyncGenerator[AuditEvent | None, None]:
        conn: LiveConnection = info.context
        if not allowed(conn.require_viewer(), Permission.READ_AUDIT_LOG):
            raise GraphQLError("Your role may not read the audit log.", extensions={"code": "FORBIDDEN"})
        async for event, ctx in _event_contexts(info, lambda e: e.audit_id is not None):
            if ctx is None:
                yield _reset()  # type: ignore[misc]
                continue
            # Re-read with the current role: a demoted reader receives nothing more.
            record = await audit_resolvers.audit_event(ctx, event.audit_id or 0)
            if record is not None:
                yield AuditEvent.from_record(record)

    @strawberry.subscription(
        description=(
            "The summary KPIs (as `kpis` answers them today) after each committed change of a customer "
            "the caller may see."
        )
    )
    async def kpis_changed(self, info: strawberry.Info[Any, Any]) -> AsyncGenerator[KpiSummary | None, None]:
        async for event, ctx in _event_contexts(info, lambda e: bool(e.customer_ids)):
            if ctx is None:
                yield _reset()  # type: ignore[misc]
                continue
            # A change the caller cannot see must not even show as new numbers.
            if not await _visible(ctx, event.customer_ids):
                continue
            summary = await A.kpis(
                session=ctx.session, viewer=ctx.require_viewer(), as_of=ctx.today, settings=ctx.settings
            )
            yield KpiSummary(**dataclasses.asdict(summary))


__all__ = [
    "CURRENT",
    "LIVE_RESET",
    "SEQUENCE",
    "LiveConnection",
    "LiveEvents",
]
