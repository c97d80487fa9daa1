"""Object types of the API (SPEC §3).

Scalar fields are plain attributes filled in by loaders (cheap for
strawberry to serialise); relations are small async resolvers that ask the
request's loaders, so a page costs a fixed number of SQL statements.
Types hold no SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from schema.enums import (
    CustomerStatus,
    InvoiceStatus,
    ManagedBy,
    OrderAction,
    PartnerAdminRole,
    Product,
    SubscriptionStatus,
    TrialStatus,
)
from schema.relations import Relation

if TYPE_CHECKING:  # pragma: no cover
    from resolvers.context import Context

    InfoT = Info[Context, None]
else:
    InfoT = Info

# Relations: each field's loader, key and part of the loaded value, declared once (schema/relations.py).
CUSTOMER_STATUSES = Relation("statuses_by_customer", key="db_id")
CUSTOMER_PRODUCTS = Relation("products_by_customer", key="db_id")
CUSTOMER_SUBSCRIPTIONS = Relation("plans_by_customer", key="db_id", pick=0)
CUSTOMER_TRIALS = Relation("plans_by_customer", key="db_id", pick=1)
CUSTOMER_ADMINS = Relation("admins_by_customer", key="db_id")
PLAN_CUSTOMER = Relation("customer_by_id", key="customer_db_id")
PLAN_LICENSES = Relation("lines_by_plan", key="db_id")
INVOICES = Relation("invoices_by_plan", key="db_id")
ORDERS = Relation("orders_by_plan", key="db_id")
TRIAL_STARTED_BY = Relation("admin_by_id", key="started_by_db_id")

HISTORY_WEEKS_DESCRIPTION = "Number of weekly points, 1 to 52; the newest point is today."


@strawberry.interface(description="An object with a global ID that `Query.node` resolves (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID of the object.")


@strawberry.type(description="Paging state of a connection (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow the last edge.")
    has_previous_page: bool = strawberry.field(description="Whether items precede the first edge.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge; null when empty.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge; null when empty.")


@strawberry.type(description="Licence numbers on one day.")
class LicensePoint:
    date: dt.date = strawberry.field(description="The day the values hold for.")
    total: int = strawberry.field(description="Licences bought.")
    assigned: int = strawberry.field(description="Licences assigned to users (latest snapshot on or before the day).")
    used: int = strawberry.field(description="Assigned licences used in the 7 days ending on the day.")


@strawberry.type(
    description=(
        "Licences of one product on a plan, with their use as of today: the latest usage snapshot "
        "dated on or before today, or zeros when there is none."
    )
)
class LicenseLine:
    product: Product = strawberry.field(description="The product.")
    total: int = strawberry.field(description="Licences bought.")
    assigned: int = strawberry.field(description="Licences assigned to users.")
    used: int = strawberry.field(description="Assigned licences used in the last 7 days.")
    used_last90_days: int = strawberry.field(
        name="usedLast90Days", description="Assigned licences used in the last 90 days."
    )
    available: int = strawberry.field(description="max(total − assigned, 0).")
    overage: int = strawberry.field(description="max(assigned − total, 0).")
    assignment_rate: float | None = strawberry.field(
        description="assigned / total as a fraction (0.5 = 50 %); null when total is 0."
    )
    usage_rate: float | None = strawberry.field(description="used / total as a fraction; null when total is 0.")
    line_id: strawberry.Private[int]

    @strawberry.field(
        description=(
            "Weekly values of this line: one point for each of today, today−7, …, oldest first, "
            "each with the values of the latest snapshot on or before its day."
        )
    )
    async def history(
        self,
        info: InfoT,
        weeks: Annotated[int, strawberry.argument(description=HISTORY_WEEKS_DESCRIPTION)] = 12,
    ) -> list[LicensePoint]:
        from resolvers.pagination import bad_input

        if not 1 <= weeks <= 52:
            raise bad_input(f"`weeks` must be between 1 and 52; got {weeks}.")
        return await info.context.loaders.history_by_line.load((self.line_id, weeks))


@strawberry.type(description="An invoice of a subscription.")
class Invoice:
    number: str = strawberry.field(description="Invoice number, unique per partner.")
    issued_on: dt.date = strawberry.field(description="Day the invoice was issued.")
    due_on: dt.date = strawberry.field(description="Day payment is due.")
    amount: Decimal = strawberry.field(description="Amount with two decimals, in `currency`.")
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    status: InvoiceStatus = strawberry.field(description="Payment status.")


@strawberry.type(description="An order in a subscription's history.")
class Order:
    number: str = strawberry.field(description="Order number, unique per partner.")
    placed_on: dt.date = strawberry.field(description="Day the order was placed.")
    action: OrderAction = strawberry.field(description="What the order did.")
    product: Product = strawberry.field(description="Product ordered.")
    quantity: int = strawberry.field(description="Licences the order concerned.")


@strawberry.type(description="A paid subscription of a customer.")
class Subscription(Node):
    subscription_id: str = strawberry.field(
        description="External subscription id (e.g. Sub-100234), unique per partner."
    )
    status: SubscriptionStatus = strawberry.field(description="Status of the subscription.")
    starts_on: dt.date = strawberry.field(description="First day of the subscription.")
    ends_on: dt.date = strawberry.field(description="Last day of the current term.")
    auto_renew: bool = strawberry.field(description="Whether the term renews automatically.")
    renewal_date: dt.date | None = strawberry.field(description="endsOn when autoRenew, else null.")
    days_remaining: int = strawberry.field(description="endsOn − today in days; negative once ended.")
    db_id: strawberry.Private[int]
    customer_db_id: strawberry.Private[int]

    @strawberry.field(description="The customer the subscription belongs to.", metadata=PLAN_CUSTOMER.metadata)
    async def customer(self, info: InfoT) -> Customer:
        return await PLAN_CUSTOMER.resolve(info.context, self)

    @strawberry.field(description="Licence lines, in Product order.", metadata=PLAN_LICENSES.metadata)
    async def licenses(self, info: InfoT) -> list[LicenseLine]:
        return await PLAN_LICENSES.resolve(info.context, self)

    @strawberry.field(description="Invoices, newest first (by issuedOn, ties by number).", metadata=INVOICES.metadata)
    async def invoices(self, info: InfoT) -> list[Invoice]:
        return await INVOICES.resolve(info.context, self)

    @strawberry.field(
        description="Order history, newest first (by placedOn, ties by number).", metadata=ORDERS.metadata
    )
    async def orders(self, info: InfoT) -> list[Order]:
        return await ORDERS.resolve(info.context, self)


@strawberry.type(description="A trial of a customer.")
class Trial(Node):
    trial_id: str = strawberry.field(description="External trial id, unique per partner.")
    status: TrialStatus = strawberry.field(description="Status of the trial.")
    starts_on: dt.date = strawberry.field(description="First day of the trial.")
    ends_on: dt.date = strawberry.field(description="Last day of the trial.")
    days_remaining: int = strawberry.field(description="endsOn − today in days; negative once ended.")
    db_id: strawberry.Private[int]
    customer_db_id: strawberry.Private[int]
    started_by_db_id: strawberry.Private[int | None]

    @strawberry.field(description="The customer the trial belongs to.", metadata=PLAN_CUSTOMER.metadata)
    async def customer(self, info: InfoT) -> Customer:
        return await PLAN_CUSTOMER.resolve(info.context, self)

    @strawberry.field(description="Licence lines, in Product order.", metadata=PLAN_LICENSES.metadata)
    async def licenses(self, info: InfoT) -> list[LicenseLine]:
        return await PLAN_LICENSES.resolve(info.context, self)

    @strawberry.field(
        description="The partner admin who started the trial; null if unknown or since removed.",
        metadata=TRIAL_STARTED_BY.metadata,
    )
    async def started_by(self, info: InfoT) -> PartnerAdmin | None:
        return await TRIAL_STARTED_BY.resolve(info.context, self)


@strawberry.type(description="A customer organisation managed by the partner.")
class Customer(Node):
    name: str = strawberry.field(description="Name, unique per partner (case-insensitively).")
    managed_by: ManagedBy = strawberry.field(description="Who manages the organisation.")
    created_on: dt.date = strawberry.field(description="Day the customer was added.")
    last_admin_activity_on: dt.date | None = strawberry.field(
        description="Last day an admin of the customer signed in to its own admin portal; null if never."
    )
    launch_url: str = strawberry.field(description="URL that opens the customer's own admin portal.")
    db_id: strawberry.Private[int]

    @strawberry.field(
        description="Every status whose rule holds as of today, in CustomerStatus order.",
        metadata=CUSTOMER_STATUSES.metadata,
    )
    async def statuses(self, info: InfoT) -> list[CustomerStatus]:
        return await CUSTOMER_STATUSES.resolve(info.context, self)

    @strawberry.field(
        description="Products of the lines of the customer's live plans, in Product order.",
        metadata=CUSTOMER_PRODUCTS.metadata,
    )
    async def products(self, info: InfoT) -> list[Product]:
        return await CUSTOMER_PRODUCTS.resolve(info.context, self)

    @strawberry.field(
        description="Every subscription, whatever its status, newest first (by startsOn, ties by id).",
        metadata=CUSTOMER_SUBSCRIPTIONS.metadata,
    )
    async def subscriptions(self, info: InfoT) -> list[Subscription]:
        return await CUSTOMER_SUBSCRIPTIONS.resolve(info.context, self)

    @strawberry.field(
        description="Every trial, whatever its status, newest first (by startsOn, ties by id).",
        metadata=CUSTOMER_TRIALS.metadata,
    )
    async def trials(self, info: InfoT) -> list[Trial]:
        return await CUSTOMER_TRIALS.resolve(info.context, self)

    @strawberry.field(
        description="The partner admins assigned to this customer, by email.", metadata=CUSTOMER_ADMINS.metadata
    )
    async def partner_admins(self, info: InfoT) -> list[PartnerAdmin]:
        return await CUSTOMER_ADMINS.resolve(info.context, self)


@strawberry.type(description="An edge of a customer connection.")
class CustomerEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this edge, for `after`/`before`.")
    node: Customer = strawberry.field(description="The customer.")


@strawberry.type(description="A page of customers (Relay connection).")
class CustomerConnection:
    edges: list[CustomerEdge] = strawberry.field(description="The customers of this page with their cursors.")
    nodes: list[Customer] = strawberry.field(description="The customers of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of customers matching the filter that the caller may see, on all pages.")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type(description="A person of the partner with one role.")
class PartnerAdmin(Node):
    email: str = strawberry.field(description="Email address (lower case), unique.")
    display_name: str = strawberry.field(description="Name shown in the portal.")
    role: PartnerAdminRole = strawberry.field(description="Role; decides what the admin sees and may do.")
    has_access_to_all_customers: bool = strawberry.field(
        description="True for partner-wide roles (PARTNER_FULL_ADMIN, PARTNER_READ_ONLY_ADMIN); sales roles see assigned customers only."
    )
    db_id: strawberry.Private[int]

    @strawberry.field(
        description=("Customers assigned to this admin that the caller may see, by name. `first` 1–100, default 25.")
    )
    async def assigned_customers(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 25).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> CustomerConnection:
        from resolvers.customers import assigned_customers

        return await assigned_customers(info.context, admin_db_id=self.db_id, first=first, after=after)


@strawberry.type(description="An edge of a partner admin connection.")
class PartnerAdminEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this edge.")
    node: PartnerAdmin = strawberry.field(description="The partner admin.")


@strawberry.type(description="A page of partner admins (Relay connection), by email.")
class PartnerAdminConnection:
    edges: list[PartnerAdminEdge] = strawberry.field(description="The admins of this page with their cursors.")
    nodes: list[PartnerAdmin] = strawberry.field(description="The admins of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of admins matching the filter, on all pages.")
    async def total_count(self) -> int:
        return await self.count()
