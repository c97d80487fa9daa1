"""GraphQL types of the KPIs and analytics (SPEC §2.2, §2.3; F10–F17), built from the section declarations.

The types hold no SQL: every number comes from :mod:`resolvers.analytics`.
Each section's types (``<T>Section``, ``<T>Row``, ``<T>RowOrder``,
``<T>RowOrderField``) are made by one path, :func:`section_type`, from its
:class:`resolvers.analytics.SectionDeclaration`; ``Analytics`` has one field
per declaration. Sections are lazy: a section's KPI statement runs only when
one of its KPI fields or its rows' ``totalCount`` is selected (once per
section object, the result shared by every field), and its rows statement
only when ``rows`` is.

This module evaluates its annotations when it runs (no postponed
annotations): the generated resolvers' argument and return types are the
generated classes themselves.
"""

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

import strawberry

from resolvers import analytics as A
from resolvers.bounds import check_as_of
from schema.connection import Connection, connection
from schema.enums import KpiProduct, OrderDirection, PlanType
from schema.relations import Relation
from schema.types import Customer, InfoT, LicensePoint

ROWS_DESCRIPTION = (
    "The section's rows (one per live plan with a line for the product), in the order of `orderBy` (default: "
    "the section's default order), then customer name (case-insensitive), then subscriptionId. Page forwards "
    "with first/after or backwards with last/before; page size 1–100, default 25."
)
FIRST = "Page size, 1–100 (default 25)."
AFTER = "Cursor of the row to continue after (from a previous page of this section)."
LAST = "Page size going backwards, 1–100 (default 25)."
BEFORE = "Cursor of the row to continue before (from a previous page of this section in the same order)."
ORDER_BY = "Order of the rows; a cursor is only valid in the order it was made in."
DAYS = "Window in days, 0–3650 (default 90)."

ROW_CUSTOMER = Relation("customer_by_id", key="customer_db_id", build=lambda r, c: Customer.from_record(r, c))


class _Once:
    """Run an async computation at most once; every caller awaits the same result."""

    def __init__(self, compute: Callable[[], Awaitable[Any]]) -> None:
        self._compute = compute
        self._task: asyncio.Future | None = None

    async def get(self) -> Any:
        if self._task is None:
            self._task = asyncio.ensure_future(self._compute())
        return await self._task


# --------------------------------------------------------------------------
# Summary KPIs
# --------------------------------------------------------------------------


@strawberry.type(
    description=(
        "Summary KPIs over the customers the caller may see, MEETINGS and CALLING together (or the one "
        "product asked for with `product`): each count is of distinct customers having at least one row, "
        "for either product (or that product), in that analytics section with its default window."
    )
)
class KpiSummary:
    as_of: dt.date = strawberry.field(description="The day the KPIs are computed for (default today).")
    total_customers: int = strawberry.field(
        description=(
            "Customers with a live plan that has a MEETINGS or CALLING licence line (with `product`: a line "
            "of that product)."
        )
    )
    expiring: int = strawberry.field(
        description="Customers with a live trial, or live subscription without auto-renewal, ending within 90 days."
    )
    renewing: int = strawberry.field(
        description="Customers with a live auto-renewing subscription ending within 90 days."
    )
    low_license_assignment: int = strawberry.field(
        description="Customers with a low-assignment line (see Analytics.lowAssignment)."
    )
    over_license_limit: int = strawberry.field(
        description="Customers with a live line whose assigned licences exceed its total."
    )


# --------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------


@strawberry.interface(
    description=(
        "One row of an analytics section: a live plan of a customer together with its licence line for the "
        "section's product, with values as of the analytics day."
    )
)
class AnalyticsRow:
    plan_type: PlanType = strawberry.field(description="Whether the plan is a subscription or a trial.")
    subscription_id: str = strawberry.field(
        description="The subscription's subscriptionId, or the trial's trialId for a trial."
    )
    total_licenses: int = strawberry.field(description="Licences bought on the line.")
    assigned: int = strawberry.field(
        description="Licences assigned: latest snapshot on or before the day, 0 without one."
    )
    used: int = strawberry.field(description="Assigned licences used in the 7 days ending on the snapshot's day.")
    available: int = strawberry.field(description="max(totalLicenses − assigned, 0).")
    customer_db_id: strawberry.Private[int]

    @strawberry.field(description="The customer the plan belongs to.", metadata=ROW_CUSTOMER.metadata)
    async def customer(self, info: InfoT) -> Customer:
        return await ROW_CUSTOMER.resolve(info.context, self)


