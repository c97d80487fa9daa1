"""Analytics and KPIs (SPEC §2.2, §2.3) on a small hand-built data set.

Every expected number below is worked out by hand from the fixture; the
comments show the arithmetic. Two days are used:

* D = 2026-11-25 (a Wednesday); its week-ago day is E.
* E = 2026-11-18 = D - 7; its week-ago day is W = 2026-11-11.

Fixture (partner "acme"; every plan has the dates shown, days relative to D):

| customer | plan | kind/status | starts | ends | autoRenew | lines: total, snapshots date→(assigned, used, used90) |
|---|---|---|---|---|---|---|
| alpha   | Sub-A1   | SUB ACTIVE | 10-26 (D-30) | 2027-02-23 (D+90) | no  | M 100: W→(40,20,30) E→(50,25,35) D→(60,30,40); C 0: D→(2,1,1) |
| bravo   | Trial-B1 | TRIAL ACTIVE | 11-15 (D-10) | 11-25 (D+0) | - | M 20: 11-20→(5,2,3) |
| charlie | Sub-C1   | SUB ACTIVE | 2025-11-25 (D-365) | 12-25 (D+30) | yes | M 50: E→(10,5,8) 11-28→(12,6,9) [after D]; C 30: D→(40,20,25) |
| delta   | Sub-D1   | SUB ACTIVE | 08-27 (D-90) | 2027-02-24 (D+91) | yes | M 40: W→(30,20,25) D→(38,30,35); C 20: D→(4,2,3) |
| echo    | Sub-E1   | SUB ACTIVE | 08-26 (D-91) | 2027-02-24 (D+91) | no  | M 10: W→(3,1,1) D→(1,1,1) |
| foxtrot | Sub-F1   | SUB ACTIVE | 10-27 (D-29) | 12-20 (D+25) | no  | M 10: no snapshot |
| foxtrot | Trial-F1 | TRIAL ACTIVE | 11-20 (D-5) | 12-20 (D+25) | - | M 5: D→(7,3,4) |
| golf    | Sub-G1   | SUB ACTIVE | 2024-01-31 (D-1029) | 2027-01-24 (D+60) | yes | M 100: W→(5,2,3); C 10: D→(12,3,5) |
| hotel   | six plans, none live on D or E (below) | | | | | M 10 each, over limit |
| india   | Sub-I1   | SUB ACTIVE | 11-01 | 12-01 | no | MESSAGING only |

hotel: Sub-H1 CANCELLED, Sub-H2 SUSPENDED, Sub-H3 PENDING_SETUP (all 2026-01-01..2027-01-01),
Trial-H1 CONVERTED (11-01..12-01), Sub-H4 ACTIVE starting 11-26 (after D), Sub-H5 ACTIVE
2026-06-01..11-17 (ended before E; live on W, so it counts in the trend on W only), each
with a MEETINGS line of total 10 and a snapshot (21, 11, 15) on W.

Partner "globex" has a customer also named "alpha" with an ACTIVE, non-renewing
Sub-A1 2026-01-01..12-01, M 1000 (5,1,1) and C 1 (9,1,1) on D: it would change
every number (and the median) if it leaked into acme's.

A SALES_ADMIN of acme is assigned to alpha, delta, echo and golf.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from graphql import GraphQLError
from sqlalchemy import Date, insert, literal, select

from db import analytics_facts
from db.collation import name_columns
from db.models import (
    Customer,
    CustomerAdmin,
    LicenseLine,
    Partner,
    PartnerAdmin,
    Plan,
    UsageSnapshot,
)
from db.settings import get_settings
from resolvers import analytics as A
from resolvers.permissions import Viewer

D = dt.date(2026, 11, 25)
E = dt.date(2026, 11, 18)
W = dt.date(2026, 11, 11)
M, C = "MEETINGS", "CALLING"


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# (customer, kind, ext_id, status, starts, ends, auto_renew, {product: (total, [(date, a, u, u90), ...])})
ACME_PLANS = [
    (
        "alpha",
        "SUBSCRIPTION",
        "Sub-A1",
        "ACTIVE",
        "2026-10-26",
        "2027-02-23",
        False,
        {M: (100, [(W, 40, 20, 30), (E, 50, 25, 35), (D, 60, 30, 40)]), C: (0, [(D, 2, 1, 1)])},
    ),
    (
        "bravo",
        "TRIAL",
        "Trial-B1",
        "ACTIVE",
        "2026-11-15",
        "2026-11-25",
        False,
        {M: (20, [(day("2026-11-20"), 5, 2, 3)])},
    ),
    (
        "charlie",
        "SUBSCRIPTION",
        "Sub-C1",
        "ACTIVE",
        "2025-11-25",
        "2026-12-25",
        True,
        {M: (50, [(E, 10, 5, 8), (day("2026-11-28"), 12, 6, 9)]), C: (30, [(D, 40, 20, 25)])},
    ),
    (
        "delta",
        "SUBSCRIPTION",
        "Sub-D1",
        "ACTIVE",
        "2026-08-27",
        "2027-02-24",
        True,
        {M: (40, [(W, 30, 20, 25), (D, 38, 30, 35)]), C: (20, [(D, 4, 2, 3)])},
    ),
    (
        "echo",
        "SUBSCRIPTION",
        "Sub-E1",
        "ACTIVE",
        "2026-08-26",
        "2027-02-24",
        False,
        {M: (10, [(W, 3, 1, 1), (D, 1, 1, 1)])},
    ),
    ("foxtrot", "SUBSCRIPTION", "Sub-F1", "ACTIVE", "2026-10-27", "2026-12-20", False, {M: (10, [])}),
    ("foxtrot", "TRIAL", "Trial-F1", "ACTIVE", "2026-11-20", "2026-12-20", False, {M: (5, [(D, 7, 3, 4)])}),
    (
        "golf",
        "SUBSCRIPTION",
        "Sub-G1",
        "ACTIVE",
        "2024-01-31",
        "2027-01-24",
        True,
        {M: (100, [(W, 5, 2, 3)]), C: (10, [(D, 12, 3, 5)])},
    ),
    *[
        ("hotel", kind, ext, status, starts, ends, False, {M: (10, [(W, 21, 11, 15)])})
        for kind, ext, status, starts, ends in [
            ("SUBSCRIPTION", "Sub-H1", "CANCELLED", "2026-01-01", "2027-01-01"),
            ("SUBSCRIPTION", "Sub-H2", "SUSPENDED", "2026-01-01", "2027-01-01"),
            ("SUBSCRIPTION", "Sub-H3", "PENDING_SETUP", "2026-01-01", "2027-01-01"),
            ("TRIAL", "Trial-H1", "CONVERTED", "2026-11-01", "2026-12-01"),
            ("SUBSCRIPTION", "Sub-H4", "ACTIVE", "2026-11-26", "2027-11-26"),
            ("SUBSCRIPTION", "Sub-H5", "ACTIVE", "2026-06-01", "2026-11-17"),
        ]
    ],
    (
        "india",
        "SUBSCRIPTION",
        "Sub-I1",
        "ACTIVE",
        "2026-11-01",
        "2026-12-01",
        False,
        {"MESSAGING": (10, [(D, 20, 5, 5)])},
    ),
]
GLOBEX_PLANS = [
    (
        "alpha",
        "SUBSCRIPTION",
        "Sub-A1",
        "ACTIVE",
        "2026-01-01",
        "2026-12-01",
        False,
        {M: (1000, [(D, 5, 1, 1)]), C: (1, [(D, 9, 1, 1)])},
    ),
]
SALES_CUSTOMERS = ("alpha", "delta", "echo", "golf")


class Ids:
    def __init__(self) -> None:
        self.counter = itertools.count(1)

    def __call__(self) -> int:
        return next(self.counter)


async def _insert_partner(session, ids: Ids, key: str, plans, admins) -> dict[str, Viewer]:
    partner_id = ids()
    await session.execute(insert(Partner.__table__).values(id=partner_id, key=key, name=key.title()))
    viewers: dict[str, Viewer] = {}
    for role, email in admins:
        admin_id = ids()
        await session.execute(
            insert(PartnerAdmin.__table__).values(
                id=admin_id, partner_id=partner_id, key=email, email=email, display_name=email, role=role
            )
        )
        viewers[role] = Viewer(id=admin_id, partner_id=partner_id, email=email, display_name=email, role=role)
    customers: dict[str, int] = {}
    for name, kind, ext_id, status, starts, ends, auto_renew, lines in plans:
        if name not in customers:
            customers[name] = ids()
            await session.execute(
                insert(Customer.__table__).values(
                    id=customers[name],
                    partner_id=partner_id,
                    key=name,
                    name=name.title(),
                    **name_columns(name.title()),
                    managed_by="PARTNER_ORG",
                    created_on=day("2024-01-01"),
                )
            )
        plan_id = ids()
        await session.execute(
            insert(Plan.__table__).values(
                id=plan_id,
                partner_id=partner_id,
                customer_id=customers[name],
                kind=kind,
                ext_id=ext_id,
                status=status,
                starts_on=day(starts),
                ends_on=day(ends),
                auto_renew=auto_renew,
            )
        )
        for product, (total, snapshots) in lines.items():
            line_id = ids()
            newest = max(snapshots, default=None)
            await session.execute(
                insert(LicenseLine.__table__).values(
                    id=line_id,
                    plan_id=plan_id,
                    product=product,
                    total=total,
                    cur_date=newest[0] if newest else None,
                    cur_assigned=newest[1] if newest else 0,
                    cur_used=newest[2] if newest else 0,
                    cur_used90=newest[3] if newest else 0,
                )
            )
            for date, assigned, used, used90 in snapshots:
                await session.execute(
                    insert(UsageSnapshot.__table__).values(
                        line_id=line_id, date=date, assigned=assigned, used=used, used90=used90
                    )
                )
    sales = viewers.get("SALES_ADMIN")
    if sales is not None:
        for name in SALES_CUSTOMERS:
            await session.execute(
                insert(CustomerAdmin.__table__).values(customer_id=customers[name], admin_id=sales.id)
            )
    return viewers


@pytest.fixture
async def viewers(session) -> dict[str, Viewer]:
    return await insert_world(session)


async def insert_world(session) -> dict[str, Viewer]:
    """Insert the data set of the module docstring; its viewers by ``full``, ``sales`` and ``globex``."""
    ids = Ids()
    acme = await _insert_partner(
        session,
        ids,
        "acme",
        ACME_PLANS,
        [("PARTNER_FULL_ADMIN", "full@acme.example"), ("SALES_ADMIN", "sales@acme.example")],
    )
    globex = await _insert_partner(
        session, ids, "globex", GLOBEX_PLANS, [("PARTNER_FULL_ADMIN", "full@globex.example")]
    )
    await session.commit()
    return {"full": acme["PARTNER_FULL_ADMIN"], "sales": acme["SALES_ADMIN"], "globex": globex["PARTNER_FULL_ADMIN"]}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

PAGING = ("first", "after", "last", "before", "order", "count")


def _rows_of(section):
    """``section``'s pages called with the scope's and the page's arguments together."""

    async def rows(**kw):
        paging = {k: kw.pop(k) for k in PAGING if k in kw}
        return await A.section_rows(A.section_scope(section, **kw), **paging)

    return rows


