"""The tables of :mod:`db.models` as SQLAlchemy Core ``Table`` objects, named once.

Queries are written in Core (the ORM layer adds nothing to a select of a few
columns and costs per row); every module takes its tables from here.
"""

from __future__ import annotations

from db.models import (
    ApiToken,
    AuditEvent,
    Customer,
    CustomerAdmin,
    Invoice,
    LicenseLine,
    Partner,
    PartnerAdmin,
    Plan,
    PurchaseOrder,
    TrendCache,
    TrendCacheVersion,
    UsageSnapshot,
)

PARTNER = Partner.__table__
ADMIN = PartnerAdmin.__table__
TOKEN = ApiToken.__table__
CUSTOMER = Customer.__table__
ASSIGNMENT = CustomerAdmin.__table__
PLAN = Plan.__table__
LINE = LicenseLine.__table__
SNAPSHOT = UsageSnapshot.__table__
INVOICE = Invoice.__table__
ORDER = PurchaseOrder.__table__
AUDIT = AuditEvent.__table__
TREND_CACHE = TrendCache.__table__
TREND_CACHE_VERSION = TrendCacheVersion.__table__

__all__ = [
    "ADMIN",
    "ASSIGNMENT",
    "AUDIT",
    "CUSTOMER",
    "INVOICE",
    "LINE",
    "ORDER",
    "PARTNER",
    "PLAN",
    "SNAPSHOT",
    "TOKEN",
    "TREND_CACHE",
    "TREND_CACHE_VERSION",
]
