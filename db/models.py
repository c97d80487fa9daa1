"""SQLModel tables: the whole persistent state of partnerhub (SPEC §2).

Design notes (why, not what):

* Every table has an integer surrogate key used by joins and global IDs, and
  the partner-scoped external id from the import file (``key``,
  ``ext_id``) kept unique per partner, so loads upsert by external id.
* Subscriptions and trials share one ``plan`` table (``kind``): the analytics
  of SPEC §2.2 treat both as "live plans" with licence lines, and one table
  keeps every such rule a single SQL expression instead of a UNION.
* ``license_line`` stores the values of its latest snapshot
  (``cur_date``/``cur_assigned``/...). The values "on day d" then come from the
  line itself whenever ``cur_date <= d`` (always the case for today unless a
  snapshot is dated in the future), and only otherwise from the snapshots.
* Case-insensitive names: ``name_key`` holds ``casefold(name)``; SQLite's
  ``lower()`` is ASCII-only, so the folding is done once in Python on write.
  Likewise the name's place in lists (``sort_key``, DUCET) and its search
  form (``search_key``): see :mod:`db.collation`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

PRODUCTS = ("MEETINGS", "CALLING", "MESSAGING", "REAL_TIME_TRANSLATION")
ROLES = ("PARTNER_FULL_ADMIN", "PARTNER_READ_ONLY_ADMIN", "SALES_FULL_ADMIN", "SALES_ADMIN")
MANAGED_BY = ("PARTNER_ORG", "EXTERNAL_ADMIN")
SUBSCRIPTION_STATUSES = ("ACTIVE", "SUSPENDED", "PENDING_SETUP", "CANCELLED")
TRIAL_STATUSES = ("ACTIVE", "CONVERTED", "CANCELLED")
INVOICE_STATUSES = ("PAID", "UNPAID", "OVERDUE")
ORDER_ACTIONS = ("NEW", "ADD_LICENSES", "REMOVE_LICENSES", "RENEWAL", "CANCELLATION")
PLAN_KINDS = ("SUBSCRIPTION", "TRIAL")
IDEMPOTENCY_STATUSES = ("PENDING", "DONE")


NAME_KEY_TYPE = String(200).with_variant(String(200, collation="C"), "postgresql")
# Code point order and matching on PostgreSQL whatever the database's locale, as on SQLite.
SEARCH_KEY_TYPE = Text().with_variant(Text(collation="C"), "postgresql")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def fold(name: str) -> str:
    """The case-insensitive key of a name (Unicode casefold)."""
    return name.casefold()


# Database ids are never reused (SPEC §3.2): a global id, an audit entry's actor
# and a token must never come to name another object after a delete. SQLite
# hands out max(rowid) + 1 unless the table says AUTOINCREMENT; PostgreSQL's
# serial sequences never go back (db/migrations/versions/0003).
NEVER_REUSED = {"sqlite_autoincrement": True}


def _fk(target: str, *, ondelete: str = "CASCADE", nullable: bool = False, index: bool = False) -> Column:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


class Partner(SQLModel, table=True):
    """A tenant: a reseller with its admins and customers."""

    __tablename__ = "partner"
    __table_args__ = NEVER_REUSED
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))


class PartnerAdmin(SQLModel, table=True):
    """A person of the partner with exactly one role (SPEC §4)."""

    __tablename__ = "partner_admin"
    __table_args__ = (
        UniqueConstraint("partner_id", "key", name="uq_partner_admin_key"),
        # Unique per partner, not across partners: another tenant's address must
        # be neither squatted nor revealed by EMAIL_TAKEN (issue 13).
        UniqueConstraint("partner_id", "email", name="uq_partner_admin_email"),
        Index("ix_partner_admin_partner_email", "partner_id", "email", "id"),
        CheckConstraint(_in("role", ROLES), name="ck_partner_admin_role"),
        NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    key: str = Field(sa_column=Column(String(100), nullable=False))
    # Stored lower-cased: an email identifies one person whatever its case.
    email: str = Field(sa_column=Column(String(320), nullable=False))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(32), nullable=False))


class ApiToken(SQLModel, table=True):
    """A bearer token; only the SHA-256 of the random token is kept."""

    __tablename__ = "api_token"
    __table_args__ = NEVER_REUSED
    id: int | None = Field(default=None, primary_key=True)
    admin_id: int = Field(sa_column=_fk("partner_admin.id", index=True))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Customer(SQLModel, table=True):
    """A customer organisation of a partner."""

    __tablename__ = "customer"
    __table_args__ = (
        UniqueConstraint("partner_id", "key", name="uq_customer_key"),
        UniqueConstraint("partner_id", "name_key", name="uq_customer_name"),
        Index("ix_customer_partner_created", "partner_id", "created_on", "id"),
        # Serves the NAME order and its keyset cursors (resolvers/customers.py).
        Index("ix_customer_partner_sort", "partner_id", "sort_key", "id"),
        CheckConstraint(_in("managed_by", MANAGED_BY), name="ck_customer_managed_by"),
        NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    key: str = Field(sa_column=Column(String(100), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # Unique per partner (uq_customer_name); compared by code point on both
    # databases, whatever PostgreSQL's locale.
    name_key: str = Field(sa_column=Column(NAME_KEY_TYPE, nullable=False))
    # BLOB / bytea: both databases compare it bytewise (memcmp), the same order everywhere.
    sort_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    search_key: str = Field(sa_column=Column(SEARCH_KEY_TYPE, nullable=False))
    managed_by: str = Field(sa_column=Column(String(16), nullable=False))
    created_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    last_admin_activity_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))


class CustomerAdmin(SQLModel, table=True):
    """Assignment of a partner admin (sales roles) to a customer."""

    __tablename__ = "customer_admin"
    __table_args__ = (
        PrimaryKeyConstraint("customer_id", "admin_id", name="pk_customer_admin"),
        Index("ix_customer_admin_admin", "admin_id", "customer_id"),
    )
    customer_id: int = Field(sa_column=_fk("customer.id"))
    admin_id: int = Field(sa_column=_fk("partner_admin.id"))


class Plan(SQLModel, table=True):
    """A subscription or a trial of a customer (``kind``)."""

    __tablename__ = "plan"
    __table_args__ = (
        UniqueConstraint("partner_id", "kind", "ext_id", name="uq_plan_ext_id"),
        Index("ix_plan_customer", "customer_id", "kind", "starts_on"),
        Index("ix_plan_partner_live", "partner_id", "status", "ends_on"),
        # At most one ACTIVE trial per customer; a partial index works on
        # SQLite and PostgreSQL alike and makes concurrent starts safe.
        Index(
            "uq_plan_one_active_trial",
            "customer_id",
            unique=True,
            sqlite_where=text("kind = 'TRIAL' AND status = 'ACTIVE'"),
            postgresql_where=text("kind = 'TRIAL' AND status = 'ACTIVE'"),
        ),
        CheckConstraint(
            f"(kind = 'SUBSCRIPTION' AND {_in('status', SUBSCRIPTION_STATUSES)})"
            f" OR (kind = 'TRIAL' AND {_in('status', TRIAL_STATUSES)} AND auto_renew = false)",
            name="ck_plan_status",
        ),
        CheckConstraint("starts_on <= ends_on", name="ck_plan_dates"),
        NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    customer_id: int = Field(sa_column=_fk("customer.id"))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    ext_id: str = Field(sa_column=Column(String(100), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    starts_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    ends_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    auto_renew: bool = Field(default=False, nullable=False)
    started_by_id: int | None = Field(
        default=None, sa_column=_fk("partner_admin.id", ondelete="SET NULL", nullable=True)
    )


class LicenseLine(SQLModel, table=True):
    """Licences of one product on one plan, with its latest snapshot's values."""

    __tablename__ = "license_line"
    __table_args__ = (
        UniqueConstraint("plan_id", "product", name="uq_license_line_product"),
        Index("ix_license_line_product", "product", "plan_id"),
        CheckConstraint(_in("product", PRODUCTS), name="ck_license_line_product"),
        CheckConstraint("total >= 0", name="ck_license_line_total"),
        NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=_fk("plan.id"))
    product: str = Field(sa_column=Column(String(24), nullable=False))
    total: int = Field(nullable=False)
    cur_date: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    cur_assigned: int = Field(default=0, nullable=False)
    cur_used: int = Field(default=0, nullable=False)
    cur_used90: int = Field(default=0, nullable=False)