def _kpis_of(section):
    async def kpis(**kw):
        return await A.section_kpis(A.section_scope(section, **kw))

    return kpis


ROWS = {name: _rows_of(name) for name in A.SECTIONS}
KPIS = {name: _kpis_of(name) for name in A.SECTIONS}
COMMON = ("customer_name", "plan_type", "subscription_id", "total_licenses", "assigned", "used", "available")
EXTRA = {
    "recentlyAdded": ("days_since_added", "weekly_assignment_change", "weekly_usage_change"),
    "expiring": ("days_to_expiry", "usage_last_3_months"),
    "renewing": ("days_to_renewal", "usage_last_3_months"),
    "lowAssignment": ("months_since_added", "assignment_rate", "weekly_assignment_change"),
    "overLimit": ("months_remaining", "auto_renew", "assignment_rate", "usage_rate", "overage"),
}


async def all_rows(session, viewer, section, product, as_of, page_size=100, **kw):
    rows, after = [], None
    while True:
        page = await ROWS[section](
            session=session, viewer=viewer, product=product, as_of=as_of, first=page_size, after=after, **kw
        )
        rows += page.rows
        if not page.has_next_page:
            return rows
        after = page.cursors[-1]


def as_tuples(rows, section):
    return [tuple(getattr(r, f) for f in COMMON + EXTRA[section]) for r in rows]


def approx_tuples(rows):
    return [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in rows]


async def kpi(session, viewer, section, product, as_of):
    return await KPIS[section](session=session, viewer=viewer, product=product, as_of=as_of)


# --------------------------------------------------------------------------
# Expected rows and KPIs, full admin (worked out from the table above)
# --------------------------------------------------------------------------

SUB, TRIAL = "SUBSCRIPTION", "TRIAL"

