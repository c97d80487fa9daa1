"""One builder for every section: its row query, KPI statement and keyset pages, from its declaration.

Everything a section reports is built from its *row query*
(:func:`row_query`), so its numbers can never disagree with its table:

* the section KPIs aggregate over the row query as a subquery (1 statement,
  which also yields ``totalCount``);
* a page of rows is the row query in the requested order (default: the
  section's) with a keyset condition and ``LIMIT size + 1`` (1 statement),
  run by the one keyset runner :func:`resolvers.pagination.keyset_page`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.access import Viewer
from db.settings import Settings, get_settings
from resolvers.analytics.declare import Column, SectionDeclaration
from resolvers.analytics.kept import kept
from resolvers.analytics.lines import (
    DEFAULT_DAYS,
    Frame,
    check_days,
    check_product,
    common_columns,
)
from resolvers.analytics.sections import SECTIONS
from resolvers.pagination import Page, bad_input, bytes_value, keyset_page, page_request

# Ties of every order, after its column: customer name, subscriptionId, then
# the plan key, which is unique among a section's rows (one line per product
# and plan), so pages never skip or repeat a row.
TIES = ("name_key", "subscription_id", "plan_id")

# The statements are memoised as in lines.memo (four argument sets), but per
# section: one cache shared by the sections would hold fewer entries than one
# dashboard request asks for (five sections), and rebuild every statement on
# every request.
section_memo = functools.lru_cache(maxsize=4 * len(SECTIONS))


def section_of(section: str | SectionDeclaration) -> SectionDeclaration:
    """The declaration of ``section`` (its name or itself)."""
    return section if isinstance(section, SectionDeclaration) else SECTIONS[section]


def frame_of(
    decl: SectionDeclaration,
    viewer: Viewer,
    product: Any,
    as_of: dt.date,
    days: int,
    settings: Settings | None,
    facts: bool = False,
) -> Frame:
    """The section's frame; checks the product and (for a windowed section) the window."""
    settings = settings or get_settings()
    return Frame(
        partner_id=viewer.partner_id,
        product=check_product(product),
        as_of=as_of,
        days=check_days(days) if decl.windowed else DEFAULT_DAYS,
        min_days=settings.low_assignment_min_days,
        factor=settings.low_assignment_factor,
        facts=facts,
    )


@section_memo
def row_query(decl: SectionDeclaration, viewer: Viewer, frame: Frame) -> Select:
    """The section's rows: the common columns and its own, over its live lines."""
    where = decl.where
    base = frame.lines(
        viewer,
        where=None if where is None else (lambda plan, line: where(plan, line, frame)),
        weekly=decl.weekly,
        name=decl.alias,
    )
    statement = select(*common_columns(base), *[_value(c, base, frame).label(c.name) for c in decl.columns])
    return statement if decl.having is None else statement.where(decl.having(base, frame))


def _value(column: Column, base: Any, frame: Frame) -> Any:
    if column.value is None:
        raise ValueError(f"section column {column.name!r} has no SQL value")
    return column.value(base, frame)


@section_memo
def aggregate_statement(decl: SectionDeclaration, viewer: Viewer, frame: Frame) -> Select:
    """One statement: distinct customers, row count and column sums of the section's rows."""
    rows = row_query(decl, viewer, frame).subquery("section_rows")
    over = case((rows.c.assigned > rows.c.total_licenses, rows.c.assigned - rows.c.total_licenses), else_=0)
    return select(
        func.count(distinct(rows.c.customer_id)).label("customers"),
        func.count().label("row_count"),
        func.coalesce(func.sum(rows.c.total_licenses), 0).label("total"),
        func.coalesce(func.sum(rows.c.assigned), 0).label("assigned"),
        func.coalesce(func.sum(rows.c.used), 0).label("used"),
        func.coalesce(func.sum(rows.c.available), 0).label("available"),
        func.coalesce(func.sum(over), 0).label("overage"),
        *(decl.aggregates(frame) if decl.aggregates is not None else ()),
    ).select_from(rows)


class SectionKpis(SimpleNamespace):
    """A section's KPI values by KPI name, with ``row_count`` (and ``days`` for a windowed section)."""


@dataclass(frozen=True)
class SectionScope:
    """One section for one viewer, product, day and window: what its statements are built from."""

    decl: SectionDeclaration
    session: AsyncSession
    viewer: Viewer
    frame: Frame
    version: int | None = None


def section_scope(
    section: str | SectionDeclaration,
    *,
    session: AsyncSession,
    viewer: Viewer,
    product: str,
    as_of: dt.date,
    days: int = DEFAULT_DAYS,
    settings: Settings | None = None,
    facts: bool = False,
    version: int | None = None,
) -> SectionScope:
    """The scope of ``section`` (its name or declaration); checks the product and window.

    Args:
        section: The section.
        session: The session its statements run on.
        viewer: Whose visible customers it covers.
        product: ``MEETINGS`` or ``CALLING``.
        as_of: The analytics day.
        days: The window of a windowed section (ignored by the others).
        settings: Low-assignment settings (default: the environment's).
        facts: Read the stored aggregates (:func:`resolvers.analytics.facts.use_facts`
            says when they may be used); the answers are the same.
        version: The stored facts' version read with ``facts``: the KPIs
            and first pages are kept while it stays the same (:mod:`.kept`).

    Raises:
        GraphQLError: ``BAD_USER_INPUT`` for a bad product or window.
    """
    decl = section_of(section)
    frame = frame_of(decl, viewer, product, as_of, days, settings, facts)
    return SectionScope(decl, session, viewer, frame, version if facts else None)