_COMMON_FIELDS = ("subscription_id", "total_licenses", "assigned", "used", "available")


def row_type(decl: A.SectionDeclaration) -> type:
    """``<T>Row``: the interface's fields, then one field per declared column."""
    names = (*_COMMON_FIELDS, *[c.name for c in decl.columns])

    def from_record(cls: type, record: Any) -> Any:
        values = {name: getattr(record, name) for name in names}
        return cls(customer_db_id=record.customer_id, plan_type=PlanType(record.plan_type), **values)

    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__annotations__": {c.name: c.type for c in decl.columns},
        "from_record": classmethod(from_record),
    }
    for c in decl.columns:
        namespace[c.name] = strawberry.field(name=c.field_name, description=c.description)
    return strawberry.type(type(f"{decl.type_name}Row", (AnalyticsRow,), namespace), description=decl.row_description)


def order_input(decl: A.SectionDeclaration) -> type:
    """``<T>RowOrder { field: <T>RowOrderField!, direction: OrderDirection! = ASC }``."""
    fields = strawberry.enum(  # type: ignore[call-overload]
        Enum(
            f"{decl.type_name}RowOrderField",
            {c.order_name: c.order_name for c in decl.all_columns},
            type=str,
            module=__name__,
        ),
        description=(
            f"Column the {decl.name} rows can be ordered by: the row field of the same name "
            "(CUSTOMER_NAME: the customer's name, case-insensitive)."
        ),
    )
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__annotations__": {"field": fields, "direction": OrderDirection},
        "field": strawberry.field(description="Column to order by."),
        "direction": strawberry.field(default=OrderDirection.ASC, description="Direction."),
    }
    return strawberry.input(
        type(f"{decl.type_name}RowOrder", (), namespace),
        description=(
            f"Order of the {decl.name} rows; ties are broken by customer name (case-insensitive), "
            "subscriptionId and plan, ascending. Values missing (null) come last in both directions."
        ),
    )


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------


class _SectionBase:
    """Private state and helpers shared by the section types (not part of the schema)."""

    decl: A.SectionDeclaration
    product: str
    as_of: dt.date
    once: _Once | None

    async def _scope(self, info: InfoT) -> A.SectionScope:
        window = {"days": self.days} if self.decl.windowed else {}  # type: ignore[attr-defined]
        return A.section_scope(
            self.decl,
            session=info.context.session,
            viewer=info.context.require_viewer(),
            product=self.product,
            as_of=self.as_of,
            settings=info.context.settings,
            facts=await A.use_facts(info.context, self.as_of),
            version=await A.facts_version(info.context, self.as_of),
            **window,
        )

    def _kpis(self, info: InfoT) -> Awaitable[A.SectionKpis]:
        if self.once is None:

            async def compute() -> A.SectionKpis:
                return await A.section_kpis(await self._scope(info))

            self.once = _Once(compute)
        return self.once.get()

    async def _count(self, info: InfoT) -> int:
        return (await self._kpis(info)).row_count


def _kpi_field(kpi: A.Kpi) -> Any:
    async def resolve(self: _SectionBase, info: InfoT) -> Any:
        return getattr(await self._kpis(info), kpi.name)

    resolve.__annotations__["return"] = kpi.type
    return strawberry.field(resolver=resolve, description=kpi.description)


def _rows_field(decl: A.SectionDeclaration, row: type, order: type) -> Any:
    field, descending = decl.order
    default_order = f"{decl.column(field).field_name} {'descending' if descending else 'ascending'}"

    async def rows(
        self: _SectionBase,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
        order_by: Annotated[order | None, strawberry.argument(description=ORDER_BY)] = None,  # type: ignore[valid-type]
    ) -> Connection[row] | None:  # type: ignore[valid-type]
        row_order = None
        if order_by is not None:
            row_order = A.RowOrder(field=order_by.field.value, descending=order_by.direction == OrderDirection.DESC)
        page = await A.section_rows(
            await self._scope(info),
            first=first,
            after=after,
            last=last,
            before=before,
            order=row_order,
            count=lambda: self._count(info),
        )
        return connection(page, row.from_record)  # type: ignore[attr-defined]

    return strawberry.field(resolver=rows, description=f"{ROWS_DESCRIPTION} Default order: {default_order}.")


