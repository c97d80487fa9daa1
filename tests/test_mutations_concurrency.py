"""Concurrent mutations on PostgreSQL: races end in one clean winner and clean user errors.

Each request goes through its own httpx client into the same ASGI app, so the
requests run concurrently on separate database connections from the app's pool
(10 + 10 overflow) as they would from separate browsers.

Two kinds of test:

* "natural" races fire 10 identical requests at once with ``asyncio.gather``;
* "forced" races hold every request at an ``asyncio.Barrier`` placed where the
  race matters (after the pre-check, or before the partner lock), so that all
  of them are inside their transactions at the same time, which proves the
  database constraint or lock — not luck in scheduling — decides.

SQLite is skipped: it has one writer at a time, and every mutation takes the
write lock with its first statement, so these races cannot happen there (a
forced race would even deadlock the barrier against that lock).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, Customer, PartnerAdmin, Plan
from resolvers.mutations import assignments, order_setup, partner_admins, runner, trials
from tests import factories as f
from tests.conftest import is_postgres
from tests.test_mutations import DOCS
from tests.world import TOKENS, World

pytestmark = pytest.mark.skipif(
    not is_postgres(),
    reason="PostgreSQL only (set TEST_DATABASE_URL=postgresql://…): SQLite serialises all writers, so these races cannot occur",
)

N = 10
TOKEN = {**TOKENS, "fiona": "t-fiona"}
BARRIER_TIMEOUT = 10


@contextlib.asynccontextmanager
async def clients(app, n: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``n`` independent clients of one app."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=30)
            )
            for _ in range(n)
        ]


async def post(client: httpx.AsyncClient, name: str, variables: dict[str, Any], who: str = "ana") -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": DOCS[name], "variables": {"input": variables}},
        headers={"Authorization": f"Bearer {TOKEN[who]}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("errors") is None, body
    return body["data"][name]


async def attempt(client: httpx.AsyncClient, name: str, variables: dict[str, Any], who: str) -> str:
    """``ok``, the single user error code, or the top-level error code (401 counts as UNAUTHENTICATED)."""
    response = await client.post(
        "/graphql",
        json={"query": DOCS[name], "variables": {"input": variables}},
        headers={"Authorization": f"Bearer {TOKEN[who]}"},
    )
    if response.status_code == 401:
        return "UNAUTHENTICATED"
    assert response.status_code == 200, response.text
    body = response.json()
    if body.get("errors"):
        [error] = body["errors"]
        return error["extensions"]["code"]
    return outcome(body["data"][name])


async def attempts(api, calls: list[tuple[str, dict[str, Any], str]]) -> list[str]:
    """Run ``(mutation, input, who)`` calls at once, each through its own client; their :func:`attempt` results."""
    async with clients(api.app, len(calls)) as cs:
        return await asyncio.gather(
            *[attempt(c, name, variables, who) for c, (name, variables, who) in zip(cs, calls, strict=False)]
        )


async def concurrently(api, calls: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Run ``(mutation, input, who)`` calls at once, each through its own client."""
    async with clients(api.app, len(calls)) as cs:
        return await asyncio.gather(
            *[post(c, name, variables, who) for c, (name, variables, who) in zip(cs, calls, strict=False)]
        )


def outcome(payload: dict[str, Any]) -> str:
    """``ok`` or the single error code of a payload."""
    if not payload["userErrors"]:
        return "ok"
    [error] = payload["userErrors"]
    return error["code"]


