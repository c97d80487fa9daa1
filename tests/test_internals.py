"""The strawberry, graphql-core and aiodataloader internals the fast executor relies on.

``schema/execution.py`` and ``schema/execution_plans.py`` subclass strawberry's
execution context, override graphql-core ``Executor`` methods with their exact
signatures, import helpers from internal modules and recognise strawberry's
generated resolvers by their shape; ``loaders/`` fills aiodataloader's queue and
cache directly (``load_now``). None of that is public API, so pyproject bounds
the versions, and this file names each piece: after an upgrade, a failure here
says which one moved. Most of them would not break a response — the executor
would quietly fall back to graphql-core's slower path — which is why the
byte-identity tests in tests/test_fast_execution.py cannot catch them.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import importlib
import inspect
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiodataloader
import pytest
import strawberry
from graphql import GraphQLBoolean, GraphQLFloat, GraphQLID, GraphQLInt, GraphQLString

EXECUTOR = "graphql.execution.executor.Executor"
ROOT = Path(__file__).resolve().parents[1]


@strawberry.type
class Item:
    name: str
    rank: int


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", rank=1), Item(name="b", rank=2), Item(name="c", rank=3)]


# Strawberry's own conversion of the test types, for the shape checks.
STOCK = strawberry.Schema(query=Query)
# What the recording executor saw in the last run of _run_items.
RECORDED: dict[str, Any] = {"executors": [], "infos": 0}


@functools.cache
def _schema() -> strawberry.Schema:
    """The test schema on the fast executor, counting the ``ResolveInfo`` objects it builds.

    Looked up at run time, not imported: when an internal the executor imports
    disappears, each check fails with its own name instead of this file failing to import.
    """
    fast: Any = _lookup("schema.execution.FastExecutionContext")

    class RecordingContext(fast):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            RECORDED["executors"].append(self)

        def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
            RECORDED["infos"] += 1
            return super().build_resolve_info(*args, **kwargs)

    return strawberry.Schema(query=Query, execution_context_class=RecordingContext)


def _lookup(dotted: str) -> Any:
    """The object at ``module.attr.attr…``, importing the longest module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is None or not module.startswith(error.name):
                raise  # the module exists but fails to import: report that
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(dotted)


def _parameters(dotted: str) -> list[str]:
    return list(inspect.signature(_lookup(dotted)).parameters)


def _graphql_field(type_name: str, field_name: str) -> Any:
    return STOCK._schema.type_map[type_name].fields[field_name]


def _strawberry_field(type_name: str, field_name: str) -> Any:
    from_core = _graphql_field(type_name, field_name).extensions
    return from_core[_lookup("strawberry.schema.schema_converter.GraphQLCoreConverter.DEFINITION_BACKREF")]


def _run_items() -> dict[str, Any]:
    RECORDED["executors"].clear()
    RECORDED["infos"] = 0
    result = _schema().execute_sync("{ items { name rank __typename } }")
    assert result.errors is None
    return result.data or {}


def _importable(dotted: str) -> Callable[[], bool]:
    return lambda: _lookup(dotted) is not None


def _signature(dotted: str, expected: list[str]) -> Callable[[], bool]:
    return lambda: _parameters(dotted) == expected


def _serializer(scalar: Any, function: str) -> Callable[[], bool]:
    return lambda: scalar.coerce_output_value is _lookup(f"graphql.type.scalars.{function}")


def _field_details_attributes() -> bool:
    fields = set(_lookup("graphql.execution.collect_fields.FieldDetails")._fields)
    return {"node", "fragment_variable_values", "defer_usage"} <= fields


def _basic_resolver_shape() -> bool:
    # Strawberry's resolver of a plain attribute field: flagged _is_default,
    # closing over the StrawberryField as ``field``.
    resolve = _graphql_field("Item", "name").resolve
    closure = inspect.getclosurevars(resolve).nonlocals
    return getattr(resolve, "_is_default", False) is True and closure.get("field") is _strawberry_field("Item", "name")


def _strawberry_field_attributes() -> bool:
    sfield = _strawberry_field("Item", "name")
    return (
        sfield.base_resolver is None
        and sfield.is_basic_field is True
        and sfield.default_resolver is getattr
        and sfield.python_name == "name"
        and list(sfield.extensions) == []
        and list(sfield.permission_classes) == []
        and isinstance(sfield.metadata, Mapping)
    )


def _basic_field_reads_as_attribute() -> bool:
    plan = _lookup("schema.execution_plans.field_plan")(_graphql_field("Item", "name"))
    return isinstance(plan, operator.attrgetter)


def _generated_is_type_of() -> bool:
    is_type_of = STOCK._schema.type_map["Item"].is_type_of
    # None (strawberry generated none) is fine too; a foreign one makes every object take the stock path.
    return is_type_of is None or (
        _lookup("schema.execution_plans._is_strawberry_is_type_of")(is_type_of)
        and is_type_of(Item(name="x", rank=0), None)
    )