EXPECTED_ROWS = {
    # recentlyAdded(90), MEETINGS, D: daysSinceAdded <= 90 → Trial-F1 5, bravo 10, Sub-F1 29,
    # alpha 30, delta 90 (boundary in); echo 91 out; charlie, golf older.
    # weekly change vs E: alpha 60-50=10, 30-25=5; delta (E→ W snapshot) 38-30=8, 30-20=10;
    # bravo (first snapshot 11-20), Trial-F1 (first D), Sub-F1 (none): null.
    # available = max(total - assigned, 0).
    ("recentlyAdded", M, D): [
        ("Foxtrot", TRIAL, "Trial-F1", 5, 7, 3, 0, 5, None, None),
        ("Bravo", TRIAL, "Trial-B1", 20, 5, 2, 15, 10, None, None),
        ("Foxtrot", SUB, "Sub-F1", 10, 0, 0, 10, 29, None, None),
        ("Alpha", SUB, "Sub-A1", 100, 60, 30, 40, 30, 10, 5),
        ("Delta", SUB, "Sub-D1", 40, 38, 30, 2, 90, 8, 10),
    ],
    # recentlyAdded, CALLING, D: alpha 30, delta 90; neither has a CALLING snapshot on or before E → null.
    ("recentlyAdded", C, D): [
        ("Alpha", SUB, "Sub-A1", 0, 2, 1, 0, 30, None, None),
        ("Delta", SUB, "Sub-D1", 20, 4, 2, 16, 90, None, None),
    ],
    # recentlyAdded, MEETINGS, E: bravo 3 (its 11-20 snapshot is after E → 0s), Sub-F1 22,
    # alpha 23 (E values 50/25; vs W 40/20 → +10/+5), delta 83 (W values; W≤W-… → change 0),
    # echo 84 (W values 3/1; change 0). Trial-F1 not live yet (starts 11-20).
    ("recentlyAdded", M, E): [
        ("Bravo", TRIAL, "Trial-B1", 20, 0, 0, 20, 3, None, None),
        ("Foxtrot", SUB, "Sub-F1", 10, 0, 0, 10, 22, None, None),
        ("Alpha", SUB, "Sub-A1", 100, 50, 25, 50, 23, 10, 5),
        ("Delta", SUB, "Sub-D1", 40, 30, 20, 10, 83, 0, 0),
        ("Echo", SUB, "Sub-E1", 10, 3, 1, 7, 84, 0, 0),
    ],
    # recentlyAdded, CALLING, E: every CALLING snapshot is dated D (after E) → 0s.
    ("recentlyAdded", C, E): [
        ("Alpha", SUB, "Sub-A1", 0, 0, 0, 0, 23, None, None),
        ("Delta", SUB, "Sub-D1", 20, 0, 0, 20, 83, None, None),
    ],
    # expiring(90), MEETINGS, D: trials and non-renewing subs with daysUntilEnd <= 90:
    # bravo 0 (ends on D), Sub-F1 25 and Trial-F1 25 (tie → subscriptionId), alpha 90; echo 91 out.
    ("expiring", M, D): [
        ("Bravo", TRIAL, "Trial-B1", 20, 5, 2, 15, 0, 3),
        ("Foxtrot", SUB, "Sub-F1", 10, 0, 0, 10, 25, 0),
        ("Foxtrot", TRIAL, "Trial-F1", 5, 7, 3, 0, 25, 4),
        ("Alpha", SUB, "Sub-A1", 100, 60, 30, 40, 90, 40),
    ],
    ("expiring", C, D): [("Alpha", SUB, "Sub-A1", 0, 2, 1, 0, 90, 1)],
    # expiring, MEETINGS, E: bravo 7, Sub-F1 32; alpha 97 and echo 98 out.
    ("expiring", M, E): [
        ("Bravo", TRIAL, "Trial-B1", 20, 0, 0, 20, 7, 0),
        ("Foxtrot", SUB, "Sub-F1", 10, 0, 0, 10, 32, 0),
    ],
    ("expiring", C, E): [],  # alpha's only CALLING plan ends in 97 days
    # renewing(90), MEETINGS, D: auto-renewing subs: charlie 30, golf 60; delta 91 out.
    # charlie's 11-28 snapshot is after D: its values are E's (10, 5, used90 8).
    ("renewing", M, D): [
        ("Charlie", SUB, "Sub-C1", 50, 10, 5, 40, 30, 8),
        ("Golf", SUB, "Sub-G1", 100, 5, 2, 95, 60, 3),
    ],
    ("renewing", C, D): [
        ("Charlie", SUB, "Sub-C1", 30, 40, 20, 0, 30, 25),
        ("Golf", SUB, "Sub-G1", 10, 12, 3, 0, 60, 5),
    ],
    ("renewing", M, E): [
        ("Charlie", SUB, "Sub-C1", 50, 10, 5, 40, 37, 8),
        ("Golf", SUB, "Sub-G1", 100, 5, 2, 95, 67, 3),
    ],
    ("renewing", C, E): [
        ("Charlie", SUB, "Sub-C1", 30, 0, 0, 30, 37, 0),
        ("Golf", SUB, "Sub-G1", 10, 0, 0, 10, 67, 0),
    ],
    # lowAssignment, MEETINGS, D: eligible (total > 0, daysSinceAdded >= 30): alpha (exactly 30) 0.6,
    # charlie 0.2, delta 0.95, echo 0.1, golf 0.05 (Sub-F1 is 29 days old: not eligible).
    # Odd count 5: median 0.2; low below 0.5·0.2 = 0.1 → golf only (echo's 0.1 is not below 0.1).
    # golf monthsSinceAdded 2024-01-31→2026-11-25: 24 + 10 - 1 (25 < 31) = 33; weekly: W vs W → 0.
    ("lowAssignment", M, D): [("Golf", SUB, "Sub-G1", 100, 5, 2, 95, 33, 0.05, 0)],
    # CALLING, D: eligible charlie 40/30, delta 0.2, golf 1.2 (alpha total 0: not eligible).
    # Median 1.2; below 0.6 → delta. monthsSinceAdded 08-27→11-25: 3 - 1 (25 < 27) = 2.
    ("lowAssignment", C, D): [("Delta", SUB, "Sub-D1", 20, 4, 2, 16, 2, 0.2, None)],
    # MEETINGS, E: eligible charlie 0.2, delta 0.75, echo 0.3, golf 0.05 (alpha only 23 days old).
    # Even count 4: median (0.2 + 0.3) / 2 = 0.25; below 0.125 → golf.
    ("lowAssignment", M, E): [("Golf", SUB, "Sub-G1", 100, 5, 2, 95, 33, 0.05, 0)],
    # CALLING, E: every eligible line is at 0 → median 0 → nothing is below 0.
    ("lowAssignment", C, E): [],
    # overLimit, MEETINGS, D: Trial-F1 7 > 5, overage 2; monthsRemaining 11-25→12-20: 1 - 1 (20 < 25) = 0.
    ("overLimit", M, D): [("Foxtrot", TRIAL, "Trial-F1", 5, 7, 3, 0, 0, False, 1.4, 0.6, 2)],
    # CALLING, D: charlie 40 > 30 (10), alpha 2 > 0 (2), golf 12 > 10 (2); ties by name.
    # monthsRemaining: charlie →12-25: 1; alpha →2027-02-23: 12 - 9 - 1 = 2; golf →2027-01-24: 12 - 10 - 1 = 1.
    # alpha's total 0 → its rates are null.
    ("overLimit", C, D): [
        ("Charlie", SUB, "Sub-C1", 30, 40, 20, 0, 1, True, 40 / 30, 20 / 30, 10),
        ("Alpha", SUB, "Sub-A1", 0, 2, 1, 0, 2, False, None, None, 2),
        ("Golf", SUB, "Sub-G1", 10, 12, 3, 0, 1, True, 1.2, 0.3, 2),
    ],
    ("overLimit", M, E): [],
    ("overLimit", C, E): [],  # on E every CALLING line is at 0 (alpha: 0 > 0 is false)
}

