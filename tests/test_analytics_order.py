"""Analytics section rows: ``orderBy`` on every column, both directions, and ``last``/``before`` paging.

The data set is the one of ``tests/test_analytics.py`` (its module docstring
has the table); the rows of each section used here are listed there in
``EXPECTED_ROWS``, and the orders below are worked out by hand from them.
Every order breaks ties by customer name, subscriptionId and plan, ascending;
a null value comes last in both directions.
"""

from __future__ import annotations

import pytest
import strawberry
from graphql import GraphQLError

from db.settings import get_settings
from resolvers import analytics as A
from resolvers.analytics.declare import Column, Kpi, SectionDeclaration
from schema.analytics import section_type
from tests.test_analytics import DASHBOARD, D, M, _execute, insert_world

C = "CALLING"


@pytest.fixture
async def acme(session):
    """The viewers of the data set of ``tests/test_analytics.py``."""
    return await insert_world(session)


# threshold 5 × median 0.2 = 1.0: every eligible MEETINGS line on D is "low" (see test_rows_are_paged_by_keyset)
WIDE_LOW = get_settings().replace(low_assignment_factor=5.0)


async def page(session, viewer, section, product=M, *, settings=None, **paging):
    scope = A.section_scope(section, session=session, viewer=viewer, product=product, as_of=D, settings=settings)
    return await A.section_rows(scope, **paging)


async def ordered_ids(session, viewer, section, field, descending, product=M, settings=None, size=1):
    """Every row's subscriptionId in the order, walked ``size`` rows a page (each cursor crossed once)."""
    ids, after = [], None
    order = A.RowOrder(field, descending)
    while True:
        got = await page(session, viewer, section, product, settings=settings, first=size, after=after, order=order)
        ids += [r.subscription_id for r in got.rows]
        if not got.has_next_page:
            return ids
        after = got.cursors[-1]


ORDERS = [
    # recentlyAdded M: Trial-F1 (Foxtrot, change null), Trial-B1 (Bravo, null), Sub-F1 (Foxtrot, null),
    # Sub-A1 (Alpha, +10), Sub-D1 (Delta, +8).
    # by weekly change: 8 < 10, then the nulls by name (bravo < foxtrot) and subscriptionId (Sub- < Trial-)
    ("recentlyAdded", "WEEKLY_ASSIGNMENT_CHANGE", False, M, ["Sub-D1", "Sub-A1", "Trial-B1", "Sub-F1", "Trial-F1"]),
    ("recentlyAdded", "WEEKLY_ASSIGNMENT_CHANGE", True, M, ["Sub-A1", "Sub-D1", "Trial-B1", "Sub-F1", "Trial-F1"]),
    # by name: alpha, bravo, delta, foxtrot (Sub-F1, Trial-F1); descending names, the foxtrot tie still ascending
    ("recentlyAdded", "CUSTOMER_NAME", False, M, ["Sub-A1", "Trial-B1", "Sub-D1", "Sub-F1", "Trial-F1"]),
    ("recentlyAdded", "CUSTOMER_NAME", True, M, ["Sub-F1", "Trial-F1", "Sub-D1", "Trial-B1", "Sub-A1"]),
    # expiring M: Trial-B1 (u90 3, total 20), Sub-F1 (0, 10), Trial-F1 (4, 5), Sub-A1 (40, 100)
    ("expiring", "USAGE_LAST3_MONTHS", False, M, ["Sub-F1", "Trial-B1", "Trial-F1", "Sub-A1"]),
    ("expiring", "USAGE_LAST3_MONTHS", True, M, ["Sub-A1", "Trial-F1", "Trial-B1", "Sub-F1"]),
    ("expiring", "TOTAL_LICENSES", False, M, ["Trial-F1", "Sub-F1", "Trial-B1", "Sub-A1"]),
    ("expiring", "TOTAL_LICENSES", True, M, ["Sub-A1", "Trial-B1", "Sub-F1", "Trial-F1"]),
    # SUBSCRIPTION < TRIAL; within a kind by name: alpha < foxtrot, bravo < foxtrot
    ("expiring", "PLAN_TYPE", False, M, ["Sub-A1", "Sub-F1", "Trial-B1", "Trial-F1"]),
    ("expiring", "PLAN_TYPE", True, M, ["Trial-B1", "Trial-F1", "Sub-A1", "Sub-F1"]),
    # renewing M: Sub-C1 (assigned 10, 30 days), Sub-G1 (5, 60 days)
    ("renewing", "ASSIGNED", False, M, ["Sub-G1", "Sub-C1"]),
    ("renewing", "ASSIGNED", True, M, ["Sub-C1", "Sub-G1"]),
    ("renewing", "DAYS_TO_RENEWAL", True, M, ["Sub-G1", "Sub-C1"]),
    # renewing C: both available 0 → the tie by name (charlie < golf) in both directions
    ("renewing", "AVAILABLE", False, C, ["Sub-C1", "Sub-G1"]),
    ("renewing", "AVAILABLE", True, C, ["Sub-C1", "Sub-G1"]),
    # overLimit C: Sub-C1 (rate 40/30, auto-renew, overage 10), Sub-A1 (total 0: rates null, no
    # auto-renew, 2), Sub-G1 (1.2, auto-renew, 2)
    ("overLimit", "ASSIGNMENT_RATE", False, C, ["Sub-G1", "Sub-C1", "Sub-A1"]),
    ("overLimit", "ASSIGNMENT_RATE", True, C, ["Sub-C1", "Sub-G1", "Sub-A1"]),
    ("overLimit", "USAGE_RATE", False, C, ["Sub-G1", "Sub-C1", "Sub-A1"]),  # 0.3 < 0.667, null last
    ("overLimit", "AUTO_RENEW", False, C, ["Sub-A1", "Sub-C1", "Sub-G1"]),  # false < true
    ("overLimit", "AUTO_RENEW", True, C, ["Sub-C1", "Sub-G1", "Sub-A1"]),
    ("overLimit", "OVERAGE", False, C, ["Sub-A1", "Sub-G1", "Sub-C1"]),  # 2, 2 (alpha < golf), 10
    ("overLimit", "OVERAGE", True, C, ["Sub-C1", "Sub-A1", "Sub-G1"]),  # the default order
]


