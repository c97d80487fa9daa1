"""Page-size bounds checked before execution, for literals and variables alike.

Depth, aliases and tokens are graphql-core validation rules. Page sizes may
come from variables, which validation rules cannot see, so this extension
checks them right after validation and refuses the whole operation before any
resolver runs. Resolvers check again (cheaply) for direct schema execution.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import ArgumentNode, GraphQLError, IntValueNode, VariableNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from resolvers.pagination import MAX_PAGE_SIZE

ARGUMENT_BOUNDS: dict[str, tuple[int, int]] = {
    "first": (1, MAX_PAGE_SIZE),
    "last": (1, MAX_PAGE_SIZE),
    "weeks": (1, 52),
}


class _ArgumentCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[ArgumentNode] = []

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        if node.name.value in ARGUMENT_BOUNDS:
            self.found.append(node)


# Bounded arguments per document. ParserCache hands out the same document
# object for the same query text, so walking it once per document (not once
# per request; its cost is in bench/README.md, "Measured") is enough. Keyed by id(); the entry
# keeps the document alive so the id cannot be reused while cached.
_FOUND: OrderedDict[int, tuple[Any, list[ArgumentNode]]] = OrderedDict()
_FOUND_SIZE = 512


def _bounded_arguments(document) -> list[ArgumentNode]:
    entry = _FOUND.get(id(document))
    if entry is not None and entry[0] is document:
        _FOUND.move_to_end(id(document))
        return entry[1]
    collector = _ArgumentCollector()
    visit(document, collector)
    _FOUND[id(document)] = (document, collector.found)
    if len(_FOUND) > _FOUND_SIZE:
        _FOUND.popitem(last=False)
    return collector.found


def page_size_errors(document, variables: dict[str, Any] | None) -> list[GraphQLError]:
    """Errors for every bounded argument of ``document`` whose value is out of range."""
    errors = []
    for node in _bounded_arguments(document):
        if isinstance(node.value, IntValueNode):
            value: Any = int(node.value.value)
        elif isinstance(node.value, VariableNode):
            value = (variables or {}).get(node.value.name.value)
        else:
            continue
        low, high = ARGUMENT_BOUNDS[node.name.value]
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            errors.append(
                GraphQLError(
                    f"`{node.name.value}` must be between {low} and {high}; got {value}.",
                    nodes=[node],
                    extensions={"code": "BAD_USER_INPUT"},
                )
            )
    return errors


class PageBounds(SchemaExtension):
    """Refuse an operation whose page sizes are out of bounds, before it runs.

    Must come after ``ValidationCache`` in the extension list: it runs once
    validation has passed.
    """

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors == [] and ctx.graphql_document is not None:
            errors = page_size_errors(ctx.graphql_document, ctx.variables)
            if errors:
                ctx.pre_execution_errors = errors
        yield
