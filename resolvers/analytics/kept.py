"""Results computed from a partner's stored facts, kept in the process while the facts stay the same.

Every writer of a partner's facts gives its ``analytics_fact_day`` row a new
random ``version`` in its own transaction (db/analytics_facts.py), and a
request that reads the stored facts reads that version first, in the
statement that tells it the facts are current (:mod:`.facts`). A result
computed from the facts is kept under the version read before it, so:

* a request never gets a result older than the facts it saw: any commit
  after its version read gives the facts another version, which nothing is
  kept under yet (on PostgreSQL each later statement sees at least what the
  version read saw; on SQLite the request's reads share one snapshot);
* a result computed after a concurrent commit, kept under the older version,
  is newer than that version: a request that read the older one may get it,
  as if it had started a moment later;
* a rolled-back write restores the old version, which stays right for the
  old facts, and its own random value is never seen again;
* every worker keeps its own results and reads the version from the
  database, so a write on one worker is seen by every other at once.

Only partner-wide viewers read the facts, so nothing of one viewer is kept:
keys name the partner (in the frame) and what was asked, never a session.
At most :data:`KEPT_SIZE` results, least recently used forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

KEPT_SIZE = 512
"""Results kept per process: a dashboard keeps eleven (kpis, five sections' KPIs and first pages)."""

_kept: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


async def kept(version: int | None, key: tuple[Hashable, ...], compute: Callable[[], Awaitable[T]]) -> T:
    """``compute()``'s result, kept under ``(version, key)``; computed each time when ``version`` is None.

    Args:
        version: The facts version the request read, or None when it reads
            no stored facts (another day, a sales viewer).
        key: What was asked: the partner, the statement's arguments.
        compute: Computes the result from the facts.
    """
    if version is None:
        return await compute()
    full = (version, *key)
    if full in _kept:
        _kept.move_to_end(full)
        return _kept[full]
    value = await compute()
    _kept[full] = value
    if len(_kept) > KEPT_SIZE:
        _kept.popitem(last=False)
    return value


def forget_all() -> None:
    """Forget every kept result (tests that compare kept with computed answers)."""
    _kept.clear()


__all__ = ["KEPT_SIZE", "forget_all", "kept"]