EXPECTED_KPIS = {
    # newCustomers {foxtrot, bravo, alpha, delta} = 4; totalLicenses 5 + 20 + 10 + 100 + 40 = 175
    ("recentlyAdded", M, D): A.SectionKpis(days=90, new_customers=4, total_licenses=175, row_count=5),
    ("recentlyAdded", C, D): A.SectionKpis(days=90, new_customers=2, total_licenses=20, row_count=2),
    # {bravo, foxtrot, alpha, delta, echo}; 20 + 10 + 100 + 40 + 10 = 180
    ("recentlyAdded", M, E): A.SectionKpis(days=90, new_customers=5, total_licenses=180, row_count=5),
    ("recentlyAdded", C, E): A.SectionKpis(days=90, new_customers=2, total_licenses=20, row_count=2),
    # {bravo, foxtrot, alpha}; Σtotal 20+10+5+100 = 135, Σassigned 5+0+7+60 = 72, Σused 2+0+3+30 = 35
    ("expiring", M, D): A.SectionKpis(
        days=90, expiring_customers=3, license_assignment_rate=72 / 135, license_usage_rate=35 / 135, row_count=4
    ),
    # Σtotal 0 → both rates null
    ("expiring", C, D): A.SectionKpis(
        days=90, expiring_customers=1, license_assignment_rate=None, license_usage_rate=None, row_count=1
    ),
    # Σtotal 30, Σassigned 0, Σused 0 → 0.0 (not null)
    ("expiring", M, E): A.SectionKpis(
        days=90, expiring_customers=2, license_assignment_rate=0.0, license_usage_rate=0.0, row_count=2
    ),
    ("expiring", C, E): A.SectionKpis(
        days=90, expiring_customers=0, license_assignment_rate=None, license_usage_rate=None, row_count=0
    ),
    # Σtotal 150, Σassigned 10+5 = 15, Σused 5+2 = 7
    ("renewing", M, D): A.SectionKpis(
        days=90, renewing_customers=2, license_assignment_rate=0.1, license_usage_rate=7 / 150, row_count=2
    ),
    # Σtotal 40, Σassigned 40+12 = 52, Σused 20+3 = 23
    ("renewing", C, D): A.SectionKpis(
        days=90, renewing_customers=2, license_assignment_rate=1.3, license_usage_rate=0.575, row_count=2
    ),
    ("renewing", M, E): A.SectionKpis(
        days=90, renewing_customers=2, license_assignment_rate=0.1, license_usage_rate=7 / 150, row_count=2
    ),
    ("renewing", C, E): A.SectionKpis(
        days=90, renewing_customers=2, license_assignment_rate=0.0, license_usage_rate=0.0, row_count=2
    ),
    # golf: 5/100, used/assigned 2/5, unassigned 95
    ("lowAssignment", M, D): A.SectionKpis(
        median_assignment_rate=0.2,
        low_assignment_customers=1,
        license_assignment_rate=0.05,
        usage_when_assigned_rate=0.4,
        total_unassigned_licenses=95,
        row_count=1,
    ),
    # delta: 4/20, 2/4, 16
    ("lowAssignment", C, D): A.SectionKpis(
        median_assignment_rate=1.2,
        low_assignment_customers=1,
        license_assignment_rate=0.2,
        usage_when_assigned_rate=0.5,
        total_unassigned_licenses=16,
        row_count=1,
    ),
    ("lowAssignment", M, E): A.SectionKpis(
        median_assignment_rate=0.25,
        low_assignment_customers=1,
        license_assignment_rate=0.05,
        usage_when_assigned_rate=0.4,
        total_unassigned_licenses=95,
        row_count=1,
    ),
    # no rows: rates over nothing are null; the median itself is 0
    ("lowAssignment", C, E): A.SectionKpis(
        median_assignment_rate=0.0,
        low_assignment_customers=0,
        license_assignment_rate=None,
        usage_when_assigned_rate=None,
        total_unassigned_licenses=0,
        row_count=0,
    ),
    ("overLimit", M, D): A.SectionKpis(
        customers_with_overage=1, total_overage_licenses=2, average_overage=2.0, row_count=1
    ),
    # 10 + 2 + 2 = 14 over 3 customers
    ("overLimit", C, D): A.SectionKpis(
        customers_with_overage=3, total_overage_licenses=14, average_overage=14 / 3, row_count=3
    ),
    ("overLimit", M, E): A.SectionKpis(
        customers_with_overage=0, total_overage_licenses=0, average_overage=None, row_count=0
    ),
    ("overLimit", C, E): A.SectionKpis(
        customers_with_overage=0, total_overage_licenses=0, average_overage=None, row_count=0
    ),
}

CASES = sorted(EXPECTED_ROWS, key=lambda k: (k[0], k[1], k[2]))


def _id(case):
    return f"{case[0]}-{case[1]}-{case[2].isoformat()}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
async def test_section_rows(session, viewers, case):
    section, product, as_of = case
    rows = await all_rows(session, viewers["full"], section, product, as_of)
    assert as_tuples(rows, section) == approx_tuples(EXPECTED_ROWS[case])


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
async def test_section_kpis(session, viewers, case):
    section, product, as_of = case
    got = await kpi(session, viewers["full"], section, product, as_of)
    expected = EXPECTED_KPIS[case]
    assert type(got) is type(expected)
    assert vars(got).keys() == vars(expected).keys()
    for name, value in vars(expected).items():
        assert getattr(got, name) == (pytest.approx(value) if isinstance(value, float) else value), name


def _aggregate(section, rows):
    customers = len({r.customer_id for r in rows})
    total = sum(r.total_licenses for r in rows)
    assigned = sum(r.assigned for r in rows)
    used = sum(r.used for r in rows)
    ratio = lambda a, b: a / b if b else None  # noqa: E731
    if section == "recentlyAdded":
        return {"new_customers": customers, "total_licenses": total}
    if section in ("expiring", "renewing"):
        name = "expiring_customers" if section == "expiring" else "renewing_customers"
        return {
            name: customers,
            "license_assignment_rate": ratio(assigned, total),
            "license_usage_rate": ratio(used, total),
        }
    if section == "lowAssignment":
        return {
            "low_assignment_customers": customers,
            "license_assignment_rate": ratio(assigned, total),
            "usage_when_assigned_rate": ratio(used, assigned),
            "total_unassigned_licenses": sum(r.available for r in rows),
        }
    overage = sum(r.overage for r in rows)
    return {
        "customers_with_overage": customers,
        "total_overage_licenses": overage,
        "average_overage": ratio(overage, customers),
    }


@pytest.mark.parametrize("viewer", ["full", "sales", "globex"])
@pytest.mark.parametrize("as_of", [D, E])
async def test_kpis_equal_aggregate_of_rows(session, viewers, viewer, as_of):
    """Every section KPI is exactly what the section's rows add up to (paged 2 at a time)."""
    for section, product in itertools.product(ROWS, (M, C)):
        rows = await all_rows(session, viewers[viewer], section, product, as_of, page_size=2)
        got = await kpi(session, viewers[viewer], section, product, as_of)
        assert got.row_count == len(rows)
        for name, value in _aggregate(section, rows).items():
            assert getattr(got, name) == (pytest.approx(value) if isinstance(value, float) else value), (
                section,
                product,
                name,
            )


# --------------------------------------------------------------------------
# Summary KPIs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "viewer, as_of, expected",
    [
        # customers with a live MEETINGS/CALLING line: alpha..golf = 7 (hotel: none live; india: MESSAGING only).
        # expiring: M {bravo, foxtrot, alpha} ∪ C {alpha} = 3; renewing: {charlie, golf} = 2;
        # low: M {golf} ∪ C {delta} = 2; over: M {foxtrot} ∪ C {charlie, alpha, golf} = 4.
        ("full", D, (7, 3, 2, 2, 4)),
        # E: expiring M {bravo, foxtrot}; renewing {charlie, golf}; low M {golf}; no overage.
        ("full", E, (7, 2, 2, 1, 0)),
        # sales admin sees alpha, delta, echo, golf: total 4; expiring {alpha}; renewing {golf};
        # low {golf (M), delta (C)}; over {alpha, golf} (C).
        ("sales", D, (4, 1, 1, 2, 2)),
        # E: expiring none visible (bravo, foxtrot are not its); renewing {golf}; low {golf}; over none.
        ("sales", E, (4, 0, 1, 1, 0)),
        # globex sees only its own alpha: expiring (6 days, not renewing); its lone eligible M line is
        # the median itself → not low; C 9 > 1 → over.
        ("globex", D, (1, 1, 0, 0, 1)),
    ],
)
async def test_summary_kpis(session, viewers, viewer, as_of, expected):
    got = await A.kpis(session=session, viewer=viewers[viewer], as_of=as_of)
    assert got.as_of == as_of
    assert (
        got.total_customers,
        got.expiring,
        got.renewing,
        got.low_license_assignment,
        got.over_license_limit,
    ) == expected


