"""Order-setup mutation (SPEC §3.1): accept the terms, activate the pending subscriptions."""

from __future__ import annotations

from sqlalchemy import select, update

from db.tables import PLAN
from resolvers.ids import to_global_id
from resolvers.mutations.codes import Code
from resolvers.mutations.lookups import decode, trend_change, visible_customer
from resolvers.mutations.runner import Done, Errors, Outcome, Tx, fail, mutation
from resolvers.permissions import Permission

# ---------------------------------------------------------- order setup


@mutation("completeOrderSetup", Permission.COMPLETE_ORDER_SETUP)
async def complete_order_setup(tx: Tx, *, customer_id: str, accept_terms: bool) -> Done:
    """Accept the terms: every PENDING_SETUP subscription of the customer becomes ACTIVE.

    Args:
        tx: The mutation's transaction.
        customer_id: Global ID of a customer the caller may see.
        accept_terms: Must be true.

    Returns:
        The customer with the audit record.

    Raises:
        Failure: INVALID_INPUT, TERMS_NOT_ACCEPTED, NOT_FOUND, NOTHING_TO_SET_UP.
    """
    errors = Errors()
    if not accept_terms:
        errors.add(Code.TERMS_NOT_ACCEPTED, ("input", "acceptTerms"), "The terms must be accepted to set up the order.")
    db_id = decode(errors, customer_id, "Customer", ("input", "customerId"))
    errors.raise_if_any()
    assert db_id is not None
    customer = await visible_customer(tx, db_id, ("input", "customerId"))
    # The waiting subscriptions, locked: a concurrent call waits here and
    # then finds nothing left to set up (the conditional UPDATE below says
    # the same on SQLite, whose write lock is held already).
    waiting = (
        await tx.session.execute(
            select(PLAN.c.id, PLAN.c.starts_on, PLAN.c.ends_on)
            .where(PLAN.c.customer_id == customer.id, PLAN.c.kind == "SUBSCRIPTION", PLAN.c.status == "PENDING_SETUP")
            .with_for_update()
        )
    ).all()
    if not waiting:
        raise fail(
            Code.NOTHING_TO_SET_UP, ("input", "customerId"), f"{customer.name} has no subscription waiting for setup."
        )
    ids = [r.id for r in waiting]
    # Live from now on for all their days, past ones included.
    async with trend_change(tx, ids, min(r.starts_on for r in waiting), max(r.ends_on for r in waiting)):
        activated = (
            await tx.session.execute(
                update(PLAN)
                .where(PLAN.c.id.in_(ids), PLAN.c.status == "PENDING_SETUP")
                .values(status="ACTIVE")
                .returning(PLAN.c.id, PLAN.c.ext_id)
            )
        ).all()
    details = {
        "activated": [
            {"subscription": to_global_id("Subscription", row.id), "subscriptionId": row.ext_id}
            for row in sorted(activated, key=lambda r: r.ext_id)
        ],
        "status": {"from": "PENDING_SETUP", "to": "ACTIVE"},
    }
    return Done(Outcome(customer_id=customer.id), "Customer", customer.id, details)


__all__ = ["complete_order_setup"]
