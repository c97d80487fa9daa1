"""Input checks and look-ups shared by the mutation bodies of several domains."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from db import trend_cache
from db.access import visible_customers
from db.tables import CUSTOMER
from db.text import TextProblem, clean_name
from resolvers.ids import from_global_id
from resolvers.mutations.codes import Code
from resolvers.mutations.runner import Errors, Failure, FieldPath, Tx, fail

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    AnyRow = Row[*tuple[Any, ...]]

MAX_NAME = 200


def decode(errors: Errors, global_id: str, type_name: str, path: FieldPath) -> int | None:
    """Database id of a global ID of ``type_name``; records INVALID_INPUT otherwise."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        errors.add(Code.INVALID_INPUT, path, f"Not the ID of a {type_name}.")
        return None
    return decoded[1]


def decode_one(global_id: str, type_name: str, path: FieldPath) -> int:
    """:func:`decode` of a mutation's only ID input.

    Raises:
        Failure: INVALID_INPUT when it is not an ID of ``type_name``.
    """
    errors = Errors()
    db_id = decode(errors, global_id, type_name, path)
    errors.raise_if_any()
    assert db_id is not None
    return db_id


def check_text(errors: Errors, value: str, path: FieldPath, what: str, limit: int) -> str:
    """``value`` as stored (db/text.py: NFC, trimmed, a visible character, at most ``limit``).

    Records INVALID_INPUT at ``path`` when a rule fails; the import applies the same rules.
    """
    try:
        return clean_name(value, what=what, limit=limit)
    except TextProblem as problem:
        errors.add(Code.INVALID_INPUT, path, str(problem))
        return value.strip()


def not_found(path: FieldPath, what: str) -> Failure:
    """NOT_FOUND for ``what`` at ``path``."""
    # One message whether the object does not exist or the caller may not
    # see it: existence must not leak across roles or partners.
    return fail(Code.NOT_FOUND, path, f"No {what} with this ID.")


async def visible_customer(tx: Tx, customer_id: int, path: FieldPath) -> AnyRow:
    """The customer row if the caller (with its current role) may see it.

    Raises:
        Failure: NOT_FOUND otherwise.
    """
    row = (
        await tx.session.execute(
            select(CUSTOMER.c.id, CUSTOMER.c.name).where(
                CUSTOMER.c.id == customer_id, visible_customers(CUSTOMER, tx.viewer)
            )
        )
    ).first()
    if row is None:
        raise not_found(path, "customer")
    return row


@asynccontextmanager
async def trend_change(tx: Tx, plan_ids: Iterable[int], start: dt.date, end: dt.date) -> AsyncIterator[None]:
    """The body changes these plans' liveness on the days ``[start, end]``: adjust the cached trend days among them.

    The plans' share of each cached past day in the range is measured before
    the body and after it, and the difference added (db/trend_cache.py), so
    the next dashboard reads the cached days instead of recomputing them.
    The caller holds the plans' row locks. Only days before today are ever
    cached, so a change from today on needs nothing (and takes no lock).
    """
    change = await trend_cache.plans_before(
        tx.session, tx.viewer.partner_id, plan_ids, start=start, end=end, today=tx.today
    )
    yield
    await trend_cache.plans_after(tx.session, change)


__all__ = ["MAX_NAME", "check_text", "decode", "decode_one", "not_found", "trend_change", "visible_customer"]
