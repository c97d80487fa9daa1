"""The database side of a load: bulk reads by key, bulk inserts and updates.

Speed comes from doing everything in bulk, never one statement per record:
the rows a file names are fetched per partner with a handful of queries
(``IN (SELECT unnest(array))`` on PostgreSQL, chunked ``IN`` lists on SQLite);
new rows go in through COPY (PostgreSQL) or one executemany of plain tuples
(SQLite); existing rows are updated only where they differ, so reloading an
unchanged file writes almost nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from asyncpg import exceptions as asyncpg_exceptions
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.schema import CreateTable, DropTable

from db.tables import SNAPSHOT

# Values per IN (...) list on SQLite: well below its 32,766 bound
# parameters, and large enough that a 10,000-customer file needs only a
# couple of queries per table.
_IN_CHUNK = 5000

SNAPSHOT_COLUMNS = ("line_id", "date", "assigned", "used", "used90")


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Per-connection scratch table for merging snapshots of existing lines.
_SCRATCH_USAGE = Table(
    "partnerhub_scratch_usage",
    MetaData(),
    Column("line_id", Integer, nullable=False),
    Column("date", Date, nullable=False),
    Column("assigned", Integer, nullable=False),
    Column("used", Integer, nullable=False),
    Column("used90", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


# Same text on SQLite and PostgreSQL; "WHERE true" resolves SQLite's
# INSERT ... SELECT ... ON CONFLICT parsing ambiguity.
_MERGE_USAGE = text(
    "INSERT INTO usage_snapshot (line_id, date, assigned, used, used90)"
    " SELECT line_id, date, assigned, used, used90 FROM partnerhub_scratch_usage WHERE true"
    " ON CONFLICT (line_id, date) DO UPDATE SET"
    " assigned = excluded.assigned, used = excluded.used, used90 = excluded.used90"
    " WHERE usage_snapshot.assigned <> excluded.assigned OR usage_snapshot.used <> excluded.used"
    " OR usage_snapshot.used90 <> excluded.used90"
)


class Bulk:
    """Plain multi-row reads, inserts and updates, the fastest way each database offers.

    PostgreSQL gets COPY (ids drawn from the table's sequence up front when
    the caller needs them); executemany there pays a server round of
    parse/bind/execute per row. SQLite runs in-process, so one executemany
    of plain tuples is already fast; it only needs values in the forms
    SQLAlchemy would store (ISO dates, 0/1, floats for NUMERIC).
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.iso_dates: dict[dt.date, str] = {}
        # Rows written per table, for refresh_statistics().
        self.inserted: dict[str, int] = defaultdict(int)

    async def fetch_in(self, query: Select[Any], column: Any, values: Iterable[Any]) -> list[Row[Any]]:
        """Rows of ``query`` whose ``column`` is one of ``values``.

        PostgreSQL takes the values as one array parameter, so one prepared
        statement serves any count. It is written as ``IN (SELECT unnest(...))``
        rather than ``= ANY(...)``: the semi-join probes the unique index once
        per value whatever the table statistics say, whereas ``= ANY`` with
        missing statistics (right after a bulk load, or with autovacuum off)
        can filter every row of the partner against the whole array. SQLite
        gets chunked ``IN (...)`` lists below its bound-parameter limit.
        """
        distinct = sorted(set(values))
        if not distinct:
            return []
        if self.postgres:
            array = bindparam("values", distinct, type_=ARRAY(column.type))
            keys = select(func.unnest(array)).scalar_subquery()
            return list((await self.conn.execute(query.where(column.in_(keys)))).all())
        rows: list[Row[Any]] = []
        for chunk in _chunks(distinct):
            rows.extend((await self.conn.execute(query.where(column.in_(chunk)))).all())
        return rows

    async def execute_many(self, statement: Any, rows: list[dict[str, Any]]) -> list[Row[Any]]:
        if not rows:
            return []
        result = await self.conn.execute(statement, rows)
        return list(result.all()) if result.returns_rows else []

    async def update_many(self, table: Table, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
        """UPDATE table SET columns WHERE id = ... as one executemany.

        Row dicts use ``_id`` and ``_<column>`` keys: SQLAlchemy reserves the
        plain column names for its own SET parameters.
        """
        if rows:
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({name: bindparam(f"_{name}") for name in columns})
            )
            await self.conn.execute(statement, rows)

    @staticmethod
    def _sqlite_converters(table: Table, columns: Sequence[str], iso_dates: dict[dt.date, str]) -> list[Any]:
        def iso(day: dt.date) -> str:
            # Snapshots repeat a few hundred dates a million times.
            text = iso_dates.get(day)
            if text is None:
                text = iso_dates[day] = day.isoformat()
            return text

        converters: list[Any] = []
        for name in columns:
            column_type = table.c[name].type
            if isinstance(column_type, Date):
                converters.append(iso)
            elif isinstance(column_type, Boolean):
                converters.append(int)
            elif isinstance(column_type, Numeric):
                converters.append(float)
            else:
                converters.append(None)
        return converters

    async def insert(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """INSERT ``rows`` (tuples in ``columns`` order) into ``table``."""
        if not rows:
            return
        self.inserted[table.name] += len(rows)
        if self.postgres:
            raw = await self.conn.get_raw_connection()
            driver: Any = raw.driver_connection
            try:
                await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
            except asyncpg_exceptions.IntegrityConstraintViolationError as exc:
                # COPY bypasses SQLAlchemy, so wrap the driver's error the way
                # SQLAlchemy would for load_document's handler.
                raise IntegrityError(f"COPY {table.name}", None, exc) from exc
            return
        converters = self._sqlite_converters(table, columns, self.iso_dates)
        slots = [i for i, f in enumerate(converters) if f is not None]
        if slots:
            converted = []
            for row in rows:
                values = list(row)
                for i in slots:
                    if values[i] is not None:
                        values[i] = converters[i](values[i])
                converted.append(tuple(values))
            params: list[Any] = converted
        else:
            params = rows
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        await self.conn.exec_driver_sql(sql, params)

    async def upsert_snapshots(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert or update snapshots of lines that were already stored.

        The rows go to a scratch table first and are merged by one
        INSERT ... ON CONFLICT statement that skips unchanged rows: no
        snapshot has to travel back to Python, and a reload writes nothing.
        """
        if not rows:
            return
        await self.conn.execute(CreateTable(_SCRATCH_USAGE, if_not_exists=True))
        await self.conn.execute(delete(_SCRATCH_USAGE))
        await self.insert(_SCRATCH_USAGE, SNAPSHOT_COLUMNS, rows)
        self.inserted[SNAPSHOT.name] += len(rows)
        await self.conn.execute(_MERGE_USAGE)
        await self.conn.execute(DropTable(_SCRATCH_USAGE))

    async def insert_returning_ids(
        self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], key: Sequence[str]
    ) -> list[int]:
        """INSERT ``rows`` into ``table`` and return their new ids in row order.

        ``key`` names columns unique among ``rows``; SQLite's RETURNING order
        is not guaranteed (and asking SQLAlchemy to sort it falls back to one
        statement per row), so ids are matched back by that key.
        """
        if not rows:
            return []
        if self.postgres:
            result = await self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(rows)},
            )
            ids = [row[0] for row in result]
            await self.insert(table, ("id", *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)])
            return ids
        self.inserted[table.name] += len(rows)
        result = await self.conn.execute(
            insert(table).returning(table.c.id, *(table.c[name] for name in key)),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )
        by_key = {tuple(row[1:]): row[0] for row in result}
        slots = [list(columns).index(name) for name in key]
        return [by_key[tuple(row[i] for i in slots)] for row in rows]


async def refresh_statistics(session: AsyncSession, inserted: dict[str, int]) -> None:
    """ANALYZE tables a load grew a lot, on PostgreSQL.

    Without statistics the planner takes a freshly filled table for empty
    and picks plans that scan it whole (autovacuum may be off, and it lags
    behind bulk loads anyway). Once analysed, PostgreSQL scales its row
    estimates with the table's size, so later growth needs no new ANALYZE:
    a table is analysed when it never was, or when this load added more
    than a fifth of the rows it had at its last ANALYZE.
    """
    names = sorted(name for name, count in inserted.items() if count >= 1000)
    if not names:
        return
    result = await session.execute(
        text(
            "SELECT relname, reltuples FROM pg_class"
            " WHERE relname = ANY(:names) AND relkind = 'r' AND pg_table_is_visible(oid)"
        ),
        {"names": names},
    )
    stale = [name for name, tuples in result.all() if tuples < 0 or inserted[name] > 0.2 * tuples]
    try:
        for name in sorted(stale):
            await session.execute(text(f'ANALYZE "{name}"'))
        await session.commit()
    except SQLAlchemyError:
        # Statistics only speed queries up; the load itself is committed.
        await session.rollback()
