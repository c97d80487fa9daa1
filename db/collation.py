"""Customer name order and search keys (SPEC §2 "Order of lists", §3 ``CustomerFilter.search``).

Both keys are computed here, in Python, once per write and stored, so that
SQLite and PostgreSQL order and match names identically whatever their
locale or ICU build:

* ``sort_key``: the Unicode Collation Algorithm's default order (DUCET,
  non-ignorable, as pyuca computes it), packed as big-endian 16-bit weights,
  then the NFC name's UTF-8. Both databases compare it bytewise (SQLite BLOB,
  PostgreSQL ``bytea``), and bytewise order of fixed-width big-endian weights
  is the order of the weight tuples. A UCA key is ``primaries 0 secondaries 0
  tertiaries 0`` with no zero inside a level, so no key is a proper prefix of
  another and the name bytes appended only break ties between different
  names that collate equal ("ｍ" and "m"); equal names still tie and the
  lists break that by id.
* ``search_key``: the name with case and accents folded away, matched with
  LIKE against the search text folded the same way.
"""

from __future__ import annotations

import functools
import struct
import unicodedata
from typing import Any

from pyuca.collator import Collator_9_0_0

from db.models import fold

# PostgreSQL refuses a B-tree entry over 2704 bytes (a third of a page), and
# (partner_id, sort_key, id) is indexed. A 200-character Latin name needs
# about 1,400 bytes; only names of long expansions (U+FDFA is 18 collation
# elements) reach the cap, and such names then tie beyond it, deterministically.
MAX_SORT_KEY = 2400

# Letters whose DUCET primary weights equal those of a base letter (or two)
# but which have no canonical decomposition to strip (pinned by
# tests/test_name_order.py against pyuca). ``ı`` is the exception: DUCET
# makes it its own letter, but "diyarbakir" typed on a keyboard without it
# should still find "Diyarbakır".
_SEARCH_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "æ": "ae", "œ": "oe", "ı": "i"})


@functools.cache
def _collator() -> Collator_9_0_0:
    # Loading the table takes ~0.15 s: done on first use, not on import.
    # Pinned to the 9.0.0 table (pyuca's default on Python 3) because stored
    # keys depend on it: another table needs a migration that recomputes them.
    return Collator_9_0_0()


def sort_key(name: str) -> bytes:
    """The bytes that order ``name`` among customer names (DUCET order, then the name itself)."""
    name = unicodedata.normalize("NFC", name)
    weights = _collator().sort_key(name)
    key = struct.pack(f">{len(weights)}H", *weights) + name.encode("utf-8")
    return key[:MAX_SORT_KEY]


@functools.cache
def _ignored_at_primary_level(char: str) -> bool:
    """A non-spacing mark that DUCET weighs at the secondary or tertiary level only (an accent)."""
    if unicodedata.category(char) != "Mn":
        return False
    weights = _collator().sort_key(char)
    return weights.index(0) == 0


def search_fold(text: str) -> str:
    """``text`` without case and accents: "Čačak", "CAČ" and "cač" fold into "cacak", "cac", "cac".

    Compatibility forms become their plain letters (NFKD: "ﬁ" → "fi", full-width
    → ASCII), case folds ("ß" → "ss", "İ" → "i"), accents DUCET ignores at its
    primary level are dropped (so Cyrillic "й" folds to "и" too), and the
    letters of ``_SEARCH_LETTERS`` become their base letters.
    """
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in folded if not _ignored_at_primary_level(c)).translate(_SEARCH_LETTERS)


def name_columns(name: str) -> dict[str, Any]:
    """The values of the customer columns derived from its name, for every writer of ``customer.name``."""
    return {"name_key": fold(name), "sort_key": sort_key(name), "search_key": search_fold(name)}
