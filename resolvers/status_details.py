"""The sentences that explain a customer's statuses (``Customer.statusDetails``, SPEC §3.3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from db.rules import StatusWindows
from loaders.status_details import PlanRecord, StatusDetailRecord


def _plan(plan: PlanRecord) -> str:
    return f"{'Trial' if plan.kind == 'TRIAL' else 'Subscription'} {plan.ext_id}"


def _in_days(day: dt.date, today: dt.date) -> str:
    days = (day - today).days
    return "today" if days == 0 else f"in {days} day{'' if days == 1 else 's'}"


def _days_ago(day: dt.date, today: dt.date) -> str:
    days = (today - day).days
    return f"{days} day{'' if days == 1 else 's'} ago"


def _expiring(plan: PlanRecord, today: dt.date, windows: StatusWindows) -> str:
    renewal = "" if plan.kind == "TRIAL" else ", without auto-renewal"
    return (
        f"{_plan(plan)} ends on {plan.ends_on.isoformat()}, {_in_days(plan.ends_on, today)}{renewal} "
        f"(within the {windows.expiring_soon_days}-day window)."
    )


def _live(plan: PlanRecord, today: dt.date, _windows: StatusWindows) -> str:
    return (
        f"{_plan(plan)} is active from {plan.starts_on.isoformat()} to {plan.ends_on.isoformat()} "
        f"(ends {_in_days(plan.ends_on, today)})."
    )


# One sentence per plan behind a plan-level status.
PLAN_SENTENCES: dict[str, Callable[[PlanRecord, dt.date, StatusWindows], str]] = {
    "SUSPENDED": lambda p, _t, _w: f"{_plan(p)} is suspended.",
    "LICENSE_OVERAGE": lambda p, _t, _w: f"{_plan(p)} is active and has more licences assigned than bought.",
    "EXPIRING_SOON": _expiring,
    "READY_FOR_SETUP": lambda p, _t, _w: f"{_plan(p)} is waiting for its order setup.",
    "TRIAL": _live,
    "SUBSCRIPTION": _live,
}


def _inactive(detail: StatusDetailRecord, today: dt.date, windows: StatusWindows) -> str:
    if detail.day is None:
        return "No admin of the customer has ever signed in to its admin portal."
    return (
        f"No admin of the customer has signed in to its admin portal since {detail.day.isoformat()}, "
        f"{_days_ago(detail.day, today)} (more than {windows.inactive_days} days)."
    )


def _expired(detail: StatusDetailRecord, today: dt.date, _windows: StatusWindows) -> str:
    sentence = "No plan is active today and no subscription is suspended or waiting for setup"
    if detail.day is None:
        return sentence + "."
    return f"{sentence}; the last plan ended on {detail.day.isoformat()}, {_days_ago(detail.day, today)}."


CUSTOMER_SENTENCES: dict[str, Callable[[StatusDetailRecord, dt.date, StatusWindows], str]] = {
    "NO_RECENT_ACTIVITY": _inactive,
    "EXPIRED": _expired,
}


def status_reason(detail: StatusDetailRecord, today: dt.date, windows: StatusWindows) -> str:
    """A sentence a person can read saying why the customer has ``detail.status``, naming plans and dates."""
    customer_level = CUSTOMER_SENTENCES.get(detail.status)
    if customer_level is not None:
        return customer_level(detail, today, windows)
    sentence = PLAN_SENTENCES[detail.status]
    return " ".join(sentence(plan, today, windows) for plan in detail.plans)
