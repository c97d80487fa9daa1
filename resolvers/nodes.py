"""Single objects: ``node``, ``customer`` and ``viewer``."""

from __future__ import annotations

from resolvers.context import Context
from schema.ids import from_global_id, id_of


async def node(ctx: Context, global_id: str):
    """The object behind a global ID, or ``None`` if absent or not visible."""
    ctx.require_viewer()
    decoded = from_global_id(global_id)
    if decoded is None:
        return None
    type_name, db_id = decoded
    if type_name == "Customer":
        return await ctx.loaders.customer_by_id.load(db_id)
    if type_name in ("Subscription", "Trial"):
        plan = await ctx.loaders.plan_by_id.load(db_id)
        return plan if plan is not None and type(plan).__name__ == type_name else None
    if type_name == "PartnerAdmin":
        return await ctx.loaders.admin_by_id.load(db_id)
    if type_name == "AuditEvent":
        from resolvers.audit import audit_event

        return await audit_event(ctx, db_id)
    return None


async def customer(ctx: Context, global_id: str):
    """A visible customer by global ID, else ``None``."""
    ctx.require_viewer()
    db_id = id_of(global_id, "Customer")
    return None if db_id is None else await ctx.loaders.customer_by_id.load(db_id)


async def viewer(ctx: Context):
    """The calling admin as a ``PartnerAdmin``."""
    me = ctx.require_viewer()
    return await ctx.loaders.admin_by_id.load(me.id)