def hold(monkeypatch, name: str, parties: int, *, after: bool) -> None:
    """Hold the first ``parties`` calls of ``<name>`` (of the mutation module defining it) at a barrier until all of them got there.

    ``after``: the barrier comes once the function has run (everyone has seen
    the same state); otherwise before it runs (everyone is inside its
    transaction, nobody has gone further). Later calls pass freely.
    """
    barrier = asyncio.Barrier(parties)
    [home] = [m for m in (runner, trials, assignments, partner_admins, order_setup) if hasattr(m, name)]
    original = getattr(home, name)
    calls = [0]

    async def held(*args, **kwargs):
        calls[0] += 1
        gated = calls[0] <= parties
        if gated and not after:
            await asyncio.wait_for(barrier.wait(), BARRIER_TIMEOUT)
        result = await original(*args, **kwargs)
        if gated and after:
            await asyncio.wait_for(barrier.wait(), BARRIER_TIMEOUT)
        return result

    monkeypatch.setattr(home, name, held)


@pytest.fixture
def constraint_spy(monkeypatch) -> list[str | None]:
    """Names of the unique constraints the mutations hit, in order."""
    seen: list[str | None] = []
    original = runner.violated_constraint

    def spy(exc):
        name = original(exc)
        seen.append(name)
        return name

    # Looked at by the runner (conflicts) and by startTrial's trial-number retry.
    monkeypatch.setattr(runner, "violated_constraint", spy)
    monkeypatch.setattr(trials, "violated_constraint", spy)
    return seen


async def count(session, statement) -> int:
    value = (await session.execute(statement)).scalar_one()
    await session.rollback()
    return value


async def active_trials(session, customer_id: int) -> int:
    return await count(
        session,
        select(func.count())
        .select_from(Plan)
        .where(Plan.customer_id == customer_id, Plan.kind == "TRIAL", Plan.status == "ACTIVE"),
    )


