"""Trial mutations (SPEC §3.1): start, extend, cancel, convert."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.access import visible_customers
from db.collation import name_columns
from db.models import PRODUCTS, fold
from db.rules import trial_id
from db.tables import ASSIGNMENT, CUSTOMER, LINE, PLAN
from resolvers.ids import to_global_id
from resolvers.mutations.codes import Code
from resolvers.mutations.lookups import (
    MAX_NAME,
    check_text,
    decode,
    decode_one,
    not_found,
    trend_change,
    visible_customer,
)
from resolvers.mutations.runner import (
    Conflict,
    Done,
    Errors,
    FieldPath,
    Outcome,
    Tx,
    fail,
    mutation,
    violated_constraint,
)
from resolvers.permissions import Permission

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    AnyRow = Row[*tuple[Any, ...]]

MAX_LICENSES = 1000
MAX_TRIAL_DAYS = 90
DEFAULT_TRIAL_DAYS = 30
MAX_TERM_MONTHS = 60
MAX_EXTERNAL_ID = 100
# First key of the two-key advisory lock that numbers a partner's trials
# (the second is the partner id); nothing else takes advisory locks.
TRIAL_NUMBERING_LOCK = 1


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later, or that month's last day.

    Args:
        day: The start.
        months: Whole months to add (≥ 0).

    Returns:
        For example 2027-01-31 + 1 → 2027-02-28, 2028-01-31 + 1 → 2028-02-29,
        2026-11-25 + 12 → 2027-11-25.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def _visible_trial(tx: Tx, trial_id: int, path: FieldPath) -> AnyRow:
    """The trial row, locked for update, if the caller may see its customer.

    The row lock (PostgreSQL; SQLite holds its database lock already) makes
    concurrent extend/cancel/convert of one trial wait for each other and
    then see each other's result.

    Raises:
        Failure: NOT_FOUND otherwise.
    """
    row = (
        await tx.session.execute(
            select(PLAN.c.id, PLAN.c.customer_id, PLAN.c.ext_id, PLAN.c.status, PLAN.c.starts_on, PLAN.c.ends_on)
            .select_from(PLAN.join(CUSTOMER, CUSTOMER.c.id == PLAN.c.customer_id))
            .where(PLAN.c.id == trial_id, PLAN.c.kind == "TRIAL", visible_customers(CUSTOMER, tx.viewer))
            .with_for_update(of=PLAN)
        )
    ).first()
    if row is None:
        raise not_found(path, "trial")
    return row


def _require_active(trial: AnyRow) -> None:
    """Raise TRIAL_NOT_ACTIVE unless the trial's status is ACTIVE."""
    if trial.status != "ACTIVE":
        raise fail(Code.TRIAL_NOT_ACTIVE, ("input", "trialId"), f"Trial {trial.ext_id} is {trial.status}, not ACTIVE.")


async def _has_active_trial(session: AsyncSession, customer_id: int) -> bool:
    """Whether the customer has a trial with status ACTIVE."""
    found = await session.execute(
        select(PLAN.c.id).where(PLAN.c.customer_id == customer_id, PLAN.c.kind == "TRIAL", PLAN.c.status == "ACTIVE")
    )
    return found.first() is not None


async def _name_taken(session: AsyncSession, partner_id: int, name: str) -> bool:
    """Whether the partner has a customer whose name folds to the same key."""
    found = await session.execute(
        select(CUSTOMER.c.id).where(CUSTOMER.c.partner_id == partner_id, CUSTOMER.c.name_key == fold(name))
    )
    return found.first() is not None


async def _subscription_id_taken(session: AsyncSession, partner_id: int, subscription_id: str) -> bool:
    """Whether the partner has a subscription with this external id."""
    found = await session.execute(
        select(PLAN.c.id).where(
            PLAN.c.partner_id == partner_id, PLAN.c.kind == "SUBSCRIPTION", PLAN.c.ext_id == subscription_id
        )
    )
    return found.first() is not None


async def _free_trial_id(session: AsyncSession, partner_id: int) -> str:
    """A trial id (:func:`db.rules.trial_id`) not yet used by the partner.

    ``n`` starts at the partner's trial count + 1 (so API-made ids count up),
    skipping ids already taken, e.g. by imported trials.
    """
    count = (
        await session.execute(
            select(func.count()).select_from(PLAN).where(PLAN.c.partner_id == partner_id, PLAN.c.kind == "TRIAL")
        )
    ).scalar_one()
    start = count + 1
    while True:
        candidates = [trial_id(n) for n in range(start, start + 50)]
        taken = set(
            (
                await session.execute(
                    select(PLAN.c.ext_id).where(
                        PLAN.c.partner_id == partner_id, PLAN.c.kind == "TRIAL", PLAN.c.ext_id.in_(candidates)
                    )
                )
            ).scalars()
        )
        for candidate in candidates:
            if candidate not in taken:
                return candidate
        start += 50


