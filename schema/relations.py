"""Relation fields that one DataLoader resolves, per object or for a whole page at once.

A relation field (``Customer.subscriptions``, ``Subscription.licenses``, …)
is declared once as a :class:`Relation`: which per-request loader answers it,
which attribute of the object is the loader's key, and which part of the
loaded value is the field's value. The field's resolver is
:meth:`Relation.resolve` (one ``load`` per object, batched by the loader), and
the same object goes into the field's ``metadata`` under :data:`RELATION`, so
that :class:`schema.execution.FastExecutionContext` can fill the field for
every object of a page with one call to the same loader before completing the
page, instead of paying a coroutine, a future and graphql-core's awaitable
machinery per object. Loaders answer records; the relation's ``build`` turns
each record into the field's GraphQL object, the same way on both paths, so
the response is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["RELATION", "Relation"]

RELATION = "partnerhub.relation"


@dataclass(frozen=True)
class Relation:
    """A field whose value is built from ``loader.load(source.<key>)`` (or one item of it).

    Attributes:
        loader: Attribute of the request's ``Loaders`` that answers the field.
        key: Attribute of the source object holding the loader's key; when it
            is ``None`` the field is null without a lookup.
        build: ``build(record, context)``: the GraphQL object of one record;
            ``None`` when the loaded values are the field's values already
            (statuses, products).
        many: The loaded value is a list of records (else one record or ``None``).
        pick: Index into the loaded value (a loader may answer two fields at
            once, e.g. ``(subscriptions, trials)``), or ``None`` for all of it.
    """

    loader: str
    key: str
    build: Callable[[Any, Any], Any] | None
    many: bool = False
    pick: int | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        """The strawberry field ``metadata`` that declares this relation to the executor."""
        return {RELATION: self}

    async def resolve(self, context: Any, source: Any) -> Any:
        """The field's value for one object, through the request's loader."""
        key = getattr(source, self.key)
        if key is None:
            return None
        return self._value(context, await getattr(context.loaders, self.loader).load(key))

    def loader_of(self, context: Any) -> Any:
        """The request's loader that answers this relation (groups prefetches by loader)."""
        return getattr(context.loaders, self.loader)

    def keys_of(self, sources: Iterable[Any]) -> list[Any]:
        """The loader key of each source (``None`` where the field is null)."""
        attribute = self.key
        return [getattr(source, attribute) for source in sources]

    def value_of(self, context: Any, loader: Any, key: Any) -> Any:
        """The field's value for ``key`` once ``loader.load_now`` has loaded it."""
        if key is None:
            return None
        return self._value(context, loader.peek(key))

    def _value(self, context: Any, loaded: Any) -> Any:
        if self.pick is not None:
            loaded = loaded[self.pick]
        build = self.build
        if build is None:
            return loaded
        if self.many:
            return [build(record, context) for record in loaded]
        return None if loaded is None else build(loaded, context)
