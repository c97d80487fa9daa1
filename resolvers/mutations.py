"""The business logic of every mutation (SPEC §3.1), one transaction each.

How a mutation runs (:func:`mutation` does this once for all of them):

1. The role is checked first, before anything is looked up, against the
   :class:`~resolvers.permissions.Permission` declared next to the mutation
   (``@mutation(name, permission)``; the declarations are collected in
   :data:`MUTATIONS`). A forbidden role gets the top-level ``FORBIDDEN`` error.
2. The request's read transaction (opened by the token lookup) is ended, so
   the mutation's transaction sees the newest committed data and holds its
   locks only as long as the mutation itself.
3. On SQLite the first statement is a write, which takes the database's
   write lock up-front: a second writer then waits (``busy_timeout``) instead
   of failing later on a stale snapshot. On PostgreSQL, mutations whose rule
   counts rows (at least one full admin) first lock the partner's row;
   ``startTrial`` takes the same lock after its read-only pre-checks, before
   its first write, to number trials (``Trial-<n>``) one at a time.
4. The mutation body validates its input, looks objects up through
   :func:`~resolvers.permissions.visible_customers` (a customer the caller may
   not see is ``NOT_FOUND``), writes, and returns a :class:`Done` naming the
   audit target; the audit event is written in the same transaction, which is
   then committed once.
5. Input and business failures raise :class:`Failure` (or hit a unique
   constraint, mapped by the mutation's declared :class:`Conflict` s): the
   transaction is rolled back and the caller gets ``userErrors``.

Concurrency is made safe by the database itself: unique constraints (one
active trial per customer, names, emails, external ids) decide races between
concurrent inserts, and row locks (the partner row, the trial row, admin
rows) serialise read-then-write rules.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec

from sqlalchemy import Index, PrimaryKeyConstraint, UniqueConstraint, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import trend_cache
from db.access import ASSIGNABLE_ROLES, Viewer, visible_customers
from db.models import PRODUCTS, fold, metadata
from db.tables import ADMIN, ASSIGNMENT, AUDIT, CUSTOMER, LINE, PARTNER, PLAN, TOKEN
from db.tokens import normalize_email
from resolvers.context import Context
from resolvers.ids import from_global_id, to_global_id
from resolvers.permissions import Permission, require

MAX_LICENSES = 1000
MAX_TRIAL_DAYS = 90
DEFAULT_TRIAL_DAYS = 30
MAX_TERM_MONTHS = 60
MAX_NAME = 200
MAX_EMAIL = 320
MAX_EXTERNAL_ID = 100
MAX_ADMIN_IDS = 100
FULL_ADMIN = "PARTNER_FULL_ADMIN"
# Deliberately loose: the address must have one "@" and a dotted domain; the
# only real check of an address is mail reaching it.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Code = Literal[
    "TRIAL_ALREADY_ACTIVE",
    "NAME_TAKEN",
    "INVALID_INPUT",
    "NOT_FOUND",
    "TRIAL_NOT_ACTIVE",
    "TRIAL_TOO_LONG",
    "ALREADY_HAS_ACCESS",
    "EMAIL_TAKEN",
    "LAST_FULL_ADMIN",
    "TERMS_NOT_ACCEPTED",
    "NOTHING_TO_SET_UP",
    "SUBSCRIPTION_ID_TAKEN",
]
FieldPath = tuple[str, ...]
if TYPE_CHECKING:
    AnyRow = Row[*tuple[Any, ...]]


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class UserErrorData:
    """One input or business failure, answered in a payload's ``userErrors``.

    Attributes:
        code: The ``UserErrorCode``.
        field: Path of the offending input value, e.g. ``("input", "licenses")``
            or ``("input", "adminIds", "2")``; ``None`` when no single value is at fault.
        message: A sentence for people.
    """

    code: Code
    field: FieldPath | None
    message: str


@dataclass(frozen=True)
class Outcome:
    """What a mutation hands back to its payload.

    Database ids are set only on success; the schema layer turns them into
    objects through the request's (cleared) loaders.

    Attributes:
        user_errors: Failures; empty on success.
        customer_id: The customer created or changed.
        trial_id: The trial created or changed.
        subscription_id: The subscription created.
        admin_id: The partner admin created or changed.
        removed_admin_id: Global ID of the partner admin removed.
    """

    user_errors: tuple[UserErrorData, ...] = ()
    customer_id: int | None = None
    trial_id: int | None = None
    subscription_id: int | None = None
    admin_id: int | None = None
    removed_admin_id: str | None = None


@dataclass(frozen=True)
class Done:
    """A successful mutation body's result: its outcome and its audit record.

    Attributes:
        outcome: Ids of what changed, for the payload.
        target_type: GraphQL type of the audited object (``Trial``, ``Customer``...).
        target_id: Database id of the audited object.
        details: What changed, stored as JSON in the audit event.
    """

    outcome: Outcome
    target_type: str
    target_id: int
    details: dict[str, Any]


class Failure(Exception):
    """Input or business failure: the transaction is rolled back, ``userErrors`` answer."""

    def __init__(self, *errors: UserErrorData) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def fail(code: Code, field: FieldPath | None, message: str) -> Failure:
    """A :class:`Failure` carrying a single error (``raise fail(...)``)."""
    return Failure(UserErrorData(code, field, message))


@dataclass
class Errors:
    """Collects input errors so that a caller learns every bad value at once."""

    items: list[UserErrorData] = field(default_factory=list)

    def add(self, code: Code, path: FieldPath | None, message: str) -> None:
        """Record one error."""
        self.items.append(UserErrorData(code, path, message))

    def raise_if_any(self) -> None:
        """Raise a :class:`Failure` with every recorded error, if there is one.

        Raises:
            Failure: At least one error was recorded.
        """
        if self.items:
            raise Failure(*self.items)


# ------------------------------------------------------ constraint detection


def _sqlite_unique_signatures() -> dict[str, str]:
    # SQLite reports a unique violation by its columns ("UNIQUE constraint
    # failed: plan.customer_id"), not by the index name; map them back.
    signatures: dict[str, str] = {}
    for table in metadata.sorted_tables:
        named: list[UniqueConstraint | PrimaryKeyConstraint | Index] = [
            c for c in table.constraints if isinstance(c, (UniqueConstraint, PrimaryKeyConstraint))
        ]
        named += [i for i in table.indexes if i.unique]
        for item in named:
            if isinstance(item.name, str):
                columns = ", ".join(f"{table.name}.{column.name}" for column in item.columns)
                signatures.setdefault(columns, item.name)
    return signatures


_SQLITE_SIGNATURES = _sqlite_unique_signatures()
_PG_CONSTRAINT = re.compile(r'constraint "([^"]+)"')
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the unique constraint or index an ``IntegrityError`` violated.

    Args:
        exc: The error raised by SQLAlchemy.

    Returns:
        The constraint's name as declared in :mod:`db.models` (for example
        ``uq_plan_one_active_trial``), or ``None`` when it cannot be told
        (foreign keys on SQLite, checks, unnamed constraints).
    """
    original = exc.orig
    for candidate in (original, getattr(original, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if isinstance(name, str) and name:
            return name
    message = str(original)
    match = _PG_CONSTRAINT.search(message)
    if match:
        return match.group(1)
    match = _SQLITE_UNIQUE.search(message.strip())
    if match:
        return _SQLITE_SIGNATURES.get(match.group(1).strip())
    return None


# ------------------------------------------------------------ the machinery


@dataclass(frozen=True)
class Conflict:
    """The user error a unique constraint stands for, when a race hits it.

    Attributes:
        code: The error code.
        field: Path of the input value that collided.
        message: A sentence for people.
    """

    code: Code
    field: FieldPath
    message: str


@dataclass(frozen=True)
class MutationSpec:
    """How a mutation is guarded (declared with :func:`mutation`).

    Attributes:
        name: The GraphQL field name; also the audit event's ``action``.
        permission: What the caller's role must grant.
        lock_partner: On PostgreSQL, lock the partner's row before the body:
            for rules over a set of rows (the partner keeps a full admin) that
            no unique constraint can express.
        conflicts: Unique constraint name → the user error it means.
    """

    name: str
    permission: Permission
    lock_partner: bool
    conflicts: Mapping[str, Conflict]


MUTATIONS: dict[str, MutationSpec] = {}
"""Every mutation's declaration, by GraphQL name (read by tests and docs)."""


@dataclass(frozen=True)
class Tx:
    """What a mutation body works with, inside its transaction.

    Attributes:
        ctx: The request context.
        viewer: The caller.
    """

    ctx: Context
    viewer: Viewer

    @property
    def session(self) -> AsyncSession:
        """The request's session, in the mutation's transaction."""
        return self.ctx.session

    @property
    def today(self) -> dt.date:
        """The request's "today"."""
        return self.ctx.today

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return _dialect(self.ctx.session)


P = ParamSpec("P")
Body = Callable[Concatenate[Tx, P], Awaitable[Done]]
Runner = Callable[Concatenate[Context, P], Awaitable[Outcome]]


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    if bind is None:  # pragma: no cover - the app's sessionmaker always binds the engine
        raise RuntimeError("session is not bound to an engine")
    return bind.dialect.name


async def _lock_partner(session: AsyncSession, partner_id: int) -> None:
    """Lock the partner's row until commit (PostgreSQL): one such mutation at a time per partner.

    ``FOR NO KEY UPDATE`` rather than ``FOR UPDATE``: it excludes the other
    holders of this lock just the same, but not the ``FOR KEY SHARE`` locks
    that foreign-key checks take when any mutation inserts a row of the
    partner (customers, plans, audit events), so unrelated mutations never
    wait for it.

    Args:
        session: The session, inside the mutation's transaction.
        partner_id: The caller's partner.
    """
    await session.execute(select(PARTNER.c.id).where(PARTNER.c.id == partner_id).with_for_update(key_share=True))


async def _take_write_lock(session: AsyncSession, viewer: Viewer, *, lock_partner: bool) -> None:
    """Open the mutation's transaction with the locks it needs.

    Args:
        session: The session, with no transaction open.
        viewer: The caller.
        lock_partner: Whether the mutation needs the partner's row lock.
    """
    if _dialect(session) == "sqlite":
        # A write as the first statement: SQLite takes its single write lock
        # now and a concurrent writer waits (busy_timeout) until we commit;
        # reading first would let a later write fail on a stale snapshot.
        await session.execute(update(PARTNER).where(PARTNER.c.id == viewer.partner_id).values(name=PARTNER.c.name))
    elif lock_partner:
        await _lock_partner(session, viewer.partner_id)


async def _forget_trend(tx: Tx, start: dt.date, end: dt.date) -> None:
    """A plan's liveness changed on the days ``[start, end]``: drop the cached trend days among them.

    Only days before today are ever cached (db/trend_cache.py), so a
    change from today on needs nothing (and takes no lock).
    """
    if start < tx.today:
        await trend_cache.forget(tx.session, tx.viewer.partner_id, start=start, end=min(end, tx.today))


async def _write_audit(session: AsyncSession, viewer: Viewer, action: str, done: Done) -> None:
    """Insert the audit event of a mutation, inside its transaction.

    Args:
        session: The session, inside the mutation's transaction.
        viewer: The actor.
        action: The mutation's name.
        done: The body's result, naming the target and the details.
    """
    await session.execute(
        insert(AUDIT).values(
            partner_id=viewer.partner_id,
            actor_id=viewer.id,
            actor_email=viewer.email,
            action=action,
            target_type=done.target_type,
            target_id=to_global_id(done.target_type, done.target_id),
            at=dt.datetime.now(dt.UTC),
            details=json.dumps(done.details, ensure_ascii=False, sort_keys=True, default=str),
        )
    )


def mutation(
    name: str,
    permission: Permission,
    *,
    lock_partner: bool = False,
    conflicts: Mapping[str, Conflict] | None = None,
) -> Callable[[Body[P]], Runner[P]]:
    """Declare a mutation body with its permission; return the function that runs it.

    Args:
        name: The GraphQL field name (also the audit ``action``).
        permission: The permission the caller's role must grant.
        lock_partner: See :attr:`MutationSpec.lock_partner`.
        conflicts: Unique constraint name → user error (see :class:`Conflict`).

    Returns:
        A decorator turning ``body(tx, **input)`` into ``run(ctx, **input) -> Outcome``.
    """
    spec = MutationSpec(name, permission, lock_partner, dict(conflicts or {}))
    if name in MUTATIONS:  # pragma: no cover - a programming error
        raise ValueError(f"mutation {name} declared twice")
    MUTATIONS[name] = spec

    def decorate(body: Body[P]) -> Runner[P]:
        @functools.wraps(body)
        async def run(ctx: Context, *args: P.args, **kwargs: P.kwargs) -> Outcome:
            return await _run(ctx, spec, lambda tx: body(tx, *args, **kwargs))

        return run

    return decorate


async def _run(ctx: Context, spec: MutationSpec, body: Callable[[Tx], Awaitable[Done]]) -> Outcome:
    """Run one mutation as one transaction (see the module docstring).

    Args:
        ctx: The request context.
        spec: The mutation's declaration.
        body: The body, with its input bound.

    Returns:
        The outcome: ids of what changed, or the user errors.

    Raises:
        GraphQLError: ``FORBIDDEN`` when the role lacks the permission.
    """
    viewer = ctx.require_viewer()
    require(viewer, spec.permission)
    session = ctx.session
    # The token lookup left a read transaction open; end it so the mutation
    # is a transaction of its own, reading current data.
    await session.commit()
    try:
        await _take_write_lock(session, viewer, lock_partner=spec.lock_partner)
        done = await body(Tx(ctx, viewer))
        await _write_audit(session, viewer, spec.name, done)
        await session.commit()
        outcome = done.outcome
    except Failure as failure:
        await session.rollback()
        outcome = Outcome(user_errors=failure.errors)
    except IntegrityError as exc:
        await session.rollback()
        conflict = spec.conflicts.get(violated_constraint(exc) or "")
        if conflict is None:
            raise
        # A concurrent request won the race the pre-checks could not see.
        outcome = Outcome(user_errors=(UserErrorData(conflict.code, conflict.field, conflict.message),))
    except Exception:
        await session.rollback()
        raise
    # The payload's fields read through the loaders: forget what they cached
    # before the change, and reopen the connection the loaders share.
    ctx.loaders.clear_all()
    await session.connection()
    return outcome


# ------------------------------------------------------------------ helpers


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


def _decode(errors: Errors, global_id: str, type_name: str, path: FieldPath) -> int | None:
    """Database id of a global ID of ``type_name``; records INVALID_INPUT otherwise."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        errors.add("INVALID_INPUT", path, f"Not the ID of a {type_name}.")
        return None
    return decoded[1]


def _check_text(errors: Errors, value: str, path: FieldPath, what: str, limit: int) -> str:
    """``value`` without surrounding blanks; records INVALID_INPUT when empty or too long."""
    stripped = value.strip()
    if not stripped:
        errors.add("INVALID_INPUT", path, f"{what} must not be empty.")
    elif len(stripped) > limit:
        errors.add("INVALID_INPUT", path, f"{what} may be at most {limit} characters; got {len(stripped)}.")
    return stripped


def _not_found(path: FieldPath, what: str) -> Failure:
    # One message whether the object does not exist or the caller may not
    # see it: existence must not leak across roles or partners.
    return fail("NOT_FOUND", path, f"No {what} with this ID.")


async def _visible_customer(tx: Tx, customer_id: int, path: FieldPath) -> AnyRow:
    """The customer row if the caller may see it.

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
        raise _not_found(path, "customer")
    return row


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
        raise _not_found(path, "trial")
    return row


def _require_active(trial: AnyRow) -> None:
    """Raise TRIAL_NOT_ACTIVE unless the trial's status is ACTIVE."""
    if trial.status != "ACTIVE":
        raise fail("TRIAL_NOT_ACTIVE", ("input", "trialId"), f"Trial {trial.ext_id} is {trial.status}, not ACTIVE.")


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
        raise _not_found(path, "partner admin")
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
            "LAST_FULL_ADMIN",
            path,
            f"{admin.email} is the partner's last PARTNER_FULL_ADMIN; {doing} would leave nobody to manage the partner.",
        )


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


async def _email_taken(session: AsyncSession, email: str) -> bool:
    """Whether any admin (of any partner: emails identify people) has ``email``."""
    return (await session.execute(select(ADMIN.c.id).where(ADMIN.c.email == email))).first() is not None


async def _subscription_id_taken(session: AsyncSession, partner_id: int, subscription_id: str) -> bool:
    """Whether the partner has a subscription with this external id."""
    found = await session.execute(
        select(PLAN.c.id).where(
            PLAN.c.partner_id == partner_id, PLAN.c.kind == "SUBSCRIPTION", PLAN.c.ext_id == subscription_id
        )
    )
    return found.first() is not None


async def _free_trial_id(session: AsyncSession, partner_id: int) -> str:
    """A ``Trial-<n>`` id not yet used by the partner.

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
        candidates = [f"Trial-{n}" for n in range(start, start + 50)]
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

    Callers hold the partner's lock, so API starts never pick the same
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


def _insert_ignoring_duplicates(dialect: str, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


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


@mutation(
    "startTrial",
    Permission.MANAGE_TRIALS,
    conflicts={
        "uq_plan_one_active_trial": Conflict(
            "TRIAL_ALREADY_ACTIVE", ("input", "customerId"), "The customer already has an active trial."
        ),
        "uq_customer_name": Conflict(
            "NAME_TAKEN", ("input", "newCustomer", "name"), "The partner already has a customer with this name."
        ),
    },
)
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
        errors.add("INVALID_INPUT", ("input",), "Give exactly one of `customerId` and `newCustomer`.")
    name = ""
    if new_customer is not None:
        name = _check_text(errors, new_customer.name, ("input", "newCustomer", "name"), "The name", MAX_NAME)
    if not products:
        errors.add("INVALID_INPUT", ("input", "products"), "Name at least one product.")
    elif len(set(products)) != len(products):
        errors.add("INVALID_INPUT", ("input", "products"), "Name each product once.")
    if not 1 <= licenses <= MAX_LICENSES:
        errors.add("INVALID_INPUT", ("input", "licenses"), f"Licences must be 1 to {MAX_LICENSES}; got {licenses}.")
    if not 1 <= days <= MAX_TRIAL_DAYS:
        errors.add("INVALID_INPUT", ("input", "days"), f"Days must be 1 to {MAX_TRIAL_DAYS}; got {days}.")
    customer_db_id = None
    if customer_id is not None and new_customer is None:
        customer_db_id = _decode(errors, customer_id, "Customer", ("input", "customerId"))
    errors.raise_if_any()

    session, viewer = tx.session, tx.viewer
    assigned_to_viewer = False
    # The pre-checks give a clean answer in the common case; a concurrent
    # start that slips past them is stopped by uq_plan_one_active_trial or
    # uq_customer_name (see the declared conflicts).
    if customer_db_id is not None:
        customer_db_id = (await _visible_customer(tx, customer_db_id, ("input", "customerId"))).id
        if await _has_active_trial(session, customer_db_id):
            raise fail("TRIAL_ALREADY_ACTIVE", ("input", "customerId"), "The customer already has an active trial.")
    elif await _name_taken(session, viewer.partner_id, name):
        raise fail("NAME_TAKEN", ("input", "newCustomer", "name"), "The partner already has a customer with this name.")
    if tx.dialect == "postgresql":
        # Trial numbers come from a count: starts of one partner take turns
        # from here to commit, so two never pick the same Trial-<n> (SQLite
        # holds its database write lock already). Taken before the first
        # write, as every partner-row lock is, so lock order cannot deadlock.
        await _lock_partner(session, viewer.partner_id)
    if new_customer is not None:
        customer_db_id = (
            await session.execute(
                insert(CUSTOMER)
                .values(
                    partner_id=viewer.partner_id,
                    key=f"cust-{uuid.uuid4().hex}",
                    name=name,
                    name_key=fold(name),
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
    db_id = _decode(errors, trial_id, "Trial", ("input", "trialId"))
    if days < 1:
        errors.add("INVALID_INPUT", ("input", "days"), f"Days must be at least 1; got {days}.")
    errors.raise_if_any()
    assert db_id is not None
    trial = await _visible_trial(tx, db_id, ("input", "trialId"))
    _require_active(trial)
    # Compare in whole days before building a date: a huge `days` must be
    # TRIAL_TOO_LONG, not a date overflow.
    length = (trial.ends_on - trial.starts_on).days + days
    if length > MAX_TRIAL_DAYS:
        raise fail(
            "TRIAL_TOO_LONG",
            ("input", "days"),
            f"The trial would last {length} days (startsOn to endsOn); at most {MAX_TRIAL_DAYS} are allowed.",
        )
    ends_on = trial.ends_on + dt.timedelta(days=days)
    await tx.session.execute(update(PLAN).where(PLAN.c.id == trial.id).values(ends_on=ends_on))
    # Live now also on the days after its old end (past ones if it had already ended).
    await _forget_trend(tx, trial.ends_on + dt.timedelta(days=1), ends_on)
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
    errors = Errors()
    db_id = _decode(errors, trial_id, "Trial", ("input", "trialId"))
    errors.raise_if_any()
    assert db_id is not None
    trial = await _visible_trial(tx, db_id, ("input", "trialId"))
    _require_active(trial)
    await tx.session.execute(update(PLAN).where(PLAN.c.id == trial.id).values(status="CANCELLED"))
    await _forget_trend(tx, trial.starts_on, trial.ends_on)
    details = {"trialId": trial.ext_id, "status": {"from": "ACTIVE", "to": "CANCELLED"}}
    return Done(Outcome(customer_id=trial.customer_id, trial_id=trial.id), "Trial", trial.id, details)


@mutation(
    "convertTrial",
    Permission.MANAGE_TRIALS,
    conflicts={
        "uq_plan_ext_id": Conflict(
            "SUBSCRIPTION_ID_TAKEN", ("input", "subscriptionId"), "The partner already has a subscription with this id."
        ),
    },
)
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
    db_id = _decode(errors, trial_id, "Trial", ("input", "trialId"))
    external = _check_text(errors, subscription_id, ("input", "subscriptionId"), "The subscription id", MAX_EXTERNAL_ID)
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        errors.add(
            "INVALID_INPUT",
            ("input", "termMonths"),
            f"The term must be 1 to {MAX_TERM_MONTHS} months; got {term_months}.",
        )
    errors.raise_if_any()
    assert db_id is not None
    session = tx.session
    trial = await _visible_trial(tx, db_id, ("input", "trialId"))
    _require_active(trial)
    if await _subscription_id_taken(session, tx.viewer.partner_id, external):
        raise fail(
            "SUBSCRIPTION_ID_TAKEN", ("input", "subscriptionId"), "The partner already has a subscription with this id."
        )
    ends_on = add_months(tx.today, term_months)
    await session.execute(update(PLAN).where(PLAN.c.id == trial.id).values(status="CONVERTED"))
    await _forget_trend(tx, trial.starts_on, trial.ends_on)
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
    customer_db_id = _decode(errors, customer_id, "Customer", ("input", "customerId"))
    decoded: list[tuple[int, int]] = []
    if not admin_ids:
        errors.add("INVALID_INPUT", ("input", "adminIds"), "Name at least one partner admin.")
    elif len(admin_ids) > MAX_ADMIN_IDS:
        errors.add(
            "INVALID_INPUT", ("input", "adminIds"), f"At most {MAX_ADMIN_IDS} admins at a time; got {len(admin_ids)}."
        )
    else:
        for index, global_id in enumerate(admin_ids):
            db_id = _decode(errors, global_id, "PartnerAdmin", ("input", "adminIds", str(index)))
            if db_id is not None:
                decoded.append((index, db_id))
    errors.raise_if_any()
    assert customer_db_id is not None
    await _visible_customer(tx, customer_db_id, ("input", "customerId"))
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
            errors.add("NOT_FOUND", path, "No partner admin with this ID.")
        elif row.role not in ASSIGNABLE_ROLES:
            errors.add(
                "ALREADY_HAS_ACCESS",
                path,
                f"{row.email} is a {row.role} and sees every customer; only sales admins are assigned to customers.",
            )
        else:
            admins.setdefault(row.id, row)
    errors.raise_if_any()
    return customer_db_id, list(admins.values())


@mutation("assignCustomerAdmins", Permission.ASSIGN_ADMINS)
async def assign_customer_admins(tx: Tx, *, customer_id: str, admin_ids: Sequence[str]) -> Done:
    """Assign sales admins to a customer; admins already assigned stay so (idempotent).

    Args:
        tx: The mutation's transaction.
        customer_id: Global ID of a customer the caller may see.
        admin_ids: Global IDs of SALES_FULL_ADMIN / SALES_ADMIN admins of the partner.

    Returns:
        The customer with the audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, ALREADY_HAS_ACCESS.
    """
    customer_db_id, admins = await _assignable_admins(tx, customer_id, admin_ids)
    # ON CONFLICT DO NOTHING: a concurrent assignment of the same admin is
    # not an error but the state asked for.
    added = set(
        (
            await tx.session.execute(
                _insert_ignoring_duplicates(tx.dialect, ASSIGNMENT)
                .values([{"customer_id": customer_db_id, "admin_id": admin.id} for admin in admins])
                .returning(ASSIGNMENT.c.admin_id)
            )
        ).scalars()
    )
    details = {
        "added": [to_global_id("PartnerAdmin", a.id) for a in admins if a.id in added],
        "alreadyAssigned": [to_global_id("PartnerAdmin", a.id) for a in admins if a.id not in added],
    }
    return Done(Outcome(customer_id=customer_db_id), "Customer", customer_db_id, details)


@mutation("unassignCustomerAdmins", Permission.ASSIGN_ADMINS)
async def unassign_customer_admins(tx: Tx, *, customer_id: str, admin_ids: Sequence[str]) -> Done:
    """Remove sales admins from a customer; admins not assigned are ignored (idempotent).

    Args:
        tx: The mutation's transaction.
        customer_id: Global ID of a customer the caller may see.
        admin_ids: Global IDs of SALES_FULL_ADMIN / SALES_ADMIN admins of the partner.

    Returns:
        The customer with the audit record.

    Raises:
        Failure: INVALID_INPUT, NOT_FOUND, ALREADY_HAS_ACCESS.
    """
    customer_db_id, admins = await _assignable_admins(tx, customer_id, admin_ids)
    removed = set(
        (
            await tx.session.execute(
                delete(ASSIGNMENT)
                .where(ASSIGNMENT.c.customer_id == customer_db_id, ASSIGNMENT.c.admin_id.in_([a.id for a in admins]))
                .returning(ASSIGNMENT.c.admin_id)
            )
        ).scalars()
    )
    details = {
        "removed": [to_global_id("PartnerAdmin", a.id) for a in admins if a.id in removed],
        "notAssigned": [to_global_id("PartnerAdmin", a.id) for a in admins if a.id not in removed],
    }
    return Done(Outcome(customer_id=customer_db_id), "Customer", customer_db_id, details)


# ------------------------------------------------------- partner admins


@mutation(
    "createPartnerAdmin",
    Permission.MANAGE_PARTNER_ADMINS,
    conflicts={
        "uq_partner_admin_email": Conflict(
            "EMAIL_TAKEN", ("input", "email"), "A partner admin with this email exists."
        ),
    },
)
async def create_partner_admin(tx: Tx, *, email: str, display_name: str, role: str) -> Done:
    """Create a partner admin (tokens are made from the command line).

    Args:
        tx: The mutation's transaction.
        email: A valid address, stored trimmed and lower-cased; unique across
            all partners, since an email identifies one person.
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
        errors.add("INVALID_INPUT", ("input", "email"), "Not a valid email address.")
    name = _check_text(errors, display_name, ("input", "displayName"), "The display name", MAX_NAME)
    errors.raise_if_any()
    if await _email_taken(tx.session, normalized):
        raise fail("EMAIL_TAKEN", ("input", "email"), "A partner admin with this email exists.")
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


@mutation("setPartnerAdminRole", Permission.MANAGE_PARTNER_ADMINS, lock_partner=True)
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
    errors = Errors()
    db_id = _decode(errors, admin_id, "PartnerAdmin", ("input", "adminId"))
    errors.raise_if_any()
    assert db_id is not None
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
    return Done(Outcome(admin_id=admin.id), "PartnerAdmin", admin.id, details)


@mutation("removePartnerAdmin", Permission.MANAGE_PARTNER_ADMINS, lock_partner=True)
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
    errors = Errors()
    db_id = _decode(errors, admin_id, "PartnerAdmin", ("input", "adminId"))
    errors.raise_if_any()
    assert db_id is not None
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
    return Done(Outcome(removed_admin_id=to_global_id("PartnerAdmin", admin.id)), "PartnerAdmin", admin.id, details)


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
        errors.add("TERMS_NOT_ACCEPTED", ("input", "acceptTerms"), "The terms must be accepted to set up the order.")
    db_id = _decode(errors, customer_id, "Customer", ("input", "customerId"))
    errors.raise_if_any()
    assert db_id is not None
    customer = await _visible_customer(tx, db_id, ("input", "customerId"))
    # One conditional UPDATE: a concurrent call waits on the row locks and
    # then finds nothing left to set up.
    activated = (
        await tx.session.execute(
            update(PLAN)
            .where(PLAN.c.customer_id == customer.id, PLAN.c.kind == "SUBSCRIPTION", PLAN.c.status == "PENDING_SETUP")
            .values(status="ACTIVE")
            .returning(PLAN.c.id, PLAN.c.ext_id, PLAN.c.starts_on, PLAN.c.ends_on)
        )
    ).all()
    if not activated:
        raise fail(
            "NOTHING_TO_SET_UP", ("input", "customerId"), f"{customer.name} has no subscription waiting for setup."
        )
    # Live from now on for all their days, past ones included.
    await _forget_trend(tx, min(r.starts_on for r in activated), max(r.ends_on for r in activated))
    details = {
        "activated": [
            {"subscription": to_global_id("Subscription", row.id), "subscriptionId": row.ext_id}
            for row in sorted(activated, key=lambda r: r.ext_id)
        ],
        "status": {"from": "PENDING_SETUP", "to": "ACTIVE"},
    }
    return Done(Outcome(customer_id=customer.id), "Customer", customer.id, details)


__all__ = [
    "MUTATIONS",
    "Code",
    "Conflict",
    "Done",
    "Failure",
    "MutationSpec",
    "NewCustomerArgs",
    "Outcome",
    "UserErrorData",
    "add_months",
    "assign_customer_admins",
    "cancel_trial",
    "complete_order_setup",
    "convert_trial",
    "create_partner_admin",
    "extend_trial",
    "mutation",
    "remove_partner_admin",
    "set_partner_admin_role",
    "start_trial",
    "unassign_customer_admins",
    "violated_constraint",
]