class UsageSnapshot(SQLModel, table=True):
    """Licence use of a line as measured on ``date``."""

    __tablename__ = "usage_snapshot"
    __table_args__ = (
        PrimaryKeyConstraint("line_id", "date", name="pk_usage_snapshot"),
        CheckConstraint("assigned >= 0 AND used >= 0 AND used90 >= 0", name="ck_usage_snapshot_counts"),
    )
    line_id: int = Field(sa_column=_fk("license_line.id"))
    date: dt.date = Field(sa_column=Column(Date, nullable=False))
    assigned: int = Field(nullable=False)
    used: int = Field(nullable=False)
    used90: int = Field(nullable=False)


class Invoice(SQLModel, table=True):
    """An invoice of a subscription."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("partner_id", "number", name="uq_invoice_number"),
        Index("ix_invoice_plan", "plan_id", "issued_on"),
        CheckConstraint(_in("status", INVOICE_STATUSES), name="ck_invoice_status"),
        CheckConstraint("amount >= 0", name="ck_invoice_amount"),
        NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    plan_id: int = Field(sa_column=_fk("plan.id"))
    number: str = Field(sa_column=Column(String(100), nullable=False))
    issued_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    due_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    amount: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(8), nullable=False))


class PurchaseOrder(SQLModel, table=True):
    """An order in a subscription's history (``order`` is an SQL keyword)."""

    __tablename__ = "purchase_order"
    __table_args__ = (
        UniqueConstraint("partner_id", "number", name="uq_purchase_order_number"),
        Index("ix_purchase_order_plan", "plan_id", "placed_on"),
        CheckConstraint(_in("action", ORDER_ACTIONS), name="ck_purchase_order_action"),
        CheckConstraint(_in("product", PRODUCTS), name="ck_purchase_order_product"),
        CheckConstraint("quantity >= 0", name="ck_purchase_order_quantity"),
        NEVER_REUSED,
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    plan_id: int = Field(sa_column=_fk("plan.id"))
    number: str = Field(sa_column=Column(String(100), nullable=False))
    placed_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    action: str = Field(sa_column=Column(String(16), nullable=False))
    product: str = Field(sa_column=Column(String(24), nullable=False))
    quantity: int = Field(nullable=False)


class AuditEvent(SQLModel, table=True):
    """One change made through the API, written in the change's transaction."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_partner", "partner_id", "id"), NEVER_REUSED)
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    # No foreign key: the trail outlives a removed admin.
    actor_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    actor_email: str = Field(sa_column=Column(String(320), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False))
    target_type: str = Field(sa_column=Column(String(40), nullable=False))
    target_id: str = Field(sa_column=Column(String(200), nullable=False))
    at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    details: str = Field(sa_column=Column(Text, nullable=False))


class TrendCache(SQLModel, table=True):
    """The partner-wide licence trend of one past day and product, kept once computed.

    A cache, not a source of truth: every write that can change a row adjusts
    it in its own transaction, or recomputes or deletes it (db/trend_cache.py);
    a deleted row is rebuilt by the next request.
    """

    __tablename__ = "trend_cache"
    __table_args__ = (
        PrimaryKeyConstraint("partner_id", "product", "day", name="pk_trend_cache"),
        CheckConstraint(_in("product", PRODUCTS), name="ck_trend_cache_product"),
    )
    partner_id: int = Field(sa_column=_fk("partner.id"))
    product: str = Field(sa_column=Column(String(24), nullable=False))
    day: dt.date = Field(sa_column=Column(Date, nullable=False))
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    assigned: int = Field(sa_column=Column(BigInteger, nullable=False))
    used: int = Field(sa_column=Column(BigInteger, nullable=False))


class TrendCacheVersion(SQLModel, table=True):
    """How many times a partner's cached trend days were changed by a write (no row: never).

    Its own table rather than a partner column: the writers that bump it lock
    this row only, so they never wait for (or deadlock with) mutations that
    lock the partner row (db/trend_cache.py).
    """

    __tablename__ = "trend_cache_version"
    partner_id: int = Field(sa_column=Column(Integer, ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True))
    version: int = Field(sa_column=Column(BigInteger, nullable=False))


class AnalyticsFact(SQLModel, table=True):
    """One live licence line (MEETINGS, CALLING) of a partner on its fact day, as the analytics read it.

    Stored aggregates (db/analytics_facts.py): exactly the rows that the
    compute-on-read analytics' live lines give for the whole partner on
    ``analytics_fact_day.day``, kept in the write transaction of every
    mutation and import, and rebuilt at the first request of a new day.
    Narrow on purpose (no names: the row pages join the customer for them),
    since every KPI scans all of a partner's rows.
    """

    __tablename__ = "analytics_fact"
    __table_args__ = (
        PrimaryKeyConstraint("plan_id", "product", name="pk_analytics_fact"),
        Index("ix_analytics_fact_partner", "partner_id", "product", "ends_on"),
        Index("ix_analytics_fact_customer", "customer_id"),
    )
    partner_id: int = Field(sa_column=_fk("partner.id"))
    # No foreign keys to the plan or customer: see db/analytics_facts.py ("Races").
    customer_id: int = Field(sa_column=Column(Integer, nullable=False))
    plan_id: int = Field(sa_column=Column(Integer, nullable=False))
    product: str = Field(sa_column=Column(String(24), nullable=False))
    plan_type: str = Field(sa_column=Column(String(12), nullable=False))
    subscription_id: str = Field(sa_column=Column(String(100), nullable=False))
    auto_renew: bool = Field(sa_column=Column(Boolean, nullable=False))
    starts_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    ends_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    total: int = Field(sa_column=Column(Integer, nullable=False))
    assigned: int = Field(sa_column=Column(Integer, nullable=False))
    used: int = Field(sa_column=Column(Integer, nullable=False))
    used90: int = Field(sa_column=Column(Integer, nullable=False))
    # The values seven days before the fact day; NULL without a snapshot then.
    assigned_prev: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    used_prev: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class AnalyticsFactDay(SQLModel, table=True):
    """The day a partner's ``analytics_fact`` rows are for, and the eligibility age its medians used.

    Its row is also the lock that serialises the writers of the partner's
    facts (upserted first by each of them).
    """

    __tablename__ = "analytics_fact_day"
    partner_id: int = Field(sa_column=Column(Integer, ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True))
    day: dt.date = Field(sa_column=Column(Date, nullable=False))
    min_days: int = Field(sa_column=Column(Integer, nullable=False))
    # Changed to a new random value by every writer of the partner's facts
    # (db.analytics_facts.lock_statement): results computed from the facts are
    # kept while it stays the same. Random, not a counter: a rolled-back write
    # must never leave a value that a later write could reuse.
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class AnalyticsMedian(SQLModel, table=True):
    """The partner-wide low-assignment median of one product on the fact day (NULL: no eligible line)."""

    __tablename__ = "analytics_median"
    __table_args__ = (PrimaryKeyConstraint("partner_id", "product", name="pk_analytics_median"),)
    partner_id: int = Field(sa_column=_fk("partner.id"))
    product: str = Field(sa_column=Column(String(24), nullable=False))
    rate: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class IdempotencyKey(SQLModel, table=True):
    """A mutation request sent with an ``Idempotency-Key`` header, and its answer once it has one (web/idempotency.py).

    The primary key is the uniqueness rule: of two requests with one admin
    and key, the database lets one insert its row, and that one runs.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (
        PrimaryKeyConstraint("partner_admin_id", "key", name="pk_idempotency_key"),
        CheckConstraint(_in("status", IDEMPOTENCY_STATUSES), name="ck_idempotency_key_status"),
    )
    partner_admin_id: int = Field(sa_column=_fk("partner_admin.id"))
    key: str = Field(sa_column=Column(String(255), nullable=False))
    # sha256 of the query text, operation name and canonical variables.
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    http_status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


metadata = SQLModel.metadata
