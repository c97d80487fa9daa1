"""Customer-assignment mutations (SPEC §3.1): assign and unassign sales admins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from db.access import ASSIGNABLE_ROLES
from db.tables import ADMIN, ASSIGNMENT
from resolvers.ids import to_global_id
from resolvers.mutations.codes import Code
from resolvers.mutations.lookups import decode, visible_customer
from resolvers.mutations.runner import Done, Errors, Outcome, Tx, mutation
from resolvers.permissions import Permission

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    AnyRow = Row[*tuple[Any, ...]]

MAX_ADMIN_IDS = 100


# ------------------------------------------------------ customer admins


async def _assignable_admins(tx: Tx, customer_id: str, admin_ids: Sequence[str]) -> tuple[int, list[AnyRow]]:
    """Validate ``CustomerAdminsInput`` and look its objects up.

    Admin rows are read ``FOR SHARE`` (PostgreSQL): a concurrent role change
    or removal of one of them waits until this mutation commits, so nobody
    is assigned while becoming a partner-wide admin or disappearing.

    Returns:
        ``(customer database id, admin rows in input order, without repeats)``.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, ALREADY_HAS_ACCESS (one error per
            bad admin id, with its index in the field path).
    """
    errors = Errors()
    customer_db_id = decode(errors, customer_id, "Customer", ("input", "customerId"))
    decoded: list[tuple[int, int]] = []
    if not admin_ids:
        errors.add(Code.INVALID_INPUT, ("input", "adminIds"), "Name at least one partner admin.")
    elif len(admin_ids) > MAX_ADMIN_IDS:
        errors.add(
            Code.INVALID_INPUT,
            ("input", "adminIds"),
            f"At most {MAX_ADMIN_IDS} admins at a time; got {len(admin_ids)}.",
        )
    else:
        for index, global_id in enumerate(admin_ids):
            db_id = decode(errors, global_id, "PartnerAdmin", ("input", "adminIds", str(index)))
            if db_id is not None:
                decoded.append((index, db_id))
    errors.raise_if_any()
    assert customer_db_id is not None
    await visible_customer(tx, customer_db_id, ("input", "customerId"))
    rows = (
        await tx.session.execute(
            select(ADMIN.c.id, ADMIN.c.email, ADMIN.c.role)
            .where(ADMIN.c.id.in_(sorted({db_id for _, db_id in decoded})), ADMIN.c.partner_id == tx.viewer.partner_id)
            .order_by(ADMIN.c.id)
            .with_for_update(read=True)
        )
    ).all()
    by_id = {row.id: row for row in rows}
    admins: dict[int, AnyRow] = {}
    for index, db_id in decoded:
        path = ("input", "adminIds", str(index))
        row = by_id.get(db_id)
        if row is None:
            errors.add(Code.NOT_FOUND, path, "No partner admin with this ID.")
        elif row.role not in ASSIGNABLE_ROLES:
            errors.add(
                Code.ALREADY_HAS_ACCESS,
                path,
                f"{row.email} is a {row.role} and sees every customer; only sales admins are assigned to customers.",
            )
        else:
            admins.setdefault(row.id, row)
    errors.raise_if_any()
    return customer_db_id, list(admins.values())


async def _reassign(
    tx: Tx,
    customer_id: str,
    admin_ids: Sequence[str],
    change: Callable[[int, list[int]], Any],
    changed: str,
    unchanged: str,
) -> Done:
    """The body both mutations share: validate, ``change`` the assignments, audit which admins it touched.

    Args:
        tx: The mutation's transaction.
        customer_id: Global ID of a customer the caller may see.
        admin_ids: Global IDs of SALES_FULL_ADMIN / SALES_ADMIN admins of the partner.
        change: ``change(customer id, admin ids)``: the statement that writes, returning the
            ``admin_id`` of each row it touched.
        changed: Audit key of the admins touched.
        unchanged: Audit key of the admins already in the state asked for.

    Returns:
        The customer with the audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, ALREADY_HAS_ACCESS.
    """
    customer_db_id, admins = await _assignable_admins(tx, customer_id, admin_ids)
    touched = set((await tx.session.execute(change(customer_db_id, [a.id for a in admins]))).scalars())
    details = {
        changed: [to_global_id("PartnerAdmin", a.id) for a in admins if a.id in touched],
        unchanged: [to_global_id("PartnerAdmin", a.id) for a in admins if a.id not in touched],
    }
    return Done(Outcome(customer_id=customer_db_id), "Customer", customer_db_id, details)


@mutation("assignCustomerAdmins", Permission.ASSIGN_ADMINS, analytics=False)
async def assign_customer_admins(tx: Tx, *, customer_id: str, admin_ids: Sequence[str]) -> Done:
    """Assign sales admins to a customer; admins already assigned stay so (idempotent). See :func:`_reassign`."""

    def add(customer: int, admins: list[int]) -> Any:
        # ON CONFLICT DO NOTHING: a concurrent assignment of the same admin is
        # not an error but the state asked for.
        rows = [{"customer_id": customer, "admin_id": admin} for admin in admins]
        return _insert_ignoring_duplicates(tx.dialect, ASSIGNMENT).values(rows).returning(ASSIGNMENT.c.admin_id)

    return await _reassign(tx, customer_id, admin_ids, add, "added", "alreadyAssigned")


@mutation("unassignCustomerAdmins", Permission.ASSIGN_ADMINS, analytics=False)
async def unassign_customer_admins(tx: Tx, *, customer_id: str, admin_ids: Sequence[str]) -> Done:
    """Remove sales admins from a customer; admins not assigned are ignored (idempotent). See :func:`_reassign`."""

    def remove(customer: int, admins: list[int]) -> Any:
        assigned = (ASSIGNMENT.c.customer_id == customer) & ASSIGNMENT.c.admin_id.in_(admins)
        return delete(ASSIGNMENT).where(assigned).returning(ASSIGNMENT.c.admin_id)

    return await _reassign(tx, customer_id, admin_ids, remove, "removed", "notAssigned")


def _insert_ignoring_duplicates(dialect: str, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


__all__ = ["assign_customer_admins", "unassign_customer_admins"]
