"""The per-request context handed to every resolver."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession

from db.access import Viewer
from db.rules import StatusWindows
from db.settings import Settings
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
        facts_ready: Whether the stored analytics facts are current, once
            checked (resolvers/analytics/facts.py).
        facts_version: The stored facts' version read by that check, when
            they are current (results are kept under it).
    """

    session: AsyncSession
    viewer: Viewer | None
    loaders: Loaders
    today: dt.date
    settings: Settings
    facts_ready: asyncio.Future[bool] | None = None
    facts_version: int | None = None

    @classmethod
    def create(cls, *, session: AsyncSession, viewer: Viewer | None, today: dt.date, settings: Settings) -> Context:
        """A request's context with its own fresh loaders (they must never outlive the request)."""
        windows = StatusWindows(settings.expiring_soon_days, settings.inactive_days)
        loaders = Loaders(session=session, viewer=viewer, today=today, windows=windows)
        return cls(session=session, viewer=viewer, loaders=loaders, today=today, settings=settings)

    @property
    def windows(self) -> StatusWindows:
        """The status windows of SPEC §2.1 (the loaders' own)."""
        return self.loaders.windows

    def require_viewer(self) -> Viewer:
        """The viewer; the HTTP layer guarantees one for anything but introspection."""
        if self.viewer is None:  # pragma: no cover - the HTTP layer answers 401 first
            raise GraphQLError("Authentication required.", extensions={"code": "UNAUTHENTICATED"})
        return self.viewer
