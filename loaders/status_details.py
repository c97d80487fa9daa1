"""The records of ``Customer.statusDetails``, made from the rows of :func:`db.rules.status_detail_rows`."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from db.rules import STATUS_ORDER, STATUS_RULES, StatusWindows


class PlanRecord(NamedTuple):
    """A ``plan`` record with the columns the Subscription and Trial types read."""

    id: int
    kind: str
    ext_id: str
    status: str
    starts_on: dt.date
    ends_on: dt.date
    auto_renew: bool
    started_by_id: int | None
    customer_id: int


class StatusDetailRecord(NamedTuple):
    """Why a customer has one status.

    ``plans`` are the plans that meet the status's rule, newest first (by
    startsOn, then id); ``since``/``until`` as :class:`db.rules.StatusRule`
    defines them; ``day`` is a customer-level rule's own date (the last admin
    activity, the end of the last plan), ``None`` for plan-level rules.
    """

    status: str
    since: dt.date | None
    until: dt.date | None
    plans: list[PlanRecord]
    day: dt.date | None


def _plan(row: Any) -> PlanRecord:
    """The plan of a detail row (its ``plan_*`` columns, :data:`db.rules.PLAN_DETAIL_COLUMNS`)."""
    return PlanRecord(
        id=row.plan_id,
        kind=row.plan_kind,
        ext_id=row.plan_ext_id,
        status=row.plan_status,
        starts_on=row.plan_starts_on,
        ends_on=row.plan_ends_on,
        auto_renew=row.plan_auto_renew,
        started_by_id=row.plan_started_by_id,
        customer_id=row.customer_id,
    )


def status_details(by_status: dict[str, list[Any]], windows: StatusWindows) -> list[StatusDetailRecord]:
    """One customer's details in status order from its rows grouped by status."""
    details = []
    for name in STATUS_ORDER:
        found = by_status.get(name)
        if not found:
            continue
        rule = STATUS_RULES[name]
        since = [d for d in (rule.since(r, windows) for r in found) if d is not None]
        until = [d for d in (rule.until(r, windows) for r in found) if d is not None]
        plans = [_plan(r) for r in found if r.plan_id is not None]
        plans.sort(key=lambda p: (p.starts_on, p.id), reverse=True)
        details.append(
            StatusDetailRecord(
                status=name,
                since=min(since) if since else None,
                until=max(until) if until else None,
                plans=plans,
                day=None if rule.per_plan else found[0].day,
            )
        )
    return details
