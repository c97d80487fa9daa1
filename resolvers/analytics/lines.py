"""The SQL every analytics section is made of: live lines, their common columns, the median, argument checks.

Each section's row query (:mod:`resolvers.analytics.build`) is a select over
:func:`live_lines`, one row per live plan of a visible customer together with
its licence line for the product. The domain rules (live plan, a line's values
on a day, day counts) come from :mod:`db.rules`; the window filters are
written as date comparisons on bound parameters (``endsOn <= d + N`` is
``daysUntilEnd <= N``) so that they use the ``plan (partner_id, status,
ends_on)`` index.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Float, Integer, and_, case, cast, exists, extract, func, literal, select

from db.access import Viewer, visible_customers
from db.rules import days_between, is_live, line_value_on, line_values_on
from db.tables import CUSTOMER, LINE, PLAN, SNAPSHOT
from resolvers.pagination import bad_input

KPI_PRODUCTS = ("MEETINGS", "CALLING")

# Building these statements costs far more Python time than running them
# (bench/README.md). They depend only on hashable arguments (viewer, product,
# day, windows, settings) and SQLAlchemy statements are immutable, so each is
# built once per distinct argument set and reused. The cache is small on
# purpose: a summary-KPI statement with its section queries holds megabytes,
# and `asOf` is client-chosen, so a large cache would let a client grow the
# process by walking dates. Four entries per builder cover the usual case (one
# viewer toggling both products, today).
memo = functools.lru_cache(maxsize=4)
MAX_DAYS = 3650
MAX_WEEKS = 52
DEFAULT_DAYS = 90
DEFAULT_WEEKS = 12

Where = Callable[[Any, Any], Sequence[Any]]


def check_product(product: Any) -> str:
    """Validate a KPI product (an enum member or its value)."""
    value = getattr(product, "value", product)
    if value not in KPI_PRODUCTS:
        raise bad_input(f"`product` must be one of {', '.join(KPI_PRODUCTS)}; got {value!r}.")
    return value


def check_days(days: int, argument: str = "days") -> int:
    """Validate a day window (0..3650)."""
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_DAYS:
        raise bad_input(f"`{argument}` must be between 0 and {MAX_DAYS}; got {days!r}.")
    return days


def check_weeks(weeks: int) -> int:
    """Validate the number of trend points (1..52)."""
    if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= MAX_WEEKS:
        raise bad_input(f"`weeks` must be between 1 and {MAX_WEEKS}; got {weeks!r}.")
    return weeks


def ratio(numerator: int | None, denominator: int | None) -> float | None:
    """``numerator / denominator``; None when the denominator is 0 or NULL."""
    if not denominator:
        return None
    return (numerator or 0) / denominator


def live_lines(
    *,
    partner_id: int,
    viewer: Viewer | None,
    product: str | tuple[str, ...],
    d: dt.date,
    where: Where | None = None,
    weekly: bool = False,
    name: str = "base",
) -> Any:
    """Subquery: the lines for ``product`` (or any of several) of the plans live on ``d``.

    Scoped to the viewer's visible customers (with the customer's name and
    name key), or the whole partner when ``viewer`` is None (without them).
    Values (assigned, used, used90) are those on ``d``; with ``weekly`` also
    ``assigned_prev``/``used_prev``: the values on ``d - 7``, NULL when the
    line has no snapshot on or before ``d - 7``.
    ``where(plan, line)`` adds conditions (windows, plan kinds).
    """
    plan = PLAN.alias(f"{name}_plan")
    line = LINE.alias(f"{name}_line")
    customer = CUSTOMER.alias(f"{name}_customer")
    assigned, used, used90 = line_values_on(line, d)
    scoped = viewer is not None
    columns = [
        plan.c.customer_id.label("customer_id"),
        line.c.product.label("product"),
        *([customer.c.name.label("customer_name"), customer.c.sort_key.label("name_key")] if scoped else []),
        plan.c.id.label("plan_id"),
        plan.c.kind.label("plan_type"),
        plan.c.ext_id.label("subscription_id"),
        plan.c.auto_renew.label("auto_renew"),
        plan.c.starts_on.label("starts_on"),
        plan.c.ends_on.label("ends_on"),
        line.c.total.label("total"),
        assigned.label("assigned"),
        used.label("used"),
        used90.label("used90"),
        days_between(literal(d), plan.c.starts_on).label("days_since_added"),
        days_between(plan.c.ends_on, literal(d)).label("days_until_end"),
    ]
    if weekly:
        week_ago = d - dt.timedelta(days=7)
        snap = SNAPSHOT.alias(f"{name}_week_snap")
        has_week_ago = exists().where(snap.c.line_id == line.c.id, snap.c.date <= week_ago)
        columns += [
            case((has_week_ago, line_value_on(line, "assigned", week_ago)), else_=None).label("assigned_prev"),
            case((has_week_ago, line_value_on(line, "used", week_ago)), else_=None).label("used_prev"),
        ]
    conditions = [plan.c.partner_id == partner_id, is_live(plan, d)]
    of_product = line.c.product == product if isinstance(product, str) else line.c.product.in_(product)
    source = plan.join(line, and_(line.c.plan_id == plan.c.id, of_product))
    if scoped:
        # The customer table gives the names and the viewer's visibility; the
        # partner-wide median needs neither.
        source = source.join(customer, customer.c.id == plan.c.customer_id)
        conditions.append(visible_customers(customer, viewer))
    if where is not None:
        conditions.extend(where(plan, line))
    return select(*columns).select_from(source).where(*conditions).subquery(name)


def common_columns(base: Any) -> list[Any]:
    """The columns every section row has (SPEC §2.2), over a :func:`live_lines` subquery."""
    available = case((base.c.total > base.c.assigned, base.c.total - base.c.assigned), else_=0)
    return [
        base.c.customer_id,
        base.c.customer_name,
        base.c.name_key,
        base.c.plan_id,
        base.c.plan_type,
        base.c.subscription_id,
        base.c.total.label("total_licenses"),
        base.c.assigned,
        base.c.used,
        available.label("available"),
    ]


def rate(numerator: Any, base: Any) -> Any:
    """``numerator / total`` as a float, NULL when total is 0."""
    return cast(numerator, Float) / func.nullif(base.c.total, 0)


def overage(base: Any) -> Any:
    """``assigned - total`` when positive, else 0."""
    return case((base.c.assigned > base.c.total, base.c.assigned - base.c.total), else_=0)


def _year_month_day(column: Any) -> tuple[Any, Any, Any]:
    return (
        cast(extract("year", column), Integer),
        cast(extract("month", column), Integer),
        cast(extract("day", column), Integer),
    )


def whole_months_since(start: Any, d: dt.date) -> Any:
    """Whole months from the date column ``start`` to ``d`` (SPEC §2, a = start, b = d)."""
    year, month, day = _year_month_day(start)
    return (d.year - year) * 12 + (d.month - month) - case((day > d.day, 1), else_=0)


def whole_months_until(end: Any, d: dt.date) -> Any:
    """Whole months from ``d`` to the date column ``end`` (SPEC §2, a = d, b = end)."""
    year, month, day = _year_month_day(end)
    return (year - d.year) * 12 + (month - d.month) - case((day < d.day, 1), else_=0)


def eligible(as_of: dt.date, min_days: int) -> Where:
    """Low-assignment eligibility: ``total > 0`` and ``daysSinceAdded >= min_days``."""
    added_by = as_of - dt.timedelta(days=min_days)
    return lambda plan, line: [line.c.total > 0, plan.c.starts_on <= added_by]


@memo
def median_assignment_rate_query(*, partner_id: int, product: str, as_of: dt.date, min_days: int) -> Any:
    """Scalar subquery: median of ``assigned / total`` over the partner's eligible lines.

    The whole partner, whatever the caller may see. Mean of the two middle
    values for an even count, NULL when no line is eligible.
    """
    base = live_lines(
        partner_id=partner_id, viewer=None, product=product, d=as_of, where=eligible(as_of, min_days), name="median"
    )
    value = rate(base.c.assigned, base)
    ranked = select(
        value.label("rate"),
        func.row_number().over(order_by=value).label("rn"),
        func.count().over().label("cnt"),
    ).subquery("median_ranked")
    # Middle positions: (cnt + 1) / 2 and (cnt + 2) / 2 in integer division.
    # A CTE, read through a scalar subquery: a statement that uses the median
    # twice (the lowAssignment KPIs filter on it and report it) computes it once.
    median = (
        select(func.avg(ranked.c.rate).label("rate"))
        .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
        .cte(f"median_{product.lower()}")
    )
    return select(median.c.rate).scalar_subquery()


@dataclass(frozen=True)
class Frame:
    """What a section's SQL depends on besides the viewer (hashable, so statements are memoised on it).

    Attributes:
        partner_id: The viewer's partner (the median is partner-wide).
        product: The product, or several for the one-pass summary KPIs.
        as_of: The analytics day.
        days: The section's window (the default where it has none).
        min_days: Low-assignment eligibility age (settings).
        factor: Low-assignment factor (settings).
    """

    partner_id: int
    product: str | tuple[str, ...]
    as_of: dt.date
    days: int
    min_days: int
    factor: float

    def median(self, base: Any) -> Any:
        """The partner-wide median of the product of ``base``'s line."""
        if isinstance(self.product, str):
            return median_assignment_rate_query(
                partner_id=self.partner_id, product=self.product, as_of=self.as_of, min_days=self.min_days
            )
        return case(
            *[
                (
                    base.c.product == product,
                    median_assignment_rate_query(
                        partner_id=self.partner_id, product=product, as_of=self.as_of, min_days=self.min_days
                    ),
                )
                for product in self.product
            ]
        )


def as_tables(base: Any) -> tuple[Any, Any]:
    """``(plan, line)`` stand-ins whose columns are ``base``'s, for a section's ``where`` on scanned lines."""
    plan = SimpleNamespace(
        c=SimpleNamespace(
            kind=base.c.plan_type, auto_renew=base.c.auto_renew, starts_on=base.c.starts_on, ends_on=base.c.ends_on
        )
    )
    line = SimpleNamespace(c=SimpleNamespace(total=base.c.total))
    return plan, line
