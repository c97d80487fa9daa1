"""Relation fields that one DataLoader resolves, per object or for a whole page at once.

A relation field (``Customer.subscriptions``, ``Subscription.licenses``, …)
is declared once as a :class:`Relation`: which per-request loader answers it,
which attribute of the object is the loader's key, and which part of the
loaded value is the field's value. The field's resolver is
:meth:`Relation.resolve` (one ``load`` per object, batched by the loader), and
the same object goes into the field's ``metadata`` under :data:`RELATION`, so
that :class:`schema.execution.FastExecutionContext` can fill the field for
every object of a page with one call to the same loader before completing the
page (:meth:`Relation.prefetch`), instead of paying a coroutine, a future and
graphql-core's awaitable machinery per object. Either way the value is the
same object the loader returned, so the response is the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["RELATION", "Relation"]

RELATION = "partnerhub.relation"


@dataclass(frozen=True)
class Relation:
    """A field whose value is ``loader.load(source.<key>)`` (or one item of it).

    Attributes:
        loader: Attribute of the request's ``Loaders`` that answers the field.
        key: Attribute of the source object holding the loader's key; when it
            is ``None`` the field is null without a lookup.
        pick: Index into the loaded value (a loader may answer two fields at
            once, e.g. ``(subscriptions, trials)``), or ``None`` for all of it.
    """

    loader: str
    key: str
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
        return self._part(await getattr(context.loaders, self.loader).load(key))

    def loader_of(self, context: Any) -> Any:
        """The request's loader that answers this relation (groups prefetches by loader)."""
        return getattr(context.loaders, self.loader)

    def keys_of(self, sources: Iterable[Any]) -> list[Any]:
        """The loader key of each source (``None`` where the field is null)."""
        attribute = self.key
        return [getattr(source, attribute) for source in sources]

    def value_of(self, loader: Any, key: Any) -> Any:
        """The field's value for ``key`` once :meth:`loader.load_now` has loaded it."""
        if key is None:
            return None
        return self._part(loader.peek(key))

    def _part(self, loaded: Any) -> Any:
        return loaded if self.pick is None else loaded[self.pick]