@pytest.mark.parametrize("section, field, descending, product, expected", ORDERS)
async def test_rows_in_each_order(session, acme, section, field, descending, product, expected):
    for size in (1, 2, 100):
        assert await ordered_ids(session, acme["full"], section, field, descending, product, size=size) == expected


# lowAssignment M with the wide threshold: rate, months since added, weekly change (D vs E):
# golf .05, 2024-01-31 → 24 + 10 - 1 = 33 months, 5 - 5 = 0; echo .1, 08-26 → 3 - 1 = 2, 1 - 3 = -2;
# charlie .2, 12 months, 10 - 10 = 0; alpha .6, 10-26 → 1 - 1 = 0 months, 60 - 50 = 10;
# delta .95, 08-27 → 2 months, 38 - 30 = 8.
LOW_ORDERS = [
    ("ASSIGNMENT_RATE", False, ["Sub-G1", "Sub-E1", "Sub-C1", "Sub-A1", "Sub-D1"]),
    ("ASSIGNMENT_RATE", True, ["Sub-D1", "Sub-A1", "Sub-C1", "Sub-E1", "Sub-G1"]),
    ("MONTHS_SINCE_ADDED", False, ["Sub-A1", "Sub-D1", "Sub-E1", "Sub-C1", "Sub-G1"]),  # delta, echo tie at 2
    ("MONTHS_SINCE_ADDED", True, ["Sub-G1", "Sub-C1", "Sub-D1", "Sub-E1", "Sub-A1"]),
    ("WEEKLY_ASSIGNMENT_CHANGE", False, ["Sub-E1", "Sub-C1", "Sub-G1", "Sub-D1", "Sub-A1"]),  # charlie, golf tie at 0
    ("WEEKLY_ASSIGNMENT_CHANGE", True, ["Sub-A1", "Sub-D1", "Sub-C1", "Sub-G1", "Sub-E1"]),
]


@pytest.mark.parametrize("field, descending, expected", LOW_ORDERS)
async def test_low_assignment_rows_in_each_order(session, acme, field, descending, expected):
    got = await ordered_ids(session, acme["full"], "lowAssignment", field, descending, settings=WIDE_LOW)
    assert got == expected


def test_every_column_of_every_section_is_an_order_field():
    # 7 common columns (customer name, planType, subscriptionId, totalLicenses, assigned, used,
    # available) + each section's own: 3, 2, 2, 3, 5
    counts = {name: len(decl.all_columns) for name, decl in A.SECTIONS.items()}
    assert counts == {"recentlyAdded": 10, "expiring": 9, "renewing": 9, "lowAssignment": 10, "overLimit": 12}


