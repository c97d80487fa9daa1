"""Result rows as named tuples: the plain records every layer above ``db`` passes around.

On PostgreSQL the loaders' statements also skip SQLAlchemy's execution
machinery (:func:`fetch_records`): each statement, built once by the loaders,
is compiled once to SQL text and run as a prepared statement on the request's
asyncpg connection, its rows going straight into named tuples.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, namedtuple
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from db.engine import driver_adapter


@functools.lru_cache(maxsize=128)
def _record_type(keys: tuple[str, ...]) -> Any:
    return namedtuple("Record", keys, rename=True)


def records(result: Any) -> list[Any]:
    """The rows of a SQLAlchemy result as named tuples.

    Reading a column by name is an order of magnitude cheaper from a named
    tuple than from a SQLAlchemy ``Row``, and a list page reads thousands
    (bench/README.md, "Measured").
    """
    make = _record_type(tuple(result.keys()))
    return [make(*row) for row in result.all()]


KEYS = "keys"
"""The one parameter a prepared statement takes per execution (a loader batch's keys)."""


class _Prepared:
    """One statement compiled for asyncpg: its text, its fixed parameter values, its record type."""

    __slots__ = ("make", "params", "places", "processors", "result_types", "sql", "statement")

    def __init__(self, statement: Any, dialect: Any, values: dict[str, Any]) -> None:
        # Kept alive so that its id stays this entry's.
        self.statement = statement
        # Rendering the post-compile parameters (expanding IN lists of fixed
        # values) needs every value: the keys get a placeholder, replaced at
        # each execution (one array parameter on PostgreSQL, so the text does
        # not depend on them), as do the other values given per execution.
        compiled = statement.compile(dialect=dialect)
        given = {KEYS: [], **values} if KEYS in compiled.binds else dict(values)
        expanded = compiled.construct_expanded_state(given or None)
        self.sql: str = expanded.statement
        names = list(expanded.positiontup or ())
        fixed = expanded.parameters
        processors = expanded.processors
        # Every place of each value given per execution (a statement may use one
        # in several places: the keys in subqueries, a cursor value in a keyset
        # condition), with its bind processor.
        variable = {KEYS, *values}
        self.places: dict[str, tuple[tuple[int, ...], Any]] = {
            name: (tuple(i for i, n in enumerate(names) if n == name), processors.get(name))
            for name in variable
            if name in names
        }
        self.params = [
            None if name in variable else (processors[name](fixed[name]) if name in processors else fixed[name])
            for name in names
        ]
        self.result_types = [column[3] for column in compiled._result_columns]
        self.make = _record_type(tuple(column[0] for column in compiled._result_columns))
        # Result processors need the column types PostgreSQL reports: found at the first
        # execution, kept as ``(column index, processor)`` for the columns that have one.
        self.processors: list[tuple[int, Any]] | None = None


_PREPARED: OrderedDict[int, _Prepared] = OrderedDict()
_NEW = tuple.__new__
_PREPARED_SIZE = 512


def _prepared(statement: Any, dialect: Any, values: dict[str, Any]) -> _Prepared:
    entry = _PREPARED.get(id(statement))
    if entry is None or entry.statement is not statement:
        entry = _PREPARED[id(statement)] = _Prepared(statement, dialect, values)
        if len(_PREPARED) > _PREPARED_SIZE:
            _PREPARED.popitem(last=False)
    return entry


async def fetch_records(
    connection: AsyncConnection, statement: Any, keys: list[Any] | None = None, values: dict[str, Any] | None = None
) -> list[Any]:
    """The rows of ``statement`` as named tuples; ``keys`` fill its ``:keys`` parameter, ``values`` others by name.

    The same rows as ``records(await connection.execute(statement, {"keys": keys, **values}))``
    (tests/test_prepared.py compares them). On PostgreSQL, for a statement
    object that is reused (the loaders build each once per day and viewer,
    the customer list its unfiltered page once per viewer and page shape):
    compiled once, with SQLAlchemy's bind and result processors applied as
    SQLAlchemy would; run through the prepared statement cache of the
    connection's SQLAlchemy adapter (the same server-side prepared statement
    SQLAlchemy would use), in the connection's transaction, begun as
    SQLAlchemy begins it (none in autocommit); errors translated as
    SQLAlchemy's adapter translates them, and a connection found closed
    invalidated. Statement listeners (``before_cursor_execute``: the
    per-request count, tests) are told of it. SQLite goes through SQLAlchemy.
    A parameter given in ``values`` must be given at every execution of the
    statement (its value of the first one is not kept).
    """
    values = values or {}
    if connection.dialect.name != "postgresql":
        given = {KEYS: keys, **values} if keys is not None else values
        return records(await connection.execute(statement, given or None))
    dialect: Any = connection.dialect
    prepared = _prepared(statement, dialect, values)
    params = prepared.params
    places = prepared.places
    if places:
        params = list(params)
        for name, (at, process) in places.items():
            value = keys if name == KEYS else values[name]
            if process is not None:
                value = process(value)
            for i in at:
                params[i] = value
    sync = connection.sync_connection
    assert sync is not None  # an open AsyncConnection has its sync side
    sync.dispatch.before_cursor_execute(sync, None, prepared.sql, params, None, False)
    adapter = await driver_adapter(connection)
    try:
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()
            try:
                ready, attributes = await adapter._prepare(prepared.sql, dialect._invalidate_schema_cache_asof)
                rows = await ready.fetch(*params)
            except Exception as error:  # noqa: BLE001 - re-raised translated, as SQLAlchemy's cursor does
                adapter._handle_exception(error)
    except Exception:
        if adapter._connection.is_closed():
            await connection.invalidate()
        raise
    processors = prepared.processors
    if processors is None:
        processors = prepared.processors = [
            (i, process)
            for i, type_, attribute in zip(range(len(attributes)), prepared.result_types, attributes, strict=True)
            if (process := type_._cached_result_processor(dialect, attribute.type.oid)) is not None
        ]
    # The record built as its named tuple's ``__new__`` builds it (``tuple.__new__``
    # of the values), without that Python-level ``__new__`` per row; only the
    # columns with a result processor are touched.
    make = prepared.make
    if not processors:
        return [_NEW(make, row) for row in rows]
    built = []
    for row in rows:
        cells = list(row)
        for i, process in processors:
            cells[i] = process(cells[i])
        built.append(_NEW(make, cells))
    return built
