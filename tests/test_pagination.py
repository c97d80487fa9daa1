"""Keyset conditions (resolvers/pagination.py): exactly the rows after the cursor, and index-usable."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.dialects import postgresql

from resolvers.pagination import keyset_after

META = MetaData()
T = Table("t", META, Column("a", String), Column("b", Integer))
ROWS = [(a, b) for a in ("x", "y", "z") for b in (1, 2, 3)]


@pytest.mark.parametrize("descending", list(itertools.product([False, True], repeat=2)))
def test_keyset_after_selects_exactly_the_rows_after_the_cursor(descending):
    """Every cursor over a 3 × 3 grid, every mix of directions, against Python's own ordering."""
    engine = create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(T.insert(), [{"a": a, "b": b} for a, b in ROWS])

    def key(row):  # the sort key in the given directions
        a, b = row
        return (tuple(-ord(c) for c in a) if descending[0] else a, -b if descending[1] else b)

    with engine.connect() as conn:
        for cursor in ROWS:
            got = {
                tuple(r)
                for r in conn.execute(
                    select(T.c.a, T.c.b).where(keyset_after([T.c.a, T.c.b], list(cursor), list(descending)))
                )
            }
            expected = {r for r in ROWS if key(r) > key(cursor)}
            assert got == expected, (cursor, descending)


def test_keyset_after_starts_with_a_range_on_the_first_column():
    """`a >= x AND (a > x OR a = x AND b > y)`: the leading range lets an index start at the cursor."""
    sql = str(
        keyset_after([T.c.a, T.c.b], ["m", 7], [False, False]).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert sql.startswith("t.a >= 'm' AND (t.a > 'm' OR t.a = 'm' AND t.b > 7)"), sql
    sql = str(
        keyset_after([T.c.a, T.c.b], ["m", 7], [True, False]).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert sql.startswith("t.a <= 'm' AND (t.a < 'm'"), sql