async def test_last_and_before_page_backwards(session, acme):
    full = acme["full"]
    # recentlyAdded M, default order (days since added): Trial-F1 5, Trial-B1 10, Sub-F1 29, Sub-A1 30, Sub-D1 90
    tail = await page(session, full, "recentlyAdded", last=2)
    assert [r.subscription_id for r in tail.rows] == ["Sub-A1", "Sub-D1"]
    assert tail.has_previous_page and not tail.has_next_page
    middle = await page(session, full, "recentlyAdded", last=2, before=tail.cursors[0])
    assert [r.subscription_id for r in middle.rows] == ["Trial-B1", "Sub-F1"]
    assert middle.has_previous_page and middle.has_next_page
    head = await page(session, full, "recentlyAdded", last=2, before=middle.cursors[0])
    assert [r.subscription_id for r in head.rows] == ["Trial-F1"]
    assert not head.has_previous_page and head.has_next_page
    # a forward cursor pages backwards in the same order: before Sub-A1 (from first=4) come Trial-B1, Sub-F1
    forward = await page(session, full, "recentlyAdded", first=4)
    back = await page(session, full, "recentlyAdded", last=2, before=forward.cursors[3])
    assert [r.subscription_id for r in back.rows] == ["Trial-B1", "Sub-F1"]


async def test_backwards_across_nulls_in_a_chosen_order(session, acme):
    # recentlyAdded by weekly change descending: Sub-A1 10, Sub-D1 8, then nulls Trial-B1, Sub-F1, Trial-F1
    order = A.RowOrder("WEEKLY_ASSIGNMENT_CHANGE", True)
    full = acme["full"]
    ids, before = [], None
    while True:
        got = await page(session, full, "recentlyAdded", last=1, before=before, order=order)
        ids = [r.subscription_id for r in got.rows] + ids
        if not got.has_previous_page:
            break
        before = got.cursors[0]
    assert ids == ["Sub-A1", "Sub-D1", "Trial-B1", "Sub-F1", "Trial-F1"]


@pytest.mark.parametrize(
    "paging, message",
    [
        ({"after": "nonsense"}, "`after` is not a cursor of this list and ordering."),
        ({"last": 2, "before": "nonsense"}, "`before` is not a cursor of this list and ordering."),
        ({"last": 0}, "`last` must be between 1 and 100; got 0."),
        ({"last": 101}, "`last` must be between 1 and 100; got 101."),
        ({"first": 2, "last": 2}, "Pass either `first` or `last`, not both."),
    ],
)
async def test_bad_paging_is_refused(session, acme, paging, message):
    order = A.RowOrder("CUSTOMER_NAME")
    with pytest.raises(GraphQLError) as err:
        await page(session, acme["full"], "expiring", order=order, **paging)
    assert err.value.extensions == {"code": "BAD_USER_INPUT"}
    assert err.value.message == message


async def test_a_cursor_of_another_order_is_refused(session, acme):
    full = acme["full"]
    by_name = await page(session, full, "overLimit", C, first=1, order=A.RowOrder("CUSTOMER_NAME"))
    default = await page(session, full, "overLimit", C, first=1)
    cases = [
        (by_name.cursors[0], A.RowOrder("CUSTOMER_NAME", True)),  # other direction
        (by_name.cursors[0], None),  # the default order
        (default.cursors[0], A.RowOrder("CUSTOMER_NAME")),  # the other way round
        (by_name.cursors[0], A.RowOrder("USED")),  # other column
    ]
    for cursor, order in cases:
        for paging in ({"after": cursor}, {"before": cursor}):
            with pytest.raises(GraphQLError) as err:
                await page(session, full, "overLimit", C, order=order, **paging)
            assert err.value.extensions == {"code": "BAD_USER_INPUT"}
            assert "is not a cursor of this list and ordering" in err.value.message
    # a cursor of another section in the same column and direction is refused too
    with pytest.raises(GraphQLError):
        await page(session, full, "renewing", C, after=by_name.cursors[0], order=A.RowOrder("CUSTOMER_NAME"))
    # the default order asked for by name is the default order: its cursors fit
    # (overLimit C by overage desc: Sub-C1, then Sub-A1)
    again = await page(session, full, "overLimit", C, after=default.cursors[0], order=A.RowOrder("OVERAGE", True))
    assert [r.subscription_id for r in again.rows] == ["Sub-A1", "Sub-G1"]


async def test_unknown_order_field_is_refused(session, acme):
    with pytest.raises(GraphQLError) as err:
        await page(session, acme["full"], "renewing", order=A.RowOrder("OVERAGE"))
    assert err.value.extensions == {"code": "BAD_USER_INPUT"}
    assert err.value.message.startswith("`orderBy.field` must be one of CUSTOMER_NAME, PLAN_TYPE,")
    assert err.value.message.endswith("; got 'OVERAGE'.")


ORDERED = """
query ($after: String, $before: String, $last: Int, $first: Int) {
  analytics(product: CALLING) {
    overLimit { customersWithOverage
      rows(first: $first, after: $after, last: $last, before: $before,
           orderBy: { field: ASSIGNMENT_RATE, direction: DESC }) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        nodes { subscriptionId assignmentRate } } }
  }
}
"""


