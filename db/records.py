"""Result rows as named tuples: the plain records every layer above ``db`` passes around."""

from __future__ import annotations

import functools
from collections import namedtuple
from typing import Any


@functools.lru_cache(maxsize=128)
def _record_type(keys: tuple[str, ...]) -> Any:
    return namedtuple("Record", keys, rename=True)


def records(result: Any) -> list[Any]:
    """The rows of a SQLAlchemy result as named tuples.

    Reading a column by name is an order of magnitude cheaper from a named
    tuple than from a SQLAlchemy ``Row``, and a list page reads thousands
    (bench/README.md, "Measured").
    """
    make = _record_type(tuple(result.keys()))
    return [make(*row) for row in result.all()]
