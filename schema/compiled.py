"""Execution plans per document: resolve the root field, then write its result without per-field resolution.

The idea behind graphql-jit and PostGraphile's Grafast, on top of the fast
executor (:mod:`schema.execution`): a document is *planned* once — which
attribute each selected field reads, how each leaf is serialised, which
relations (:class:`schema.relations.Relation`) are loaded for a whole page —
and each later request of the same document only coerces its variables, calls
the root field's resolver exactly as graphql-core would (same
``GraphQLResolveInfo``, same coerced arguments, through strawberry's own
resolver wrapper, so permissions and argument checks are unchanged), loads the
plan's relations one loader batch per level (the same batches, so the same SQL
statements, as the fast executor's prefetch) and builds the response data by
walking the plan over the result: no ``execute_fields``, no completers, no
awaitable per field.

A document gets a plan only when every part of it is understood; anything else
runs as before:

* one operation, a query, no directive anywhere, no fragment, no field selected
  twice under one response name; exactly one root field, on an object type;
* below the root: ``__typename``, strawberry basic fields (plain attributes)
  of leaf, list or object types (concrete object types with strawberry's own
  ``is_type_of``), relation fields without arguments, permission classes or
  extensions, a connection's ``edges`` (built from its nodes and cursors) and
  ``totalCount``; nothing with arguments.

Execution of a plan makes one error of its own, the one graphql-core makes at
the same point: a root resolver failing with anything but a ``GraphQLError``
(a database error, a statement past its time limit) is answered as
``handle_field_error`` answers it (the root field null, the error located at
it), since running the request again would run the failed statement again.
Whenever else anything is not as the plan expects (variables that do not
coerce, a resolver raising a ``GraphQLError`` — bad input — or answering
``None`` for a non-null field, a failed batch, a null in a non-null place, a value a leaf does not
serialise to itself, an object of another type) it stops, and the request
runs through the normal executor from the start, which reports whatever is
wrong as it always did. The SQL of the abandoned attempt is read
only; its statements count in the request's total.

Plans hold no data and nothing of a viewer: every request resolves its own
root field with its own context (viewer, loaders, session), so two viewers
share a plan but never a value. A document is planned after it has once run
through the normal executor without errors (so it parsed and validated, and
validation depends on the document alone); the plans are kept per
``(query text, operation name)``, at most :data:`PLAN_CACHE_SIZE`, least
recently used forgotten first, for the process.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    located_error,
    parse,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionResult

from schema.connection import Connection, connection_edges, page_info_end_cursor, page_info_start_cursor
from schema.execution import FastExecutionContext
from schema.execution_plans import (
    NOT_FAST,
    PLAIN_KINDS,
    SLOW,
    enum_names,
    field_plan,
    leaf_serializer,
    prefetch,
    relation_of,
)

__all__ = ["PLAN_CACHE_SIZE", "Plans"]

PLAN_CACHE_SIZE = 256
_NO_PLAN = object()
_COMPLETE_LEAF_VALUE = FastExecutionContext.complete_leaf_value

# Kinds of a field step: (response name, kind, a, b, c).
_TYPENAME, _LEAF, _OBJECT, _LIST, _COUNT = range(5)


class _Fallback(Exception):
    """The plan does not apply to this request: run the normal executor."""


class _NotPlannable(Exception):
    """The document has something the planner does not handle."""


class _ObjectPlan:
    """The selection on one object type: a step per response field, and the prefetch steps below it."""

    __slots__ = ("fields", "is_type_of", "prefetch", "type_name")

    def __init__(self, type_name: str, is_type_of: Any, fields: list[tuple], prefetch_steps: tuple) -> None:
        self.type_name = type_name
        self.is_type_of = is_type_of
        self.fields = fields
        self.prefetch = prefetch_steps


class _Plan:
    __slots__ = ("document", "field_def", "field_node", "object_plan", "operation", "response_name", "root_type")

    def __init__(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        root_type: GraphQLObjectType,
        field_node: FieldNode,
        field_def: Any,
        object_plan: _ObjectPlan,
    ) -> None:
        self.document = document
        self.operation = operation
        self.root_type = root_type
        self.field_node = field_node
        self.field_def = field_def
        self.response_name = field_node.alias.value if field_node.alias else field_node.name.value
        self.object_plan = object_plan


# -- planning ------------------------------------------------------------------


def _fields_of(selection_set: Any) -> list[FieldNode]:
    """The fields of a selection set, refusing fragments, directives and repeated response names."""
    if selection_set is None:
        raise _NotPlannable("no selection")
    fields: list[FieldNode] = []
    names: set[str] = set()
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise _NotPlannable("fragment or directive")
        name = selection.alias.value if selection.alias else selection.name.value
        if name in names:
            raise _NotPlannable("a response name twice")
        names.add(name)
        fields.append(selection)
    return fields


def _is_strawberry_is_type_of(fn: Any) -> bool:
    return getattr(fn, "__module__", None) == "strawberry.schema.schema_converter" and getattr(
        fn, "__qualname__", ""
    ).endswith("_get_is_type_of.<locals>.is_type_of")


def _resolver_is(field_def: Any, function: Any) -> bool:
    """Whether ``field_def`` is resolved by ``function`` alone: no arguments, permission classes or extensions."""
    sfield: Any = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolver = getattr(sfield, "base_resolver", None)
    return (
        sfield is not None
        and resolver is not None
        and getattr(resolver, "wrapped_func", None) is function
        and not field_def.args
        and not sfield.extensions
        and not sfield.permission_classes
    )


def _total_count(field_def: Any) -> bool:
    """Whether ``field_def`` is a connection's ``totalCount`` (``Connection.total_count``)."""
    return _resolver_is(field_def, Connection.total_count)


