"""Who is calling: the bearer token of a request, and which queries need none.

The token is looked up by :func:`db.tokens.viewer_for_token`.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from graphql.error import GraphQLError

INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _only_introspection(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> bool:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value not in INTROSPECTION_FIELDS:
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _only_introspection(selection.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen:
                continue
            seen.add(name)
            fragment = fragments.get(name)
            if fragment is None or not _only_introspection(fragment.selection_set, fragments, seen):
                return False
    return True


def is_introspection_only(query: str | None) -> bool:
    """Whether every operation of ``query`` selects only ``__schema``/``__type``/``__typename``.

    Such queries reveal the schema, never data, and may run without a token so
    that GraphiQL's explorer works before a token is set.
    """
    if not query:
        return False
    try:
        document: DocumentNode = parse(query, max_tokens=20000)
    except GraphQLError:
        return False
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(_only_introspection(op.selection_set, fragments, set()) for op in operations)
