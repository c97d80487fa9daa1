"""Mutations (SPEC §3.1) and who may run them (§4), against the hand-built world.

World recap (tests/world.py; today 2026-11-25): partner acme with ana
(PARTNER_FULL_ADMIN, the only one), rita (PARTNER_READ_ONLY_ADMIN), sam
(SALES_FULL_ADMIN, assigned Alpha and gamma), sally (SALES_ADMIN, assigned
Beta); oscar is the full admin of another partner. Acme's trials: Trial-G
(gamma, ACTIVE, 2026-11-01..2026-11-25, MESSAGING 5, started by sam) and
Trial-E (Epsilon, CANCELLED). gamma also has Sub-G (PENDING_SETUP).

Every failing case compares a dump of every table before and after: nothing
may change, not even the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from db.models import metadata
from resolvers import mutations as logic
from resolvers.ids import to_global_id
from resolvers.mutations import partner_admins, runner, trials
from resolvers.permissions import Permission
from schema.schema import schema
from tests import factories as f
from tests.world import EXPECTED_STATUSES, TOKENS, World

USER_ERRORS = "userErrors { field message code }"
CUSTOMER_FIELDS = "id name managedBy createdOn statuses products trials { trialId status } partnerAdmins { email }"
TRIAL_FIELDS = (
    "id trialId status startsOn endsOn daysRemaining startedBy { email } licenses { product total assigned used }"
)
SUBSCRIPTION_FIELDS = (
    "id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining "
    "licenses { product total assigned used }"
)

DOCS = {
    "startTrial": f"""mutation($input: StartTrialInput!) {{ startTrial(input: $input) {{
        trial {{ {TRIAL_FIELDS} }} customer {{ {CUSTOMER_FIELDS} }} {USER_ERRORS} }} }}""",
    "extendTrial": f"""mutation($input: ExtendTrialInput!) {{ extendTrial(input: $input) {{
        trial {{ {TRIAL_FIELDS} customer {{ statuses }} }} {USER_ERRORS} }} }}""",
    "cancelTrial": f"""mutation($input: CancelTrialInput!) {{ cancelTrial(input: $input) {{
        trial {{ {TRIAL_FIELDS} customer {{ statuses trials {{ trialId status }} }} }} {USER_ERRORS} }} }}""",
    "convertTrial": f"""mutation($input: ConvertTrialInput!) {{ convertTrial(input: $input) {{
        trial {{ {TRIAL_FIELDS} }}
        subscription {{ {SUBSCRIPTION_FIELDS} customer {{ statuses subscriptions {{ subscriptionId status }} }} }}
        {USER_ERRORS} }} }}""",
    "assignCustomerAdmins": f"""mutation($input: CustomerAdminsInput!) {{ assignCustomerAdmins(input: $input) {{
        customer {{ {CUSTOMER_FIELDS} }} {USER_ERRORS} }} }}""",
    "unassignCustomerAdmins": f"""mutation($input: CustomerAdminsInput!) {{ unassignCustomerAdmins(input: $input) {{
        customer {{ {CUSTOMER_FIELDS} }} {USER_ERRORS} }} }}""",
    "createPartnerAdmin": f"""mutation($input: CreatePartnerAdminInput!) {{ createPartnerAdmin(input: $input) {{
        partnerAdmin {{ id email displayName role hasAccessToAllCustomers }} {USER_ERRORS} }} }}""",
    "setPartnerAdminRole": f"""mutation($input: SetPartnerAdminRoleInput!) {{ setPartnerAdminRole(input: $input) {{
        partnerAdmin {{ id email role hasAccessToAllCustomers assignedCustomers {{ nodes {{ name }} }} }}
        {USER_ERRORS} }} }}""",
    "removePartnerAdmin": f"""mutation($input: RemovePartnerAdminInput!) {{ removePartnerAdmin(input: $input) {{
        removedAdminId {USER_ERRORS} }} }}""",
    "completeOrderSetup": f"""mutation($input: CompleteOrderSetupInput!) {{ completeOrderSetup(input: $input) {{
        customer {{ {CUSTOMER_FIELDS} subscriptions {{ subscriptionId status }} }} {USER_ERRORS} }} }}""",
}

AUDIT = """query($first: Int, $after: String) { auditLog(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id actor { email } actorEmail action targetType targetId at details } }
    nodes { id } } }"""


async def snapshot(session) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    dump = {}
    for table in metadata.sorted_tables:
        rows = (await session.execute(select(table).order_by(*table.primary_key.columns))).all()
        dump[table.name] = [tuple(row) for row in rows]
    # End the read transaction: the next dump must see later commits.
    await session.rollback()
    return dump


async def mutate(api, name: str, variables: dict[str, Any], who: str = "ana") -> dict[str, Any]:
    """The payload of mutation ``name``; asserts there is no top-level error."""
    result = await api(DOCS[name], {"input": variables}, token=TOKENS[who])
    assert result.get("errors") is None, result
    return result["data"][name]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def refused(
    api, session, name: str, variables: dict[str, Any], who: str = "ana"
) -> list[tuple[str, list[str] | None]]:
    """Run a mutation that must fail with userErrors and change nothing; return the (code, field) pairs."""
    before = await snapshot(session)
    payload = await mutate(api, name, variables, who)
    assert payload["userErrors"], payload
    for key, value in payload.items():
        if key != "userErrors":
            assert value is None, (key, payload)  # the changed object is null on error
    assert await snapshot(session) == before
    return codes(payload)


async def last_audit(api, who: str = "ana") -> dict[str, Any]:
    result = await api(AUDIT, {"first": 1}, token=TOKENS[who])
    assert result.get("errors") is None, result
    return result["data"]["auditLog"]["edges"][0]["node"]


async def audit_count(api) -> int:
    return (await api(AUDIT, {"first": 1}, token=TOKENS["ana"]))["data"]["auditLog"]["totalCount"]


async def query(api, text: str, variables: dict | None = None, who: str = "ana") -> dict[str, Any]:
    result = await api(text, variables or {}, token=TOKENS[who])
    assert result.get("errors") is None, result
    return result["data"]


async def customer_names(api, who: str) -> list[str]:
    data = await query(api, "{ customers(first: 100) { nodes { name } } }", who=who)
    return [n["name"] for n in data["customers"]["nodes"]]


# ------------------------------------------------------------------ declarations


def test_every_mutation_declares_the_permission_of_the_spec_table():
    # SPEC §4 columns: trials (start, extend, cancel, convert); assign admins;
    # manage partner admins; complete order setup.
    expected = {
        "startTrial": Permission.MANAGE_TRIALS,
        "extendTrial": Permission.MANAGE_TRIALS,
        "cancelTrial": Permission.MANAGE_TRIALS,
        "convertTrial": Permission.MANAGE_TRIALS,
        "assignCustomerAdmins": Permission.ASSIGN_ADMINS,
        "unassignCustomerAdmins": Permission.ASSIGN_ADMINS,
        "createPartnerAdmin": Permission.MANAGE_PARTNER_ADMINS,
        "setPartnerAdminRole": Permission.MANAGE_PARTNER_ADMINS,
        "removePartnerAdmin": Permission.MANAGE_PARTNER_ADMINS,
        "completeOrderSetup": Permission.COMPLETE_ORDER_SETUP,
    }
    assert {name: spec.permission for name, spec in logic.MUTATIONS.items()} == expected
    assert set(schema._schema.mutation_type.fields) == set(expected)
    # The two admin-count rules lock the partner row on PostgreSQL.
    assert {name for name, spec in logic.MUTATIONS.items() if spec.lock_partner} == {
        "setPartnerAdminRole",
        "removePartnerAdmin",
    }


def test_user_error_codes_are_the_schema_enum():
    # The enum is generated from Code: same names, each Code's value its description.
    enum = schema._schema.type_map["UserErrorCode"]
    assert {name: value.description for name, value in enum.values.items()} == {c.name: c.value for c in logic.Code}


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2027-01-31", 1, "2027-02-28"),  # February is shorter: its last day
        ("2028-01-31", 1, "2028-02-29"),  # leap year
        ("2027-08-31", 6, "2028-02-29"),  # across a year into a leap February
        ("2027-03-31", 1, "2027-04-30"),
        ("2026-12-31", 3, "2027-03-31"),  # March has 31 days again
        ("2026-11-25", 12, "2027-11-25"),  # same day of the month
        ("2026-11-25", 60, "2031-11-25"),
        ("2026-11-30", 3, "2027-02-28"),
    ],
)
def test_add_months(start, months, expected):
    assert logic.add_months(dt.date.fromisoformat(start), months) == dt.date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("name", "variables", "postgres_lock"),
    [
        (
            "setPartnerAdminRole",
            {"adminId": ("PartnerAdmin", "sally"), "role": "SALES_FULL_ADMIN"},
            "FOR NO KEY UPDATE",
        ),
        ("removePartnerAdmin", {"adminId": ("PartnerAdmin", "sally")}, "FOR NO KEY UPDATE"),
        # No partner lock: the actor's own row comes first (then the trial row, FOR UPDATE OF plan).
        ("extendTrial", {"trialId": ("Trial", "Trial-G"), "days": 1}, "FOR SHARE OF partner_admin"),
    ],
)
async def test_mutations_lock_before_they_read(api, engine, world, name, variables, postgres_lock):
    from sqlalchemy import event

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        payload = await mutate(
            api, name, {k: world.gid(*v) if isinstance(v, tuple) else v for k, v in variables.items()}
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert payload["userErrors"] == []
    # [0] is the token lookup; the mutation's transaction starts at [1].
    first = statements[1]
    if engine.dialect.name == "sqlite":
        # A write first: SQLite's write lock is taken before anything is read.
        assert first.startswith("UPDATE partner SET name=partner.name WHERE partner.id = ?"), statements
    else:
        # The partner row (admin rules) or the actor's row is locked by the first statement.
        assert first.startswith("SELECT") and first.endswith(postgres_lock), statements


# ------------------------------------------------------------- role matrix

# SPEC §4 table, by hand: which roles may run each mutation.
ROLE_OF = {
    "ana": "PARTNER_FULL_ADMIN",
    "rita": "PARTNER_READ_ONLY_ADMIN",
    "sam": "SALES_FULL_ADMIN",
    "sally": "SALES_ADMIN",
}
ALLOWED = {
    "startTrial": {"ana", "sam", "sally"},
    "extendTrial": {"ana", "sam", "sally"},
    "cancelTrial": {"ana", "sam", "sally"},
    "convertTrial": {"ana", "sam", "sally"},
    "assignCustomerAdmins": {"ana", "sam"},
    "unassignCustomerAdmins": {"ana", "sam"},
    "createPartnerAdmin": {"ana"},
    "setPartnerAdminRole": {"ana"},
    "removePartnerAdmin": {"ana"},
    "completeOrderSetup": {"ana", "sam"},
}


def matrix_input(name: str, who: str, w: World) -> dict[str, Any]:
    """An input that succeeds for ``who`` when its role may run ``name``: objects it can see."""
    trial = w.gid("Trial", "Trial-B" if who == "sally" else "Trial-G")  # sally sees Beta only
    customer = w.gid("Customer", "Alpha")  # sam's
    return {
        "startTrial": {"newCustomer": {"name": "Matrix Co"}, "products": ["MEETINGS"], "licenses": 5},
        "extendTrial": {"trialId": trial, "days": 1},
        "cancelTrial": {"trialId": trial},
        "convertTrial": {"trialId": trial, "subscriptionId": "Sub-M", "termMonths": 12, "autoRenew": False},
        "assignCustomerAdmins": {"customerId": customer, "adminIds": [w.gid("PartnerAdmin", "sally")]},
        "unassignCustomerAdmins": {"customerId": customer, "adminIds": [w.gid("PartnerAdmin", "sam")]},
        "createPartnerAdmin": {"email": "matrix@p1.example", "displayName": "Matrix", "role": "SALES_ADMIN"},
        "setPartnerAdminRole": {"adminId": w.gid("PartnerAdmin", "sally"), "role": "SALES_FULL_ADMIN"},
        "removePartnerAdmin": {"adminId": w.gid("PartnerAdmin", "sally")},
        "completeOrderSetup": {"customerId": w.gid("Customer", "gamma"), "acceptTerms": True},  # sam's
    }[name]


@pytest.mark.parametrize("who", ["ana", "rita", "sam", "sally"])
@pytest.mark.parametrize("name", list(ALLOWED))
async def test_role_matrix(api, session, world, name, who):
    # A trial sally can see (Beta is hers) so that every trial mutation can succeed for her.
    acme = 1
    world.plans["Trial-B"] = await f.plan(
        session,
        partner_id=acme,
        customer_id=world.customers["Beta"],
        kind="TRIAL",
        ext_id="Trial-B",
        starts="2026-11-20",
        ends="2026-12-20",
    )
    await session.commit()
    before = await snapshot(session)
    result = await api(DOCS[name], {"input": matrix_input(name, who, world)}, token=TOKENS[who])
    if who in ALLOWED[name]:
        assert result.get("errors") is None, result
        assert result["data"][name]["userErrors"] == []
        event = await last_audit(api)
        assert (event["action"], event["actorEmail"]) == (name, f"{who}@p1.example")
        assert len(before["audit_event"]) == 0 and await audit_count(api) == 1
    else:
        assert result["data"] is None
        [error] = result["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["message"].startswith(f"Your role {ROLE_OF[who]} may not ")
        assert await snapshot(session) == before


@pytest.mark.parametrize(
    ("who", "name", "variables"),
    [
        # Refused on the role alone, before the (nonexistent, malformed) ids are looked at.
        ("rita", "extendTrial", {"trialId": "junk", "days": 0}),
        ("rita", "startTrial", {"customerId": "junk", "products": [], "licenses": 0}),
        ("sally", "assignCustomerAdmins", {"customerId": "junk", "adminIds": []}),
        ("sam", "removePartnerAdmin", {"adminId": to_global_id("PartnerAdmin", 999)}),
        ("sally", "completeOrderSetup", {"customerId": "junk", "acceptTerms": False}),
    ],
)
async def test_forbidden_is_checked_before_anything_is_looked_up(api, session, world, who, name, variables):
    before = await snapshot(session)
    result = await api(DOCS[name], {"input": variables}, token=TOKENS[who])
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert await snapshot(session) == before


# ------------------------------------------------------------------ startTrial


async def test_start_trial_for_an_existing_customer(api, world):
    zeta = world.gid("Customer", "Zeta")
    payload = await mutate(api, "startTrial", {"customerId": zeta, "products": ["CALLING", "MEETINGS"], "licenses": 25})
    assert payload["userErrors"] == []
    trial = payload["trial"]
    # Acme has 2 trials (Trial-G, Trial-E) → the next id is Trial-000003 (db.rules.trial_id: six digits, as seeded). Default 30 days:
    # 2026-11-25 + 30 = 2026-12-25. Lines in Product order, no usage yet.
    assert {k: v for k, v in trial.items() if k != "id"} == {
        "trialId": "Trial-000003",
        "status": "ACTIVE",
        "startsOn": "2026-11-25",
        "endsOn": "2026-12-25",
        "daysRemaining": 30,
        "startedBy": {"email": "ana@p1.example"},
        "licenses": [
            {"product": "MEETINGS", "total": 25, "assigned": 0, "used": 0},
            {"product": "CALLING", "total": 25, "assigned": 0, "used": 0},
        ],
    }
    # Follow-up fields show the new state: the live trial ends in 30 ≤ 30 days → EXPIRING_SOON
    # and TRIAL join Zeta's SUBSCRIPTION. A full admin is not assigned to the customer.
    customer = payload["customer"]
    assert customer["id"] == zeta
    assert customer["statuses"] == ["EXPIRING_SOON", "TRIAL", "SUBSCRIPTION"]
    assert customer["trials"] == [{"trialId": "Trial-000003", "status": "ACTIVE"}]
    assert customer["partnerAdmins"] == []
    # ...and so does a fresh query.
    node = await query(
        api, "query($id: ID!) { node(id: $id) { ... on Trial { trialId customer { name } } } }", {"id": trial["id"]}
    )
    assert node["node"] == {"trialId": "Trial-000003", "customer": {"name": "Zeta"}}
    event = await last_audit(api)
    assert event["actor"] == {"email": "ana@p1.example"}
    assert (event["actorEmail"], event["action"], event["targetType"], event["targetId"]) == (
        "ana@p1.example",
        "startTrial",
        "Trial",
        trial["id"],
    )
    assert event["details"] == {
        "trialId": "Trial-000003",
        "customer": zeta,
        "products": ["MEETINGS", "CALLING"],
        "licenses": 25,
        "startsOn": "2026-11-25",
        "endsOn": "2026-12-25",
    }


async def test_sales_admin_starting_a_trial_for_a_new_customer_is_assigned_to_it(api, world):
    payload = await mutate(
        api,
        "startTrial",
        {"newCustomer": {"name": "  Omega Corp  "}, "products": ["MESSAGING"], "licenses": 1000, "days": 90},
        who="sally",
    )
    assert payload["userErrors"] == []
    # 2026-11-25 + 90 days: +5 → Nov 30, +31 → Dec 31 (36), +31 → Jan 31 (67), +23 → 2027-02-23.
    assert (payload["trial"]["endsOn"], payload["trial"]["daysRemaining"]) == ("2027-02-23", 90)
    customer = payload["customer"]
    # Name trimmed; managedBy defaults to PARTNER_ORG; created today. Ends in 90 > 30 days → not
    # EXPIRING_SOON; never active → NO_RECENT_ACTIVITY; live trial → TRIAL.
    assert {k: customer[k] for k in ("name", "managedBy", "createdOn", "statuses", "products", "partnerAdmins")} == {
        "name": "Omega Corp",
        "managedBy": "PARTNER_ORG",
        "createdOn": "2026-11-25",
        "statuses": ["NO_RECENT_ACTIVITY", "TRIAL"],
        "products": ["MESSAGING"],
        "partnerAdmins": [{"email": "sally@p1.example"}],
    }
    assert await customer_names(api, "sally") == ["Beta", "Omega Corp"]
    details = (await last_audit(api))["details"]
    assert details["newCustomer"] == {"name": "Omega Corp", "managedBy": "PARTNER_ORG"}
    assert details["assignedToActor"] is True
    assert details["customer"] == customer["id"]


async def test_full_admin_creating_a_customer_is_not_assigned_and_names_are_per_partner(api, world):
    # "Aardvark" belongs to the other partner only: free for acme.
    payload = await mutate(
        api,
        "startTrial",
        {
            "newCustomer": {"name": "Aardvark", "managedBy": "EXTERNAL_ADMIN"},
            "products": ["CALLING"],
            "licenses": 1,
            "days": 1,
        },
    )
    assert payload["userErrors"] == []
    assert (payload["customer"]["managedBy"], payload["customer"]["partnerAdmins"]) == ("EXTERNAL_ADMIN", [])
    assert payload["trial"]["endsOn"] == "2026-11-26"  # 1 day, the lower bound
    assert "Aardvark" in await customer_names(api, "ana")


async def test_start_trial_bounds_are_accepted(api, world):
    # licenses 1000 and days 90 are the upper bounds, a 200-character name the longest.
    payload = await mutate(
        api,
        "startTrial",
        {
            "newCustomer": {"name": "N" * 200},
            "products": ["MEETINGS", "CALLING", "MESSAGING", "REAL_TIME_TRANSLATION"],
            "licenses": 1000,
            "days": 90,
        },
    )
    assert payload["userErrors"] == []
    assert [line["product"] for line in payload["trial"]["licenses"]] == [
        "MEETINGS",
        "CALLING",
        "MESSAGING",
        "REAL_TIME_TRANSLATION",
    ]


async def test_start_trial_when_one_is_active(api, session, world):
    gamma = world.gid("Customer", "gamma")  # Trial-G is ACTIVE
    assert await refused(
        api, session, "startTrial", {"customerId": gamma, "products": ["MEETINGS"], "licenses": 5}
    ) == [("TRIAL_ALREADY_ACTIVE", ["input", "customerId"])]


@pytest.mark.parametrize("name", ["ALPHA", "  alpha ", "čAČAK TELEKOM"])
async def test_start_trial_name_taken_case_insensitively(api, session, world, name):
    assert await refused(
        api, session, "startTrial", {"newCustomer": {"name": name}, "products": ["MEETINGS"], "licenses": 5}
    ) == [("NAME_TAKEN", ["input", "newCustomer", "name"])]


INVALID_START = [
    ({"products": []}, [["input", "products"]]),
    ({"products": ["MEETINGS", "CALLING", "MEETINGS"]}, [["input", "products"]]),
    ({"licenses": 0}, [["input", "licenses"]]),
    ({"licenses": 1001}, [["input", "licenses"]]),
    ({"days": 0}, [["input", "days"]]),
    ({"days": 91}, [["input", "days"]]),
    ({"days": -5}, [["input", "days"]]),
    ({"newCustomer": {"name": "Both"}}, [["input"]]),  # customerId and newCustomer
    ({"customerId": None}, [["input"]]),  # neither
    ({"customerId": None, "newCustomer": {"name": ""}}, [["input", "newCustomer", "name"]]),
    ({"customerId": None, "newCustomer": {"name": "   "}}, [["input", "newCustomer", "name"]]),
    ({"customerId": None, "newCustomer": {"name": "x" * 201}}, [["input", "newCustomer", "name"]]),
    ({"customerId": "junk"}, [["input", "customerId"]]),
    ({"customerId": to_global_id("Trial", 1)}, [["input", "customerId"]]),  # a Trial's id, not a Customer's
    # Every bad value is reported at once, in input order.
    ({"products": [], "licenses": 0, "days": 0}, [["input", "products"], ["input", "licenses"], ["input", "days"]]),
]


@pytest.mark.parametrize(("change", "fields"), INVALID_START)
async def test_start_trial_invalid_input(api, session, world, change, fields):
    variables = {"customerId": world.gid("Customer", "Zeta"), "products": ["MEETINGS"], "licenses": 5, **change}
    assert await refused(api, session, "startTrial", variables) == [("INVALID_INPUT", field) for field in fields]


@pytest.mark.parametrize(
    ("who", "customer"),
    [("sam", "Beta"), ("sally", "Alpha"), ("oscar", "Zeta"), ("ana", "Aardvark"), ("ana", None)],
)
async def test_start_trial_for_a_customer_the_caller_cannot_see(api, session, world, who, customer):
    customer_id = world.gid("Customer", customer) if customer else to_global_id("Customer", 999)
    assert await refused(
        api, session, "startTrial", {"customerId": customer_id, "products": ["MEETINGS"], "licenses": 5}, who
    ) == [("NOT_FOUND", ["input", "customerId"])]


async def test_trial_ids_skip_taken_numbers(api, session, world):
    # An imported Trial-000004 exists: 3 trials → candidate Trial-000004 is taken → Trial-000005.
    await f.plan(
        session,
        partner_id=1,
        customer_id=world.customers["Epsilon"],
        kind="TRIAL",
        ext_id="Trial-000004",
        status="CANCELLED",
        starts="2025-01-01",
        ends="2025-01-31",
    )
    await session.commit()
    payload = await mutate(
        api, "startTrial", {"customerId": world.gid("Customer", "Zeta"), "products": ["MEETINGS"], "licenses": 5}
    )
    assert payload["trial"]["trialId"] == "Trial-000005"


async def test_trial_id_collision_is_retried_in_a_savepoint(api, session, world, monkeypatch):
    # Simulate a concurrent start that took our number: the first candidate is Trial-G (taken).
    # The insert fails inside a savepoint, the next candidate Trial-000003 is used, and the rest of
    # the transaction (nothing lost) commits.
    original = trials._free_trial_id
    calls = []

    async def first_taken(session_, partner_id):
        calls.append(partner_id)
        return "Trial-G" if len(calls) == 1 else await original(session_, partner_id)

    monkeypatch.setattr(trials, "_free_trial_id", first_taken)
    payload = await mutate(
        api, "startTrial", {"newCustomer": {"name": "Retry"}, "products": ["MEETINGS"], "licenses": 5}
    )
    assert payload["userErrors"] == []
    assert payload["trial"]["trialId"] == "Trial-000003" and len(calls) == 2
    assert payload["customer"]["name"] == "Retry"
    dump = await snapshot(session)
    assert len([p for p in dump["plan"] if p[3] == "TRIAL"]) == 3  # Trial-G, Trial-E, Trial-000003


@pytest.mark.parametrize(
    ("precheck", "name", "variables", "expected"),
    [
        (
            "_has_active_trial",
            "startTrial",
            {"customerId": ("Customer", "gamma"), "products": ["MEETINGS"], "licenses": 5},
            ("TRIAL_ALREADY_ACTIVE", ["input", "customerId"]),
        ),
        (
            "_name_taken",
            "startTrial",
            {"newCustomer": {"name": "alpha"}, "products": ["MEETINGS"], "licenses": 5},
            ("NAME_TAKEN", ["input", "newCustomer", "name"]),
        ),
        (
            "_email_taken",
            "createPartnerAdmin",
            {"email": "SAM@p1.example", "displayName": "S", "role": "SALES_ADMIN"},
            ("EMAIL_TAKEN", ["input", "email"]),
        ),
        (
            "_subscription_id_taken",
            "convertTrial",
            {"trialId": ("Trial", "Trial-G"), "subscriptionId": "Sub-A", "termMonths": 1, "autoRenew": False},
            ("SUBSCRIPTION_ID_TAKEN", ["input", "subscriptionId"]),
        ),
    ],
)
async def test_a_race_past_the_precheck_is_answered_from_the_unique_constraint(
    api, session, world, monkeypatch, precheck, name, variables, expected
):
    # What a concurrent request winning the race looks like: the pre-check saw nothing, the
    # insert hits the unique constraint; the whole transaction is rolled back (on PostgreSQL
    # it is aborted) and the clean user error is answered.
    async def saw_nothing(*_args):
        return False

    monkeypatch.setattr(partner_admins if precheck == "_email_taken" else trials, precheck, saw_nothing)
    resolved = {k: world.gid(*v) if isinstance(v, tuple) else v for k, v in variables.items()}
    assert await refused(api, session, name, resolved) == [expected]


async def test_mutations_of_one_document_run_in_order(api, session, world):
    doc = """mutation($input: StartTrialInput!) {
      first: startTrial(input: $input) { trial { trialId } userErrors { code } }
      second: startTrial(input: $input) { trial { trialId } userErrors { code } }
    }"""
    variables = {"input": {"customerId": world.gid("Customer", "Zeta"), "products": ["MEETINGS"], "licenses": 5}}
    data = await query(api, doc, variables)
    assert data == {
        "first": {"trial": {"trialId": "Trial-000003"}, "userErrors": []},
        "second": {"trial": None, "userErrors": [{"code": "TRIAL_ALREADY_ACTIVE"}]},
    }
    assert await audit_count(api) == 1  # the refused one changed nothing, so nothing is audited


async def test_a_failure_after_the_writes_rolls_back_everything(api, session, world, monkeypatch):
    # The audit event is part of the mutation's transaction: if it cannot be written, the trial
    # is not created either, and the client sees INTERNAL_SERVER_ERROR without internals.
    async def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "_write_audit", broken)
    before = await snapshot(session)
    result = await api(
        DOCS["startTrial"],
        {"input": {"newCustomer": {"name": "Lost"}, "products": ["MEETINGS"], "licenses": 5}},
        token=TOKENS["ana"],
    )
    assert result["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in result["errors"]] == [
        ("Internal server error.", "INTERNAL_SERVER_ERROR")
    ]
    assert await snapshot(session) == before


# ------------------------------------------------------------------ extendTrial


async def test_extend_trial(api, world):
    trial_g = world.gid("Trial", "Trial-G")
    payload = await mutate(api, "extendTrial", {"trialId": trial_g, "days": 40}, who="sam")
    assert payload["userErrors"] == []
    # 2026-11-25 + 40: +5 → Nov 30, +31 → Dec 31 (36), +4 → 2027-01-04; length 64 days ≤ 90.
    trial = payload["trial"]
    assert (trial["startsOn"], trial["endsOn"], trial["daysRemaining"], trial["status"]) == (
        "2026-11-01",
        "2027-01-04",
        40,
        "ACTIVE",
    )
    # Ending in 40 > 30 days, the trial no longer makes gamma EXPIRING_SOON.
    assert trial["customer"]["statuses"] == ["READY_FOR_SETUP", "NO_RECENT_ACTIVITY", "TRIAL"]
    event = await last_audit(api)
    assert (event["actorEmail"], event["action"], event["targetType"], event["targetId"]) == (
        "sam@p1.example",
        "extendTrial",
        "Trial",
        trial_g,
    )
    assert event["details"] == {"trialId": "Trial-G", "days": 40, "endsOn": {"from": "2026-11-25", "to": "2027-01-04"}}


async def test_extend_trial_to_exactly_90_days(api, session, world):
    trial_g = world.gid("Trial", "Trial-G")
    # Trial-G runs 2026-11-01..2026-11-25: 24 days. +66 → 90 days (2027-01-30) is allowed;
    # +67 → 91 days is TRIAL_TOO_LONG.
    assert await refused(api, session, "extendTrial", {"trialId": trial_g, "days": 67}) == [
        ("TRIAL_TOO_LONG", ["input", "days"])
    ]
    assert await refused(api, session, "extendTrial", {"trialId": trial_g, "days": 2_000_000_000}) == [
        ("TRIAL_TOO_LONG", ["input", "days"])
    ]
    payload = await mutate(api, "extendTrial", {"trialId": trial_g, "days": 66})
    assert payload["trial"]["endsOn"] == "2027-01-30"
    # Now at 90 days, even one more day is too long.
    assert await refused(api, session, "extendTrial", {"trialId": trial_g, "days": 1}) == [
        ("TRIAL_TOO_LONG", ["input", "days"])
    ]


@pytest.mark.parametrize(
    ("variables", "who", "expected"),
    [
        (
            {"trialId": ("Trial", "Trial-E"), "days": 1},
            "ana",
            [("TRIAL_NOT_ACTIVE", ["input", "trialId"])],
        ),  # CANCELLED
        ({"trialId": ("Trial", "Trial-G"), "days": 0}, "ana", [("INVALID_INPUT", ["input", "days"])]),
        ({"trialId": ("Trial", "Trial-G"), "days": -3}, "ana", [("INVALID_INPUT", ["input", "days"])]),
        ({"trialId": "junk", "days": 1}, "ana", [("INVALID_INPUT", ["input", "trialId"])]),
        ({"trialId": ("Subscription", "Sub-A"), "days": 1}, "ana", [("INVALID_INPUT", ["input", "trialId"])]),
        (
            {"trialId": "junk", "days": 0},
            "ana",
            [("INVALID_INPUT", ["input", "trialId"]), ("INVALID_INPUT", ["input", "days"])],
        ),
        (
            {"trialId": ("Trial", "Trial-G"), "days": 1},
            "sally",
            [("NOT_FOUND", ["input", "trialId"])],
        ),  # gamma is not hers
        ({"trialId": ("Trial", "Trial-G"), "days": 1}, "oscar", [("NOT_FOUND", ["input", "trialId"])]),
        ({"trialId": ("Trial", None), "days": 1}, "ana", [("NOT_FOUND", ["input", "trialId"])]),
    ],
)
async def test_extend_trial_errors(api, session, world, variables, who, expected):
    def resolve(value):
        if not isinstance(value, tuple):
            return value
        kind, name = value
        return world.gid(kind, name) if name else to_global_id(kind, 999)

    resolved = {k: resolve(v) for k, v in variables.items()}
    assert await refused(api, session, "extendTrial", resolved, who) == expected


# ------------------------------------------------------------------ cancelTrial


async def test_cancel_trial_then_a_new_one_can_start(api, session, world):
    trial_g = world.gid("Trial", "Trial-G")
    payload = await mutate(api, "cancelTrial", {"trialId": trial_g}, who="sam")
    assert payload["userErrors"] == []
    trial = payload["trial"]
    assert (trial["status"], trial["endsOn"]) == ("CANCELLED", "2026-11-25")
    # No live trial any more: EXPIRING_SOON and TRIAL go; the PENDING_SETUP Sub-G keeps
    # READY_FOR_SETUP and stops EXPIRED.
    assert trial["customer"] == {
        "statuses": ["READY_FOR_SETUP", "NO_RECENT_ACTIVITY"],
        "trials": [{"trialId": "Trial-G", "status": "CANCELLED"}],
    }
    event = await last_audit(api)
    assert (event["action"], event["targetId"], event["details"]) == (
        "cancelTrial",
        trial_g,
        {"trialId": "Trial-G", "status": {"from": "ACTIVE", "to": "CANCELLED"}},
    )
    # Cancelled twice: no longer ACTIVE.
    assert await refused(api, session, "cancelTrial", {"trialId": trial_g}) == [
        ("TRIAL_NOT_ACTIVE", ["input", "trialId"])
    ]
    # The one-active-trial rule is free again.
    started = await mutate(
        api,
        "startTrial",
        {"customerId": world.gid("Customer", "gamma"), "products": ["MEETINGS"], "licenses": 3},
        who="sam",
    )
    assert started["userErrors"] == []
    # Newest first: Trial-000003 (starts today) before Trial-G (2026-11-01).
    assert started["customer"]["trials"] == [
        {"trialId": "Trial-000003", "status": "ACTIVE"},
        {"trialId": "Trial-G", "status": "CANCELLED"},
    ]


@pytest.mark.parametrize(
    ("trial", "who", "expected"),
    [
        ("Trial-E", "ana", ("TRIAL_NOT_ACTIVE", ["input", "trialId"])),
        ("Trial-G", "sally", ("NOT_FOUND", ["input", "trialId"])),
        ("Trial-G", "oscar", ("NOT_FOUND", ["input", "trialId"])),
        (None, "ana", ("NOT_FOUND", ["input", "trialId"])),
        ("junk", "ana", ("INVALID_INPUT", ["input", "trialId"])),
    ],
)
async def test_cancel_trial_errors(api, session, world, trial, who, expected):
    trial_id = "junk" if trial == "junk" else world.gid("Trial", trial) if trial else to_global_id("Trial", 999)
    assert await refused(api, session, "cancelTrial", {"trialId": trial_id}, who) == [expected]


# ------------------------------------------------------------------ convertTrial


async def test_convert_trial(api, session, world):
    # A trial with usage on Zeta: the subscription takes its totals, not its usage.
    trial_db = await f.plan(
        session,
        partner_id=1,
        customer_id=world.customers["Zeta"],
        kind="TRIAL",
        ext_id="Trial-Z",
        starts="2026-11-10",
        ends="2026-12-10",
        started_by=world.admins["sam"],
    )
    await f.line(session, plan_id=trial_db, product="CALLING", total=7)
    await f.line(session, plan_id=trial_db, product="MEETINGS", total=30, usage=[("2026-11-20", 12, 8, 10)])
    await session.commit()
    snapshots_before = len((await snapshot(session))["usage_snapshot"])
    trial_id = to_global_id("Trial", trial_db)
    payload = await mutate(
        api, "convertTrial", {"trialId": trial_id, "subscriptionId": " Sub-Z2 ", "termMonths": 12, "autoRenew": True}
    )
    assert payload["userErrors"] == []
    assert payload["trial"]["status"] == "CONVERTED"
    subscription = payload["subscription"]
    # Starts today, ends 12 calendar months later on the same day; renewalDate = endsOn as it
    # auto-renews; 2026-11-25 → 2027-11-25 is 365 days. Lines: totals only, nothing assigned.
    assert {k: v for k, v in subscription.items() if k not in ("id", "customer")} == {
        "subscriptionId": "Sub-Z2",
        "status": "PENDING_SETUP",
        "startsOn": "2026-11-25",
        "endsOn": "2027-11-25",
        "autoRenew": True,
        "renewalDate": "2027-11-25",
        "daysRemaining": 365,
        "licenses": [
            {"product": "MEETINGS", "total": 30, "assigned": 0, "used": 0},
            {"product": "CALLING", "total": 7, "assigned": 0, "used": 0},
        ],
    }
    # Zeta: the PENDING_SETUP subscription → READY_FOR_SETUP; Sub-Z still live → SUBSCRIPTION; the
    # converted trial is not live. Subscriptions newest first (Sub-Z2 starts today, Sub-Z 2025-12-01).
    assert subscription["customer"] == {
        "statuses": ["READY_FOR_SETUP", "SUBSCRIPTION"],
        "subscriptions": [
            {"subscriptionId": "Sub-Z2", "status": "PENDING_SETUP"},
            {"subscriptionId": "Sub-Z", "status": "ACTIVE"},
        ],
    }
    assert len((await snapshot(session))["usage_snapshot"]) == snapshots_before  # no snapshots copied
    event = await last_audit(api)
    assert (event["action"], event["targetType"], event["targetId"]) == ("convertTrial", "Trial", trial_id)
    assert event["details"] == {
        "trialId": "Trial-Z",
        "status": {"from": "ACTIVE", "to": "CONVERTED"},
        "subscription": subscription["id"],
        "subscriptionId": "Sub-Z2",
        "termMonths": 12,
        "autoRenew": True,
        "startsOn": "2026-11-25",
        "endsOn": "2027-11-25",
        "licenses": [{"product": "MEETINGS", "total": 30}, {"product": "CALLING", "total": 7}],
    }
    # Converted: no second conversion.
    assert await refused(
        api,
        session,
        "convertTrial",
        {"trialId": trial_id, "subscriptionId": "Sub-Z3", "termMonths": 1, "autoRenew": False},
    ) == [("TRIAL_NOT_ACTIVE", ["input", "trialId"])]


@pytest.mark.parametrize(
    ("today", "months", "ends"),
    [
        ("2027-01-31", 1, "2027-02-28"),  # Jan 31 + 1 month: February's last day
        ("2028-01-31", 1, "2028-02-29"),  # in a leap year
        ("2026-11-25", 60, "2031-11-25"),  # the longest term
    ],
)
async def test_convert_trial_term_end(api, world, monkeypatch, today, months, ends):
    monkeypatch.setenv("PARTNERHUB_TODAY", today)  # Trial-G's status is still ACTIVE on these days
    payload = await mutate(
        api,
        "convertTrial",
        {"trialId": world.gid("Trial", "Trial-G"), "subscriptionId": "Sub-T", "termMonths": months, "autoRenew": False},
    )
    assert (payload["subscription"]["startsOn"], payload["subscription"]["endsOn"]) == (today, ends)
    assert payload["subscription"]["renewalDate"] is None  # no auto-renewal


async def test_convert_trial_subscription_ids_are_per_partner(api, world):
    # Sub-A-other belongs to the other partner; Trial-G as a subscription id does not collide
    # with the trial id namespace either.
    payload = await mutate(
        api,
        "convertTrial",
        {
            "trialId": world.gid("Trial", "Trial-G"),
            "subscriptionId": "Sub-A-other",
            "termMonths": 1,
            "autoRenew": False,
        },
    )
    assert payload["userErrors"] == [] and payload["subscription"]["subscriptionId"] == "Sub-A-other"


@pytest.mark.parametrize(
    ("change", "who", "expected"),
    [
        ({"subscriptionId": "Sub-A"}, "ana", [("SUBSCRIPTION_ID_TAKEN", ["input", "subscriptionId"])]),
        ({"subscriptionId": "  Sub-A  "}, "ana", [("SUBSCRIPTION_ID_TAKEN", ["input", "subscriptionId"])]),  # trimmed
        ({"subscriptionId": ""}, "ana", [("INVALID_INPUT", ["input", "subscriptionId"])]),
        ({"subscriptionId": "   "}, "ana", [("INVALID_INPUT", ["input", "subscriptionId"])]),
        ({"subscriptionId": "S" * 101}, "ana", [("INVALID_INPUT", ["input", "subscriptionId"])]),
        ({"termMonths": 0}, "ana", [("INVALID_INPUT", ["input", "termMonths"])]),
        ({"termMonths": 61}, "ana", [("INVALID_INPUT", ["input", "termMonths"])]),
        (
            {"trialId": "junk", "termMonths": 0},
            "ana",
            [("INVALID_INPUT", ["input", "trialId"]), ("INVALID_INPUT", ["input", "termMonths"])],
        ),
        ({"trialId": ("Trial", "Trial-E")}, "ana", [("TRIAL_NOT_ACTIVE", ["input", "trialId"])]),
        ({}, "sally", [("NOT_FOUND", ["input", "trialId"])]),
        ({"trialId": ("Trial", None)}, "sam", [("NOT_FOUND", ["input", "trialId"])]),
    ],
)
async def test_convert_trial_errors(api, session, world, change, who, expected):
    variables = {
        "trialId": world.gid("Trial", "Trial-G"),
        "subscriptionId": "Sub-NEW",
        "termMonths": 12,
        "autoRenew": True,
    }
    for key, value in change.items():
        variables[key] = (
            (world.gid(*value) if value[1] else to_global_id(value[0], 999)) if isinstance(value, tuple) else value
        )
    assert await refused(api, session, "convertTrial", variables, who) == expected


# ------------------------------------------------------------- customer admins


async def test_assign_customer_admins_is_idempotent(api, world):
    alpha = world.gid("Customer", "Alpha")
    sally, sam = world.gid("PartnerAdmin", "sally"), world.gid("PartnerAdmin", "sam")
    assert await customer_names(api, "sally") == ["Beta"]
    payload = await mutate(api, "assignCustomerAdmins", {"customerId": alpha, "adminIds": [sally]})
    assert payload["userErrors"] == []
    # By email: "sally@…" < "sam@…" ("l" < "m").
    assert payload["customer"]["partnerAdmins"] == [{"email": "sally@p1.example"}, {"email": "sam@p1.example"}]
    assert await customer_names(api, "sally") == ["Alpha", "Beta"]
    event = await last_audit(api)
    assert (event["action"], event["targetType"], event["targetId"], event["details"]) == (
        "assignCustomerAdmins",
        "Customer",
        alpha,
        {"added": [sally], "alreadyAssigned": []},
    )
    # Again, with a repeat and an already assigned admin: same state, no error.
    payload = await mutate(api, "assignCustomerAdmins", {"customerId": alpha, "adminIds": [sally, sam, sally]})
    assert payload["userErrors"] == []
    assert payload["customer"]["partnerAdmins"] == [{"email": "sally@p1.example"}, {"email": "sam@p1.example"}]
    assert (await last_audit(api))["details"] == {"added": [], "alreadyAssigned": [sally, sam]}


async def test_sales_full_admin_assigns_on_its_customers(api, session, world):
    sally = world.gid("PartnerAdmin", "sally")
    payload = await mutate(
        api, "assignCustomerAdmins", {"customerId": world.gid("Customer", "gamma"), "adminIds": [sally]}, who="sam"
    )
    assert payload["customer"]["partnerAdmins"] == [{"email": "sally@p1.example"}, {"email": "sam@p1.example"}]
    # Beta is not sam's: it does not exist for him.
    assert await refused(
        api, session, "assignCustomerAdmins", {"customerId": world.gid("Customer", "Beta"), "adminIds": [sally]}, "sam"
    ) == [("NOT_FOUND", ["input", "customerId"])]


ADMIN_LIST_ERRORS = [
    (["rita"], [("ALREADY_HAS_ACCESS", ["input", "adminIds", "0"])]),
    (["sally", "ana"], [("ALREADY_HAS_ACCESS", ["input", "adminIds", "1"])]),
    (["oscar"], [("NOT_FOUND", ["input", "adminIds", "0"])]),  # another partner's admin
    ([None], [("NOT_FOUND", ["input", "adminIds", "0"])]),
    (
        ["sally", "rita", "oscar"],
        [("ALREADY_HAS_ACCESS", ["input", "adminIds", "1"]), ("NOT_FOUND", ["input", "adminIds", "2"])],
    ),
    (["junk"], [("INVALID_INPUT", ["input", "adminIds", "0"])]),
    ([], [("INVALID_INPUT", ["input", "adminIds"])]),
    (["sally"] * 101, [("INVALID_INPUT", ["input", "adminIds"])]),
]


@pytest.mark.parametrize("name", ["assignCustomerAdmins", "unassignCustomerAdmins"])
@pytest.mark.parametrize(("admins", "expected"), ADMIN_LIST_ERRORS)
async def test_customer_admin_errors(api, session, world, name, admins, expected):
    def gid(key):
        return "junk" if key == "junk" else world.gid("PartnerAdmin", key) if key else to_global_id("PartnerAdmin", 999)

    variables = {"customerId": world.gid("Customer", "Alpha"), "adminIds": [gid(k) for k in admins]}
    assert await refused(api, session, name, variables) == expected


@pytest.mark.parametrize("name", ["assignCustomerAdmins", "unassignCustomerAdmins"])
@pytest.mark.parametrize(
    ("customer", "who", "code"),
    [
        ("junk", "ana", "INVALID_INPUT"),
        (None, "ana", "NOT_FOUND"),
        ("Aardvark", "ana", "NOT_FOUND"),
        ("Beta", "sam", "NOT_FOUND"),
    ],
)
async def test_customer_admin_customer_errors(api, session, world, name, customer, who, code):
    customer_id = (
        "junk" if customer == "junk" else world.gid("Customer", customer) if customer else to_global_id("Customer", 999)
    )
    variables = {"customerId": customer_id, "adminIds": [world.gid("PartnerAdmin", "sally")]}
    assert await refused(api, session, name, variables, who) == [(code, ["input", "customerId"])]


async def test_unassign_customer_admins_is_idempotent(api, world):
    alpha, sam = world.gid("Customer", "Alpha"), world.gid("PartnerAdmin", "sam")
    payload = await mutate(api, "unassignCustomerAdmins", {"customerId": alpha, "adminIds": [sam]})
    assert payload["userErrors"] == [] and payload["customer"]["partnerAdmins"] == []
    assert await customer_names(api, "sam") == ["gamma"]
    assert (await last_audit(api))["details"] == {"removed": [sam], "notAssigned": []}
    payload = await mutate(api, "unassignCustomerAdmins", {"customerId": alpha, "adminIds": [sam]})
    assert payload["userErrors"] == [] and payload["customer"]["partnerAdmins"] == []
    assert (await last_audit(api))["details"] == {"removed": [], "notAssigned": [sam]}


async def test_sales_admin_unassigning_itself_loses_sight_of_the_customer(api, world):
    payload = await mutate(
        api,
        "unassignCustomerAdmins",
        {"customerId": world.gid("Customer", "gamma"), "adminIds": [world.gid("PartnerAdmin", "sam")]},
        who="sam",
    )
    # Done, but the payload's customer is null: sam may no longer see gamma.
    assert payload == {"customer": None, "userErrors": []}
    assert await customer_names(api, "sam") == ["Alpha"]


# -------------------------------------------------------------- partner admins


async def test_create_partner_admin(api, world):
    payload = await mutate(
        api,
        "createPartnerAdmin",
        {"email": "  New.Person@ACME.example ", "displayName": " New Person ", "role": "SALES_ADMIN"},
    )
    assert payload["userErrors"] == []
    admin = payload["partnerAdmin"]
    # Email trimmed and lower-cased, name trimmed; a sales role sees assigned customers only.
    assert {k: v for k, v in admin.items() if k != "id"} == {
        "email": "new.person@acme.example",
        "displayName": "New Person",
        "role": "SALES_ADMIN",
        "hasAccessToAllCustomers": False,
    }
    data = await query(api, "{ partnerAdmins(first: 100) { nodes { email } } }")
    # By email: ana, new.person, rita, sally, sam.
    assert [n["email"] for n in data["partnerAdmins"]["nodes"]] == [
        "ana@p1.example",
        "new.person@acme.example",
        "rita@p1.example",
        "sally@p1.example",
        "sam@p1.example",
    ]
    event = await last_audit(api)
    assert (event["action"], event["targetType"], event["targetId"], event["details"]) == (
        "createPartnerAdmin",
        "PartnerAdmin",
        admin["id"],
        {"email": "new.person@acme.example", "displayName": "New Person", "role": "SALES_ADMIN"},
    )
    # The new admin can be assigned straight away.
    assigned = await mutate(
        api, "assignCustomerAdmins", {"customerId": world.gid("Customer", "Zeta"), "adminIds": [admin["id"]]}
    )
    assert assigned["customer"]["partnerAdmins"] == [{"email": "new.person@acme.example"}]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"email": "ANA@P1.EXAMPLE"}, [("EMAIL_TAKEN", ["input", "email"])]),
        ({"email": "nope"}, [("INVALID_INPUT", ["input", "email"])]),
        ({"email": ""}, [("INVALID_INPUT", ["input", "email"])]),
        ({"email": "a@b"}, [("INVALID_INPUT", ["input", "email"])]),
        ({"email": "a b@c.de"}, [("INVALID_INPUT", ["input", "email"])]),
        ({"email": "a@@c.de"}, [("INVALID_INPUT", ["input", "email"])]),
        ({"email": "x" * 310 + "@acme.example"}, [("INVALID_INPUT", ["input", "email"])]),  # 323 > 320 characters
        ({"displayName": ""}, [("INVALID_INPUT", ["input", "displayName"])]),
        ({"displayName": "   "}, [("INVALID_INPUT", ["input", "displayName"])]),
        ({"displayName": "d" * 201}, [("INVALID_INPUT", ["input", "displayName"])]),
        (
            {"email": "nope", "displayName": ""},
            [("INVALID_INPUT", ["input", "email"]), ("INVALID_INPUT", ["input", "displayName"])],
        ),
    ],
)
async def test_create_partner_admin_errors(api, session, world, change, expected):
    variables = {"email": "new@acme.example", "displayName": "New", "role": "SALES_ADMIN", **change}
    assert await refused(api, session, "createPartnerAdmin", variables) == expected


async def test_set_partner_admin_role(api, session, world):
    sally, sam, ana = (world.gid("PartnerAdmin", k) for k in ("sally", "sam", "ana"))
    payload = await mutate(api, "setPartnerAdminRole", {"adminId": sally, "role": "SALES_FULL_ADMIN"})
    # Still a sales role: her assignment to Beta stays.
    assert payload["partnerAdmin"] == {
        "id": sally,
        "email": "sally@p1.example",
        "role": "SALES_FULL_ADMIN",
        "hasAccessToAllCustomers": False,
        "assignedCustomers": {"nodes": [{"name": "Beta"}]},
    }
    assert (await last_audit(api))["details"] == {
        "email": "sally@p1.example",
        "role": {"from": "SALES_ADMIN", "to": "SALES_FULL_ADMIN"},
        "removedAssignments": [],
    }
    # Her new role may assign admins on her customers at once.
    assert (
        await mutate(
            api, "assignCustomerAdmins", {"customerId": world.gid("Customer", "Beta"), "adminIds": [sam]}, who="sally"
        )
    )["userErrors"] == []

    # sam becomes a full admin: he sees everything, so his assignments (Alpha, gamma, Beta) go.
    payload = await mutate(api, "setPartnerAdminRole", {"adminId": sam, "role": "PARTNER_FULL_ADMIN"})
    assert payload["partnerAdmin"]["hasAccessToAllCustomers"] is True
    assert payload["partnerAdmin"]["assignedCustomers"] == {"nodes": []}
    details = (await last_audit(api))["details"]
    assert details["role"] == {"from": "SALES_FULL_ADMIN", "to": "PARTNER_FULL_ADMIN"}
    # Customer ids in order: Alpha 1, Beta 2, gamma 3.
    assert details["removedAssignments"] == [world.gid("Customer", c) for c in ("Alpha", "Beta", "gamma")]
    assert len(await customer_names(api, "sam")) == len(EXPECTED_STATUSES)

    # Two full admins now: ana may step down.
    payload = await mutate(api, "setPartnerAdminRole", {"adminId": ana, "role": "PARTNER_READ_ONLY_ADMIN"})
    assert (payload["userErrors"], payload["partnerAdmin"]["role"]) == ([], "PARTNER_READ_ONLY_ADMIN")
    # ...but sam, the last one, may not.
    assert await refused(api, session, "setPartnerAdminRole", {"adminId": sam, "role": "SALES_ADMIN"}, "sam") == [
        ("LAST_FULL_ADMIN", ["input", "role"])
    ]


@pytest.mark.parametrize(
    ("admin", "role", "who", "expected"),
    [
        ("ana", "SALES_ADMIN", "ana", [("LAST_FULL_ADMIN", ["input", "role"])]),
        ("ana", "PARTNER_READ_ONLY_ADMIN", "ana", [("LAST_FULL_ADMIN", ["input", "role"])]),
        ("oscar", "SALES_ADMIN", "ana", [("NOT_FOUND", ["input", "adminId"])]),  # another partner's
        ("sam", "SALES_ADMIN", "oscar", [("NOT_FOUND", ["input", "adminId"])]),
        (None, "SALES_ADMIN", "ana", [("NOT_FOUND", ["input", "adminId"])]),
        ("junk", "SALES_ADMIN", "ana", [("INVALID_INPUT", ["input", "adminId"])]),
    ],
)
async def test_set_partner_admin_role_errors(api, session, world, admin, role, who, expected):
    admin_id = (
        "junk" if admin == "junk" else world.gid("PartnerAdmin", admin) if admin else to_global_id("PartnerAdmin", 999)
    )
    assert await refused(api, session, "setPartnerAdminRole", {"adminId": admin_id, "role": role}, who) == expected


async def test_the_last_full_admin_may_keep_its_role(api, world):
    payload = await mutate(
        api, "setPartnerAdminRole", {"adminId": world.gid("PartnerAdmin", "ana"), "role": "PARTNER_FULL_ADMIN"}
    )
    assert (payload["userErrors"], payload["partnerAdmin"]["role"]) == ([], "PARTNER_FULL_ADMIN")


async def test_remove_partner_admin(api, session, world):
    sam = world.gid("PartnerAdmin", "sam")
    # sam acts first, so the audit log has an event of his.
    await mutate(api, "extendTrial", {"trialId": world.gid("Trial", "Trial-G"), "days": 1}, who="sam")
    payload = await mutate(api, "removePartnerAdmin", {"adminId": sam})
    assert payload == {"removedAdminId": sam, "userErrors": []}
    # His token stopped working, his assignments are gone, his trial has no startedBy any more.
    response = await api.post("{ viewer { email } }", token=TOKENS["sam"])
    assert response.status_code == 401
    data = await query(
        api,
        """query($a: ID!, $g: ID!, $t: ID!, $s: ID!) {
        a: customer(id: $a) { partnerAdmins { email } } g: customer(id: $g) { partnerAdmins { email } }
        t: node(id: $t) { ... on Trial { startedBy { email } } } s: node(id: $s) { id } }""",
        {
            "a": world.gid("Customer", "Alpha"),
            "g": world.gid("Customer", "gamma"),
            "t": world.gid("Trial", "Trial-G"),
            "s": sam,
        },
    )
    assert data == {"a": {"partnerAdmins": []}, "g": {"partnerAdmins": []}, "t": {"startedBy": None}, "s": None}
    dump = await snapshot(session)
    assert [row for row in dump["customer_admin"] if row[1] == world.admins["sam"]] == []
    assert [row for row in dump["api_token"] if row[1] == world.admins["sam"]] == []
    log = (await query(api, AUDIT, {"first": 10}))["auditLog"]
    removal, extension = (edge["node"] for edge in log["edges"])
    assert (removal["action"], removal["targetType"], removal["targetId"]) == (
        "removePartnerAdmin",
        "PartnerAdmin",
        sam,
    )
    assert removal["details"] == {
        "email": "sam@p1.example",
        "displayName": "Sam",
        "role": "SALES_FULL_ADMIN",
        "removedAssignments": [world.gid("Customer", "Alpha"), world.gid("Customer", "gamma")],
        "revokedTokens": 1,
    }
    # The trail outlives the admin: his event keeps his email, its actor is null.
    assert (extension["action"], extension["actorEmail"], extension["actor"]) == ("extendTrial", "sam@p1.example", None)


async def test_a_full_admin_may_remove_itself_when_another_remains(api, session, world):
    ana = world.gid("PartnerAdmin", "ana")
    assert await refused(api, session, "removePartnerAdmin", {"adminId": ana}) == [
        ("LAST_FULL_ADMIN", ["input", "adminId"])
    ]
    fiona = await mutate(
        api, "createPartnerAdmin", {"email": "fiona@p1.example", "displayName": "Fiona", "role": "PARTNER_FULL_ADMIN"}
    )
    assert fiona["userErrors"] == []
    payload = await mutate(api, "removePartnerAdmin", {"adminId": ana})
    assert payload == {"removedAdminId": ana, "userErrors": []}
    assert (await api.post("{ viewer { email } }", token=TOKENS["ana"])).status_code == 401


@pytest.mark.parametrize(
    ("admin", "who", "expected"),
    [
        ("oscar", "ana", ("NOT_FOUND", ["input", "adminId"])),
        ("ana", "oscar", ("NOT_FOUND", ["input", "adminId"])),
        (None, "ana", ("NOT_FOUND", ["input", "adminId"])),
        ("junk", "ana", ("INVALID_INPUT", ["input", "adminId"])),
    ],
)
async def test_remove_partner_admin_errors(api, session, world, admin, who, expected):
    admin_id = (
        "junk" if admin == "junk" else world.gid("PartnerAdmin", admin) if admin else to_global_id("PartnerAdmin", 999)
    )
    assert await refused(api, session, "removePartnerAdmin", {"adminId": admin_id}, who) == [expected]


# ----------------------------------------------------------- completeOrderSetup


async def test_complete_order_setup(api, session, world):
    gamma = world.gid("Customer", "gamma")
    payload = await mutate(api, "completeOrderSetup", {"customerId": gamma, "acceptTerms": True}, who="sam")
    assert payload["userErrors"] == []
    customer = payload["customer"]
    # Sub-G (2026-11-25..2027-11-25) is ACTIVE and live: READY_FOR_SETUP goes, SUBSCRIPTION comes;
    # Trial-G, ending today, still makes gamma EXPIRING_SOON.
    assert customer["subscriptions"] == [{"subscriptionId": "Sub-G", "status": "ACTIVE"}]
    assert customer["statuses"] == ["EXPIRING_SOON", "NO_RECENT_ACTIVITY", "TRIAL", "SUBSCRIPTION"]
    event = await last_audit(api)
    assert (event["actorEmail"], event["action"], event["targetType"], event["targetId"]) == (
        "sam@p1.example",
        "completeOrderSetup",
        "Customer",
        gamma,
    )
    assert event["details"] == {
        "activated": [{"subscription": world.gid("Subscription", "Sub-G"), "subscriptionId": "Sub-G"}],
        "status": {"from": "PENDING_SETUP", "to": "ACTIVE"},
    }
    # Done once: nothing is left to set up.
    assert await refused(api, session, "completeOrderSetup", {"customerId": gamma, "acceptTerms": True}) == [
        ("NOTHING_TO_SET_UP", ["input", "customerId"])
    ]


@pytest.mark.parametrize(
    ("customer", "accept", "who", "expected"),
    [
        ("gamma", False, "ana", [("TERMS_NOT_ACCEPTED", ["input", "acceptTerms"])]),
        ("Alpha", True, "ana", [("NOTHING_TO_SET_UP", ["input", "customerId"])]),  # only an ACTIVE subscription
        ("Delta", True, "ana", [("NOTHING_TO_SET_UP", ["input", "customerId"])]),  # SUSPENDED is not PENDING_SETUP
        ("Beta", True, "sam", [("NOT_FOUND", ["input", "customerId"])]),
        ("gamma", True, "oscar", [("NOT_FOUND", ["input", "customerId"])]),
        (None, True, "ana", [("NOT_FOUND", ["input", "customerId"])]),
        (
            "junk",
            False,
            "ana",
            [("TERMS_NOT_ACCEPTED", ["input", "acceptTerms"]), ("INVALID_INPUT", ["input", "customerId"])],
        ),
    ],
)
async def test_complete_order_setup_errors(api, session, world, customer, accept, who, expected):
    customer_id = (
        "junk" if customer == "junk" else world.gid("Customer", customer) if customer else to_global_id("Customer", 999)
    )
    assert (
        await refused(api, session, "completeOrderSetup", {"customerId": customer_id, "acceptTerms": accept}, who)
        == expected
    )


# ------------------------------------------------------------------- audit log


async def three_events(api, world) -> None:
    trial_g = world.gid("Trial", "Trial-G")
    for days in (1, 2, 3):
        assert (await mutate(api, "extendTrial", {"trialId": trial_g, "days": days}))["userErrors"] == []


async def test_audit_log_pages_newest_first(api, world):
    await three_events(api, world)
    first = (await query(api, AUDIT, {"first": 2}))["auditLog"]
    # Newest first: the +3 extension, then +2; the +1 one is on the next page.
    assert [e["node"]["details"]["days"] for e in first["edges"]] == [3, 2]
    assert first["totalCount"] == 3
    assert [n["id"] for n in first["nodes"]] == [e["node"]["id"] for e in first["edges"]]
    assert first["pageInfo"]["hasNextPage"] is True and first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    second = (await query(api, AUDIT, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["auditLog"]
    assert [e["node"]["details"]["days"] for e in second["edges"]] == [1]
    assert second["pageInfo"]["hasNextPage"] is False and second["pageInfo"]["hasPreviousPage"] is True
    # Trial-G ended 2026-11-25: +1 → 11-26, +2 → 11-28, +3 → 12-01.
    assert [e["node"]["details"]["endsOn"] for e in first["edges"]] == [
        {"from": "2026-11-28", "to": "2026-12-01"},
        {"from": "2026-11-26", "to": "2026-11-28"},
    ]
    at = dt.datetime.fromisoformat(first["edges"][0]["node"]["at"])
    assert at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=5)


@pytest.mark.parametrize(("who", "visible"), [("ana", 3), ("rita", 3), ("oscar", 0)])
async def test_audit_log_readers_see_their_partner_only(api, world, who, visible):
    await three_events(api, world)
    log = (await query(api, AUDIT, {"first": 10}, who=who))["auditLog"]
    assert log["totalCount"] == visible and len(log["edges"]) == visible


@pytest.mark.parametrize("who", ["sam", "sally"])
async def test_audit_log_is_forbidden_to_sales_roles(api, world, who):
    await three_events(api, world)
    result = await api(AUDIT, {"first": 10}, token=TOKENS[who])
    assert result["data"] == {"auditLog": None}  # the field alone is nulled (SPEC §3.2)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("who", "sees"), [("ana", True), ("rita", True), ("sam", False), ("sally", False), ("oscar", False)]
)
async def test_audit_events_by_node_id(api, world, who, sees):
    await three_events(api, world)
    event_id = (await last_audit(api))["id"]
    data = await query(
        api,
        "query($id: ID!) { node(id: $id) { id ... on AuditEvent { action actor { email } } } }",
        {"id": event_id},
        who=who,
    )
    assert data["node"] == (
        {"id": event_id, "action": "extendTrial", "actor": {"email": "ana@p1.example"}} if sees else None
    )


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"first": 0}, "BAD_USER_INPUT"),
        ({"first": 101}, "BAD_USER_INPUT"),
        ({"after": "nonsense"}, "BAD_USER_INPUT"),
    ],
)
async def test_audit_log_paging_arguments(api, world, variables, code):
    result = await api(AUDIT, variables, token=TOKENS["ana"])
    assert [e["extensions"]["code"] for e in result["errors"]] == [code]