@pytest.mark.parametrize(
    "viewer, product, expected",
    [
        # MEETINGS lines live on D: alpha, bravo (trial ends on D, still live), charlie, delta, echo,
        # foxtrot, golf = 7; expiring {bravo D+0, foxtrot D+25, alpha D+90} = 3 (echo D+91 is out);
        # renewing {charlie D+30, golf D+60} = 2 (delta D+91 is out); low {golf}; over {foxtrot: 7 > 5}.
        ("full", M, (7, 3, 2, 1, 1)),
        # CALLING lines live on D: alpha (total 0), charlie, delta, golf = 4; expiring {alpha};
        # renewing {charlie, golf}; low {delta}; over {alpha 2 > 0, charlie 40 > 30, golf 12 > 10} = 3.
        # The two products' sets unite to the both-products row above: (7, 3, 2, 2, 4).
        ("full", C, (4, 1, 2, 1, 3)),
        # The sales admin's alpha, delta, echo, golf: all have MEETINGS; expiring {alpha}; renewing
        # {golf}; low {golf}; none over (alpha 60/100, delta 38/40, echo 1/10, golf 5/100).
        ("sales", M, (4, 1, 1, 1, 0)),
        # Its CALLING lines: alpha, delta, golf = 3; expiring {alpha}; renewing {golf}; low {delta};
        # over {alpha, golf}. United with MEETINGS: (4, 1, 1, 2, 2), the both-products row.
        ("sales", C, (3, 1, 1, 1, 2)),
    ],
)
async def test_summary_kpis_of_one_product(session, viewers, viewer, product, expected):
    got = await A.kpis(session=session, viewer=viewers[viewer], as_of=D, product=product)
    assert got.as_of == D
    assert (
        got.total_customers,
        got.expiring,
        got.renewing,
        got.low_license_assignment,
        got.over_license_limit,
    ) == expected


async def test_summary_kpis_of_a_product_that_is_not_a_kpi_product(session, viewers):
    with pytest.raises(GraphQLError, match="`product` must be one of MEETINGS, CALLING; got 'MESSAGING'"):
        await A.kpis(session=session, viewer=viewers["full"], as_of=D, product="MESSAGING")


@pytest.mark.parametrize("viewer", ["full", "sales"])
@pytest.mark.parametrize("as_of", [D, E])
@pytest.mark.parametrize("product", [None, M, C])
async def test_summary_kpis_are_the_sections_customers(session, viewers, viewer, as_of, product):
    """Each summary count is the distinct customers of that section's rows over both products (or the one)."""
    v = viewers[viewer]
    got = await A.kpis(session=session, viewer=v, as_of=as_of, product=product)
    for section, value in [
        ("expiring", got.expiring),
        ("renewing", got.renewing),
        ("lowAssignment", got.low_license_assignment),
        ("overLimit", got.over_license_limit),
    ]:
        customers = set()
        for of in (M, C) if product is None else (product,):
            customers |= {r.customer_id for r in await all_rows(session, v, section, of, as_of)}
        assert value == len(customers), section


# --------------------------------------------------------------------------
# Sales admin scope and the partner-wide median
# --------------------------------------------------------------------------


async def test_sales_admin_low_assignment_uses_partner_wide_median(session, viewers):
    # Visible eligible MEETINGS lines of the sales admin on D: alpha 0.6, delta 0.95, echo 0.1, golf 0.05.
    # Their own median would be (0.1 + 0.6) / 2 = 0.35 and make echo (0.1 < 0.175) low too; the
    # partner-wide median stays 0.2 (threshold 0.1), so only golf is low.
    sales = viewers["sales"]
    got = await kpi(session, sales, "lowAssignment", M, D)
    assert got.median_assignment_rate == pytest.approx(0.2)
    assert got.low_assignment_customers == 1
    rows = await all_rows(session, sales, "lowAssignment", M, D)
    assert [r.customer_name for r in rows] == ["Golf"]


async def test_sales_admin_sections_only_count_assigned_customers(session, viewers):
    sales = viewers["sales"]
    # expiring M on D: of bravo, foxtrot ×2, alpha only alpha is assigned: Σ 100 / 60 / 30.
    got = await kpi(session, sales, "expiring", M, D)
    assert got == A.SectionKpis(
        days=90, expiring_customers=1, license_assignment_rate=0.6, license_usage_rate=0.3, row_count=1
    )
    # overLimit C on D: alpha (2) and golf (2); charlie is not assigned → 4 over 2 customers.
    got = await kpi(session, sales, "overLimit", C, D)
    assert got == A.SectionKpis(customers_with_overage=2, total_overage_licenses=4, average_overage=2.0, row_count=2)
    rows = await all_rows(session, sales, "overLimit", C, D)
    assert [r.customer_name for r in rows] == ["Alpha", "Golf"]


async def test_other_partner_sees_only_its_own(session, viewers):
    globex = viewers["globex"]
    # globex alpha: M 1000 (5, 1, 1), ends 12-01 (6 days), not renewing.
    got = await kpi(session, globex, "expiring", M, D)
    assert got == A.SectionKpis(
        days=90, expiring_customers=1, license_assignment_rate=5 / 1000, license_usage_rate=1 / 1000, row_count=1
    )
    # its only eligible M line (328 days old) is its median: 0.005
    low = await kpi(session, globex, "lowAssignment", M, D)
    assert low.median_assignment_rate == pytest.approx(0.005)
    assert low.low_assignment_customers == 0
    rows = await all_rows(session, globex, "overLimit", C, D)
    assert as_tuples(rows, "overLimit") == approx_tuples(
        # 2026-11-25 → 2026-12-01: 1 month - 1 (1 < 25) = 0; rate 9/1, usage 1/1
        [("Alpha", SUB, "Sub-A1", 1, 9, 1, 0, 0, False, 9.0, 1.0, 8)]
    )
    trend = await A.license_trend(session=session, viewer=globex, product=M, as_of=D, weeks=1)
    assert trend == [A.TrendPoint(D, 1000, 5, 1)]


# --------------------------------------------------------------------------
# Settings and windows
# --------------------------------------------------------------------------


async def test_low_assignment_settings(session, viewers):
    # min days 29 makes foxtrot's Sub-F1 (29 days, total 10, 0 assigned → rate 0) eligible:
    # MEETINGS on D then [0, 0.05, 0.1, 0.2, 0.6, 0.95] → median (0.1 + 0.2) / 2 = 0.15, threshold 0.075:
    # Sub-F1 (0) and golf (0.05) are low.
    settings = get_settings().replace(low_assignment_min_days=29)
    got = await KPIS["lowAssignment"](session=session, viewer=viewers["full"], product=M, as_of=D, settings=settings)
    assert got.median_assignment_rate == pytest.approx(0.15)
    rows = await ROWS["lowAssignment"](session=session, viewer=viewers["full"], product=M, as_of=D, settings=settings)
    assert [(r.customer_name, r.subscription_id, r.assignment_rate) for r in rows.rows] == [
        ("Foxtrot", "Sub-F1", 0.0),
        ("Golf", "Sub-G1", pytest.approx(0.05)),
    ]
    # factor 0.6 with the default 30 days: median 0.2 → threshold 0.12: echo (0.1) joins golf.
    settings = get_settings().replace(low_assignment_factor=0.6)
    rows = await ROWS["lowAssignment"](session=session, viewer=viewers["full"], product=M, as_of=D, settings=settings)
    assert [r.customer_name for r in rows.rows] == ["Golf", "Echo"]


