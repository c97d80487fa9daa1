"""The subscription root type ``LiveEvents`` (SPEC §3.3 "Live events").

Each field declares what it delivers as a :class:`schema.fanout.Field` (which
events it wants, how one is re-read, what role it needs) and joins its
partner's fan-out (:mod:`schema.fanout`): events are re-read once per group
of subscriptions with the same current viewer and the same request, with
exactly the visibility of queries (a sales admin's ``customerChanged`` skips
the customers it is not assigned to; once assigned, the customer arrives with
that very change; once unassigned, nothing further arrives about it), and the
group's result is sent to each member. The viewer is looked up again for
every burst of events, so a revoked token or a removed admin ends the
connection then, and a role that no longer allows the field ends it with
``FORBIDDEN``.

Strawberry gives a WebSocket connection one context object for all its
operations (:class:`LiveConnection`); the group's resolvers run with a
:class:`~resolvers.context.Context` of their own (one session and fresh
loaders per group and burst). The operation's task only takes its results off
its queue, charges them to the budget and sends them, already serialized,
through :attr:`LiveConnection.send_next` (web/live.py numbers them); only a
reset or the final error goes through strawberry's execution.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import events
from db.access import Viewer
from db.settings import Settings
from resolvers import analytics as A
from resolvers import audit as audit_resolvers
from resolvers.context import Context
from resolvers.ids import id_of
from resolvers.permissions import Permission, allowed
from schema.analytics import KpiSummary
from schema.audit import AuditEvent
from schema.enums import KpiProduct
from schema.fanout import CLOSED, DELIVERY, END, REVOKED_REASON, Fanout, Field, Request
from schema.types import Customer

# The operation's numbers, for its messages' extensions (web/live.py counts "sequence" as it
# sends; "event" is the process's number of the event being sent).
SEQUENCE: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("partnerhub_live_seq", default=None)
REQUEST: contextvars.ContextVar[Request | None] = contextvars.ContextVar("partnerhub_live_request", default=None)
"""The subscription's request as sent: set by web/live.py before strawberry creates the operation's task."""

LIVE_RESET = "LIVE_RESET"
RESET_MESSAGE = "Live events may have been missed (the server's event connection was re-established); refetch."


@dataclass(eq=False)  # one per connection, by identity (the fan-out keeps sets of them)
class LiveConnection:
    """The context of one WebSocket connection, shared by its subscriptions.

    Attributes:
        sessionmaker: Makes sessions (the token lookups of web/live.py).
        settings: The app's settings.
        fanout: Where subscriptions join their partner's events.
        close: Closes the connection with a code and reason (scheduled, not awaited).
        charge_event: Takes one delivered event's cost from the caller's budget;
            ``False`` when the budget is spent.
        send_next: Sends the running operation a ``next`` message of a shared
            result (:attr:`schema.fanout.Executed.body`) for an event number.
        token: The bearer token of ``connection_init``.
        viewer: The admin as last looked up (``connection_init``, then every burst and re-check).
        connection_params: The ``connection_init`` payload (set by strawberry).
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    fanout: Fanout
    close: Callable[[int, str], None]
    charge_event: Callable[[], bool]
    send_next: Callable[[str, int], Awaitable[None]]
    token: str | None = None
    viewer: Viewer | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)

    def require_viewer(self) -> Viewer:
        """The admin as last looked up."""
        if self.viewer is None:  # pragma: no cover - connection_init refuses first
            raise GraphQLError(REVOKED_REASON, extensions={"code": "UNAUTHENTICATED"})
        return self.viewer


def _reset() -> GraphQLError:
    # Yielded as the field's value: graphql-core answers it as the field's
    # error (data null) and the subscription goes on.
    return GraphQLError(RESET_MESSAGE, extensions={"code": LIVE_RESET})


