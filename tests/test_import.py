"""Import validation, loading, idempotence and round trips of the db/io package (SPEC §5)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.io import ImportValidationError, dump_json, export_document, load_document, validate_document
from db.io.existing import Existing
from db.models import ApiToken, LicenseLine, Plan, metadata

C0 = "partners[0].customers[0]"
SUB0 = f"{C0}.subscriptions[0]"
LINE0 = f"{SUB0}.lines[0]"


def small_doc() -> dict[str, Any]:
    """The SPEC §5 example, plus a second admin, customer and line."""
    return {
        "partners": [
            {
                "id": "acme",
                "name": "Acme Partner",
                "admins": [
                    {
                        "id": "a1",
                        "email": "Ana@Acme.example",
                        "displayName": "Ana",
                        "role": "PARTNER_FULL_ADMIN",
                        "token": "plain-token-of-ana",
                    },
                    {"id": "a2", "email": "bo@acme.example", "displayName": "Bo", "role": "SALES_ADMIN"},
                ],
                "customers": [
                    {
                        "id": "c1",
                        "name": "Globex",
                        "managedBy": "PARTNER_ORG",
                        "createdOn": "2026-01-10",
                        "lastAdminActivityOn": "2026-11-20",
                        "admins": ["a2"],
                        "subscriptions": [
                            {
                                "subscriptionId": "Sub-100001",
                                "status": "ACTIVE",
                                "startsOn": "2026-01-10",
                                "endsOn": "2027-01-09",
                                "autoRenew": True,
                                "lines": [
                                    {
                                        "product": "MEETINGS",
                                        "total": 100,
                                        # Deliberately newest first: cur_* must follow the date.
                                        "usage": [
                                            {"date": "2026-11-18", "assigned": 80, "used": 61, "used90": 75},
                                            {"date": "2026-11-11", "assigned": 70, "used": 60, "used90": 70},
                                        ],
                                    },
                                    {"product": "CALLING", "total": 20},
                                ],
                                "invoices": [
                                    {
                                        "number": "INV-1",
                                        "issuedOn": "2026-01-10",
                                        "dueOn": "2026-02-09",
                                        "amount": "1234.50",
                                        "currency": "USD",
                                        "status": "PAID",
                                    }
                                ],
                                "orders": [
                                    {
                                        "number": "ORD-1",
                                        "placedOn": "2026-01-05",
                                        "action": "NEW",
                                        "product": "MEETINGS",
                                        "quantity": 100,
                                    }
                                ],
                            }
                        ],
                        "trials": [
                            {
                                "trialId": "Trial-1",
                                "status": "ACTIVE",
                                "startsOn": "2026-11-01",
                                "endsOn": "2026-12-01",
                                "startedBy": "a1",
                                "lines": [],
                            }
                        ],
                    },
                    {
                        "id": "c2",
                        "name": "Čačak Telekom",
                        "managedBy": "EXTERNAL_ADMIN",
                        "createdOn": "2025-05-01",
                        "lastAdminActivityOn": None,
                    },
                ],
            }
        ]
    }


# The export of small_doc(): emails lower-cased, no token, amount as a
# 2-decimal string, lines in Product order (MEETINGS before CALLING), usage
# by date, customers by name ("globex" < "čačak telekom": 'g' U+0067 sorts
# before 'č' U+010D), optional lists present and empty.
EXPECTED_EXPORT = {
    "partners": [
        {
            "id": "acme",
            "name": "Acme Partner",
            "admins": [
                {"id": "a1", "email": "ana@acme.example", "displayName": "Ana", "role": "PARTNER_FULL_ADMIN"},
                {"id": "a2", "email": "bo@acme.example", "displayName": "Bo", "role": "SALES_ADMIN"},
            ],
            "customers": [
                {
                    "id": "c1",
                    "name": "Globex",
                    "managedBy": "PARTNER_ORG",
                    "createdOn": "2026-01-10",
                    "lastAdminActivityOn": "2026-11-20",
                    "admins": ["a2"],
                    "subscriptions": [
                        {
                            "subscriptionId": "Sub-100001",
                            "status": "ACTIVE",
                            "startsOn": "2026-01-10",
                            "endsOn": "2027-01-09",
                            "autoRenew": True,
                            "lines": [
                                {
                                    "product": "MEETINGS",
                                    "total": 100,
                                    "usage": [
                                        {"date": "2026-11-11", "assigned": 70, "used": 60, "used90": 70},
                                        {"date": "2026-11-18", "assigned": 80, "used": 61, "used90": 75},
                                    ],
                                },
                                {"product": "CALLING", "total": 20, "usage": []},
                            ],
                            "invoices": [
                                {
                                    "number": "INV-1",
                                    "issuedOn": "2026-01-10",
                                    "dueOn": "2026-02-09",
                                    "amount": "1234.50",
                                    "currency": "USD",
                                    "status": "PAID",
                                }
                            ],
                            "orders": [
                                {
                                    "number": "ORD-1",
                                    "placedOn": "2026-01-05",
                                    "action": "NEW",
                                    "product": "MEETINGS",
                                    "quantity": 100,
                                }
                            ],
                        }
                    ],
                    "trials": [
                        {
                            "trialId": "Trial-1",
                            "status": "ACTIVE",
                            "startsOn": "2026-11-01",
                            "endsOn": "2026-12-01",
                            "startedBy": "a1",
                            "lines": [],
                        }
                    ],
                },
                {
                    "id": "c2",
                    "name": "Čačak Telekom",
                    "managedBy": "EXTERNAL_ADMIN",
                    "createdOn": "2025-05-01",
                    "lastAdminActivityOn": None,
                    "admins": [],
                    "subscriptions": [],
                    "trials": [],
                },
            ],
        }
    ]
}


async def export_bytes(session: AsyncSession) -> bytes:
    return dump_json(await export_document(session))


async def wipe(session: AsyncSession) -> None:
    """Empty every table (children first): a fresh database for round trips."""
    for table in reversed(metadata.sorted_tables):
        await session.execute(delete(table))
    await session.commit()


async def test_valid_small_document_loads(session: AsyncSession) -> None:
    assert validate_document(small_doc()) == []
    result = await load_document(session, small_doc())
    # 1 partner + 2 admins + 1 token + 2 customers + 1 assignment + 1 sub
    # + 1 trial + 2 lines + 2 snapshots + 1 invoice + 1 order = 15 records.
    assert (result.partners, result.admins, result.tokens, result.customers) == (1, 2, 1, 2)
    assert (result.assignments, result.subscriptions, result.trials) == (1, 1, 1)
    assert (result.lines, result.snapshots, result.invoices, result.orders) == (2, 2, 1, 1)
    assert result.rows == 15
    assert await export_document(session) == EXPECTED_EXPORT


async def test_loading_twice_gives_the_same_data(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    first = await export_bytes(session)
    again = await load_document(session, small_doc())
    # The token is already registered, so the second load registers none.
    assert again.tokens == 0
    assert await export_bytes(session) == first
    tokens = (await session.execute(select(ApiToken))).scalars().all()
    assert len(tokens) == 1


async def test_round_trip_into_a_fresh_database(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    exported = await export_document(session)
    first = dump_json(exported)
    await wipe(session)
    assert await export_document(session) == {"partners": []}
    await load_document(session, exported)
    assert await export_bytes(session) == first


async def test_dump_json_is_canonical() -> None:
    shuffled = small_doc()
    partner = shuffled["partners"][0]
    partner["customers"].reverse()
    partner["admins"].reverse()
    partner["customers"][1]["subscriptions"][0]["lines"].reverse()
    reordered = {key: shuffled["partners"][0][key] for key in ("customers", "admins", "name", "id")}
    once = dump_json({"partners": [reordered]})
    assert once == dump_json(small_doc())
    assert once.endswith(b"}\n")
    # indent=2: the first partner key sits at 6 spaces (root, list, object).
    assert b'\n      "id": "acme",\n' in once


async def line_state(session: AsyncSession, product: str) -> tuple[Any, ...]:
    row = (
        await session.execute(
            select(
                LicenseLine.cur_date,
                LicenseLine.cur_assigned,
                LicenseLine.cur_used,
                LicenseLine.cur_used90,
                LicenseLine.total,
            ).where(LicenseLine.product == product)
        )
    ).one()
    return tuple(row)


async def test_cur_columns_follow_the_latest_snapshot(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    # Snapshots 2026-11-18 (80/61/75) and 2026-11-11 (70/60/70): the later wins.
    assert await line_state(session, "MEETINGS") == (dt.date(2026, 11, 18), 80, 61, 75, 100)
    # A line without snapshots: zeros and no date.
    assert await line_state(session, "CALLING") == (None, 0, 0, 0, 20)

    # A file with only an older snapshot keeps the stored latest (2026-11-18).
    older = small_doc()
    line = older["partners"][0]["customers"][0]["subscriptions"][0]["lines"][0]
    line["usage"] = [{"date": "2026-11-04", "assigned": 50, "used": 40, "used90": 45}]
    await load_document(session, older)
    assert await line_state(session, "MEETINGS") == (dt.date(2026, 11, 18), 80, 61, 75, 100)

    # A newer snapshot (2026-11-25) and a new total take over.
    newer = small_doc()
    line = newer["partners"][0]["customers"][0]["subscriptions"][0]["lines"][0]
    line["total"] = 120
    line["usage"] = [{"date": "2026-11-25", "assigned": 90, "used": 70, "used90": 85}]
    await load_document(session, newer)
    assert await line_state(session, "MEETINGS") == (dt.date(2026, 11, 25), 90, 70, 85, 120)

    # Changing the values of the latest date itself updates cur_* too.
    changed = small_doc()
    line = changed["partners"][0]["customers"][0]["subscriptions"][0]["lines"][0]
    line["total"] = 120
    line["usage"] = [{"date": "2026-11-25", "assigned": 91, "used": 71, "used90": 86}]
    await load_document(session, changed)
    assert await line_state(session, "MEETINGS") == (dt.date(2026, 11, 25), 91, 71, 86, 120)
    # History kept: 11-04, 11-11, 11-18, 11-25 = 4 snapshots.
    usage = (await export_document(session))["partners"][0]["customers"][0]["subscriptions"][0]["lines"][0]["usage"]
    assert [s["date"] for s in usage] == ["2026-11-04", "2026-11-11", "2026-11-18", "2026-11-25"]


async def test_token_in_the_file_is_stored_only_as_its_hash(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    rows = (await session.execute(text("SELECT * FROM api_token"))).all()
    assert len(rows) == 1
    # sha256("plain-token-of-ana") in hex, computed independently here.
    expected = hashlib.sha256(b"plain-token-of-ana").hexdigest()
    assert rows[0].token_hash == expected
    assert all("plain-token-of-ana" not in str(value) for value in rows[0])
    assert b"plain-token" not in await export_bytes(session)


async def test_assignments_become_exactly_the_listed_admins(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    doc = small_doc()
    doc["partners"][0]["customers"][0]["admins"] = ["a1"]
    doc["partners"][0]["customers"][1]["admins"] = ["a2", "a1"]
    await load_document(session, doc)
    customers = (await export_document(session))["partners"][0]["customers"]
    # c1: a2 replaced by a1; c2: both, exported sorted by id.
    assert [c["admins"] for c in customers] == [["a1"], ["a1", "a2"]]


async def test_nothing_absent_from_the_file_is_deleted(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    partial = small_doc()
    partial["partners"][0]["customers"] = partial["partners"][0]["customers"][1:]
    partial["partners"][0]["customers"][0]["name"] = "Čačak Telekom d.o.o."
    await load_document(session, partial)
    expected = copy.deepcopy(EXPECTED_EXPORT)
    expected["partners"][0]["customers"][1]["name"] = "Čačak Telekom d.o.o."
    assert await export_document(session) == expected


async def test_renames_may_swap_names_between_customers(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    doc = small_doc()
    customers = doc["partners"][0]["customers"]
    customers[0]["name"], customers[1]["name"] = customers[1]["name"], customers[0]["name"]
    admins = doc["partners"][0]["admins"]
    admins[0]["email"], admins[1]["email"] = admins[1]["email"], admins[0]["email"]
    await load_document(session, doc)
    exported = (await export_document(session))["partners"][0]
    assert [(c["id"], c["name"]) for c in exported["customers"]] == [("c2", "Globex"), ("c1", "Čačak Telekom")]
    # Admins are listed by email: a2 now has ana@..., which sorts first.
    assert [(a["id"], a["email"]) for a in exported["admins"]] == [
        ("a2", "ana@acme.example"),
        ("a1", "bo@acme.example"),
    ]


async def test_trial_status_changes_keep_one_active_trial(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    doc = small_doc()
    trials = doc["partners"][0]["customers"][0]["trials"]
    trials[0]["status"] = "CANCELLED"
    trials.append({"trialId": "Trial-2", "status": "ACTIVE", "startsOn": "2026-11-20", "endsOn": "2026-12-20"})
    await load_document(session, doc)
    rows = (
        await session.execute(select(Plan.ext_id, Plan.status).where(Plan.kind == "TRIAL").order_by(Plan.ext_id))
    ).all()
    assert [tuple(r) for r in rows] == [("Trial-1", "CANCELLED"), ("Trial-2", "ACTIVE")]


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _append_customer(**overrides: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        customer = {"id": "c3", "name": "Initech", "managedBy": "PARTNER_ORG", "createdOn": "2026-02-01"}
        customer.update(overrides)
        doc["partners"][0]["customers"].append(customer)

    return change


def _append_trial(trial: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["partners"][0]["customers"][0]["trials"].append(trial)

    return change


CUSTOMER = ["partners", 0, "customers", 0]
SUB = [*CUSTOMER, "subscriptions", 0]
LINE = [*SUB, "lines", 0]
TRIAL = [*CUSTOMER, "trials", 0]

ERROR_CASES = [
    pytest.param(_set([*LINE, "total"], "100"), [f"{LINE0}.total: expected integer, got string"], id="wrong-type"),
    pytest.param(_set([*CUSTOMER, "admins"], "a2"), [f"{C0}.admins: expected array, got string"], id="wrong-type-list"),
    pytest.param(_drop([*CUSTOMER, "name"]), [f"{C0}.name: required field missing"], id="missing-field"),
    pytest.param(_set([*CUSTOMER, "colour"], "red"), [f"{C0}.colour: unknown field"], id="unknown-field"),
    pytest.param(
        _set([*SUB, "status"], "ACTIV"),
        [f'{SUB0}.status: unknown value "ACTIV"; expected one of ACTIVE, SUSPENDED, PENDING_SETUP, CANCELLED'],
        id="unknown-enum",
    ),
    pytest.param(
        _append_customer(id="c1"),
        ['partners[0].customers[2].id: duplicate customer id "c1" (first at partners[0].customers[0].id)'],
        id="duplicate-customer-id",
    ),
    pytest.param(
        # Names compare case-insensitively: "GLOBEX" folds to "globex".
        _append_customer(name="GLOBEX"),
        ['partners[0].customers[2].name: duplicate customer name "GLOBEX" (first at partners[0].customers[0].name)'],
        id="duplicate-customer-name",
    ),
    pytest.param(
        _set(["partners", 0, "admins", 1, "email"], "ANA@acme.EXAMPLE"),
        ['partners[0].admins[1].email: duplicate email "ANA@acme.EXAMPLE" (first at partners[0].admins[0].email)'],
        id="duplicate-email",
    ),
    pytest.param(
        _set([*SUB, "lines", 1, "product"], "MEETINGS"),
        [f'{SUB0}.lines[1].product: duplicate product line "MEETINGS" (first at {SUB0}.lines[0].product)'],
        id="duplicate-line",
    ),
    pytest.param(
        _set([*LINE, "usage", 1, "date"], "2026-11-18"),
        [f'{LINE0}.usage[1].date: duplicate snapshot date "2026-11-18" in {LINE0}'],
        id="duplicate-snapshot-date",
    ),
    pytest.param(_set([*CUSTOMER, "admins"], ["a9"]), [f'{C0}.admins[0]: unknown admin id "a9"'], id="dangling-admin"),
    pytest.param(
        _set([*TRIAL, "startedBy"], "zz"),
        [f'{C0}.trials[0].startedBy: unknown admin id "zz"'],
        id="dangling-started-by",
    ),
    # 2027 is not a leap year, so February has no 30th.
    pytest.param(_set([*SUB, "endsOn"], "2027-02-30"), [f"{SUB0}.endsOn: not a date"], id="bad-date"),
    pytest.param(_set([*SUB, "endsOn"], "20270109"), [f"{SUB0}.endsOn: not a date"], id="compact-date"),
    pytest.param(_set([*SUB, "endsOn"], "2025-12-31"), [f"{SUB0}.endsOn: before startsOn"], id="ends-before-start"),
    pytest.param(
        _set([*LINE, "usage", 0, "used"], -1), [f"{LINE0}.usage[0].used: must not be negative"], id="negative-used"
    ),
    pytest.param(_set([*LINE, "total"], -5), [f"{LINE0}.total: must not be negative"], id="negative-total"),
    pytest.param(
        _set([*SUB, "invoices", 0, "amount"], "-5.00"),
        [f"{SUB0}.invoices[0].amount: must not be negative"],
        id="negative-amount",
    ),
    pytest.param(
        _set([*SUB, "invoices", 0, "amount"], "1.005"),
        [f"{SUB0}.invoices[0].amount: more than 2 decimals"],
        id="amount-decimals",
    ),
    pytest.param(
        _set([*SUB, "invoices", 0, "currency"], "usd"),
        [f"{SUB0}.invoices[0].currency: not a currency code (3 upper-case letters)"],
        id="currency",
    ),
    pytest.param(
        _set([*SUB, "orders", 0, "quantity"], -3),
        [f"{SUB0}.orders[0].quantity: must not be negative"],
        id="negative-quantity",
    ),
    pytest.param(
        _set([*TRIAL, "autoRenew"], False),
        [f"{C0}.trials[0].autoRenew: trials have no autoRenew"],
        id="trial-auto-renew",
    ),
    pytest.param(
        _append_trial({"trialId": "Trial-2", "status": "ACTIVE", "startsOn": "2026-11-02", "endsOn": "2026-11-30"}),
        [f"{C0}.trials[1].status: a customer may have at most one ACTIVE trial (another at {C0}.trials[0].status)"],
        id="two-active-trials",
    ),
    pytest.param(_set([*CUSTOMER, "name"], "  "), [f"{C0}.name: must not be empty"], id="empty-string"),
    pytest.param(_set(["partners"], {}), ["partners: expected array, got object"], id="root-type"),
]


async def assert_refused(session: AsyncSession, change: Callable[[dict[str, Any]], None], problems: list[str]) -> None:
    """small_doc() loaded, then ``change``d: exactly ``problems``, from validation and load, and nothing written."""
    await load_document(session, small_doc())
    before = await export_bytes(session)
    doc = small_doc()
    change(doc)
    assert validate_document(doc) == problems
    with pytest.raises(ImportValidationError) as caught:
        await load_document(session, doc)
    assert caught.value.problems == problems
    assert await export_bytes(session) == before


@pytest.mark.parametrize(("change", "problems"), ERROR_CASES)
async def test_each_import_error_is_reported_and_nothing_changes(
    session: AsyncSession, change: Callable[[dict[str, Any]], None], problems: list[str]
) -> None:
    await assert_refused(session, change, problems)


async def test_several_problems_are_all_reported_in_document_order(session: AsyncSession) -> None:
    doc = small_doc()
    customer = doc["partners"][0]["customers"][0]
    customer["createdOn"] = "10.01.2026"
    customer["admins"] = ["a1", "a1", "nobody"]
    customer["subscriptions"][0]["autoRenew"] = "yes"
    customer["subscriptions"][0]["lines"][0]["usage"][1]["used90"] = 1.5
    del customer["trials"][0]["endsOn"]
    doc["partners"].append({"id": "acme", "name": "Acme again", "extra": 1})
    assert validate_document(doc) == [
        f"{C0}.createdOn: not a date",
        f'{C0}.admins[1]: duplicate admin id "a1" (first at {C0}.admins[0])',
        f'{C0}.admins[2]: unknown admin id "nobody"',
        f"{SUB0}.autoRenew: expected boolean, got string",
        f"{LINE0}.usage[1].used90: expected integer, got number",
        f"{C0}.trials[0].endsOn: required field missing",
        "partners[1].extra: unknown field",
        'partners[1].id: duplicate partner id "acme" (first at partners[0].id)',
    ]
    with pytest.raises(ImportValidationError) as caught:
        await load_document(session, doc)
    assert len(caught.value.problems) == 8
    assert await export_document(session) == {"partners": []}


async def test_document_must_be_an_object() -> None:
    assert validate_document([]) == ["$: expected object, got array"]
    assert validate_document({}) == ["partners: required field missing"]


async def test_conflicts_with_the_database_are_reported_and_nothing_changes(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    before = await export_bytes(session)
    doc = {
        "partners": [
            {
                "id": "acme",
                "name": "Acme Partner",
                "admins": [
                    # a3 is new, but a1 of acme already has this email.
                    {"id": "a3", "email": "ANA@acme.example", "displayName": "Ann", "role": "SALES_ADMIN"}
                ],
                "customers": [
                    {
                        # c9 is new, but c2 is named "Čačak Telekom": both fold
                        # to "čačak telekom", and c2 is not in this file.
                        "id": "c9",
                        "name": "Čačak telekom",
                        "managedBy": "PARTNER_ORG",
                        "createdOn": "2026-03-01",
                        "subscriptions": [
                            {
                                # Sub-100001 belongs to c1 in the database.
                                "subscriptionId": "Sub-100001",
                                "status": "ACTIVE",
                                "startsOn": "2026-03-01",
                                "endsOn": "2027-02-28",
                                "autoRenew": False,
                            }
                        ],
                    },
                    {
                        # c1 exists with ACTIVE Trial-1, which this file does not mention.
                        "id": "c1",
                        "name": "Globex",
                        "managedBy": "PARTNER_ORG",
                        "createdOn": "2026-01-10",
                        "trials": [
                            {"trialId": "Trial-7", "status": "ACTIVE", "startsOn": "2026-11-20", "endsOn": "2026-12-20"}
                        ],
                    },
                ],
            }
        ]
    }
    assert validate_document(doc) == []
    with pytest.raises(ImportValidationError) as caught:
        await load_document(session, doc)
    assert caught.value.problems == [
        'partners[0].admins[0].email: "ana@acme.example" is already used by admin "a1" of partner "acme"',
        'partners[0].customers[0].name: "Čačak telekom" is already used by customer "c2"',
        'partners[0].customers[0].subscriptions[0].subscriptionId: "Sub-100001" already belongs to customer "c1"',
        'partners[0].customers[1].trials[0].status: the customer already has the ACTIVE trial "Trial-1"',
    ]
    assert await export_bytes(session) == before


async def test_email_of_another_partner_is_free_but_a_token_is_not(session: AsyncSession) -> None:
    # Emails are unique within a partner (SPEC §3.2): acme's bo@acme.example
    # may also sign in at "other"; a token is one login and stays unique.
    await load_document(session, small_doc())
    before = await export_bytes(session)
    other = {
        "partners": [
            {
                "id": "other",
                "name": "Other",
                "admins": [
                    {"id": "o1", "email": "bo@ACME.example", "displayName": "Bo", "role": "PARTNER_FULL_ADMIN"},
                    {
                        "id": "o2",
                        "email": "x@other.example",
                        "displayName": "X",
                        "role": "SALES_ADMIN",
                        "token": "plain-token-of-ana",
                    },
                ],
            }
        ]
    }
    with pytest.raises(ImportValidationError) as caught:
        await load_document(session, other)
    assert caught.value.problems == ["partners[0].admins[1].token: already registered to another admin"]
    assert await export_bytes(session) == before
    del other["partners"][0]["admins"][1]["token"]
    await load_document(session, other)
    emails = (await session.execute(text("SELECT email FROM partner_admin WHERE email = 'bo@acme.example'"))).all()
    assert len(emails) == 2


async def test_invoice_number_of_another_subscription_conflicts(session: AsyncSession) -> None:
    await load_document(session, small_doc())
    doc = small_doc()
    subs = doc["partners"][0]["customers"][0]["subscriptions"]
    invoice = subs[0].pop("invoices")[0]
    subs.append(
        {
            "subscriptionId": "Sub-100002",
            "status": "PENDING_SETUP",
            "startsOn": "2026-11-25",
            "endsOn": "2027-11-24",
            "autoRenew": True,
            "invoices": [invoice],
        }
    )
    with pytest.raises(ImportValidationError) as caught:
        await load_document(session, doc)
    assert caught.value.problems == [
        f'{C0}.subscriptions[1].invoices[0].number: invoice "INV-1" already belongs to subscription "Sub-100001"'
    ]


async def test_a_clash_the_checks_miss_becomes_an_import_error(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent writer can insert between the checks and the writes."""
    await load_document(session, small_doc())
    before = await export_bytes(session)

    async def sees_nothing(self: object, bulk: object, problems: object, partner: object, partner_id: int) -> None:
        return None

    # The loader now believes c1, c2 and their plans are new, so inserting
    # them hits uq_customer_key exactly as a concurrent insert would.
    monkeypatch.setattr(Existing, "read", sees_nothing)
    with pytest.raises(ImportValidationError) as caught:
        await load_document(session, small_doc())
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("$: the database refused the data (changed concurrently?): ")
    monkeypatch.undo()
    assert await export_bytes(session) == before