async def audit_events(session, action: str) -> int:
    return await count(session, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


async def full_admins(session) -> list[str]:
    rows = (
        (
            await session.execute(
                select(PartnerAdmin.email).where(
                    PartnerAdmin.partner_id == 1, PartnerAdmin.role == "PARTNER_FULL_ADMIN"
                )
            )
        )
        .scalars()
        .all()
    )
    await session.rollback()
    return sorted(rows)


# ------------------------------------------------------------------ startTrial


async def test_ten_concurrent_starts_for_one_customer_make_one_trial(api, session, world):
    zeta = world.gid("Customer", "Zeta")
    payloads = await concurrently(
        api, [("startTrial", {"customerId": zeta, "products": ["MEETINGS"], "licenses": 5}, "ana")] * N
    )
    # Exactly one wins; the nine others get the clean user error, not an exception.
    assert Counter(outcome(p) for p in payloads) == {"ok": 1, "TRIAL_ALREADY_ACTIVE": N - 1}
    assert await active_trials(session, world.customers["Zeta"]) == 1
    assert await audit_events(session, "startTrial") == 1


async def test_starts_that_all_passed_the_precheck_are_decided_by_the_partial_unique_index(
    api, session, world, monkeypatch, constraint_spy
):
    # Every request has seen "no active trial" before any inserts: only uq_plan_one_active_trial
    # can stop the others now (the IntegrityError path).
    hold(monkeypatch, "_has_active_trial", N, after=True)
    zeta = world.gid("Customer", "Zeta")
    payloads = await concurrently(
        api, [("startTrial", {"customerId": zeta, "products": ["MEETINGS"], "licenses": 5}, "ana")] * N
    )
    assert Counter(outcome(p) for p in payloads) == {"ok": 1, "TRIAL_ALREADY_ACTIVE": N - 1}
    for p in payloads:
        if p["userErrors"]:
            assert p["userErrors"][0]["field"] == ["input", "customerId"]
            assert (p["trial"], p["customer"]) == (None, None)
    # Each loser was stopped by the index, not by a pre-check (each violation is looked at
    # twice: by the trial-number retry, which lets it pass, then by the mutation runner).
    assert constraint_spy == ["uq_plan_one_active_trial"] * 2 * (N - 1)
    assert await active_trials(session, world.customers["Zeta"]) == 1
    assert await audit_events(session, "startTrial") == 1


async def test_concurrent_new_customers_with_one_name_make_one_customer(
    api, session, world, monkeypatch, constraint_spy
):
    hold(monkeypatch, "_name_taken", N, after=True)  # all pass the name check first
    # Case variants of one name: they fold to the same key.
    names = ["Nova", "NOVA", "nova", "NoVa", "nOVA"] * 2
    payloads = await concurrently(
        api,
        [
            ("startTrial", {"newCustomer": {"name": name}, "products": ["CALLING"], "licenses": 1}, "sally")
            for name in names
        ],
    )
    assert Counter(outcome(p) for p in payloads) == {"ok": 1, "NAME_TAKEN": N - 1}
    assert constraint_spy == ["uq_customer_name"] * (N - 1)
    assert await count(session, select(func.count()).select_from(Customer).where(Customer.name_key == "nova")) == 1
    # The losers rolled back entirely: no orphan trial, assignment or audit event.
    assert await count(session, select(func.count()).select_from(Plan).where(Plan.kind == "TRIAL")) == 3
    assert await audit_events(session, "startTrial") == 1


async def test_concurrent_starts_for_new_customers_get_distinct_trial_ids(
    api, session, world, monkeypatch, constraint_spy
):
    # All are inside their transactions, past their checks, before anyone numbers its trial:
    # the partner's trial-numbering lock makes them number one at a time, so none reuses a number.
    hold(monkeypatch, "_name_taken", N, after=True)
    payloads = await concurrently(
        api,
        [
            ("startTrial", {"newCustomer": {"name": f"Customer {i}"}, "products": ["MEETINGS"], "licenses": 1}, "ana")
            for i in range(N)
        ],
    )
    assert [outcome(p) for p in payloads] == ["ok"] * N
    # Acme had 2 trials: the new ones are Trial-3 … Trial-12, each once.
    assert sorted(int(p["trial"]["trialId"].split("-")[1]) for p in payloads) == list(range(3, 3 + N))
    assert constraint_spy == []  # no collision needed retrying


async def test_a_start_and_a_role_change_of_its_actor_do_not_deadlock(api, session, world, monkeypatch):
    # sam's startTrial holds sam's row (its rights re-read) while ana's role change of sam holds the
    # partner row and waits for sam's row. Were trials numbered under the partner row lock, the
    # start would now wait for ana and ana for the start: PostgreSQL would abort one (deadlock).
    # The numbering lock is an advisory lock of its own, so both go through.
    original = trials._name_taken

    async def slow(*args):
        taken = await original(*args)
        await asyncio.sleep(0.3)  # time for ana's change to take the partner row and queue on sam's
        return taken

    monkeypatch.setattr(trials, "_name_taken", slow)
    results = await attempts(
        api,
        [
            ("startTrial", {"newCustomer": {"name": "Nova"}, "products": ["CALLING"], "licenses": 1}, "sam"),
            ("setPartnerAdminRole", {"adminId": world.gid("PartnerAdmin", "sam"), "role": "SALES_ADMIN"}, "ana"),
        ],
    )
    assert results == ["ok", "ok"]


# ------------------------------------------------------------- partner admins


async def add_full_admin(session, world: World) -> str:
    world.admins["fiona"] = await f.admin(
        session, partner_id=1, key="fiona", role="PARTNER_FULL_ADMIN", token=TOKEN["fiona"]
    )
    await session.commit()
    return world.gid("PartnerAdmin", "fiona")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("setPartnerAdminRole", "setPartnerAdminRole"),
        ("removePartnerAdmin", "removePartnerAdmin"),
        ("setPartnerAdminRole", "removePartnerAdmin"),
    ],
)
async def test_two_concurrent_demotions_of_the_two_full_admins_leave_one(
    api, session, world, monkeypatch, first, second
):
    fiona = await add_full_admin(session, world)
    ana = world.gid("PartnerAdmin", "ana")
    # Both requests are inside their transactions before either takes the partner lock; each
    # would count two full admins without it.
    hold(monkeypatch, "_take_write_lock", 2, after=False)

    def call(name: str, target: str, who: str):
        variables = {"adminId": target, "role": "SALES_ADMIN"} if name == "setPartnerAdminRole" else {"adminId": target}
        return name, variables, who

    # Each demotes the other. The partner lock lets one go first; the other then re-reads its
    # own row (current rights at commit) and finds itself demoted (FORBIDDEN) or removed
    # (UNAUTHENTICATED) before it could count full admins.
    results = await attempts(api, [call(first, fiona, "ana"), call(second, ana, "fiona")])
    assert results.count("ok") == 1, results
    [loser] = [r for r in results if r != "ok"]
    winner = "ana" if results[0] == "ok" else "fiona"
    winning_call = first if winner == "ana" else second
    assert loser == ("FORBIDDEN" if winning_call == "setPartnerAdminRole" else "UNAUTHENTICATED"), results
    assert len(await full_admins(session)) == 1


