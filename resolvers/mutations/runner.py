"""The one runner of every mutation (SPEC §3.1): permission, transaction, locks, audit, conflicts.

A mutation is a body declared with :func:`mutation` (its GraphQL name, the
:class:`~resolvers.permissions.Permission` it needs, whether it locks the
partner row, the unique keys that mean a user error). :func:`_run` does the
rest, the same way for all of them:

1. The role read at token lookup is checked first, before anything is looked
   up; a forbidden role gets the top-level ``FORBIDDEN`` error.
2. The request's read transaction (opened by the token lookup) is ended, so
   the mutation's transaction sees the newest committed data and holds its
   locks only as long as the mutation itself.
3. The locks are taken, always in this order (so two mutations can never wait
   for each other in a circle):

   a. SQLite: a write as the first statement takes the database's single
      write lock; every other writer waits (``busy_timeout``) until commit,
      so nothing below can race there.
   b. PostgreSQL, mutations declared ``lock_partner`` (rules counting rows:
      at least one full admin): the partner's row, ``FOR NO KEY UPDATE``.
   c. The actor's own ``partner_admin`` row, ``FOR SHARE`` (PostgreSQL), read
      with its token (:func:`_current_actor`): the role and the token as they
      are now, not as the token lookup saw them. A role change or removal of
      the actor (``FOR UPDATE`` of that row) waits until this transaction
      commits, and a mutation starting after one sees its result — so no
      mutation commits after its actor lost the right to it. A removed actor
      or revoked token ends in ``UNAUTHENTICATED``, a role that no longer
      grants the permission in ``FORBIDDEN``; nothing is written.
      ``FOR SHARE`` rather than ``FOR UPDATE``: one admin's own mutations
      run side by side, and two sales admins assigning each other (both read
      their targets ``FOR SHARE``) cannot deadlock. The price: a role change
      waits until the actor has no mutation in flight (PostgreSQL grants a
      share lock while others hold one, so a burst by the actor delays its
      demotion until the burst ends).
   d. The body's rows: trial rows ``FOR UPDATE``, target admin rows (``FOR
      UPDATE`` to change, ``FOR SHARE`` to assign), then the writes.
      ``startTrial`` numbers its trials under a transaction-level advisory
      lock of the partner, not the partner row: taken after (c), the row lock
      would invert (b) → (c) against a concurrent role change of the actor.

4. The body validates its input, looks objects up through
   :func:`~db.access.visible_customers` (with the actor's current role),
   writes, and returns a :class:`Done` naming the audit target; the stored
   analytics facts of the customers it changed are refreshed
   (:func:`db.analytics_facts.refresh`, after the fact-day row lock, the
   last lock taken) and the audit event is written in the same transaction,
   which is then committed once.
5. Input and business failures raise :class:`Failure`, or hit a unique key
   declared as a :class:`Conflict` (a concurrent request won a race the
   pre-check could not see): the transaction is rolled back and the caller
   gets ``userErrors``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec

from graphql import GraphQLError
from sqlalchemy import Index, PrimaryKeyConstraint, Table, UniqueConstraint, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import analytics_facts, events
from db.access import Viewer
from db.models import metadata
from db.tables import ADMIN, AUDIT, PARTNER, TOKEN
from resolvers.context import Context
from resolvers.ids import to_global_id
from resolvers.mutations.codes import Code
from resolvers.permissions import Permission, require

FieldPath = tuple[str, ...]


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
        changed_customers: Customers changed besides ``outcome.customer_id``
            (a removed or demoted admin's assignments), announced to live
            subscribers with it.
    """

    outcome: Outcome
    target_type: str
    target_id: int
    details: dict[str, Any]
    changed_customers: tuple[int, ...] = ()


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


