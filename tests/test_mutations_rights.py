"""Current rights at commit (issue 13): a mutation acts with its actor's role and token as they are
inside its transaction, not as the token lookup saw them; on both databases.

World recap (tests/world.py): acme's ana is the only PARTNER_FULL_ADMIN, sam SALES_FULL_ADMIN
(assigned Alpha and gamma), sally SALES_ADMIN (assigned Beta); oscar is another partner's admin.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from db.engine import make_sessionmaker
from db.models import AuditEvent, PartnerAdmin
from db.tables import ADMIN
from db.tokens import revoke_tokens
from resolvers.ids import to_global_id
from resolvers.mutations import partner_admins, runner
from tests import factories as f
from tests.test_mutations import DOCS, snapshot
from tests.test_mutations_concurrency import TOKEN, attempt, clients
from tests.world import TOKENS

BURST = 20


def between_lookup_and_commit(monkeypatch, engine, change) -> None:
    """Run ``change(session)`` (committed, on a connection of its own) after the request's token
    lookup and before the mutation's transaction takes its first lock: the moment the old runner
    trusted the role it had read."""
    original = runner._take_write_lock

    async def changed_first(session, viewer, *, lock_partner):
        async with make_sessionmaker(engine)() as other:
            await change(other)
            await other.commit()
        await original(session, viewer, lock_partner=lock_partner)

    monkeypatch.setattr(runner, "_take_write_lock", changed_first)


def without(dump: dict[str, list[tuple]], *tables: str) -> dict[str, list[tuple]]:
    return {name: rows for name, rows in dump.items() if name not in tables}


async def top_level_error(api, name: str, variables: dict[str, Any], who: str) -> dict[str, Any]:
    result = await api(DOCS[name], {"input": variables}, token=TOKENS[who])
    assert result["data"] is None, result
    [error] = result["errors"]
    return error


ASSIGN_SALLY_TO_GAMMA = (
    "assignCustomerAdmins",
    lambda w: {"customerId": w.gid("Customer", "gamma"), "adminIds": [w.gid("PartnerAdmin", "sally")]},
)


async def test_token_revoked_between_lookup_and_commit_is_unauthenticated(api, engine, session, world, monkeypatch):
    before = await snapshot(session)
    between_lookup_and_commit(monkeypatch, engine, lambda s: revoke_tokens(s, email="sam@p1.example", commit=False))
    name, variables = ASSIGN_SALLY_TO_GAMMA
    error = await top_level_error(api, name, variables(world), "sam")
    assert (error["extensions"]["code"], error["message"]) == (
        "UNAUTHENTICATED",
        "The bearer token is invalid or revoked.",
    )
    after = await snapshot(session)
    # Only the revocation happened: sam's one token is gone, nothing else changed (no assignment, no audit).
    assert without(after, "api_token") == without(before, "api_token")
    assert len(after["api_token"]) == len(before["api_token"]) - 1


async def test_admin_removed_between_lookup_and_commit_is_unauthenticated(api, engine, session, world, monkeypatch):
    async def remove_sam(s):
        await s.execute(delete(ADMIN).where(ADMIN.c.id == world.admins["sam"]))

    between_lookup_and_commit(monkeypatch, engine, remove_sam)
    name, variables = ASSIGN_SALLY_TO_GAMMA
    error = await top_level_error(api, name, variables(world), "sam")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    dump = await snapshot(session)
    assert dump["audit_event"] == []
    # sally's one assignment (Beta) is all there is of her: she was not assigned to gamma.
    sally = [row for row in dump["customer_admin"] if row[1] == world.admins["sally"]]
    assert len(sally) == 1


async def test_demoted_between_lookup_and_commit_is_forbidden(api, engine, session, world, monkeypatch):
    # sam's token lookup reads SALES_FULL_ADMIN (may assign admins); then sam becomes SALES_ADMIN (may not).
    before = await snapshot(session)

    async def demote_sam(s):
        await s.execute(update(ADMIN).where(ADMIN.c.id == world.admins["sam"]).values(role="SALES_ADMIN"))

    between_lookup_and_commit(monkeypatch, engine, demote_sam)
    name, variables = ASSIGN_SALLY_TO_GAMMA
    error = await top_level_error(api, name, variables(world), "sam")
    assert (error["extensions"]["code"], error["message"]) == (
        "FORBIDDEN",
        "Your role SALES_ADMIN may not assign admins to customers.",
    )
    after = await snapshot(session)
    # Only sam's role changed (partner_admin column 5 is the role).
    assert without(after, "partner_admin") == without(before, "partner_admin")
    assert [r[5] for r in after["partner_admin"] if r[0] == world.admins["sam"]] == ["SALES_ADMIN"]


async def test_a_role_that_still_allows_the_mutation_acts_with_its_current_view(
    api, engine, session, world, monkeypatch
):
    # ana becomes SALES_ADMIN: still allowed to start trials, but only on assigned customers —
    # ana is assigned none, so Zeta (which a full admin sees) is NOT_FOUND, and nothing is written.
    async def demote_ana(s):
        await s.execute(update(ADMIN).where(ADMIN.c.id == world.admins["ana"]).values(role="SALES_ADMIN"))

    between_lookup_and_commit(monkeypatch, engine, demote_ana)
    variables = {"customerId": world.gid("Customer", "Zeta"), "products": ["MEETINGS"], "licenses": 5}
    result = await api(DOCS["startTrial"], {"input": variables}, token=TOKENS["ana"])
    assert result.get("errors") is None, result
    assert [(e["code"], e["field"]) for e in result["data"]["startTrial"]["userErrors"]] == [
        ("NOT_FOUND", ["input", "customerId"])
    ]
    assert (await snapshot(session))["audit_event"] == []


# ------------------------------------------------------------------- the race


@pytest.mark.parametrize(
    ("change", "refusal"),
    [("setPartnerAdminRole", "FORBIDDEN"), ("removePartnerAdmin", "UNAUTHENTICATED")],
)
async def test_no_create_commits_after_its_actor_was_demoted_or_removed(
    api, session, world, monkeypatch, change, refusal
):
    """fiona (a second full admin) fires 20 createPartnerAdmin at once while ana demotes (or removes) her.

    The check, worked out: every mutation writes its audit event after taking its locks and
    just before it commits, and audit ids grow in insertion order (SQLite: one writer at a time;
    PostgreSQL: a sequence). The demotion holds fiona's row FOR UPDATE from before its audit
    insert to its commit, and each create holds that row FOR SHARE from its re-read to its
    commit; so a create that commits after the demotion committed would have had to write its
    audit event after the demotion's — an id above the demotion's event. With the rights read
    at commit, every create by fiona that committed has a lower id, and each one refused saw
    the change (FORBIDDEN for the demotion, UNAUTHENTICATED for the removal or its gone token).
    """
    # Up to 40 ms between each create's token lookup and its transaction (a loaded server):
    # without it PostgreSQL is often too quick to show the window; seeded, so runs repeat.
    jitter = random.Random(13)
    original = runner._take_write_lock

    async def later(session_, viewer, *, lock_partner):
        if viewer.email == "fiona@p1.example":  # the creates; the change itself goes at once
            await asyncio.sleep(jitter.uniform(0, 0.04))
        await original(session_, viewer, lock_partner=lock_partner)

    monkeypatch.setattr(runner, "_take_write_lock", later)
    fiona = await f.admin(session, partner_id=1, key="fiona", role="PARTNER_FULL_ADMIN", token=TOKEN["fiona"])
    await session.commit()
    fiona_id = to_global_id("PartnerAdmin", fiona)
    target = {"adminId": fiona_id, "role": "SALES_ADMIN"} if change == "setPartnerAdminRole" else {"adminId": fiona_id}
    calls = [
        (
            "createPartnerAdmin",
            {"email": f"burst{i}@acme.example", "displayName": f"Burst {i}", "role": "SALES_ADMIN"},
            "fiona",
        )
        for i in range(BURST)
    ]
    # The change in the middle of the burst: requests before and after it are in flight together.
    calls.insert(BURST // 2, (change, target, "ana"))
    async with clients(api.app, len(calls)) as cs:
        results = await asyncio.gather(*[attempt(c, *call) for c, call in zip(cs, calls, strict=True)])
    assert results[BURST // 2] == "ok", results
    creates = Counter(r for i, r in enumerate(results) if i != BURST // 2)
    assert set(creates) <= {"ok", refusal}, creates
    events = (await session.execute(select(AuditEvent.id, AuditEvent.action, AuditEvent.actor_email))).all()
    admins = (
        (await session.execute(select(PartnerAdmin.email).where(PartnerAdmin.email.like("burst%")))).scalars().all()
    )
    await session.rollback()
    [changed_at] = [e.id for e in events if e.action == change]
    created = sorted(e.id for e in events if e.action == "createPartnerAdmin")
    assert all(e.actor_email == "fiona@p1.example" for e in events if e.action == "createPartnerAdmin")
    # Every create that committed did so before the change: none has a later audit event.
    assert [i for i in created if i > changed_at] == []
    assert len(created) == len(admins) == creates["ok"]
    print(f"{change}: {creates['ok']} creates committed before it, {creates[refusal]} refused with {refusal}")


# ------------------------------------------------------- emails per partner


async def test_the_email_precheck_is_scoped_to_the_callers_partner(session, world):
    # oscar@p2.example is an admin of partner 2 only: taken there, free at acme (partner 1).
    assert await partner_admins._email_taken(session, 2, "oscar@p2.example") is True
    assert await partner_admins._email_taken(session, 1, "oscar@p2.example") is False
    assert await partner_admins._email_taken(session, 1, "ana@p1.example") is True
    await session.rollback()


async def test_an_email_used_at_another_partner_is_not_refused_by_the_precheck(api, session, world, monkeypatch):
    # Which unique keys cover partner_admin.email decides the outcome: a per-partner key lets
    # acme create oscar's address; a global one (before the migration) refuses it — and then from
    # the constraint, not from the pre-check, which no longer looks at other partners.
    hit: list[str | None] = []
    original = runner.violated_constraint
    monkeypatch.setattr(runner, "violated_constraint", lambda exc: hit.append(original(exc)) or hit[-1])
    keys = [
        columns for table, columns in runner.UNIQUE_KEYS.values() if table == "partner_admin" and "email" in columns
    ]
    variables = {"email": "Oscar@p2.example", "displayName": "Other Oscar", "role": "SALES_ADMIN"}
    result = await api(DOCS["createPartnerAdmin"], {"input": variables}, token=TOKENS["ana"])
    payload = result["data"]["createPartnerAdmin"]
    if ("email",) in keys:
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("EMAIL_TAKEN", ["input", "email"])]
        assert hit == ["uq_partner_admin_email"]
    else:
        assert payload["userErrors"] == [] and payload["partnerAdmin"]["email"] == "oscar@p2.example"
        assert hit == []


@pytest.mark.parametrize(
    ("keys", "covered"),
    [
        # Today's global key, and a per-partner one under another name: both are EMAIL_TAKEN.
        ({"uq_partner_admin_email": ("partner_admin", ("email",))}, True),
        ({"uq_partner_admin_partner_email": ("partner_admin", ("partner_id", "email"))}, True),
        # A key of the table without the column, or the column's name in another table: not.
        ({"uq_partner_admin_key": ("partner_admin", ("partner_id", "key"))}, False),
        ({"uq_other_email": ("customer", ("email",))}, False),
        ({}, False),
    ],
)
def test_a_conflict_maps_whichever_unique_key_covers_its_column(monkeypatch, keys, covered):
    monkeypatch.setattr(runner, "UNIQUE_KEYS", keys)
    assert partner_admins.EMAIL_TAKEN.covers(next(iter(keys), None)) is covered


async def test_the_rights_re_read_is_one_statement(api, engine, world):
    # createPartnerAdmin, counted by hand: token lookup 1; SQLite's write lock 1 (PostgreSQL
    # takes no partner lock for it: 0); the actor re-read with its token 1; the email pre-check 1;
    # INSERT partner_admin 1; INSERT audit_event 1; the payload's admin load 1
    # → SQLite 7, PostgreSQL 6 (one more than before the re-read: 6 and 5).
    variables = {"email": "counted@acme.example", "displayName": "Counted", "role": "SALES_ADMIN"}
    result = await api(DOCS["createPartnerAdmin"], {"input": variables}, token=TOKENS["ana"])
    assert result["data"]["createPartnerAdmin"]["userErrors"] == []
    assert api.last_statements == (7 if engine.dialect.name == "sqlite" else 6)
