"""Facets of the customer list (SPEC §3.3): how many customers each filter value would leave."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import strawberry

from schema.enums import CustomerStatus, ManagedBy, PlanType, Product

T = TypeVar("T")


@strawberry.type(description="How many customers of the list have one value of a facet.")
class FacetCount(Generic[T]):
    value: T = strawberry.field(description="The value, as the filter takes it.")
    count: int = strawberry.field(
        description="Customers the caller may see that have this value and match every other filter of the list."
    )


OTHER_FILTERS = (
    "Counts the customers the caller may see that match every filter of the list but this facet's own "
    "(which it ignores, so that its other values show what choosing them would give); every value in enum "
    "order, zero counts included."
)


@strawberry.type(
    description=(
        "Counts beside the list's filters, all from one SQL statement. Each facet ignores its own filter and "
        "applies every other one (search and assignedTo included)."
    )
)
class CustomerFacets:
    statuses: list[FacetCount[CustomerStatus]] = strawberry.field(
        description=f"Customers with each status (`filter.statuses`). {OTHER_FILTERS}"
    )
    products: list[FacetCount[Product]] = strawberry.field(
        description=f"Customers with a live plan with a line for each product (`filter.products`). {OTHER_FILTERS}"
    )
    managed_by: list[FacetCount[ManagedBy]] = strawberry.field(
        description=f"Customers by who manages them (`filter.managedBy`). {OTHER_FILTERS}"
    )
    subscription_types: list[FacetCount[PlanType]] = strawberry.field(
        description=f"Customers with a live plan of each type (`filter.subscriptionType`). {OTHER_FILTERS}"
    )

    @classmethod
    def from_record(cls, record: dict[str, list[tuple[str, int]]]) -> CustomerFacets:
        """Facets from :func:`resolvers.customers.customer_facets`' ``{facet: [(value, count), …]}``."""

        def counts(name: str, enum: Any) -> list[Any]:
            return [FacetCount(value=enum(value), count=count) for value, count in record[name]]

        return cls(
            statuses=counts("statuses", CustomerStatus),
            products=counts("products", Product),
            managed_by=counts("managed_by", ManagedBy),
            subscription_types=counts("subscription_types", PlanType),
        )