async def test_settings_come_from_the_environment(session, viewers, monkeypatch):
    monkeypatch.setenv("PARTNERHUB_LOW_ASSIGNMENT_FACTOR", "0.6")
    rows = await ROWS["lowAssignment"](session=session, viewer=viewers["full"], product=M, as_of=D)
    assert [r.customer_name for r in rows.rows] == ["Golf", "Echo"]


async def test_day_windows(session, viewers):
    full = viewers["full"]
    # recentlyAdded(29) on D: Trial-F1 5, bravo 10, Sub-F1 29 (alpha's 30 is out)
    page = await ROWS["recentlyAdded"](session=session, viewer=full, product=M, as_of=D, days=29)
    assert [r.subscription_id for r in page.rows] == ["Trial-F1", "Trial-B1", "Sub-F1"]
    # recentlyAdded(0) on D: nothing started on D
    assert (await KPIS["recentlyAdded"](session=session, viewer=full, product=M, as_of=D, days=0)).new_customers == 0
    # expiring(0) on D: only bravo's trial ends on D
    page = await ROWS["expiring"](session=session, viewer=full, product=M, as_of=D, days=0)
    assert [r.subscription_id for r in page.rows] == ["Trial-B1"]
    # expiring(91): echo (91) joins; renewing(91): delta (91) joins; renewing(30): charlie (30) only
    page = await ROWS["expiring"](session=session, viewer=full, product=M, as_of=D, days=91)
    assert [r.subscription_id for r in page.rows] == ["Trial-B1", "Sub-F1", "Trial-F1", "Sub-A1", "Sub-E1"]
    page = await ROWS["renewing"](session=session, viewer=full, product=M, as_of=D, days=91)
    assert [r.subscription_id for r in page.rows] == ["Sub-C1", "Sub-G1", "Sub-D1"]
    page = await ROWS["renewing"](session=session, viewer=full, product=M, as_of=D, days=30)
    assert [r.subscription_id for r in page.rows] == ["Sub-C1"]
    got = await KPIS["renewing"](session=session, viewer=full, product=M, as_of=D, days=30)
    assert got.days == 30 and got.renewing_customers == 1


@pytest.mark.parametrize("days", [-1, 3651])
async def test_days_are_validated(session, viewers, days):
    for fn in (KPIS["recentlyAdded"], ROWS["expiring"], KPIS["renewing"]):
        with pytest.raises(GraphQLError) as err:
            await fn(session=session, viewer=viewers["full"], product=M, as_of=D, days=days)
        assert err.value.extensions == {"code": "BAD_USER_INPUT"}
        assert "days" in err.value.message


async def test_product_is_validated(session, viewers):
    with pytest.raises(GraphQLError) as err:
        await KPIS["overLimit"](session=session, viewer=viewers["full"], product="MESSAGING", as_of=D)
    assert err.value.extensions == {"code": "BAD_USER_INPUT"}


# --------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------


async def test_rows_are_paged_by_keyset(session, viewers):
    full = viewers["full"]
    kw = {"session": session, "viewer": full, "product": M, "as_of": D}
    first = await ROWS["recentlyAdded"](**kw, first=2)
    assert [r.subscription_id for r in first.rows] == ["Trial-F1", "Trial-B1"]
    assert first.has_next_page and not first.has_previous_page and len(first.cursors) == 2
    second = await ROWS["recentlyAdded"](**kw, first=2, after=first.cursors[-1])
    assert [r.subscription_id for r in second.rows] == ["Sub-F1", "Sub-A1"]
    assert second.has_next_page and second.has_previous_page
    third = await ROWS["recentlyAdded"](**kw, first=2, after=second.cursors[-1])
    assert [r.subscription_id for r in third.rows] == ["Sub-D1"]
    assert not third.has_next_page
    # the descending overLimit order with a tie on overage (alpha, golf: 2), one at a time
    names = [r.customer_name for r in await all_rows(session, full, "overLimit", C, D, page_size=1)]
    assert names == ["Charlie", "Alpha", "Golf"]
    # float sort key (assignment rate) with the factor raised to include several rows
    settings = get_settings().replace(low_assignment_factor=5.0)
    rows = await all_rows(session, full, "lowAssignment", M, D, page_size=1, settings=settings)
    # threshold 1.0: every eligible line, by rate: golf .05, echo .1, charlie .2, alpha .6, delta .95
    assert [r.customer_name for r in rows] == ["Golf", "Echo", "Charlie", "Alpha", "Delta"]


@pytest.mark.parametrize("first, after", [(0, None), (101, None), (2, "nonsense"), (2, "WyJ4Il0")])
async def test_bad_paging_arguments(session, viewers, first, after):
    with pytest.raises(GraphQLError) as err:
        await ROWS["expiring"](session=session, viewer=viewers["full"], product=M, as_of=D, first=first, after=after)
    assert err.value.extensions == {"code": "BAD_USER_INPUT"}


async def test_cursor_of_another_section_is_refused(session, viewers):
    kw = {"session": session, "viewer": viewers["full"], "product": M, "as_of": D}
    page = await ROWS["recentlyAdded"](**kw, first=1)
    with pytest.raises(GraphQLError):
        await ROWS["expiring"](**kw, after=page.cursors[0])


# --------------------------------------------------------------------------
# Licence trend
# --------------------------------------------------------------------------


async def test_license_trend(session, viewers):
    full = viewers["full"]
    trend = await A.license_trend(session=session, viewer=full, product=M, as_of=D, weeks=3)
    assert trend == [
        # W: live alpha 100 (40,20), charlie 50 (no snapshot yet: 0,0), delta 40 (30,20), echo 10 (3,1),
        # Sub-F1 10 (0,0), golf 100 (5,2), hotel's Sub-H5 10 (21,11; live until 11-17);
        # total 320, assigned 40+30+3+5+21 = 99, used 20+20+1+2+11 = 54
        A.TrendPoint(W, 320, 99, 54),
        # E: alpha (50,25), bravo 20 (0,0), charlie (10,5), delta (30,20), echo (3,1), Sub-F1, golf (5,2);
        # total 100+20+50+40+10+10+100 = 330, assigned 50+10+30+3+5 = 98, used 25+5+20+1+2 = 53
        A.TrendPoint(E, 330, 98, 53),
        # D: + Trial-F1 5 (7,3); alpha (60,30), bravo (5,2), charlie (10,5: 11-28 is after D), delta (38,30),
        # echo (1,1), golf (5,2): total 335, assigned 60+5+10+38+1+7+5 = 126, used 30+2+5+30+1+3+2 = 73
        A.TrendPoint(D, 335, 126, 73),
    ]
    # CALLING: alpha 0, charlie 30, delta 20, golf 10 live on both days; snapshots only on D.
    trend = await A.license_trend(session=session, viewer=full, product=C, as_of=D, weeks=2)
    assert trend == [A.TrendPoint(E, 60, 0, 0), A.TrendPoint(D, 60, 2 + 40 + 4 + 12, 1 + 20 + 2 + 3)]
    # default 12 points: the oldest is D - 77 = 2026-09-09, when charlie 50, delta 40, echo 10, golf 100
    # and Sub-H5 10 were live, none with a snapshot yet → (210, 0, 0)
    trend = await A.license_trend(session=session, viewer=full, product=M, as_of=D)
    assert len(trend) == 12
    assert trend[0] == A.TrendPoint(dt.date(2026, 9, 9), 210, 0, 0)
    assert trend[-1] == A.TrendPoint(D, 335, 126, 73)
    assert [p.date for p in trend] == sorted(p.date for p in trend)
    # sales admin: alpha 100 (60,30), delta 40 (38,30), echo 10 (1,1), golf 100 (5,2)
    trend = await A.license_trend(session=session, viewer=viewers["sales"], product=M, as_of=D, weeks=1)
    assert trend == [A.TrendPoint(D, 250, 104, 63)]


