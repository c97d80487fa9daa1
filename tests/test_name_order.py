"""Customer name order (DUCET, SPEC §2) and accent-insensitive search (SPEC §3), on both databases."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from sqlalchemy import text

from db.collation import MAX_SORT_KEY, search_fold, sort_key
from db.io import load_document
from db.seed import seed
from tests import factories as f
from tests.test_import import small_doc

# The expected order, worked out by hand from the Unicode Collation Algorithm's
# default table (non-ignorable: punctuation and spaces weigh like characters,
# below digits, below letters). Letters compare first without case or accents;
# only between names equal at that level does the accent decide (unaccented first):
# - "&" is punctuation, before every digit; digits compare one by one, so "10X" < "3M".
# - "A-Z": the hyphen is below every letter, so it precedes "Aarhus"; "Aarhus" (a, a)
#   precedes "Åre" (Å = a, then r).
# - "Cacak" and "Čačak" are equal but for the háčeks: plain first; both before "Cvijeta" (a < v).
# - "Đakovo" (Đ = d) < "delta" (a < e) < "Dubrovnik"; case does not count.
# - "İstanbul" (İ = I with a dot accent) < "Izmir" (s < z); "Łódź" (Ł = l, o) < "Lyon" (y).
# - "Ørsted" (Ø = o, r) < "Oslo" (s); "Šabac" (Š = s, a, b) < "Sarajevo" (a, r).
# - "Straße": ß weighs as "ss", so "Strasbourg" (s, b) comes first.
# - "Zagreb" < "Žilina" < "Zürich" < "Zwolle": a < i < u < w, the accents not counting.
# - Greek after Latin, Cyrillic after Greek; "Београд" (Б) < "Москва" (М).
NAME_ORDER = [
    "&Co",
    "10X Labs",
    "3M",
    "A-Z",
    "Aarhus",
    "Åre",
    "Cacak",
    "Čačak",
    "Cvijeta",
    "Đakovo",
    "delta",
    "Dubrovnik",
    "İstanbul",
    "Izmir",
    "Łódź",
    "Lyon",
    "Ørsted",
    "Oslo",
    "Šabac",
    "Sarajevo",
    "Strasbourg",
    "Straße",
    "Zagreb",
    "Žilina",
    "Zürich",
    "Zwolle",
    "Αθήνα",
    "Београд",
    "Москва",
]

LIST = """
query($filter: CustomerFilter, $order: CustomerOrder, $first: Int, $after: String, $last: Int, $before: String) {
  customers(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { name }
  }
}
"""
ASSIGNED = """
query($after: String) {
  partnerAdmins(first: 5, filter: {roles: [SALES_ADMIN]}) {
    nodes { assignedCustomers(first: 2, after: $after) { pageInfo { endCursor hasNextPage } nodes { name } } }
  }
}
"""


@pytest.fixture
async def partner(session):
    """NAME_ORDER's customers of one partner, inserted in reverse (ids do not follow the names), with plans.

    Sam (a sales admin) is assigned Zwolle, Čačak, Åre and Šabac; Zwolle has trial
    Trial-000042, Oslo subscription SUB-7.
    """
    partner_id = await f.partner(session, key="uca")
    await f.admin(session, partner_id=partner_id, key="ana", role="PARTNER_FULL_ADMIN", token="t-ana")
    sam = await f.admin(session, partner_id=partner_id, key="sam", role="SALES_ADMIN", token="t-sam")
    ids = {}
    for number, name in enumerate(reversed(NAME_ORDER)):
        ids[name] = await f.customer(session, partner_id=partner_id, name=name, key=f"c{number}")
    for name in ("Zwolle", "Čačak", "Åre", "Šabac"):
        await f.assign(session, customer_id=ids[name], admin_id=sam)
    common = {"partner_id": partner_id, "starts": "2026-11-01", "ends": "2026-12-20"}
    await f.plan(session, customer_id=ids["Zwolle"], kind="TRIAL", ext_id="Trial-000042", **common)
    await f.plan(session, customer_id=ids["Oslo"], ext_id="SUB-7", **common)
    other = await f.partner(session, key="other")
    elsewhere = await f.customer(session, partner_id=other, name="Čačak Elsewhere")
    await f.plan(
        session, partner_id=other, customer_id=elsewhere, ext_id="SUB-8", starts="2026-11-01", ends="2026-12-20"
    )
    await session.commit()
    return ids


async def _names(api, token="t-ana", **variables) -> list[str]:
    result = await api(LIST, variables, token=token)
    assert result.get("errors") is None, result
    return [n["name"] for n in result["data"]["customers"]["nodes"]]


def test_sort_keys_give_the_hand_order():
    # Starting from the code-point order of before (accented names after "Zwolle").
    assert sorted(sorted(NAME_ORDER, key=str.casefold), key=sort_key) == NAME_ORDER


def test_sort_key_is_the_packed_collation_key_then_the_name():
    # "Ab": primaries a 1C47, b 1C60; level separator 0000; secondaries 0020 0020; 0000;
    # tertiaries 0008 (upper case) 0002; 0000; then "Ab" in UTF-8 (41 62).
    assert sort_key("Ab").hex() == "1c471c6000000020002000000008000200004162"
    # Decomposed input is keyed as its NFC form: one name, one key.
    assert sort_key("C\u030cac\u030cak") == sort_key("Čačak")


def test_sort_key_is_capped_below_postgresqls_index_entry_limit():
    # A 200-character Latin name: 3 levels x 200 weights x 2 bytes + 3 separators x 2 + 200 bytes.
    assert len(sort_key("a" * 200)) == 1200 + 6 + 200
    # U+FDFA expands to 18 collation elements: 200 of them would be over 21,000 bytes.
    assert len(sort_key("\ufdfa" * 200)) == MAX_SORT_KEY == 2400


@pytest.mark.parametrize(
    ("letter", "base"),
    [("ø", "o"), ("ł", "l"), ("đ", "d"), ("ħ", "h"), ("æ", "ae"), ("œ", "oe")],
)
def test_search_letters_are_their_base_letters_at_ducets_primary_level(letter, base):
    def primaries(text: str) -> bytes:
        key = sort_key(text)
        weights = [key[i : i + 2] for i in range(0, len(key), 2)]
        return b"".join(weights[: weights.index(b"\x00\x00")])

    assert primaries(letter) == primaries(base)
    assert search_fold(letter.upper()) == base


async def test_list_in_name_order_both_ways(api, partner):
    assert await _names(api, first=100) == NAME_ORDER
    assert await _names(api, first=100, order={"field": "NAME", "direction": "DESC"}) == NAME_ORDER[::-1]


async def test_paging_forward_and_backward_across_the_scripts(api, partner):
    # 29 names in pages of 8: 8 + 8 + 8 + 5, forward from the start and backward from the end.
    pages, after = [], None
    for _ in range(4):
        result = await api(LIST, {"first": 8, "after": after}, token="t-ana")
        # The token, then the page: counting the keyset page costs no extra statement.
        assert api.last_statements == 2
        connection = result["data"]["customers"]
        pages.append([n["name"] for n in connection["nodes"]])
        after = connection["pageInfo"]["endCursor"]
    assert pages == [NAME_ORDER[0:8], NAME_ORDER[8:16], NAME_ORDER[16:24], NAME_ORDER[24:]]
    assert connection["pageInfo"]["hasNextPage"] is False

    pages, before = [], None
    for _ in range(4):
        result = await api(LIST, {"last": 8, "before": before}, token="t-ana")
        assert api.last_statements == 2
        connection = result["data"]["customers"]
        pages.append([n["name"] for n in connection["nodes"]])
        before = connection["pageInfo"]["startCursor"]
    assert pages == [NAME_ORDER[21:], NAME_ORDER[13:21], NAME_ORDER[5:13], NAME_ORDER[:5]]
    assert connection["pageInfo"]["hasPreviousPage"] is False

    # Descending, from just after "Čačak" (position 7): "Cacak", "Åre", "Aarhus".
    desc = {"field": "NAME", "direction": "DESC"}
    result = await api(LIST, {"first": 22, "order": desc}, token="t-ana")
    assert [n["name"] for n in result["data"]["customers"]["nodes"]][-1] == "Čačak"
    cursor = result["data"]["customers"]["pageInfo"]["endCursor"]
    assert await _names(api, first=3, after=cursor, order=desc) == ["Cacak", "Åre", "Aarhus"]


async def test_a_foreign_cursor_is_refused(api, partner):
    # A cursor whose sort key is not base64 (e.g. a name key from before 0004).
    raw = json.dumps(["customer:NAME:0", "čačak", 1]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    result = await api(LIST, {"first": 2, "after": cursor}, token="t-ana")
    assert result["errors"][0]["message"] == "`after` is not a cursor of this list and ordering."


async def test_assigned_customers_in_name_order_with_cursors(api, partner):
    # Sam's four: Åre (a), Čačak (c), Šabac (s), Zwolle (z).
    result = await api(ASSIGNED, token="t-ana")
    connection = result["data"]["partnerAdmins"]["nodes"][0]["assignedCustomers"]
    assert [n["name"] for n in connection["nodes"]] == ["Åre", "Čačak"]
    after = connection["pageInfo"]["endCursor"]
    result = await api(ASSIGNED, {"after": after}, token="t-ana")
    connection = result["data"]["partnerAdmins"]["nodes"][0]["assignedCustomers"]
    assert [n["name"] for n in connection["nodes"]] == ["Šabac", "Zwolle"]
    assert connection["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        # Case and accents do not count, on either side.
        ("čač", ["Cacak", "Čačak"]),
        ("cac", ["Cacak", "Čačak"]),
        ("CAČ", ["Cacak", "Čačak"]),
        ("istanbul", ["İstanbul"]),
        ("İSTANBUL", ["İstanbul"]),
        ("lodz", ["Łódź"]),
        ("ORSTED", ["Ørsted"]),
        ("dakovo", ["Đakovo"]),
        ("zuri", ["Zürich"]),
        # ß is "ss" (as DUCET weighs it): either spelling finds "Straße", "stras" both.
        ("strasse", ["Straße"]),
        ("STRAẞE", ["Straße"]),
        ("stras", ["Strasbourg", "Straße"]),
        ("αθηνα", ["Αθήνα"]),
        ("МОСКВА", ["Москва"]),
        ("10x", ["10X Labs"]),
        ("a-z", ["A-Z"]),
        ("&", ["&Co"]),
        ("%", []),  # LIKE's wildcards are matched literally
        ("_", []),
        # An exact subscriptionId or trialId of the customer; not a part, not another partner's.
        ("Trial-000042", ["Zwolle"]),
        ("SUB-7", ["Oslo"]),
        ("SUB-", []),
        ("SUB-8", []),
    ],
)
async def test_search(api, partner, search, expected):
    assert await _names(api, first=100, filter={"search": search}) == expected


async def test_search_within_what_a_sales_admin_sees(api, partner):
    # Sam's four fold to "are", "cacak", "sabac", "zwolle": two hold a "c".
    assert await _names(api, token="t-sam", first=100, filter={"search": "C"}) == ["Čačak", "Šabac"]
    assert await _names(api, token="t-sam", first=100, filter={"search": "Trial-000042"}) == ["Zwolle"]
    assert await _names(api, token="t-sam", first=100, filter={"search": "SUB-7"}) == []


async def test_a_very_long_name_is_stored_and_listed(api, partner, session):
    # 200 x U+FDFA: its key is capped (2,400 bytes) so PostgreSQL's index takes it.
    long_name = "\ufdfa" * 200
    partner_id = (await session.execute(text("SELECT id FROM partner WHERE key = 'uca'"))).scalar()
    await f.customer(session, partner_id=partner_id, name=long_name, key="long")
    await session.commit()
    # U+FDFA is an Arabic ligature: after Latin, Greek and Cyrillic.
    assert await _names(api, first=100) == [*NAME_ORDER, long_name]


START_TRIAL = """mutation($input: StartTrialInput!) {
  startTrial(input: $input) { trial { trialId } userErrors { code } }
}"""


async def test_a_customer_started_by_start_trial_is_in_order_and_found(api, partner):
    # "Ćuprija": Ć = c, then u, so after "Cacak" and "Čačak" (a) and before "Cvijeta" (v).
    variables = {"input": {"newCustomer": {"name": "Ćuprija"}, "products": ["MEETINGS"], "licenses": 5}}
    result = await api(START_TRIAL, variables, token="t-ana")
    assert result["data"]["startTrial"]["userErrors"] == [], result
    trial_id = result["data"]["startTrial"]["trial"]["trialId"]
    assert (await _names(api, first=10))[6:10] == ["Cacak", "Čačak", "Ćuprija", "Cvijeta"]
    assert await _names(api, first=10, filter={"search": "CUPRIJA"}) == ["Ćuprija"]
    assert await _names(api, first=10, filter={"search": trial_id}) == ["Ćuprija"]


async def _keys_follow_names(session) -> int:
    rows = (await session.execute(text("SELECT name, sort_key, search_key FROM customer"))).all()
    assert all(bytes(r.sort_key) == sort_key(r.name) and r.search_key == search_fold(r.name) for r in rows)
    return len(rows)


async def test_the_seed_and_the_import_write_the_keys(session):
    await seed(session, customers=30, today=dt.date(2026, 11, 25))
    assert await _keys_follow_names(session) == 30
    # A renaming import rewrites both keys with the name ("Globex" and "Čačak Telekom" swap).
    await load_document(session, small_doc())
    doc = small_doc()
    customers = doc["partners"][0]["customers"]
    customers[0]["name"], customers[1]["name"] = customers[1]["name"], customers[0]["name"]
    await load_document(session, doc)
    assert await _keys_follow_names(session) == 32


def test_no_character_folds_to_an_upper_case_ascii_letter():
    # SQLite's LIKE ignores ASCII case, PostgreSQL's does not: with no A-Z in any
    # folded text (name or search), both match the same rows.
    upper = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    found = [hex(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 and upper.intersection(search_fold(chr(c)))]
    assert found == []


SECTION_ROWS = """
query($after: String, $direction: OrderDirection!) {
  analytics(product: MEETINGS) { recentlyAdded(days: 90) {
    rows(first: 8, after: $after, orderBy: {field: CUSTOMER_NAME, direction: $direction}) {
      pageInfo { hasNextPage endCursor } nodes { customer { name } }
    }
  } }
}
"""


async def test_analytics_rows_by_customer_name_follow_the_same_order(api, partner, session):
    # Every customer gets a MEETINGS subscription started 2026-11-10: 15 days before
    # the tests' today, so all 29 are recently added (within 90 days), one row each.
    uca = (await session.execute(text("SELECT id FROM partner WHERE key = 'uca'"))).scalar_one()
    for number, customer_id in enumerate(partner.values()):
        plan_id = await f.plan(
            session,
            partner_id=uca,
            customer_id=customer_id,
            ext_id=f"SUB-M{number:02d}",
            starts="2026-11-10",
            ends="2027-11-09",
        )
        await f.line(session, plan_id=plan_id, product="MEETINGS", total=10, usage=[("2026-11-20", 5, 4, 5)])
    await session.commit()
    for direction, expected in (("ASC", NAME_ORDER), ("DESC", NAME_ORDER[::-1])):
        names, after = [], None
        while True:
            body = await api(SECTION_ROWS, {"after": after, "direction": direction}, token="t-ana")
            assert body.get("errors") is None, body
            rows = body["data"]["analytics"]["recentlyAdded"]["rows"]
            names += [r["customer"]["name"] for r in rows["nodes"]]
            if not rows["pageInfo"]["hasNextPage"]:
                break
            after = rows["pageInfo"]["endCursor"]
        assert names == expected  # 29 rows in pages of 8, 8, 8, 5
