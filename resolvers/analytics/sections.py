"""The five analytics sections of SPEC §2.2 (F13–F17), one declaration each.

Each declaration says which live lines are the section's rows (``where`` on
the plan and line, ``having`` on the computed values), which columns a row has
beyond the common ones, its default order and its KPIs. Everything else (row
query, KPI statement, pages, orderings, summary flag, GraphQL types) is built
from these by :mod:`resolvers.analytics.build` and ``schema/analytics.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Boolean, Float, and_, case, false, literal, or_, type_coerce

from resolvers.analytics.declare import Column, Kpi, SectionDeclaration
from resolvers.analytics.lines import (
    Frame,
    eligible,
    overage,
    rate,
    ratio,
    whole_months_since,
    whole_months_until,
)

# --------------------------------------------------------------------------
# Columns and KPIs more than one section has
# --------------------------------------------------------------------------

_WEEKLY = "{} on the day minus {} 7 days earlier; null when the line has no snapshot on or before that earlier day."
WEEKLY_ASSIGNMENT_CHANGE = Column(
    "weekly_assignment_change",
    int | None,
    _WEEKLY.format("assigned", "assigned"),
    lambda base, f: base.c.assigned - base.c.assigned_prev,
)
USAGE_LAST_3_MONTHS = Column(
    "usage_last_3_months",
    int,
    "Assigned licences used in the 90 days ending on the snapshot's day.",
    lambda base, f: base.c.used90,
)


def distinct_customers(name: str) -> Kpi:
    """The section's customer count KPI, called ``name``."""
    return Kpi(name, int, "Distinct customers among the rows.", lambda a: a.customers)


ASSIGNMENT_RATE = Kpi(
    "license_assignment_rate",
    float | None,
    "Σ assigned / Σ totalLicenses over the rows; null when Σ totalLicenses is 0.",
    lambda a: ratio(a.assigned, a.total),
)
USAGE_RATE = Kpi(
    "license_usage_rate",
    float | None,
    "Σ used / Σ totalLicenses over the rows; null when Σ totalLicenses is 0.",
    lambda a: ratio(a.used, a.total),
)

# --------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------


def _until(f: Frame) -> dt.date:
    return f.as_of + dt.timedelta(days=f.days)


def _expiring_where(plan: Any, line: Any, f: Frame) -> list[Any]:
    """Trials and non-renewing subscriptions with ``daysUntilEnd <= days``."""
    return [
        plan.c.ends_on <= _until(f),
        or_(plan.c.kind == "TRIAL", and_(plan.c.kind == "SUBSCRIPTION", plan.c.auto_renew == false())),
    ]


def _renewing_where(plan: Any, line: Any, f: Frame) -> list[Any]:
    """Auto-renewing subscriptions with ``daysUntilEnd <= days``."""
    return [
        plan.c.ends_on <= _until(f),
        plan.c.kind == "SUBSCRIPTION",
        plan.c.auto_renew == True,  # noqa: E712 - SQL comparison
    ]


def _low(base: Any, f: Frame) -> Any:
    """An eligible line is low when ``assigned / total < factor × median``."""
    return rate(base.c.assigned, base) < literal(f.factor, Float) * f.median(base)


# --------------------------------------------------------------------------
# The sections
# --------------------------------------------------------------------------

RECENTLY_ADDED = SectionDeclaration(
    name="recentlyAdded",
    type_name="RecentlyAdded",
    description=(
        "Customers added recently (F13): rows are live plans of the product whose daysSinceAdded "
        "(day − startsOn) is within `days`."
    ),
    field_description="Customers added within the last `days` days (F13).",
    row_description="A row of recentlyAdded: a plan that started within the window.",
    windowed=True,
    weekly=True,
    where=lambda plan, line, f: [plan.c.starts_on >= f.as_of - dt.timedelta(days=f.days)],
    columns=(
        Column("days_since_added", int, "Days from the plan's startsOn to the day.", lambda b, f: b.c.days_since_added),
        WEEKLY_ASSIGNMENT_CHANGE,
        Column(
            "weekly_usage_change", int | None, _WEEKLY.format("used", "used"), lambda b, f: b.c.used - b.c.used_prev
        ),
    ),
    order=("days_since_added", False),
    kpis=(
        distinct_customers("new_customers"),
        Kpi("total_licenses", int, "Σ totalLicenses of the rows.", lambda a: a.total),
    ),
)


def _ending_soon(
    name: str, where: Callable[[Any, Any, Frame], list[Any]], days: Column, texts: str
) -> SectionDeclaration:
    """A section of plans whose term ends within the window (expiring, renewing).

    ``texts`` holds the section's, its ``Analytics`` field's and its row's
    descriptions, one a line.
    """
    description, field_description, row_description = texts.strip().splitlines()
    return SectionDeclaration(
        name=name,
        type_name=name[0].upper() + name[1:],
        description=description,
        field_description=field_description,
        row_description=row_description,
        windowed=True,
        where=where,
        columns=(days, USAGE_LAST_3_MONTHS),
        order=(days.name, False),
        kpis=(distinct_customers(f"{name}_customers"), ASSIGNMENT_RATE, USAGE_RATE),
        summary=name,
    )


