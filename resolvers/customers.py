"""Customer and partner-admin lists: filters and ordering in SQL, keyset pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select

from db.models import PartnerAdmin as AdminTable
from db.models import fold
from loaders.objects import admin_from_row, customer_from_row, records
from resolvers.context import Context
from resolvers.pagination import PageRequest, bad_input, encode_cursor, keyset_after, page_info, page_request
from resolvers.permissions import ASSIGNMENT, visible_customers
from resolvers.rules import CUSTOMER, has_live_plan_of_kind, has_live_product, status_predicates
from schema.ids import id_of
from schema.inputs import CustomerFilter, CustomerOrder, PartnerAdminFilter
from schema.types import (
    CustomerConnection,
    CustomerEdge,
    PartnerAdminConnection,
    PartnerAdminEdge,
)

ADMIN = AdminTable.__table__
MAX_SEARCH = 200


def _like_pattern(text: str) -> str:
    escaped = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def customer_filter_clauses(ctx: Context, flt: CustomerFilter | None) -> list[ColumnElement[bool]]:
    """The SQL predicates of a ``CustomerFilter`` (visibility not included)."""
    if flt is None:
        return []
    clauses: list[ColumnElement[bool]] = []
    if flt.search is not None:
        if len(flt.search) > MAX_SEARCH:
            raise bad_input(f"`filter.search` may be at most {MAX_SEARCH} characters.")
        if flt.search:
            clauses.append(CUSTOMER.c.name_key.like(_like_pattern(flt.search), escape="\\"))
    if flt.managed_by is not None:
        clauses.append(CUSTOMER.c.managed_by == flt.managed_by.value)
    if flt.products is not None:
        products = sorted({p.value for p in flt.products})
        clauses.append(has_live_product(CUSTOMER, ctx.today, products) if products else false())
    if flt.statuses is not None:
        predicates = status_predicates(CUSTOMER, ctx.today, ctx.windows)
        chosen = [predicates[s.value] for s in dict.fromkeys(flt.statuses)]
        clauses.append(or_(*chosen) if chosen else false())
    if flt.subscription_type is not None:
        clauses.append(has_live_plan_of_kind(CUSTOMER, ctx.today, flt.subscription_type.value))
    if flt.assigned_to is not None:
        admin_id = id_of(flt.assigned_to, "PartnerAdmin")
        if admin_id is None:
            raise bad_input("`filter.assignedTo` is not the ID of a partner admin.")
        clauses.append(
            select(ASSIGNMENT.c.customer_id)
            .where(ASSIGNMENT.c.customer_id == CUSTOMER.c.id, ASSIGNMENT.c.admin_id == admin_id)
            .exists()
        )
    return clauses


def _order_columns(order: CustomerOrder | None) -> tuple[str, list[Any], bool, Callable[[str], Any]]:
    field = order.field.value if order else "NAME"
    desc = bool(order and order.direction.value == "DESC")
    if field == "CREATED_ON":
        return f"customer:CREATED_ON:{int(desc)}", [CUSTOMER.c.created_on, CUSTOMER.c.id], desc, dt.date.fromisoformat
    return f"customer:NAME:{int(desc)}", [CUSTOMER.c.name_key, CUSTOMER.c.id], desc, str


async def _keyset_page(
    ctx: Context,
    *,
    statement,
    columns: Sequence[Any],
    descending: bool,
    page: PageRequest,
) -> tuple[list[Any], bool]:
    """Run ``statement`` as one keyset page: ``(rows in display order, more beyond)``."""
    backward = page.backward
    flip = descending != backward  # fetch order: reversed for `last`
    if page.cursor is not None:
        statement = statement.where(keyset_after(columns, page.cursor, [flip] * len(columns)))
    statement = statement.order_by(*[c.desc() if flip else c.asc() for c in columns]).limit(page.size + 1)
    rows = records(await ctx.session.execute(statement))
    more = len(rows) > page.size
    rows = rows[: page.size]
    if backward:
        rows.reverse()
    return rows, more


async def customer_connection(
    ctx: Context,
    *,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
    flt: CustomerFilter | None = None,
    order: CustomerOrder | None = None,
    extra: Sequence[ColumnElement[bool]] = (),
) -> CustomerConnection:
    """A page of the customers the viewer may see, filtered and ordered in SQL."""
    viewer = ctx.require_viewer()
    kind, columns, desc, parse_first = _order_columns(order)
    page = page_request(first=first, after=after, last=last, before=before, key_kind=kind, parsers=(parse_first, int))
    where = [visible_customers(CUSTOMER, viewer), *customer_filter_clauses(ctx, flt), *extra]
    statement = select(
        CUSTOMER.c.id,
        CUSTOMER.c.name,
        CUSTOMER.c.name_key,
        CUSTOMER.c.managed_by,
        CUSTOMER.c.created_on,
        CUSTOMER.c.last_admin_activity_on,
    ).where(*where)
    rows, more = await _keyset_page(ctx, statement=statement, columns=columns, descending=desc, page=page)
    base = ctx.settings.launch_base_url
    nodes = []
    for row in rows:
        customer = customer_from_row(row, launch_base_url=base)
        ctx.loaders.customer_by_id.prime(row.id, customer)
        nodes.append(customer)
    key_of = (
        (lambda r: (r.created_on, r.id)) if kind.startswith("customer:CREATED_ON") else (lambda r: (r.name_key, r.id))
    )
    cursors = [encode_cursor(kind, key_of(r)) for r in rows]

    async def count() -> int:
        return (await ctx.session.execute(select(func.count()).select_from(CUSTOMER).where(*where))).scalar_one()

    return CustomerConnection(
        edges=[CustomerEdge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=False)],
        nodes=nodes,
        page_info=page_info(page, more, cursors),
        count=count,
    )


async def assigned_customers(
    ctx: Context, *, admin_db_id: int, first: int | None, after: str | None
) -> CustomerConnection:
    """Customers assigned to one admin, within what the viewer may see."""
    assigned = (
        select(ASSIGNMENT.c.customer_id)
        .where(ASSIGNMENT.c.customer_id == CUSTOMER.c.id, ASSIGNMENT.c.admin_id == admin_db_id)
        .exists()
    )
    return await customer_connection(ctx, first=first, after=after, extra=[assigned])


async def partner_admin_connection(
    ctx: Context, *, first: int | None, after: str | None, flt: PartnerAdminFilter | None
) -> PartnerAdminConnection:
    """A page of the viewer's partner's admins, by email."""
    viewer = ctx.require_viewer()
    page = page_request(first=first, after=after, key_kind="admin:EMAIL", parsers=(str, int))
    where: list[ColumnElement[bool]] = [ADMIN.c.partner_id == viewer.partner_id]
    if flt is not None:
        if flt.roles is not None:
            where.append(ADMIN.c.role.in_([r.value for r in flt.roles]) if flt.roles else false())
        if flt.search:
            if len(flt.search) > MAX_SEARCH:
                raise bad_input(f"`filter.search` may be at most {MAX_SEARCH} characters.")
            pattern = _like_pattern(flt.search)
            where.append(
                or_(
                    func.lower(ADMIN.c.email).like(pattern, escape="\\"),
                    func.lower(ADMIN.c.display_name).like(pattern, escape="\\"),
                )
            )
    statement = select(ADMIN.c.id, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role).where(*where)
    rows, more = await _keyset_page(
        ctx, statement=statement, columns=[ADMIN.c.email, ADMIN.c.id], descending=False, page=page
    )
    nodes = [admin_from_row(r) for r in rows]
    cursors = [encode_cursor("admin:EMAIL", (r.email, r.id)) for r in rows]

    async def count() -> int:
        return (await ctx.session.execute(select(func.count()).select_from(ADMIN).where(*where))).scalar_one()

    return PartnerAdminConnection(
        edges=[PartnerAdminEdge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=False)],
        nodes=nodes,
        page_info=page_info(page, more, cursors),
        count=count,
    )
