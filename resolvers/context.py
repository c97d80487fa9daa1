"""The per-request context handed to every resolver."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.settings import Settings
from resolvers.permissions import Viewer
from resolvers.rules import StatusWindows

if TYPE_CHECKING:
    from loaders import Loaders


@dataclass
class Context:
    """Everything a resolver may use: one session, the viewer, fresh loaders.

    Attributes:
        session: The request's database session (its connection is opened
            before execution so concurrent loaders share it safely).
        viewer: The authenticated admin; ``None`` only for introspection.
        loaders: DataLoaders built for this request alone.
        today: "Today" frozen at the start of the request.
        settings: Settings read at start-up.
        stats: Per-request counters (SQL statements) for logs and tests.
    """

    session: AsyncSession
    viewer: Viewer | None
    loaders: Loaders
    today: dt.date
    settings: Settings
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def windows(self) -> StatusWindows:
        """The status windows of SPEC §2.1 from the settings."""
        return StatusWindows(self.settings.expiring_soon_days, self.settings.inactive_days)

    def require_viewer(self) -> Viewer:
        """The viewer; the HTTP layer guarantees one for anything but introspection."""
        if self.viewer is None:  # pragma: no cover - the HTTP layer answers 401 first
            from graphql import GraphQLError

            raise GraphQLError("Authentication required.", extensions={"code": "UNAUTHENTICATED"})
        return self.viewer
