"""The request's loaders (loaders/__init__.py): created on first use (issue 14)."""

from __future__ import annotations

import datetime as dt

from aiodataloader import DataLoader

from db.rules import StatusWindows
from loaders import Loaders, PlansByCustomerLoader


async def test_loaders_are_created_on_first_use_and_kept(session) -> None:
    loaders = Loaders(session=session, viewer=None, today=dt.date(2026, 11, 25), windows=StatusWindows(30, 30))
    # None of the 15 exists before a request asks for one.
    assert [v for v in vars(loaders).values() if isinstance(v, DataLoader)] == []
    plans = loaders.plans_by_customer
    assert isinstance(plans, PlansByCustomerLoader) and plans.loaders is loaders
    assert loaders.plans_by_customer is plans  # the same loader (and cache) for the whole request
    assert [v for v in vars(loaders).values() if isinstance(v, DataLoader)] == [plans]
    plans.prime(7, ([], []))
    loaders.clear_all()  # clears the loaders created so far, creates none
    assert plans._cache == {}
    assert [v for v in vars(loaders).values() if isinstance(v, DataLoader)] == [plans]
    # Another request's Loaders has loaders of its own.
    other = Loaders(session=session, viewer=None, today=dt.date(2026, 11, 25), windows=StatusWindows(30, 30))
    assert other.plans_by_customer is not plans