async def _deliveries(info: strawberry.Info[Any, Any], spec: Field) -> AsyncGenerator[Any, None]:
    """The subscription's results, as its partner's fan-out delivers them.

    Ends (closing the connection) when the token no longer names an admin;
    raises when the role no longer allows the field, when the subscriber fell
    too far behind, or when its budget is spent.
    """
    conn: LiveConnection = info.context
    viewer = conn.require_viewer()
    error = spec.check(viewer)
    if error is not None:
        raise error
    request = REQUEST.get()
    if request is None:  # pragma: no cover - web/live.py sets it for every subscription it admits
        raise RuntimeError("a live subscription started without its request")
    member = conn.fanout.join(viewer.partner_id, conn, spec, request, info.schema._schema)
    numbers = {"sequence": 0, "event": 0}
    SEQUENCE.set(numbers)
    try:
        while True:
            kind, sequence, payload = await member.next()
            if kind == CLOSED:
                return
            if kind == END:
                raise payload
            if not conn.charge_event():
                raise GraphQLError("The cost budget is spent; resubscribe later.", extensions={"code": "RATE_LIMITED"})
            if kind == DELIVERY:
                await conn.send_next(payload.body, sequence)
                continue
            numbers["event"] = sequence
            yield _reset()
    finally:
        conn.fanout.leave(viewer.partner_id, member)


async def _visible(ctx: Context, customer_ids: tuple[int, ...]) -> list[Any]:
    """The records of those customers the group's viewer may see."""
    found = await asyncio.gather(*(ctx.loaders.customer_by_id.load(i) for i in customer_ids))
    return [record for record in found if record is not None]


def _may_read_audit(viewer: Viewer) -> GraphQLError | None:
    if allowed(viewer, Permission.READ_AUDIT_LOG):
        return None
    return GraphQLError("Your role may not read the audit log.", extensions={"code": "FORBIDDEN"})


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

        async def read(ctx: Context, event: events.Event, _memo: dict[Any, Any]) -> list[Any]:
            ids = event.customer_ids if only is None else (only,)
            return [Customer.from_record(record, ctx) for record in await _visible(ctx, ids)]

        async for item in _deliveries(info, Field(wanted, read)):
            yield item

    @strawberry.subscription(
        description=(
            "Each new audit event of the caller's partner. PARTNER_FULL_ADMIN and "
            "PARTNER_READ_ONLY_ADMIN only (others get FORBIDDEN)."
        )
    )
    async def audit_event(self, info: strawberry.Info[Any, Any]) -> AsyncGenerator[AuditEvent | None, None]:
        async def read(ctx: Context, event: events.Event, _memo: dict[Any, Any]) -> list[Any]:
            record = await audit_resolvers.audit_event(ctx, event.audit_id or 0)
            return [] if record is None else [AuditEvent.from_record(record)]

        spec = Field(lambda e: e.audit_id is not None, read, _may_read_audit)
        async for item in _deliveries(info, spec):
            yield item

    @strawberry.subscription(
        description=(
            "The summary KPIs as `kpis(product:)` answers them today, after each committed change of a "
            "customer the caller may see that may have moved them: without `product`, any change of a visible "
            "customer (trial, assignment, order setup); with `product`, only of a visible customer that has a "
            "line of that product on any of its plans (a MEETINGS-only trial of a customer without CALLING "
            "sends nothing to a CALLING subscriber). A message may repeat the numbers before it: the change "
            "could have moved them but did not. Changes of customers the caller cannot see send nothing."
        )
    )
    async def kpis_changed(
        self,
        info: strawberry.Info[Any, Any],
        product: Annotated[
            KpiProduct | None,
            strawberry.argument(
                description="Only this product's lines and changes, as `kpis(product:)`. Null: both products."
            ),
        ] = None,
    ) -> AsyncGenerator[KpiSummary | None, None]:
        only = None if product is None else KpiProduct(product).value

        async def read(ctx: Context, event: events.Event, memo: dict[Any, Any]) -> list[Any]:
            # A change the caller cannot see must not even show as new numbers.
            if not await A.kpis_may_have_moved(ctx.loaders, event.customer_ids, only):
                return []
            if "kpis" not in memo:
                # Every event of a burst is read at the same moment: one scan answers them all.
                memo["kpis"] = asyncio.ensure_future(
                    A.kpis(
                        session=ctx.session,
                        viewer=ctx.require_viewer(),
                        as_of=ctx.today,
                        settings=ctx.settings,
                        product=only,
                    )
                )
            summary = await memo["kpis"]
            return [KpiSummary(**dataclasses.asdict(summary))]

        async for item in _deliveries(info, Field(lambda e: bool(e.customer_ids), read)):
            yield item


__all__ = [
    "LIVE_RESET",
    "REQUEST",
    "SEQUENCE",
    "LiveConnection",
    "LiveEvents",
]
