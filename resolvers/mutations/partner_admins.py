"""Partner-admin mutations (SPEC §3.1): create, change the role, remove."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.access import ASSIGNABLE_ROLES
from db.tables import ADMIN, ASSIGNMENT, TOKEN
from db.tokens import normalize_email
from resolvers.ids import to_global_id
from resolvers.mutations.codes import Code
from resolvers.mutations.lookups import MAX_NAME, check_text, decode_one, not_found
from resolvers.mutations.runner import Conflict, Done, Errors, FieldPath, Outcome, Tx, fail, mutation
from resolvers.permissions import Permission

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    AnyRow = Row[*tuple[Any, ...]]

MAX_EMAIL = 320
FULL_ADMIN = "PARTNER_FULL_ADMIN"
# Deliberately loose: the address must have one "@" and a dotted domain; the
# only real check of an address is mail reaching it.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def _partner_admin(tx: Tx, admin_id: int, path: FieldPath) -> AnyRow:
    """An admin of the caller's partner, locked for update.

    Raises:
        Failure: NOT_FOUND when there is none.
    """
    row = (
        await tx.session.execute(
            select(ADMIN.c.id, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role)
            .where(ADMIN.c.id == admin_id, ADMIN.c.partner_id == tx.viewer.partner_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise not_found(path, "partner admin")
    return row


async def _full_admin_count(tx: Tx) -> int:
    """Full admins of the caller's partner (call with the partner row locked)."""
    return (
        await tx.session.execute(
            select(func.count())
            .select_from(ADMIN)
            .where(ADMIN.c.partner_id == tx.viewer.partner_id, ADMIN.c.role == FULL_ADMIN)
        )
    ).scalar_one()


async def _keeps_a_full_admin(tx: Tx, admin: AnyRow, path: FieldPath, doing: str) -> None:
    """Raise LAST_FULL_ADMIN when ``admin`` is the partner's only full admin."""
    if admin.role == FULL_ADMIN and await _full_admin_count(tx) <= 1:
        raise fail(
            Code.LAST_FULL_ADMIN,
            path,
            f"{admin.email} is the partner's last PARTNER_FULL_ADMIN; {doing} would leave nobody to manage the partner.",
        )


async def _email_taken(session: AsyncSession, partner_id: int, email: str) -> bool:
    """Whether an admin of the partner has ``email``.

    Per partner: another partner's admins are not the caller's business, and
    answering EMAIL_TAKEN for them would tell who works at another tenant.
    """
    found = await session.execute(select(ADMIN.c.id).where(ADMIN.c.partner_id == partner_id, ADMIN.c.email == email))
    return found.first() is not None


EMAIL_TAKEN = Conflict(ADMIN, "email", Code.EMAIL_TAKEN, ("input", "email"), "A partner admin with this email exists.")


@mutation("createPartnerAdmin", Permission.MANAGE_PARTNER_ADMINS, conflicts=(EMAIL_TAKEN,), analytics=False)
async def create_partner_admin(tx: Tx, *, email: str, display_name: str, role: str) -> Done:
    """Create a partner admin (tokens are made from the command line).

    Args:
        tx: The mutation's transaction.
        email: A valid address, stored trimmed and lower-cased; unique among
            the partner's admins.
        display_name: Non-empty, at most 200 characters.
        role: The role.

    Returns:
        The admin with the audit record.

    Raises:
        Failure: INVALID_INPUT, EMAIL_TAKEN.
    """
    errors = Errors()
    normalized = normalize_email(email)
    if len(normalized) > MAX_EMAIL or not EMAIL_PATTERN.match(normalized):
        errors.add(Code.INVALID_INPUT, ("input", "email"), "Not a valid email address.")
    name = check_text(errors, display_name, ("input", "displayName"), "The display name", MAX_NAME)
    errors.raise_if_any()
    if await _email_taken(tx.session, tx.viewer.partner_id, normalized):
        raise EMAIL_TAKEN.failure()
    admin_id = (
        await tx.session.execute(
            insert(ADMIN)
            .values(
                partner_id=tx.viewer.partner_id,
                key=f"adm-{uuid.uuid4().hex}",
                email=normalized,
                display_name=name,
                role=role,
            )
            .returning(ADMIN.c.id)
        )
    ).scalar_one()
    details = {"email": normalized, "displayName": name, "role": role}
    return Done(Outcome(admin_id=admin_id), "PartnerAdmin", admin_id, details)