@pytest.mark.parametrize("weeks", [0, 53, -1])
async def test_license_trend_weeks_are_validated(session, viewers, weeks):
    with pytest.raises(GraphQLError) as err:
        await A.license_trend(session=session, viewer=viewers["full"], product=M, as_of=D, weeks=weeks)
    assert err.value.extensions == {"code": "BAD_USER_INPUT"}
    assert "weeks" in err.value.message


async def test_license_trend_52_weeks_is_one_statement(session, viewers, engine):
    """The days not cached are one statement however many; cached past days one more read.

    Sales roles are never cached (db/trend_cache.py): 1 statement for 52 points.
    A partner-wide viewer, once the 51 past days are cached: the cache read and
    today's point = 2 statements, with the same numbers as the first request.
    """
    statements = []

    from sqlalchemy import event

    def count(*_args, **_kw):
        statements.append(1)

    kw = {"session": session, "product": M, "as_of": D, "weeks": 52}
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        trend = await A.license_trend(viewer=viewers["sales"], **kw)
        assert len(trend) == 52 and len(statements) == 1
        first = await A.license_trend(viewer=viewers["full"], **kw)  # computes, stores the past days
        await session.commit()  # a new read snapshot (SQLite)
        statements.clear()
        again = await A.license_trend(viewer=viewers["full"], **kw)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert again == first and len(again) == 52 and len(statements) == 2


# --------------------------------------------------------------------------
# Whole months (SPEC §2)
# --------------------------------------------------------------------------


def whole_months(a: dt.date, b: dt.date) -> int:
    """SPEC §2 reference: (b.year − a.year)·12 + (b.month − a.month), minus 1 when b.day < a.day."""
    return (b.year - a.year) * 12 + (b.month - a.month) - (1 if b.day < a.day else 0)


@pytest.mark.parametrize(
    "a, b, months",
    [
        (dt.date(2026, 1, 31), dt.date(2026, 2, 28), 0),  # Feb has no 31st: not a whole month yet
        (dt.date(2026, 1, 31), dt.date(2026, 3, 1), 1),
        (dt.date(2026, 1, 31), dt.date(2026, 3, 31), 2),
        (dt.date(2026, 2, 28), dt.date(2026, 3, 28), 1),
        (dt.date(2026, 2, 28), dt.date(2026, 3, 27), 0),
        (dt.date(2024, 2, 29), dt.date(2025, 2, 28), 11),  # leap day
        (dt.date(2024, 2, 29), dt.date(2025, 3, 1), 12),
        (dt.date(2026, 11, 25), dt.date(2026, 11, 25), 0),
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1), 0),
        (dt.date(2026, 12, 1), dt.date(2027, 1, 1), 1),
    ],
)
async def test_whole_months_in_sql(session, a, b, months):
    assert whole_months(a, b) == months
    since = A.whole_months_since(literal(a, Date), b)  # start column a, day b
    until = A.whole_months_until(literal(b, Date), a)  # day a, end column b
    got = (await session.execute(select(since, until))).one()
    assert tuple(got) == (months, months)


async def test_months_columns_on_month_ends(session, viewers):
    """A plan from 2026-01-31 to 2026-03-31, over limit, viewed on 2026-02-28 and 2026-03-01.

    Added to globex, whose other CALLING line (alpha, total 1) is at 0 before D: the eligible
    rates are [0, 1.2], median 0.6, so with factor 100 Juliet's line is "low" and shows its months.
    """
    full = viewers["globex"]
    await session.execute(
        insert(Customer.__table__).values(
            id=900,
            partner_id=full.partner_id,
            key="juliet",
            name="Juliet",
            **name_columns("Juliet"),
            managed_by="PARTNER_ORG",
            created_on=dt.date(2026, 1, 1),
        )
    )
    await session.execute(
        insert(Plan.__table__).values(
            id=901,
            partner_id=full.partner_id,
            customer_id=900,
            kind="SUBSCRIPTION",
            ext_id="Sub-J1",
            status="ACTIVE",
            starts_on=dt.date(2026, 1, 31),
            ends_on=dt.date(2026, 3, 31),
            auto_renew=False,
        )
    )
    await session.execute(
        insert(LicenseLine.__table__).values(
            id=902,
            plan_id=901,
            product=C,
            total=10,
            cur_date=dt.date(2026, 1, 31),
            cur_assigned=12,
            cur_used=1,
            cur_used90=1,
        )
    )
    await session.execute(
        insert(UsageSnapshot.__table__).values(line_id=902, date=dt.date(2026, 1, 31), assigned=12, used=1, used90=1)
    )
    await session.commit()
    # On 02-28: since 01-31 → 1 - 1 = 0 months; until 03-31 → 1 month (31 ≥ 28).
    # On 03-01: since 01-31 → 2 - 1 = 1 month; until 03-31 → 0 months.
    for as_of, since, remaining in [(dt.date(2026, 2, 28), 0, 1), (dt.date(2026, 3, 1), 1, 0)]:
        over = await ROWS["overLimit"](session=session, viewer=full, product=C, as_of=as_of)
        juliet = [r for r in over.rows if r.customer_name == "Juliet"]
        assert [r.months_remaining for r in juliet] == [remaining]
        settings = get_settings().replace(low_assignment_min_days=0, low_assignment_factor=100.0)
        low = await ROWS["lowAssignment"](session=session, viewer=full, product=C, as_of=as_of, settings=settings)
        juliet = [r for r in low.rows if r.customer_name == "Juliet"]
        assert [r.months_since_added for r in juliet] == [since]


# --------------------------------------------------------------------------
# Through GraphQL execution
# --------------------------------------------------------------------------

DASHBOARD = """
query ($product: KpiProduct!, $asOf: Date) {
  kpis(asOf: $asOf) { asOf totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit }
  analytics(product: $product, asOf: $asOf) {
    product asOf
    licenseTrend(weeks: 3) { date total assigned used }
    recentlyAdded { days newCustomers totalLicenses
      rows(first: 25) { totalCount pageInfo { hasNextPage endCursor }
        nodes { customer { name } planType subscriptionId totalLicenses assigned used available
                daysSinceAdded weeklyAssignmentChange weeklyUsageChange } } }
    expiring { days expiringCustomers licenseAssignmentRate licenseUsageRate
      rows(first: 25) { totalCount edges { cursor node { customer { name } subscriptionId daysToExpiry usageLast3Months } } } }
    renewing { days renewingCustomers licenseAssignmentRate licenseUsageRate
      rows(first: 25) { totalCount nodes { customer { name } subscriptionId daysToRenewal usageLast3Months } } }
    lowAssignment { medianAssignmentRate lowAssignmentCustomers licenseAssignmentRate usageWhenAssignedRate
      totalUnassignedLicenses
      rows(first: 25) { totalCount nodes { customer { name } subscriptionId monthsSinceAdded assignmentRate
                                           weeklyAssignmentChange } } }
    overLimit { customersWithOverage totalOverageLicenses averageOverage
      rows(first: 25) { totalCount nodes { customer { name } planType subscriptionId monthsRemaining autoRenew
                                           assignmentRate usageRate overage } } }
  }
}
"""