def _instance_attributes() -> bool:
    _run_items()
    executor = RECORDED["executors"][-1]
    return all(
        hasattr(executor, name) for name in ("middleware_manager", "abort_signal", "is_awaitable", "context_value")
    ) and callable(executor.schema.get_field)


def _fast_path_taken() -> bool:
    # { items { name rank __typename } }: only Query.items has a resolver, so
    # graphql-core builds one ResolveInfo; the 3 items × 3 fields build none.
    # On the stock path every field builds one: 1 + 3 × 3 = 10.
    data = _run_items()
    expected = {"items": [{"name": n, "rank": r, "__typename": "Item"} for n, r in (("a", 1), ("b", 2), ("c", 3))]}
    return data == expected and RECORDED["infos"] == 1


def _dataloader_internals() -> bool:
    async def batch(keys: list[Any]) -> list[Any]:
        return keys

    loop = asyncio.new_event_loop()
    try:
        loader = aiodataloader.DataLoader(batch_load_fn=batch, loop=loop)
        return (
            hasattr(loader, "_queue")
            and hasattr(loader, "_cache")
            and loader.loop is loop
            and callable(getattr(loader, "do_resolve_reject", None))
            and list(aiodataloader.Loader._fields) == ["key", "future"]
        )
    finally:
        loop.close()


