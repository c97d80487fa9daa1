"""The per-process token cache (db/tokens.py ``cached_viewer``, issue 14): fast, and never behind a revocation."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import tokens
from db.engine import make_sessionmaker
from db.tokens import revoke_tokens
from tests import factories as f
from tests.conftest import is_postgres
from tests.test_db_faults import HEADERS, QUERY, _client_on, cluster  # noqa: F401 - cluster is a fixture

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def token_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache on, as the server runs it (tests/conftest.py turns it off elsewhere), and empty."""
    monkeypatch.setattr(tokens, "CACHE_SECONDS", 30.0)
    tokens.forget_cached_tokens()


VIEWER = "{ viewer { email role } }"


async def _two_admins(session: AsyncSession) -> None:
    partner = await f.partner(session, key="acme")
    await f.admin(session, partner_id=partner, key="ana", role="PARTNER_FULL_ADMIN", token="tok-ana")
    await f.admin(session, partner_id=partner, key="bo", role="PARTNER_FULL_ADMIN", token="tok-bo")
    await session.commit()


async def test_a_repeated_token_is_not_looked_up_again_on_postgresql(api, session: AsyncSession) -> None:
    await _two_admins(session)
    first = await api(VIEWER, token="tok-bo")
    assert first == {"data": {"viewer": {"email": "bo@p1.example", "role": "PARTNER_FULL_ADMIN"}}}
    looked_up = api.last_statements
    assert await api(VIEWER, token="tok-bo") == first
    # PostgreSQL: answered from the cache, one statement fewer; SQLite looks every token up.
    assert api.last_statements == looked_up - (1 if is_postgres() else 0)


async def test_revoked_token_is_refused_on_the_next_request(api, session: AsyncSession) -> None:
    await _two_admins(session)
    assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["email"] == "bo@p1.example"
    assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["email"] == "bo@p1.example"
    # As `partnerhub token revoke` does it, on a session of its own, committed.
    assert await revoke_tokens(session, email="bo@p1.example") == 1
    response = await api.post(VIEWER, token="tok-bo")
    assert response.status_code == 401
    # Ana's token is unaffected (looked up again, the cache having been emptied).
    assert (await api(VIEWER, token="tok-ana"))["data"]["viewer"]["email"] == "ana@p1.example"


async def test_demoted_admin_has_the_new_role_on_the_next_request(api, session: AsyncSession) -> None:
    await _two_admins(session)
    bo = await api("{ viewer { id role } }", token="tok-bo")
    assert bo["data"]["viewer"]["role"] == "PARTNER_FULL_ADMIN"
    demoted = await api(
        """mutation($input: SetPartnerAdminRoleInput!) {
             setPartnerAdminRole(input: $input) { partnerAdmin { role } userErrors { code } } }""",
        {"input": {"adminId": bo["data"]["viewer"]["id"], "role": "SALES_ADMIN"}},
        token="tok-ana",
    )
    assert demoted == {"data": {"setPartnerAdminRole": {"partnerAdmin": {"role": "SALES_ADMIN"}, "userErrors": []}}}
    assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["role"] == "SALES_ADMIN"


async def test_removed_admin_is_refused_on_the_next_request(api, session: AsyncSession) -> None:
    await _two_admins(session)
    bo = await api("{ viewer { id } }", token="tok-bo")
    removed = await api(
        """mutation($input: RemovePartnerAdminInput!) {
             removePartnerAdmin(input: $input) { removedAdminId userErrors { code } } }""",
        {"input": {"adminId": bo["data"]["viewer"]["id"]}},
        token="tok-ana",
    )
    assert removed["data"]["removePartnerAdmin"]["userErrors"] == []
    assert (await api.post(VIEWER, token="tok-bo")).status_code == 401


async def test_a_role_changed_by_hand_in_sql_is_seen_too(api, engine: AsyncEngine, session: AsyncSession) -> None:
    await _two_admins(session)
    assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["role"] == "PARTNER_FULL_ADMIN"
    # Any UPDATE of partner_admin through SQLAlchemy counts, whoever builds it.
    async with make_sessionmaker(engine)() as other:
        await other.execute(text("UPDATE partner_admin SET role = 'SALES_ADMIN' WHERE key = 'bo'"))
        await other.commit()
    assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["role"] == "SALES_ADMIN"


async def test_a_lookup_racing_a_revocation_is_not_kept(api, session: AsyncSession) -> None:
    await _two_admins(session)
    # A lookup that began before a write and ended after it read the old row:
    # simulated by bumping the generation while the lookup's statement runs.
    real = tokens.viewer_for_token

    async def lookup_then_write(session: AsyncSession, token: str):
        viewer = await real(session, token)
        tokens._bump()
        return viewer

    tokens.viewer_for_token = lookup_then_write  # type: ignore[assignment]
    try:
        assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["email"] == "bo@p1.example"
    finally:
        tokens.viewer_for_token = real  # type: ignore[assignment]
    looked_up = api.last_statements
    await api(VIEWER, token="tok-bo")
    # Not kept by the racing lookup, so looked up again: as many statements.
    assert api.last_statements == looked_up
    await api(VIEWER, token="tok-bo")
    assert api.last_statements == looked_up - (1 if is_postgres() else 0)


async def test_revocation_by_another_process_reaches_this_one(api, db_url: str, session: AsyncSession) -> None:
    await _two_admins(session)
    assert (await api(VIEWER, token="tok-bo"))["data"]["viewer"]["email"] == "bo@p1.example"
    await api(VIEWER, token="tok-bo")
    before = tokens._State.generation
    # `partnerhub token revoke` in a process of its own: on PostgreSQL only its
    # NOTIFY can tell this process (no statement of this process wrote).
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "server.py",
        "token",
        "revoke",
        "bo@p1.example",
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    if is_postgres():
        # The window: until this event loop has read the notification (the
        # subprocess's exit already took many loop iterations; allow 2 s).
        for _ in range(200):
            if tokens._State.generation != before:
                break
            await asyncio.sleep(0.01)
        assert tokens._State.generation != before
    assert (await api.post(VIEWER, token="tok-bo")).status_code == 401


@pytest.mark.slow
async def test_a_database_restart_costs_no_failed_request_with_the_cache_on(cluster) -> None:  # noqa: F811
    # As tests/test_db_faults.py's restart test, with the token answered from the
    # cache before the restart: the dead listening connections stop the caching,
    # so the next request's first statement is the lookup again, which the
    # endpoint retries on a fresh connection.
    async with _client_on(cluster["url"]) as client:
        # The first request opens the first listening connection before its
        # lookup (web/endpoint.py opens the connection first), so its lookup is
        # kept and the second and third are answered from the cache.
        counts = []
        for _ in range(3):
            r = await client.post("/graphql", json=QUERY, headers=HEADERS)
            assert (r.status_code, r.json()["data"]) == (200, {"customers": {"totalCount": 7}})
            counts.append(r.headers["x-sql-statements"])
        assert counts == ["3", "2", "2"]  # token lookup + page + count; then the token from the cache
        cluster["stop"]()
        cluster["start"]()
        for _ in range(3):
            r = await client.post("/graphql", json=QUERY, headers=HEADERS)
            assert (r.status_code, r.json()["data"]) == (200, {"customers": {"totalCount": 7}})
