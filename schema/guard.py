"""Hostile strings refused before execution: no argument value may hold a control character.

PostgreSQL cannot store or even compare a NUL character in text, so a NUL in
a search, a name, an id or a cursor used to reach the database and come back
as INTERNAL_SERVER_ERROR; SQLite stored it, and the export then failed to
load into PostgreSQL. The rule itself is db/text.py's ``refused_character``
(control characters and lone surrogates), the one the import applies.
Checking every argument of the request here, literals and variables alike,
refuses such a request whole, with the argument's path, before any SQL runs
(web/endpoint.py calls :func:`hostile_string_error` before the token lookup).

Enum, Int, Float and Boolean values are never strings, so only String, ID and
the string-based scalars (Date, Decimal) can be caught: all of them are
refused, since none of them may hold a control character either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

from db.text import refused_character


@dataclass
class _Part:
    """What one operation or fragment holds, found once per document.

    Attributes:
        literal: The first literal string holding a refused character: ``(path, U+XXXX)``.
        variables: ``(path, variable name)`` of every variable used in an argument value.
    """

    literal: tuple[str, str] | None = None
    variables: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Sites:
    """A document's argument values, found once per document.

    Attributes:
        operations: Per operation name (``None`` when anonymous) its own part.
        defaults: Per operation name, the default value of each variable that has one.
        fragments: The named fragments' parts, shared by every operation.
    """

    operations: dict[str | None, _Part] = field(default_factory=dict)
    defaults: dict[str | None, dict[str, ValueNode]] = field(default_factory=dict)
    fragments: list[_Part] = field(default_factory=list)


def _value_part(part: _Part, path: str, value: ValueNode) -> None:
    """Add one literal argument value to ``part``: its first refused string, and the variables it uses."""
    stack: list[tuple[str, ValueNode]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, VariableNode):
            part.variables.append((where, item.name.value))
        elif isinstance(item, StringValueNode):
            bad = None if item.value.isprintable() else refused_character(item.value)
            if bad is not None and part.literal is None:
                part.literal = (where, bad)
        elif isinstance(item, ObjectValueNode):
            stack.extend((f"{where}.{entry.name.value}", entry.value) for entry in reversed(item.fields))
        elif isinstance(item, ListValueNode):
            stack.extend((f"{where}[{i}]", entry) for i, entry in reversed(list(enumerate(item.values))))


def _part(prefix: str, selection_set: SelectionSetNode | None) -> _Part:
    """The arguments under ``selection_set``, with their paths of response keys.

    Iterative, and fragment spreads are not followed (each named fragment is
    walked once on its own): the guard runs before validation, so a document
    may nest deeply or spread fragments in cycles.
    """
    part = _Part()
    stack: list[tuple[str, SelectionSetNode | None]] = [(prefix, selection_set)]
    while stack:
        path, current = stack.pop()
        if current is None:
            continue
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                field_path = f"{path}.{key}" if path else key
                for argument in selection.arguments or ():
                    _value_part(part, f"{field_path}.{argument.name.value}", argument.value)
                stack.append((field_path, selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((path, selection.selection_set))
    return part


def _sites_of(document: DocumentNode) -> _Sites:
    sites = _Sites()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name.value if definition.name else None
            sites.operations[name] = _part("", definition.selection_set)
            sites.defaults[name] = {
                variable.variable.name.value: variable.default_value
                for variable in definition.variable_definitions or ()
                if variable.default_value is not None
            }
        elif isinstance(definition, FragmentDefinitionNode):
            sites.fragments.append(_part(f"fragment {definition.name.value}", definition.selection_set))
    return sites


# Sites per document. ParserCache and schema/cost.py hand out the same document
# object for the same query text, so the walk is done once per query text;
# keyed by id(), the entry keeps the document alive so its id is not reused.
_SITES: OrderedDict[int, tuple[DocumentNode, _Sites]] = OrderedDict()
_SITES_SIZE = 512


def _cached_sites(document: DocumentNode) -> _Sites:
    entry = _SITES.get(id(document))
    if entry is not None and entry[0] is document:
        _SITES.move_to_end(id(document))
        return entry[1]
    sites = _sites_of(document)
    _SITES[id(document)] = (document, sites)
    if len(_SITES) > _SITES_SIZE:
        _SITES.popitem(last=False)
    return sites


def _error(path: str, bad: str, variable: str | None) -> GraphQLError:
    source = f" (from variable `${variable}`)" if variable else ""
    return GraphQLError(
        f"`{path}`{source} must not contain control characters; found {bad}.",
        extensions={"code": "BAD_USER_INPUT", "argument": path},
    )


def _refused_in_json(path: str, value: Any) -> tuple[str, str] | None:
    """``(path, U+XXXX)`` of the first refused character in a variable's JSON value, walked without recursion."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isprintable():
                bad = refused_character(item)
                if bad is not None:
                    return where, bad
        elif kind is dict:
            stack.extend((f"{where}.{key}", entry) for key, entry in reversed(list(item.items())))
        elif kind is list:
            stack.extend((f"{where}[{i}]", entry) for i, entry in reversed(list(enumerate(item))))
    return None


def hostile_string_error(
    document: DocumentNode | None, variables: Mapping[str, Any] | None, operation_name: str | None = None
) -> GraphQLError | None:
    """A ``BAD_USER_INPUT`` error for the first argument value holding a refused character, else ``None``.

    Args:
        document: The parsed request (``None`` when it did not parse: execution reports that).
        variables: The request's variables, as sent (JSON values).
        operation_name: The operation to run; every operation when ``None``.

    Returns:
        An error whose message names the argument's path (response keys, then
        input fields and list indexes, e.g. ``customers.filter.search``) and
        the character (``U+0000``); ``extensions.argument`` holds the path.
    """
    if document is None:
        return None
    sites = _cached_sites(document)
    values = variables if isinstance(variables, Mapping) else {}
    names = [operation_name] if operation_name in sites.operations else list(sites.operations)
    for name in names:
        defaults = sites.defaults.get(name, {})
        for part in (sites.operations[name], *sites.fragments):
            if part.literal is not None:
                return _error(*part.literal, None)
            for path, variable in part.variables:
                if variable in values:
                    found = _refused_in_json(path, values[variable])
                elif variable in defaults:
                    # The default applies when the request leaves the variable out.
                    default = _Part()
                    _value_part(default, path, defaults[variable])
                    found = default.literal
                else:
                    continue
                if found is not None:
                    return _error(*found, variable)
    return None
