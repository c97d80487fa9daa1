"""The tables of :mod:`db.models` as SQLAlchemy Core ``Table`` objects, named once.

Queries are written in Core (the ORM layer adds nothing to a select of a few
columns and costs per row); every module takes its tables from here.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from db.models import (
    AnalyticsFact,
    AnalyticsFactDay,
    AnalyticsMedian,
    ApiToken,
    AuditEvent,
    Customer,
    CustomerAdmin,
    IdempotencyKey,
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


def _table(model: type[SQLModel]) -> Table:
    """``model.__table__``: SQLModel sets it when a table model's class is created, out of mypy's sight."""
    return model.__table__  # type: ignore[attr-defined]


PARTNER = _table(Partner)
ADMIN = _table(PartnerAdmin)
TOKEN = _table(ApiToken)
CUSTOMER = _table(Customer)
ASSIGNMENT = _table(CustomerAdmin)
PLAN = _table(Plan)
LINE = _table(LicenseLine)
SNAPSHOT = _table(UsageSnapshot)
INVOICE = _table(Invoice)
ORDER = _table(PurchaseOrder)
AUDIT = _table(AuditEvent)
TREND_CACHE = _table(TrendCache)
TREND_CACHE_VERSION = _table(TrendCacheVersion)
IDEMPOTENCY_KEY = _table(IdempotencyKey)
FACT = _table(AnalyticsFact)
FACT_DAY = _table(AnalyticsFactDay)
MEDIAN = _table(AnalyticsMedian)

# A plan as the API and the export read it: every column but the partner's.
PLAN_COLUMNS = (
    PLAN.c.id,
    PLAN.c.customer_id,
    PLAN.c.kind,
    PLAN.c.ext_id,
    PLAN.c.status,
    PLAN.c.starts_on,
    PLAN.c.ends_on,
    PLAN.c.auto_renew,
    PLAN.c.started_by_id,
)

__all__ = [
    "ADMIN",
    "ASSIGNMENT",
    "AUDIT",
    "CUSTOMER",
    "FACT",
    "FACT_DAY",
    "IDEMPOTENCY_KEY",
    "INVOICE",
    "LINE",
    "MEDIAN",
    "ORDER",
    "PARTNER",
    "PLAN",
    "PLAN_COLUMNS",
    "SNAPSHOT",
    "TOKEN",
    "TREND_CACHE",
    "TREND_CACHE_VERSION",
]
