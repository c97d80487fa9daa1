"""Opaque Relay global IDs: unpadded URL-safe base64 of ``"<TypeName>:<database id>"``.

Only the exact spelling we issue decodes (SPEC §3.2). Base64 decoders accept
many spellings of one value (padding, ``+``/``/`` for ``-``/``_``, skipped
junk characters, non-zero trailing bits) and ``int()`` accepts many spellings
of one number (``007``, ``+7``, ``٧``, ``７``); letting them through would give
one object several ids and let a caller probe past the 32-bit id columns.
So a global id is decoded, checked against a strict pattern, and accepted
only when encoding the result gives back the very same string.
"""

from __future__ import annotations

import base64
import binascii
import re

from db.text import INT32_MAX

NODE_TYPES = frozenset({"Customer", "Subscription", "Trial", "PartnerAdmin", "AuditEvent"})

# Database ids are positive 32-bit integers: ASCII digits, no sign, no leading zero.
_NUMBER = re.compile(r"[1-9][0-9]{0,9}")
# The longest id we issue, "PartnerAdmin:2147483647", is 23 bytes, 31 base64
# characters; anything much longer is refused before it is decoded.
_MAX_LENGTH = 64


# Ids already encoded, per node type: a page encodes one per object (94 on page
# (0)) and the same objects are asked for again and again; a hit costs ~0.1 µs
# against ~0.5 µs to encode (bench/README.md, "Measured"). Bounded per type
# (emptied when full: ~2.5 MB each at most); only exact ``int`` ids, so that
# ``True`` (equal to 1 as a key) never answers for 1.
_ENCODED: dict[str, dict[int, str]] = {name: {} for name in NODE_TYPES}
_ENCODED_PER_TYPE = 16_384


def _encode(type_name: str, db_id: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("=")


def to_global_id(type_name: str, db_id: int) -> str:
    """The global ID of the ``type_name`` object with database id ``db_id``."""
    cache = _ENCODED.get(type_name)
    if cache is None or type(db_id) is not int:
        return _encode(type_name, db_id)
    encoded = cache.get(db_id)
    if encoded is None:
        encoded = _encode(type_name, db_id)
        if len(cache) >= _ENCODED_PER_TYPE:
            cache.clear()
        cache[db_id] = encoded
    return encoded


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """``(type_name, db_id)`` of a global ID, or ``None`` when it is not one we issued.

    ``to_global_id(*from_global_id(x)) == x`` for every ``x`` accepted.
    """
    if not isinstance(global_id, str) or len(global_id) > _MAX_LENGTH or not global_id.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode((global_id + "=" * (-len(global_id) % 4)).encode()).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    type_name, sep, number = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not _NUMBER.fullmatch(number):
        return None
    db_id = int(number)
    if db_id > INT32_MAX or to_global_id(type_name, db_id) != global_id:
        return None
    return type_name, db_id


def id_of(global_id: str, type_name: str) -> int | None:
    """Database id of a global ID of type ``type_name``; ``None`` otherwise."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