# Resolvers that only read their object (no arguments, no info, no I/O): a plan reads them like attributes.
_READ_LIKE_ATTRIBUTES = (connection_edges, page_info_start_cursor, page_info_end_cursor)


def _getter(field_def: Any) -> Any:
    """How a plan reads the field: strawberry's attribute getter, a prefetched relation, or a reading resolver."""
    getter = field_plan(field_def)
    if getter is not NOT_FAST:
        return getter
    for function in _READ_LIKE_ATTRIBUTES:
        if _resolver_is(field_def, function):
            return function
    return NOT_FAST


def _value_plan(schema: Any, field_type: Any, node: FieldNode) -> tuple[int, Any, bool]:
    """``(kind, plan, nullable)`` of a value of ``field_type`` selected by ``node``."""
    nullable = not isinstance(field_type, GraphQLNonNull)
    inner = field_type if nullable else field_type.of_type
    if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
        if node.selection_set is not None:
            raise _NotPlannable("a selection on a leaf")
        return _LEAF, _leaf(inner), nullable
    if isinstance(inner, GraphQLList):
        return _LIST, _value_plan(schema, inner.of_type, node), nullable
    if isinstance(inner, GraphQLObjectType):
        return _OBJECT, _object_plan(schema, inner, node, root=False), nullable
    raise _NotPlannable("an abstract type")


def _object_plan(schema: Any, object_type: GraphQLObjectType, node: FieldNode, *, root: bool) -> _ObjectPlan:
    is_type_of = object_type.is_type_of
    if is_type_of is not None and not _is_strawberry_is_type_of(is_type_of):
        raise _NotPlannable("a custom is_type_of")
    fields: list[tuple] = []
    steps: list[tuple] = []
    for sub in _fields_of(node.selection_set):
        response_name = sub.alias.value if sub.alias else sub.name.value
        name = sub.name.value
        if sub.arguments:
            raise _NotPlannable("arguments below the root")
        if name == "__typename":
            fields.append((response_name, _TYPENAME, object_type.name, None, None))
            continue
        field_def = object_type.fields.get(name)
        if field_def is None:
            raise _NotPlannable("an unknown field")
        if _total_count(field_def):
            if not root:
                raise _NotPlannable("totalCount below the root field")
            nullable = not isinstance(field_def.type, GraphQLNonNull)
            leaf = get_named_type(field_def.type)
            fields.append((response_name, _COUNT, field_def, _leaf(leaf), nullable))
            continue
        getter = _getter(field_def)
        if getter is NOT_FAST:
            raise _NotPlannable("a resolver")
        kind, value_plan, nullable = _value_plan(schema, field_def.type, sub)
        relation = relation_of(field_def)
        child = _child_prefetch(value_plan, kind)
        if relation is not None:
            steps.append((relation[0], relation[1], child))
        elif child:
            steps.append((None, getter, child))
        fields.append((response_name, kind, getter, value_plan, nullable))
    return _ObjectPlan(object_type.name, is_type_of, fields, tuple(steps))


