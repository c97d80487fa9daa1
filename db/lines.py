"""The live licence lines every analytics number is made of, and the partner-wide median, as SQL.

Moved below the resolvers so that the stored aggregates (:mod:`db.analytics_facts`),
which imports and mutations maintain from this layer, are built from the very
same statement that the compute-on-read analytics use. The domain rules (live
plan, a line's values on a day, day counts) come from :mod:`db.rules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Float, and_, case, cast, exists, func, literal, select

from db.access import Viewer, visible_customers
from db.rules import days_between, is_live, line_value_on, line_values_on
from db.tables import CUSTOMER, LINE, PLAN, SNAPSHOT

KPI_PRODUCTS = ("MEETINGS", "CALLING")

Where = Callable[[Any, Any], Sequence[Any]]


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
        # partner-wide median and the stored facts need neither.
        source = source.join(customer, customer.c.id == plan.c.customer_id)
        conditions.append(visible_customers(customer, viewer))
    if where is not None:
        conditions.extend(where(plan, line))
    return select(*columns).select_from(source).where(*conditions).subquery(name)


def rate(numerator: Any, base: Any) -> Any:
    """``numerator / total`` as a float, NULL when total is 0."""
    return cast(numerator, Float) / func.nullif(base.c.total, 0)


def eligible(as_of: dt.date, min_days: int) -> Where:
    """Low-assignment eligibility: ``total > 0`` and ``daysSinceAdded >= min_days``."""
    added_by = as_of - dt.timedelta(days=min_days)
    return lambda plan, line: [line.c.total > 0, plan.c.starts_on <= added_by]


def median_of(base: Any, product: str) -> Any:
    """Scalar subquery: median of ``assigned / total`` over the rows of ``base`` (eligible lines).

    Mean of the two middle values for an even count, NULL when ``base`` is empty.
    """
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


def median_assignment_rate(*, partner_id: int, product: str, as_of: dt.date, min_days: int) -> Any:
    """Scalar subquery: median of ``assigned / total`` over the partner's eligible lines, computed on read.

    The whole partner, whatever the caller may see.
    """
    base = live_lines(
        partner_id=partner_id, viewer=None, product=product, d=as_of, where=eligible(as_of, min_days), name="median"
    )
    return median_of(base, product)
