"""A hand-built world of two partners, with every customer status and boundary.

Today is 2026-11-25 (conftest). Each customer's expected statuses are worked
out next to it; tests assert against these hand-derived values.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from db import analytics_facts
from db.engine import make_engine, make_sessionmaker
from db.settings import get_settings, today
from resolvers.ids import to_global_id
from tests import factories as f

TOKENS = {"ana": "t-ana", "rita": "t-rita", "sam": "t-sam", "sally": "t-sally", "oscar": "t-oscar"}


@dataclass
class World:
    admins: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)

    def gid(self, kind: str, name: str) -> str:
        table = {"Customer": self.customers, "PartnerAdmin": self.admins}.get(kind, self.plans)
        return to_global_id(kind, table[name])


async def build_world(session: AsyncSession) -> World:
    w = World()
    acme = await f.partner(session, key="acme")
    other = await f.partner(session, key="other")
    for key, role in (
        ("ana", "PARTNER_FULL_ADMIN"),
        ("rita", "PARTNER_READ_ONLY_ADMIN"),
        ("sam", "SALES_FULL_ADMIN"),
        ("sally", "SALES_ADMIN"),
    ):
        w.admins[key] = await f.admin(session, partner_id=acme, key=key, role=role, token=TOKENS[key])
    w.admins["oscar"] = await f.admin(
        session, partner_id=other, key="oscar", role="PARTNER_FULL_ADMIN", token=TOKENS["oscar"]
    )

    # Alpha: daysUntilEnd 2026-12-25 − 2026-11-25 = 30 ≤ 30 and no auto-renew → EXPIRING_SOON;
    # last activity 2026-10-26 is exactly 30 days back (not more) → active;
    # assigned 10 = total 10 → no overage.  Statuses: EXPIRING_SOON, SUBSCRIPTION.
    c = w.customers["Alpha"] = await f.customer(
        session, partner_id=acme, name="Alpha", created_on="2026-01-01", last_activity="2026-10-26"
    )
    p = w.plans["Sub-A"] = await f.plan(
        session, partner_id=acme, customer_id=c, ext_id="Sub-A", starts="2026-01-01", ends="2026-12-25"
    )
    await f.line(session, plan_id=p, product="MEETINGS", total=10, usage=[("2026-11-18", 10, 6, 8)])
    await f.invoice(session, partner_id=acme, plan_id=p, number="INV-A1", issued="2026-01-01")
    await f.invoice(
        session, partner_id=acme, plan_id=p, number="INV-A2", issued="2026-06-01", status="UNPAID", amount="1234.50"
    )
    await f.order(session, partner_id=acme, plan_id=p, number="ORD-A1", placed="2025-12-20")
    await f.order(
        session, partner_id=acme, plan_id=p, number="ORD-A2", placed="2026-06-01", action="ADD_LICENSES", quantity=5
    )

    # Beta: ends in 31 days → not expiring; last activity 31 days back → NO_RECENT_ACTIVITY;
    # value today = snapshot of 11-20 (assigned 11 > total 10 → LICENSE_OVERAGE); the 11-30
    # snapshot lies after today and is ignored.  Statuses: LICENSE_OVERAGE, NO_RECENT_ACTIVITY, SUBSCRIPTION.
    c = w.customers["Beta"] = await f.customer(
        session, partner_id=acme, name="Beta", created_on="2026-02-01", last_activity="2026-10-25"
    )
    p = w.plans["Sub-B"] = await f.plan(
        session, partner_id=acme, customer_id=c, ext_id="Sub-B", starts="2026-02-01", ends="2026-12-26"
    )
    await f.line(
        session, plan_id=p, product="CALLING", total=10, usage=[("2026-11-20", 11, 4, 9), ("2026-11-30", 5, 1, 2)]
    )

    # gamma (lower case, sorts between Epsilon and Zeta): trial ending today (daysUntilEnd 0, still
    # live) → EXPIRING_SOON, TRIAL; a PENDING_SETUP subscription → READY_FOR_SETUP; never active
    # → NO_RECENT_ACTIVITY.  Line without snapshots → all zeros.
    c = w.customers["gamma"] = await f.customer(session, partner_id=acme, name="gamma", created_on="2026-03-01")
    p = w.plans["Trial-G"] = await f.plan(
        session,
        partner_id=acme,
        customer_id=c,
        kind="TRIAL",
        ext_id="Trial-G",
        starts="2026-11-01",
        ends="2026-11-25",
        started_by=w.admins["sam"],
    )
    await f.line(session, plan_id=p, product="MESSAGING", total=5)
    w.plans["Sub-G"] = await f.plan(
        session,
        partner_id=acme,
        customer_id=c,
        ext_id="Sub-G",
        status="PENDING_SETUP",
        starts="2026-11-25",
        ends="2027-11-25",
    )

    # Delta: only a SUSPENDED subscription → SUSPENDED, and not EXPIRED (it is held).
    c = w.customers["Delta"] = await f.customer(
        session, partner_id=acme, name="Delta", created_on="2026-03-01", last_activity="2026-11-25"
    )
    w.plans["Sub-D"] = await f.plan(
        session,
        partner_id=acme,
        customer_id=c,
        ext_id="Sub-D",
        status="SUSPENDED",
        starts="2025-01-01",
        ends="2026-12-31",
    )

    # Epsilon: one subscription ended yesterday, one starts tomorrow, a cancelled trial → nothing
    # live, nothing held → EXPIRED.
    c = w.customers["Epsilon"] = await f.customer(
        session, partner_id=acme, name="Epsilon", created_on="2025-06-01", last_activity="2026-11-24"
    )
    w.plans["Sub-E1"] = await f.plan(
        session, partner_id=acme, customer_id=c, ext_id="Sub-E1", starts="2025-11-25", ends="2026-11-24"
    )
    w.plans["Sub-E2"] = await f.plan(
        session, partner_id=acme, customer_id=c, ext_id="Sub-E2", starts="2026-11-26", ends="2027-11-26"
    )
    w.plans["Trial-E"] = await f.plan(
        session,
        partner_id=acme,
        customer_id=c,
        kind="TRIAL",
        ext_id="Trial-E",
        status="CANCELLED",
        starts="2025-05-01",
        ends="2025-05-31",
    )

    # Zeta: auto-renewing, ends in 6 days → not EXPIRING_SOON; 50 of 100 assigned (today's
    # snapshot counts), CALLING 5 of 20.  Statuses: SUBSCRIPTION.
    c = w.customers["Zeta"] = await f.customer(
        session,
        partner_id=acme,
        name="Zeta",
        created_on="2026-05-01",
        last_activity="2026-11-20",
        managed_by="EXTERNAL_ADMIN",
    )
    p = w.plans["Sub-Z"] = await f.plan(
        session, partner_id=acme, customer_id=c, ext_id="Sub-Z", starts="2025-12-01", ends="2026-12-01", auto_renew=True
    )
    await f.line(session, plan_id=p, product="CALLING", total=20, usage=[("2026-11-18", 5, 5, 5)])
    await f.line(session, plan_id=p, product="MEETINGS", total=100, usage=[("2026-11-25", 50, 40, 45)])

    # Čačak Telekom: no plans at all → EXPIRED.  "č" (U+010D) sorts after "z".
    w.customers["Čačak Telekom"] = await f.customer(
        session,
        partner_id=acme,
        name="Čačak Telekom",
        created_on="2026-04-01",
        last_activity="2026-11-24",
        managed_by="EXTERNAL_ADMIN",
    )

    # Another partner's customer, with a name that would sort first.
    c = w.customers["Aardvark"] = await f.customer(session, partner_id=other, name="Aardvark", created_on="2026-01-01")
    w.plans["Sub-X"] = await f.plan(
        session, partner_id=other, customer_id=c, ext_id="Sub-A-other", starts="2026-01-01", ends="2026-12-25"
    )

    await f.assign(session, customer_id=w.customers["Alpha"], admin_id=w.admins["sam"])
    await f.assign(session, customer_id=w.customers["gamma"], admin_id=w.admins["sam"])
    await f.assign(session, customer_id=w.customers["Beta"], admin_id=w.admins["sally"])
    # As an import would: the stored analytics facts of both partners, for today.
    for partner_id in (acme, other):
        await analytics_facts.refresh(
            session, partner_id=partner_id, day=today(), min_days=get_settings().low_assignment_min_days
        )
    await session.commit()
    return w


EXPECTED_STATUSES = {
    "Alpha": ["EXPIRING_SOON", "SUBSCRIPTION"],
    "Beta": ["LICENSE_OVERAGE", "NO_RECENT_ACTIVITY", "SUBSCRIPTION"],
    "Delta": ["SUSPENDED"],
    "Epsilon": ["EXPIRED"],
    "gamma": ["EXPIRING_SOON", "READY_FOR_SETUP", "NO_RECENT_ACTIVITY", "TRIAL"],
    "Zeta": ["SUBSCRIPTION"],
    "Čačak Telekom": ["EXPIRED"],
}
EXPECTED_PRODUCTS = {
    "Alpha": ["MEETINGS"],
    "Beta": ["CALLING"],
    "Delta": [],
    "Epsilon": [],
    "gamma": ["MESSAGING"],
    "Zeta": ["MEETINGS", "CALLING"],
    "Čačak Telekom": [],
}
# DUCET order (SPEC §2): case and accents count only after the letters, so
# "Čačak" is among the C names and "gamma" among the G names.
NAME_ORDER = ["Alpha", "Beta", "Čačak Telekom", "Delta", "Epsilon", "gamma", "Zeta"]


def world_in_sqlite_copy(migrated_database: str, directory: Path) -> str:
    """A copy of the migrated SQLite database in ``directory`` with the world built in it; its URL.

    For the thread-hosted TestClient suites (hypothesis properties) that need a
    database of their own; fixes "today" to the world's day for the process.
    """
    path = directory / "world.db"
    shutil.copyfile(migrated_database, path)
    url = f"sqlite:///{path}"

    async def prepare() -> None:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                await build_world(session)
        finally:
            await engine.dispose()

    os.environ["PARTNERHUB_TODAY"] = "2026-11-25"
    asyncio.run(prepare())
    return url
