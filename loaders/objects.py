"""Turn database rows into API objects: the one place rows become types."""

from __future__ import annotations

import datetime as dt
import functools
from collections import namedtuple
from typing import Any

from resolvers.permissions import ALL_CUSTOMER_ROLES
from schema.ids import to_global_id
from schema.types import Customer, Invoice, LicenseLine, Order, PartnerAdmin, Subscription, Trial


@functools.lru_cache(maxsize=128)
def _record_type(keys: tuple[str, ...]) -> Any:
    return namedtuple("Record", keys, rename=True)


def records(result: Any) -> list[Any]:
    """The rows of a SQLAlchemy result as named tuples.

    Reading a column by name from a SQLAlchemy ``Row`` costs ~0.4 µs (measured),
    from a named tuple ~0.03 µs; a list page reads ~3,000 of them.
    """
    make = _record_type(tuple(result.keys()))
    return [make(*row) for row in result.all()]


CUSTOMER_COLUMNS = ("id", "name", "managed_by", "created_on", "last_admin_activity_on")


def customer_from_row(row: Any, *, launch_base_url: str) -> Customer:
    gid = to_global_id("Customer", row.id)
    return Customer(
        id=gid,
        name=row.name,
        managed_by=row.managed_by,
        created_on=row.created_on,
        last_admin_activity_on=row.last_admin_activity_on,
        launch_url=f"{launch_base_url}/launch/{gid}",
        db_id=row.id,
    )


def admin_from_row(row: Any) -> PartnerAdmin:
    return PartnerAdmin(
        id=to_global_id("PartnerAdmin", row.id),
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        has_access_to_all_customers=row.role in ALL_CUSTOMER_ROLES,
        db_id=row.id,
    )


def plan_from_row(row: Any, *, today: dt.date) -> Subscription | Trial:
    days_remaining = (row.ends_on - today).days
    if row.kind == "SUBSCRIPTION":
        return Subscription(
            id=to_global_id("Subscription", row.id),
            subscription_id=row.ext_id,
            status=row.status,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            auto_renew=row.auto_renew,
            renewal_date=row.ends_on if row.auto_renew else None,
            days_remaining=days_remaining,
            db_id=row.id,
            customer_db_id=row.customer_id,
        )
    return Trial(
        id=to_global_id("Trial", row.id),
        trial_id=row.ext_id,
        status=row.status,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        days_remaining=days_remaining,
        db_id=row.id,
        customer_db_id=row.customer_id,
        started_by_db_id=row.started_by_id,
    )


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def line_from_row(row: Any) -> LicenseLine:
    return LicenseLine(
        product=row.product,
        total=row.total,
        assigned=row.assigned,
        used=row.used,
        used_last90_days=row.used90,
        available=max(row.total - row.assigned, 0),
        overage=max(row.assigned - row.total, 0),
        assignment_rate=_rate(row.assigned, row.total),
        usage_rate=_rate(row.used, row.total),
        line_id=row.id,
    )


def invoice_from_row(row: Any) -> Invoice:
    return Invoice(
        number=row.number,
        issued_on=row.issued_on,
        due_on=row.due_on,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
    )


def order_from_row(row: Any) -> Order:
    return Order(
        number=row.number,
        placed_on=row.placed_on,
        action=row.action,
        product=row.product,
        quantity=row.quantity,
    )
