"""Relay cursor connections, declared once for every list of the API.

A resolver answers a :class:`resolvers.pagination.Page` of records;
:func:`connection` turns it into ``Connection[T]`` with the item type's
builder. Strawberry names each specialisation after its item type
(``CustomerConnection``, ``CustomerEdge``, ``AuditEventConnection``, …).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from resolvers.pagination import Page

T = TypeVar("T")


def page_info_start_cursor(root: Any) -> str | None:
    """``PageInfo.startCursor``: the first row's cursor, encoded only when selected."""
    cursors = root.cursors
    return cursors[0] if cursors else None


def page_info_end_cursor(root: Any) -> str | None:
    """``PageInfo.endCursor``: the last row's cursor, encoded only when selected."""
    cursors = root.cursors
    return cursors[-1] if cursors else None


@strawberry.type(description="Paging state of a connection (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow the last edge.")
    has_previous_page: bool = strawberry.field(description="Whether items precede the first edge.")
    # Resolvers without arguments that only read the page's cursors (execution
    # plans read them like attributes): a page that does not select them
    # encodes no cursor for them (bench/README.md, fifth round).
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first edge; null when empty.", resolver=page_info_start_cursor
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; null when empty.", resolver=page_info_end_cursor
    )
    cursors: strawberry.Private[Sequence[str]]


@strawberry.type(description="An edge of a connection: one item with its cursor (Relay).")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor of this item, for `after`/`before`.")
    node: T = strawberry.field(description="The item.")


def connection_edges(root: Any) -> list[Edge[Any]]:
    """The edges of a connection (``Connection.edges``): its nodes with their cursors."""
    return [Edge(cursor=c, node=n) for c, n in zip(root.cursors, root.nodes, strict=True)]


@strawberry.type(description="A page of a list (Relay cursor connection); the field that answers it says its order.")
class Connection(Generic[T]):
    # Built when selected (a resolver without arguments, which execution plans
    # read like an attribute): most pages ask for ``nodes`` only, and their
    # cursors are then never encoded.
    edges: list[Edge[T]] = strawberry.field(
        description="The items of this page with their cursors.", resolver=connection_edges
    )
    nodes: list[T] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]
    cursors: strawberry.Private[Sequence[str]]

    @strawberry.field(
        description="Number of items in the list on all pages: those matching its filters that the caller may see."
    )
    async def total_count(self) -> int:
        return await self.count()


def connection(page: Page, build: Callable[[Any], Any]) -> Connection[Any]:
    """The connection of ``page``, each record turned into its item with ``build``."""
    nodes = [build(row) for row in page.rows]
    cursors = page.cursors
    return Connection(
        nodes=nodes,
        page_info=PageInfo(has_next_page=page.has_next_page, has_previous_page=page.has_previous_page, cursors=cursors),
        count=page.count,
        cursors=cursors,
    )
