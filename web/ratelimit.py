"""Each caller's budget of cost points, refilled over time (SPEC §3.2).

A token bucket per caller: it holds at most ``capacity`` points and regains
``refill_per_second``; a request takes its cost (``schema/cost.py``) before it
runs, or is refused with HTTP 429 and a ``Retry-After`` of the seconds until
the bucket holds enough. Callers are keyed by the hash of the bearer token
they present (no database look-up is needed to charge it), or by client
address for the unauthenticated introspection queries.

Buckets live in the process: with ``--workers N`` each worker keeps its own,
so a caller spread over N workers may spend up to N budgets. At most
``max_callers`` buckets are kept (least recently used dropped): a dropped
bucket comes back full, which only ever errs towards letting a caller in.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Charge:
    """The outcome of charging one request.

    Attributes:
        allowed: The bucket held enough points; they were taken.
        remaining: Points left in the bucket afterwards (whole points).
        retry_after: Seconds until the request would fit, when refused.
    """

    allowed: bool
    remaining: int
    retry_after: int


class Budgets:
    """Token buckets of cost points by caller key."""

    def __init__(
        self,
        *,
        capacity: float,
        refill_per_second: float,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("a budget needs a positive capacity and refill rate")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.max_callers = max_callers
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def charge(self, caller: str, cost: int) -> Charge:
        """Take ``cost`` points from ``caller``'s bucket if it holds them."""
        now = self.clock()
        level, then = self._buckets.pop(caller, (self.capacity, now))
        level = min(self.capacity, level + (now - then) * self.refill_per_second)
        if cost <= level:
            level -= cost
            self._remember(caller, level, now)
            return Charge(allowed=True, remaining=math.floor(level), retry_after=0)
        self._remember(caller, level, now)
        wait = (min(cost, self.capacity) - level) / self.refill_per_second
        return Charge(allowed=False, remaining=math.floor(level), retry_after=max(1, math.ceil(wait)))

    def _remember(self, caller: str, level: float, now: float) -> None:
        self._buckets[caller] = (level, now)
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