TRIAL_ID_ATTEMPTS = 5


async def _insert_trial(tx: Tx, *, customer_id: int, starts_on: dt.date, ends_on: dt.date) -> tuple[int, str]:
    """Insert an ACTIVE trial with a fresh ``Trial-<n>`` id.

    Callers hold the partner's trial-numbering lock, so API starts never pick the same
    number; a trial written meanwhile by ``partnerhub load`` (which takes no
    such lock) still can: the insert then hits ``uq_plan_ext_id`` inside a
    savepoint and the next free number is tried, without losing the rest of
    the transaction.

    Returns:
        ``(database id, trialId)``.

    Raises:
        IntegrityError: Another constraint (``uq_plan_one_active_trial``), or
            ids still colliding after several attempts.
    """
    for attempt in range(TRIAL_ID_ATTEMPTS):
        ext_id = await _free_trial_id(tx.session, tx.viewer.partner_id)
        try:
            async with tx.session.begin_nested():
                plan_id = (
                    await tx.session.execute(
                        insert(PLAN)
                        .values(
                            partner_id=tx.viewer.partner_id,
                            customer_id=customer_id,
                            kind="TRIAL",
                            ext_id=ext_id,
                            status="ACTIVE",
                            starts_on=starts_on,
                            ends_on=ends_on,
                            auto_renew=False,
                            started_by_id=tx.viewer.id,
                        )
                        .returning(PLAN.c.id)
                    )
                ).scalar_one()
        except IntegrityError as exc:
            if violated_constraint(exc) != "uq_plan_ext_id" or attempt == TRIAL_ID_ATTEMPTS - 1:
                raise
            continue
        return plan_id, ext_id
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------- trials


@dataclass(frozen=True)
class NewCustomerArgs:
    """``NewCustomerInput`` of ``startTrial``.

    Attributes:
        name: The new customer's name.
        managed_by: ``PARTNER_ORG`` or ``EXTERNAL_ADMIN``.
    """

    name: str
    managed_by: str


ACTIVE_TRIAL = Conflict(
    PLAN, "customer_id", Code.TRIAL_ALREADY_ACTIVE, ("input", "customerId"), "The customer already has an active trial."
)
NAME_TAKEN = Conflict(
    CUSTOMER,
    "name_key",
    Code.NAME_TAKEN,
    ("input", "newCustomer", "name"),
    "The partner already has a customer with this name.",
)
SUBSCRIPTION_ID_TAKEN = Conflict(
    PLAN,
    "ext_id",
    Code.SUBSCRIPTION_ID_TAKEN,
    ("input", "subscriptionId"),
    "The partner already has a subscription with this id.",
)


