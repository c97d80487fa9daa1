"""Per-request DataLoaders: every relation of the API in one SQL statement per batch.

Build a fresh :class:`Loaders` for each request (aiodataloader binds its event
loop at construction, and a cache must never outlive the request it belongs
to). Loaders apply the viewer's visibility themselves, so an object the caller
may not see comes back as ``None`` or is absent from a list.

Loaders answer plain records (named tuples of columns, :mod:`db.records`);
the GraphQL objects are built from them in ``schema/``.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Generic, NamedTuple, TypeVar, overload

from aiodataloader import DataLoader, Loader, dispatch_queue
from sqlalchemy import BindParameter, ColumnElement, Date, Integer, any_, bindparam, func, literal, select, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from db.access import Viewer, visible_customers
from db.engine import session_connection
from db.models import PRODUCTS
from db.records import fetch_records
from db.rules import (
    STATUS_ORDER,
    StatusWindows,
    facet_counts,
    facet_record,
    is_live,
    line_values_on,
    status_detail_rows,
    status_predicates,
)
from db.sqlfunc import keyset_after
from db.tables import ADMIN, ASSIGNMENT, CUSTOMER, INVOICE, LINE, ORDER, PLAN, PLAN_COLUMNS
from loaders.status_details import status_details

PRODUCT_RANK = {p: i for i, p in enumerate(PRODUCTS)}
# The assignments walked from an admin; an alias, so that a sales viewer's own
# visibility check (an EXISTS on customer_admin) stays a subquery of its own.
LINK = ASSIGNMENT.alias("link")
CUSTOMER_COLUMNS = (
    CUSTOMER.c.id,
    CUSTOMER.c.name,
    CUSTOMER.c.managed_by,
    CUSTOMER.c.created_on,
    CUSTOMER.c.last_admin_activity_on,
)
ADMIN_COLUMNS = (ADMIN.c.id, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role)


class _Loader(DataLoader):
    """A DataLoader bound to the request's session and viewer.

    Batches are dispatched once the loader's queue has stopped growing for
    ``QUIET_TICKS`` event-loop iterations (at most ``MAX_TICKS`` after the first
    key). aiodataloader dispatches two iterations after the first key, but
    graphql-core completes sibling lists through nested ``gather`` tasks, so
    the same field of objects at slightly different depths (a customer with
    one subscription, another with three) asks a few iterations apart, which
    split the list page's one licence query into several (bench/README.md,
    "Measured").
    Waiting for a quiet queue costs microseconds and keeps one statement per
    relation per page.
    """

    QUIET_TICKS = 2
    MAX_TICKS = 64

    def __init__(self, loaders: Loaders) -> None:
        super().__init__()
        self.loaders = loaders
        self._seen = 0
        self._quiet = 0
        self._ticks = 0

    def do_resolve_reject(self, key: Any, future: Any) -> None:
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            self._seen, self._quiet, self._ticks = 1, 0, 0
            self.loop.call_soon(self._tick)

    def _tick(self) -> None:
        size = len(self._queue)
        if size == 0:  # pragma: no cover - nothing else empties the queue
            return
        self._ticks += 1
        if size != self._seen:
            self._seen, self._quiet = size, 0
        else:
            self._quiet += 1
        if self._quiet >= self.QUIET_TICKS or self._ticks >= self.MAX_TICKS:
            dispatch_queue(self)
        else:
            self.loop.call_soon(self._tick)

    async def load_now(self, keys: Iterable[Any]) -> None:
        """Load ``keys`` as one batch, sharing the cache (and the batch window) with ``load``.

        Used to fill a relation for a whole page before it is completed
        (``schema.relations``): one future per missing key, queued together,
        instead of a resolver and its awaitable per object. The keys join the
        loader's current batch, so the pages of sibling connections (one
        ``assignedCustomers`` page per admin of a list) prefetch their
        relations in one statement, not one each. Keys already cached (or in
        flight) are not asked again; afterwards :meth:`peek` returns every
        key's value. On a failure the keys are left uncached, as ``load``
        leaves them, so the per-object path can report the error.
        """
        cache, queue = self._cache, self._queue
        idle = not queue
        futures = []
        for key in dict.fromkeys(keys):
            future = cache.get(key)
            if future is None:
                future = cache[key] = self.loop.create_future()
                queue.append(Loader(key=key, future=future))
            futures.append(future)
        if idle and queue:  # as do_resolve_reject does for the first key of a batch
            self._seen, self._quiet, self._ticks = len(queue), 0, 0
            self.loop.call_soon(self._tick)
        try:
            for future in futures:
                if not future.done():
                    await future
        except BaseException:
            for future in futures:
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: whoever shares it gets the error, nobody else is warned
            raise

    def peek(self, key: Any) -> Any:
        """The cached value of ``key`` (loaded by :meth:`load_now` or ``load``)."""
        return self._cache[key].result()

    def keys_in(self, column: Any) -> ColumnElement[bool]:
        """``column`` is one of the batch's keys (the ``:keys`` parameter).

        PostgreSQL gets one array parameter (``= ANY(:keys)``): the SQL text is
        the same for every batch size, so it is compiled and prepared once,
        where an expanding ``IN`` re-renders one placeholder per key on every
        execution (its cost: bench/README.md, "Measured").
        SQLite has no arrays and keeps ``IN``.
        """
        if self.loaders.dialect == "postgresql":
            return column == any_(ARRAY_KEYS)
        return column.in_(KEYS)

    def cached(self, key: tuple, build: Callable[[], Any]) -> Any:
        """The loader statement ``key`` for this database, built once (see :func:`_cached`)."""
        return _cached((self.loaders.dialect, *key), build)

    @property
    def session(self) -> AsyncSession:
        return self.loaders.session

    @property
    def viewer(self) -> Viewer:
        """The request's viewer: ``None`` only for introspection, which runs no loader."""
        viewer = self.loaders.viewer
        if viewer is None:  # pragma: no cover - the HTTP layer answers 401 first
            raise RuntimeError("a loader ran without a signed-in viewer")
        return viewer

    async def rows(self, statement, keys: list[Any] | None = None) -> list[Any]:
        """Rows of ``statement``; ``keys`` fill its expanding ``:keys`` parameter.

        Runs on the session's connection, on PostgreSQL as a prepared
        statement compiled once (:func:`db.records.fetch_records`; these are
        plain table selects, the ORM layer of ``session.execute`` adds nothing).
        """
        return await fetch_records(await session_connection(self.session), statement, keys)


