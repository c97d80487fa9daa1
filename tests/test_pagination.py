"""Keyset conditions (resolvers/pagination.py): exactly the rows after the cursor, and index-usable."""

from __future__ import annotations

import base64
import itertools
import json

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


def _cursor(payload: str) -> str:
    """A cursor holding the JSON text ``payload`` (what a client could forge)."""
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values",
    [
        "1000000000000000000000000000000, 1",  # past int32: PostgreSQL failed the statement (a 500 before)
        "2147483648, 1",
        "1e999, 1",  # infinity
        '"a\\u0000b", 1',
        '["nested"], 1',
        '{"k": 1}, 1',
    ],
)
async def test_a_forged_cursor_is_refused_before_sql(api, world, values):
    # A real cursor's first element names its list and ordering; keep it, forge the rest.
    page = await api("{ customers(first: 1) { edges { cursor } } }", token="t-ana")
    real = page["data"]["customers"]["edges"][0]["cursor"]
    kind = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))[0]
    query = "query($c: String) { customers(first: 1, after: $c) { totalCount } }"
    body = await api(query, {"c": _cursor(f'["{kind}", {values}]')}, token="t-ana")
    assert body["data"] == {"customers": None}
    assert body["errors"][0]["message"] == "`after` is not a cursor of this list and ordering."


async def test_an_overlong_cursor_is_refused(api, world):
    body = await api(
        "query($c: String) { customers(first: 1, after: $c) { totalCount } }", {"c": "A" * 5000}, token="t-ana"
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
