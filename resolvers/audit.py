"""Reading the audit log: ``auditLog`` pages and ``node(id:)`` of an ``AuditEvent``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, func, select

from db.models import AuditEvent as AuditTable
from resolvers.context import Context
from resolvers.pagination import encode_cursor, keyset_after, page_info, page_request
from resolvers.permissions import Permission, Viewer, allowed, require
from schema.audit import AuditEvent, AuditEventConnection, AuditEventEdge
from schema.ids import to_global_id

AUDIT = AuditTable.__table__
CURSOR_KIND = "audit:ID"


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


def audit_event_from_row(row: Any) -> AuditEvent:
    """An ``AuditEvent`` from an ``audit_event`` row.

    Args:
        row: A row with every column of ``audit_event``.

    Returns:
        The API object; ``details`` parsed back into JSON values.
    """
    return AuditEvent(
        id=strawberry.ID(to_global_id("AuditEvent", row.id)),
        actor_email=row.actor_email,
        action=row.action,
        target_type=row.target_type,
        target_id=strawberry.ID(row.target_id),
        at=_utc(row.at),
        details=json.loads(row.details),
        actor_db_id=row.actor_id,
    )


def _scope(viewer: Viewer) -> ColumnElement[bool]:
    """The caller's partner's events (tenant isolation)."""
    return AUDIT.c.partner_id == viewer.partner_id


async def audit_log(ctx: Context, *, first: int | None, after: str | None) -> AuditEventConnection:
    """A page of the caller's partner's audit events, newest first.

    Keyset paging on the event id (ids grow with time), served by the
    ``(partner_id, id)`` index.

    Args:
        ctx: The request context.
        first: Page size, 1–100 (default 25).
        after: Cursor of the last event of the previous page.

    Returns:
        The page.

    Raises:
        GraphQLError: ``FORBIDDEN`` for roles that may not read the audit log;
            ``BAD_USER_INPUT`` for bad paging arguments.
    """
    viewer = ctx.require_viewer()
    require(viewer, Permission.READ_AUDIT_LOG)
    page = page_request(first=first, after=after, key_kind=CURSOR_KIND, parsers=(int,))
    where = [_scope(viewer)]
    statement = select(AUDIT).where(*where)
    if page.cursor is not None:
        statement = statement.where(keyset_after([AUDIT.c.id], page.cursor, [True]))
    rows = list((await ctx.session.execute(statement.order_by(AUDIT.c.id.desc()).limit(page.size + 1))).all())
    more = len(rows) > page.size
    rows = rows[: page.size]
    nodes = [audit_event_from_row(row) for row in rows]
    cursors = [encode_cursor(CURSOR_KIND, [row.id]) for row in rows]

    async def count() -> int:
        return (await ctx.session.execute(select(func.count()).select_from(AUDIT).where(*where))).scalar_one()

    return AuditEventConnection(
        edges=[AuditEventEdge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=False)],
        nodes=nodes,
        page_info=page_info(page, more, cursors),
        count=count,
    )


async def audit_event(ctx: Context, db_id: int) -> AuditEvent | None:
    """One audit event for ``node(id:)``.

    Args:
        ctx: The request context.
        db_id: The event's database id.

    Returns:
        The event, or ``None`` when it does not exist, belongs to another
        partner, or the caller's role may not read the audit log (``node``
        answers null for what the caller may not see, never an error).
    """
    viewer = ctx.require_viewer()
    if not allowed(viewer, Permission.READ_AUDIT_LOG):
        return None
    row = (await ctx.session.execute(select(AUDIT).where(AUDIT.c.id == db_id, _scope(viewer)))).first()
    return None if row is None else audit_event_from_row(row)
