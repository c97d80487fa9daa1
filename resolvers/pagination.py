"""Cursor pagination shared by every connection: argument checks, keyset cursors, one page runner.

Cursors are opaque (base64 of a small JSON array of the sort key). They hold
the sort values of the row they point at, not an offset, so a cursor stays
valid and a deep page stays as fast as the first while rows come and go.
Every list (customers, partner admins, the audit log, analytics rows) is a
:func:`keyset_page` of its statement and answers a :class:`Page` of records;
the GraphQL connection is built from it in ``schema/``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError
from sqlalchemy import Select, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import session_connection
from db.records import fetch_records, records
from db.sqlfunc import keyset_after
from db.text import fits_int32, refused_character

_URLSAFE = bytes.maketrans(b"+/", b"-_")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


def bad_input(message: str) -> GraphQLError:
    """A client error with ``extensions.code = BAD_USER_INPUT``."""
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


@dataclass(frozen=True)
class PageRequest:
    """Validated ``first/after`` or ``last/before`` arguments.

    Attributes:
        size: Rows wanted on the page.
        backward: True for ``last/before`` (fetch in reverse, then flip).
        cursor: Decoded sort key to start after (or before), if any.
    """

    size: int
    backward: bool
    cursor: list[Any] | None


def page_request(
    *,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
    key_kind: str,
    parsers: Sequence[Callable[[Any], Any]] = (),
) -> PageRequest:
    """Check the paging arguments and decode the cursor.

    ``parsers`` turn the cursor's JSON values back into the sort key's types
    (one per key column, e.g. ``(str, int)``); a cursor that does not fit them
    is refused like any other foreign cursor.

    Raises:
        GraphQLError: ``BAD_USER_INPUT`` naming the argument that is wrong.
    """
    if first is not None and last is not None:
        raise bad_input("Pass either `first` or `last`, not both.")
    if after is not None and before is not None:
        raise bad_input("Pass either `after` or `before`, not both.")
    if last is not None or before is not None:
        if after is not None or first is not None:
            raise bad_input("`last`/`before` page backwards; they cannot be combined with `first`/`after`.")
        size = DEFAULT_PAGE_SIZE if last is None else last
        name, cursor, backward = "last", before, True
    else:
        size = DEFAULT_PAGE_SIZE if first is None else first
        name, cursor, backward = "first", after, False
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_input(f"`{name}` must be between 1 and {MAX_PAGE_SIZE}; got {size}.")
    argument = "before" if backward else "after"
    decoded = decode_cursor(cursor, key_kind, argument) if cursor is not None else None
    if decoded is not None and parsers:
        try:
            if len(decoded) != len(parsers):
                raise ValueError(decoded)
            decoded = [parse(value) for parse, value in zip(parsers, decoded, strict=False)]
        except (ValueError, TypeError):
            raise bad_input(f"`{argument}` is not a cursor of this list and ordering.") from None
    return PageRequest(size=size, backward=backward, cursor=decoded)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        # JSON holds no bytes: a binary sort key (customer.sort_key) travels as base64.
        return base64.b64encode(value).decode("ascii")
    return value


def bytes_value(value: Any) -> bytes:
    """The parser of a binary sort key in a cursor (the inverse of :func:`encode_cursor` for ``bytes``).

    Raises:
        ValueError: ``value`` is not the base64 text of some bytes.
    """
    if not isinstance(value, str):
        raise ValueError(value)
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError(value) from error


def encode_cursor(key_kind: str, values: Sequence[Any]) -> str:
    """An opaque cursor for a row whose sort key is ``values``."""
    # orjson + binascii rather than json + base64: same bytes, a fraction of the
    # time, and a page makes 50 (bench/README.md, "Measured").
    raw = orjson.dumps([key_kind, *[_plain(v) for v in values]])
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).decode().rstrip("=")


def decode_cursor(cursor: str, key_kind: str, argument: str) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` for the same ordering.

    Raises:
        GraphQLError: when the cursor is malformed or belongs to another list
            or ordering.
    """
    payload = None
    if len(cursor) <= MAX_CURSOR_LENGTH:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            payload = None
    if (
        not isinstance(payload, list)
        or not payload
        or payload[0] != key_kind
        or not all(_cursor_value(v) for v in payload[1:])
    ):
        raise bad_input(f"`{argument}` is not a cursor of this list and ordering.")
    return payload[1:]


# Cursors we issue are a few dozen bytes; a sort key holds names of at most 200 characters.
MAX_CURSOR_LENGTH = 2048