@mutation("setPartnerAdminRole", Permission.MANAGE_PARTNER_ADMINS, lock_partner=True, analytics=False)
async def set_partner_admin_role(tx: Tx, *, admin_id: str, role: str) -> Done:
    """Change an admin's role; the partner keeps at least one PARTNER_FULL_ADMIN.

    An admin given a partner-wide role loses its customer assignments: it
    sees every customer, and assignments exist for sales roles only.

    Args:
        tx: The mutation's transaction (the partner's row is locked first, so
            two concurrent demotions cannot both count two full admins).
        admin_id: Global ID of an admin of the caller's partner.
        role: The new role.

    Returns:
        The admin with the audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, LAST_FULL_ADMIN.
    """
    db_id = decode_one(admin_id, "PartnerAdmin", ("input", "adminId"))
    admin = await _partner_admin(tx, db_id, ("input", "adminId"))
    if role != FULL_ADMIN:
        await _keeps_a_full_admin(tx, admin, ("input", "role"), f"making it {role}")
    await tx.session.execute(update(ADMIN).where(ADMIN.c.id == admin.id).values(role=role))
    unassigned: list[int] = []
    if role not in ASSIGNABLE_ROLES:
        unassigned = sorted(
            (
                await tx.session.execute(
                    delete(ASSIGNMENT).where(ASSIGNMENT.c.admin_id == admin.id).returning(ASSIGNMENT.c.customer_id)
                )
            ).scalars()
        )
    details = {
        "email": admin.email,
        "role": {"from": admin.role, "to": role},
        "removedAssignments": [to_global_id("Customer", c) for c in unassigned],
    }
    # Their assignedAdmins lost this admin: live subscribers hear of each.
    return Done(Outcome(admin_id=admin.id), "PartnerAdmin", admin.id, details, tuple(unassigned))


@mutation("removePartnerAdmin", Permission.MANAGE_PARTNER_ADMINS, lock_partner=True, analytics=False)
async def remove_partner_admin(tx: Tx, *, admin_id: str) -> Done:
    """Remove an admin with its assignments and tokens; the partner keeps a full admin.

    Deleting the row cascades to ``customer_admin`` and ``api_token`` (its
    tokens stop working at once) and clears ``startedBy`` of its trials; its
    audit events keep its email.

    Args:
        tx: The mutation's transaction (partner row locked first).
        admin_id: Global ID of an admin of the caller's partner (may be the caller).

    Returns:
        The removed admin's global ID with the audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, LAST_FULL_ADMIN.
    """
    db_id = decode_one(admin_id, "PartnerAdmin", ("input", "adminId"))
    session = tx.session
    admin = await _partner_admin(tx, db_id, ("input", "adminId"))
    await _keeps_a_full_admin(tx, admin, ("input", "adminId"), "removing it")
    assignments = sorted(
        (await session.execute(select(ASSIGNMENT.c.customer_id).where(ASSIGNMENT.c.admin_id == admin.id))).scalars()
    )
    tokens = (
        await session.execute(select(func.count()).select_from(TOKEN).where(TOKEN.c.admin_id == admin.id))
    ).scalar_one()
    await session.execute(delete(ADMIN).where(ADMIN.c.id == admin.id))
    details = {
        "email": admin.email,
        "displayName": admin.display_name,
        "role": admin.role,
        "removedAssignments": [to_global_id("Customer", c) for c in assignments],
        "revokedTokens": tokens,
    }
    outcome = Outcome(removed_admin_id=to_global_id("PartnerAdmin", admin.id))
    # Their partnerAdmins lost this admin: live subscribers hear of each.
    return Done(outcome, "PartnerAdmin", admin.id, details, tuple(assignments))
