"""Global ids have one spelling, the one the API issues (resolvers/ids.py, SPEC §3.2, issue 13)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.tokens import create_token
from resolvers import ids
from resolvers.ids import NODE_TYPES, from_global_id, to_global_id
from tests.test_mutations import mutate
from tests.world import TOKENS

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def raw(text: str) -> str:
    """Unpadded URL-safe base64 of any text, the way an attacker would build an id."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def spellings(type_name: str, db_id: int) -> dict[str, str]:
    """Other spellings of ``type_name:db_id`` that lenient decoders (base64, ``int()``) accept."""
    digits = str(db_id)
    canonical = to_global_id(type_name, db_id)
    forms = {
        "padded": base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode(),
        "extra padding": canonical + "====",
        "standard alphabet": base64.b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("="),
        "junk character inside": canonical[:4] + "." + canonical[4:],
        "white space inside": canonical[:4] + " " + canonical[4:],
        "leading zero": raw(f"{type_name}:0{digits}"),
        "plus sign": raw(f"{type_name}:+{digits}"),
        "minus zero": raw(f"{type_name}:-0"),
        "arabic-indic digits": raw(f"{type_name}:" + "".join(chr(0x0660 + int(d)) for d in digits)),
        "fullwidth digits": raw(f"{type_name}:" + "".join(chr(0xFF10 + int(d)) for d in digits)),
        "superscript two": raw(f"{type_name}:²"),
        "underscore in number": raw(f"{type_name}:{digits}_0"),
        "blank around number": raw(f"{type_name}: {digits} "),
        "NUL after number": raw(f"{type_name}:{digits}\x00"),
        "second colon": raw(f"{type_name}:{digits}:{digits}"),
        "lower-case type": raw(f"{type_name.lower()}:{digits}"),
        "zero": raw(f"{type_name}:0"),
        # 2**31 = 2147483648 is one past the largest 32-bit id; 10**30 far past it.
        "2**31": raw(f"{type_name}:2147483648"),
        "10**30": raw(f"{type_name}:1{'0' * 30}"),
        "non-ASCII id": canonical[:-1] + "é",
        "NUL in id": canonical + "\x00",
        "empty": "",
    }
    if len(canonical) % 4:
        # The last base64 character of an unpadded id carries 2 or 4 bits that no
        # byte uses and that we always issue as 0; setting the lowest one decodes the same.
        forms["unused bits set"] = canonical[:-1] + ALPHABET[ALPHABET.index(canonical[-1]) + 1]
    return forms


def test_issued_ids_decode() -> None:
    # "Customer:7" is 10 bytes → 14 base64 characters without its "==".
    assert to_global_id("Customer", 7) == "Q3VzdG9tZXI6Nw"
    assert from_global_id("Q3VzdG9tZXI6Nw") == ("Customer", 7)
    # The largest 32-bit id, 2**31 - 1 = 2147483647, is still ours.
    assert from_global_id(to_global_id("PartnerAdmin", 2147483647)) == ("PartnerAdmin", 2147483647)
    assert from_global_id(to_global_id("AuditEvent", 1)) == ("AuditEvent", 1)


@pytest.mark.parametrize("db_id", [1, 7, 12, 123, 2147483647])
@pytest.mark.parametrize("type_name", sorted(NODE_TYPES))
def test_every_other_spelling_is_refused(type_name: str, db_id: int) -> None:
    canonical = to_global_id(type_name, db_id)
    for what, spelling in spellings(type_name, db_id).items():
        if spelling == canonical:
            # A spelling that happens to coincide (no padding to add) is the real id.
            assert what in ("padded", "standard alphabet"), what
            continue
        assert from_global_id(spelling) is None, (what, spelling)


def test_unused_bits_spelling_really_decodes_to_the_same_bytes() -> None:
    # The test above would prove nothing if the altered id decoded to other bytes.
    altered = spellings("Customer", 7)["unused bits set"]
    assert altered != "Q3VzdG9tZXI6Nw"
    assert base64.urlsafe_b64decode(altered + "==") == b"Customer:7"


@given(st.text(max_size=40))
def test_every_accepted_id_round_trips(text: str) -> None:
    for candidate in (text, raw(text)):
        decoded = from_global_id(candidate)
        if decoded is not None:
            assert to_global_id(*decoded) == candidate


@given(st.sampled_from(sorted(NODE_TYPES)), st.integers(min_value=1, max_value=2**31 - 1))
def test_every_issued_id_decodes_to_itself(type_name: str, db_id: int) -> None:
    assert from_global_id(to_global_id(type_name, db_id)) == (type_name, db_id)


NODE = "query($id: ID!) { node(id: $id) { id } customer(id: $id) { name } }"


async def test_node_of_another_spelling_is_null(api, world) -> None:
    alpha = world.customers["Alpha"]
    assert (await api(NODE, {"id": to_global_id("Customer", alpha)}, token=TOKENS["ana"]))["data"] == {
        "node": {"id": to_global_id("Customer", alpha)},
        "customer": {"name": "Alpha"},
    }
    for what, spelling in spellings("Customer", alpha).items():
        if spelling == to_global_id("Customer", alpha):
            continue
        body = await api(NODE, {"id": spelling}, token=TOKENS["ana"])
        if what == "NUL in id":
            # Refused whole before it runs (schema/guard.py, tests/test_guard.py).
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            continue
        assert body == {"data": {"node": None, "customer": None}}, what