# Each loader's statement is built once per distinct (day, viewer, settings) and
# reused: the keys of a batch are an expanding bind parameter, so the statement
# object, its memoised cache key and SQLAlchemy's compiled form are shared by
# every request of the day. Building and hashing the status and licence
# expressions anew for every batch was a large share of a list page's CPU
# (bench/README.md, "Measured").
KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
ARRAY_KEYS = bindparam("keys", type_=postgresql.ARRAY(Integer))
_STATEMENTS: OrderedDict[tuple, Any] = OrderedDict()
_STATEMENT_CACHE_SIZE = 256


def _cached(key: tuple, build: Callable[[], Any]) -> Any:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = build()
        _STATEMENTS[key] = statement
        if len(_STATEMENTS) > _STATEMENT_CACHE_SIZE:
            _STATEMENTS.popitem(last=False)
    return statement


def _grouped(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


class CustomerByIdLoader(_Loader):
    """Customer records by database id; ``None`` for one the viewer may not see.

    Starts with the records :meth:`Loaders.prime_customers` was given before
    it was created.
    """

    def __init__(self, loaders: Loaders) -> None:
        super().__init__(loaders)
        pending = loaders.pending_customers
        loaders.pending_customers = []
        for records in pending:
            for record in records:
                self.prime(record.id, record)

    async def batch_load_fn(self, keys: list[int]):
        viewer = self.viewer
        statement = self.cached(
            ("customer_by_id", viewer),
            lambda: select(*CUSTOMER_COLUMNS).where(self.keys_in(CUSTOMER.c.id), visible_customers(CUSTOMER, viewer)),
        )
        by_id = {row.id: row for row in await self.rows(statement, keys)}
        return [by_id.get(k) for k in keys]


class StatusesByCustomerLoader(_Loader):
    """The statuses of SPEC §2.1 of each customer (names in status order), from :func:`status_predicates`."""

    async def batch_load_fn(self, keys: list[int]):
        today, windows = self.loaders.today, self.loaders.windows

        def build():
            predicates = status_predicates(CUSTOMER, today, windows)
            return select(CUSTOMER.c.id, *[predicates[name].label(name) for name in STATUS_ORDER]).where(
                self.keys_in(CUSTOMER.c.id)
            )

        rows = await self.rows(self.cached(("statuses", today, windows), build), keys)
        by_id = {row.id: [name for name in STATUS_ORDER if getattr(row, name)] for row in rows}
        return [by_id.get(k, []) for k in keys]


class StatusDetailsByCustomerLoader(_Loader):
    """:class:`loaders.status_details.StatusDetailRecord` s of each customer in status order, from :func:`db.rules.status_detail_rows`.

    One statement for a batch: each status rule's rows (one per plan that
    meets it, or one per customer) as a UNION ALL, so a detail exists exactly
    when ``statuses`` lists the status.
    """

    async def batch_load_fn(self, keys: list[int]):
        today, windows = self.loaders.today, self.loaders.windows
        statement = self.cached(
            ("status_details", today, windows), lambda: status_detail_rows(self.keys_in, today, windows)
        )
        rows: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for row in await self.rows(statement, keys):
            rows[row.customer_id][row.status].append(row)
        return [status_details(rows.get(k, {}), windows) for k in keys]


class ProductsByCustomerLoader(_Loader):
    """Products of the lines of each customer's live plans, in Product order."""

    async def batch_load_fn(self, keys: list[int]):
        today = self.loaders.today
        statement = self.cached(
            ("products", today),
            lambda: (
                select(PLAN.c.customer_id, LINE.c.product)
                .select_from(PLAN.join(LINE, LINE.c.plan_id == PLAN.c.id))
                .where(self.keys_in(PLAN.c.customer_id), is_live(PLAN, today))
                .distinct()
            ),
        )
        grouped = _grouped(await self.rows(statement, keys), "customer_id")
        return [sorted({r.product for r in grouped.get(k, [])}, key=PRODUCT_RANK.__getitem__) for k in keys]


class LineProductsByCustomerLoader(_Loader):
    """Products of the lines of each customer's plans, whatever their status or dates, in Product order.

    Plans and lines are never deleted and a line's product never changes, so
    this only grows: a product missing here was never on the customer's plans
    (what ``resolvers.analytics.kpis_may_have_moved`` relies on).
    """

    async def batch_load_fn(self, keys: list[int]):
        statement = self.cached(
            ("line_products",),
            lambda: (
                select(PLAN.c.customer_id, LINE.c.product)
                .select_from(PLAN.join(LINE, LINE.c.plan_id == PLAN.c.id))
                .where(self.keys_in(PLAN.c.customer_id))
                .distinct()
            ),
        )
        grouped = _grouped(await self.rows(statement, keys), "customer_id")
        return [sorted({r.product for r in grouped.get(k, [])}, key=PRODUCT_RANK.__getitem__) for k in keys]


class PlansByCustomerLoader(_Loader):
    """``(subscriptions, trials)`` plan records of each customer, newest first (startsOn, then id)."""

    async def batch_load_fn(self, keys: list[int]):
        statement = self.cached(
            ("plans",),
            lambda: (
                select(*PLAN_COLUMNS)
                .where(self.keys_in(PLAN.c.customer_id))
                .order_by(PLAN.c.starts_on.desc(), PLAN.c.id.desc())
            ),
        )
        result: dict[int, tuple[list, list]] = {k: ([], []) for k in keys}
        for row in await self.rows(statement, keys):
            result[row.customer_id][0 if row.kind == "SUBSCRIPTION" else 1].append(row)
        return [result[k] for k in keys]


class PlanByIdLoader(_Loader):
    """A subscription or trial record by database id; ``None`` when its customer is not visible."""

    async def batch_load_fn(self, keys: list[int]):
        viewer = self.viewer
        statement = self.cached(
            ("plan_by_id", viewer),
            lambda: (
                select(*PLAN_COLUMNS)
                .select_from(PLAN.join(CUSTOMER, CUSTOMER.c.id == PLAN.c.customer_id))
                .where(self.keys_in(PLAN.c.id), visible_customers(CUSTOMER, viewer))
            ),
        )
        by_id = {row.id: row for row in await self.rows(statement, keys)}
        return [by_id.get(k) for k in keys]


class LinesByPlanLoader(_Loader):
    """Licence line records of each plan with their values as of today, in Product order."""

    async def batch_load_fn(self, keys: list[int]):
        today = self.loaders.today

        def build():
            assigned, used, used90 = line_values_on(LINE, today)
            return select(
                LINE.c.id,
                LINE.c.plan_id,
                LINE.c.product,
                LINE.c.total,
                assigned.label("assigned"),
                used.label("used"),
                used90.label("used90"),
            ).where(self.keys_in(LINE.c.plan_id))

        grouped = _grouped(await self.rows(self.cached(("lines", today), build), keys), "plan_id")
        return [sorted(grouped.get(k, []), key=lambda r: PRODUCT_RANK[r.product]) for k in keys]


class InvoicesByPlanLoader(_Loader):
    """Invoice records of each subscription, newest first."""

    async def batch_load_fn(self, keys: list[int]):
        statement = self.cached(
            ("invoices",),
            lambda: (
                select(INVOICE)
                .where(self.keys_in(INVOICE.c.plan_id))
                .order_by(INVOICE.c.issued_on.desc(), INVOICE.c.number.desc())
            ),
        )
        grouped = _grouped(await self.rows(statement, keys), "plan_id")
        return [grouped.get(k, []) for k in keys]


class OrdersByPlanLoader(_Loader):
    """Order records of each subscription, newest first."""

    async def batch_load_fn(self, keys: list[int]):
        statement = self.cached(
            ("orders",),
            lambda: (
                select(ORDER)
                .where(self.keys_in(ORDER.c.plan_id))
                .order_by(ORDER.c.placed_on.desc(), ORDER.c.number.desc())
            ),
        )
        grouped = _grouped(await self.rows(statement, keys), "plan_id")
        return [grouped.get(k, []) for k in keys]


class AdminsByCustomerLoader(_Loader):
    """Records of the partner admins assigned to each customer, by email."""

    async def batch_load_fn(self, keys: list[int]):
        statement = self.cached(
            ("admins_by_customer",),
            lambda: (
                select(ASSIGNMENT.c.customer_id, *ADMIN_COLUMNS)
                .select_from(ASSIGNMENT.join(ADMIN, ADMIN.c.id == ASSIGNMENT.c.admin_id))
                .where(self.keys_in(ASSIGNMENT.c.customer_id))
                .order_by(ADMIN.c.email)
            ),
        )
        grouped = _grouped(await self.rows(statement, keys), "customer_id")
        return [grouped.get(k, []) for k in keys]


class AdminByIdLoader(_Loader):
    """Records of partner admins of the viewer's partner by database id."""

    async def batch_load_fn(self, keys: list[int]):
        partner_id = self.viewer.partner_id
        statement = self.cached(
            ("admin_by_id", partner_id),
            lambda: select(*ADMIN_COLUMNS).where(self.keys_in(ADMIN.c.id), ADMIN.c.partner_id == partner_id),
        )
        by_id = {row.id: row for row in await self.rows(statement, keys)}
        return [by_id.get(k) for k in keys]


class AssignedCustomersByAdminLoader(_Loader):
    """One keyset page of the customers assigned to each admin that the viewer may see, by name.

    Keyed by ``(admin id, rows wanted, cursor)`` where the cursor is the
    ``(sort_key, id)`` to start after, or ``None``. Keys with the same page
    arguments (the usual case: one ``assignedCustomers(first: n)`` under a
    list of admins) are answered by one statement: each admin's rows numbered
    in name order with a window function, and the first ``rows wanted`` kept.
    So a nested connection costs one statement per level, not one per parent.
    """

    async def batch_load_fn(self, keys: list[tuple[int, int, tuple[bytes, int] | None]]):
        groups: dict[tuple[int, tuple[bytes, int] | None], list[int]] = defaultdict(list)
        for admin_id, size, cursor in keys:
            groups[(size, cursor)].append(admin_id)
        found: dict[tuple[int, int, tuple[bytes, int] | None], list[Any]] = {}
        for (size, cursor), admin_ids in groups.items():
            rows = await self.rows(self._statement(size, cursor), sorted(set(admin_ids)))
            by_admin = _grouped(rows, "admin_id")
            for admin_id in admin_ids:
                found[(admin_id, size, cursor)] = by_admin.get(admin_id, [])
        return [found[key] for key in keys]

    def _statement(self, size: int, cursor: tuple[bytes, int] | None) -> Any:
        viewer = self.viewer

        def build() -> Any:
            conditions = [self.keys_in(LINK.c.admin_id), visible_customers(CUSTOMER, viewer)]
            if cursor is not None:
                conditions.append(keyset_after([CUSTOMER.c.sort_key, CUSTOMER.c.id], cursor, [False, False]))
            number = func.row_number().over(partition_by=LINK.c.admin_id, order_by=(CUSTOMER.c.sort_key, CUSTOMER.c.id))
            numbered = (
                select(LINK.c.admin_id, *CUSTOMER_COLUMNS, CUSTOMER.c.sort_key, number.label("position"))
                .select_from(LINK.join(CUSTOMER, CUSTOMER.c.id == LINK.c.customer_id))
                .where(*conditions)
                .subquery("numbered")
            )
            return (
                select(numbered).where(numbered.c.position <= size).order_by(numbered.c.admin_id, numbered.c.position)
            )

        # Cursors are client-chosen: statements for a cursor are built for the request, not memoised.
        return build() if cursor is not None else self.cached(("assigned_customers", viewer, size), build)


class AssignedCountByAdminLoader(_Loader):
    """How many customers are assigned to each admin that the viewer may see (one grouped count)."""

    async def batch_load_fn(self, keys: list[int]):
        viewer = self.viewer
        statement = self.cached(
            ("assigned_count", viewer),
            lambda: (
                select(LINK.c.admin_id, func.count().label("n"))
                .select_from(LINK.join(CUSTOMER, CUSTOMER.c.id == LINK.c.customer_id))
                .where(self.keys_in(LINK.c.admin_id), visible_customers(CUSTOMER, viewer))
                .group_by(LINK.c.admin_id)
            ),
        )
        counts = {row.admin_id: row.n for row in await self.rows(statement, keys)}
        return [counts.get(k, 0) for k in keys]


class AssignedFacetsByAdminLoader(_Loader):
    """The facets (:func:`db.rules.facet_record`) of the customers assigned to each admin that the viewer may see.

    One grouped statement for the batch, so ``facets`` under a list of admins is one statement, not one per admin.
    """

    async def batch_load_fn(self, keys: list[int]):
        viewer, today, windows = self.viewer, self.loaders.today, self.loaders.windows
        statement = self.cached(
            ("assigned_facets", viewer, today, windows),
            lambda: facet_counts(
                [self.keys_in(LINK.c.admin_id), visible_customers(CUSTOMER, viewer)],
                {},
                today,
                windows,
                group=LINK.c.admin_id,
                source=LINK.join(CUSTOMER, CUSTOMER.c.id == LINK.c.customer_id),
            ),
        )
        found = {row[0]: facet_record(row[1:]) for row in await self.rows(statement, keys)}
        return [found.get(k) or facet_record(()) for k in keys]


class HistoryPoint(NamedTuple):
    """One weekly point of a line: its values on ``date``, zeros while its plan is not live."""

    date: dt.date
    total: int
    assigned: int
    used: int


class HistoryByLineLoader(_Loader):
    """Weekly :class:`HistoryPoint` s of a line, keyed by ``(line_id, weeks)``.

    Each point counts the line only while its plan is live on the point's day,
    exactly as ``licenseTrend`` does for all lines.
    """

    async def batch_load_fn(self, keys: list[tuple[int, int]]):
        today = self.loaders.today
        weeks = max(w for _, w in keys)
        days = [today - dt.timedelta(days=7 * i) for i in range(weeks - 1, -1, -1)]

        def build():
            points = union_all(*[select(literal(d, Date).label("day")) for d in days]).subquery("points")
            assigned, used, _ = line_values_on(LINE, points.c.day)
            live = is_live(PLAN, points.c.day)
            return (
                select(
                    LINE.c.id,
                    points.c.day,
                    live.label("live"),
                    LINE.c.total,
                    assigned.label("assigned"),
                    used.label("used"),
                )
                .select_from(LINE.join(PLAN, PLAN.c.id == LINE.c.plan_id).join(points, literal(True)))
                .where(self.keys_in(LINE.c.id))
            )

        line_ids = sorted({line_id for line_id, _ in keys})
        rows = await self.rows(self.cached(("history", today, weeks), build), line_ids)
        values: dict[tuple[int, dt.date], HistoryPoint] = {}
        for r in rows:
            day = r.day if isinstance(r.day, dt.date) else dt.date.fromisoformat(r.day)
            values[(r.id, day)] = (
                HistoryPoint(day, r.total, r.assigned, r.used) if r.live else HistoryPoint(day, 0, 0, 0)
            )
        return [
            [values[(line_id, d)] for d in days[len(days) - w :]] if (line_id, days[-1]) in values else []
            for line_id, w in keys
        ]


L = TypeVar("L", bound="_Loader")


class _OnFirstUse(Generic[L]):
    """A loader attribute of :class:`Loaders`, created the first time a request asks for it.

    A request uses a few of the fifteen loaders (page (0) two: the customers it
    primes and the plans);
    creating all of them up front was ~2 % of that page's server CPU
    (bench/README.md, "Measured"). The created loader is stored on the
    instance under the same name, so later reads are plain attribute reads.
    """

    def __init__(self, loader: type[L]) -> None:
        self.loader = loader

    def __set_name__(self, _owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, _owner: type | None = None) -> _OnFirstUse[L]: ...
    @overload
    def __get__(self, obj: Loaders, _owner: type | None = None) -> L: ...
    def __get__(self, obj: Loaders | None, _owner: type | None = None) -> L | _OnFirstUse[L]:
        if obj is None:
            return self
        loader = obj.__dict__[self.name] = self.loader(obj)
        return loader


class Loaders:
    """All loaders of one request, each created on first use."""

    customer_by_id = _OnFirstUse(CustomerByIdLoader)
    statuses_by_customer = _OnFirstUse(StatusesByCustomerLoader)
    status_details_by_customer = _OnFirstUse(StatusDetailsByCustomerLoader)
    products_by_customer = _OnFirstUse(ProductsByCustomerLoader)
    line_products_by_customer = _OnFirstUse(LineProductsByCustomerLoader)
    plans_by_customer = _OnFirstUse(PlansByCustomerLoader)
    plan_by_id = _OnFirstUse(PlanByIdLoader)
    lines_by_plan = _OnFirstUse(LinesByPlanLoader)
    invoices_by_plan = _OnFirstUse(InvoicesByPlanLoader)
    orders_by_plan = _OnFirstUse(OrdersByPlanLoader)
    admins_by_customer = _OnFirstUse(AdminsByCustomerLoader)
    admin_by_id = _OnFirstUse(AdminByIdLoader)
    history_by_line = _OnFirstUse(HistoryByLineLoader)
    assigned_customers_by_admin = _OnFirstUse(AssignedCustomersByAdminLoader)
    assigned_count_by_admin = _OnFirstUse(AssignedCountByAdminLoader)
    assigned_facets_by_admin = _OnFirstUse(AssignedFacetsByAdminLoader)

    def __init__(self, *, session: AsyncSession, viewer: Viewer | None, today: dt.date, windows: StatusWindows) -> None:
        self.session = session
        self.viewer = viewer
        self.today = today
        self.windows = windows
        self.dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        # Customer records to prime customer_by_id with once it is created (prime_customers).
        self.pending_customers: list[Iterable[Any]] = []

    def prime_customers(self, records: Iterable[Any]) -> None:
        """Prime ``customer_by_id`` with customer records (by ``record.id``), as ``prime`` does: no key overwritten.

        Until the loader is first used the records are only kept: a page whose
        relations never ask for a customer by id (most do not) creates no
        loader and primes nothing; priming 50 records one future each was
        ~3 % of the comparison page's CPU (bench/README.md, "Fourth round").
        Primed later, in the same order, the cache holds what eager priming
        would have left in it (the loader had no entries before it existed).
        """
        loader = self.__dict__.get("customer_by_id")
        if loader is None:
            self.pending_customers.append(records)
            return
        for record in records:
            loader.prime(record.id, record)

    def clear_all(self) -> None:
        """Forget every cached value (after a mutation changed the data); loaders not created yet hold none."""
        self.pending_customers = []
        for value in vars(self).values():
            if isinstance(value, DataLoader):
                value.clear_all()
