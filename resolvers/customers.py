"""Customer and partner-admin lists: filters and ordering in SQL, keyset pages of records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select

from db.access import visible_customers
from db.collation import search_fold
from db.models import fold
from db.rules import facet_counts, facet_record, has_live_plan_of_kind, has_live_product, status_predicates
from db.tables import ADMIN, ASSIGNMENT, CUSTOMER, PLAN
from resolvers.context import Context
from resolvers.ids import id_of
from resolvers.pagination import Page, bad_input, bytes_value, encode_cursor, keyset_page, page_request

MAX_SEARCH = 200
CUSTOMER_COLUMNS = (
    CUSTOMER.c.id,
    CUSTOMER.c.name,
    CUSTOMER.c.sort_key,
    CUSTOMER.c.managed_by,
    CUSTOMER.c.created_on,
    CUSTOMER.c.last_admin_activity_on,
)
ADMIN_COLUMNS = (ADMIN.c.id, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role)


@dataclass(frozen=True)
class CustomerFilterArgs:
    """The ``CustomerFilter`` input as plain values (enum values as their strings).

    Fields AND together; list values OR together; ``None`` means "no filter".
    """

    search: str | None = None
    managed_by: str | None = None
    products: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    subscription_type: str | None = None
    assigned_to: str | None = None


@dataclass(frozen=True)
class CustomerOrderArgs:
    """The ``CustomerOrder`` input: ``field`` is ``NAME`` or ``CREATED_ON``, ``direction`` ``ASC`` or ``DESC``."""

    field: str = "NAME"
    direction: str = "ASC"


@dataclass(frozen=True)
class PartnerAdminFilterArgs:
    """The ``PartnerAdminFilter`` input as plain values."""

    roles: Sequence[str] | None = None
    search: str | None = None


def _like_pattern(folded: str) -> str:
    """``%folded%`` with LIKE's own characters escaped, to match them literally."""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _customer_search(text: str) -> ColumnElement[bool]:
    """The name contains ``text`` ignoring case and accents, or ``text`` is one of its subscription or trial ids.

    Both sides are folded by :func:`db.collation.search_fold`, so the match is
    the same on both databases (SQLite's LIKE also ignores ASCII case, but the
    folded sides hold no upper-case ASCII letters for it to ignore).
    """
    has_plan = select(PLAN.c.id).where(PLAN.c.customer_id == CUSTOMER.c.id, PLAN.c.ext_id == text).exists()
    return or_(CUSTOMER.c.search_key.like(_like_pattern(search_fold(text)), escape="\\"), has_plan)


def _search(text: str | None) -> str | None:
    if text is not None and len(text) > MAX_SEARCH:
        raise bad_input(f"`filter.search` may be at most {MAX_SEARCH} characters.")
    return text or None


def customer_filter_clauses(ctx: Context, flt: CustomerFilterArgs | None) -> list[ColumnElement[bool]]:
    """The SQL predicates of a customer filter (visibility not included)."""
    return list(_filter_clauses(ctx, flt).values())


def _filter_clauses(ctx: Context, flt: CustomerFilterArgs | None) -> dict[str, ColumnElement[bool]]:
    """The predicate of each field of the filter that is set, by :class:`CustomerFilterArgs` field name."""
    if flt is None:
        return {}
    clauses: dict[str, ColumnElement[bool]] = {}
    search = _search(flt.search)
    if search:
        clauses["search"] = _customer_search(search)
    if flt.managed_by is not None:
        clauses["managed_by"] = CUSTOMER.c.managed_by == flt.managed_by
    if flt.products is not None:
        products = sorted(set(flt.products))
        clauses["products"] = has_live_product(CUSTOMER, ctx.today, products) if products else false()
    if flt.statuses is not None:
        predicates = status_predicates(CUSTOMER, ctx.today, ctx.windows)
        chosen = [predicates[s] for s in dict.fromkeys(flt.statuses)]
        clauses["statuses"] = or_(*chosen) if chosen else false()
    if flt.subscription_type is not None:
        clauses["subscription_type"] = has_live_plan_of_kind(CUSTOMER, ctx.today, flt.subscription_type)
    if flt.assigned_to is not None:
        admin_id = id_of(flt.assigned_to, "PartnerAdmin")
        if admin_id is None:
            raise bad_input("`filter.assignedTo` is not the ID of a partner admin.")
        clauses["assigned_to"] = _assigned_to(admin_id)
    return clauses


def _one(value: str | None) -> list[str] | None:
    return None if value is None else [value]


# The filter field of each facet (CustomerFacets field → its values as the filter asks for them).
FACET_CHOICES: dict[str, Callable[[CustomerFilterArgs], Sequence[str] | None]] = {
    "statuses": lambda f: f.statuses,
    "products": lambda f: f.products,
    "managed_by": lambda f: _one(f.managed_by),
    "subscription_types": lambda f: _one(f.subscription_type),
}
# The filter fields the facets stand for; the other fields (search, assignedTo) apply to every count.
FACET_FIELDS = frozenset({"statuses", "products", "managed_by", "subscription_type"})


async def customer_facets(ctx: Context, flt: CustomerFilterArgs | None) -> dict[str, list[tuple[str, int]]]:
    """``(value, count)`` of every value of every facet, in enum order, zero counts included: one statement.

    Counts the customers the viewer may see that match every field of the
    filter but the facet's own (SPEC §3.3); see :func:`db.rules.facet_counts`.
    """
    viewer = ctx.require_viewer()
    flt = flt or CustomerFilterArgs()
    clauses = _filter_clauses(ctx, flt)
    where = [visible_customers(CUSTOMER, viewer), *(c for k, c in clauses.items() if k not in FACET_FIELDS)]
    chosen = {name: values for name, pick in FACET_CHOICES.items() if (values := pick(flt)) is not None}
    statement = facet_counts(where, chosen, ctx.today, ctx.windows)
    return facet_record((await ctx.session.execute(statement)).one())