async def section_kpis(scope: SectionScope) -> SectionKpis:
    """The section's KPIs (SPEC §2.2): one aggregate statement over its rows (kept with the facts' version)."""
    decl, frame = scope.decl, scope.frame

    async def compute() -> SectionKpis:
        agg = (await scope.session.execute(aggregate_statement(decl, scope.viewer, frame))).one()
        window = {"days": frame.days} if decl.windowed else {}
        return SectionKpis(**window, **{k.name: k.value(agg) for k in decl.kpis}, row_count=agg.row_count)

    return await kept(scope.version, ("section", decl.name, frame), compute)


@dataclass(frozen=True)
class RowOrder:
    """A requested row order: a ``<Section>RowOrderField`` value and a direction."""

    field: str
    descending: bool = False


def _strict(*kinds: type) -> Callable[[Any], Any]:
    """A cursor value parser accepting exactly ``kinds`` (``True`` is no int here)."""

    def parse(value: Any) -> Any:
        if type(value) not in kinds:
            raise TypeError(value)
        return value

    return parse


_PARSERS = {int: _strict(int), float: _strict(float, int), str: _strict(str), bool: _strict(bool)}


def _parser(column: Column) -> Callable[[Any], Any]:
    kinds = [t for t in getattr(column.type, "__args__", (column.type,)) if t is not type(None)]
    return _PARSERS[kinds[0]]


@section_memo
def ordered_rows(
    decl: SectionDeclaration, viewer: Viewer, frame: Frame, column_name: str, descending: bool
) -> tuple[Select, list[tuple[Any, bool]], tuple[Callable[[Any], Any], ...]]:
    """The statement, keyset order and cursor parsers of the section's rows ordered by one column."""
    rows = row_query(decl, viewer, frame).subquery("section_rows")
    column = decl.column(column_name)
    key_name = column.sort_key or column.name
    key = rows.c[key_name]
    extra: list[Any] = []
    if column.nullable:
        # The databases disagree on where NULL sorts and a keyset cannot
        # compare with NULL: rows without a value come last in both
        # directions, the others by the value.
        missing = case((key.is_(None), 1), else_=0).label("order_missing")
        key = func.coalesce(key, 0).label("order_value")
        extra = [missing, key]
        leading: list[tuple[Any, bool]] = [(missing, False), (key, descending)]
        parsers = [_PARSERS[int], _parser(column)]
    elif column.type is bool:
        # A keyset compares with bound values, and SQL has no `>` for a bound
        # boolean on every database: false/true sort as 0/1.
        key = case((key, 1), else_=0).label("order_value")
        extra = [key]
        leading = [(key, descending)]
        parsers = [_PARSERS[int]]
    else:
        leading = [(key, descending)]
        parsers = [bytes_value if column.sort_key else _parser(column)]
    ties = [name for name in TIES if name != key_name]
    order = [*leading, *[(rows.c[name], False) for name in ties]]
    tie_parsers = {"plan_id": _PARSERS[int], "name_key": bytes_value}
    parsers += [tie_parsers.get(name, _PARSERS[str]) for name in ties]
    return select(rows, *extra), order, tuple(parsers)


def _order_of(decl: SectionDeclaration, order: RowOrder | None) -> tuple[str, bool, str]:
    """``(column name, descending, cursor kind)`` of the requested order."""
    if order is None:
        column_name, descending = decl.order
    else:
        by_name = {c.order_name: c.name for c in decl.all_columns}
        if order.field not in by_name:
            raise bad_input(f"`orderBy.field` must be one of {', '.join(by_name)}; got {order.field!r}.")
        column_name, descending = by_name[order.field], order.descending
    if (column_name, descending) == decl.order:
        # The default order keeps the cursor kind it always had.
        return column_name, descending, f"analytics.{decl.name}"
    field = decl.column(column_name).order_name
    return column_name, descending, f"analytics.{decl.name}:{field}:{'DESC' if descending else 'ASC'}"


async def section_rows(
    scope: SectionScope,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    order: RowOrder | None = None,
    count: Callable[[], Awaitable[int]] | None = None,
) -> Page:
    """A keyset page of the section's row records in ``order`` (default: the section's).

    Args:
        scope: The section, viewer, product and day.
        first: Page size going forwards.
        after: Cursor to continue after.
        last: Page size going backwards.
        before: Cursor to continue before.
        order: The row order; ties by customer name, subscriptionId, plan.
        count: Counts the rows (default: the section's KPI statement).

    Raises:
        GraphQLError: ``BAD_USER_INPUT`` for a bad page size or order, or a
            cursor of another section or order.
    """
    decl = scope.decl
    column_name, descending, kind = _order_of(decl, order)
    statement, keys, parsers = ordered_rows(decl, scope.viewer, scope.frame, column_name, descending)
    request = page_request(first=first, after=after, last=last, before=before, key_kind=kind, parsers=parsers)

    async def default_count() -> int:
        return (await section_kpis(scope)).row_count

    async def fetch(counting: Callable[[], Awaitable[int]]) -> Page:
        return await keyset_page(scope.session, statement, order=keys, page=request, key_kind=kind, count=counting)

    if request.cursor is not None or scope.version is None:
        return await fetch(count or default_count)
    # A first (or last) page is the same for every partner-wide viewer while
    # the facts are: kept without a count (it would hold this request's
    # session); each request counts with its own.
    key = ("rows", decl.name, scope.frame, column_name, descending, request.size, request.backward)
    page = await kept(scope.version, key, lambda: fetch(_kept_page_count))
    return dataclasses.replace(page, count=count or default_count)


async def _kept_page_count() -> int:  # pragma: no cover - section_rows replaces it before returning
    raise RuntimeError("a kept page counts with its request's own count")


def declared_sections() -> Sequence[SectionDeclaration]:
    """Every section, in the order of ``Analytics``'s fields."""
    return tuple(SECTIONS.values())