DAYS_TO_EXPIRY = Column(
    "days_to_expiry",
    int,
    "Days from the day to the plan's endsOn (0 = ends on the day).",
    lambda b, f: b.c.days_until_end,
)
EXPIRING = _ending_soon(
    "expiring",
    _expiring_where,
    DAYS_TO_EXPIRY,
    """
Plans expiring soon (F14): rows are live trials, and live subscriptions without auto-renewal, of the product whose daysUntilEnd (endsOn − day) is within `days`.
Trials and non-renewing subscriptions ending within the next `days` days (F14).
A row of expiring: a trial, or a subscription without auto-renewal, ending within the window.
""",
)
DAYS_TO_RENEWAL = Column(
    "days_to_renewal", int, "Days from the day to the subscription's endsOn.", lambda b, f: b.c.days_until_end
)
RENEWING = _ending_soon(
    "renewing",
    _renewing_where,
    DAYS_TO_RENEWAL,
    """
Subscriptions renewing soon (F15): rows are live auto-renewing subscriptions of the product whose daysUntilEnd (endsOn − day) is within `days`.
Auto-renewing subscriptions ending within the next `days` days (F15).
A row of renewing: an auto-renewing subscription whose term ends within the window.
""",
)

LOW_ASSIGNMENT = SectionDeclaration(
    name="lowAssignment",
    type_name="LowAssignment",
    description=(
        "Low licence assignment (F16). Eligible lines: the product's lines on live plans with totalLicenses > 0 "
        "and daysSinceAdded ≥ PARTNERHUB_LOW_ASSIGNMENT_MIN_DAYS (default 30), over the whole partner whatever "
        "the caller may see. A line is low when eligible and assigned / total < PARTNERHUB_LOW_ASSIGNMENT_FACTOR "
        "(default 0.5) × the median of assigned / total over the eligible lines. Rows and KPIs cover the "
        "low lines of the customers the caller may see."
    ),
    field_description="Lines with low licence assignment compared with the partner's median (F16).",
    row_description="A row of lowAssignment: an eligible line assigned well below the partner's median.",
    weekly=True,
    where=lambda plan, line, f: eligible(f.as_of, f.min_days)(plan, line),
    having=_low,
    columns=(
        Column(
            "months_since_added",
            int,
            (
                "Whole months from the plan's startsOn to the day: (year diff)·12 + (month diff), "
                "minus 1 when the day-of-month has not been reached."
            ),
            lambda b, f: whole_months_since(b.c.starts_on, f.as_of),
        ),
        Column(
            "assignment_rate",
            float,
            "assigned / totalLicenses as a fraction (0.5 = 50 %).",
            lambda b, f: rate(b.c.assigned, b),
        ),
        WEEKLY_ASSIGNMENT_CHANGE,
    ),
    order=("assignment_rate", False),
    kpis=(
        Kpi(
            "median_assignment_rate",
            float | None,
            (
                "Median of assigned / total over the partner's eligible lines (mean of the two middle values for an "
                "even count); null when no line is eligible."
            ),
            lambda a: None if a.median is None else float(a.median),
        ),
        distinct_customers("low_assignment_customers"),
        ASSIGNMENT_RATE,
        Kpi(
            "usage_when_assigned_rate",
            float | None,
            "Σ used / Σ assigned over the rows; null when Σ assigned is 0.",
            lambda a: ratio(a.used, a.assigned),
        ),
        Kpi(
            "total_unassigned_licenses", int, "Σ available (unassigned licences) over the rows.", lambda a: a.available
        ),
    ),
    summary="low_license_assignment",
    aggregates=lambda f: [f.median(None).label("median")],
)

OVER_LIMIT = SectionDeclaration(
    name="overLimit",
    type_name="OverLimit",
    description="Customers over their licence limit (F17): rows are live lines of the product with assigned > total.",
    field_description="Lines with more licences assigned than bought (F17).",
    row_description="A row of overLimit: a line with more licences assigned than bought.",
    having=lambda base, f: base.c.assigned > base.c.total,
    columns=(
        Column(
            "months_remaining",
            int,
            (
                "Whole months from the day to the plan's endsOn: (year diff)·12 + (month diff), "
                "minus 1 when endsOn's day-of-month is before the day's."
            ),
            lambda b, f: whole_months_until(b.c.ends_on, f.as_of),
        ),
        Column(
            "auto_renew",
            bool,
            "Whether the subscription renews automatically; false for trials.",
            lambda b, f: type_coerce(case((b.c.plan_type == "TRIAL", false()), else_=b.c.auto_renew), Boolean),
        ),
        Column(
            "assignment_rate",
            float | None,
            "assigned / totalLicenses as a fraction; null when totalLicenses is 0.",
            lambda b, f: rate(b.c.assigned, b),
        ),
        Column(
            "usage_rate",
            float | None,
            "used / totalLicenses as a fraction; null when totalLicenses is 0.",
            lambda b, f: rate(b.c.used, b),
        ),
        Column("overage", int, "assigned − totalLicenses (always > 0 here).", lambda b, f: overage(b)),
    ),
    order=("overage", True),
    kpis=(
        distinct_customers("customers_with_overage"),
        Kpi("total_overage_licenses", int, "Σ overage (assigned − total) over the rows.", lambda a: a.overage),
        Kpi(
            "average_overage",
            float | None,
            "totalOverageLicenses / customersWithOverage; null when there is no such customer.",
            lambda a: ratio(a.overage, a.customers),
        ),
    ),
    summary="over_license_limit",
)

SECTIONS: dict[str, SectionDeclaration] = {
    s.name: s for s in (RECENTLY_ADDED, EXPIRING, RENEWING, LOW_ASSIGNMENT, OVER_LIMIT)
}
