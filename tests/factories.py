"""Keyword-only helpers that insert hand-built rows with SQLAlchemy Core."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.collation import name_columns
from db.models import (
    ApiToken,
    Customer,
    CustomerAdmin,
    Invoice,
    LicenseLine,
    Partner,
    PartnerAdmin,
    Plan,
    PurchaseOrder,
    UsageSnapshot,
    fold,
)
from db.tokens import hash_token

D = dt.date.fromisoformat


async def _insert(session: AsyncSession, model: Any, **values: Any) -> int:
    result = await session.execute(insert(model.__table__).values(**values).returning(model.__table__.c.id))
    return result.scalar_one()


async def partner(session: AsyncSession, *, key: str, name: str | None = None) -> int:
    return await _insert(session, Partner, key=key, name=name or key.title())


async def admin(
    session: AsyncSession, *, partner_id: int, key: str, role: str, token: str | None = None, email: str | None = None
) -> int:
    admin_id = await _insert(
        session,
        PartnerAdmin,
        partner_id=partner_id,
        key=key,
        email=email or f"{key}@p{partner_id}.example",
        display_name=key.title(),
        role=role,
    )
    if token:
        await session.execute(
            insert(ApiToken.__table__).values(
                admin_id=admin_id, token_hash=hash_token(token), created_at=dt.datetime.now(dt.UTC)
            )
        )
    return admin_id


async def customer(
    session: AsyncSession,
    *,
    partner_id: int,
    name: str,
    created_on: str = "2026-01-01",
    last_activity: str | None = None,
    managed_by: str = "PARTNER_ORG",
    key: str | None = None,
) -> int:
    return await _insert(
        session,
        Customer,
        partner_id=partner_id,
        key=key or fold(name).replace(" ", "-"),
        name=name,
        **name_columns(name),
        managed_by=managed_by,
        created_on=D(created_on),
        last_admin_activity_on=D(last_activity) if last_activity else None,
    )


async def assign(session: AsyncSession, *, customer_id: int, admin_id: int) -> None:
    await session.execute(insert(CustomerAdmin.__table__).values(customer_id=customer_id, admin_id=admin_id))


async def plan(
    session: AsyncSession,
    *,
    partner_id: int,
    customer_id: int,
    kind: str = "SUBSCRIPTION",
    ext_id: str,
    status: str = "ACTIVE",
    starts: str,
    ends: str,
    auto_renew: bool = False,
    started_by: int | None = None,
) -> int:
    return await _insert(
        session,
        Plan,
        partner_id=partner_id,
        customer_id=customer_id,
        kind=kind,
        ext_id=ext_id,
        status=status,
        starts_on=D(starts),
        ends_on=D(ends),
        auto_renew=auto_renew,
        started_by_id=started_by,
    )


async def line(
    session: AsyncSession, *, plan_id: int, product: str, total: int, usage: list[tuple[str, int, int, int]] = ()
) -> int:
    """A licence line with snapshots ``(date, assigned, used, used90)``; ``cur_*`` = the newest."""
    newest = max(usage, key=lambda u: u[0]) if usage else None
    line_id = await _insert(
        session,
        LicenseLine,
        plan_id=plan_id,
        product=product,
        total=total,
        cur_date=D(newest[0]) if newest else None,
        cur_assigned=newest[1] if newest else 0,
        cur_used=newest[2] if newest else 0,
        cur_used90=newest[3] if newest else 0,
    )
    for day, assigned, used, used90 in usage:
        await session.execute(
            insert(UsageSnapshot.__table__).values(
                line_id=line_id, date=D(day), assigned=assigned, used=used, used90=used90
            )
        )
    return line_id


async def invoice(
    session: AsyncSession,
    *,
    partner_id: int,
    plan_id: int,
    number: str,
    issued: str,
    amount: str = "10.00",
    status: str = "PAID",
) -> int:
    issued_on = D(issued)
    return await _insert(
        session,
        Invoice,
        partner_id=partner_id,
        plan_id=plan_id,
        number=number,
        issued_on=issued_on,
        due_on=issued_on + dt.timedelta(days=30),
        amount=amount,
        currency="USD",
        status=status,
    )


async def order(
    session: AsyncSession,
    *,
    partner_id: int,
    plan_id: int,
    number: str,
    placed: str,
    action: str = "NEW",
    product: str = "MEETINGS",
    quantity: int = 10,
) -> int:
    return await _insert(
        session,
        PurchaseOrder,
        partner_id=partner_id,
        plan_id=plan_id,
        number=number,
        placed_on=D(placed),
        action=action,
        product=product,
        quantity=quantity,
    )
