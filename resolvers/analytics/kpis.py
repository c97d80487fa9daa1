"""The summary KPIs (SPEC §2.3): one scan of the visible live lines, each section's conditions a flag.

Of both KPI products together (``Query.kpis``), or of one (``kpis(product:)``,
``kpisChanged(product:)``): the same statement over that product's lines only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.access import Viewer
from db.settings import Settings, get_settings
from loaders import Loaders
from resolvers.analytics.kept import kept
from resolvers.analytics.lines import DEFAULT_DAYS, KPI_PRODUCTS, Frame, as_tables, check_product, memo
from resolvers.analytics.sections import SECTIONS


@dataclass(frozen=True)
class KpiSummary:
    """Distinct customers per summary section (each section's ``summary`` names its field)."""

    as_of: dt.date
    total_customers: int
    expiring: int
    renewing: int
    low_license_assignment: int
    over_license_limit: int


async def kpis(
    *,
    session: AsyncSession,
    viewer: Viewer,
    as_of: dt.date,
    settings: Settings | None = None,
    product: str | None = None,
    facts: bool = False,
    version: int | None = None,
) -> KpiSummary:
    """SPEC §2.3 over the visible customers, MEETINGS and CALLING together, or ``product``'s lines only.

    One statement (:func:`kpis_statement`): the visible live lines of both
    products (or of the one) scanned once, each section's conditions (default
    windows) a flag, customers counted distinct per flag. With a product every
    count is the customers having a row of that product's section
    (``analytics(product:)``), and ``totalCustomers`` those with a live plan
    that has a line of it. With ``facts``, the lines are the stored ones
    (db/analytics_facts.py; same answer), and with their ``version`` the
    answer is kept while they stay the same (:mod:`.kept`).
    """
    products = KPI_PRODUCTS if product is None else check_product(product)
    settings = settings or get_settings()

    async def compute() -> KpiSummary:
        r = (await session.execute(kpis_statement(viewer, as_of, settings, products, facts))).one()
        return KpiSummary(as_of=as_of, **r._asdict())

    key = ("kpis", viewer.partner_id, as_of, products, settings.low_assignment_min_days, settings.low_assignment_factor)
    return await kept(version if facts else None, key, compute)


async def kpis_may_have_moved(loaders: Loaders, customer_ids: Iterable[int], product: str | None = None) -> bool:
    """Whether a committed change of these customers may have moved the viewer's summary KPIs.

    True when the viewer may see one of them and, with a ``product``, that
    customer has a line of the product on any of its plans, whatever the
    plan's status or dates. Lines and plans are never deleted and a line's
    product never changes, so a customer without such a line had none before
    the change either: the product's counts (which only look at its lines, the
    partner-wide median too) cannot have moved through it. The answer is
    conservative: a change of a customer with the product's line need not move
    its numbers (a MEETINGS trial of a customer that also has CALLING).
    A change the viewer cannot see never counts, even when it moves the
    partner-wide low-assignment median: its numbers must not show it.

    Through the loaders, so the customers of many calls run together (a burst
    of events) are read in one statement per relation.
    """
    found = await asyncio.gather(*(loaders.customer_by_id.load(i) for i in customer_ids))
    visible = [record.id for record in found if record is not None]
    if not visible or product is None:
        return bool(visible)
    wanted = check_product(product)
    products = await asyncio.gather(*(loaders.line_products_by_customer.load(i) for i in visible))
    return any(wanted in of_customer for of_customer in products)


@memo
def kpis_statement(
    viewer: Viewer, as_of: dt.date, settings: Settings, products: str | tuple[str, ...], facts: bool = False
) -> Select:
    """One scan of the visible live lines of ``products`` (both, or one), each summary section a flag on it.

    Each flag is its section's declared conditions on the scanned columns; the
    low-assignment flag compares with the partner-wide median of the line's
    product. Counting the customers with a flag on any of their lines is the
    distinct count over the union of the sections' rows, in one scan instead
    of one row query per section and product (bench/README.md).
    """
    frame = Frame(
        partner_id=viewer.partner_id,
        product=products,
        as_of=as_of,
        days=DEFAULT_DAYS,
        min_days=settings.low_assignment_min_days,
        factor=settings.low_assignment_factor,
        facts=facts,
    )
    base = frame.lines(viewer, name="kpi")
    plan, line = as_tables(base)
    flags = {}
    for decl in SECTIONS.values():
        if decl.summary is None:
            continue
        conditions = [
            *(decl.where(plan, line, frame) if decl.where else ()),
            *([decl.having(base, frame)] if decl.having else []),
        ]
        flags[decl.summary] = and_(*conditions)
    # One row per customer with a 0/1 per flag (any of its lines), then the
    # counts: one hash aggregate instead of a sort per distinct count (at
    # 100,000 customers 90 of the statement's 125 ms went to those sorts).
    customers = (
        select(
            base.c.customer_id,
            *[func.max(case((flag, 1), else_=0)).label(tag) for tag, flag in flags.items()],
        )
        .group_by(base.c.customer_id)
        .subquery("kpi_customers")
    )
    return select(
        func.count().label("total_customers"),
        *[func.coalesce(func.sum(customers.c[tag]), 0).label(tag) for tag in flags],
    )
