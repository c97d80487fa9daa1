"""The audit log's types: every change made through the API, newest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import strawberry
from strawberry.scalars import JSON

from schema.relations import Relation
from schema.types import InfoT, Node, PageInfo, PartnerAdmin

EVENT_ACTOR = Relation("admin_by_id", key="actor_db_id")


@strawberry.type(
    description=(
        "One change made through the API: a successful mutation, recorded in the same transaction as the change. "
        "Failed and forbidden mutations change nothing and are not recorded."
    )
)
class AuditEvent(Node):
    actor_email: str = strawberry.field(
        description="Email of the admin who made the change, kept after that admin is removed."
    )
    action: str = strawberry.field(description="The mutation's name, e.g. `startTrial`.")
    target_type: str = strawberry.field(
        description="GraphQL type of the object changed: `Trial`, `Customer` or `PartnerAdmin`."
    )
    target_id: strawberry.ID = strawberry.field(
        description="Global ID of the object changed (it may no longer resolve, e.g. a removed admin)."
    )
    at: dt.datetime = strawberry.field(description="When the change was committed, in UTC.")
    details: JSON = strawberry.field(
        description=(
            "What changed, as a JSON object whose keys depend on `action` (e.g. `endsOn: {from, to}` "
            "for `extendTrial`); ids in it are global IDs."
        )
    )
    actor_db_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The admin who made the change; null once that admin has been removed.",
        metadata=EVENT_ACTOR.metadata,
    )
    async def actor(self, info: InfoT) -> PartnerAdmin | None:
        return await EVENT_ACTOR.resolve(info.context, self)


@strawberry.type(description="An edge of an audit event connection.")
class AuditEventEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this edge, for `after`.")
    node: AuditEvent = strawberry.field(description="The audit event.")


@strawberry.type(description="A page of the partner's audit log (Relay connection), newest first.")
class AuditEventConnection:
    edges: list[AuditEventEdge] = strawberry.field(description="The events of this page with their cursors.")
    nodes: list[AuditEvent] = strawberry.field(description="The events of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of the partner's audit events, on all pages.")
    async def total_count(self) -> int:
        return await self.count()
