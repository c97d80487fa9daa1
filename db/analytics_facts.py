"""Stored analytics aggregates: today's live lines of a partner, and its medians, kept exact.

``analytics_fact`` holds, for each partner, exactly the rows that
:func:`db.lines.live_lines` gives for the whole partner (MEETINGS and CALLING,
with the values of seven days earlier; names are joined on read) on the partner's *fact day*
(``analytics_fact_day.day``); ``analytics_median`` the partner-wide
low-assignment median of each product over them. The analytics of a viewer
who sees the whole partner, for ``asOf`` = today, read these instead of
scanning plans, lines and snapshots (``resolvers/analytics``); every other
case computes on read.

Kept exact by the writers, inside their own transaction:

* every mutation that can change a plan or line refreshes the customers it
  touched (:func:`refresh`, five statements) — read-your-writes;
* ``partnerhub load`` and seeding refresh the customers of the document;
* at the first request of a new day (the fact day is not today) the whole
  partner is rebuilt (:func:`ensure_fresh`, on a connection of its own):
  live plans, values on the day and the windows all move with the day.

Races: each writer first upserts the partner's ``analytics_fact_day`` row
(:func:`_lock`), which holds that row's lock until it commits, and only then
reads the plans. Two writers of one partner's facts therefore run one after
the other, and the second reads what the first committed (PostgreSQL's READ
COMMITTED takes each statement's snapshot when it starts; SQLite has one
writer). A rebuild that finds the day already moved by a concurrent request
does nothing. The facts carry no foreign key to plans or customers: a
mutation holds its trial rows ``FOR UPDATE`` before it reaches the fact-day
lock, and an insert's key check of those rows, taken under that lock, would
wait for it in a circle.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, String, delete, func, literal, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db import trend_cache
from db.lines import KPI_PRODUCTS, Where, eligible, live_lines, median_of
from db.rules import days_between
from db.tables import CUSTOMER, FACT, FACT_DAY, MEDIAN

log = logging.getLogger(__name__)

NEVER = dt.date(1, 1, 1)
"""The fact day of a partner whose facts were never built."""
MAX_PARTIAL = 5000
"""Past this many customers a refresh rebuilds the whole partner (one statement instead of a long id list)."""

FACT_COLUMNS = tuple(c.name for c in FACT.c)


# ------------------------------------------------------------------ reading


def fact_lines(
    *,
    partner_id: int,
    product: str | tuple[str, ...],
    d: dt.date,
    where: Where | None = None,
    weekly: bool = False,
    name: str = "base",
) -> Any:
    """Subquery over the stored facts with the columns of :func:`db.lines.live_lines` (named, partner-wide).

    Only meaningful for ``d`` = the partner's fact day. ``where(plan, line)``
    receives stand-ins whose columns (``kind``, ``auto_renew``, ``starts_on``,
    ``ends_on``, ``customer_id``; ``total``, ``product``) are the fact's.
    """
    fact = FACT.alias(f"{name}_fact")
    customer = CUSTOMER.alias(f"{name}_customer")
    columns = [
        fact.c.customer_id,
        fact.c.product,
        customer.c.name.label("customer_name"),
        customer.c.sort_key.label("name_key"),
        fact.c.plan_id,
        fact.c.plan_type,
        fact.c.subscription_id,
        fact.c.auto_renew,
        fact.c.starts_on,
        fact.c.ends_on,
        fact.c.total,
        fact.c.assigned,
        fact.c.used,
        fact.c.used90,
        days_between(literal(d), fact.c.starts_on).label("days_since_added"),
        days_between(fact.c.ends_on, literal(d)).label("days_until_end"),
    ]
    if weekly:
        columns += [fact.c.assigned_prev, fact.c.used_prev]
    of_product = fact.c.product == product if isinstance(product, str) else fact.c.product.in_(product)
    conditions = [fact.c.partner_id == partner_id, of_product]
    if where is not None:
        plan = SimpleNamespace(
            c=SimpleNamespace(
                kind=fact.c.plan_type,
                auto_renew=fact.c.auto_renew,
                starts_on=fact.c.starts_on,
                ends_on=fact.c.ends_on,
                customer_id=fact.c.customer_id,
            )
        )
        line = SimpleNamespace(c=SimpleNamespace(total=fact.c.total, product=fact.c.product))
        conditions.extend(where(plan, line))
    # An outer join on the customer's key: PostgreSQL drops it from the
    # statements that use no name (KPIs, trend), and every fact has its customer.
    source = fact.outerjoin(customer, customer.c.id == fact.c.customer_id)
    return select(*columns).select_from(source).where(*conditions).subquery(name)


def stored_median(partner_id: int, product: str) -> Any:
    """Scalar subquery: the stored median of the product (NULL without an eligible line)."""
    return select(MEDIAN.c.rate).where(MEDIAN.c.partner_id == partner_id, MEDIAN.c.product == product).scalar_subquery()


def fact_day_statement(partner_id: int) -> Any:
    """``(day, min_days, version)`` of the partner's facts; no row when never built."""
    return select(FACT_DAY.c.day, FACT_DAY.c.min_days, FACT_DAY.c.version).where(FACT_DAY.c.partner_id == partner_id)


