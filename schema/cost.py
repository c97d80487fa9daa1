"""What a request costs, computed from its document and variables before it runs (SPEC §3.2).

The cost is an upper estimate of the work a request asks for, in points:

* every object the response can hold counts :attr:`Weights.object`. A field
  whose type is an object counts once per parent; a list of objects counts
  its size: a connection's ``first``/``last`` (default 25), ``weeks`` of a
  trend or history, and for lists without a bound the typical sizes of
  :data:`LIST_SIZES` (a customer's subscriptions, a subscription's
  invoices, …). Sizes multiply down the tree, as GitHub's node limit does, so
  ``customers(first: 100) { nodes { partnerAdmins { assignedCustomers(first: 100) … } } }``
  costs 100 × 10 × 100 objects at the second level;
* every scan of the partner's licence lines counts :attr:`Weights.scan`
  (``kpis``, a section's KPIs or ``totalCount``, a page of its rows) or
  :attr:`Weights.trend_day` per point of ``licenseTrend``; a scan is counted
  once per distinct arguments (the same ``asOf``, product and window asked
  twice is one scan, each distinct ``asOf`` its own);
* a ``totalCount`` of a customer, admin or audit list counts :attr:`Weights.count`,
  a customer list's ``facets`` one :attr:`Weights.count` per value it counts
  (16, whichever facets are selected: one statement counts them all);
  a mutation :attr:`Weights.mutation`;
* introspection counts the objects it returns, from the schema's own sizes
  (``__schema { types { fields { … } } }`` costs its number of fields).

A request over the limit (``PARTNERHUB_MAX_COST``) is refused before any SQL
runs (``QUERY_TOO_COMPLEX``); within it, the cost is charged to the caller's
budget (``web/ratelimit.py``). Fields the document names but the schema lacks
cost nothing here: validation refuses them anyway.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.type.definition import GraphQLEnumType
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from resolvers.pagination import DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class Weights:
    """Points per unit of work.

    A scan of the partner's live lines takes tenths of a second at 100,000
    customers, an object of a page microseconds (bench/README.md, "Measured"):
    one scan weighs as much as 2,000 objects. The limit per request is a setting
    (``PARTNERHUB_MAX_COST``); ``tests/test_cost.py`` checks that everything
    the dashboard, the README and the benchmark send stays well within it.
    """

    object: int = 1
    scan: int = 2_000
    trend_day: int = 500
    count: int = 10
    mutation: int = 100
    # An object of an introspection answer (__Type, __Field, …) carries several
    # fields and is built in Python: measured ~24 µs per object (bench/README.md,
    # Measured), about three times a page object's share.
    introspection_object: int = 3


# Typical sizes of lists that have no bound in the API (a customer's subscriptions
# can grow without end); a list of objects not named here counts DEFAULT_LIST_SIZE.
LIST_SIZES: dict[tuple[str, str], int] = {
    ("Customer", "subscriptions"): 5,
    ("Customer", "trials"): 5,
    ("Customer", "partnerAdmins"): 10,
    ("Subscription", "licenses"): 4,  # at most one line per product
    ("Trial", "licenses"): 4,
    ("Subscription", "invoices"): 20,
    ("Subscription", "orders"): 20,
    ("Customer", "statusDetails"): 8,  # at most one per status
    ("StatusDetail", "plans"): 2,
    # A facet lists every value of its enum.
    ("CustomerFacets", "statuses"): 8,
    ("CustomerFacets", "products"): 4,
    ("CustomerFacets", "managedBy"): 2,
    ("CustomerFacets", "subscriptionTypes"): 2,
}
# ``facets`` counts every value of every facet in one statement: a count per value.
FACET_VALUES = sum(size for (type_name, _), size in LIST_SIZES.items() if type_name == "CustomerFacets")
DEFAULT_LIST_SIZE = 10
# Lists whose size is one of the field's own arguments.
SIZE_ARGUMENTS: dict[tuple[str, str], str] = {
    ("Analytics", "licenseTrend"): "weeks",
    ("LicenseLine", "history"): "weeks",
}
CONNECTION_ITEMS = frozenset({"edges", "nodes"})


def _is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection") and "pageInfo" in type_.fields


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


@functools.lru_cache(maxsize=8)
def _introspection_sizes(schema: GraphQLSchema) -> dict[tuple[str, str], float]:
    """Average sizes of the introspection lists of ``schema``: a full walk costs what it returns."""
    types = list(schema.type_map.values())
    with_fields = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [f for t in with_fields for f in t.fields.values()]
    count = max(len(types), 1)
    return {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(schema.directives),
        ("__Type", "fields"): len(fields) / count,
        ("__Type", "interfaces"): sum(len(getattr(t, "interfaces", ())) for t in types) / count,
        ("__Type", "possibleTypes"): sum(
            len(schema.get_possible_types(t)) for t in types if isinstance(t, GraphQLInterfaceType | GraphQLUnionType)
        )
        / count,
        ("__Type", "enumValues"): sum(len(t.values) for t in types if isinstance(t, GraphQLEnumType)) / count,
        ("__Type", "inputFields"): sum(len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)) / count,
        ("__Field", "args"): sum(len(f.args) for f in fields) / max(len(fields), 1),
        ("__Directive", "args"): sum(len(d.args) for d in schema.directives) / max(len(schema.directives), 1),
    }


class _Walk:
    """One walk of an operation, adding up objects and collecting distinct scans."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues, weights: Weights):
        self.schema = schema
        self.variables = variables
        self.weights = weights
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.objects = 0.0
        self.scans: dict[tuple, int] = {}
        self.introspection = _introspection_sizes(schema)

    def fields(self, selection_set: SelectionSetNode, parent: Any) -> Iterator[tuple[FieldNode, Any]]:
        """The fields of a selection with the type each applies to (fragments expanded)."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                yield from self.fields(selection.selection_set, on or parent)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    on = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self.fields(fragment.selection_set, on or parent)

    def field_def(self, parent: Any, name: str) -> GraphQLField | None:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
        fields = getattr(parent, "fields", None)
        return fields.get(name) if fields else None

    def arguments(self, field_def: GraphQLField, node: FieldNode) -> dict[str, Any]:
        try:
            return get_argument_values(field_def, node, self.variables)
        except GraphQLError:
            return {}  # execution reports the bad argument itself

    def walk(self, selection_set: SelectionSetNode, parent: Any, multiplier: float, scope: dict[str, Any]) -> None:
        for node, on in self.fields(selection_set, parent):
            name = node.name.value
            if name == "__typename":
                continue
            field_def = self.field_def(on, name)
            if field_def is None:
                continue
            args = self.arguments(field_def, node)
            type_name = getattr(on, "name", "")
            self.charge(type_name, name, args, multiplier, scope)
            named = get_named_type(field_def.type)
            if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
                continue
            size = self.size(type_name, name, field_def, args, scope)
            inner = multiplier * size
            per_object = self.weights.introspection_object / self.weights.object if named.name.startswith("__") else 1
            self.objects += inner * per_object
            if node.selection_set is not None:
                self.walk(node.selection_set, named, inner, self.scope_of(type_name, name, named, args, scope))

    def size(self, type_name: str, name: str, field_def: GraphQLField, args: dict[str, Any], scope: dict) -> float:
        if not _is_list(field_def.type):
            return 1
        key = (type_name, name)
        if name in CONNECTION_ITEMS and scope.get("page") is not None:
            return scope["page"]
        if key in SIZE_ARGUMENTS:
            value = args.get(SIZE_ARGUMENTS[key])
            return value if isinstance(value, int) and value > 0 else DEFAULT_LIST_SIZE
        return self.introspection.get(key) or LIST_SIZES.get(key, DEFAULT_LIST_SIZE)

    def scope_of(self, type_name: str, name: str, named: Any, args: dict[str, Any], scope: dict) -> dict[str, Any]:
        """What the fields below this one need to know: page size, analytics day and section."""
        inner = dict(scope)
        if _is_connection(named):
            size = args.get("first") or args.get("last") or DEFAULT_PAGE_SIZE
            inner["page"] = size if isinstance(size, int) and size > 0 else DEFAULT_PAGE_SIZE
            inner["connection"] = (type_name, name, _frozen(args))
        elif name in CONNECTION_ITEMS:
            inner["page"] = None
        if type_name == "Query" and name == "analytics":
            inner["analytics"] = _frozen(args)
        elif type_name == "Analytics" and named.name.endswith("Section"):
            inner["section"] = (name, _frozen(args))
        return inner

    def charge(self, type_name: str, name: str, args: dict[str, Any], multiplier: float, scope: dict) -> None:
        """Add the scans and counts the field itself makes (objects are added by :meth:`walk`)."""
        weights = self.weights
        if type_name == "Mutation":
            self.objects += weights.mutation / weights.object
        elif (type_name, name) in (("Query", "kpis"), ("LiveEvents", "kpisChanged")):
            # kpisChanged re-reads the summary for each event: the same scan as kpis.
            self.scans[("kpis", _frozen(args))] = weights.scan
        elif type_name == "Analytics" and name == "licenseTrend":
            weeks = args.get("weeks")
            days = weeks if isinstance(weeks, int) and weeks > 0 else DEFAULT_LIST_SIZE
            self.scans[("trend", scope.get("analytics"), days)] = weights.trend_day * days
        elif type_name.endswith("Section") and name != "days":
            section = (scope.get("analytics"), scope.get("section"))
            if name == "rows":
                self.scans[("rows", *section, _frozen(args))] = weights.scan
            else:
                self.scans[("kpis", *section)] = weights.scan
        elif type_name == "CustomerConnection" and name == "facets":
            self.objects += multiplier * FACET_VALUES * weights.count / weights.object
        elif name == "totalCount":
            if "section" in scope:  # a section's totalCount is its KPI statement
                self.scans[("kpis", scope.get("analytics"), scope.get("section"))] = weights.scan
            else:
                self.objects += multiplier * weights.count / weights.object

    def total(self) -> int:
        return math.ceil(self.objects * self.weights.object + sum(self.scans.values()))


def _frozen(args: dict[str, Any]) -> bytes:
    return orjson.dumps(args, default=str, option=orjson.OPT_SORT_KEYS)


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == operation_name), None)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    weights: Weights,
) -> int | None:
    """The cost of the operation of ``document`` that would run, or ``None`` when none can run.

    ``None`` means execution will refuse the request itself (no such
    operation, variables of the wrong type); nothing needs charging then.
    """
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {}, max_errors=1)
    if isinstance(coerced, list):
        return None
    walk = _Walk(schema, document, coerced, weights)
    walk.walk(operation.selection_set, root, 1, {})
    return walk.total()


class CostModel:
    """The cost of request texts for one schema, memoised by document text and variables.

    The same dashboard or list-page request arrives again and again: its cost
    is a dictionary lookup after the first time. Both memos are bounded, so
    clients sending ever new texts cannot grow the process.
    """

    def __init__(self, schema: GraphQLSchema, weights: Weights, *, max_tokens: int, size: int = 1024) -> None:
        self.schema = schema
        self.weights = weights
        self.max_tokens = max_tokens
        self.size = size
        self._documents: OrderedDict[str, DocumentNode | None] = OrderedDict()
        self._costs: OrderedDict[tuple[str, str | None, bytes], int | None] = OrderedDict()

    def document(self, query: str) -> DocumentNode | None:
        """The parsed ``query`` (``None`` if it does not parse: execution reports why)."""
        if query in self._documents:
            self._documents.move_to_end(query)
            return self._documents[query]
        try:
            document: DocumentNode | None = parse(query, max_tokens=self.max_tokens, no_location=True)
        except GraphQLError:
            document = None
        _remember(self._documents, query, document, self.size)
        return document

    def cost(self, query: str, variables: dict[str, Any] | None, operation_name: str | None) -> int | None:
        """The cost of one request, or ``None`` when execution will refuse it anyway."""
        try:
            key = (query, operation_name, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
        except TypeError:
            key = None
        if key is not None and key in self._costs:
            self._costs.move_to_end(key)
            return self._costs[key]
        document = self.document(query)
        value = (
            None if document is None else operation_cost(self.schema, document, variables, operation_name, self.weights)
        )
        if key is not None:
            _remember(self._costs, key, value, self.size)
        return value


def _remember(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)


def is_introspection(document: DocumentNode | None) -> bool:
    """Whether every operation of ``document`` selects only ``__schema``, ``__type`` and ``__typename``."""
    if document is None:
        return False
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]

    def only(selection_set: SelectionSetNode, seen: set[str]) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value not in ("__schema", "__type", "__typename"):
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not only(selection.selection_set, seen):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen:
                    continue
                seen.add(name)
                fragment = fragments.get(name)
                if fragment is None or not only(fragment.selection_set, seen):
                    return False
        return True

    return bool(operations) and all(only(op.selection_set, set()) for op in operations)
