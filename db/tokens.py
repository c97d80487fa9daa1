"""API bearer tokens: created and revoked from the command line (SPEC §4).

Only the SHA-256 of a token is stored. Tokens are 256-bit random strings, so
a fast unsalted hash is the right tool: there is nothing to brute-force, and
the lookup on every request must stay a single indexed equality.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import cast

from sqlalchemy import CursorResult, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.access import Viewer
from db.models import ApiToken, PartnerAdmin
from db.tables import ADMIN, TOKEN

TOKEN_PREFIX = "ph_"


def hash_token(token: str) -> str:
    """The stored form of a token.

    Args:
        token: The plaintext bearer token.

    Returns:
        The lower-case hex SHA-256 of the token's UTF-8 bytes (64 characters).
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token.

    Returns:
        ``"ph_"`` followed by 32 random bytes in URL-safe base64; the prefix
        lets secret scanners and people recognise a partnerhub token.
    """
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def normalize_email(email: str) -> str:
    """The stored form of an email address (trimmed, lower-cased).

    Args:
        email: An email address as typed.

    Returns:
        The address as kept in ``partner_admin.email``.
    """
    return email.strip().lower()


async def _admin_by_email(session: AsyncSession, email: str) -> PartnerAdmin:
    result = await session.execute(select(PartnerAdmin).where(col(PartnerAdmin.email) == normalize_email(email)))
    admin = result.scalar_one_or_none()
    if admin is None:
        raise LookupError(f"no partner admin with email {email.strip()!r}")
    return admin


async def create_token(session: AsyncSession, *, email: str, commit: bool = True) -> str:
    """Create a token for the admin with ``email`` and return its plaintext.

    Args:
        session: The database session.
        email: The admin's email, in any letter case.
        commit: Commit the session afterwards; pass ``False`` to keep the
            insert inside a larger transaction of the caller.

    Returns:
        The new plaintext token. It is shown once and never stored.

    Raises:
        LookupError: No admin has that email.
    """
    admin = await _admin_by_email(session, email)
    assert admin.id is not None  # a loaded row always has its key
    token = new_token()
    session.add(ApiToken(admin_id=admin.id, token_hash=hash_token(token), created_at=dt.datetime.now(dt.UTC)))
    if commit:
        await session.commit()
    else:
        await session.flush()
    return token


async def revoke_tokens(session: AsyncSession, *, email: str, commit: bool = True) -> int:
    """Delete every token of the admin with ``email``.

    Args:
        session: The database session.
        email: The admin's email, in any letter case.
        commit: Commit the session afterwards (see :func:`create_token`).

    Returns:
        How many tokens were deleted.

    Raises:
        LookupError: No admin has that email.
    """
    admin = await _admin_by_email(session, email)
    result = cast(CursorResult, await session.execute(delete(ApiToken).where(col(ApiToken.admin_id) == admin.id)))
    if commit:
        await session.commit()
    return int(result.rowcount or 0)


# Built once: every request runs it, and building it cost more than running it.
_VIEWER_BY_HASH = (
    select(
        ADMIN.c.id, ADMIN.c.partner_id, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role, TOKEN.c.id.label("token_id")
    )
    .select_from(TOKEN.join(ADMIN, ADMIN.c.id == TOKEN.c.admin_id))
    .where(TOKEN.c.token_hash == bindparam("token_hash"))
)


async def viewer_for_token(session: AsyncSession, token: str) -> Viewer | None:
    """The admin a bearer token belongs to.

    Args:
        session: The database session.
        token: The plaintext token from the ``Authorization`` header.

    Returns:
        The admin as a :class:`~db.access.Viewer`, or ``None`` when the token
        is empty, unknown or revoked.
    """
    if not token:
        return None
    row = (await session.execute(_VIEWER_BY_HASH, {"token_hash": hash_token(token)})).first()
    if row is None:
        return None
    return Viewer(
        id=row.id,
        partner_id=row.partner_id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        token_id=row.token_id,
    )