# (what, check): each check returns True while the internal is as the executor expects.
INTERNALS: list[tuple[str, Callable[[], bool]]] = [
    # Functions imported from graphql-core's internal modules.
    (
        "graphql.execution.executor.collect_iterator_awaitables",
        _importable("graphql.execution.executor.collect_iterator_awaitables"),
    ),
    ("graphql.execution.executor.to_nodes", _importable("graphql.execution.executor.to_nodes")),
    ("graphql.pyutils.Undefined", _importable("graphql.pyutils.Undefined")),
    ("graphql.pyutils.Path(prev, key, typename)", _signature("graphql.pyutils.Path", ["prev", "key", "typename"])),
    (
        "graphql.execution.values.get_argument_values (schema/cost.py)",
        _importable("graphql.execution.values.get_argument_values"),
    ),
    (
        "graphql.execution.values.get_variable_values (schema/cost.py)",
        _importable("graphql.execution.values.get_variable_values"),
    ),
    (
        "graphql.execution.values.VariableValues (schema/cost.py)",
        _importable("graphql.execution.values.VariableValues"),
    ),
    # The serialisers are the very functions on the built-in scalars (the exact-type shortcuts key on them).
    (
        "GraphQLString.coerce_output_value is graphql.type.scalars.serialize_string",
        _serializer(GraphQLString, "serialize_string"),
    ),
    ("GraphQLID.coerce_output_value is graphql.type.scalars.serialize_id", _serializer(GraphQLID, "serialize_id")),
    (
        "GraphQLBoolean.coerce_output_value is graphql.type.scalars.serialize_boolean",
        _serializer(GraphQLBoolean, "serialize_boolean"),
    ),
    ("GraphQLInt.coerce_output_value is graphql.type.scalars.serialize_int", _serializer(GraphQLInt, "serialize_int")),
    (
        "GraphQLFloat.coerce_output_value is graphql.type.scalars.serialize_float",
        _serializer(GraphQLFloat, "serialize_float"),
    ),
    (
        "strawberry maps str to graphql-core's own GraphQLString",
        lambda: _graphql_field("Item", "name").type.of_type is GraphQLString,
    ),
    # Executor methods overridden or called, with the parameters they are called with.
    (
        f"{EXECUTOR}.execute_fields(parent_type, source_value, path, grouped_field_set, position_context)",
        _signature(
            f"{EXECUTOR}.execute_fields",
            ["self", "parent_type", "source_value", "path", "grouped_field_set", "position_context"],
        ),
    ),
    (
        f"{EXECUTOR}.execute_field(parent_type, source, field_details_list, path, position_context)",
        _signature(
            f"{EXECUTOR}.execute_field",
            ["self", "parent_type", "source", "field_details_list", "path", "position_context"],
        ),
    ),
    (
        f"{EXECUTOR}.complete_value(return_type, field_details_list, info, path, result, position_context)",
        _signature(
            f"{EXECUTOR}.complete_value",
            ["self", "return_type", "field_details_list", "info", "path", "result", "position_context"],
        ),
    ),
    (
        f"{EXECUTOR}.complete_leaf_value(return_type, result), a staticmethod",
        lambda: (
            isinstance(inspect.getattr_static(_lookup(EXECUTOR), "complete_leaf_value"), staticmethod)
            and _parameters(f"{EXECUTOR}.complete_leaf_value") == ["return_type", "result"]
        ),
    ),
    (
        f"{EXECUTOR}.complete_awaitable_list_item_value(item, item_type, field_details_list, info, item_path, position_context)",
        _signature(
            f"{EXECUTOR}.complete_awaitable_list_item_value",
            ["self", "item", "item_type", "field_details_list", "info", "item_path", "position_context"],
        ),
    ),
    (
        f"{EXECUTOR}.handle_field_error(raw_error, return_type, field_details_list, path)",
        _signature(
            f"{EXECUTOR}.handle_field_error", ["self", "raw_error", "return_type", "field_details_list", "path"]
        ),
    ),
    (
        f"{EXECUTOR}.collect_subfields(return_type, field_details_list)",
        _signature(f"{EXECUTOR}.collect_subfields", ["self", "return_type", "field_details_list"]),
    ),
    (
        f"{EXECUTOR}.collect_and_execute_subfields(return_type, field_details_list, path, result, position_context)",
        _signature(
            f"{EXECUTOR}.collect_and_execute_subfields",
            ["self", "return_type", "field_details_list", "path", "result", "position_context"],
        ),
    ),
    (
        f"{EXECUTOR}.settle_in_background(awaitables)",
        _signature(f"{EXECUTOR}.settle_in_background", ["self", "awaitables"]),
    ),
    (
        "strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext.build_resolve_info(field_def, field_nodes, parent_type, path)",
        _signature(
            "strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext.build_resolve_info",
            ["self", "field_def", "field_nodes", "parent_type", "path"],
        ),
    ),
    (
        "StrawberryGraphQLCoreExecutionContext subclasses graphql-core's Executor",
        lambda: issubclass(
            _lookup("strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext"), _lookup(EXECUTOR)
        ),
    ),
    (
        "executor instance attributes middleware_manager, abort_signal, is_awaitable, context_value, schema.get_field",
        _instance_attributes,
    ),
    (
        "graphql.execution.collect_fields.FieldDetails(node, fragment_variable_values, defer_usage)",
        _field_details_attributes,
    ),
    (
        "graphql.execution.collect_fields.CollectedFields[0] is grouped_field_set (collect_subfields(...)[0])",
        lambda: _lookup("graphql.execution.collect_fields.CollectedFields")._fields[0] == "grouped_field_set",
    ),
    # Strawberry's generated resolvers, recognised by their shape.
    (
        "strawberry.schema.schema_converter.GraphQLCoreConverter.DEFINITION_BACKREF",
        _importable("strawberry.schema.schema_converter.GraphQLCoreConverter.DEFINITION_BACKREF"),
    ),
    ("strawberry's basic-field resolver: _is_default, closes over `field`", _basic_resolver_shape),
    (
        "StrawberryField.base_resolver, is_basic_field, default_resolver, python_name, extensions, permission_classes, metadata",
        _strawberry_field_attributes,
    ),
    (
        "strawberry's generated is_type_of (schema_converter._get_is_type_of.<locals>.is_type_of, ignores info)",
        _generated_is_type_of,
    ),
    ("a basic field is read with operator.attrgetter (the fast plan)", _basic_field_reads_as_attribute),
    ("the fast path is taken: no ResolveInfo for basic fields", _fast_path_taken),
    # aiodataloader internals behind Loader.load_now (loaders/__init__.py).
    ("aiodataloader.DataLoader._queue, _cache, loop, do_resolve_reject and Loader(key, future)", _dataloader_internals),
    ("aiodataloader.dispatch_queue", _importable("aiodataloader.dispatch_queue")),
]


@pytest.mark.parametrize(("what", "check"), INTERNALS, ids=[what for what, _ in INTERNALS])
def test_internal_the_fast_executor_relies_on_is_still_there(what: str, check: Callable[[], bool]) -> None:
    try:
        ok = check()
    except Exception as error:  # noqa: BLE001 - any failure means the internal moved
        pytest.fail(
            f"{what}: gone ({error!r}); schema/execution*.py or loaders/ rely on it — adapt them, then the bound in pyproject"
        )
    if not ok:
        pytest.fail(
            f"{what}: changed; schema/execution*.py or loaders/ rely on it — adapt them, then the bound in pyproject"
        )


def test_every_internal_import_of_the_executor_is_named_here() -> None:
    # Every name the executor modules import from graphql-core's and
    # strawberry's submodules must appear in INTERNALS: a new one is added there.
    named = " ".join(what for what, _ in INTERNALS)
    for module in ("schema/execution.py", "schema/execution_plans.py"):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("graphql.", "strawberry.")):
                for alias in node.names:
                    assert alias.name in named, (
                        f"{module} imports {node.module}.{alias.name}, which INTERNALS does not name"
                    )
