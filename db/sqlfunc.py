"""Small SQL functions whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Integer
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
