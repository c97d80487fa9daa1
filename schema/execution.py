"""A faster graphql-core executor for strawberry, with byte-identical results.

Profiling a list page (bench/README.md) showed most of the execution time in
graphql-core's per-field machinery rather than in our code: for every field,
even a plain attribute, it builds a ``GraphQLResolveInfo`` and a strawberry
call chain, checks the result for awaitability and walks the generic
``complete_value`` dispatch. :class:`FastExecutionContext` (passed to
strawberry as ``execution_context_class``) takes a shorter path for the fields
where that machinery provably cannot change the outcome, and hands everything
else to graphql-core unchanged.

The fast path applies to a field when, and only when:

* its resolver is strawberry's default attribute getter (a "basic" field: no
  resolver function, no permission classes or field extensions, no exception
  handlers), or it is ``__typename``;
* the field takes no arguments and its nodes carry no directive other than
  ``@include``/``@skip`` (which field collection has already applied), no
  fragment variables, and no ``@defer`` usage;
* the request has no middleware (no extension implementing ``resolve``), no
  abort signal, and no incremental delivery.

For such a field the value is read with the same getter strawberry would call
and completed by type-specialised code that handles only the trivially exact
cases: a ``str`` for ``String``/``ID``, an in-range ``int`` for ``Int``, a
finite ``float`` for ``Float``, a ``bool`` for ``Boolean``, an enum value
whose name graphql-core already produced once, custom scalars through their own
``coerce_output_value`` via graphql-core's ``complete_leaf_value``, plain
``list``/``tuple`` values item by item, and objects of concrete types (with
strawberry's own ``is_type_of`` check) by executing their selection through
this same executor. Anything else — ``None`` where the type is non-null, an
exception raised by the getter, an unexpected value, an abstract type, an
awaitable, a custom ``is_type_of`` — is handed to graphql-core's own
``complete_value``/``execute_field`` at exactly the point where graphql-core
would have handled it, with the same arguments (the ``ResolveInfo`` is then
built on demand). The fast path itself never creates an error; errors come
from graphql-core's code and are recorded by its ``handle_field_error`` in the
same order as in stock execution. ``tests/test_fast_execution.py`` runs many
queries through both executors and requires byte-identical responses.

Fields with resolvers (connections, anything with arguments) go through
graphql-core's path; their *results* are then completed on the fast path when
the value qualifies. Relation fields declared with
:class:`schema.relations.Relation` are the exception: when a resolver's result
is completed, the relations its selection asks for are loaded for the whole
page at once (one call per loader, :meth:`FastExecutionContext._prefetch`) and
stored on the objects, and those fields are then read like attributes; where
nothing was stored (a failed batch, arguments, a directive) the field's own
resolver runs, asking the same loader for the same value.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)
from graphql.execution.executor import collect_iterator_awaitables, to_nodes
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution_plans import (
    NOT_FAST,
    PLAIN_KINDS,
    PREFETCHED_PREFIX,
    SLOW,
    completer_for,
    field_plan,
    leaf_serializer,
    objects_in,
    plain_selection,
    prefetch,
    relation_of,
)

__all__ = ["PREFETCHED_PREFIX", "FastExecutionContext"]

_EXECUTOR_COMPLETE_VALUE = StrawberryGraphQLCoreExecutionContext.complete_value

_K_PLAIN, _K_LEAF, _K_FAST, _K_STOCK = "plain", "leaf", "fast", "stock"  # execute_fields entry kinds
_UNREAD = object()  # a fast field's value not read yet
_TYPENAME = object()  # plan marker: __typename


async def gather_settled(*awaitables: Any) -> list[Any]:
    """Await every sibling, then raise the first error, as graphql-js does.

    graphql-core 3.3 cancels the siblings of a field whose error reaches a
    non-null parent. Ours share the request's database session: a statement
    cancelled half-way leaves the connection busy or invalidated, and the
    request's other root fields then fail with SERVICE_UNAVAILABLE (a bad
    cursor in one analytics section took the KPIs beside it down). The
    siblings' work is small and bounded by the request's cost, so it is
    finished rather than torn off. Cancelling the request itself (a client
    gone, a statement timeout) still cancels every child.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with a fast path for plain attribute fields.

    Pass as ``execution_context_class`` to ``strawberry.Schema``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._fast_enabled = (manager is None or not manager.middlewares) and self.abort_signal is None
        # id(field_details_list) -> (field_details_list, parent_type, plan)
        self._node_plans: dict[int, tuple[Any, Any, Any]] = {}
        # id(grouped_field_set) -> (grouped_field_set, parent_type, [(name, fdl, shortcut)])
        self._set_plans: dict[int, tuple[Any, Any, list]] = {}
        # (object type, id(field_details_list)) -> (field_details_list, prefetch steps)
        self._prefetch_plans: dict[tuple[Any, int], tuple[Any, tuple]] = {}

    # -- selection sets ----------------------------------------------------

    def _entry(self, parent_type: GraphQLObjectType, response_name: str, field_details_list: Any) -> tuple:
        """How :meth:`execute_fields` treats one field of a selection set, decided once per request.

        ``(response_name, field_details_list, kind, a, b, c)`` where ``kind`` is

        * ``_TYPENAME``: the parent type's name;
        * ``_K_PLAIN``: ``a`` reads a ``String``/``ID``/``Boolean`` (``b`` its
          Python type, ``c`` nullable) whose value graphql-core stores unchanged;
        * ``_K_LEAF``: ``a`` reads another scalar or an enum, ``b`` maps a value
          to its serialised form or ``SLOW`` (then the full fast path decides),
          ``c`` nullable;
        * ``_K_FAST``: ``a`` is the field's fast plan (lists, objects, relations);
        * ``_K_STOCK``: graphql-core's own ``execute_field``.
        """
        plan = self._node_plan(parent_type, field_details_list)
        if plan is _TYPENAME:
            return (response_name, field_details_list, _TYPENAME, None, None, None)
        if plan is NOT_FAST:
            return (response_name, field_details_list, _K_STOCK, None, None, None)
        getter, field_def, _complete = plan
        field_type = field_def.type
        nullable = not isinstance(field_type, GraphQLNonNull)
        leaf = field_type if nullable else field_type.of_type
        if isinstance(leaf, GraphQLScalarType):
            kind = PLAIN_KINDS.get(leaf.coerce_output_value)
            if kind is not None:
                return (response_name, field_details_list, _K_PLAIN, getter, kind, nullable)
        if isinstance(leaf, (GraphQLScalarType, GraphQLEnumType)):
            return (response_name, field_details_list, _K_LEAF, getter, leaf_serializer(leaf), nullable)
        return (response_name, field_details_list, _K_FAST, plan, None, None)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """Mirrors ``Executor.execute_fields``, storing plain leaf values directly."""
        if position_context is not None or not self._fast_enabled:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        key = id(grouped_field_set)
        entry = self._set_plans.get(key)
        if entry is None or entry[0] is not grouped_field_set or entry[1] is not parent_type:
            fields = [self._entry(parent_type, name, fdl) for name, fdl in grouped_field_set.items()]
            entry = (grouped_field_set, parent_type, fields)
            self._set_plans[key] = entry
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for response_name, field_details_list, kind, a, b, c in entry[2]:
                if kind is _K_PLAIN or kind is _K_LEAF:
                    try:
                        value = a(source_value)
                    except Exception:
                        # Let graphql-core resolve (and fail) the field itself.
                        result = super().execute_field(
                            parent_type,
                            source_value,
                            field_details_list,
                            Path(path, response_name, type_name),
                            position_context,
                        )
                    else:
                        if value is None:
                            if c:
                                results[response_name] = None
                                continue
                        elif kind is _K_PLAIN:
                            if type(value) is b:
                                results[response_name] = value
                                continue
                        else:
                            serialized = b(value)
                            if serialized is not SLOW:
                                results[response_name] = serialized
                                continue
                        result = self._execute_fast_field(
                            self._node_plan(parent_type, field_details_list),
                            parent_type,
                            source_value,
                            field_details_list,
                            Path(path, response_name, type_name),
                            value,
                        )
                elif kind is _K_FAST:
                    result = self._execute_fast_field(
                        a, parent_type, source_value, field_details_list, Path(path, response_name, type_name), _UNREAD
                    )
                elif kind is _TYPENAME:
                    results[response_name] = type_name
                    continue
                else:
                    result = super().execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, type_name),
                        position_context,
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_settled(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    # -- field execution ---------------------------------------------------

    def _plan(self, parent_type: GraphQLObjectType, field_details_list: Any) -> Any:
        name = field_details_list[0].node.name.value
        if not plain_selection(field_details_list):
            return NOT_FAST
        if name == "__typename":
            return _TYPENAME
        field_def = self.schema.get_field(parent_type, name)
        if field_def is None:
            return NOT_FAST
        getter = field_plan(field_def)
        if getter is NOT_FAST:
            return NOT_FAST
        return (getter, field_def, completer_for(field_def.type))

    def _node_plan(self, parent_type: GraphQLObjectType, field_details_list: Any) -> Any:
        key = id(field_details_list)
        entry = self._node_plans.get(key)
        if entry is None or entry[0] is not field_details_list or entry[1] is not parent_type:
            entry = (field_details_list, parent_type, self._plan(parent_type, field_details_list))
            self._node_plans[key] = entry
        return entry[2]

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        if position_context is not None or not self._fast_enabled:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        plan = self._node_plan(parent_type, field_details_list)
        if plan is NOT_FAST:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        if plan is _TYPENAME:
            # graphql-core: TypeNameMetaFieldDef resolves info.parent_type.name, a
            # str completed as String! unchanged.
            return parent_type.name
        return self._execute_fast_field(plan, parent_type, source, field_details_list, path, _UNREAD)

    def _execute_fast_field(
        self, plan: tuple, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Path, result: Any
    ) -> Any:
        """A fast field with its ``plan``, from its value (``_UNREAD``: read it first)."""
        getter, field_def, complete = plan
        if result is _UNREAD:
            try:
                result = getter(source)
            except Exception:
                # Let graphql-core resolve (and fail) the field itself.
                return super().execute_field(parent_type, source, field_details_list, path, None)
        return_type = field_def.type
        # Mirrors Executor.execute_field from the resolver's result on.
        try:
            completed = complete(self, field_details_list, path, result, (field_def, parent_type, path))
            if self.is_awaitable(completed):

                async def await_completed() -> Any:
                    try:
                        return await completed
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, return_type, field_details_list, path)
                        return None

                return await_completed()
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    # -- graphql-core's path for one value ---------------------------------

    def _resolve_info(self, finfo: Any, field_details_list: Any) -> Any:
        """The ``ResolveInfo`` of the field being completed.

        ``finfo`` is either that info (when graphql-core built one, for fields
        with resolvers) or ``(field_def, parent_type, path of the field)`` for
        fast fields, whose info is built only when a value needs graphql-core's
        completion (rare), so the common path creates none.
        """
        if type(finfo) is not tuple:
            return finfo
        field_def, parent_type, path = finfo
        return self.build_resolve_info(field_def, to_nodes(field_details_list), parent_type, path)

    def _stock_complete(self, return_type: Any, field_details_list: Any, path: Path, result: Any, finfo: Any) -> Any:
        """graphql-core's own ``complete_value`` for this value, with the same arguments."""
        return _EXECUTOR_COMPLETE_VALUE(
            self, return_type, field_details_list, self._resolve_info(finfo, field_details_list), path, result, None
        )

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """Complete a resolver's result (or a list item) on the fast path where it applies."""
        if position_context is not None or not self._fast_enabled:
            return _EXECUTOR_COMPLETE_VALUE(self, return_type, field_details_list, info, path, result, position_context)
        complete = completer_for(return_type)
        if result is not None and (type(result) is list or not self.is_awaitable(result)):
            named = get_named_type(return_type)
            if isinstance(named, GraphQLObjectType):
                steps = self._prefetch_plan(named, field_details_list)
                if steps:
                    sources = objects_in(result)
                    if sources:
                        return self._prefetch_then_complete(
                            steps, sources, complete, field_details_list, path, result, info
                        )
        return complete(self, field_details_list, path, result, info)

    # -- relations prefetched for a whole page -----------------------------
    #
    # A resolver's result (a connection, a list of customers, one customer) is
    # completed by walking its selection set with every object of the same
    # type at once: each selected relation field (schema/relations.py) is
    # loaded for all of them with one call to its loader and stored on the
    # objects, and plain attributes leading to further objects (edges → node)
    # are followed. The fields then complete on the fast path as attributes.
    # Relations that share a loader on one level (Subscription.licenses and
    # Trial.licenses) share its batch. A relation not prefetched (an argument,
    # a directive other than @include/@skip, a failed batch) keeps its
    # resolver, which asks the same loader for the same value.

    def _prefetch_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple:
        """``((relation step | attribute step), …)`` for the selection of ``object_type``; cached per request."""
        key = (object_type, id(field_details_list))
        entry = self._prefetch_plans.get(key)
        if entry is not None and entry[0] is field_details_list:
            return entry[1]
        self._prefetch_plans[key] = (field_details_list, ())  # cycles end here
        grouped_field_set = self.collect_subfields(object_type, field_details_list)[0]
        steps: list[tuple[str | None, Any, tuple]] = []
        for sub_list in grouped_field_set.values():
            if not plain_selection(sub_list):
                continue
            field_def = self.schema.get_field(object_type, sub_list[0].node.name.value)
            if field_def is None:
                continue
            named = get_named_type(field_def.type)
            child = self._prefetch_plan(named, sub_list) if isinstance(named, GraphQLObjectType) else ()
            relation = relation_of(field_def)
            if relation is not None:
                steps.append((relation[0], relation[1], child))
            elif child:
                getter = field_plan(field_def)
                if getter is not NOT_FAST:
                    steps.append((None, getter, child))
        plan = tuple(steps)
        self._prefetch_plans[key] = (field_details_list, plan)
        return plan

    async def _prefetch_then_complete(
        self,
        steps: tuple,
        sources: list,
        complete: Callable,
        field_details_list: Any,
        path: Path,
        result: Any,
        info: Any,
    ) -> Any:
        with contextlib.suppress(Exception):
            await self._prefetch(steps, sources)
        completed = complete(self, field_details_list, path, result, info)
        if self.is_awaitable(completed):
            return await completed
        return completed

    async def _prefetch(self, steps: tuple, sources: list) -> None:
        await prefetch(self.context_value, steps, sources)

    def _complete_items(
        self, item_type: Any, complete_item: Callable, field_details_list: Any, path: Path, items: Any, finfo: Any
    ) -> Any:
        """Mirrors ``Executor.complete_iterable_value`` (no ``@stream``) item by item."""
        is_awaitable = self.is_awaitable
        completed_results: list[Any] = []
        append = completed_results.append
        awaitable_indices: list[int] = []
        index = 0
        iterator = iter(items)
        try:
            for item in iterator:
                item_path = Path(path, index, None)
                if is_awaitable(item):
                    append(
                        self.complete_awaitable_list_item_value(
                            item,
                            item_type,
                            field_details_list,
                            self._resolve_info(finfo, field_details_list),
                            item_path,
                            None,
                        )
                    )
                    awaitable_indices.append(index)
                else:
                    # Mirrors Executor.complete_list_item_value.
                    try:
                        completed_item = complete_item(self, field_details_list, item_path, item, finfo)
                        if is_awaitable(completed_item):
                            append(self._await_item(completed_item, item_type, field_details_list, item_path))
                            awaitable_indices.append(index)
                        else:
                            append(completed_item)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                        append(None)
                index += 1
        except Exception:
            pending = [completed_results[i] for i in awaitable_indices]
            pending.extend(collect_iterator_awaitables(iterator, is_awaitable))
            if pending:
                self.settle_in_background(pending)
            raise
        if not awaitable_indices:
            return completed_results

        async def get_completed_results() -> list[Any]:
            if len(awaitable_indices) == 1:
                i = awaitable_indices[0]
                completed_results[i] = await completed_results[i]
            else:
                awaited = await gather_settled(*(completed_results[i] for i in awaitable_indices))
                for i, value in zip(awaitable_indices, awaited, strict=True):
                    completed_results[i] = value
            return completed_results

        return get_completed_results()

    async def _await_item(self, completed_item: Any, item_type: Any, field_details_list: Any, item_path: Path) -> Any:
        try:
            return await completed_item
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field_details_list, item_path)
            return None