@mutation("startTrial", Permission.MANAGE_TRIALS, conflicts=(ACTIVE_TRIAL, NAME_TAKEN))
async def start_trial(
    tx: Tx,
    *,
    customer_id: str | None,
    new_customer: NewCustomerArgs | None,
    products: Sequence[str],
    licenses: int,
    days: int = DEFAULT_TRIAL_DAYS,
) -> Done:
    """Start a trial for an existing customer or a new one.

    Args:
        tx: The mutation's transaction.
        customer_id: Global ID of an existing customer the caller may see.
        new_customer: Or the customer to create (name unique per partner,
            case-insensitively); a sales admin creating one is assigned to it.
        products: Products to try: non-empty, no repeats.
        licenses: Licences per product, 1..1000.
        days: Length; the trial runs from today to today + days, 1..90.

    Returns:
        The new trial (and customer) with its audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, TRIAL_ALREADY_ACTIVE, NAME_TAKEN.
    """
    errors = Errors()
    if (customer_id is None) == (new_customer is None):
        errors.add(Code.INVALID_INPUT, ("input",), "Give exactly one of `customerId` and `newCustomer`.")
    name = ""
    if new_customer is not None:
        name = check_text(errors, new_customer.name, ("input", "newCustomer", "name"), "The name", MAX_NAME)
    if not products:
        errors.add(Code.INVALID_INPUT, ("input", "products"), "Name at least one product.")
    elif len(set(products)) != len(products):
        errors.add(Code.INVALID_INPUT, ("input", "products"), "Name each product once.")
    if not 1 <= licenses <= MAX_LICENSES:
        errors.add(Code.INVALID_INPUT, ("input", "licenses"), f"Licences must be 1 to {MAX_LICENSES}; got {licenses}.")
    if not 1 <= days <= MAX_TRIAL_DAYS:
        errors.add(Code.INVALID_INPUT, ("input", "days"), f"Days must be 1 to {MAX_TRIAL_DAYS}; got {days}.")
    customer_db_id = None
    if customer_id is not None and new_customer is None:
        customer_db_id = decode(errors, customer_id, "Customer", ("input", "customerId"))
    errors.raise_if_any()

    session, viewer = tx.session, tx.viewer
    assigned_to_viewer = False
    # The pre-checks give a clean answer in the common case; a concurrent
    # start that slips past them is stopped by uq_plan_one_active_trial or
    # uq_customer_name (see the declared conflicts).
    if customer_db_id is not None:
        customer_db_id = (await visible_customer(tx, customer_db_id, ("input", "customerId"))).id
        if await _has_active_trial(session, customer_db_id):
            raise ACTIVE_TRIAL.failure()
    elif await _name_taken(session, viewer.partner_id, name):
        raise NAME_TAKEN.failure()
    if tx.dialect == "postgresql":
        # Trial numbers come from a count: starts of one partner take turns
        # from here to commit, so two never pick the same Trial-<n> (SQLite
        # holds its database write lock already). An advisory lock, not the
        # partner row: see the lock order in resolvers/mutations/runner.py.
        await session.execute(select(func.pg_advisory_xact_lock(TRIAL_NUMBERING_LOCK, viewer.partner_id)))
    if new_customer is not None:
        customer_db_id = (
            await session.execute(
                insert(CUSTOMER)
                .values(
                    partner_id=viewer.partner_id,
                    key=f"cust-{uuid.uuid4().hex}",
                    name=name,
                    **name_columns(name),
                    managed_by=new_customer.managed_by,
                    created_on=tx.today,
                    last_admin_activity_on=None,
                )
                .returning(CUSTOMER.c.id)
            )
        ).scalar_one()
        if not viewer.sees_all_customers:
            # A sales admin would otherwise lose sight of the customer it just made.
            await session.execute(insert(ASSIGNMENT).values(customer_id=customer_db_id, admin_id=viewer.id))
            assigned_to_viewer = True

    assert customer_db_id is not None
    ends_on = tx.today + dt.timedelta(days=days)
    trial_db_id, trial_ext_id = await _insert_trial(tx, customer_id=customer_db_id, starts_on=tx.today, ends_on=ends_on)
    ordered = sorted(products, key=PRODUCTS.index)
    await session.execute(
        insert(LINE),
        [{"plan_id": trial_db_id, "product": product, "total": licenses} for product in ordered],
    )
    details: dict[str, Any] = {
        "trialId": trial_ext_id,
        "customer": to_global_id("Customer", customer_db_id),
        "products": ordered,
        "licenses": licenses,
        "startsOn": tx.today.isoformat(),
        "endsOn": ends_on.isoformat(),
    }
    if new_customer is not None:
        details["newCustomer"] = {"name": name, "managedBy": new_customer.managed_by}
        details["assignedToActor"] = assigned_to_viewer
    return Done(Outcome(customer_id=customer_db_id, trial_id=trial_db_id), "Trial", trial_db_id, details)


@mutation("extendTrial", Permission.MANAGE_TRIALS)
async def extend_trial(tx: Tx, *, trial_id: str, days: int) -> Done:
    """Move an ACTIVE trial's end ``days`` later; its length stays ≤ 90 days.

    Args:
        tx: The mutation's transaction.
        trial_id: Global ID of a trial of a customer the caller may see.
        days: Days to add, ≥ 1.

    Returns:
        The trial with its audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, TRIAL_NOT_ACTIVE, TRIAL_TOO_LONG.
    """
    errors = Errors()
    db_id = decode(errors, trial_id, "Trial", ("input", "trialId"))
    if days < 1:
        errors.add(Code.INVALID_INPUT, ("input", "days"), f"Days must be at least 1; got {days}.")
    errors.raise_if_any()
    assert db_id is not None
    trial = await _visible_trial(tx, db_id, ("input", "trialId"))
    _require_active(trial)
    # Compare in whole days before building a date: a huge `days` must be
    # TRIAL_TOO_LONG, not a date overflow.
    length = (trial.ends_on - trial.starts_on).days + days
    if length > MAX_TRIAL_DAYS:
        raise fail(
            Code.TRIAL_TOO_LONG,
            ("input", "days"),
            f"The trial would last {length} days (startsOn to endsOn); at most {MAX_TRIAL_DAYS} are allowed.",
        )
    ends_on = trial.ends_on + dt.timedelta(days=days)
    # Live now also on the days after its old end (past ones if it had already ended).
    async with trend_change(tx, [trial.id], trial.ends_on + dt.timedelta(days=1), ends_on):
        await tx.session.execute(update(PLAN).where(PLAN.c.id == trial.id).values(ends_on=ends_on))
    details = {
        "trialId": trial.ext_id,
        "days": days,
        "endsOn": {"from": trial.ends_on.isoformat(), "to": ends_on.isoformat()},
    }
    return Done(Outcome(customer_id=trial.customer_id, trial_id=trial.id), "Trial", trial.id, details)