CANCEL = "mutation($input: CancelTrialInput!) { cancelTrial(input: $input) { userErrors { field code } } }"


@pytest.mark.parametrize(
    "what", ["padded", "leading zero", "arabic-indic digits", "2**31", "10**30", "superscript two"]
)
async def test_mutation_input_of_another_spelling_is_invalid_input(api, world, what: str) -> None:
    trial = world.plans["Trial-G"]
    spelling = spellings("Trial", trial)[what]
    assert spelling != to_global_id("Trial", trial)
    body = await api(CANCEL, {"input": {"trialId": spelling}}, token=TOKENS["ana"])
    assert body == {"data": {"cancelTrial": {"userErrors": [{"field": ["input", "trialId"], "code": "INVALID_INPUT"}]}}}


async def test_a_removed_admins_id_is_never_given_to_the_next_one(api, world, session) -> None:
    # Ana makes Kim a full admin; Kim cancels Trial-G (an audit entry with Kim as actor);
    # Ana removes Kim, the newest admin, then creates Max. Max must get a new id:
    # with SQLite's rowid reuse Max took Kim's, node(Kim) answered Max and Kim's
    # audit entry named Max as its actor.
    kim = await mutate(
        api, "createPartnerAdmin", {"email": "kim@acme.example", "displayName": "Kim", "role": "PARTNER_FULL_ADMIN"}
    )
    kim_id = kim["partnerAdmin"]["id"]
    kim_token = await create_token(session, email="kim@acme.example")
    cancelled = await api(
        "mutation($input: CancelTrialInput!) { cancelTrial(input: $input) { userErrors { code } } }",
        {"input": {"trialId": world.gid("Trial", "Trial-G")}},
        token=kim_token,
    )
    assert cancelled == {"data": {"cancelTrial": {"userErrors": []}}}
    assert (await mutate(api, "removePartnerAdmin", {"adminId": kim_id}))["removedAdminId"] == kim_id
    max_ = await mutate(
        api, "createPartnerAdmin", {"email": "max@acme.example", "displayName": "Max", "role": "PARTNER_FULL_ADMIN"}
    )
    max_id = max_["partnerAdmin"]["id"]
    decoded_kim, decoded_max = from_global_id(kim_id), from_global_id(max_id)
    assert decoded_kim is not None and decoded_max is not None
    assert decoded_max[1] == decoded_kim[1] + 1

    node = await api("query($id: ID!) { node(id: $id) { id } }", {"id": kim_id}, token=TOKENS["ana"])
    assert node == {"data": {"node": None}}
    log = await api("{ auditLog(first: 10) { nodes { action actor { email } actorEmail } } }", token=TOKENS["ana"])
    cancel = [e for e in log["data"]["auditLog"]["nodes"] if e["action"] == "cancelTrial"]
    # The entry keeps Kim's address and names no current admin.
    assert cancel == [{"action": "cancelTrial", "actor": None, "actorEmail": "kim@acme.example"}]


def test_encoded_ids_are_remembered_byte_identical_and_bounded(monkeypatch) -> None:
    monkeypatch.setattr(ids, "_ENCODED", {name: {} for name in NODE_TYPES})
    monkeypatch.setattr(ids, "_ENCODED_PER_TYPE", 3)
    # base64("Customer:1") = "Q3VzdG9tZXI6MQ==" → unpadded "Q3VzdG9tZXI6MQ"; the
    # largest id, "PartnerAdmin:2147483647" (23 bytes), 31 characters.
    assert to_global_id("Customer", 1) == "Q3VzdG9tZXI6MQ"
    assert to_global_id("Customer", 1) == "Q3VzdG9tZXI6MQ"  # from the cache now
    assert ids._ENCODED["Customer"] == {1: "Q3VzdG9tZXI6MQ"}
    assert to_global_id("PartnerAdmin", 2147483647) == raw("PartnerAdmin:2147483647")
    assert len(to_global_id("PartnerAdmin", 2147483647)) == 31
    # True == 1 as a dict key, but its id spells "True": never answered from 1's entry, never stored.
    assert to_global_id("Customer", True) == raw("Customer:True")
    assert ids._ENCODED["Customer"] == {1: "Q3VzdG9tZXI6MQ"}
    # Types are kept apart: Trial 1 is not Customer 1.
    assert to_global_id("Trial", 1) == raw("Trial:1") != to_global_id("Customer", 1)
    # Bounded: the 4th id of a type empties that type's entries first (3 allowed), then is kept.
    for db_id in (2, 3, 4):
        assert to_global_id("Customer", db_id) == raw(f"Customer:{db_id}")
    assert ids._ENCODED["Customer"] == {4: raw("Customer:4")}
    # A type name that is no node type is encoded, not cached.
    assert to_global_id("Other", 5) == raw("Other:5")
    assert "Other" not in ids._ENCODED


@given(st.sampled_from(sorted(NODE_TYPES)), st.integers(min_value=1, max_value=2**31 - 1))
def test_cached_and_fresh_encodings_agree(type_name: str, db_id: int) -> None:
    expected = raw(f"{type_name}:{db_id}")
    assert to_global_id(type_name, db_id) == expected
    assert to_global_id(type_name, db_id) == expected
    assert from_global_id(expected) == (type_name, db_id)