import strawberry  # noqa: E402

from schema.analytics import Analytics, KpiSummary, resolve_analytics, resolve_kpis  # noqa: E402
from schema.enums import KpiProduct  # noqa: E402
from schema.types import InfoT  # noqa: E402


@strawberry.type(description="Stand-in root for these tests (the server wires the same resolvers into Query).")
class AnalyticsTestQuery:
    @strawberry.field(description="Summary KPIs.")
    async def kpis(self, info: InfoT, as_of: dt.date | None = None) -> KpiSummary:
        return await resolve_kpis(info, as_of)

    @strawberry.field(description="Analytics of one product.")
    def analytics(self, info: InfoT, product: KpiProduct, as_of: dt.date | None = None) -> Analytics:
        return resolve_analytics(info, product, as_of)


TEST_SCHEMA = strawberry.Schema(query=AnalyticsTestQuery)


async def _execute(session, engine, viewer, query, variables):
    from sqlalchemy import event

    from resolvers.context import Context

    settings = get_settings()
    # The world is written by hand, not through a mutation or an import: build its stored
    # analytics facts for D first, so that the statements counted are a request's on a day
    # whose facts exist (tests/test_analytics_facts.py counts the rebuild itself).
    await analytics_facts.ensure_fresh(
        engine, partner_id=viewer.partner_id, day=D, min_days=settings.low_assignment_min_days
    )
    await session.connection()
    context = Context.create(session=session, viewer=viewer, today=D, settings=settings)
    statements = []

    def count(*_args, **_kw):
        statements.append(1)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        result = await TEST_SCHEMA.execute(query, variable_values=variables, context_value=context)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return result, len(statements)


async def test_dashboard_through_graphql(session, engine, viewers):
    # The first request computes the trend's past days and stores them (db/trend_cache.py);
    # the second reads them back: same answer, and its statements are the ones counted below.
    first, _ = await _execute(session, engine, viewers["full"], DASHBOARD, {"product": "CALLING"})
    await session.commit()  # a new read snapshot (SQLite)
    result, statements = await _execute(session, engine, viewers["full"], DASHBOARD, {"product": "CALLING"})
    assert result.errors is None, result.errors
    assert result.data == first.data
    data = result.data
    assert data["kpis"] == {
        "asOf": "2026-11-25",
        "totalCustomers": 7,
        "expiring": 3,
        "renewing": 2,
        "lowLicenseAssignment": 2,
        "overLicenseLimit": 4,
    }
    a = data["analytics"]
    assert (a["product"], a["asOf"]) == ("CALLING", "2026-11-25")
    assert a["licenseTrend"] == [
        {"date": "2026-11-11", "total": 60, "assigned": 0, "used": 0},
        {"date": "2026-11-18", "total": 60, "assigned": 0, "used": 0},
        {"date": "2026-11-25", "total": 60, "assigned": 58, "used": 26},
    ]
    recent = a["recentlyAdded"]
    assert (recent["days"], recent["newCustomers"], recent["totalLicenses"]) == (90, 2, 20)
    assert recent["rows"]["totalCount"] == 2 and recent["rows"]["pageInfo"]["hasNextPage"] is False
    assert recent["rows"]["nodes"][0] == {
        "customer": {"name": "Alpha"},
        "planType": "SUBSCRIPTION",
        "subscriptionId": "Sub-A1",
        "totalLicenses": 0,
        "assigned": 2,
        "used": 1,
        "available": 0,
        "daysSinceAdded": 30,
        "weeklyAssignmentChange": None,
        "weeklyUsageChange": None,
    }
    expiring = a["expiring"]
    assert (expiring["expiringCustomers"], expiring["licenseAssignmentRate"], expiring["licenseUsageRate"]) == (
        1,
        None,
        None,
    )
    assert [e["node"] for e in expiring["rows"]["edges"]] == [
        {"customer": {"name": "Alpha"}, "subscriptionId": "Sub-A1", "daysToExpiry": 90, "usageLast3Months": 1}
    ]
    renewing = a["renewing"]
    assert renewing["renewingCustomers"] == 2
    assert renewing["licenseAssignmentRate"] == pytest.approx(1.3)
    assert [(n["customer"]["name"], n["daysToRenewal"], n["usageLast3Months"]) for n in renewing["rows"]["nodes"]] == [
        ("Charlie", 30, 25),
        ("Golf", 60, 5),
    ]
    low = a["lowAssignment"]
    assert low["medianAssignmentRate"] == pytest.approx(1.2)
    assert (low["lowAssignmentCustomers"], low["totalUnassignedLicenses"], low["rows"]["totalCount"]) == (1, 16, 1)
    assert low["rows"]["nodes"] == [
        {
            "customer": {"name": "Delta"},
            "subscriptionId": "Sub-D1",
            "monthsSinceAdded": 2,
            "assignmentRate": pytest.approx(0.2),
            "weeklyAssignmentChange": None,
        }
    ]
    over = a["overLimit"]
    assert (over["customersWithOverage"], over["totalOverageLicenses"]) == (3, 14)
    assert over["averageOverage"] == pytest.approx(14 / 3)
    assert [
        (n["customer"]["name"], n["overage"], n["monthsRemaining"], n["autoRenew"]) for n in over["rows"]["nodes"]
    ] == [("Charlie", 10, 1, True), ("Alpha", 2, 2, False), ("Golf", 2, 1, True)]
    # kpis 1 + trend 2 (cached past days, today's point) + 5 sections × (KPIs incl. totalCount 1
    # + rows 1) = 13, plus the batched customer loads of the rows' `customer` fields (this test
    # schema runs stock strawberry): the sections' rows arrive in two event-loop rounds, so two
    # loads = 15 (at most one per section, 18, if batching ever got worse); + 1: the day of the
    # stored analytics facts, read once per request (db/analytics_facts.py) = 16.
    assert statements == 16, statements


async def test_sections_are_lazy_through_graphql(session, engine, viewers):
    query = "query { analytics(product: MEETINGS) { product asOf overLimit { customersWithOverage averageOverage rows { totalCount } } } }"
    result, statements = await _execute(session, engine, viewers["full"], query, {})
    assert result.errors is None, result.errors
    assert result.data["analytics"]["overLimit"] == {
        "customersWithOverage": 1,
        "averageOverage": 2.0,
        "rows": {"totalCount": 1},
    }
    # one KPI statement serves every KPI field and totalCount, plus the rows statement, plus the
    # stored facts' day (read once per request: the full admin reads today from the facts)
    assert statements == 3


async def test_bad_days_through_graphql(session, engine, viewers):
    query = "query { analytics(product: MEETINGS) { expiring(days: 4000) { expiringCustomers } } }"
    result, _ = await _execute(session, engine, viewers["full"], query, {})
    assert result.data == {"analytics": {"expiring": None}}  # the section alone is nulled (SPEC §3.2)
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert result.errors[0].path == ["analytics", "expiring"]