async def test_the_race_is_real_without_the_partner_lock(api, session, world, monkeypatch):
    # Evidence that the test above provokes a genuine race: with the lock disabled, both
    # transactions count two full admins and both demotions commit, leaving none.
    fiona = await add_full_admin(session, world)

    async def no_lock(*_args):
        return None

    async def as_looked_up(_session, viewer):
        return viewer

    monkeypatch.setattr(runner, "_lock_partner", no_lock)
    # The actor re-read off too: it would otherwise turn the race into a deadlock (each holds
    # its own row and waits for the other's), which is no evidence of what the count does.
    monkeypatch.setattr(runner, "_current_actor", as_looked_up)
    hold(monkeypatch, "_take_write_lock", 2, after=False)
    payloads = await concurrently(
        api,
        [
            ("setPartnerAdminRole", {"adminId": fiona, "role": "SALES_ADMIN"}, "ana"),
            ("setPartnerAdminRole", {"adminId": world.gid("PartnerAdmin", "ana"), "role": "SALES_ADMIN"}, "fiona"),
        ],
    )
    assert [outcome(p) for p in payloads] == ["ok", "ok"]
    assert await full_admins(session) == []


async def test_ten_concurrent_self_demotions_leave_exactly_one_full_admin(api, session, world, monkeypatch):
    # ana and nine more full admins each demote themselves at once (each keeps its rights
    # until its own demotion commits, so the role re-read lets every one of them try).
    who = ["ana"]
    for i in range(N - 1):
        monkeypatch.setitem(TOKEN, f"full{i}", f"t-full{i}")
        world.admins[f"full{i}"] = await f.admin(
            session, partner_id=1, key=f"full{i}", role="PARTNER_FULL_ADMIN", token=TOKEN[f"full{i}"]
        )
        who.append(f"full{i}")
    await session.commit()
    assert len(await full_admins(session)) == N
    payloads = await concurrently(
        api,
        [("setPartnerAdminRole", {"adminId": world.gid("PartnerAdmin", w), "role": "SALES_ADMIN"}, w) for w in who],
    )
    # Nine demotions go through one at a time (partner row lock); the last is refused.
    assert Counter(outcome(p) for p in payloads) == {"ok": N - 1, "LAST_FULL_ADMIN": 1}
    assert len(await full_admins(session)) == 1


async def test_concurrent_creates_with_one_email_make_one_admin(api, session, world, monkeypatch, constraint_spy):
    hold(monkeypatch, "_email_taken", N, after=True)
    payloads = await concurrently(
        api,
        [
            (
                "createPartnerAdmin",
                {
                    "email": "Twin@p1.example" if i % 2 else "twin@P1.example",
                    "displayName": f"Twin {i}",
                    "role": "SALES_ADMIN",
                },
                "ana",
            )
            for i in range(N)
        ],
    )
    assert Counter(outcome(p) for p in payloads) == {"ok": 1, "EMAIL_TAKEN": N - 1}
    assert constraint_spy == ["uq_partner_admin_email"] * (N - 1)
    assert (
        await count(
            session, select(func.count()).select_from(PartnerAdmin).where(PartnerAdmin.email == "twin@p1.example")
        )
        == 1
    )


