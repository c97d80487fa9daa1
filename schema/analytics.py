"""GraphQL types of the KPIs and analytics (SPEC §2.2, §2.3; F10–F17).

The types hold no SQL: every number comes from :mod:`resolvers.analytics`.
Sections are lazy: a section's KPI statement runs only when one of its KPI
fields or its rows' ``totalCount`` is selected (once per section object, the
result shared by every field), and its rows statement only when ``rows`` is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry

from resolvers import analytics as A
from schema.connection import Connection, Edge, PageInfo
from schema.enums import KpiProduct, PlanType
from schema.relations import Relation
from schema.types import Customer, InfoT, LicensePoint

ROWS_DESCRIPTION = (
    "The section's rows (one per live plan with a line for the product), in the section's default "
    "order, then customer name (case-insensitive), then subscriptionId. Page with first/after; "
    "page size 1–100, default 25."
)
FIRST = "Page size, 1–100 (default 25)."
AFTER = "Cursor of the row to continue after (from a previous page of this section)."
DAYS = "Window in days, 0–3650 (default 90)."

T = TypeVar("T")
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
        "Summary KPIs over the customers the caller may see, MEETINGS and CALLING together: each count is "
        "of distinct customers having at least one row, for either product, in that analytics section "
        "with its default window."
    )
)
class KpiSummary:
    as_of: dt.date = strawberry.field(description="The day the KPIs are computed for (default today).")
    total_customers: int = strawberry.field(
        description="Customers with a live plan that has a MEETINGS or CALLING licence line."
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


WEEKLY = "{} on the day minus {} 7 days earlier; null when the line has no snapshot on or before that earlier day."


@strawberry.type(description="A row of recentlyAdded: a plan that started within the window.")
class RecentlyAddedRow(AnalyticsRow):
    days_since_added: int = strawberry.field(description="Days from the plan's startsOn to the day.")
    weekly_assignment_change: int | None = strawberry.field(description=WEEKLY.format("assigned", "assigned"))
    weekly_usage_change: int | None = strawberry.field(description=WEEKLY.format("used", "used"))


@strawberry.type(
    description="A row of expiring: a trial, or a subscription without auto-renewal, ending within the window."
)
class ExpiringRow(AnalyticsRow):
    days_to_expiry: int = strawberry.field(description="Days from the day to the plan's endsOn (0 = ends on the day).")
    usage_last_3_months: int = strawberry.field(
        name="usageLast3Months", description="Assigned licences used in the 90 days ending on the snapshot's day."
    )


@strawberry.type(description="A row of renewing: an auto-renewing subscription whose term ends within the window.")
class RenewingRow(AnalyticsRow):
    days_to_renewal: int = strawberry.field(description="Days from the day to the subscription's endsOn.")
    usage_last_3_months: int = strawberry.field(
        name="usageLast3Months", description="Assigned licences used in the 90 days ending on the snapshot's day."
    )


@strawberry.type(description="A row of lowAssignment: an eligible line assigned well below the partner's median.")
class LowAssignmentRow(AnalyticsRow):
    months_since_added: int = strawberry.field(
        description=(
            "Whole months from the plan's startsOn to the day: (year diff)·12 + (month diff), "
            "minus 1 when the day-of-month has not been reached."
        )
    )
    assignment_rate: float = strawberry.field(description="assigned / totalLicenses as a fraction (0.5 = 50 %).")
    weekly_assignment_change: int | None = strawberry.field(description=WEEKLY.format("assigned", "assigned"))


@strawberry.type(description="A row of overLimit: a line with more licences assigned than bought.")
class OverLimitRow(AnalyticsRow):
    months_remaining: int = strawberry.field(
        description=(
            "Whole months from the day to the plan's endsOn: (year diff)·12 + (month diff), "
            "minus 1 when endsOn's day-of-month is before the day's."
        )
    )
    auto_renew: bool = strawberry.field(description="Whether the subscription renews automatically; false for trials.")
    assignment_rate: float | None = strawberry.field(
        description="assigned / totalLicenses as a fraction; null when totalLicenses is 0."
    )
    usage_rate: float | None = strawberry.field(
        description="used / totalLicenses as a fraction; null when totalLicenses is 0."
    )
    overage: int = strawberry.field(description="assigned − totalLicenses (always > 0 here).")


def _row(cls: type, row: A.SectionRow) -> Any:
    values = {
        name: getattr(row, name)
        for name in cls.__dataclass_fields__
        if name not in ("customer_db_id", "plan_type") and hasattr(row, name)
    }
    return cls(customer_db_id=row.customer_id, plan_type=PlanType(row.plan_type), **values)


def _connection(cls: type, page: A.RowPage, count: Callable[[], Awaitable[int]]) -> Connection:
    nodes = [_row(cls, r) for r in page.rows]
    return Connection(
        edges=[Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=False)],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=count,
    )


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------


class _SectionBase:
    """Private state shared by the section types (not part of the schema)."""

    def _args(self, info: InfoT) -> dict[str, Any]:
        return {
            "session": info.context.session,
            "viewer": info.context.require_viewer(),
            "product": self.product,
            "as_of": self.as_of,
        }

    def _kpis(self, info: InfoT, fn, **kw) -> Awaitable[Any]:
        if self.once is None:
            self.once = _Once(lambda: fn(**self._args(info), **kw))
        return self.once.get()

    async def _count(self, info: InfoT, fn, **kw) -> int:
        return (await self._kpis(info, fn, **kw)).row_count


@strawberry.type(
    description=(
        "Customers added recently (F13): rows are live plans of the product whose daysSinceAdded "
        "(day − startsOn) is within `days`."
    )
)
class RecentlyAddedSection(_SectionBase):
    days: int = strawberry.field(description="The window in days.")
    product: strawberry.Private[str]
    as_of: strawberry.Private[dt.date]
    once: strawberry.Private[_Once | None] = None

    @strawberry.field(description="Distinct customers among the rows.")
    async def new_customers(self, info: InfoT) -> int:
        return (await self._kpis(info, A.recently_added_kpis, days=self.days)).new_customers

    @strawberry.field(description="Σ totalLicenses of the rows.")
    async def total_licenses(self, info: InfoT) -> int:
        return (await self._kpis(info, A.recently_added_kpis, days=self.days)).total_licenses

    @strawberry.field(description=ROWS_DESCRIPTION + " Default order: daysSinceAdded ascending.")
    async def rows(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[RecentlyAddedRow]:
        page = await A.recently_added_rows(**self._args(info), days=self.days, first=first, after=after)
        return _connection(RecentlyAddedRow, page, lambda: self._count(info, A.recently_added_kpis, days=self.days))


RATE_A = "Σ assigned / Σ totalLicenses over the rows; null when Σ totalLicenses is 0."
RATE_U = "Σ used / Σ totalLicenses over the rows; null when Σ totalLicenses is 0."


@strawberry.type(
    description=(
        "Plans expiring soon (F14): rows are live trials, and live subscriptions without auto-renewal, "
        "of the product whose daysUntilEnd (endsOn − day) is within `days`."
    )
)
class ExpiringSection(_SectionBase):
    days: int = strawberry.field(description="The window in days.")
    product: strawberry.Private[str]
    as_of: strawberry.Private[dt.date]
    once: strawberry.Private[_Once | None] = None

    @strawberry.field(description="Distinct customers among the rows.")
    async def expiring_customers(self, info: InfoT) -> int:
        return (await self._kpis(info, A.expiring_kpis, days=self.days)).expiring_customers

    @strawberry.field(description=RATE_A)
    async def license_assignment_rate(self, info: InfoT) -> float | None:
        return (await self._kpis(info, A.expiring_kpis, days=self.days)).license_assignment_rate

    @strawberry.field(description=RATE_U)
    async def license_usage_rate(self, info: InfoT) -> float | None:
        return (await self._kpis(info, A.expiring_kpis, days=self.days)).license_usage_rate

    @strawberry.field(description=ROWS_DESCRIPTION + " Default order: daysToExpiry ascending.")
    async def rows(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[ExpiringRow]:
        page = await A.expiring_rows(**self._args(info), days=self.days, first=first, after=after)
        return _connection(ExpiringRow, page, lambda: self._count(info, A.expiring_kpis, days=self.days))


@strawberry.type(
    description=(
        "Subscriptions renewing soon (F15): rows are live auto-renewing subscriptions of the product whose "
        "daysUntilEnd (endsOn − day) is within `days`."
    )
)
class RenewingSection(_SectionBase):
    days: int = strawberry.field(description="The window in days.")
    product: strawberry.Private[str]
    as_of: strawberry.Private[dt.date]
    once: strawberry.Private[_Once | None] = None

    @strawberry.field(description="Distinct customers among the rows.")
    async def renewing_customers(self, info: InfoT) -> int:
        return (await self._kpis(info, A.renewing_kpis, days=self.days)).renewing_customers

    @strawberry.field(description=RATE_A)
    async def license_assignment_rate(self, info: InfoT) -> float | None:
        return (await self._kpis(info, A.renewing_kpis, days=self.days)).license_assignment_rate

    @strawberry.field(description=RATE_U)
    async def license_usage_rate(self, info: InfoT) -> float | None:
        return (await self._kpis(info, A.renewing_kpis, days=self.days)).license_usage_rate

    @strawberry.field(description=ROWS_DESCRIPTION + " Default order: daysToRenewal ascending.")
    async def rows(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[RenewingRow]:
        page = await A.renewing_rows(**self._args(info), days=self.days, first=first, after=after)
        return _connection(RenewingRow, page, lambda: self._count(info, A.renewing_kpis, days=self.days))


@strawberry.type(
    description=(
        "Low licence assignment (F16). Eligible lines: the product's lines on live plans with totalLicenses > 0 "
        "and daysSinceAdded ≥ PARTNERHUB_LOW_ASSIGNMENT_MIN_DAYS (default 30), over the whole partner whatever "
        "the caller may see. A line is low when eligible and assigned / total < PARTNERHUB_LOW_ASSIGNMENT_FACTOR "
        "(default 0.5) × the median of assigned / total over the eligible lines. Rows and KPIs cover the "
        "low lines of the customers the caller may see."
    )
)
class LowAssignmentSection(_SectionBase):
    product: strawberry.Private[str]
    as_of: strawberry.Private[dt.date]
    once: strawberry.Private[_Once | None] = None

    def _low_kpis(self, info: InfoT) -> Awaitable[A.LowAssignmentKpis]:
        return self._kpis(info, A.low_assignment_kpis, settings=info.context.settings)

    @strawberry.field(
        description=(
            "Median of assigned / total over the partner's eligible lines (mean of the two middle values for an "
            "even count); null when no line is eligible."
        )
    )
    async def median_assignment_rate(self, info: InfoT) -> float | None:
        return (await self._low_kpis(info)).median_assignment_rate

    @strawberry.field(description="Distinct customers among the rows.")
    async def low_assignment_customers(self, info: InfoT) -> int:
        return (await self._low_kpis(info)).low_assignment_customers

    @strawberry.field(description=RATE_A)
    async def license_assignment_rate(self, info: InfoT) -> float | None:
        return (await self._low_kpis(info)).license_assignment_rate

    @strawberry.field(description="Σ used / Σ assigned over the rows; null when Σ assigned is 0.")
    async def usage_when_assigned_rate(self, info: InfoT) -> float | None:
        return (await self._low_kpis(info)).usage_when_assigned_rate

    @strawberry.field(description="Σ available (unassigned licences) over the rows.")
    async def total_unassigned_licenses(self, info: InfoT) -> int:
        return (await self._low_kpis(info)).total_unassigned_licenses

    @strawberry.field(description=ROWS_DESCRIPTION + " Default order: assignmentRate ascending.")
    async def rows(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[LowAssignmentRow]:
        page = await A.low_assignment_rows(**self._args(info), settings=info.context.settings, first=first, after=after)
        return _connection(
            LowAssignmentRow, page, lambda: self._count(info, A.low_assignment_kpis, settings=info.context.settings)
        )


@strawberry.type(
    description="Customers over their licence limit (F17): rows are live lines of the product with assigned > total."
)
class OverLimitSection(_SectionBase):
    product: strawberry.Private[str]
    as_of: strawberry.Private[dt.date]
    once: strawberry.Private[_Once | None] = None

    @strawberry.field(description="Distinct customers among the rows.")
    async def customers_with_overage(self, info: InfoT) -> int:
        return (await self._kpis(info, A.over_limit_kpis)).customers_with_overage

    @strawberry.field(description="Σ overage (assigned − total) over the rows.")
    async def total_overage_licenses(self, info: InfoT) -> int:
        return (await self._kpis(info, A.over_limit_kpis)).total_overage_licenses

    @strawberry.field(description="totalOverageLicenses / customersWithOverage; null when there is no such customer.")
    async def average_overage(self, info: InfoT) -> float | None:
        return (await self._kpis(info, A.over_limit_kpis)).average_overage

    @strawberry.field(description=ROWS_DESCRIPTION + " Default order: overage descending.")
    async def rows(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[OverLimitRow]:
        page = await A.over_limit_rows(**self._args(info), first=first, after=after)
        return _connection(OverLimitRow, page, lambda: self._count(info, A.over_limit_kpis))


# --------------------------------------------------------------------------
# Analytics root
# --------------------------------------------------------------------------


@strawberry.type(
    description=(
        "Analytics of one product (F11–F17) as of one day, over the customers the caller may see. "
        "Only live plans count: status ACTIVE and startsOn ≤ day ≤ endsOn. A line's values on a day are "
        "those of its latest usage snapshot on or before that day (zeros without one). Each section "
        "is computed only when selected."
    )
)
class Analytics:
    product: KpiProduct = strawberry.field(description="The product the analytics are for.")
    as_of: dt.date = strawberry.field(description="The day the analytics are computed for (default today).")

    @strawberry.field(
        description=(
            "Licence distribution trend (F12): one point for each of asOf, asOf−7, …, oldest first; each sums "
            "total, assigned and used of the product's lines of the plans live on that point's day, with values "
            "as of that day."
        )
    )
    async def license_trend(
        self,
        info: InfoT,
        weeks: Annotated[int, strawberry.argument(description="Number of weekly points, 1–52 (default 12).")] = 12,
    ) -> list[LicensePoint]:
        points = await A.license_trend(
            session=info.context.session,
            viewer=info.context.require_viewer(),
            product=self.product.value,
            as_of=self.as_of,
            weeks=weeks,
            today=info.context.today,
        )
        return [LicensePoint(date=p.date, total=p.total, assigned=p.assigned, used=p.used) for p in points]

    @strawberry.field(description="Customers added within the last `days` days (F13).")
    def recently_added(self, days: Annotated[int, strawberry.argument(description=DAYS)] = 90) -> RecentlyAddedSection:
        return RecentlyAddedSection(days=A.check_days(days), product=self.product.value, as_of=self.as_of)

    @strawberry.field(description="Trials and non-renewing subscriptions ending within the next `days` days (F14).")
    def expiring(self, days: Annotated[int, strawberry.argument(description=DAYS)] = 90) -> ExpiringSection:
        return ExpiringSection(days=A.check_days(days), product=self.product.value, as_of=self.as_of)

    @strawberry.field(description="Auto-renewing subscriptions ending within the next `days` days (F15).")
    def renewing(self, days: Annotated[int, strawberry.argument(description=DAYS)] = 90) -> RenewingSection:
        return RenewingSection(days=A.check_days(days), product=self.product.value, as_of=self.as_of)

    @strawberry.field(description="Lines with low licence assignment compared with the partner's median (F16).")
    def low_assignment(self) -> LowAssignmentSection:
        return LowAssignmentSection(product=self.product.value, as_of=self.as_of)

    @strawberry.field(description="Lines with more licences assigned than bought (F17).")
    def over_limit(self) -> OverLimitSection:
        return OverLimitSection(product=self.product.value, as_of=self.as_of)


# --------------------------------------------------------------------------
# Entry points for Query
# --------------------------------------------------------------------------


async def resolve_kpis(info: InfoT, as_of: dt.date | None) -> KpiSummary:
    """``Query.kpis(asOf)``: one SQL statement."""
    summary = await A.kpis(
        session=info.context.session,
        viewer=info.context.require_viewer(),
        as_of=as_of or info.context.today,
        settings=info.context.settings,
    )
    return KpiSummary(
        as_of=summary.as_of,
        total_customers=summary.total_customers,
        expiring=summary.expiring,
        renewing=summary.renewing,
        low_license_assignment=summary.low_license_assignment,
        over_license_limit=summary.over_license_limit,
    )


def resolve_analytics(info: InfoT, product: KpiProduct, as_of: dt.date | None) -> Analytics:
    """``Query.analytics(product, asOf)``: no SQL until a section or the trend is selected."""
    info.context.require_viewer()
    return Analytics(product=KpiProduct(product), as_of=as_of or info.context.today)


__all__ = [
    "Analytics",
    "AnalyticsRow",
    "ExpiringRow",
    "ExpiringSection",
    "KpiSummary",
    "LowAssignmentRow",
    "LowAssignmentSection",
    "OverLimitRow",
    "OverLimitSection",
    "RecentlyAddedRow",
    "RecentlyAddedSection",
    "RenewingRow",
    "RenewingSection",
    "resolve_analytics",
    "resolve_kpis",
]