def _child_prefetch(value_plan: Any, kind: int) -> tuple:
    """The prefetch steps of the objects inside a field's value (through lists)."""
    while kind == _LIST:
        kind, value_plan, _nullable = value_plan
    return value_plan.prefetch if kind == _OBJECT else ()


def _leaf(leaf_type: Any) -> Callable[[Any], Any]:
    """``f(value)``: what graphql-core's ``complete_leaf_value`` gives for a non-null value; raises :class:`_Fallback` where it would fail."""
    if isinstance(leaf_type, GraphQLScalarType):
        kind = PLAIN_KINDS.get(leaf_type.coerce_output_value)
        if kind is not None:

            def plain(value: Any) -> Any:
                if type(value) is kind:
                    return value
                return _slow_leaf(leaf_type, value)

            return plain
    fast = leaf_serializer(leaf_type)
    names = enum_names(leaf_type) if isinstance(leaf_type, GraphQLEnumType) else None

    def serialize(value: Any) -> Any:
        serialized = fast(value)
        if serialized is not SLOW:
            return serialized
        serialized = _slow_leaf(leaf_type, value)
        if names is not None and type(serialized) is str:
            with contextlib.suppress(TypeError):
                names[(value.__class__, value)] = serialized
        return serialized

    return serialize


def _slow_leaf(leaf_type: Any, value: Any) -> Any:
    if isinstance(value, Exception):
        raise _Fallback
    try:
        return _COMPLETE_LEAF_VALUE(leaf_type, value)
    except Exception as error:
        raise _Fallback from error


def plan_of(schema: Any, document: DocumentNode, operation_name: str | None) -> _Plan | None:
    """The plan of ``document``'s operation, or ``None`` when it has anything the planner does not handle."""
    try:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or len(document.definitions) != 1:
            return None
        operation = operations[0]
        if operation_name is not None and (operation.name is None or operation.name.value != operation_name):
            return None
        if operation.operation != OperationType.QUERY or operation.directives:
            return None
        for definition in operation.variable_definitions or ():
            if definition.directives:
                return None
        roots = _fields_of(operation.selection_set)
        if len(roots) != 1:
            return None
        root = roots[0]
        root_type = schema.query_type
        field_def = root_type.fields.get(root.name.value) if root.name.value != "__typename" else None
        if field_def is None or field_def.resolve is None:
            return None
        inner = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
        if not isinstance(inner, GraphQLObjectType):
            return None
        return _Plan(document, operation, root_type, root, field_def, _object_plan(schema, inner, root, root=True))
    except _NotPlannable:
        return None


# -- execution ---------------------------------------------------------------------


def _value(kind: int, plan: Any, nullable: bool, value: Any, counts: dict) -> Any:
    if value is None:
        if nullable:
            return None
        raise _Fallback
    if kind == _LEAF:
        return plan(value)
    if kind == _OBJECT:
        return _object(plan, value, counts)
    if type(value) is not list and type(value) is not tuple:
        raise _Fallback
    item_kind, item_plan, item_nullable = plan
    if item_kind == _LEAF:
        out: list[Any] = []
        for item in value:
            if item is None:
                if not item_nullable:
                    raise _Fallback
                out.append(None)
            else:
                out.append(item_plan(item))
        return out
    return [_value(item_kind, item_plan, item_nullable, item, counts) for item in value]


def _object(plan: _ObjectPlan, source: Any, counts: dict) -> dict[str, Any]:
    is_type_of = plan.is_type_of
    if isinstance(source, Exception) or (is_type_of is not None and is_type_of(source, None) is not True):
        raise _Fallback
    data: dict[str, Any] = {}
    for response_name, kind, a, b, c in plan.fields:
        if kind == _LEAF:
            try:
                value = a(source)
            except Exception as error:
                raise _Fallback from error
            if value is None:
                if not c:
                    raise _Fallback
                data[response_name] = None
            else:
                data[response_name] = b(value)
        elif kind == _TYPENAME:
            data[response_name] = a
        elif kind == _COUNT:
            value = counts[response_name]
            if value is None:
                if not c:
                    raise _Fallback
                data[response_name] = None
            else:
                data[response_name] = b(value)
        else:
            try:
                value = a(source)
            except Exception as error:
                raise _Fallback from error
            data[response_name] = _value(kind, b, c, value, counts)
    return data