@mutation("cancelTrial", Permission.MANAGE_TRIALS)
async def cancel_trial(tx: Tx, *, trial_id: str) -> Done:
    """Cancel an ACTIVE trial.

    Args:
        tx: The mutation's transaction.
        trial_id: Global ID of a trial of a customer the caller may see.

    Returns:
        The trial with its audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, TRIAL_NOT_ACTIVE.
    """
    trial = await _visible_trial(tx, decode_one(trial_id, "Trial", ("input", "trialId")), ("input", "trialId"))
    _require_active(trial)
    async with trend_change(tx, [trial.id], trial.starts_on, trial.ends_on):
        await tx.session.execute(update(PLAN).where(PLAN.c.id == trial.id).values(status="CANCELLED"))
    details = {"trialId": trial.ext_id, "status": {"from": "ACTIVE", "to": "CANCELLED"}}
    return Done(Outcome(customer_id=trial.customer_id, trial_id=trial.id), "Trial", trial.id, details)


@mutation("convertTrial", Permission.MANAGE_TRIALS, conflicts=(SUBSCRIPTION_ID_TAKEN,))
async def convert_trial(tx: Tx, *, trial_id: str, subscription_id: str, term_months: int, auto_renew: bool) -> Done:
    """Convert an ACTIVE trial into a PENDING_SETUP subscription.

    The subscription starts today and ends ``term_months`` calendar months
    later (:func:`add_months`), with the trial's lines (totals only; usage
    belongs to the trial).

    Args:
        tx: The mutation's transaction.
        trial_id: Global ID of a trial of a customer the caller may see.
        subscription_id: The new external subscription id, unique per partner.
        term_months: Term length, 1..60.
        auto_renew: Whether the term renews automatically.

    Returns:
        The trial and the subscription with the audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, TRIAL_NOT_ACTIVE, SUBSCRIPTION_ID_TAKEN.
    """
    errors = Errors()
    db_id = decode(errors, trial_id, "Trial", ("input", "trialId"))
    external = check_text(errors, subscription_id, ("input", "subscriptionId"), "The subscription id", MAX_EXTERNAL_ID)
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        errors.add(
            Code.INVALID_INPUT,
            ("input", "termMonths"),
            f"The term must be 1 to {MAX_TERM_MONTHS} months; got {term_months}.",
        )
    errors.raise_if_any()
    assert db_id is not None
    session = tx.session
    trial = await _visible_trial(tx, db_id, ("input", "trialId"))
    _require_active(trial)
    if await _subscription_id_taken(session, tx.viewer.partner_id, external):
        raise SUBSCRIPTION_ID_TAKEN.failure()
    ends_on = add_months(tx.today, term_months)
    async with trend_change(tx, [trial.id], trial.starts_on, trial.ends_on):
        await session.execute(update(PLAN).where(PLAN.c.id == trial.id).values(status="CONVERTED"))
    subscription_db_id = (
        await session.execute(
            insert(PLAN)
            .values(
                partner_id=tx.viewer.partner_id,
                customer_id=trial.customer_id,
                kind="SUBSCRIPTION",
                ext_id=external,
                status="PENDING_SETUP",
                starts_on=tx.today,
                ends_on=ends_on,
                auto_renew=auto_renew,
                started_by_id=None,
            )
            .returning(PLAN.c.id)
        )
    ).scalar_one()
    lines = (await session.execute(select(LINE.c.product, LINE.c.total).where(LINE.c.plan_id == trial.id))).all()
    lines = sorted(lines, key=lambda line: PRODUCTS.index(line.product))
    if lines:
        await session.execute(
            insert(LINE),
            [{"plan_id": subscription_db_id, "product": line.product, "total": line.total} for line in lines],
        )
    details = {
        "trialId": trial.ext_id,
        "status": {"from": "ACTIVE", "to": "CONVERTED"},
        "subscription": to_global_id("Subscription", subscription_db_id),
        "subscriptionId": external,
        "termMonths": term_months,
        "autoRenew": auto_renew,
        "startsOn": tx.today.isoformat(),
        "endsOn": ends_on.isoformat(),
        "licenses": [{"product": line.product, "total": line.total} for line in lines],
    }
    outcome = Outcome(customer_id=trial.customer_id, trial_id=trial.id, subscription_id=subscription_db_id)
    return Done(outcome, "Trial", trial.id, details)
