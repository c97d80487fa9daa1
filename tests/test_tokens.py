"""API tokens (db/tokens.py): only hashes are stored (SPEC §4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import server
from db.engine import make_engine, make_sessionmaker
from db.io import load_document
from db.tokens import AmbiguousEmail, create_token, hash_token, new_token, revoke_tokens, viewer_for_token
from tests import factories as f


def admins_doc() -> dict:
    return {
        "partners": [
            {
                "id": "acme",
                "name": "Acme Partner",
                "admins": [
                    {"id": "a1", "email": "ana@acme.example", "displayName": "Ana", "role": "PARTNER_FULL_ADMIN"},
                    {"id": "a2", "email": "bo@acme.example", "displayName": "Bo", "role": "SALES_ADMIN"},
                ],
            }
        ]
    }


def test_hash_token_is_sha256_hex() -> None:
    # The standard SHA-256 test vector: sha256("abc").
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_new_tokens_are_prefixed_and_random() -> None:
    first, second = new_token(), new_token()
    # token_urlsafe(32): 32 bytes -> ceil(32 * 4 / 3) = 43 base64url characters, no padding;
    # with "ph_" that is 46 characters.
    assert first.startswith("ph_") and len(first) == 46
    assert first != second


async def test_create_stores_only_the_hash(session: AsyncSession) -> None:
    await load_document(session, admins_doc())
    # Case-insensitive lookup: the stored email is ana@acme.example.
    token = await create_token(session, email="  ANA@Acme.Example ")
    rows = (await session.execute(text("SELECT * FROM api_token"))).all()
    assert len(rows) == 1
    assert rows[0].token_hash == hash_token(token)
    assert all(token not in str(value) for row in rows for value in row)

    admin = await viewer_for_token(session, token)
    assert admin is not None and admin.email == "ana@acme.example"
    assert await viewer_for_token(session, token + "x") is None
    assert await viewer_for_token(session, "") is None


async def test_revoke_removes_every_token_of_the_admin(session: AsyncSession) -> None:
    await load_document(session, admins_doc())
    first = await create_token(session, email="ana@acme.example")
    second = await create_token(session, email="ana@acme.example")
    other = await create_token(session, email="bo@acme.example")
    # Ana has 2 tokens, Bo 1: revoking Ana deletes 2 and keeps Bo's.
    assert await revoke_tokens(session, email="Ana@acme.example") == 2
    assert await viewer_for_token(session, first) is None
    assert await viewer_for_token(session, second) is None
    bo = await viewer_for_token(session, other)
    assert bo is not None and bo.email == "bo@acme.example"
    assert await revoke_tokens(session, email="ana@acme.example") == 0
    count = (await session.execute(text("SELECT count(*) FROM api_token"))).scalar_one()
    assert count == 1


async def test_unknown_email_raises_lookup_error(session: AsyncSession) -> None:
    await load_document(session, admins_doc())
    with pytest.raises(LookupError, match=r"nobody@acme\.example"):
        await create_token(session, email="nobody@acme.example")
    with pytest.raises(LookupError, match=r"nobody@acme\.example"):
        await revoke_tokens(session, email="nobody@acme.example")


# ---------------------------------------------------------------- one email at several partners (issue 13)


def _shared_email_world(url: str) -> dict[str, int]:
    """Ana's address is an admin at acme and at other (two people); Bo's only at acme."""

    async def _build() -> dict[str, int]:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                acme = await f.partner(session, key="acme")
                other = await f.partner(session, key="other")
                ids = {
                    "acme": acme,
                    "other": other,
                    "ana@acme": await f.admin(
                        session, partner_id=acme, key="a1", role="PARTNER_FULL_ADMIN", email="ana@shared.example"
                    ),
                    "ana@other": await f.admin(
                        session, partner_id=other, key="a1", role="SALES_ADMIN", email="ana@shared.example"
                    ),
                    "bo@acme": await f.admin(
                        session, partner_id=acme, key="b1", role="SALES_ADMIN", email="bo@acme.example"
                    ),
                }
                await session.commit()
                return ids
        finally:
            await engine.dispose()

    return asyncio.run(_build())


def _tokens_by_admin(url: str, tokens: list[str] | None = None) -> dict[int, int] | list[int | None]:
    async def _read() -> Any:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                if tokens is not None:
                    viewers = [await viewer_for_token(session, token) for token in tokens]
                    return [viewer.id if viewer else None for viewer in viewers]
                rows = await session.execute(text("SELECT admin_id, count(*) FROM api_token GROUP BY admin_id"))
                return {row[0]: row[1] for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, *argv: str):
    monkeypatch.setenv("DATABASE_URL", url)
    code = server.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_token_create_for_an_email_at_several_partners_needs_the_partner(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _shared_email_world(db_url)
    code, out, err = _cli(monkeypatch, capsys, db_url, "token", "create", "ANA@shared.example")
    assert (code, out) == (1, "")
    assert err == (
        f"partnerhub: 'ana@shared.example' is the email of admins at 2 partners: 'acme' (id {ids['acme']}), "
        f"'other' (id {ids['other']}); name the partner with --partner ID"
    )
    assert _tokens_by_admin(db_url) == {}  # nothing was created

    # By external id, then by database id: each names one person.
    code, acme_token, _ = _cli(
        monkeypatch, capsys, db_url, "token", "create", "ana@shared.example", "--partner", "acme"
    )
    assert code == 0 and acme_token.startswith("ph_")
    code, other_token, _ = _cli(
        monkeypatch, capsys, db_url, "token", "create", "ana@shared.example", "--partner", str(ids["other"])
    )
    assert code == 0 and other_token.startswith("ph_")
    assert _tokens_by_admin(db_url, [acme_token, other_token]) == [ids["ana@acme"], ids["ana@other"]]

    # An address at one partner needs no --partner; a wrong one is refused all the same.
    code, bo_token, _ = _cli(monkeypatch, capsys, db_url, "token", "create", "bo@acme.example")
    assert code == 0 and _tokens_by_admin(db_url, [bo_token]) == [ids["bo@acme"]]
    code, out, err = _cli(monkeypatch, capsys, db_url, "token", "create", "bo@acme.example", "--partner", "other")
    assert (code, out, err) == (1, "", "partnerhub: no partner admin with email 'bo@acme.example' at partner 'other'")
    # Fullwidth digits and a sign do not spell a database id.
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in str(ids["other"]))
    for spelling in ("+" + str(ids["other"]), fullwidth, "nobody"):
        code, _, err = _cli(monkeypatch, capsys, db_url, "token", "create", "ana@shared.example", "--partner", spelling)
        assert code == 1 and err.startswith("partnerhub: no partner admin with email"), spelling
    assert _tokens_by_admin(db_url) == {ids["ana@acme"]: 1, ids["ana@other"]: 1, ids["bo@acme"]: 1}


def test_token_revoke_for_an_email_at_several_partners_needs_the_partner(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _shared_email_world(db_url)
    for partner in ("acme", "acme", "other"):
        assert _cli(monkeypatch, capsys, db_url, "token", "create", "ana@shared.example", "--partner", partner)[0] == 0
    assert _tokens_by_admin(db_url) == {ids["ana@acme"]: 2, ids["ana@other"]: 1}

    code, _, err = _cli(monkeypatch, capsys, db_url, "token", "revoke", "ana@shared.example")
    assert code == 1 and "at 2 partners: 'acme'" in err and err.endswith("with --partner ID")
    assert _tokens_by_admin(db_url) == {ids["ana@acme"]: 2, ids["ana@other"]: 1}  # nothing revoked

    # Revoking acme's Ana deletes her 2 tokens and keeps other's Ana's 1.
    code, _, err = _cli(monkeypatch, capsys, db_url, "token", "revoke", "ana@shared.example", "--partner", "acme")
    assert (code, err) == (0, "partnerhub: revoked 2 token(s) of ana@shared.example")
    assert _tokens_by_admin(db_url) == {ids["ana@other"]: 1}


async def test_ambiguous_email_lists_the_partners(session: AsyncSession) -> None:
    acme = await f.partner(session, key="acme")
    other = await f.partner(session, key="other")
    for partner_id in (other, acme):
        await f.admin(session, partner_id=partner_id, key="a", role="SALES_ADMIN", email="ana@shared.example")
    with pytest.raises(AmbiguousEmail) as caught:
        await create_token(session, email="ana@shared.example")
    # By partner key, whatever order the admins were made in.
    assert caught.value.partners == [("acme", acme), ("other", other)]