async def test_order_and_backward_paging_through_graphql(session, engine, acme):
    full = acme["full"]
    result, statements = await _execute(session, engine, full, ORDERED, {"first": 2})
    assert result.errors is None, result.errors
    over = result.data["analytics"]["overLimit"]
    # by rate descending: Sub-C1 40/30, Sub-G1 1.2, then Sub-A1 (null)
    assert [n["subscriptionId"] for n in over["rows"]["nodes"]] == ["Sub-C1", "Sub-G1"]
    assert over["rows"]["nodes"][1]["assignmentRate"] == pytest.approx(1.2)
    assert (over["customersWithOverage"], over["rows"]["totalCount"]) == (3, 3)
    assert over["rows"]["pageInfo"]["hasNextPage"] and not over["rows"]["pageInfo"]["hasPreviousPage"]
    # one KPI statement (customersWithOverage and totalCount) + one rows statement + the stored
    # facts' day (a full admin, today: read from db/analytics_facts.py)
    assert statements == 3
    end = over["rows"]["pageInfo"]["endCursor"]
    result, statements = await _execute(session, engine, full, ORDERED, {"last": 5, "before": end})
    assert [n["subscriptionId"] for n in result.data["analytics"]["overLimit"]["rows"]["nodes"]] == ["Sub-C1"]
    assert statements == 3
    result, _ = await _execute(session, engine, full, ORDERED, {"first": 2, "after": "bm9wZQ"})
    assert result.errors[0].message == "`after` is not a cursor of this list and ordering."
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}


# --------------------------------------------------------------------------
# A sixth section is one declaration
# --------------------------------------------------------------------------

TRIALS = SectionDeclaration(
    name="liveTrials",
    type_name="LiveTrials",
    description="Live trials (a test section).",
    field_description="Live trials.",
    row_description="A row of liveTrials.",
    where=lambda plan, line, f: [plan.c.kind == "TRIAL"],
    columns=(Column("days_left", int, "Days to the trial's end.", lambda b, f: b.c.days_until_end),),
    order=("days_left", True),
    kpis=(Kpi("trial_customers", int, "Distinct customers among the rows.", lambda a: a.customers),),
)


async def test_a_sixth_section_is_one_declaration(session, engine, acme):
    # live MEETINGS trials on D: Trial-B1 (bravo, ends D: 0 days), Trial-F1 (foxtrot, ends 12-20: 25 days);
    # by days left descending: Trial-F1, Trial-B1
    scope = A.section_scope(TRIALS, session=session, viewer=acme["full"], product=M, as_of=D)
    rows = await A.section_rows(scope)
    assert [(r.subscription_id, r.days_left) for r in rows.rows] == [("Trial-F1", 25), ("Trial-B1", 0)]
    assert await A.section_kpis(scope) == A.SectionKpis(trial_customers=2, row_count=2)
    by_name = await A.section_rows(scope, order=A.RowOrder("CUSTOMER_NAME"))
    assert [r.subscription_id for r in by_name.rows] == ["Trial-B1", "Trial-F1"]
    # its GraphQL types come from the same path as the five sections'
    section = section_type(TRIALS)

    def trials() -> object:
        return section(product=M, as_of=D)

    trials.__annotations__["return"] = section  # the generated class itself (this module postpones annotations)
    root = strawberry.type(
        type("Query", (), {"trials": strawberry.field(resolver=trials, description="The test section.")})
    )
    sdl = strawberry.Schema(query=root).as_str()
    assert "type LiveTrialsSection {" in sdl and "trialCustomers: Int!" in sdl
    assert "enum LiveTrialsRowOrderField {" in sdl and "  DAYS_LEFT\n" in sdl
    assert "input LiveTrialsRowOrder {" in sdl and "type LiveTrialsRow implements AnalyticsRow {" in sdl


async def test_a_repeated_dashboard_builds_no_statement_again(session, engine, acme):
    # Building the statements costs more than running them, so they are memoised; a dashboard
    # asks for 5 sections × (row query, KPI statement, ordered rows): with one cache of 4 entries
    # shared by the sections (as before) every request rebuilt them.
    builders = (A.row_query, A.aggregate_statement, A.ordered_rows)
    await _execute(session, engine, acme["full"], DASHBOARD, {"product": "CALLING"})
    misses = [b.cache_info().misses for b in builders]
    await _execute(session, engine, acme["full"], DASHBOARD, {"product": "CALLING"})
    assert [b.cache_info().misses for b in builders] == misses
