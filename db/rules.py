"""The domain rules of SPEC §2 as SQL expressions, each written once.

Filters, fields, loaders, analytics and writers all build their queries from these
functions, so a status or a "live plan" can never mean two different things.
Dates are passed as bound parameters (``d + 30 days`` computed in Python), which
keeps every expression portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from db.models import MANAGED_BY, PLAN_KINDS, PRODUCTS
from db.sqlfunc import DaysBetween
from db.tables import CUSTOMER, LINE, PLAN, SNAPSHOT

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


def _subscription_with_status(status: str) -> Callable[[Any, dt.date, StatusWindows], ColumnElement[bool]]:
    return lambda plan, _today, _windows: and_(plan.c.kind == "SUBSCRIPTION", plan.c.status == status)


def _live_of_kind(kind: str) -> Callable[[Any, dt.date, StatusWindows], ColumnElement[bool]]:
    return lambda plan, today, _windows: and_(is_live(plan, today), plan.c.kind == kind)


def _over_limit(line, today: dt.date) -> ColumnElement[bool]:
    return line_value_on(line, "assigned", today) > line.c.total


def _overage(plan, today: dt.date, _windows: StatusWindows) -> ColumnElement[bool]:
    line = LINE.alias("status_line")
    return and_(is_live(plan, today), exists().where(line.c.plan_id == plan.c.id, _over_limit(line, today)))


def _expiring(plan, today: dt.date, windows: StatusWindows) -> ColumnElement[bool]:
    return and_(
        is_live(plan, today),
        or_(plan.c.kind == "TRIAL", plan.c.auto_renew == false()),
        plan.c.ends_on <= today + dt.timedelta(days=windows.expiring_soon_days),
    )


def _overage_began(plan, today: dt.date) -> ColumnElement[dt.date]:
    """The first snapshot of the unbroken run of over-limit snapshots that gives today's value, over the plan's lines.

    A line's value holds from its snapshot's date to the next one, so the run
    starts at the first snapshot after the last one (on or before today) that
    was within the limit.
    """
    line, snap, within = LINE.alias("over_line"), SNAPSHOT.alias("over_snap"), SNAPSHOT.alias("within_snap")
    last_within = (
        select(func.max(within.c.date))
        .where(within.c.line_id == line.c.id, within.c.date <= today, within.c.assigned <= line.c.total)
        .scalar_subquery()
    )
    return (
        select(func.min(snap.c.date))
        .select_from(line.join(snap, snap.c.line_id == line.c.id))
        .where(
            line.c.plan_id == plan.c.id,
            _over_limit(line, today),
            snap.c.date <= today,
            or_(last_within.is_(None), snap.c.date > last_within),
        )
        .scalar_subquery()
    )


def _inactive(customer, today: dt.date, windows: StatusWindows) -> ColumnElement[bool]:
    inactive_before = today - dt.timedelta(days=windows.inactive_days)
    last = customer.c.last_admin_activity_on
    return or_(last.is_(None), last < inactive_before)


def _expired(customer, today: dt.date, windows: StatusWindows) -> ColumnElement[bool]:
    live = lambda p: is_live(p, today)  # noqa: E731
    held = [_on_plan(STATUS_RULES[name], today, windows) for name in HELD_STATUSES]
    return and_(not_(_plan_exists(customer, live)), *[not_(_plan_exists(customer, h)) for h in held])


def _on_plan(rule: StatusRule, today: dt.date, windows: StatusWindows) -> Callable[[Any], ColumnElement[bool]]:
    return lambda plan: rule.holds(plan, today, windows)


def _last_live_day(customer, today: dt.date) -> ColumnElement[dt.date]:
    """The last day a plan of an EXPIRED customer was live, when the data says (else null).

    An ACTIVE plan that ended was live to its endsOn. A CANCELLED or CONVERTED
    plan stopped on a day not recorded: when one had started and its term
    reached past the ACTIVE plans' last end, that day is unknown.
    """
    ended, stopped = PLAN.alias("ended_plan"), PLAN.alias("stopped_plan")
    last_end = (
        select(func.max(ended.c.ends_on))
        .where(ended.c.customer_id == customer.c.id, ended.c.status == "ACTIVE", ended.c.ends_on < today)
        .scalar_subquery()
    )
    unknown = exists().where(
        stopped.c.customer_id == customer.c.id,
        stopped.c.status != "ACTIVE",
        stopped.c.starts_on <= today,
        stopped.c.ends_on > last_end,
    )
    return case((unknown, null()), else_=last_end)


@dataclass(frozen=True)
class StatusRule:
    """How one status of SPEC §2.1 holds, written once for the filter, the field and the details.

    Attributes:
        holds: ``holds(table, today, windows)``: the SQL condition on one plan
            (``per_plan``: the customer has the status when a plan of it meets
            the condition, and those plans explain it) or on the customer.
        per_plan: Whether ``holds`` is a condition on a ``plan`` row (else on a ``customer`` row).
        day: ``day(table, today)``: a date the explanation needs beyond the
            plan's own dates (when an overage began, the last admin activity,
            when the last plan ended), or ``None``.
        since: ``since(row, windows)`` of one :func:`status_detail_rows` row:
            the day the rule began to hold for that plan (or customer), or
            ``None`` when the data does not say. A status's ``since`` is the
            earliest over its plans (each holds from then until today).
        until: Likewise the last day the rule holds if nothing changes
            (a plan's end); a status's ``until`` is the latest over its plans.
    """

    holds: Callable[..., ColumnElement[bool]]
    per_plan: bool = True
    day: Callable[[Any, dt.date], ColumnElement[Any]] | None = None
    since: Callable[[Any, StatusWindows], dt.date | None] = lambda _row, _windows: None
    until: Callable[[Any, StatusWindows], dt.date | None] = lambda _row, _windows: None


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _plan_start(row: Any, _windows: StatusWindows) -> dt.date:
    return row.plan_starts_on


def _plan_end(row: Any, _windows: StatusWindows) -> dt.date:
    return row.plan_ends_on


# In STATUS_ORDER. SUSPENDED and READY_FOR_SETUP are the subscriptions that keep a customer from EXPIRED.
STATUS_RULES: dict[str, StatusRule] = {
    "SUSPENDED": StatusRule(_subscription_with_status("SUSPENDED")),
    # Live from its start, over the limit since its run began.
    "LICENSE_OVERAGE": StatusRule(
        _overage, day=_overage_began, since=lambda r, _w: max(r.plan_starts_on, r.day) if r.day else None
    ),
    # daysUntilEnd ≤ window from endsOn − window on, while live.
    "EXPIRING_SOON": StatusRule(
        _expiring,
        since=lambda r, w: max(r.plan_starts_on, r.plan_ends_on - _days(w.expiring_soon_days)),
        until=_plan_end,
    ),
    "READY_FOR_SETUP": StatusRule(_subscription_with_status("PENDING_SETUP")),
    # More than `window` days after the last activity: from activity + window + 1.
    "NO_RECENT_ACTIVITY": StatusRule(
        _inactive,
        per_plan=False,
        day=lambda customer, _today: customer.c.last_admin_activity_on,
        since=lambda r, w: r.day + _days(w.inactive_days + 1) if r.day else None,
    ),
    "TRIAL": StatusRule(_live_of_kind("TRIAL"), since=_plan_start, until=_plan_end),
    "SUBSCRIPTION": StatusRule(_live_of_kind("SUBSCRIPTION"), since=_plan_start, until=_plan_end),
    # The day after a plan was last live.
    "EXPIRED": StatusRule(
        _expired, per_plan=False, day=_last_live_day, since=lambda r, _w: r.day + _days(1) if r.day else None
    ),
}
HELD_STATUSES = ("SUSPENDED", "READY_FOR_SETUP")
assert tuple(STATUS_RULES) == STATUS_ORDER


@_memo
def status_predicates(customer, today: dt.date, windows: StatusWindows) -> dict[str, ColumnElement[bool]]:
    """Every customer status of SPEC §2.1 as a boolean SQL expression on ``customer``.

    Used by the ``statuses`` field (selected as columns), by the ``statuses``
    filter (in WHERE) and by the facets, so they cannot disagree; a plan-level
    rule becomes an EXISTS over the customer's plans. The returned mapping is
    shared between callers: read it, never change it.
    """
    predicates = {}
    for name, rule in STATUS_RULES.items():
        if rule.per_plan:
            predicates[name] = _plan_exists(customer, _on_plan(rule, today, windows))
        else:
            predicates[name] = rule.holds(customer, today, windows)
    return predicates


def status_detail_rows(
    keys_in: Callable[[Any], ColumnElement[bool]], today: dt.date, windows: StatusWindows
) -> CompoundSelect:
    """One statement: a row per (customer, status, plan that makes it hold) for the customers ``keys_in`` picks.

    Derived from :data:`STATUS_RULES`, so a customer gets a row for a status
    exactly when :func:`status_predicates` says it has that status: one row per
    plan meeting a plan-level rule, one row without a plan for a customer-level
    rule. Columns: ``customer_id``, ``status``, the plan's columns
    (``plan_*``, null without a plan) and ``day`` (:attr:`StatusRule.day`).
    """
    customer = CUSTOMER
    branches = []
    for name, rule in STATUS_RULES.items():
        if rule.per_plan:
            plan = PLAN.alias("detail_plan")
            day = rule.day(plan, today) if rule.day is not None else null()
            branches.append(
                select(
                    plan.c.customer_id.label("customer_id"),
                    literal(name).label("status"),
                    *[plan.c[c].label(f"plan_{c}") for c in PLAN_DETAIL_COLUMNS],
                    type_coerce(day, Date).label("day"),
                ).where(keys_in(plan.c.customer_id), rule.holds(plan, today, windows))
            )
        else:
            day = rule.day(customer, today) if rule.day is not None else null()
            branches.append(
                select(
                    customer.c.id.label("customer_id"),
                    literal(name).label("status"),
                    *[type_coerce(null(), PLAN.c[c].type).label(f"plan_{c}") for c in PLAN_DETAIL_COLUMNS],
                    type_coerce(day, Date).label("day"),
                ).where(keys_in(customer.c.id), rule.holds(customer, today, windows))
            )
    return union_all(*branches)


PLAN_DETAIL_COLUMNS = ("id", "kind", "ext_id", "status", "starts_on", "ends_on", "auto_renew", "started_by_id")


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
    """The customer has a live plan of ``kind`` (SUBSCRIPTION or TRIAL): the TRIAL / SUBSCRIPTION status."""
    return status_predicates(customer, today, StatusWindows())[kind]


# The facets of the customer list (SPEC §3.3), by CustomerFacets field: their values in enum order.
FACET_VALUES: dict[str, tuple[str, ...]] = {
    "statuses": STATUS_ORDER,
    "products": PRODUCTS,
    "managed_by": MANAGED_BY,
    "subscription_types": PLAN_KINDS,
}


def facet_predicates(customer, today: dt.date, windows: StatusWindows) -> dict[str, dict[str, ColumnElement[bool]]]:
    """Each facet value's predicate on ``customer``: the one its filter uses."""
    statuses = status_predicates(customer, today, windows)
    return {
        "statuses": statuses,
        "products": {p: has_live_product(customer, today, [p]) for p in PRODUCTS},
        "managed_by": {m: customer.c.managed_by == m for m in MANAGED_BY},
        "subscription_types": {k: statuses[k] for k in PLAN_KINDS},  # a live plan of a kind is that status
    }


def facet_counts(
    where: Sequence[ColumnElement[bool]],
    chosen: dict[str, Sequence[str]],
    today: dt.date,
    windows: StatusWindows,
    *,
    group: ColumnElement[Any] | None = None,
    source: Any = CUSTOMER,
) -> Select:
    """One statement counting every facet value over the customers of ``source`` matching ``where``.

    ``chosen`` holds the values a filter asks for per facet (any of them); a
    facet's counts apply every other facet's choice, never its own. An inner
    select computes each value's predicate once per customer (a flag column;
    its ``OFFSET 0`` keeps PostgreSQL from folding the EXISTS subqueries back
    into every count: 3.7× slower with three filters at 10,000 customers); the
    outer one counts. Columns: ``group`` (when given, one row per group) and
    then the counts in :data:`FACET_VALUES` order (read them with :func:`facet_record`).
    """
    flag_columns: list[ColumnElement[Any]] = [] if group is None else [group.label("facet_group")]
    labels: dict[int, str] = {}  # by predicate identity: TRIAL and SUBSCRIPTION are a status and a type
    flag_of: dict[tuple[str, str], str] = {}
    for name, predicates in facet_predicates(CUSTOMER, today, windows).items():
        for value, predicate in predicates.items():
            if id(predicate) not in labels:
                labels[id(predicate)] = f"flag{len(labels)}"
                flag_columns.append(predicate.label(labels[id(predicate)]))
            flag_of[(name, value)] = labels[id(predicate)]
    flags = select(*flag_columns).select_from(source).where(*where).offset(0).subquery("flags")
    selected = {
        name: or_(*[flags.c[flag_of[(name, v)]] for v in dict.fromkeys(values)]) if values else false()
        for name, values in chosen.items()
    }
    counts = []
    for name, values in FACET_VALUES.items():
        others = [clause for other, clause in selected.items() if other != name]
        counts += [func.count(case((and_(*others, flags.c[flag_of[(name, v)]]), 1))) for v in values]
    if group is None:
        return select(*counts)
    return select(flags.c.facet_group, *counts).group_by(flags.c.facet_group)


def facet_record(counts: Iterable[int]) -> dict[str, list[tuple[str, int]]]:
    """``{facet: [(value, count), …]}`` from the counts of a :func:`facet_counts` row (all zeros for none)."""
    row = iter(counts)
    return {name: [(v, next(row, 0)) for v in values] for name, values in FACET_VALUES.items()}


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


def trial_id(number: int) -> str:
    """The id of a partner's ``number``-th trial, one format for seeded and API-made trials: ``Trial-000123``.

    Six digits keep ids of the same length sorting in number order; past
    999,999 the number simply grows a digit.
    """
    return f"Trial-{number:06d}"
