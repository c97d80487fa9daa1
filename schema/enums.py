"""Closed sets of the API as GraphQL enums (SPEC §3).

Each enum subclasses ``str`` so that the plain strings stored in the database
serialise without conversion.
"""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="A product sold on a plan's licence lines, in this order everywhere.")
class Product(str, Enum):
    MEETINGS = "MEETINGS"
    CALLING = "CALLING"
    MESSAGING = "MESSAGING"
    REAL_TIME_TRANSLATION = "REAL_TIME_TRANSLATION"


@strawberry.enum(description="The products the KPIs and analytics are computed for.")
class KpiProduct(str, Enum):
    MEETINGS = "MEETINGS"
    CALLING = "CALLING"


@strawberry.enum(description="Who manages the customer organisation.")
class ManagedBy(str, Enum):
    PARTNER_ORG = "PARTNER_ORG"
    EXTERNAL_ADMIN = "EXTERNAL_ADMIN"


@strawberry.enum(description="The kind of a plan: a paid subscription or a trial.")
class PlanType(str, Enum):
    SUBSCRIPTION = "SUBSCRIPTION"
    TRIAL = "TRIAL"


@strawberry.enum(
    description=(
        "A customer status as of today; a customer has every status whose rule holds, in this order. "
        "SUSPENDED: has a subscription with status SUSPENDED. "
        "LICENSE_OVERAGE: has a live plan with a licence line whose assigned > total. "
        "EXPIRING_SOON: has a live trial, or a live subscription without auto-renewal, ending within "
        "PARTNERHUB_EXPIRING_SOON_DAYS (default 30) days. "
        "READY_FOR_SETUP: has a subscription with status PENDING_SETUP. "
        "NO_RECENT_ACTIVITY: lastAdminActivityOn is null or more than PARTNERHUB_INACTIVE_DAYS (default 30) "
        "days before today. "
        "TRIAL: has a live trial. SUBSCRIPTION: has a live subscription. "
        "EXPIRED: has no live plan and no subscription that is PENDING_SETUP or SUSPENDED. "
        "A plan is live on a day when its status is ACTIVE and startsOn <= day <= endsOn."
    )
)
class CustomerStatus(str, Enum):
    SUSPENDED = "SUSPENDED"
    LICENSE_OVERAGE = "LICENSE_OVERAGE"
    EXPIRING_SOON = "EXPIRING_SOON"
    READY_FOR_SETUP = "READY_FOR_SETUP"
    NO_RECENT_ACTIVITY = "NO_RECENT_ACTIVITY"
    TRIAL = "TRIAL"
    SUBSCRIPTION = "SUBSCRIPTION"
    EXPIRED = "EXPIRED"


@strawberry.enum(description="Status of a subscription.")
class SubscriptionStatus(str, Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    PENDING_SETUP = "PENDING_SETUP"
    CANCELLED = "CANCELLED"


@strawberry.enum(description="Status of a trial. A customer has at most one ACTIVE trial.")
class TrialStatus(str, Enum):
    ACTIVE = "ACTIVE"
    CONVERTED = "CONVERTED"
    CANCELLED = "CANCELLED"


@strawberry.enum(
    description=(
        "Role of a partner admin. PARTNER_FULL_ADMIN: sees all customers, may do everything. "
        "PARTNER_READ_ONLY_ADMIN: sees all customers and the audit log, changes nothing. "
        "SALES_FULL_ADMIN: sees assigned customers; manages their trials, admins and order setup. "
        "SALES_ADMIN: sees assigned customers; manages their trials."
    )
)
class PartnerAdminRole(str, Enum):
    PARTNER_FULL_ADMIN = "PARTNER_FULL_ADMIN"
    PARTNER_READ_ONLY_ADMIN = "PARTNER_READ_ONLY_ADMIN"
    SALES_FULL_ADMIN = "SALES_FULL_ADMIN"
    SALES_ADMIN = "SALES_ADMIN"


@strawberry.enum(description="Payment status of an invoice.")
class InvoiceStatus(str, Enum):
    PAID = "PAID"
    UNPAID = "UNPAID"
    OVERDUE = "OVERDUE"


@strawberry.enum(description="What an order did to a subscription.")
class OrderAction(str, Enum):
    NEW = "NEW"
    ADD_LICENSES = "ADD_LICENSES"
    REMOVE_LICENSES = "REMOVE_LICENSES"
    RENEWAL = "RENEWAL"
    CANCELLATION = "CANCELLATION"


@strawberry.enum(
    description=(
        "Field the customer list is ordered by: NAME (the Unicode Collation Algorithm's default order: case and"
        ' accents count only between otherwise equal names, so "Čačak" is among the C names) or CREATED_ON;'
        " ties are broken by id."
    )
)
class CustomerOrderField(str, Enum):
    NAME = "NAME"
    CREATED_ON = "CREATED_ON"


@strawberry.enum(description="Sort direction.")
class OrderDirection(str, Enum):
    ASC = "ASC"
    DESC = "DESC"