# ---------------------------------------------------------------- trials


async def test_concurrent_conversions_with_one_subscription_id(api, session, world, monkeypatch, constraint_spy):
    trial_b = await f.plan(
        session,
        partner_id=1,
        customer_id=world.customers["Beta"],
        kind="TRIAL",
        ext_id="Trial-B",
        starts="2026-11-20",
        ends="2026-12-20",
    )
    await session.commit()
    from resolvers.ids import to_global_id

    hold(monkeypatch, "_subscription_id_taken", 2, after=True)
    payloads = await concurrently(
        api,
        [
            ("convertTrial", {"trialId": tid, "subscriptionId": "Sub-SAME", "termMonths": 12, "autoRenew": True}, "ana")
            for tid in (world.gid("Trial", "Trial-G"), to_global_id("Trial", trial_b))
        ],
    )
    assert sorted(outcome(p) for p in payloads) == ["SUBSCRIPTION_ID_TAKEN", "ok"]
    assert constraint_spy == ["uq_plan_ext_id"]
    assert await count(session, select(func.count()).select_from(Plan).where(Plan.ext_id == "Sub-SAME")) == 1
    # The loser's trial was not converted either.
    assert await count(session, select(func.count()).select_from(Plan).where(Plan.status == "CONVERTED")) == 1


@pytest.mark.parametrize("other", ["cancelTrial", "extendTrial", "convertTrial"])
async def test_concurrent_changes_of_one_trial_are_serialised_by_its_row_lock(api, session, world, other):
    trial_g = world.gid("Trial", "Trial-G")
    second = {
        "cancelTrial": {"trialId": trial_g},
        "extendTrial": {"trialId": trial_g, "days": 5},
        "convertTrial": {"trialId": trial_g, "subscriptionId": "Sub-C2", "termMonths": 1, "autoRenew": False},
    }[other]
    calls = [
        ("convertTrial", {"trialId": trial_g, "subscriptionId": "Sub-C1", "termMonths": 1, "autoRenew": False}, "ana"),
        (other, second, "sam"),
    ] * 3
    outcomes = [outcome(p) for p in await concurrently(api, calls)]
    # Whatever the order, once the trial is converted or cancelled nothing changes it any more:
    # exactly one conversion or cancellation succeeds (extensions only while it is ACTIVE),
    # and every loser gets TRIAL_NOT_ACTIVE from the trial's status, read under its row lock.
    finishing = [o for o, (name, _input, _who) in zip(outcomes, calls, strict=False) if name != "extendTrial"]
    assert finishing.count("ok") == 1
    assert set(outcomes) <= {"ok", "TRIAL_NOT_ACTIVE"}
    status = (await session.execute(select(Plan.status).where(Plan.id == world.plans["Trial-G"]))).scalar_one()
    await session.rollback()
    assert status in ("CONVERTED", "CANCELLED")
    assert await count(
        session,
        select(func.count())
        .select_from(Plan)
        .where(Plan.kind == "SUBSCRIPTION", Plan.customer_id == world.customers["gamma"]),
    ) == (2 if status == "CONVERTED" else 1)  # Sub-G, plus the one conversion


async def test_concurrent_order_setups_activate_once(api, session, world):
    gamma = world.gid("Customer", "gamma")
    payloads = await concurrently(api, [("completeOrderSetup", {"customerId": gamma, "acceptTerms": True}, "sam")] * 5)
    assert Counter(outcome(p) for p in payloads) == {"ok": 1, "NOTHING_TO_SET_UP": 4}
    assert await audit_events(session, "completeOrderSetup") == 1