# ------------------------------------------------------------------ writing


def _insert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def lock_statement(dialect: str, partner_id: int) -> Any:
    """Upsert the partner's fact-day row (locking it until commit) and return its ``(day, min_days)``.

    A new row says :data:`NEVER` (build everything); an existing one keeps
    its day, which takes its lock on PostgreSQL and returns it as stored (a
    concurrent writer's change once that one has committed). Either way the
    row gets a new random ``version``: whatever was computed from the facts
    before is no longer theirs once this transaction commits, and a rollback
    restores the old value, which no later writer picks again (a counter
    would: the rolled-back write's number would come back with other facts).
    """
    version = new_version()
    statement = _insert(dialect)(FACT_DAY).values(partner_id=partner_id, day=NEVER, min_days=-1, version=version)
    return statement.on_conflict_do_update(
        index_elements=[FACT_DAY.c.partner_id], set_={"min_days": FACT_DAY.c.min_days, "version": version}
    ).returning(FACT_DAY.c.day, FACT_DAY.c.min_days)


def new_version() -> int:
    """A fresh facts version: 63 random bits (BIGINT on both databases), never 0, the column's default."""
    return secrets.randbits(63) or 1


def delete_facts(partner_id: int, customers: Collection[int] | None = None) -> Any:
    """Delete the partner's facts (of these customers only, when given)."""
    statement = delete(FACT).where(FACT.c.partner_id == partner_id)
    if customers is not None:
        statement = statement.where(FACT.c.customer_id.in_(sorted(customers)))
    return statement


def insert_facts(partner_id: int, day: dt.date, customers: Collection[int] | None = None) -> Any:
    """INSERT … SELECT of the partner's live lines on ``day`` (of these customers only, when given)."""
    ids = None if customers is None else sorted(customers)
    where: Where | None = None if ids is None else (lambda plan, line: [plan.c.customer_id.in_(ids)])
    base = live_lines(
        partner_id=partner_id,
        viewer=None,
        product=KPI_PRODUCTS,
        d=day,
        where=where,
        weekly=True,
        name="fact_source",
    )
    rows = select(literal(partner_id, Integer).label("partner_id"), *[base.c[c] for c in FACT_COLUMNS[1:]])
    return FACT.insert().from_select(list(FACT_COLUMNS), rows)


def delete_medians(partner_id: int) -> Any:
    """Delete the partner's stored medians."""
    return delete(MEDIAN).where(MEDIAN.c.partner_id == partner_id)


def insert_medians(partner_id: int, day: dt.date, min_days: int) -> Any:
    """INSERT … SELECT of each KPI product's median over the partner's (just written) facts."""
    parts = []
    for product in KPI_PRODUCTS:
        base = fact_lines(
            partner_id=partner_id,
            product=product,
            d=day,
            where=eligible(day, min_days),
            name=f"median_{product.lower()}_lines",
        )
        parts.append(
            select(
                literal(partner_id, Integer).label("partner_id"),
                literal(product, String).label("product"),
                median_of(base, product).label("rate"),
            )
        )
    return MEDIAN.insert().from_select(["partner_id", "product", "rate"], union_all(*parts))


def set_day(partner_id: int, day: dt.date, min_days: int) -> Any:
    """Record the day (and eligibility age) the partner's facts are now for."""
    return update(FACT_DAY).where(FACT_DAY.c.partner_id == partner_id).values(day=day, min_days=min_days)


def rebuild_statements(
    partner_id: int, day: dt.date, min_days: int, customers: Collection[int] | None = None
) -> list[Any]:
    """What a refresh writes after the lock (the whole partner's, also run by the migration's backfill).

    With ``customers``, only their facts are rewritten (the medians always are,
    being partner-wide) and the fact day stays as it is: only a whole-partner
    rebuild makes the facts those of ``day``.
    """
    statements = [
        delete_facts(partner_id, customers),
        insert_facts(partner_id, day, customers),
        delete_medians(partner_id),
        insert_medians(partner_id, day, min_days),
    ]
    if customers is None:
        statements.append(set_day(partner_id, day, min_days))
    return statements


OnMove = Callable[[AsyncConnection | AsyncSession, dt.date], Awaitable[None]]


