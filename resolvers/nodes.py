"""Single objects: ``node``, ``customer`` and ``viewer``, as records."""

from __future__ import annotations

from typing import Any

from resolvers.audit import audit_event
from resolvers.context import Context
from resolvers.ids import from_global_id, id_of


async def node(ctx: Context, global_id: str) -> tuple[str, Any] | None:
    """``(type name, record)`` of the object behind a global ID, or ``None`` if absent or not visible."""
    ctx.require_viewer()
    decoded = from_global_id(global_id)
    if decoded is None:
        return None
    type_name, db_id = decoded
    record: Any = None
    if type_name == "Customer":
        record = await ctx.loaders.customer_by_id.load(db_id)
    elif type_name in ("Subscription", "Trial"):
        plan = await ctx.loaders.plan_by_id.load(db_id)
        kind = "SUBSCRIPTION" if type_name == "Subscription" else "TRIAL"
        record = plan if plan is not None and plan.kind == kind else None
    elif type_name == "PartnerAdmin":
        record = await ctx.loaders.admin_by_id.load(db_id)
    elif type_name == "AuditEvent":
        record = await audit_event(ctx, db_id)
    return None if record is None else (type_name, record)


async def customer(ctx: Context, global_id: str) -> Any | None:
    """The record of a visible customer by global ID, else ``None``."""
    ctx.require_viewer()
    db_id = id_of(global_id, "Customer")
    return None if db_id is None else await ctx.loaders.customer_by_id.load(db_id)


async def viewer(ctx: Context) -> Any:
    """The record of the calling admin."""
    me = ctx.require_viewer()
    return await ctx.loaders.admin_by_id.load(me.id)
