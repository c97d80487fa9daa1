"""How the fast executor (:mod:`schema.execution`) reads and completes one field.

A field's *plan* says how its value is read (strawberry's attribute getter,
or the attribute a prefetched relation is stored under) or that graphql-core
must resolve it (:data:`NOT_FAST`); a type's *completer* completes a value of
that type where the result is provably what graphql-core would produce, and
calls graphql-core's ``complete_value`` for everything else. Both are built
once per schema object and kept for the process.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import operator
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from graphql.pyutils import Path, Undefined
from graphql.type.scalars import serialize_boolean, serialize_float, serialize_id, serialize_int, serialize_string
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from schema.relations import RELATION

__all__ = [
    "INCLUDE_SKIP",
    "NOT_FAST",
    "PLAIN_KINDS",
    "PREFETCHED_PREFIX",
    "SLOW",
    "completer_for",
    "enum_names",
    "field_plan",
    "leaf_serializer",
    "objects_in",
    "plain_selection",
    "prefetch",
    "relation_of",
]

# A relation prefetched for a page is stored on its object under this prefix
# plus the field's Python name (e.g. ``_prefetched_subscriptions``).
PREFETCHED_PREFIX = "_prefetched_"

INCLUDE_SKIP = frozenset({"include", "skip"})
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1
NOT_FAST = object()  # plan marker: take graphql-core's path for this field
SLOW = object()  # a leaf value the inline check does not handle: take the full fast path
# ``f(executor, field_details_list, path, result, finfo)``: see "type-specialised completers" below.
Completer = Callable[[Any, Any, Path, Any, Any], Any]

# Per field definition (schema objects live as long as the process): how to
# read its value, or NOT_FAST. Keyed by id(); the value keeps the field alive.
_FIELD_PLANS: dict[int, tuple[Any, Any]] = {}
# Per output type: its specialised completer. Keyed by id(); keeps the type alive.
_COMPLETERS: dict[int, tuple[Any, Completer]] = {}


def _is_strawberry_is_type_of(fn: Any) -> bool:
    """Whether ``fn`` is the ``is_type_of`` strawberry generates (it ignores ``info``)."""
    return getattr(fn, "__module__", None) == "strawberry.schema.schema_converter" and getattr(
        fn, "__qualname__", ""
    ).endswith("_get_is_type_of.<locals>.is_type_of")


def _basic_getter(field_def: Any) -> Any:
    """The attribute getter of a strawberry basic field, or ``NOT_FAST``.

    Strawberry resolves a basic field with ``_get_basic_result`` (flagged
    ``_is_default``), which calls ``field.get_result(source, None, [], {})``,
    i.e. ``field.default_resolver(source, field.python_name)``. We call the
    same ``default_resolver`` with the same name, minus the two wrappers.
    """
    resolve = field_def.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):
        relation = relation_of(field_def)
        if relation is None:
            return NOT_FAST
        # A prefetched relation reads like an attribute; where it was not
        # prefetched the getter raises and graphql-core runs the resolver.
        return operator.attrgetter(relation[0])
    sfield: StrawberryField | None = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if sfield is None or getattr(sfield, "base_resolver", None) is not None or not sfield.is_basic_field:
        return NOT_FAST
    default_resolver = getattr(sfield, "default_resolver", None)
    name = sfield.python_name
    try:
        closure = inspect.getclosurevars(resolve).nonlocals
    except (TypeError, ValueError):
        return NOT_FAST
    if closure.get("field") is not sfield or field_def.args:
        return NOT_FAST
    if default_resolver is getattr and isinstance(name, str) and name.isidentifier():
        return operator.attrgetter(name)
    if default_resolver is None:
        return NOT_FAST
    return lambda source: default_resolver(source, name)


def relation_of(field_def: Any) -> tuple[str, Any] | None:
    """``(attribute, relation)`` of a field declared as a :class:`schema.relations.Relation`, else ``None``.

    Only a plain relation qualifies: no arguments, no permission classes or
    field extensions (those must run per object).
    """
    sfield = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if sfield is None or field_def.args or sfield.extensions or sfield.permission_classes:
        return None
    relation = (getattr(sfield, "metadata", None) or {}).get(RELATION)
    if relation is None or not isinstance(sfield.python_name, str):
        return None
    return (PREFETCHED_PREFIX + sfield.python_name, relation)


def _per_object(cache: dict[int, tuple[Any, Any]], obj: Any, build: Callable[[Any], Any]) -> Any:
    """``build(obj)``, once per schema object: keyed by ``id(obj)``, the entry keeps ``obj`` alive."""
    entry = cache.get(id(obj))
    if entry is None or entry[0] is not obj:
        entry = (obj, build(obj))
        cache[id(obj)] = entry
    return entry[1]


def field_plan(field_def: Any) -> Any:
    return _per_object(_FIELD_PLANS, field_def, _basic_getter)


def plain_selection(field_details_list: Any) -> bool:
    """Whether a field is selected without arguments, fragment variables, @defer or custom directives."""
    for details in field_details_list:
        node = details.node
        if details.fragment_variable_values is not None or details.defer_usage is not None or node.arguments:
            return False
        for directive in node.directives or ():
            if directive.name.value not in INCLUDE_SKIP:
                return False
    return True


def objects_in(value: Any) -> list:
    """The objects in a value (an object, or nested lists of objects and nulls), in order."""
    if type(value) is not list and type(value) is not tuple:
        return [] if value is None or not hasattr(value, "__dict__") else [value]
    found = []
    for item in value:
        if type(item) is list or type(item) is tuple:
            found.extend(objects_in(item))
        elif item is not None and hasattr(item, "__dict__"):
            found.append(item)
    return found


# -- type-specialised completers ------------------------------------------------
#
# A completer is ``f(executor, field_details_list, path, result, finfo)`` and
# returns what ``Executor.complete_value(type, ...)`` would return, raising what
# it would raise: it handles the exact cases itself and calls graphql-core's
# ``complete_value`` for everything else.

_TRIVIAL_SCALARS: dict[Any, Callable[[Any], bool]] = {
    serialize_string: lambda v: type(v) is str,
    serialize_id: lambda v: type(v) is str,
    serialize_boolean: lambda v: type(v) is bool,
    serialize_int: lambda v: type(v) is int and _MIN_INT <= v <= _MAX_INT,
    serialize_float: lambda v: type(v) is float and math.isfinite(v),
}


# Scalars whose graphql-core serialiser returns a value of this exact Python type unchanged.
PLAIN_KINDS: dict[Any, type] = {serialize_string: str, serialize_id: str, serialize_boolean: bool}


def leaf_serializer(leaf_type: Any) -> Callable[[Any], Any]:
    """``f(value)``: the serialised value of a non-null scalar or enum value, or ``SLOW``.

    Only the cases where graphql-core's ``complete_leaf_value`` returns that
    very result without error: an in-range ``int`` for ``Int``, a finite
    ``float`` for ``Float``, an enum value whose name graphql-core already gave
    once (learnt through the leaf completer), a custom scalar whose serialiser
    returns neither ``None`` nor ``Undefined`` nor raises. Anything else is
    ``SLOW`` and goes through the full path, which raises what stock raises.
    """
    if isinstance(leaf_type, GraphQLScalarType):
        coerce = leaf_type.coerce_output_value
        exact = _TRIVIAL_SCALARS.get(coerce)
        if exact is not None:
            return lambda value: value if exact(value) else SLOW

        def serialize_custom(value: Any) -> Any:
            if isinstance(value, Exception) or value is Undefined:
                return SLOW
            try:
                serialized = coerce(value)
            except Exception:
                return SLOW
            return SLOW if serialized is None or serialized is Undefined else serialized

        return serialize_custom

    names = _enum_names(leaf_type)

    def serialize_enum(value: Any) -> Any:
        try:
            return names.get((value.__class__, value), SLOW)
        except TypeError:
            return SLOW

    return serialize_enum


# Per enum type: the names graphql-core gave to values, shared by the completers.
_ENUM_NAMES: dict[int, tuple[Any, dict]] = {}


def _enum_names(enum_type: Any) -> dict:
    return _per_object(_ENUM_NAMES, enum_type, lambda _type: {})


def enum_names(enum_type: Any) -> dict:
    """``{(value class, value): name}``: the names graphql-core gave to values of ``enum_type`` so far (shared)."""
    return _enum_names(enum_type)


def completer_for(return_type: Any) -> Completer:
    return _per_object(_COMPLETERS, return_type, _build_completer)


def _leaf_completer(leaf_type: Any, outer_type: Any) -> Completer:
    """Completer of a scalar or enum (``outer_type`` is it, or its non-null wrapper)."""
    if isinstance(leaf_type, GraphQLScalarType):
        coerce = leaf_type.coerce_output_value
        exact = _TRIVIAL_SCALARS.get(coerce)
        if exact is not None:
            kind = PLAIN_KINDS.get(coerce)
            if kind is not None:

                def complete_plain(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
                    if type(result) is kind:
                        return result
                    return executor._stock_complete(outer_type, fdl, path, result, finfo)

                return complete_plain

            def complete_checked(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
                if exact(result):
                    return result
                return executor._stock_complete(outer_type, fdl, path, result, finfo)

            return complete_checked

        complete_leaf_value = StrawberryGraphQLCoreExecutionContext.complete_leaf_value

        def complete_custom(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
            # Stock checks for an exception, null and Undefined before coercing.
            if result is None or result is Undefined or isinstance(result, Exception):
                return executor._stock_complete(outer_type, fdl, path, result, finfo)
            return complete_leaf_value(leaf_type, result)

        return complete_custom

    # Enum: graphql-core maps a value to its name; remember the names it gave.
    names: dict[tuple[type, Any], str] = _enum_names(leaf_type)

    def complete_enum(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
        try:
            return names[(result.__class__, result)]
        except (KeyError, TypeError):
            pass
        completed = executor._stock_complete(outer_type, fdl, path, result, finfo)
        if type(completed) is str and result is not None:
            with contextlib.suppress(TypeError):
                names[(result.__class__, result)] = completed
        return completed

    return complete_enum


def _build_completer(return_type: Any) -> Completer:
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type

    if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
        return _leaf_completer(inner, return_type)

    if isinstance(inner, GraphQLList):
        item_type = inner.of_type

        def complete_list(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
            kind = type(result)
            if kind is list or kind is tuple:
                return executor._complete_items(item_type, completer_for(item_type), fdl, path, result, finfo)
            return executor._stock_complete(return_type, fdl, path, result, finfo)

        return complete_list

    if isinstance(inner, GraphQLObjectType):
        # Called with info=None below: strawberry's is_type_of ignores it.
        is_type_of: Callable[..., Any] | None = inner.is_type_of
        if is_type_of is not None and not _is_strawberry_is_type_of(is_type_of):

            def complete_object_stock(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
                return executor._stock_complete(return_type, fdl, path, result, finfo)

            return complete_object_stock

        def complete_object(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
            if result is None or result is Undefined or isinstance(result, Exception):
                return executor._stock_complete(return_type, fdl, path, result, finfo)
            # strawberry's is_type_of ignores its info argument.
            if is_type_of is not None and is_type_of(result, None) is not True:
                return executor._stock_complete(return_type, fdl, path, result, finfo)
            return executor.collect_and_execute_subfields(inner, fdl, path, result, None)

        return complete_object

    # Interfaces and unions: graphql-core resolves the runtime type.
    def complete_abstract(executor: Any, fdl: Any, path: Path, result: Any, finfo: Any) -> Any:
        return executor._stock_complete(return_type, fdl, path, result, finfo)

    return complete_abstract


# -- relations prefetched for a whole page ---------------------------------------


async def prefetch(context: Any, steps: tuple, sources: list) -> None:
    """Fill the relations of ``steps`` on ``sources`` and the objects below them, level by level.

    ``steps`` are ``(attribute, relation, child steps)`` for a relation field
    (stored on each object under ``attribute``) or ``(None, getter, child
    steps)`` for a plain attribute leading to further objects. Each level's
    relations are loaded with one ``load_now`` per loader (relations sharing a
    loader share its batch). Used by the fast executor
    (:meth:`schema.execution.FastExecutionContext._prefetch`) and by execution
    plans (:mod:`schema.compiled`), so both run the same statements.
    """
    level = [(steps, sources)]
    while level:
        # Relations of this level, one batch per loader.
        batches: dict[int, tuple[Any, list]] = {}
        fills = []
        for level_steps, objects in level:
            for attribute, relation, _child in level_steps:
                if attribute is None:
                    continue
                todo = [o for o in objects if attribute not in o.__dict__]
                if not todo:
                    continue
                loader = relation.loader_of(context)
                keys = relation.keys_of(todo)
                batches.setdefault(id(loader), (loader, []))[1].extend(k for k in keys if k is not None)
                fills.append((attribute, relation, loader, todo, keys))
        for loader, keys in batches.values():
            if keys:
                await loader.load_now(keys)
        for attribute, relation, loader, todo, keys in fills:
            for obj, key in zip(todo, keys, strict=False):
                obj.__dict__[attribute] = relation.value_of(context, loader, key)
        # Objects of the next level.
        next_level = []
        for level_steps, objects in level:
            for attribute, read, child in level_steps:
                if not child:
                    continue
                if attribute is None:
                    children = objects_in([read(o) for o in objects])
                else:
                    children = objects_in([o.__dict__.get(attribute) for o in objects])
                if children:
                    next_level.append((child, children))
        level = next_level
