"""API tokens (db/tokens.py): only hashes are stored (SPEC §4)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.io import load_document
from db.tokens import create_token, hash_token, new_token, revoke_tokens, viewer_for_token


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