class Plans:
    """The execution plans of one schema, per ``(query text, operation name)``; bounded."""

    def __init__(self, strawberry_schema: Any, size: int = PLAN_CACHE_SIZE) -> None:
        self.strawberry_schema = strawberry_schema
        self.size = size
        self._plans: OrderedDict[tuple[str, str | None], Any] = OrderedDict()
        # Requests answered by a plan, and those where it stepped aside (tests, bench).
        self.runs = 0
        self.fallbacks = 0

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def enabled(self) -> bool:
        """Plans belong to the fast executor: a schema switched to another executor (tests) runs without them."""
        return self.strawberry_schema.execution_context_class is FastExecutionContext

    def learn(self, query: str, operation_name: str | None) -> None:
        """Plan ``query`` (it has just run through the normal executor without errors), once.

        Parsed here with locations, as strawberry parses it, so that an error
        a plan reports carries the same ``locations``.
        """
        key = (query, operation_name)
        if key in self._plans:
            return
        try:
            document = parse(query)
        except GraphQLError:
            return
        plan = plan_of(self.strawberry_schema._schema, document, operation_name)
        self._plans[key] = _NO_PLAN if plan is None else plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)

    def known(self, query: str, operation_name: str | None) -> bool:
        """Whether the document has been looked at (planned, or found not plannable)."""
        return (query, operation_name) in self._plans

    async def execute(
        self, query: str, operation_name: str | None, variables: dict[str, Any] | None, context: Any
    ) -> ExecutionResult | None:
        """The result of the request by its plan, or ``None``: no plan, or the plan stepped aside (run it normally)."""
        if not self.enabled:
            return None
        key = (query, operation_name)
        plan = self._plans.get(key)
        if plan is None or plan is _NO_PLAN:
            return None
        self._plans.move_to_end(key)
        try:
            data, errors = await self._run(plan, variables, context)
        except _Fallback:
            self.fallbacks += 1
            return None
        self.runs += 1
        return ExecutionResult(data=data, errors=errors)

    async def _run(
        self, plan: _Plan, variables: dict[str, Any] | None, context: Any
    ) -> tuple[dict[str, Any] | None, list[GraphQLError] | None]:
        executor = FastExecutionContext.build(
            self.strawberry_schema._schema,
            plan.document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=plan.operation.name.value if plan.operation.name else None,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as strawberry passes it
        )
        if isinstance(executor, list):  # variables that do not coerce
            raise _Fallback
        node = plan.field_node
        field_def = plan.field_def
        path = Path(None, plan.response_name, plan.root_type.name)
        info = executor.build_resolve_info(field_def, [node], plan.root_type, path)
        try:
            args = (
                get_argument_values(field_def, node, executor.variable_values, None, executor.hide_suggestions)
                if field_def.args or node.arguments
                else {}
            )
            result = field_def.resolve(executor.root_value, info, **args)
            if optimized_is_awaitable(result):
                result = await result
        except GraphQLError as error:  # bad input (a bound, a cursor): the normal executor reports it
            raise _Fallback from error
        except Exception as error:  # noqa: BLE001 - any database error, reported as graphql-core reports it
            # A database error, e.g. a statement past its time limit: answered as
            # graphql-core's handle_field_error answers it, since running the
            # request again would run the failed statement again (the client
            # would wait twice the time limit).
            located = located_error(error, [node], path.as_list())
            if isinstance(field_def.type, GraphQLNonNull):
                return None, [located]
            return {plan.response_name: None}, [located]
        if result is None and not isinstance(field_def.type, GraphQLNonNull):
            return {plan.response_name: None}, None  # as graphql-core completes a nullable null
        if result is None or result is Undefined:
            raise _Fallback
        object_plan = plan.object_plan
        try:
            if object_plan.prefetch:
                await prefetch(context, object_plan.prefetch, [result])
            counts = {}
            for response_name, kind, a, _b, _c in object_plan.fields:
                if kind == _COUNT:
                    counts[response_name] = await a.resolve(result, info)
        except Exception as error:
            raise _Fallback from error
        return {plan.response_name: _object(object_plan, result, counts)}, None
