"""Database constraints that keep bad states impossible, whatever the code does."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from db.engine import make_sessionmaker
from db.models import Plan
from tests import factories as f
from tests.conftest import is_postgres


async def _world(session):
    partner = await f.partner(session, key="acme")
    customer = await f.customer(session, partner_id=partner, name="Globex")
    await session.commit()
    return partner, customer


def _trial(partner: int, customer: int, ext_id: str, status: str = "ACTIVE") -> dict:
    import datetime as dt

    return {
        "partner_id": partner,
        "customer_id": customer,
        "kind": "TRIAL",
        "ext_id": ext_id,
        "status": status,
        "starts_on": dt.date(2026, 11, 1),
        "ends_on": dt.date(2026, 12, 1),
        "auto_renew": False,
    }


async def test_two_concurrent_sessions_cannot_both_start_an_active_trial(engine, session):
    partner, customer = await _world(session)
    maker = make_sessionmaker(engine)
    first_inserted = asyncio.Event()

    async def first():
        async with maker() as s:
            await s.execute(insert(Plan.__table__).values(**_trial(partner, customer, "T-1")))
            first_inserted.set()
            await asyncio.sleep(0.3)  # the second session tries while this one is uncommitted
            await s.commit()

    async def second():
        await first_inserted.wait()
        async with maker() as s:
            with pytest.raises(IntegrityError):
                # PostgreSQL: waits on the first transaction, then violates the index;
                # SQLite: waits for the write lock (busy_timeout), then violates it.
                await s.execute(insert(Plan.__table__).values(**_trial(partner, customer, "T-2")))
                await s.commit()

    await asyncio.gather(first(), second())
    async with maker() as s:
        rows = (await s.execute(Plan.__table__.select().where(Plan.__table__.c.customer_id == customer))).all()
    assert [(r.ext_id, r.status) for r in rows] == [("T-1", "ACTIVE")]


async def test_inactive_trials_are_not_limited(session):
    partner, customer = await _world(session)
    for i, status in enumerate(("CANCELLED", "CONVERTED", "CANCELLED", "ACTIVE")):
        await session.execute(insert(Plan.__table__).values(**_trial(partner, customer, f"T-{i}", status)))
    await session.commit()  # three ended trials and one active: allowed


@pytest.mark.parametrize("name", ["globex", "GLOBEX", "Globex"])
async def test_customer_names_are_unique_per_partner_case_insensitively(session, name):
    partner, _ = await _world(session)
    with pytest.raises(IntegrityError):
        await f.customer(session, partner_id=partner, name=name, key="other")


async def test_same_name_at_another_partner_is_fine(session):
    await _world(session)
    other = await f.partner(session, key="other")
    await f.customer(session, partner_id=other, name="GLOBEX")
    await session.commit()


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"kind": "TRIAL", "status": "PENDING_SETUP"}, "ck_plan_status"),  # a subscription status on a trial
        ({"kind": "SUBSCRIPTION", "status": "CONVERTED"}, "ck_plan_status"),
        ({"kind": "TRIAL", "auto_renew": True}, "ck_plan_status"),  # trials never auto-renew
    ],
)
async def test_plan_status_must_fit_its_kind(session, values, constraint):
    partner, customer = await _world(session)
    row = {**_trial(partner, customer, "T-x"), **values}
    with pytest.raises(IntegrityError, match=constraint if is_postgres() else "CHECK"):
        await session.execute(insert(Plan.__table__).values(**row))
