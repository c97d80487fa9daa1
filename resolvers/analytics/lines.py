"""The SQL every analytics section is made of: live lines, their common columns, the median, argument checks.

Each section's row query (:mod:`resolvers.analytics.build`) is a select over
:func:`db.lines.live_lines` (or, for today and a partner-wide viewer, the
stored facts with the same columns: :meth:`Frame.lines`), one row per live
plan of a visible customer together with its licence line for the product.
The domain rules (live plan, a line's values
on a day, day counts) come from :mod:`db.rules`; the window filters are
written as date comparisons on bound parameters (``endsOn <= d + N`` is
``daysUntilEnd <= N``) so that they use the ``plan (partner_id, status,
ends_on)`` index.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, case, cast, extract

from db.access import Viewer
from db.analytics_facts import fact_lines, stored_median
from db.lines import KPI_PRODUCTS, Where, live_lines, median_assignment_rate
from db.lines import eligible as eligible  # re-exported for the sections
from db.lines import rate as rate  # re-exported for the sections
from resolvers.pagination import bad_input

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


@memo
def median_assignment_rate_query(*, partner_id: int, product: str, as_of: dt.date, min_days: int) -> Any:
    """Scalar subquery: median of ``assigned / total`` over the partner's eligible lines, computed on read.

    The whole partner, whatever the caller may see. Mean of the two middle
    values for an even count, NULL when no line is eligible.
    """
    return median_assignment_rate(partner_id=partner_id, product=product, as_of=as_of, min_days=min_days)


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
        facts: Read the stored aggregates (db/analytics_facts.py) instead of
            computing on read: only for today and a viewer who sees the
            whole partner.
    """

    partner_id: int
    product: str | tuple[str, ...]
    as_of: dt.date
    days: int
    min_days: int
    factor: float
    facts: bool = False

    def median_of(self, product: str) -> Any:
        """The partner-wide median of ``product``: stored, or computed on read."""
        if self.facts:
            return stored_median(self.partner_id, product)
        return median_assignment_rate_query(
            partner_id=self.partner_id, product=product, as_of=self.as_of, min_days=self.min_days
        )

    def median(self, base: Any) -> Any:
        """The partner-wide median of the product of ``base``'s line."""
        if isinstance(self.product, str):
            return self.median_of(self.product)
        return case(*[(base.c.product == product, self.median_of(product)) for product in self.product])

    def lines(self, viewer: Viewer, *, where: Where | None = None, weekly: bool = False, name: str = "base") -> Any:
        """The live lines of the frame's product and day: the stored facts, or :func:`db.lines.live_lines`."""
        if self.facts:
            return fact_lines(
                partner_id=self.partner_id, product=self.product, d=self.as_of, where=where, weekly=weekly, name=name
            )
        return live_lines(
            partner_id=self.partner_id,
            viewer=viewer,
            product=self.product,
            d=self.as_of,
            where=where,
            weekly=weekly,
            name=name,
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
