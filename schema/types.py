"""Object types of the API (SPEC §3), and how each is built from a record.

Scalar fields are plain attributes filled in from the records that loaders
and resolvers answer (cheap for strawberry to serialise): each type's
``from_record`` is the one place its record becomes the object. Relations are
declared once (:class:`schema.relations.Relation`) and ask the request's
loaders, so a page costs a fixed number of SQL statements. Types hold no SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.access import ALL_CUSTOMER_ROLES
from db.rules import line_numbers
from resolvers import customers as customer_resolvers
from resolvers.ids import to_global_id
from resolvers.pagination import bad_input
from resolvers.status_details import status_reason
from schema.connection import Connection, connection
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
from schema.facets import CustomerFacets
from schema.relations import Relation

if TYPE_CHECKING:  # pragma: no cover
    from resolvers.context import Context

    InfoT = Info[Context, None]
else:
    InfoT = Info


# Relations: each field's loader, key, part of the loaded value and builder, declared once (schema/relations.py).
CUSTOMER_STATUSES = Relation("statuses_by_customer", key="db_id", build=None)
CUSTOMER_PRODUCTS = Relation("products_by_customer", key="db_id", build=None)
CUSTOMER_STATUS_DETAILS = Relation(
    "status_details_by_customer", key="db_id", many=True, build=lambda r, c: StatusDetail.from_record(r, c)
)
CUSTOMER_SUBSCRIPTIONS = Relation(
    "plans_by_customer", key="db_id", pick=0, many=True, build=lambda r, c: Subscription.from_record(r, c)
)
CUSTOMER_TRIALS = Relation(
    "plans_by_customer", key="db_id", pick=1, many=True, build=lambda r, c: Trial.from_record(r, c)
)
CUSTOMER_ADMINS = Relation(
    "admins_by_customer", key="db_id", many=True, build=lambda r, _c: PartnerAdmin.from_record(r)
)
PLAN_CUSTOMER = Relation("customer_by_id", key="customer_db_id", build=lambda r, c: Customer.from_record(r, c))
PLAN_LICENSES = Relation("lines_by_plan", key="db_id", many=True, build=lambda r, _c: LicenseLine.from_record(r))
INVOICES = Relation("invoices_by_plan", key="db_id", many=True, build=lambda r, _c: Invoice.from_record(r))
ORDERS = Relation("orders_by_plan", key="db_id", many=True, build=lambda r, _c: Order.from_record(r))
TRIAL_STARTED_BY = Relation("admin_by_id", key="started_by_db_id", build=lambda r, _c: PartnerAdmin.from_record(r))

HISTORY_WEEKS_DESCRIPTION = "Number of weekly points, 1 to 52; the newest point is today."


@strawberry.interface(description="An object with a global ID that `Query.node` resolves (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID of the object.")


@strawberry.type(description="Licence numbers on one day.")
class LicensePoint:
    date: dt.date = strawberry.field(description="The day the values hold for.")
    total: int = strawberry.field(description="Licences bought.")
    assigned: int = strawberry.field(description="Licences assigned to users (latest snapshot on or before the day).")
    used: int = strawberry.field(description="Assigned licences used in the 7 days ending on the day.")

    @classmethod
    def from_record(cls, record: Any) -> LicensePoint:
        """A point from a record with ``date``, ``total``, ``assigned`` and ``used``."""
        return cls(date=record.date, total=record.total, assigned=record.assigned, used=record.used)


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

    @classmethod
    def from_record(cls, record: Any) -> LicenseLine:
        """A line from a licence-line record with its values as of today."""
        available, overage, assignment_rate, usage_rate = line_numbers(
            total=record.total, assigned=record.assigned, used=record.used
        )
        return cls(
            product=record.product,
            total=record.total,
            assigned=record.assigned,
            used=record.used,
            used_last90_days=record.used90,
            available=available,
            overage=overage,
            assignment_rate=assignment_rate,
            usage_rate=usage_rate,
            line_id=record.id,
        )

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
    ) -> list[LicensePoint] | None:
        if not 1 <= weeks <= 52:
            raise bad_input(f"`weeks` must be between 1 and 52; got {weeks}.")
        points = await info.context.loaders.history_by_line.load((self.line_id, weeks))
        return [LicensePoint.from_record(p) for p in points]


@strawberry.type(description="An invoice of a subscription.")
class Invoice:
    number: str = strawberry.field(description="Invoice number, unique per partner.")
    issued_on: dt.date = strawberry.field(description="Day the invoice was issued.")
    due_on: dt.date = strawberry.field(description="Day payment is due.")
    amount: Decimal = strawberry.field(description="Amount with two decimals, in `currency`.")
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    status: InvoiceStatus = strawberry.field(description="Payment status.")

    @classmethod
    def from_record(cls, record: Any) -> Invoice:
        """An invoice from an ``invoice`` row."""
        return cls(
            number=record.number,
            issued_on=record.issued_on,
            due_on=record.due_on,
            amount=record.amount,
            currency=record.currency,
            status=record.status,
        )


@strawberry.type(description="An order in a subscription's history.")
class Order:
    number: str = strawberry.field(description="Order number, unique per partner.")
    placed_on: dt.date = strawberry.field(description="Day the order was placed.")
    action: OrderAction = strawberry.field(description="What the order did.")
    product: Product = strawberry.field(description="Product ordered.")
    quantity: int = strawberry.field(description="Licences the order concerned.")

    @classmethod
    def from_record(cls, record: Any) -> Order:
        """An order from a ``purchase_order`` row."""
        return cls(
            number=record.number,
            placed_on=record.placed_on,
            action=record.action,
            product=record.product,
            quantity=record.quantity,
        )


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

    @classmethod
    def from_record(cls, record: Any, context: Context) -> Subscription:
        """A subscription from a ``plan`` record of kind SUBSCRIPTION."""
        return cls(
            id=strawberry.ID(to_global_id("Subscription", record.id)),
            subscription_id=record.ext_id,
            status=record.status,
            starts_on=record.starts_on,
            ends_on=record.ends_on,
            auto_renew=record.auto_renew,
            renewal_date=record.ends_on if record.auto_renew else None,
            days_remaining=(record.ends_on - context.today).days,
            db_id=record.id,
            customer_db_id=record.customer_id,
        )

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

    @classmethod
    def from_record(cls, record: Any, context: Context) -> Trial:
        """A trial from a ``plan`` record of kind TRIAL."""
        return cls(
            id=strawberry.ID(to_global_id("Trial", record.id)),
            trial_id=record.ext_id,
            status=record.status,
            starts_on=record.starts_on,
            ends_on=record.ends_on,
            days_remaining=(record.ends_on - context.today).days,
            db_id=record.id,
            customer_db_id=record.customer_id,
            started_by_db_id=record.started_by_id,
        )

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


Plan = Annotated[
    Subscription | Trial, strawberry.union("Plan", description="A plan of a customer: a subscription or a trial.")
]


@strawberry.type(
    description=(
        "Why a customer has one of its statuses (SPEC §2.1), from the same rule that decides the status: "
        "a sentence, the plans behind it and the days the rule holds from and to."
    )
)
class StatusDetail:
    status: CustomerStatus = strawberry.field(description="The status explained.")
    reason: str = strawberry.field(
        description="A sentence a person can read saying why the status holds today, naming the plans and dates."
    )
    since: dt.date | None = strawberry.field(
        description=(
            "The day the rule began to hold, when the data says (else null); the earliest over `plans`. "
            "LICENSE_OVERAGE: the first usage snapshot over the line's (current) total in the unbroken run that "
            "gives today's value (not before the plan starts). EXPIRING_SOON: endsOn minus the window (not before the plan starts). "
            "TRIAL, SUBSCRIPTION: the plan's startsOn. NO_RECENT_ACTIVITY: lastAdminActivityOn plus the window "
            "plus one day (null when no admin was ever active). EXPIRED: the day after a plan was last live: "
            "the latest endsOn of the ACTIVE plans that ended (null without one, or when a CANCELLED or CONVERTED "
            "plan, stopped on a day not recorded, may have been live later). SUSPENDED, READY_FOR_SETUP: null (the day a status changed is not recorded)."
        )
    )
    until: dt.date | None = strawberry.field(
        description=(
            "The last day the rule holds if nothing changes, when the data says (else null); the latest over "
            "`plans`. EXPIRING_SOON, TRIAL, SUBSCRIPTION: the plan's endsOn (end of the current term). "
            "Other statuses: null (they last until something changes)."
        )
    )
    plans: list[Plan] = strawberry.field(
        description=(
            "The subscriptions and trials that make the status hold, newest first (by startsOn, ties by id); "
            "empty for NO_RECENT_ACTIVITY and EXPIRED, which no plan makes hold."
        )
    )

    @classmethod
    def from_record(cls, record: Any, context: Context) -> StatusDetail:
        """A detail from a :class:`loaders.status_details.StatusDetailRecord`."""
        return cls(
            status=record.status,
            reason=status_reason(record, context.today, context.windows),
            since=record.since,
            until=record.until,
            plans=[
                (Trial if plan.kind == "TRIAL" else Subscription).from_record(plan, context) for plan in record.plans
            ],
        )


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

    @classmethod
    def from_record(cls, record: Any, context: Context) -> Customer:
        """A customer from a ``customer`` record (id, name, managed_by, created_on, last_admin_activity_on)."""
        gid = strawberry.ID(to_global_id("Customer", record.id))
        return cls(
            id=gid,
            name=record.name,
            managed_by=record.managed_by,
            created_on=record.created_on,
            last_admin_activity_on=record.last_admin_activity_on,
            launch_url=f"{context.settings.launch_base_url}/launch/{gid}",
            db_id=record.id,
        )

    @strawberry.field(
        description="Every status whose rule holds as of today, in CustomerStatus order.",
        metadata=CUSTOMER_STATUSES.metadata,
    )
    async def statuses(self, info: InfoT) -> list[CustomerStatus]:
        return await CUSTOMER_STATUSES.resolve(info.context, self)

    @strawberry.field(
        description="Why the customer has each of its statuses: one detail per status, in `statuses` order.",
        metadata=CUSTOMER_STATUS_DETAILS.metadata,
    )
    async def status_details(self, info: InfoT) -> list[StatusDetail]:
        return await CUSTOMER_STATUS_DETAILS.resolve(info.context, self)

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


@strawberry.type(
    name="CustomerConnection",
    description="A page of a list (Relay cursor connection); the field that answers it says its order.",
)
class CustomerConnection(Connection[Customer]):
    facet_counts: strawberry.Private[Callable[[], Awaitable[dict[str, list[tuple[str, int]]]]]]

    @strawberry.field(
        description="How many customers each value of each filter would leave (one SQL statement; SPEC §3.3)."
    )
    async def facets(self) -> CustomerFacets:
        return CustomerFacets.from_record(await self.facet_counts())


def customer_connection(
    page: Any, context: Context, facet_counts: Callable[[], Awaitable[dict[str, list[tuple[str, int]]]]]
) -> CustomerConnection:
    """The customer connection of ``page``; ``facet_counts`` runs only when ``facets`` is asked for."""
    base = connection(page, lambda r: Customer.from_record(r, context))
    return CustomerConnection(
        nodes=base.nodes, page_info=base.page_info, count=base.count, cursors=base.cursors, facet_counts=facet_counts
    )


@strawberry.type(description="A person of the partner with one role.")
class PartnerAdmin(Node):
    email: str = strawberry.field(description="Email address (lower case), unique.")
    display_name: str = strawberry.field(description="Name shown in the portal.")
    role: PartnerAdminRole = strawberry.field(description="Role; decides what the admin sees and may do.")
    has_access_to_all_customers: bool = strawberry.field(
        description="True for partner-wide roles (PARTNER_FULL_ADMIN, PARTNER_READ_ONLY_ADMIN); sales roles see assigned customers only."
    )
    db_id: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: Any) -> PartnerAdmin:
        """An admin from a ``partner_admin`` record (id, email, display_name, role)."""
        return cls(
            id=strawberry.ID(to_global_id("PartnerAdmin", record.id)),
            email=record.email,
            display_name=record.display_name,
            role=record.role,
            has_access_to_all_customers=record.role in ALL_CUSTOMER_ROLES,
            db_id=record.id,
        )

    @strawberry.field(
        description=("Customers assigned to this admin that the caller may see, by name. `first` 1–100, default 25.")
    )
    async def assigned_customers(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 25).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> CustomerConnection | None:
        ctx = info.context
        page = await customer_resolvers.assigned_customers(ctx, admin_db_id=self.db_id, first=first, after=after)
        return customer_connection(page, ctx, lambda: customer_resolvers.assigned_facets(ctx, self.db_id))