def section_type(decl: A.SectionDeclaration) -> type:
    """``<T>Section``: ``days`` for a windowed section, its KPI fields, then ``rows``."""
    annotations: dict[str, Any] = {"days": int} if decl.windowed else {}
    annotations.update(
        product=strawberry.Private[str],
        as_of=strawberry.Private[dt.date],
        once=strawberry.Private[_Once | None],  # type: ignore[misc]
    )
    namespace: dict[str, Any] = {"__module__": __name__, "__annotations__": annotations, "decl": decl, "once": None}
    if decl.windowed:
        namespace["days"] = strawberry.field(description="The window in days.")
    for kpi in decl.kpis:
        namespace[kpi.name] = _kpi_field(kpi)
    namespace["rows"] = _rows_field(decl, row_type(decl), order_input(decl))
    return strawberry.type(type(f"{decl.type_name}Section", (_SectionBase,), namespace), description=decl.description)


SECTION_TYPES = {decl.name: section_type(decl) for decl in A.declared_sections()}


# --------------------------------------------------------------------------
# Analytics root
# --------------------------------------------------------------------------


def _section_field(decl: A.SectionDeclaration, section: type) -> Any:
    if decl.windowed:

        def windowed(
            self: Any, days: Annotated[int, strawberry.argument(description=DAYS)] = A.DEFAULT_DAYS
        ) -> section | None:  # type: ignore[valid-type]
            return section(days=A.check_days(days), product=self.product.value, as_of=self.as_of)

        return strawberry.field(resolver=windowed, name=decl.name, description=decl.field_description)

    def whole(self: Any) -> section:  # type: ignore[valid-type]
        return section(product=self.product.value, as_of=self.as_of)

    return strawberry.field(resolver=whole, name=decl.name, description=decl.field_description)


async def _license_trend(
    self: Any,
    info: InfoT,
    weeks: Annotated[int, strawberry.argument(description="Number of weekly points, 1–52 (default 12).")] = 12,
) -> list[LicensePoint] | None:
    points = await A.license_trend(
        session=info.context.session,
        viewer=info.context.require_viewer(),
        product=self.product.value,
        as_of=self.as_of,
        weeks=weeks,
        today=info.context.today,
        facts=await A.use_facts(info.context, self.as_of),
    )
    return [LicensePoint.from_record(p) for p in points]


Analytics = strawberry.type(
    type(
        "Analytics",
        (),
        {
            "__module__": __name__,
            "__annotations__": {"product": KpiProduct, "as_of": dt.date},
            "product": strawberry.field(description="The product the analytics are for."),
            "as_of": strawberry.field(description="The day the analytics are computed for (default today)."),
            "license_trend": strawberry.field(
                resolver=_license_trend,
                description=(
                    "Licence distribution trend (F12): one point for each of asOf, asOf−7, …, oldest first; each "
                    "sums total, assigned and used of the product's lines of the plans live on that point's day, "
                    "with values as of that day."
                ),
            ),
            **{decl.alias: _section_field(decl, SECTION_TYPES[decl.name]) for decl in A.declared_sections()},
        },
    ),
    description=(
        "Analytics of one product (F11–F17) as of one day, over the customers the caller may see. "
        "Only live plans count: status ACTIVE and startsOn ≤ day ≤ endsOn. A line's values on a day are "
        "those of its latest usage snapshot on or before that day (zeros without one). Each section "
        "is computed only when selected."
    ),
)


# --------------------------------------------------------------------------
# Entry points for Query
# --------------------------------------------------------------------------


async def resolve_kpis(info: InfoT, as_of: dt.date | None, product: KpiProduct | None = None) -> KpiSummary:
    """``Query.kpis(asOf, product)``: one SQL statement (plus, today for a partner-wide viewer, the stored facts' day)."""
    day = check_as_of(as_of, info.context.today)
    summary = await A.kpis(
        session=info.context.session,
        viewer=info.context.require_viewer(),
        as_of=day,
        settings=info.context.settings,
        product=None if product is None else KpiProduct(product).value,
        facts=await A.use_facts(info.context, day),
        version=await A.facts_version(info.context, day),
    )
    return KpiSummary(**dataclasses.asdict(summary))


def resolve_analytics(info: InfoT, product: KpiProduct, as_of: dt.date | None) -> Any:
    """``Query.analytics(product, asOf)``: no SQL until a section or the trend is selected."""
    info.context.require_viewer()
    return Analytics(product=KpiProduct(product), as_of=check_as_of(as_of, info.context.today))


__all__ = ["SECTION_TYPES", "Analytics", "AnalyticsRow", "KpiSummary", "resolve_analytics", "resolve_kpis"]