async def refresh(
    conn: AsyncConnection | AsyncSession,
    *,
    partner_id: int,
    day: dt.date,
    min_days: int,
    customers: Collection[int] | None = None,
    on_move: OnMove | None = None,
) -> bool:
    """Bring the partner's facts up to date for ``day`` inside the caller's transaction.

    Args:
        conn: The writer's connection or session, inside its transaction.
        partner_id: The partner.
        day: Today.
        min_days: ``PARTNERHUB_LOW_ASSIGNMENT_MIN_DAYS``.
        customers: The customers whose plans or lines the transaction
            changed; None: any of them may have.
        on_move: Called with the old fact day, under the lock and before the
            old facts are deleted, when the rebuild moves the facts from an
            earlier day to ``day``.

    Returns:
        Whether the whole partner was rebuilt (its fact day was another day,
        or another eligibility age, or ``customers`` was None or large).
    """
    dialect = _dialect(conn)
    stored = (await conn.execute(lock_statement(dialect, partner_id))).one()
    whole = customers is None or len(customers) > MAX_PARTIAL or (stored.day, stored.min_days) != (day, min_days)
    if not whole and not customers:
        return False
    if whole and on_move is not None and NEVER < stored.day < day:
        await on_move(conn, stored.day)
    for statement in rebuild_statements(partner_id, day, min_days, None if whole else customers):
        await conn.execute(statement)
    return whole


async def ensure_fresh(engine: AsyncEngine, *, partner_id: int, day: dt.date, min_days: int) -> bool:
    """Rebuild the partner's facts for ``day`` on a connection of its own, unless a concurrent request just did.

    The day-boundary shift: called by a request that found the fact day
    stale. Never fails the request: on any error it logs and returns False
    (the request computes on read).

    The facts of the day that ended are then the exact live lines of that
    day (every writer since refreshed them in its own transaction, and this
    transaction changes nothing else), so their sums are kept as that day's
    licence trend point (:mod:`db.trend_cache`) before they are replaced:
    a trend whose weekly points fall on days the server has seen needs no
    past-day scan. Kept through the trend cache's version, read before the
    sums, so a concurrent write that changes past days keeps it from being
    stored. Mutations and imports that move the day keep nothing: their own
    changes precede their refresh.

    Returns:
        Whether the facts are now those of ``day``.
    """
    ended: list[tuple[int, dt.date, dict[str, tuple[int, int, int]]]] = []

    async def keep_ended_day(conn: AsyncConnection | AsyncSession, old_day: dt.date) -> None:
        version = await trend_cache.read_version(conn, partner_id)
        ended.append((version, old_day, await _fact_sums(conn, partner_id)))

    try:
        async with engine.begin() as conn:
            await refresh(conn, partner_id=partner_id, day=day, min_days=min_days, customers=(), on_move=keep_ended_day)
    except Exception:
        log.warning("could not rebuild the analytics facts of partner %s", partner_id, exc_info=True)
        return False
    for version, old_day, sums in ended:
        await trend_cache.store(
            engine,
            partner_id,
            version,
            {(product, old_day): sums.get(product, (0, 0, 0)) for product in KPI_PRODUCTS},
        )
    return True


def stale_partners_statement(day: dt.date, min_days: int) -> Any:
    """The partners whose stored facts are of another day or eligibility age than ``(day, min_days)``."""
    return (
        select(FACT_DAY.c.partner_id)
        .where(or_(FACT_DAY.c.day != day, FACT_DAY.c.min_days != min_days))
        .order_by(FACT_DAY.c.partner_id)
    )


async def stale_partners(engine: AsyncEngine, *, day: dt.date, min_days: int) -> list[int]:
    """The partners whose stored facts need the day-boundary rebuild (:func:`ensure_fresh`) for ``day``, by id.

    Partners whose facts were never built are not among them: their first
    request builds them.
    """
    async with engine.connect() as conn:
        return list((await conn.execute(stale_partners_statement(day, min_days))).scalars())


async def _fact_sums(conn: AsyncConnection | AsyncSession, partner_id: int) -> dict[str, tuple[int, int, int]]:
    """Σ total, assigned, used of the partner's facts, by product."""
    rows = await conn.execute(
        select(FACT.c.product, func.sum(FACT.c.total), func.sum(FACT.c.assigned), func.sum(FACT.c.used))
        .where(FACT.c.partner_id == partner_id)
        .group_by(FACT.c.product)
    )
    return {product: (int(t), int(a), int(u)) for product, t, a, u in rows}


def _dialect(conn: AsyncConnection | AsyncSession) -> str:
    bind = conn.bind if isinstance(conn, AsyncSession) else conn.engine
    if bind is None:  # pragma: no cover - db.engine binds every session to the engine
        raise ValueError("analytics facts: the session is bound to no engine")
    return bind.dialect.name


__all__ = [
    "FACT_COLUMNS",
    "MAX_PARTIAL",
    "NEVER",
    "delete_facts",
    "ensure_fresh",
    "fact_day_statement",
    "fact_lines",
    "insert_facts",
    "insert_medians",
    "lock_statement",
    "new_version",
    "rebuild_statements",
    "refresh",
    "set_day",
    "stale_partners",
    "stale_partners_statement",
    "stored_median",
]
