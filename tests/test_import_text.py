"""The text and integer rules of db/text.py as the import applies them (issue 13, SPEC §3.2 "Text").

Each case states the problem (JSON path + message) written out by hand; a
refused document changes nothing, on SQLite and PostgreSQL alike (a NUL
used to reach PostgreSQL and come back as a driver traceback).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from db.io import ImportValidationError, export_document, load_document, validate_document
from tests.test_import import C0, LINE0, SUB0, _set, assert_refused, small_doc

CUSTOMERS = ["partners", 0, "customers"]
ADMIN0 = "partners[0].admins[0]"


def _add_customer(name: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["partners"][0]["customers"].append(
            {"id": "c3", "name": name, "managedBy": "PARTNER_ORG", "createdOn": "2026-02-01"}
        )

    return change


# JSON itself allows these: json.loads gives Python ints of any size and
# floats up to 1.8e308, and the INTEGER columns hold -2**31 .. 2**31 - 1.
BIG = json.loads("9223372036854775808")  # 2**63
HUGE = json.loads("1e300")

TEXT_CASES = [
    pytest.param(
        # "C" + U+030C COMBINING CARON is "Č" (U+010C) after NFC, so this is
        # c2's name "Čačak Telekom" again, and names are unique per partner.
        _add_customer("C\u030ca\u010dak Telekom"),
        [
            'partners[0].customers[2].name: duplicate customer name "C\u030ca\u010dak Telekom"'
            " (first at partners[0].customers[1].name)"
        ],
        id="nfc-duplicate-name",
    ),
    pytest.param(
        _set([*CUSTOMERS, 0, "name"], "Glo\x00bex"),
        [f"{C0}.name: must not contain control characters; found U+0000"],
        id="nul-in-name",
    ),
    pytest.param(
        _set([*CUSTOMERS, 0, "subscriptions", 0, "subscriptionId"], "Sub-1\t"),
        [f"{SUB0}.subscriptionId: must not contain control characters; found U+0009"],
        id="tab-in-id",
    ),
    pytest.param(
        _set(["partners", 0, "admins", 0, "email"], "ana\x7f@acme.example"),
        [f"{ADMIN0}.email: must not contain control characters; found U+007F"],
        id="del-in-email",
    ),
    pytest.param(
        # A reference with a NUL is refused as text, not also reported as an unknown admin.
        _set([*CUSTOMERS, 0, "admins"], ["a\x00"]),
        [f"{C0}.admins[0]: must not contain control characters; found U+0000"],
        id="nul-in-reference",
    ),
    pytest.param(
        # U+200B ZERO WIDTH SPACE twice: strip() keeps it (not white space), nothing shows.
        _set([*CUSTOMERS, 1, "name"], " \u200b\u200b "),
        ["partners[0].customers[1].name: must contain a visible character"],
        id="invisible-name",
    ),
    pytest.param(
        _set(["partners", 0, "admins", 1, "displayName"], "\u2028"),
        # U+2028 LINE SEPARATOR is white space to strip(): nothing is left.
        ["partners[0].admins[1].displayName: must not be empty"],
        id="separator-only-display-name",
    ),
    pytest.param(
        _set([*CUSTOMERS, 0, "subscriptions", 0, "lines", 0, "total"], 2**31),
        [f"{LINE0}.total: too large (at most 2147483647)"],
        id="total-2**31",
    ),
    pytest.param(
        _set([*CUSTOMERS, 0, "subscriptions", 0, "orders", 0, "quantity"], BIG),
        [f"{SUB0}.orders[0].quantity: too large (at most 2147483647)"],
        id="quantity-2**63",
    ),
    pytest.param(
        _set([*CUSTOMERS, 0, "subscriptions", 0, "lines", 0, "usage", 0, "used"], HUGE),
        [f"{LINE0}.usage[0].used: expected integer, got number"],
        id="used-1e300",
    ),
    pytest.param(
        _set([*CUSTOMERS, 0, "subscriptions", 0, "lines", 0, "usage", 1, "assigned"], -BIG),
        [f"{LINE0}.usage[1].assigned: must not be negative"],
        id="assigned--2**63",
    ),
]


@pytest.mark.parametrize(("change", "problems"), TEXT_CASES)
async def test_text_and_integer_rules_name_the_path_and_change_nothing(
    session: AsyncSession, change: Callable[[dict[str, Any]], None], problems: list[str]
) -> None:
    await assert_refused(session, change, problems)


async def test_every_text_problem_at_once_in_document_order() -> None:
    doc = small_doc()
    partner = doc["partners"][0]
    partner["name"] = "\u200b"
    partner["admins"][0]["id"] = "a1\x00"
    partner["customers"][0]["name"] = "Globex\n"
    partner["customers"][1]["subscriptions"] = [
        {"subscriptionId": "S\x1b", "status": "ACTIVE", "startsOn": "2026-01-01", "endsOn": "2026-12-31"}
    ]
    # a1 is refused, so c1's trial started by "a1" names an unknown admin.
    assert validate_document(doc) == [
        "partners[0].name: must contain a visible character",
        f"{ADMIN0}.id: must not contain control characters; found U+0000",
        f"{C0}.name: must not contain control characters; found U+000A",
        f'{C0}.trials[0].startedBy: unknown admin id "a1"',
        "partners[0].customers[1].subscriptions[0].subscriptionId: must not contain control characters; found U+001B",
        "partners[0].customers[1].subscriptions[0].autoRenew: required field missing",
    ]


async def test_strings_are_stored_nfc_and_names_trimmed(session: AsyncSession) -> None:
    doc = small_doc()
    partner = doc["partners"][0]
    # Admin id "Č" composed; the customer lists it decomposed ("C" + U+030C):
    # after NFC both are U+010C, so the reference resolves.
    partner["admins"][1]["id"] = "\u010c"
    partner["customers"][0]["admins"] = ["C\u030c"]
    partner["customers"][1]["name"] = "  C\u030ca\u010dak Telekom  "
    partner["admins"][1]["displayName"] = "Bo\u0308"  # "Bö" decomposed
    assert validate_document(doc) == []
    await load_document(session, doc)
    exported = (await export_document(session))["partners"][0]
    assert [c["name"] for c in exported["customers"]] == ["Globex", "\u010ca\u010dak Telekom"]
    assert exported["customers"][0]["admins"] == ["\u010c"]
    assert [a["displayName"] for a in exported["admins"]] == ["Ana", "B\u00f6"]
    # Reloading the decomposed file finds the same rows: nothing new.
    again = await load_document(session, doc)
    assert (again.customers, again.admins) == (2, 2)
    assert (await export_document(session))["partners"][0] == exported


async def test_int32_bounds_are_accepted_and_round_trip(session: AsyncSession) -> None:
    # 2**31 - 1 = 2147483647, the largest INTEGER on both databases.
    doc = small_doc()
    line = doc["partners"][0]["customers"][0]["subscriptions"][0]["lines"][0]
    line["total"] = 2147483647
    line["usage"][0]["assigned"] = 2147483647
    assert validate_document(doc) == []
    await load_document(session, doc)
    stored = (await export_document(session))["partners"][0]["customers"][0]["subscriptions"][0]["lines"][0]
    assert stored["total"] == 2147483647
    assert [s["assigned"] for s in stored["usage"]] == [70, 2147483647]


async def test_a_refused_document_sends_no_sql(session: AsyncSession) -> None:
    """Validation runs before the session is touched: a NUL never reaches the database."""
    doc = small_doc()
    doc["partners"][0]["customers"][0]["name"] = "\x00"
    engine = session.bind
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        with pytest.raises(ImportValidationError):
            await load_document(session, doc)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert statements == []
