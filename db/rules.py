"""The domain rules of SPEC §2 as SQL expressions, each written once.

Filters, fields, loaders, analytics and writers all build their queries from these
functions, so a status or a "live plan" can never mean two different things.
Dates are passed as bound parameters (``d + 30 days`` computed in Python), which
keeps every expression portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)

from db.sqlfunc import DaysBetween
from db.tables import LINE, PLAN, SNAPSHOT

# A day in a rule: a Python date (a bound parameter) or a date column (one day
# per row, e.g. the points of a trend).
Day = dt.date | ColumnElement[dt.date]

# Expressions depend only on hashable arguments and are immutable: build each
# once (SQLAlchemy construction costs more Python time than the SQL runs).
# Small: the hits are the loaders' (base tables, today); analytics pass fresh
# aliases, whose entries would only hold memory.
_memo = functools.lru_cache(maxsize=64)

STATUS_ORDER = (
    "SUSPENDED",
    "LICENSE_OVERAGE",
    "EXPIRING_SOON",
    "READY_FOR_SETUP",
    "NO_RECENT_ACTIVITY",
    "TRIAL",
    "SUBSCRIPTION",
    "EXPIRED",
)


def is_live(plan, d: Day) -> ColumnElement[bool]:
    """A plan is live on ``d``: status ACTIVE and ``startsOn <= d <= endsOn``."""
    return and_(plan.c.status == "ACTIVE", plan.c.starts_on <= d, plan.c.ends_on >= d)


def _snapshot_value(line, column: str, d: Day):
    snap = SNAPSHOT.alias("snap_on_day")
    return (
        select(snap.c[column])
        .where(snap.c.line_id == line.c.id, snap.c.date <= d)
        .order_by(snap.c.date.desc())
        .limit(1)
        .scalar_subquery()
    )


@_memo
def line_value_on(line, column: str, d: Day) -> ColumnElement[int]:
    """A line's ``assigned``/``used``/``used90`` on day ``d`` (SPEC §2).

    The latest snapshot on or before ``d``, or 0 without one. The line keeps its
    newest snapshot's values in ``cur_*``; they answer whenever that snapshot is
    not after ``d`` (today, in practice), and only otherwise is the snapshot
    table searched.
    """
    stored = line.c["cur_" + column]
    return case(
        (line.c.cur_date.is_(None), literal(0)),
        (line.c.cur_date <= d, stored),
        else_=func.coalesce(_snapshot_value(line, column, d), 0),
    )


def line_values_on(line, d: Day) -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[int]]:
    """``(assigned, used, used90)`` of ``line`` on day ``d``."""
    return (
        line_value_on(line, "assigned", d),
        line_value_on(line, "used", d),
        line_value_on(line, "used90", d),
    )


def _plan_exists(customer, *conditions) -> ColumnElement[bool]:
    plan = PLAN.alias("status_plan")
    return exists().where(plan.c.customer_id == customer.c.id, *[c(plan) for c in conditions])


@dataclass(frozen=True)
class StatusWindows:
    """The day windows of §2.1 (settings)."""

    expiring_soon_days: int = 30
    inactive_days: int = 30


@_memo
def status_predicates(customer, today: dt.date, windows: StatusWindows) -> dict[str, ColumnElement[bool]]:
    """Every customer status of SPEC §2.1 as a boolean SQL expression on ``customer``.

    Used by the ``statuses`` field (selected as columns) and by the
    ``statuses`` filter (in WHERE), so the two cannot disagree. The returned
    mapping is shared between callers: read it, never change it.
    """
    live = lambda p: is_live(p, today)  # noqa: E731

    def overage(plan):
        line = LINE.alias("status_line")
        return exists().where(line.c.plan_id == plan.c.id, line_value_on(line, "assigned", today) > line.c.total)

    expiring_by = today + dt.timedelta(days=windows.expiring_soon_days)
    inactive_before = today - dt.timedelta(days=windows.inactive_days)
    held = lambda p: and_(p.c.kind == "SUBSCRIPTION", p.c.status.in_(("PENDING_SETUP", "SUSPENDED")))  # noqa: E731
    return {
        "SUSPENDED": _plan_exists(customer, lambda p: p.c.kind == "SUBSCRIPTION", lambda p: p.c.status == "SUSPENDED"),
        "LICENSE_OVERAGE": _plan_exists(customer, live, overage),
        "EXPIRING_SOON": _plan_exists(
            customer,
            live,
            lambda p: or_(p.c.kind == "TRIAL", p.c.auto_renew == false()),
            lambda p: p.c.ends_on <= expiring_by,
        ),
        "READY_FOR_SETUP": _plan_exists(
            customer, lambda p: p.c.kind == "SUBSCRIPTION", lambda p: p.c.status == "PENDING_SETUP"
        ),
        "NO_RECENT_ACTIVITY": or_(
            customer.c.last_admin_activity_on.is_(None), customer.c.last_admin_activity_on < inactive_before
        ),
        "TRIAL": _plan_exists(customer, live, lambda p: p.c.kind == "TRIAL"),
        "SUBSCRIPTION": _plan_exists(customer, live, lambda p: p.c.kind == "SUBSCRIPTION"),
        "EXPIRED": and_(not_(_plan_exists(customer, live)), not_(_plan_exists(customer, held))),
    }


def has_live_product(customer, today: dt.date, products: list[str]) -> ColumnElement[bool]:
    """The customer has a live plan with a line for any of ``products``."""
    plan = PLAN.alias("product_plan")
    line = LINE.alias("product_line")
    return exists().where(
        plan.c.customer_id == customer.c.id,
        is_live(plan, today),
        line.c.plan_id == plan.c.id,
        line.c.product.in_(products),
    )


def has_live_plan_of_kind(customer, today: dt.date, kind: str) -> ColumnElement[bool]:
    """The customer has a live plan of ``kind`` (SUBSCRIPTION or TRIAL)."""
    return _plan_exists(customer, lambda p: is_live(p, today), lambda p: p.c.kind == kind)


def days_between(later, earlier) -> ColumnElement[int]:
    """Whole days ``later - earlier`` of two DATE expressions, on SQLite and PostgreSQL.

    Dialect-specific SQL is compiled by :class:`db.sqlfunc.DaysBetween`.
    """
    return DaysBetween(later, earlier)


def line_numbers(*, total: int, assigned: int, used: int) -> tuple[int, int, float | None, float | None]:
    """``(available, overage, assignmentRate, usageRate)`` of a line (SPEC §2).

    ``available = max(total − assigned, 0)``, ``overage = max(assigned − total, 0)``;
    rates are fractions, null when ``total`` is 0. The analytics compute the
    same numbers in SQL (a section row's ``available`` and ``overage``); this
    is the form for one line already read (a plain tuple: a list page builds
    hundreds).
    """
    return (
        max(total - assigned, 0),
        max(assigned - total, 0),
        assigned / total if total else None,
        used / total if total else None,
    )
