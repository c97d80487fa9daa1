"""Small SQL helpers: functions whose spelling differs between SQLite and PostgreSQL, keyset conditions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class DaysBetween(FunctionElement):
    """``later - earlier`` in whole days for two DATE values."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(DaysBetween)
def _days_between_default(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(DaysBetween, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    # julianday() of an ISO date is an integer-valued real; CAST keeps Int semantics.
    return f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) AS INTEGER)"


def keyset_after(
    columns: Sequence[ColumnElement], values: Sequence[Any], descending: Sequence[bool]
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns``.

    Written as an OR of prefixes rather than a row-value comparison so that a
    mix of ascending and descending columns works on both databases. The
    leading ``first column >= value`` (``<=`` descending) is implied by the OR
    but, unlike it, is a range an index can start at: without it PostgreSQL
    walked the index from the partner's first customer and filtered every row
    before the cursor (bench/README.md, "Measured").
    """
    clauses = []
    for i, (column, value, desc) in enumerate(zip(columns, values, descending, strict=False)):
        equal_prefix = [c == v for c, v in zip(columns[:i], values[:i], strict=False)]
        step = column < value if desc else column > value
        clauses.append(and_(*equal_prefix, step))
    start = columns[0] <= values[0] if descending[0] else columns[0] >= values[0]
    return and_(start, or_(*clauses))