def _cursor_value(value: Any) -> bool:
    """Whether ``value`` could be a sort key value we issued (before it reaches SQL as a bound parameter).

    Integers must fit the database's 32-bit columns (10**30 would make
    PostgreSQL fail the statement), floats be finite, strings hold no
    control character; nothing nested.
    """
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return fits_int32(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return refused_character(value) is None
    return False


class Cursors(Sequence[str]):
    """The cursors of a page's rows, each encoded when it is first read.

    A page whose ``edges`` are not selected reads at most the first and the
    last (``pageInfo``), or none: encoding all 50 was ~4 % of the comparison
    page's CPU (bench/README.md, "Fourth round"). Reads like a list of str.
    """

    __slots__ = ("_done", "_encode", "_rows")

    def __init__(self, rows: Sequence[Any], encode: Callable[[Any], str]) -> None:
        self._rows = rows
        self._encode = encode
        self._done: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._rows)))]
        at = index + len(self._rows) if index < 0 else index
        if not 0 <= at < len(self._rows):
            raise IndexError(index)
        cursor = self._done.get(at)
        if cursor is None:
            cursor = self._done[at] = self._encode(self._rows[at])
        return cursor

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self._rows)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Cursors({list(self)!r})"


@dataclass(frozen=True)
class Page:
    """One page of a list: its records in display order with their cursors.

    Attributes:
        rows: The records of the page.
        cursors: ``cursors[i]`` points at ``rows[i]``.
        has_next_page: Rows follow the last one (Relay's ``hasNextPage``).
        has_previous_page: Rows precede the first one.
        count: Counts the list's rows on all pages (run only when asked).
    """

    rows: list[Any]
    cursors: Sequence[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]]


# Page statements built once (keyset_page's ``reuse``): the key, the shape of
# the page (cursor kind, size, direction, whether a cursor is given) → the
# statement with the cursor values as parameters. Bounded, oldest first out.
_PAGE_STATEMENTS: OrderedDict[tuple, Select] = OrderedDict()
_PAGE_STATEMENTS_SIZE = 256
_CURSOR_PARAMETER = "cursor_{}"


def _paged(
    statement: Select, columns: Sequence[Any], fetch_desc: Sequence[bool], size: int, cursor: Sequence[Any] | None
) -> Select:
    if cursor is not None:
        statement = statement.where(keyset_after(columns, cursor, fetch_desc))
    statement = statement.order_by(*[c.desc() if d else c.asc() for c, d in zip(columns, fetch_desc, strict=True)])
    return statement.limit(size + 1)


async def keyset_page(
    session: Any,
    statement: Select | Callable[[], Select],
    *,
    order: Sequence[tuple[Any, bool]],
    page: PageRequest,
    key_kind: str,
    count: Callable[[], Awaitable[int]],
    reuse: Hashable | None = None,
) -> Page:
    """Run ``statement`` as one keyset page in the order of ``order``.

    Args:
        session: The session (or connection) to run on.
        statement: The list's rows, unordered and unlimited (or a function
            building them); it selects every ``order`` column under its own name.
        order: ``(column, descending)`` pairs, the last one unique (an id).
        page: The validated paging arguments.
        key_kind: The cursor kind of this list and ordering.
        count: Counts the list's rows (for ``totalCount``).
        reuse: When given, ``statement`` depends on nothing but this key (no
            client input: e.g. an unfiltered list of one viewer). The page
            statement is then built once per key and page shape, with the
            cursor's values as parameters, and run as a prepared statement
            (:func:`db.records.fetch_records`), skipping SQLAlchemy's
            per-execution work: ~0.25 ms of CPU per statement on PostgreSQL
            (bench/README.md, "Measured").

    Returns:
        The page; for ``last``/``before`` fetched in reverse and flipped back.
    """
    columns = [column for column, _ in order]
    # Backward pages walk the order reversed from the cursor, then flip.
    fetch_desc = [desc != page.backward for _, desc in order]
    if reuse is None:
        built = statement() if callable(statement) else statement
        rows = records(await session.execute(_paged(built, columns, fetch_desc, page.size, page.cursor)))
    else:
        key = (reuse, key_kind, page.size, page.backward, page.cursor is not None)
        reused = _PAGE_STATEMENTS.get(key)
        if reused is None:
            built = statement() if callable(statement) else statement
            parameters = None
            if page.cursor is not None:
                parameters = [
                    bindparam(_CURSOR_PARAMETER.format(i), type_=column.type) for i, column in enumerate(columns)
                ]
            reused = _PAGE_STATEMENTS[key] = _paged(built, columns, fetch_desc, page.size, parameters)
            if len(_PAGE_STATEMENTS) > _PAGE_STATEMENTS_SIZE:
                _PAGE_STATEMENTS.popitem(last=False)
        values = None
        if page.cursor is not None:
            values = {_CURSOR_PARAMETER.format(i): value for i, value in enumerate(page.cursor)}
        connection = await session_connection(session) if isinstance(session, AsyncSession) else session
        rows = await fetch_records(connection, reused, values=values)
    more = len(rows) > page.size
    rows = rows[: page.size]
    if page.backward:
        rows.reverse()
    names = [column.key for column in columns]
    return Page(
        rows=rows,
        cursors=Cursors(rows, lambda row: encode_cursor(key_kind, [getattr(row, name) for name in names])),
        has_next_page=more if not page.backward else page.cursor is not None,
        has_previous_page=more if page.backward else page.cursor is not None,
        count=count,
    )
