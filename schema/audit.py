"""The audit log's types: every change made through the API, newest first."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers.ids import to_global_id
from schema.relations import Relation
from schema.types import InfoT, Node, PartnerAdmin

EVENT_ACTOR = Relation("admin_by_id", key="actor_db_id", build=lambda r, _c: PartnerAdmin.from_record(r))


def _utc(value: dt.datetime | str) -> dt.datetime:
    """A stored time as an aware UTC datetime.

    SQLite keeps no time zone and may hand back text; every time is written
    in UTC, so a naive value is UTC.
    """
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


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

    @classmethod
    def from_record(cls, record: Any) -> AuditEvent:
        """An event from an ``audit_event`` row; ``details`` parsed back into JSON values."""
        return cls(
            id=strawberry.ID(to_global_id("AuditEvent", record.id)),
            actor_email=record.actor_email,
            action=record.action,
            target_type=record.target_type,
            target_id=strawberry.ID(record.target_id),
            at=_utc(record.at),
            details=json.loads(record.details),
            actor_db_id=record.actor_id,
        )

    @strawberry.field(
        description="The admin who made the change; null once that admin has been removed.",
        metadata=EVENT_ACTOR.metadata,
    )
    async def actor(self, info: InfoT) -> PartnerAdmin | None:
        return await EVENT_ACTOR.resolve(info.context, self)
