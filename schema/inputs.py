"""Input objects of the API (SPEC §3), and their plain form for the resolvers."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import strawberry

from schema.enums import (
    CustomerOrderField,
    CustomerStatus,
    ManagedBy,
    OrderDirection,
    PartnerAdminRole,
    PlanType,
    Product,
)


@strawberry.input(description="Filters of the customer list. Fields AND together; list values OR together.")
class CustomerFilter:
    search: str | None = strawberry.field(
        default=None,
        description=(
            'Substring of the name, case- and accent-insensitive ("čač", "cac" and "CAČ" find "Čačak", "istanbul"'
            ' finds "İstanbul", "strasse" finds "Straße": ß is ss); or an exact subscriptionId or trialId of the'
            " customer. At most 200 characters."
        ),
    )
    managed_by: ManagedBy | None = strawberry.field(default=None, description="Who manages the customer.")
    products: list[Product] | None = strawberry.field(
        default=None, description="Has a live plan with a line for any of these products."
    )
    statuses: list[CustomerStatus] | None = strawberry.field(
        default=None, description="Has any of these statuses (same rules as `Customer.statuses`)."
    )
    subscription_type: PlanType | None = strawberry.field(default=None, description="Has a live plan of this type.")
    assigned_to: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of a partner admin assigned to the customer."
    )


@strawberry.input(description="Order of the customer list; ties are broken by id in the same direction.")
class CustomerOrder:
    field: CustomerOrderField = strawberry.field(default=CustomerOrderField.NAME, description="Field to order by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")


@strawberry.input(description="Filters of the partner admin list; fields AND together.")
class PartnerAdminFilter:
    roles: list[PartnerAdminRole] | None = strawberry.field(default=None, description="Has any of these roles.")
    search: str | None = strawberry.field(
        default=None, description="Substring of the email or display name, case-insensitive."
    )


def plain(value: Any) -> Any:
    """An input value as plain Python: enums as their values, input objects as dicts, recursively.

    Resolvers take plain values (they know nothing of GraphQL types); every
    input object is handed down through this one conversion.
    """
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