async def assigned_facets(ctx: Context, admin_db_id: int) -> dict[str, list[tuple[str, int]]]:
    """The facets of one admin's assigned customers that the viewer may see (batched across admins)."""
    ctx.require_viewer()
    return await ctx.loaders.assigned_facets_by_admin.load(admin_db_id)


def _assigned_to(admin_db_id: int) -> ColumnElement[bool]:
    """The customer is assigned to the admin ``admin_db_id``."""
    return (
        select(ASSIGNMENT.c.customer_id)
        .where(ASSIGNMENT.c.customer_id == CUSTOMER.c.id, ASSIGNMENT.c.admin_id == admin_db_id)
        .exists()
    )


def _customer_order(order: CustomerOrderArgs | None) -> tuple[str, list[Any], bool, Callable[[Any], Any]]:
    """``(cursor kind, key columns, descending, parser of the first key's cursor value)``."""
    order = order or CustomerOrderArgs()
    desc = order.direction == "DESC"
    if order.field == "CREATED_ON":
        return f"customer:CREATED_ON:{int(desc)}", [CUSTOMER.c.created_on, CUSTOMER.c.id], desc, dt.date.fromisoformat
    return f"customer:NAME:{int(desc)}", [CUSTOMER.c.sort_key, CUSTOMER.c.id], desc, bytes_value


async def customer_page(
    ctx: Context,
    *,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
    flt: CustomerFilterArgs | None = None,
    order: CustomerOrderArgs | None = None,
    extra: Sequence[ColumnElement[bool]] = (),
) -> Page:
    """A page of records of the customers the viewer may see, filtered and ordered in SQL.

    Each record is also primed into the request's ``customer_by_id`` loader,
    so relations of the page's customers ask no second time.
    """
    viewer = ctx.require_viewer()
    kind, columns, desc, parse_first = _customer_order(order)
    page = page_request(first=first, after=after, last=last, before=before, key_kind=kind, parsers=(parse_first, int))
    filters = [*customer_filter_clauses(ctx, flt), *extra]

    def where() -> list[ColumnElement[bool]]:
        return [visible_customers(CUSTOMER, viewer), *filters]

    async def count() -> int:
        return (await ctx.session.execute(select(func.count()).select_from(CUSTOMER).where(*where()))).scalar_one()

    result = await keyset_page(
        ctx.session,
        lambda: select(*CUSTOMER_COLUMNS).where(*where()),
        order=[(column, desc) for column in columns],
        page=page,
        key_kind=kind,
        count=count,
        # Unfiltered, the statement depends on the viewer alone: built once, run prepared.
        reuse=None if filters else ("customers", viewer),
    )
    ctx.loaders.prime_customers(result.rows)
    return result


async def assigned_customers(ctx: Context, *, admin_db_id: int, first: int | None, after: str | None) -> Page:
    """Customers assigned to one admin, within what the viewer may see, by name.

    Served by the request's loaders, so this connection under a list of admins
    runs one statement for all of them (and one grouped count for their
    ``totalCount``), not one per admin.
    """
    ctx.require_viewer()
    kind = "customer:NAME:0"
    page = page_request(first=first, after=after, key_kind=kind, parsers=(bytes_value, int))
    cursor = None if page.cursor is None else (page.cursor[0], page.cursor[1])
    rows = await ctx.loaders.assigned_customers_by_admin.load((admin_db_id, page.size + 1, cursor))
    ctx.loaders.prime_customers(rows)
    shown = rows[: page.size]

    async def count() -> int:
        return await ctx.loaders.assigned_count_by_admin.load(admin_db_id)

    return Page(
        rows=shown,
        cursors=[encode_cursor(kind, (row.sort_key, row.id)) for row in shown],
        has_next_page=len(rows) > page.size,
        has_previous_page=cursor is not None,
        count=count,
    )


async def partner_admin_page(
    ctx: Context, *, first: int | None, after: str | None, flt: PartnerAdminFilterArgs | None
) -> Page:
    """A page of records of the viewer's partner's admins, by email."""
    viewer = ctx.require_viewer()
    page = page_request(first=first, after=after, key_kind="admin:EMAIL", parsers=(str, int))
    where: list[ColumnElement[bool]] = [ADMIN.c.partner_id == viewer.partner_id]
    if flt is not None:
        if flt.roles is not None:
            where.append(ADMIN.c.role.in_(list(flt.roles)) if flt.roles else false())
        search = _search(flt.search)
        if search:
            pattern = _like_pattern(fold(search))
            where.append(
                or_(
                    func.lower(ADMIN.c.email).like(pattern, escape="\\"),
                    func.lower(ADMIN.c.display_name).like(pattern, escape="\\"),
                )
            )

    async def count() -> int:
        return (await ctx.session.execute(select(func.count()).select_from(ADMIN).where(*where))).scalar_one()

    return await keyset_page(
        ctx.session,
        select(*ADMIN_COLUMNS).where(*where),
        order=[(ADMIN.c.email, False), (ADMIN.c.id, False)],
        page=page,
        key_kind="admin:EMAIL",
        count=count,
    )