def _unique_keys() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every named unique constraint or index of the metadata: name → (table, columns)."""
    keys: dict[str, tuple[str, tuple[str, ...]]] = {}
    for table in metadata.sorted_tables:
        named: list[UniqueConstraint | PrimaryKeyConstraint | Index] = [
            c for c in table.constraints if isinstance(c, (UniqueConstraint, PrimaryKeyConstraint))
        ]
        named += [i for i in table.indexes if i.unique]
        for item in named:
            if isinstance(item.name, str):
                keys.setdefault(item.name, (table.name, tuple(column.name for column in item.columns)))
    return keys


UNIQUE_KEYS = _unique_keys()
# SQLite reports a unique violation by its columns ("UNIQUE constraint
# failed: plan.customer_id"), not by the index name; map them back.
_SQLITE_SIGNATURES = {
    ", ".join(f"{table}.{column}" for column in columns): name
    for name, (table, columns) in reversed(list(UNIQUE_KEYS.items()))
}
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


@dataclass(frozen=True)
class Conflict:
    """The user error that a unique key over ``table.column`` stands for, when a race hits it.

    Declared by column rather than by constraint name: whichever named unique
    constraint or index of the table covers the column (``uq_partner_admin_email``
    today, a per-partner one after a migration) maps to this error.

    Attributes:
        table: The table the unique key is on.
        column: A column the key covers.
        code: The error code.
        field: Path of the input value that collided.
        message: A sentence for people.
    """

    table: Table
    column: str
    code: Code
    field: FieldPath
    message: str

    def failure(self) -> Failure:
        """The same user error, raised by the pre-check that usually catches it first."""
        return fail(self.code, self.field, self.message)

    def covers(self, constraint: str | None) -> bool:
        """Whether the violated constraint (by name) is a unique key over this column."""
        table, columns = UNIQUE_KEYS.get(constraint or "", ("", ()))
        return table == self.table.name and self.column in columns


# ------------------------------------------------------------ declarations


@dataclass(frozen=True)
class MutationSpec:
    """How a mutation is guarded (declared with :func:`mutation`).

    Attributes:
        name: The GraphQL field name; also the audit event's ``action``.
        permission: What the caller's role must grant.
        lock_partner: On PostgreSQL, lock the partner's row before the body:
            for rules over a set of rows (the partner keeps a full admin) that
            no unique constraint can express.
        conflicts: The unique keys a race may hit and the user errors they mean.
        analytics: Whether it can change a plan or licence line (or a
            customer's name), so that the stored analytics facts of the
            customers it names must be refreshed; assignments and partner
            admins cannot (the facts are partner-wide).
    """

    name: str
    permission: Permission
    lock_partner: bool
    conflicts: tuple[Conflict, ...]
    analytics: bool = True


MUTATIONS: dict[str, MutationSpec] = {}
"""Every mutation's declaration, by GraphQL name (read by tests and docs)."""


@dataclass(frozen=True)
class Tx:
    """What a mutation body works with, inside its transaction.

    Attributes:
        ctx: The request context.
        viewer: The actor as it is now (role, email and name re-read under
            its row lock), not as the token lookup saw it.
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
        return dialect_of(self.ctx.session)


P = ParamSpec("P")
Body = Callable[Concatenate[Tx, P], Awaitable[Done]]
Runner = Callable[Concatenate[Context, P], Awaitable[Outcome]]


def mutation(
    name: str,
    permission: Permission,
    *,
    lock_partner: bool = False,
    conflicts: Sequence[Conflict] = (),
    analytics: bool = True,
) -> Callable[[Body[P]], Runner[P]]:
    """Declare a mutation body with its permission; return the function that runs it.

    Args:
        name: The GraphQL field name (also the audit ``action``).
        permission: The permission the caller's role must grant.
        lock_partner: See :attr:`MutationSpec.lock_partner`.
        conflicts: See :class:`Conflict`.
        analytics: See :attr:`MutationSpec.analytics`.

    Returns:
        A decorator turning ``body(tx, **input)`` into ``run(ctx, **input) -> Outcome``.
    """
    spec = MutationSpec(name, permission, lock_partner, tuple(conflicts), analytics)
    if name in MUTATIONS:  # pragma: no cover - a programming error
        raise ValueError(f"mutation {name} declared twice")
    MUTATIONS[name] = spec

    def decorate(body: Body[P]) -> Runner[P]:
        @functools.wraps(body)
        async def run(ctx: Context, *args: P.args, **kwargs: P.kwargs) -> Outcome:
            return await _run(ctx, spec, lambda tx: body(tx, *args, **kwargs))

        return run

    return decorate


# ------------------------------------------------------------------- locks


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the dialect of the session's engine."""
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
    """Open the mutation's transaction with the locks (a) and (b) of the module docstring.

    Args:
        session: The session, with no transaction open.
        viewer: The caller.
        lock_partner: Whether the mutation needs the partner's row lock.
    """
    if dialect_of(session) == "sqlite":
        # A write as the first statement: SQLite takes its single write lock
        # now and a concurrent writer waits (busy_timeout) until we commit;
        # reading first would let a later write fail on a stale snapshot.
        await session.execute(update(PARTNER).where(PARTNER.c.id == viewer.partner_id).values(name=PARTNER.c.name))
    elif lock_partner:
        await _lock_partner(session, viewer.partner_id)


UNAUTHENTICATED = "The bearer token is invalid or revoked."


async def _current_actor(session: AsyncSession, viewer: Viewer) -> Viewer:
    """The actor as it is now, its row held ``FOR SHARE`` until commit (lock (c)); one statement.

    Args:
        session: The session, inside the mutation's transaction.
        viewer: The caller as the token lookup saw it.

    Returns:
        The viewer with its current role, email and display name.

    Raises:
        GraphQLError: ``UNAUTHENTICATED`` when the admin was removed or the
            request's token revoked since the token lookup.
    """
    statement = select(ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role).where(ADMIN.c.id == viewer.id)
    if viewer.token_id is not None:
        # The token row is read, not locked: its deletion (revocation) takes
        # no admin lock, and a second row lock would need an order of its own.
        statement = statement.where(exists().where(TOKEN.c.id == viewer.token_id, TOKEN.c.admin_id == ADMIN.c.id))
    row = (await session.execute(statement.with_for_update(read=True, of=ADMIN))).first()
    if row is None:
        raise GraphQLError(UNAUTHENTICATED, extensions={"code": "UNAUTHENTICATED"})
    return dataclasses.replace(viewer, email=row.email, display_name=row.display_name, role=row.role)


# ------------------------------------------------------------------- audit


async def _write_audit(session: AsyncSession, viewer: Viewer, action: str, done: Done) -> int:
    """Insert the audit event of a mutation, inside its transaction.

    Args:
        session: The session, inside the mutation's transaction.
        viewer: The actor.
        action: The mutation's name.
        done: The body's result, naming the target and the details.

    Returns:
        The audit event's id (for the live event).
    """
    result = await session.execute(
        insert(AUDIT)
        .values(
            partner_id=viewer.partner_id,
            actor_id=viewer.id,
            actor_email=viewer.email,
            action=action,
            target_type=done.target_type,
            target_id=to_global_id(done.target_type, done.target_id),
            at=dt.datetime.now(dt.UTC),
            details=json.dumps(done.details, ensure_ascii=False, sort_keys=True, default=str),
        )
        .returning(AUDIT.c.id)
    )
    return int(result.scalar_one())


# ------------------------------------------------------------------ runner


async def _run(ctx: Context, spec: MutationSpec, body: Callable[[Tx], Awaitable[Done]]) -> Outcome:
    """Run one mutation as one transaction (see the module docstring).

    Args:
        ctx: The request context.
        spec: The mutation's declaration.
        body: The body, with its input bound.

    Returns:
        The outcome: ids of what changed, or the user errors.

    Raises:
        GraphQLError: ``FORBIDDEN`` when the role (at token lookup, or now)
            lacks the permission; ``UNAUTHENTICATED`` when the actor was
            removed or the token revoked meanwhile.
    """
    viewer = ctx.require_viewer()
    require(viewer, spec.permission)
    session = ctx.session
    # The token lookup left a read transaction open; end it so the mutation
    # is a transaction of its own, reading current data.
    await session.commit()
    try:
        await _take_write_lock(session, viewer, lock_partner=spec.lock_partner)
        actor = await _current_actor(session, viewer)
        require(actor, spec.permission)
        done = await body(Tx(ctx, actor))
        outcome = done.outcome
        customers: tuple[int, ...] = () if outcome.customer_id is None else (outcome.customer_id,)
        customers += tuple(c for c in done.changed_customers if c not in customers)
        if spec.analytics and customers:
            await analytics_facts.refresh(
                session,
                partner_id=actor.partner_id,
                day=ctx.today,
                min_days=ctx.settings.low_assignment_min_days,
                customers=customers,
            )
        audit_id = await _write_audit(session, actor, spec.name, done)
        await session.commit()
        # Only now, committed: a rolled-back mutation never reaches subscribers.
        await events.publish(session.bind, events.Event(events.CHANGE, actor.partner_id, customers, audit_id))
    except Failure as failure:
        await session.rollback()
        outcome = Outcome(user_errors=failure.errors)
    except IntegrityError as exc:
        await session.rollback()
        constraint = violated_constraint(exc)
        conflict = next((c for c in spec.conflicts if c.covers(constraint)), None)
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


__all__ = [
    "MUTATIONS",
    "UNIQUE_KEYS",
    "Conflict",
    "Done",
    "Errors",
    "Failure",
    "FieldPath",
    "MutationSpec",
    "Outcome",
    "Tx",
    "UserErrorData",
    "dialect_of",
    "fail",
    "mutation",
    "violated_constraint",
]
