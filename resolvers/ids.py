"""Opaque Relay global IDs: base64 of ``"<TypeName>:<database id>"``."""

from __future__ import annotations

import base64
import binascii

NODE_TYPES = frozenset({"Customer", "Subscription", "Trial", "PartnerAdmin", "AuditEvent"})


def to_global_id(type_name: str, db_id: int) -> str:
    """The global ID of the ``type_name`` object with database id ``db_id``."""
    return base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """``(type_name, db_id)`` of a global ID, or ``None`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode((global_id + "=" * (-len(global_id) % 4)).encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    type_name, sep, number = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not number.isdigit() or len(number) > 18:
        return None
    return type_name, int(number)


def id_of(global_id: str, type_name: str) -> int | None:
    """Database id of a global ID of type ``type_name``; ``None`` otherwise."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
