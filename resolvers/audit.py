"""Reading the audit log: ``auditLog`` pages and ``node(id:)`` of an ``AuditEvent``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from db.access import Viewer
from db.records import records
from db.tables import AUDIT
from resolvers.context import Context
from resolvers.pagination import Page, keyset_page, page_request
from resolvers.permissions import Permission, allowed, require

CURSOR_KIND = "audit:ID"


def _scope(viewer: Viewer) -> ColumnElement[bool]:
    """The caller's partner's events (tenant isolation)."""
    return AUDIT.c.partner_id == viewer.partner_id


async def audit_log(ctx: Context, *, first: int | None, after: str | None) -> Page:
    """A page of the caller's partner's audit event records, newest first.

    Keyset paging on the event id (ids grow with time), served by the
    ``(partner_id, id)`` index.

    Args:
        ctx: The request context.
        first: Page size, 1–100 (default 25).
        after: Cursor of the last event of the previous page.

    Returns:
        The page of ``audit_event`` rows.

    Raises:
        GraphQLError: ``FORBIDDEN`` for roles that may not read the audit log;
            ``BAD_USER_INPUT`` for bad paging arguments.
    """
    viewer = ctx.require_viewer()
    require(viewer, Permission.READ_AUDIT_LOG)
    page = page_request(first=first, after=after, key_kind=CURSOR_KIND, parsers=(int,))
    where = [_scope(viewer)]

    async def count() -> int:
        return (await ctx.session.execute(select(func.count()).select_from(AUDIT).where(*where))).scalar_one()

    return await keyset_page(
        ctx.session,
        select(AUDIT).where(*where),
        order=[(AUDIT.c.id, True)],
        page=page,
        key_kind=CURSOR_KIND,
        count=count,
    )


async def audit_event(ctx: Context, db_id: int) -> Any | None:
    """One audit event record for ``node(id:)``.

    Args:
        ctx: The request context.
        db_id: The event's database id.

    Returns:
        The ``audit_event`` row, or ``None`` when it does not exist, belongs to
        another partner, or the caller's role may not read the audit log
        (``node`` answers null for what the caller may not see, never an error).
    """
    viewer = ctx.require_viewer()
    if not allowed(viewer, Permission.READ_AUDIT_LOG):
        return None
    rows = records(await ctx.session.execute(select(AUDIT).where(AUDIT.c.id == db_id, _scope(viewer))))
    return rows[0] if rows else None
