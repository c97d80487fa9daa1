"""API bearer tokens: created and revoked from the command line (SPEC §4).

Only the SHA-256 of a token is stored. Tokens are 256-bit random strings, so
a fast unsalted hash is the right tool: there is nothing to brute-force, and
the lookup on every request must stay a single indexed equality.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from typing import cast

from sqlalchemy import CursorResult, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.access import Viewer
from db.models import ApiToken, PartnerAdmin
from db.tables import ADMIN, PARTNER, TOKEN

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
    """The stored form of an email address (trimmed, NFC-normalised, lower-cased).

    Args:
        email: An email address as typed.

    Returns:
        The address as kept in ``partner_admin.email``.
    """
    return unicodedata.normalize("NFC", email.strip()).lower()


class AmbiguousEmail(LookupError):
    """The email belongs to admins of several partners and no partner was named.

    Attributes:
        partners: ``(key, db id)`` of every partner with an admin of that email, by key.
    """

    def __init__(self, email: str, partners: list[tuple[str, int]]) -> None:
        self.partners = partners
        listed = ", ".join(f"{key!r} (id {db_id})" for key, db_id in partners)
        super().__init__(f"{email!r} is the email of admins at {len(partners)} partners: {listed}; name the partner")


def _is_partner(partner: str, key: str, db_id: int) -> bool:
    # A partner is named by its external id (the import's "id", e.g. "acme") or
    # by its database id; only ASCII digits spell a database id.
    return partner == key or (partner.isascii() and partner.isdigit() and int(partner) == db_id)


async def _admin_by_email(session: AsyncSession, email: str, partner: str | None) -> PartnerAdmin:
    # Emails are unique per partner only (uq_partner_admin_email): one address
    # may be an admin at several partners, each a different person.
    address = normalize_email(email)
    rows = (
        await session.execute(
            select(PartnerAdmin, PARTNER.c.key)
            .join(PARTNER, PARTNER.c.id == col(PartnerAdmin.partner_id))
            .where(col(PartnerAdmin.email) == address)
            .order_by(PARTNER.c.key)
        )
    ).all()
    if partner is not None:
        rows = [row for row in rows if _is_partner(partner.strip(), row[1], row[0].partner_id)]
    if not rows:
        at = "" if partner is None else f" at partner {partner.strip()!r}"
        raise LookupError(f"no partner admin with email {email.strip()!r}{at}")
    if len(rows) > 1:
        raise AmbiguousEmail(address, [(key, admin.partner_id) for admin, key in rows])
    return rows[0][0]


async def create_token(session: AsyncSession, *, email: str, partner: str | None = None, commit: bool = True) -> str:
    """Create a token for the admin with ``email`` and return its plaintext.

    Args:
        session: The database session.
        email: The admin's email, in any letter case.
        partner: The admin's partner, by external id or database id; needed
            only when admins of several partners have that email.
        commit: Commit the session afterwards; pass ``False`` to keep the
            insert inside a larger transaction of the caller.

    Returns:
        The new plaintext token. It is shown once and never stored.

    Raises:
        LookupError: No admin has that email (at that partner).
        AmbiguousEmail: Admins of several partners have it and ``partner`` is ``None``.
    """
    admin = await _admin_by_email(session, email, partner)
    assert admin.id is not None  # a loaded row always has its key
    token = new_token()
    session.add(ApiToken(admin_id=admin.id, token_hash=hash_token(token), created_at=dt.datetime.now(dt.UTC)))
    if commit:
        await session.commit()
    else:
        await session.flush()
    return token


async def revoke_tokens(session: AsyncSession, *, email: str, partner: str | None = None, commit: bool = True) -> int:
    """Delete every token of the admin with ``email``.

    Args:
        session: The database session.
        email: The admin's email, in any letter case.
        partner: The admin's partner (see :func:`create_token`).
        commit: Commit the session afterwards (see :func:`create_token`).

    Returns:
        How many tokens were deleted.

    Raises:
        LookupError: No admin has that email (at that partner).
        AmbiguousEmail: Admins of several partners have it and ``partner`` is ``None``.
    """
    admin = await _admin_by_email(session, email, partner)
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
