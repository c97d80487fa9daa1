"""Cursor pagination shared by every connection: argument checks and keyset cursors.

Cursors are opaque (base64 of a small JSON array of the sort key). They hold
the sort values of the row they point at, not an offset, so a cursor stays
valid and a deep page stays as fast as the first while rows come and go.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLError
from sqlalchemy import ColumnElement, and_, or_

if TYPE_CHECKING:  # pragma: no cover
    from schema.types import PageInfo

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


def page_info(page: PageRequest, more: bool, cursors: list[str]) -> PageInfo:
    """Relay ``PageInfo`` of a keyset page: ``more`` says rows lie beyond it in its direction."""
    from schema.types import PageInfo

    return PageInfo(
        has_next_page=more if not page.backward else page.cursor is not None,
        has_previous_page=more if page.backward else page.cursor is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def encode_cursor(key_kind: str, values: Sequence[Any]) -> str:
    """An opaque cursor for a row whose sort key is ``values``."""
    # orjson + binascii: ~0.4 µs instead of ~3 µs with json + base64 (a page makes 50).
    raw = orjson.dumps([key_kind, *[_plain(v) for v in values]])
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).decode().rstrip("=")


def decode_cursor(cursor: str, key_kind: str, argument: str) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` for the same ordering.

    Raises:
        GraphQLError: when the cursor is malformed or belongs to another list
            or ordering.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, list) or not payload or payload[0] != key_kind:
        raise bad_input(f"`{argument}` is not a cursor of this list and ordering.")
    return payload[1:]


def keyset_after(
    columns: Sequence[ColumnElement], values: Sequence[Any], descending: Sequence[bool]
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns``.

    Written as an OR of prefixes rather than a row-value comparison so that a
    mix of ascending and descending columns works on both databases. The
    leading ``first column >= value`` (``<=`` descending) is implied by the OR
    but, unlike it, is a range an index can start at: without it PostgreSQL
    walked the index from the partner's first customer and filtered (page 101
    of the EXPIRING_SOON list at 100,000 customers skipped 35,000 rows, 117 ms).
    """
    clauses = []
    for i, (column, value, desc) in enumerate(zip(columns, values, descending, strict=False)):
        equal_prefix = [c == v for c, v in zip(columns[:i], values[:i], strict=False)]
        step = column < value if desc else column > value
        clauses.append(and_(*equal_prefix, step))
    start = columns[0] <= values[0] if descending[0] else columns[0] >= values[0]
    return and_(start, or_(*clauses))
