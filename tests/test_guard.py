"""Hostile strings are refused before any SQL (schema/guard.py, SPEC §3.2, issue 13).

Through the real app: every refused request runs 0 SQL statements (not even
the token lookup), answers HTTP 400 with BAD_USER_INPUT naming the argument's
path and the character, and changes nothing.
"""

from __future__ import annotations

import pytest
from graphql import parse

from schema.guard import hostile_string_error
from tests.test_mutations import snapshot
from tests.world import TOKENS


def refusal(message: str, argument: str) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT", "argument": argument}}]}


async def test_nul_in_a_search_literal(api, world) -> None:
    # "\u0000" is the GraphQL escape of NUL inside the query text itself.
    body = await api('{ customers(filter: { search: "Al\\u0000pha" }) { totalCount } }', token=TOKENS["ana"])
    assert body == refusal(
        "`customers.filter.search` must not contain control characters; found U+0000.", "customers.filter.search"
    )
    assert api.last_statements == 0


async def test_nul_in_a_mutation_input_variable(api, world, session) -> None:
    before = await snapshot(session)
    body = await api(
        "mutation($input: CreatePartnerAdminInput!) { createPartnerAdmin(input: $input) { userErrors { code } } }",
        {"input": {"email": "new@acme.example", "displayName": "New\u0000Admin", "role": "SALES_ADMIN"}},
        token=TOKENS["ana"],
    )
    assert body == refusal(
        "`createPartnerAdmin.input.displayName` (from variable `$input`) must not contain control characters;"
        " found U+0000.",
        "createPartnerAdmin.input.displayName",
    )
    assert api.last_statements == 0
    assert await snapshot(session) == before


async def test_nul_in_a_node_id(api, world) -> None:
    alpha = world.gid("Customer", "Alpha")
    query = "query($id: ID!) { node(id: $id) { id } }"
    body = await api(query, {"id": alpha + "\u0000"}, token=TOKENS["ana"])
    assert body == refusal(
        "`node.id` (from variable `$id`) must not contain control characters; found U+0000.", "node.id"
    )
    assert api.last_statements == 0
    body = await api('{ node(id: "\\u0000") { id } }', token=TOKENS["ana"])
    assert body == refusal("`node.id` must not contain control characters; found U+0000.", "node.id")
    assert api.last_statements == 0
    # The same id without the NUL is answered: 1 statement for the token, 1 for the customer.
    assert (await api(query, {"id": alpha}, token=TOKENS["ana"]))["data"] == {"node": {"id": alpha}}
    assert api.last_statements == 2


async def test_nul_in_a_list_item_is_named_by_its_index(api, world, session) -> None:
    before = await snapshot(session)
    sam, sally = world.gid("PartnerAdmin", "sam"), world.gid("PartnerAdmin", "sally")
    body = await api(
        "mutation($admins: [ID!]!) { assignCustomerAdmins(input: { customerId: "
        f'"{world.gid("Customer", "Alpha")}", adminIds: $admins }}) {{ userErrors {{ code }} }} }}',
        {"admins": [sam, "\u0000" + sally]},
        token=TOKENS["ana"],
    )
    assert body == refusal(
        "`assignCustomerAdmins.input.adminIds[1]` (from variable `$admins`) must not contain control characters;"
        " found U+0000.",
        "assignCustomerAdmins.input.adminIds[1]",
    )
    assert api.last_statements == 0
    assert await snapshot(session) == before


async def test_without_a_token_the_refusal_comes_first(api, world) -> None:
    # Still no SQL: the token is never looked up.
    body = await api('{ customers(filter: { search: "\\u0000" }) { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert api.last_statements == 0


async def test_clean_strings_still_run(api, world) -> None:
    # Letters beyond ASCII are not control characters: "čač" is searched for and finds
    # the world's one matching customer (tests/test_customers.py).
    body = await api('{ customers(filter: { search: "čač" }) { nodes { name } } }', token=TOKENS["ana"])
    assert body == {"data": {"customers": {"nodes": [{"name": "Čačak Telekom"}]}}}


def guard(query: str, variables: dict | None = None, operation: str | None = None) -> str | None:
    error = hostile_string_error(parse(query), variables, operation)
    return None if error is None else error.message


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        # An alias is the path's response key.
        ('{ c: customers(filter: { search: "\\u0000" }) { totalCount } }', None, "`c.filter.search`"),
        # Tab (U+0009), DEL (U+007F) and a C1 control (U+0085) are control characters too.
        ('{ customers(after: "a\\tb") { totalCount } }', None, "`customers.after` … U+0009"),
        ("query($s: String) { customers(filter: { search: $s }) { totalCount } }", {"s": "\x7f"}, "U+007F"),
        ("query($s: String) { customers(filter: { search: $s }) { totalCount } }", {"s": "\x85"}, "U+0085"),
        # Nested fields, input objects inside lists.
        (
            '{ customers { nodes { partnerAdmins { assignedCustomers(after: "\\u0000") { totalCount } } } } }',
            None,
            "`customers.nodes.partnerAdmins.assignedCustomers.after`",
        ),
        ('{ f(x: [{ y: ["ok", "\\u0000"] }]) }', None, "`f.x[0].y[1]`"),
        # A variable's default is its value when the request leaves it out.
        ('query($s: String = "\\u0000") { customers(filter: { search: $s }) { totalCount } }', {}, "`$s`"),
        # Named fragments are walked once each, on their own.
        (
            "query($s: String) { ...F } fragment F on Query { customers(filter: { search: $s }) { totalCount } }",
            {"s": "\x00"},
            "`fragment F.customers.filter.search`",
        ),
        ('{ ... on Query { node(id: "\\u0000") { id } } }', None, "`node.id`"),
    ],
)
def test_guard_finds_the_character_and_names_the_path(query: str, variables: dict | None, expected: str) -> None:
    message = guard(query, variables)
    assert message is not None
    for part in expected.split(" … "):
        assert part in message, (part, message)


@pytest.mark.parametrize(
    ("query", "variables", "operation"),
    [
        ('{ customers(filter: { search: "Čačak İstanbul \\u00e9" }) { totalCount } }', None, None),
        # A supplied value replaces the hostile default; enums, numbers and booleans hold no strings.
        ('query($s: String = "\\u0000") { customers(filter: { search: $s }) { totalCount } }', {"s": "ok"}, None),
        ("{ customers(first: 5, orderBy: { field: NAME }) { totalCount } }", None, None),
        # Variables the operation does not use, and operations not run, are not looked at.
        ("query { viewer { email } }", {"unused": "\x00"}, None),
        ('query A { viewer { email } } query B { node(id: "\\u0000") { id } }', None, "A"),
        # Cyclic fragments (validation refuses them later) do not loop.
        ("{ ...F } fragment F on Query { ...F }", None, None),
    ],
)
def test_guard_lets_clean_requests_through(query: str, variables: dict | None, operation: str | None) -> None:
    assert guard(query, variables, operation) is None


def test_guard_survives_deep_nesting() -> None:
    # A variable's JSON nested 3000 lists deep: far past Python's recursion limit,
    # walked without recursion (the parser itself refuses literals nested that deep).
    value: object = "\x00"
    for _ in range(3000):
        value = [value]
    message = guard("query($v: [String]) { f(x: $v) }", {"v": value})
    assert message is not None and message.startswith("`f.x" + "[0]" * 3000 + "`")
