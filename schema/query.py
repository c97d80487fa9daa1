"""The Query root (SPEC §3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from resolvers import audit as audit_resolvers
from resolvers import customers as customer_resolvers
from resolvers import nodes as node_resolvers
from resolvers.customers import CustomerFilterArgs, CustomerOrderArgs, PartnerAdminFilterArgs
from schema.analytics import Analytics, KpiSummary, resolve_analytics, resolve_kpis
from schema.audit import AuditEvent
from schema.connection import Connection, connection
from schema.enums import KpiProduct
from schema.inputs import CustomerFilter, CustomerOrder, PartnerAdminFilter, plain
from schema.types import (
    Customer,
    CustomerConnection,
    InfoT,
    Node,
    PartnerAdmin,
    Subscription,
    Trial,
    customer_connection,
)

PAGE = "Page size, 1–100 (default 25)."

# How ``node`` builds each type from its record.
NODE_BUILDERS: dict[str, Callable[[Any, Any], Any]] = {
    "Customer": Customer.from_record,
    "Subscription": Subscription.from_record,
    "Trial": Trial.from_record,
    "PartnerAdmin": lambda record, _ctx: PartnerAdmin.from_record(record),
    "AuditEvent": lambda record, _ctx: AuditEvent.from_record(record),
}


@strawberry.type(description="Read the partner's customers, admins, KPIs and analytics.")
class Query:
    @strawberry.field(
        description="Any object by its global ID; null when it does not exist or the caller may not see it."
    )
    async def node(
        self, info: InfoT, id: Annotated[strawberry.ID, strawberry.argument(description="Global ID.")]
    ) -> Node | None:
        found = await node_resolvers.node(info.context, id)
        if found is None:
            return None
        type_name, record = found
        return NODE_BUILDERS[type_name](record, info.context)

    @strawberry.field(description="The partner admin making the request.")
    async def viewer(self, info: InfoT) -> PartnerAdmin:
        return PartnerAdmin.from_record(await node_resolvers.viewer(info.context))

    @strawberry.field(
        description=(
            "The customers the caller may see (all of the partner's, or a sales admin's assigned ones), "
            "filtered and ordered (default: name A–Z). Page with first/after or last/before; "
            "page size 1–100, default 25."
        )
    )
    async def customers(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=PAGE)] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after (forward paging).")
        ] = None,
        last: Annotated[int | None, strawberry.argument(description="Page size when paging backwards, 1–100.")] = None,
        before: Annotated[
            str | None, strawberry.argument(description="Cursor to continue before (backward paging).")
        ] = None,
        filter: Annotated[CustomerFilter | None, strawberry.argument(description="Filters; all must hold.")] = None,
        order_by: Annotated[CustomerOrder | None, strawberry.argument(description="Order; default NAME ASC.")] = None,
    ) -> CustomerConnection | None:
        ctx = info.context
        flt = None if filter is None else CustomerFilterArgs(**plain(filter))
        page = await customer_resolvers.customer_page(
            ctx,
            first=first,
            after=after,
            last=last,
            before=before,
            flt=flt,
            order=None if order_by is None else CustomerOrderArgs(**plain(order_by)),
        )
        return customer_connection(page, ctx, lambda: customer_resolvers.customer_facets(ctx, flt))

    @strawberry.field(description="A customer by global ID; null when it does not exist or the caller may not see it.")
    async def customer(
        self, info: InfoT, id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the customer.")]
    ) -> Customer | None:
        record = await node_resolvers.customer(info.context, id)
        return None if record is None else Customer.from_record(record, info.context)

    @strawberry.field(description="The partner's admins, by email. Page size 1–100, default 25.")
    async def partner_admins(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=PAGE)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
        filter: Annotated[PartnerAdminFilter | None, strawberry.argument(description="Filters; all must hold.")] = None,
    ) -> Connection[PartnerAdmin] | None:
        flt = None if filter is None else PartnerAdminFilterArgs(**plain(filter))
        page = await customer_resolvers.partner_admin_page(info.context, first=first, after=after, flt=flt)
        return connection(page, PartnerAdmin.from_record)

    @strawberry.field(
        description=(
            "The partner's audit log: every change made through the API, newest first. "
            "Readable by PARTNER_FULL_ADMIN and PARTNER_READ_ONLY_ADMIN only (others get FORBIDDEN). "
            "Page size 1–100, default 25."
        )
    )
    async def audit_log(
        self,
        info: InfoT,
        first: Annotated[int | None, strawberry.argument(description=PAGE)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> Connection[AuditEvent] | None:
        page = await audit_resolvers.audit_log(info.context, first=first, after=after)
        return connection(page, AuditEvent.from_record)

    @strawberry.field(
        description=(
            "Summary KPIs over the customers the caller may see, MEETINGS and CALLING together "
            "(SPEC §2.3), or only `product`'s lines, as of `asOf` (default today; snapshots after it are ignored)."
        )
    )
    async def kpis(
        self,
        info: InfoT,
        as_of: Annotated[
            dt.date | None,
            strawberry.argument(description="Day to compute for; default today. Within ten years of today."),
        ] = None,
        product: Annotated[
            KpiProduct | None,
            strawberry.argument(
                description=(
                    "Only this product's lines: each count is then the customers with a row in "
                    "`analytics(product:)`'s section. Null or omitted: MEETINGS and CALLING together."
                )
            ),
        ] = None,
    ) -> KpiSummary | None:
        return await resolve_kpis(info, as_of, product)

    @strawberry.field(
        description=(
            "Analytics for one product (the Meetings/Calling toggle) as of `asOf` (default today): "
            "licence trend and the five sections, each with KPIs and rows. Computed lazily: only the "
            "sections selected run."
        )
    )
    def analytics(
        self,
        info: InfoT,
        product: Annotated[KpiProduct, strawberry.argument(description="MEETINGS or CALLING.")],
        as_of: Annotated[
            dt.date | None,
            strawberry.argument(description="Day to compute for; default today. Within ten years of today."),
        ] = None,
    ) -> Analytics | None:  # type: ignore[valid-type]  # a class built from the declarations
        return resolve_analytics(info, product, as_of)
