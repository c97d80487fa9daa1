"""Import and export of the JSON document of SPEC §5.

The document is validated as a whole before anything is written, so a bad
file yields every problem at once (with its JSON path) and leaves the
database untouched. Loading then upserts by external ids in one transaction.

Speed comes from doing everything in bulk, never one statement per record:
the rows a file names are fetched per partner with a handful of queries
(``= ANY(array)`` on PostgreSQL, chunked ``IN`` lists on SQLite); new rows go
in through COPY (PostgreSQL) or one executemany of plain tuples (SQLite);
existing rows are updated only where they differ, so reloading an unchanged
file writes almost nothing. Usage snapshots are nearly all the rows of a real
file (26 weekly points per line), so their path is the most tuned one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson
from asyncpg import exceptions as asyncpg_exceptions
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.schema import CreateTable, DropTable

from db import trend_cache
from db.models import (
    INVOICE_STATUSES,
    MANAGED_BY,
    ORDER_ACTIONS,
    PLAN_KINDS,
    PRODUCTS,
    ROLES,
    SUBSCRIPTION_STATUSES,
    TRIAL_STATUSES,
    ApiToken,
    Customer,
    CustomerAdmin,
    Invoice,
    LicenseLine,
    Partner,
    PartnerAdmin,
    Plan,
    PurchaseOrder,
    UsageSnapshot,
    fold,
    metadata,
)
from db.tokens import hash_token

__all__ = [
    "ImportValidationError",
    "LoadResult",
    "dump_json",
    "export_document",
    "load_document",
    "validate_document",
]

# Core tables: bulk statements skip the ORM's per-object bookkeeping.
PARTNER: Table = metadata.tables[Partner.__tablename__]
ADMIN: Table = metadata.tables[PartnerAdmin.__tablename__]
TOKEN: Table = metadata.tables[ApiToken.__tablename__]
CUSTOMER: Table = metadata.tables[Customer.__tablename__]
ASSIGNMENT: Table = metadata.tables[CustomerAdmin.__tablename__]
PLAN: Table = metadata.tables[Plan.__tablename__]
LINE: Table = metadata.tables[LicenseLine.__tablename__]
SNAPSHOT: Table = metadata.tables[UsageSnapshot.__tablename__]
INVOICE: Table = metadata.tables[Invoice.__tablename__]
ORDER: Table = metadata.tables[PurchaseOrder.__tablename__]

# Field lists per object: (required, optional). Their concatenation is also
# the key order of exported documents, so a file reads in the SPEC's order.
_ROOT = (("partners",), ())
_PARTNER = (("id", "name"), ("admins", "customers"))
_ADMIN = (("id", "email", "displayName", "role"), ("token",))
_CUSTOMER = (
    ("id", "name", "managedBy", "createdOn"),
    ("lastAdminActivityOn", "admins", "subscriptions", "trials"),
)
_SUBSCRIPTION = (("subscriptionId", "status", "startsOn", "endsOn", "autoRenew"), ("lines", "invoices", "orders"))
_TRIAL = (("trialId", "status", "startsOn", "endsOn"), ("startedBy", "lines"))
_LINE = (("product", "total"), ("usage",))
_USAGE = (("date", "assigned", "used", "used90"), ())
_INVOICE = (("number", "issuedOn", "dueOn", "amount", "currency", "status"), ())
_ORDER = (("number", "placedOn", "action", "product", "quantity"), ())

_USAGE_KEYS = frozenset(_USAGE[0])
_PRODUCT_RANK = {product: rank for rank, product in enumerate(PRODUCTS)}

# Column widths of db/models.py: PostgreSQL enforces them, so they are
# checked here to report a path instead of a driver error.
_ID_LEN = 100
_NAME_LEN = 200
_EMAIL_LEN = 320
_MAX_INT = 2_147_483_647
_MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
_CENT = Decimal("0.01")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT_RE = re.compile(r"-?\d+(?:\.\d+)?")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

# Values per IN (...) list on SQLite: well below its 32,766 bound
# parameters, and large enough that a 10,000-customer file needs only a
# couple of queries per table.
_IN_CHUNK = 5000


class ImportValidationError(Exception):
    """An import document was refused; nothing was written.

    Attributes:
        problems: Every problem found, each as ``"<json path>: <message>"``.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class LoadResult:
    """What a load wrote: records of each kind in the file, and the time taken.

    Attributes:
        partners: Partners in the file.
        admins: Partner admins in the file.
        tokens: Tokens newly registered (already known ones are not counted).
        customers: Customers in the file.
        assignments: Customer-to-admin assignments in the file.
        subscriptions: Subscriptions in the file.
        trials: Trials in the file.
        lines: Licence lines in the file.
        snapshots: Usage snapshots in the file.
        invoices: Invoices in the file.
        orders: Orders in the file.
        seconds: Wall time of validation, checks and writes.
    """

    partners: int = 0
    admins: int = 0
    tokens: int = 0
    customers: int = 0
    assignments: int = 0
    subscriptions: int = 0
    trials: int = 0
    lines: int = 0
    snapshots: int = 0
    invoices: int = 0
    orders: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Records of all kinds together."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "seconds")

    @property
    def rows_per_second(self) -> float:
        """Throughput of the load (0 when it took no measurable time)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        counts = ", ".join(f"{getattr(self, f.name):,} {f.name}" for f in fields(self) if f.name != "seconds")
        return f"{self.rows:,} records in {self.seconds:.1f} s ({self.rows_per_second:,.0f}/s): {counts}"

    def __add__(self, other: LoadResult) -> LoadResult:
        return LoadResult(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

_date_cache: dict[str, dt.date] = {}


def _parse_date(text: str) -> dt.date | None:
    """An ISO ``YYYY-MM-DD`` date, or None.

    A file repeats the same few hundred dates millions of times (weekly
    snapshots), so parsed dates are memoised.
    """
    value = _date_cache.get(text)
    if value is not None:
        return value
    # fromisoformat alone also takes "20261125" and week dates since 3.11.
    if not _DATE_RE.fullmatch(text):
        return None
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        return None
    if len(_date_cache) > 100_000:
        _date_cache.clear()
    _date_cache[text] = value
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _amount(value: object) -> Decimal | str:
    """The amount as a Decimal, or the message saying why it is not one."""
    if isinstance(value, bool):
        return f"expected decimal string, got {_json_type(value)}"
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr() is the shortest text that reads back as the same float,
        # i.e. what the file said (12.5, not 12.4999...).
        if value != value or value in (float("inf"), float("-inf")):
            return "not a decimal amount"
        number = Decimal(repr(value))
    elif isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            return "not a decimal amount"
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            return "not a decimal amount"
    else:
        return f"expected decimal string, got {_json_type(value)}"
    if number < 0:
        return "must not be negative"
    if number != number.quantize(_CENT):
        return "more than 2 decimals"
    if number > _MAX_AMOUNT:
        return f"too large (at most {_MAX_AMOUNT})"
    return number.quantize(_CENT)


class _Scope:
    """Ids already seen inside one partner, each mapped to its first path."""

    def __init__(self) -> None:
        self.admin_ids: dict[str, str] = {}
        self.customer_ids: dict[str, str] = {}
        self.customer_names: dict[str, str] = {}
        self.subscription_ids: dict[str, str] = {}
        self.trial_ids: dict[str, str] = {}
        self.invoice_numbers: dict[str, str] = {}
        self.order_numbers: dict[str, str] = {}


class _Validator:
    """Walks a document and collects every problem in document order."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.partner_ids: dict[str, str] = {}
        # Emails and tokens are unique across partners (one login, one owner).
        self.emails: dict[str, str] = {}
        self.tokens: dict[str, str] = {}

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- primitives -------------------------------------------------------

    def record(
        self,
        value: object,
        path: str,
        spec: tuple[tuple[str, ...], tuple[str, ...]],
        special: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        if type(value) is not dict:
            self.report(path or "$", f"expected object, got {_json_type(value)}")
            return None
        required, optional = spec
        for key in value:
            if key not in required and key not in optional:
                message = special.get(key) if special else None
                self.report(_at(path, key), message or "unknown field")
        for key in required:
            if key not in value:
                self.report(_at(path, key), "required field missing")
        return value

    def string(self, obj: dict[str, Any], key: str, path: str, max_len: int, *, nullable: bool = False) -> str | None:
        if key not in obj:
            return None
        value = obj[key]
        if value is None and nullable:
            return None
        if type(value) is not str:
            self.report(_at(path, key), f"expected string, got {_json_type(value)}")
            return None
        if not value.strip():
            self.report(_at(path, key), "must not be empty")
            return None
        if len(value) > max_len:
            self.report(_at(path, key), f"longer than {max_len} characters")
            return None
        return value

    def enum(self, obj: dict[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> str | None:
        if key not in obj:
            return None
        value = obj[key]
        if type(value) is not str:
            self.report(_at(path, key), f"expected string, got {_json_type(value)}")
            return None
        if value not in allowed:
            self.report(_at(path, key), f"unknown value {_quote(value)}; expected one of {', '.join(allowed)}")
            return None
        return value

    def date(self, obj: dict[str, Any], key: str, path: str, *, nullable: bool = False) -> dt.date | None:
        if key not in obj:
            return None
        value = obj[key]
        if value is None and nullable:
            return None
        if type(value) is not str:
            self.report(_at(path, key), f"expected date string, got {_json_type(value)}")
            return None
        parsed = _parse_date(value)
        if parsed is None:
            self.report(_at(path, key), "not a date")
        return parsed

    def count(self, obj: dict[str, Any], key: str, path: str) -> int | None:
        if key not in obj:
            return None
        value = obj[key]
        if type(value) is not int:
            self.report(_at(path, key), f"expected integer, got {_json_type(value)}")
            return None
        if value < 0:
            self.report(_at(path, key), "must not be negative")
            return None
        if value > _MAX_INT:
            self.report(_at(path, key), f"too large (at most {_MAX_INT})")
            return None
        return value

    def boolean(self, obj: dict[str, Any], key: str, path: str) -> None:
        if key in obj and type(obj[key]) is not bool:
            self.report(_at(path, key), f"expected boolean, got {_json_type(obj[key])}")

    def array(self, obj: dict[str, Any], key: str, path: str) -> list[Any]:
        if key not in obj:
            return []
        value = obj[key]
        if type(value) is not list:
            self.report(_at(path, key), f"expected array, got {_json_type(value)}")
            return []
        return value

    def unique(self, seen: dict[str, str], key: str, path: str, what: str, shown: str | None = None) -> bool:
        first = seen.get(key)
        if first is None:
            seen[key] = path
            return True
        self.report(path, f"duplicate {what} {_quote(shown if shown is not None else key)} (first at {first})")
        return False

    # -- the document -----------------------------------------------------

    def document(self, doc: object) -> None:
        root = self.record(doc, "", _ROOT)
        if root is None:
            return
        for i, partner in enumerate(self.array(root, "partners", "")):
            self.partner(partner, f"partners[{i}]")

    def partner(self, value: object, path: str) -> None:
        obj = self.record(value, path, _PARTNER)
        if obj is None:
            return
        key = self.string(obj, "id", path, _ID_LEN)
        if key is not None:
            self.unique(self.partner_ids, key, f"{path}.id", "partner id")
        self.string(obj, "name", path, _NAME_LEN)
        scope = _Scope()
        # Admins first whatever the key order, so references from customers
        # can be resolved in the same pass.
        for i, admin in enumerate(self.array(obj, "admins", path)):
            self.admin(admin, f"{path}.admins[{i}]", scope)
        for i, customer in enumerate(self.array(obj, "customers", path)):
            self.customer(customer, f"{path}.customers[{i}]", scope)

    def admin(self, value: object, path: str, scope: _Scope) -> None:
        obj = self.record(value, path, _ADMIN)
        if obj is None:
            return
        key = self.string(obj, "id", path, _ID_LEN)
        if key is not None:
            self.unique(scope.admin_ids, key, f"{path}.id", "admin id")
        email = self.string(obj, "email", path, _EMAIL_LEN)
        if email is not None:
            if not _EMAIL_RE.fullmatch(email.strip()):
                self.report(f"{path}.email", "not an email address")
            else:
                self.unique(self.emails, email.strip().lower(), f"{path}.email", "email", email)
        self.string(obj, "displayName", path, _NAME_LEN)
        self.enum(obj, "role", path, ROLES)
        token = self.string(obj, "token", path, 1000, nullable=True)
        if token is not None and token in self.tokens:
            self.report(f"{path}.token", f"duplicate token (first at {self.tokens[token]})")
        elif token is not None:
            self.tokens[token] = f"{path}.token"

    def customer(self, value: object, path: str, scope: _Scope) -> None:
        obj = self.record(value, path, _CUSTOMER)
        if obj is None:
            return
        key = self.string(obj, "id", path, _ID_LEN)
        if key is not None:
            self.unique(scope.customer_ids, key, f"{path}.id", "customer id")
        name = self.string(obj, "name", path, _NAME_LEN)
        if name is not None:
            if len(fold(name)) > _NAME_LEN:
                self.report(f"{path}.name", f"longer than {_NAME_LEN} characters")
            else:
                self.unique(scope.customer_names, fold(name), f"{path}.name", "customer name", name)
        self.enum(obj, "managedBy", path, MANAGED_BY)
        self.date(obj, "createdOn", path)
        self.date(obj, "lastAdminActivityOn", path, nullable=True)
        listed: dict[str, str] = {}
        for i, admin in enumerate(self.array(obj, "admins", path)):
            item = f"{path}.admins[{i}]"
            if type(admin) is not str:
                self.report(item, f"expected string, got {_json_type(admin)}")
            elif admin not in scope.admin_ids:
                self.report(item, f"unknown admin id {_quote(admin)}")
            else:
                self.unique(listed, admin, item, "admin id")
        for i, sub in enumerate(self.array(obj, "subscriptions", path)):
            self.subscription(sub, f"{path}.subscriptions[{i}]", scope)
        active: list[str] = []
        for i, trial in enumerate(self.array(obj, "trials", path)):
            self.trial(trial, f"{path}.trials[{i}]", scope, active)

    def plan_dates(self, obj: dict[str, Any], path: str) -> None:
        starts = self.date(obj, "startsOn", path)
        ends = self.date(obj, "endsOn", path)
        if starts is not None and ends is not None and starts > ends:
            self.report(f"{path}.endsOn", "before startsOn")

    def subscription(self, value: object, path: str, scope: _Scope) -> None:
        obj = self.record(value, path, _SUBSCRIPTION)
        if obj is None:
            return
        key = self.string(obj, "subscriptionId", path, _ID_LEN)
        if key is not None:
            self.unique(scope.subscription_ids, key, f"{path}.subscriptionId", "subscriptionId")
        self.enum(obj, "status", path, SUBSCRIPTION_STATUSES)
        self.plan_dates(obj, path)
        self.boolean(obj, "autoRenew", path)
        self.lines(obj, path)
        for i, invoice in enumerate(self.array(obj, "invoices", path)):
            self.invoice(invoice, f"{path}.invoices[{i}]", scope)
        for i, order in enumerate(self.array(obj, "orders", path)):
            self.order(order, f"{path}.orders[{i}]", scope)

    def trial(self, value: object, path: str, scope: _Scope, active: list[str]) -> None:
        obj = self.record(value, path, _TRIAL, {"autoRenew": "trials have no autoRenew"})
        if obj is None:
            return
        key = self.string(obj, "trialId", path, _ID_LEN)
        if key is not None:
            self.unique(scope.trial_ids, key, f"{path}.trialId", "trialId")
        status = self.enum(obj, "status", path, TRIAL_STATUSES)
        if status == "ACTIVE":
            if active:
                self.report(f"{path}.status", f"a customer may have at most one ACTIVE trial (another at {active[0]})")
            else:
                active.append(f"{path}.status")
        self.plan_dates(obj, path)
        started_by = self.string(obj, "startedBy", path, _ID_LEN, nullable=True)
        if started_by is not None and started_by not in scope.admin_ids:
            self.report(f"{path}.startedBy", f"unknown admin id {_quote(started_by)}")
        self.lines(obj, path)

    def lines(self, obj: dict[str, Any], path: str) -> None:
        products: dict[str, str] = {}
        for i, value in enumerate(self.array(obj, "lines", path)):
            line_path = f"{path}.lines[{i}]"
            line = self.record(value, line_path, _LINE)
            if line is None:
                continue
            product = self.enum(line, "product", line_path, PRODUCTS)
            if product is not None:
                self.unique(products, product, f"{line_path}.product", "product line")
            self.count(line, "total", line_path)
            dates: set[str] = set()
            for j, snap in enumerate(self.array(line, "usage", line_path)):
                # The hot loop of a real file: accept the common, valid shape
                # with a few type checks and fall back to full reporting.
                if (
                    type(snap) is dict
                    and snap.keys() == _USAGE_KEYS
                    and type(day := snap["date"]) is str
                    and type(a := snap["assigned"]) is int
                    and type(u := snap["used"]) is int
                    and type(u90 := snap["used90"]) is int
                    and 0 <= a <= _MAX_INT
                    and 0 <= u <= _MAX_INT
                    and 0 <= u90 <= _MAX_INT
                    and day not in dates
                    and (day in _date_cache or _parse_date(day) is not None)
                ):
                    dates.add(day)
                    continue
                self.usage(snap, f"{line_path}.usage[{j}]", line_path, dates)

    def usage(self, value: object, path: str, line_path: str, dates: set[str]) -> None:
        snap = self.record(value, path, _USAGE)
        if snap is None:
            return
        day = self.date(snap, "date", path)
        if day is not None:
            text = snap["date"]
            if text in dates:
                self.report(f"{path}.date", f"duplicate snapshot date {_quote(text)} in {line_path}")
            dates.add(text)
        for key in ("assigned", "used", "used90"):
            self.count(snap, key, path)

    def invoice(self, value: object, path: str, scope: _Scope) -> None:
        obj = self.record(value, path, _INVOICE)
        if obj is None:
            return
        number = self.string(obj, "number", path, _ID_LEN)
        if number is not None:
            self.unique(scope.invoice_numbers, number, f"{path}.number", "invoice number")
        self.date(obj, "issuedOn", path)
        self.date(obj, "dueOn", path)
        if "amount" in obj:
            amount = _amount(obj["amount"])
            if isinstance(amount, str):
                self.report(f"{path}.amount", amount)
        if "currency" in obj:
            currency = obj["currency"]
            if type(currency) is not str:
                self.report(f"{path}.currency", f"expected string, got {_json_type(currency)}")
            elif not _CURRENCY_RE.fullmatch(currency):
                self.report(f"{path}.currency", "not a currency code (3 upper-case letters)")
        self.enum(obj, "status", path, INVOICE_STATUSES)

    def order(self, value: object, path: str, scope: _Scope) -> None:
        obj = self.record(value, path, _ORDER)
        if obj is None:
            return
        number = self.string(obj, "number", path, _ID_LEN)
        if number is not None:
            self.unique(scope.order_numbers, number, f"{path}.number", "order number")
        self.date(obj, "placedOn", path)
        self.enum(obj, "action", path, ORDER_ACTIONS)
        self.enum(obj, "product", path, PRODUCTS)
        self.count(obj, "quantity", path)


def validate_document(doc: object) -> list[str]:
    """Check an import document (SPEC §5) and list every problem.

    Args:
        doc: The parsed JSON document.

    Returns:
        Every problem as ``"<json path>: <message>"`` in document order, e.g.
        ``partners[0].customers[3].subscriptions[1].endsOn: not a date``;
        empty when the document can be loaded (conflicts with rows already
        in a database are checked by :func:`load_document`).
    """
    validator = _Validator()
    validator.document(doc)
    return validator.problems


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


class _AdminIn(NamedTuple):
    key: str
    email: str
    display_name: str
    role: str
    token: str | None
    path: str


class _CustomerIn(NamedTuple):
    key: str
    name: str
    name_key: str
    managed_by: str
    created_on: dt.date
    last_activity_on: dt.date | None
    admin_keys: tuple[str, ...]
    path: str


class _PlanIn(NamedTuple):
    customer_index: int
    kind: str
    ext_id: str
    status: str
    starts_on: dt.date
    ends_on: dt.date
    auto_renew: bool
    started_by: str | None
    path: str


# (date, assigned, used, used90): the same order as the line's cur_* columns.
_Snap = tuple[dt.date, int, int, int]


class _LineIn(NamedTuple):
    plan_index: int
    product: str
    total: int
    latest: _Snap | None
    snapshots: list[_Snap]


class _BillIn(NamedTuple):
    """An invoice or an order: the plan it belongs to and its column values."""

    plan_index: int
    number: str
    values: dict[str, Any]
    path: str


class _PartnerIn:
    """One partner of a valid document, flattened into rows to write."""

    def __init__(self, obj: dict[str, Any], path: str) -> None:
        self.key: str = obj["id"]
        self.name: str = obj["name"]
        self.path = path
        self.admins = [
            _AdminIn(
                a["id"], a["email"].strip().lower(), a["displayName"], a["role"], a.get("token"), f"{path}.admins[{i}]"
            )
            for i, a in enumerate(obj.get("admins", []))
        ]
        self.customers: list[_CustomerIn] = []
        self.plans: list[_PlanIn] = []
        self.lines: list[_LineIn] = []
        self.invoices: list[_BillIn] = []
        self.orders: list[_BillIn] = []
        cache = _date_cache

        def parse(text: str) -> dt.date:
            # Validation has just parsed (and memoised) every date of the file.
            return cache.get(text) or _parse_date(text)  # type: ignore[return-value]

        for c_index, c in enumerate(obj.get("customers", [])):
            c_path = f"{path}.customers[{c_index}]"
            last = c.get("lastAdminActivityOn")
            self.customers.append(
                _CustomerIn(
                    c["id"],
                    c["name"],
                    fold(c["name"]),
                    c["managedBy"],
                    parse(c["createdOn"]),
                    parse(last) if last is not None else None,
                    tuple(c.get("admins", [])),
                    c_path,
                )
            )
            for kind, items, id_field in (
                ("SUBSCRIPTION", c.get("subscriptions", []), "subscriptionId"),
                ("TRIAL", c.get("trials", []), "trialId"),
            ):
                for p_index, p in enumerate(items):
                    p_path = f"{c_path}.{'subscriptions' if kind == 'SUBSCRIPTION' else 'trials'}[{p_index}]"
                    plan_index = len(self.plans)
                    self.plans.append(
                        _PlanIn(
                            c_index,
                            kind,
                            p[id_field],
                            p["status"],
                            parse(p["startsOn"]),
                            parse(p["endsOn"]),
                            bool(p.get("autoRenew", False)),
                            p.get("startedBy"),
                            p_path,
                        )
                    )
                    for line in p.get("lines", []):
                        snaps = [
                            (cache.get(s["date"]) or parse(s["date"]), s["assigned"], s["used"], s["used90"])
                            for s in line.get("usage", [])
                        ]
                        latest = max(snaps, key=lambda s: s[0]) if snaps else None
                        self.lines.append(_LineIn(plan_index, line["product"], line["total"], latest, snaps))  # type: ignore[arg-type]
                    for i, inv in enumerate(p.get("invoices", [])):
                        values = {
                            "issued_on": parse(inv["issuedOn"]),
                            "due_on": parse(inv["dueOn"]),
                            "amount": _amount(inv["amount"]),
                            "currency": inv["currency"],
                            "status": inv["status"],
                        }
                        self.invoices.append(_BillIn(plan_index, inv["number"], values, f"{p_path}.invoices[{i}]"))
                    for i, order in enumerate(p.get("orders", [])):
                        values = {
                            "placed_on": parse(order["placedOn"]),
                            "action": order["action"],
                            "product": order["product"],
                            "quantity": order["quantity"],
                        }
                        self.orders.append(_BillIn(plan_index, order["number"], values, f"{p_path}.orders[{i}]"))

    def plan_label(self, kind: str) -> str:
        return "subscriptionId" if kind == "SUBSCRIPTION" else "trialId"


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Loader:
    """Reads what exists, checks conflicts, then writes one valid document."""

    def __init__(self, conn: AsyncConnection, doc: dict[str, Any]) -> None:
        self.conn = conn
        self.bulk = _Bulk(conn)
        self.partners = [_PartnerIn(p, f"partners[{i}]") for i, p in enumerate(doc["partners"])]
        self.problems: list[str] = []
        self.result = LoadResult()
        # Filled by read():
        self.partner_ids: dict[str, int] = {}
        self.partner_names: dict[str, str] = {}
        self.admins_by_key: dict[tuple[int, str], Row[Any]] = {}
        self.token_owner: dict[str, int] = {}
        self.state: dict[str, _Existing] = {}

    async def fetch_in(self, query: Select[Any], column: Any, values: Iterable[Any]) -> list[Row[Any]]:
        """Rows of ``query`` whose ``column`` is one of ``values``.

        PostgreSQL takes the values as one array parameter, so one prepared
        statement serves any count. It is written as ``IN (SELECT unnest(...))``
        rather than ``= ANY(...)``: the semi-join probes the unique index once
        per value whatever the table statistics say, whereas ``= ANY`` with
        missing statistics (right after a bulk load, or with autovacuum off)
        can filter every row of the partner against the whole array. SQLite
        gets chunked ``IN (...)`` lists below its bound-parameter limit.
        """
        distinct = sorted(set(values))
        if not distinct:
            return []
        if self.bulk.postgres:
            array = bindparam("values", distinct, type_=ARRAY(column.type))
            keys = select(func.unnest(array)).scalar_subquery()
            return list((await self.conn.execute(query.where(column.in_(keys)))).all())
        rows: list[Row[Any]] = []
        for chunk in _chunks(distinct):
            rows.extend((await self.conn.execute(query.where(column.in_(chunk)))).all())
        return rows

    # -- read and check ---------------------------------------------------

    async def read(self) -> None:
        for row in await self.fetch_in(
            select(PARTNER.c.id, PARTNER.c.key, PARTNER.c.name), PARTNER.c.key, [p.key for p in self.partners]
        ):
            self.partner_ids[row.key] = row.id
            self.partner_names[row.key] = row.name
        await self.read_admins()
        for partner in self.partners:
            existing = _Existing()
            self.state[partner.key] = existing
            partner_id = self.partner_ids.get(partner.key)
            if partner_id is not None:
                await existing.read(self, partner, partner_id)

    async def read_admins(self) -> None:
        query = select(
            ADMIN.c.id,
            ADMIN.c.partner_id,
            ADMIN.c.key,
            ADMIN.c.email,
            ADMIN.c.display_name,
            ADMIN.c.role,
            PARTNER.c.key.label("partner_key"),
        ).join(PARTNER, PARTNER.c.id == ADMIN.c.partner_id)
        rows = await self.fetch_in(query, ADMIN.c.partner_id, self.partner_ids.values())
        emails = [a.email for p in self.partners for a in p.admins]
        rows += await self.fetch_in(query, ADMIN.c.email, emails)
        by_email: dict[str, Row[Any]] = {}
        for row in rows:
            self.admins_by_key[(row.partner_id, row.key)] = row
            by_email[row.email] = row
        # An email may move from one admin to another within the file, so a
        # clash is only an error when its current owner keeps it.
        file_email = {(p.key, a.key): a.email for p in self.partners for a in p.admins}
        for partner in self.partners:
            for admin in partner.admins:
                owner = by_email.get(admin.email)
                if owner is None or (owner.partner_key, owner.key) == (partner.key, admin.key):
                    continue
                if file_email.get((owner.partner_key, owner.key)) is None:
                    self.problems.append(
                        f"{admin.path}.email: {_quote(admin.email)} is already used by admin"
                        f" {_quote(owner.key)} of partner {_quote(owner.partner_key)}"
                    )
        hashes = {hash_token(a.token): (p, a) for p in self.partners for a in p.admins if a.token}
        for row in await self.fetch_in(select(TOKEN.c.token_hash, TOKEN.c.admin_id), TOKEN.c.token_hash, hashes):
            self.token_owner[row.token_hash] = row.admin_id
            partner, admin = hashes[row.token_hash]
            mine = self.admins_by_key.get((self.partner_ids.get(partner.key, -1), admin.key))
            if mine is None or mine.id != row.admin_id:
                self.problems.append(f"{admin.path}.token: already registered to another admin")

    # -- write ------------------------------------------------------------

    async def execute_many(self, statement: Any, rows: list[dict[str, Any]]) -> list[Row[Any]]:
        if not rows:
            return []
        result = await self.conn.execute(statement, rows)
        return list(result.all()) if result.returns_rows else []

    async def update_many(self, table: Table, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
        """UPDATE table SET columns WHERE id = ... as one executemany.

        Row dicts use ``_id`` and ``_<column>`` keys: SQLAlchemy reserves the
        plain column names for its own SET parameters.
        """
        if rows:
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({name: bindparam(f"_{name}") for name in columns})
            )
            await self.conn.execute(statement, rows)

    async def write(self) -> None:
        new_partners = [{"key": p.key, "name": p.name} for p in self.partners if p.key not in self.partner_ids]
        for row in await self.execute_many(insert(PARTNER).returning(PARTNER.c.id, PARTNER.c.key), new_partners):
            self.partner_ids[row.key] = row.id
        await self.update_many(
            PARTNER,
            ["name"],
            [
                {"_id": self.partner_ids[p.key], "_name": p.name}
                for p in self.partners
                if p.key in self.partner_names and self.partner_names[p.key] != p.name
            ],
        )
        self.result.partners = len(self.partners)
        # Emails are unique across partners: park every changing email on a
        # placeholder first so that swaps between admins cannot collide.
        moving = []
        for partner in self.partners:
            partner_id = self.partner_ids[partner.key]
            for admin in partner.admins:
                stored = self.admins_by_key.get((partner_id, admin.key))
                if stored is not None and stored.email != admin.email:
                    moving.append({"_id": stored.id, "_email": f"\uffff{stored.id}"})
        await self.update_many(ADMIN, ["email"], moving)
        for partner in self.partners:
            await self.write_partner(partner, self.partner_ids[partner.key], self.state[partner.key])
        # Any row of these partners may have changed, past usage included.
        await trend_cache.forget_partners(self.conn, [self.partner_ids[p.key] for p in self.partners])

    async def write_partner(self, partner: _PartnerIn, partner_id: int, existing: _Existing) -> None:
        result = self.result
        admin_ids = await self.write_admins(partner, partner_id)
        customer_ids = await existing.write_customers(self, partner, partner_id, admin_ids)
        plan_ids = await existing.write_plans(self, partner, partner_id, customer_ids, admin_ids)
        await existing.write_lines(self, partner, plan_ids)
        await existing.write_bills(self, partner, partner_id, plan_ids)
        result.admins += len(partner.admins)
        result.customers += len(partner.customers)
        result.assignments += sum(len(c.admin_keys) for c in partner.customers)
        result.subscriptions += sum(1 for p in partner.plans if p.kind == "SUBSCRIPTION")
        result.trials += sum(1 for p in partner.plans if p.kind == "TRIAL")
        result.lines += len(partner.lines)
        result.snapshots += sum(len(line.snapshots) for line in partner.lines)
        result.invoices += len(partner.invoices)
        result.orders += len(partner.orders)

    async def write_admins(self, partner: _PartnerIn, partner_id: int) -> dict[str, int]:
        ids: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for admin in partner.admins:
            row = self.admins_by_key.get((partner_id, admin.key))
            values = {"email": admin.email, "display_name": admin.display_name, "role": admin.role}
            if row is None:
                new.append({"partner_id": partner_id, "key": admin.key, **values})
            else:
                ids[admin.key] = row.id
                if (row.email, row.display_name, row.role) != (admin.email, admin.display_name, admin.role):
                    changed.append({"_id": row.id, **{f"_{k}": v for k, v in values.items()}})
        await self.update_many(ADMIN, ["email", "display_name", "role"], changed)
        for row in await self.execute_many(insert(ADMIN).returning(ADMIN.c.id, ADMIN.c.key), new):
            ids[row.key] = row.id
        now = dt.datetime.now(dt.UTC)
        tokens = []
        for admin in partner.admins:
            if admin.token:
                token_hash = hash_token(admin.token)
                if token_hash not in self.token_owner:
                    self.token_owner[token_hash] = ids[admin.key]
                    tokens.append({"admin_id": ids[admin.key], "token_hash": token_hash, "created_at": now})
        await self.execute_many(insert(TOKEN), tokens)
        self.result.tokens += len(tokens)
        return ids


class _Existing:
    """The rows of one partner that the file's ids already name."""

    def __init__(self) -> None:
        self.customers: dict[str, Row[Any]] = {}
        self.plans: dict[tuple[str, str], Row[Any]] = {}
        self.lines: dict[tuple[int, str], Row[Any]] = {}
        self.invoices: dict[str, Row[Any]] = {}
        self.orders: dict[str, Row[Any]] = {}
        self.assignments: dict[int, set[int]] = defaultdict(set)

    async def read(self, loader: _Loader, partner: _PartnerIn, partner_id: int) -> None:
        problems = loader.problems
        c_query = select(
            CUSTOMER.c.id,
            CUSTOMER.c.key,
            CUSTOMER.c.name,
            CUSTOMER.c.name_key,
            CUSTOMER.c.managed_by,
            CUSTOMER.c.created_on,
            CUSTOMER.c.last_admin_activity_on,
        ).where(CUSTOMER.c.partner_id == partner_id)
        for row in await loader.fetch_in(c_query, CUSTOMER.c.key, [c.key for c in partner.customers]):
            self.customers[row.key] = row
        by_name = {
            row.name_key: row
            for row in await loader.fetch_in(c_query, CUSTOMER.c.name_key, [c.name_key for c in partner.customers])
        }
        file_name = {c.key: c.name_key for c in partner.customers}
        for customer in partner.customers:
            holder = by_name.get(customer.name_key)
            if holder is not None and holder.key != customer.key and holder.key not in file_name:
                problems.append(
                    f"{customer.path}.name: {_quote(customer.name)} is already used by customer {_quote(holder.key)}"
                )

        p_query = (
            select(
                PLAN.c.id,
                PLAN.c.kind,
                PLAN.c.ext_id,
                PLAN.c.customer_id,
                PLAN.c.status,
                PLAN.c.starts_on,
                PLAN.c.ends_on,
                PLAN.c.auto_renew,
                PLAN.c.started_by_id,
                CUSTOMER.c.key.label("customer_key"),
            )
            .join(CUSTOMER, CUSTOMER.c.id == PLAN.c.customer_id)
            .where(PLAN.c.partner_id == partner_id)
        )
        # One lookup per kind, so that (partner_id, kind, ext_id) is an index prefix.
        for kind in PLAN_KINDS:
            kind_query = p_query.where(PLAN.c.kind == kind)
            ext_ids = [p.ext_id for p in partner.plans if p.kind == kind]
            for row in await loader.fetch_in(kind_query, PLAN.c.ext_id, ext_ids):
                self.plans[(row.kind, row.ext_id)] = row
        # A plan never changes customer: moving one is almost always a typo'd id.
        for plan in partner.plans:
            stored = self.plans.get((plan.kind, plan.ext_id))
            owner = partner.customers[plan.customer_index].key
            if stored is not None and stored.customer_key != owner:
                problems.append(
                    f"{plan.path}.{partner.plan_label(plan.kind)}: {_quote(plan.ext_id)} already belongs to"
                    f" customer {_quote(stored.customer_key)}"
                )

        # The one-ACTIVE-trial rule also counts trials the file does not mention.
        known_ids = [self.customers[c.key].id for c in partner.customers if c.key in self.customers]
        active_query = select(PLAN.c.customer_id, PLAN.c.ext_id).where(
            PLAN.c.partner_id == partner_id, PLAN.c.kind == "TRIAL", PLAN.c.status == "ACTIVE"
        )
        db_active: dict[int, list[str]] = defaultdict(list)
        for row in await loader.fetch_in(active_query, PLAN.c.customer_id, known_ids):
            db_active[row.customer_id].append(row.ext_id)
        file_trials: dict[int, set[str]] = defaultdict(set)
        for plan in partner.plans:
            if plan.kind == "TRIAL":
                file_trials[plan.customer_index].add(plan.ext_id)
        for plan in partner.plans:
            if plan.kind == "TRIAL" and plan.status == "ACTIVE":
                stored_customer = self.customers.get(partner.customers[plan.customer_index].key)
                if stored_customer is None:
                    continue
                others = sorted(
                    t for t in db_active.get(stored_customer.id, []) if t not in file_trials[plan.customer_index]
                )
                if others:
                    problems.append(
                        f"{plan.path}.status: the customer already has the ACTIVE trial {_quote(others[0])}"
                    )

        plan_ids = [row.id for row in self.plans.values()]
        l_query = select(
            LINE.c.id,
            LINE.c.plan_id,
            LINE.c.product,
            LINE.c.total,
            LINE.c.cur_date,
            LINE.c.cur_assigned,
            LINE.c.cur_used,
            LINE.c.cur_used90,
        )
        for row in await loader.fetch_in(l_query, LINE.c.plan_id, plan_ids):
            self.lines[(row.plan_id, row.product)] = row

        for table, items, store, what in (
            (INVOICE, partner.invoices, self.invoices, "invoice"),
            (ORDER, partner.orders, self.orders, "order"),
        ):
            columns = [c for c in table.c if c.name not in ("partner_id", "number", "id", "plan_id")]
            b_query = select(table.c.id, table.c.number, table.c.plan_id, *columns).where(
                table.c.partner_id == partner_id
            )
            for row in await loader.fetch_in(b_query, table.c.number, [b.number for b in items]):
                store[row.number] = row
            clashes: list[tuple[_BillIn, int]] = []
            for bill in items:
                stored = store.get(bill.number)
                if stored is None:
                    continue
                plan = partner.plans[bill.plan_index]
                mine = self.plans.get((plan.kind, plan.ext_id))
                if mine is None or mine.id != stored.plan_id:
                    clashes.append((bill, stored.plan_id))
            if clashes:
                owners = {
                    row.id: row.ext_id
                    for row in await loader.fetch_in(
                        select(PLAN.c.id, PLAN.c.ext_id), PLAN.c.id, [plan_id for _, plan_id in clashes]
                    )
                }
                problems.extend(
                    f"{bill.path}.number: {what} {_quote(bill.number)} already belongs to"
                    f" subscription {_quote(owners[plan_id])}"
                    for bill, plan_id in clashes
                )

        for row in await loader.fetch_in(
            select(ASSIGNMENT.c.customer_id, ASSIGNMENT.c.admin_id), ASSIGNMENT.c.customer_id, known_ids
        ):
            self.assignments[row.customer_id].add(row.admin_id)

    async def write_customers(
        self, loader: _Loader, partner: _PartnerIn, partner_id: int, admin_ids: dict[str, int]
    ) -> list[int]:
        columns = ("name", "name_key", "managed_by", "created_on", "last_admin_activity_on")
        new: list[tuple[Any, ...]] = []
        new_keys: list[str] = []
        changed: list[dict[str, Any]] = []
        renamed: list[dict[str, Any]] = []
        for c in partner.customers:
            values = (c.name, c.name_key, c.managed_by, c.created_on, c.last_activity_on)
            row = self.customers.get(c.key)
            if row is None:
                new.append((partner_id, c.key, *values))
                new_keys.append(c.key)
                continue
            if (row.name, row.name_key, row.managed_by, row.created_on, row.last_admin_activity_on) != values:
                changed.append({"_id": row.id, **{f"_{k}": v for k, v in zip(columns, values, strict=True)}})
                if row.name_key != c.name_key:
                    # Park the old name so that renames that swap names pass
                    # the per-partner unique index row by row.
                    renamed.append({"_id": row.id, "_name_key": f"\uffff{row.id}"})
        await loader.update_many(CUSTOMER, ["name_key"], renamed)
        await loader.update_many(CUSTOMER, columns, changed)
        ids = {key: row.id for key, row in self.customers.items()}
        new_ids = await loader.bulk.insert_returning_ids(CUSTOMER, ("partner_id", "key", *columns), new, ("key",))
        ids.update(zip(new_keys, new_ids, strict=True))
        customer_ids = [ids[c.key] for c in partner.customers]

        # Assignments become exactly the listed admins: only the difference
        # is written, so reloading an unchanged file touches nothing.
        removed: list[dict[str, Any]] = []
        added: list[tuple[int, int]] = []
        for c, customer_id in zip(partner.customers, customer_ids, strict=True):
            wanted = [admin_ids[key] for key in c.admin_keys]
            have = self.assignments.get(customer_id, set())
            removed.extend({"c": customer_id, "a": a} for a in sorted(have.difference(wanted)))
            added.extend((customer_id, a) for a in wanted if a not in have)
        if removed:
            await loader.conn.execute(
                delete(ASSIGNMENT).where(
                    ASSIGNMENT.c.customer_id == bindparam("c"), ASSIGNMENT.c.admin_id == bindparam("a")
                ),
                removed,
            )
        await loader.bulk.insert(ASSIGNMENT, ("customer_id", "admin_id"), added)
        return customer_ids

    async def write_plans(
        self,
        loader: _Loader,
        partner: _PartnerIn,
        partner_id: int,
        customer_ids: list[int],
        admin_ids: dict[str, int],
    ) -> list[int]:
        columns = ("status", "starts_on", "ends_on", "auto_renew", "started_by_id")
        new: list[tuple[Any, ...]] = []
        new_index: list[int] = []
        changed: list[tuple[bool, dict[str, Any]]] = []
        ids: list[int] = [0] * len(partner.plans)
        for index, plan in enumerate(partner.plans):
            started_by = admin_ids[plan.started_by] if plan.started_by is not None else None
            values = (plan.status, plan.starts_on, plan.ends_on, plan.auto_renew, started_by)
            row = self.plans.get((plan.kind, plan.ext_id))
            if row is None:
                new.append((partner_id, customer_ids[plan.customer_index], plan.kind, plan.ext_id, *values))
                new_index.append(index)
                continue
            ids[index] = row.id
            if (row.status, row.starts_on, row.ends_on, row.auto_renew, row.started_by_id) != values:
                changed.append(
                    (
                        plan.status == "ACTIVE",
                        {"_id": row.id, **{f"_{k}": v for k, v in zip(columns, values, strict=True)}},
                    )
                )
        # Trials leaving ACTIVE go first and new plans last, so the partial
        # unique index (one ACTIVE trial per customer) holds after each row.
        changed.sort(key=lambda item: item[0])
        await loader.update_many(PLAN, columns, [values for _, values in changed])
        new_ids = await loader.bulk.insert_returning_ids(
            PLAN, ("partner_id", "customer_id", "kind", "ext_id", *columns), new, ("kind", "ext_id")
        )
        for index, plan_id in zip(new_index, new_ids, strict=True):
            ids[index] = plan_id
        return ids

    async def write_lines(self, loader: _Loader, partner: _PartnerIn, plan_ids: list[int]) -> None:
        cur = ("cur_date", "cur_assigned", "cur_used", "cur_used90")
        new: list[tuple[Any, ...]] = []
        new_lines: list[_LineIn] = []
        changed: list[dict[str, Any]] = []
        kept: list[tuple[int, _LineIn]] = []
        for line in partner.lines:
            plan_id = plan_ids[line.plan_index]
            row = self.lines.get((plan_id, line.product))
            if row is None:
                new.append((plan_id, line.product, line.total, *(line.latest or (None, 0, 0, 0))))
                new_lines.append(line)
                continue
            # cur_* mirror the latest snapshot. The stored ones are the latest
            # of the rows already there; a file snapshot on or after that date
            # replaces them (same date: the file's values win).
            stored = (row.cur_date, row.cur_assigned, row.cur_used, row.cur_used90)
            latest = stored
            if line.latest is not None and (row.cur_date is None or line.latest[0] >= row.cur_date):
                latest = line.latest
            if row.total != line.total or latest != stored:
                changed.append(
                    {"_id": row.id, "_total": line.total, **{f"_{k}": v for k, v in zip(cur, latest, strict=True)}}
                )
            if line.snapshots:
                kept.append((row.id, line))
        await loader.update_many(LINE, ["total", *cur], changed)
        new_ids = await loader.bulk.insert_returning_ids(
            LINE, ("plan_id", "product", "total", *cur), new, ("plan_id", "product")
        )
        fresh: list[tuple[Any, ...]] = []
        for line_id, line in zip(new_ids, new_lines, strict=True):
            fresh.extend((line_id, *s) for s in line.snapshots)
        await loader.bulk.insert(SNAPSHOT, _SNAPSHOT_COLUMNS, fresh)
        await loader.bulk.upsert_snapshots([(line_id, *s) for line_id, line in kept for s in line.snapshots])

    async def write_bills(self, loader: _Loader, partner: _PartnerIn, partner_id: int, plan_ids: list[int]) -> None:
        for table, items, store in ((INVOICE, partner.invoices, self.invoices), (ORDER, partner.orders, self.orders)):
            new: list[tuple[Any, ...]] = []
            changed: list[dict[str, Any]] = []
            columns: tuple[str, ...] = ()
            for bill in items:
                columns = tuple(bill.values)
                row = store.get(bill.number)
                if row is None:
                    new.append((partner_id, plan_ids[bill.plan_index], bill.number, *bill.values.values()))
                elif any(getattr(row, k) != v for k, v in bill.values.items()):
                    changed.append({"_id": row.id, **{f"_{k}": v for k, v in bill.values.items()}})
            await loader.update_many(table, columns, changed)
            await loader.bulk.insert(table, ("partner_id", "plan_id", "number", *columns), new)


_SNAPSHOT_COLUMNS = ("line_id", "date", "assigned", "used", "used90")

# Per-connection scratch table for merging snapshots of existing lines.
_SCRATCH_USAGE = Table(
    "partnerhub_scratch_usage",
    MetaData(),
    Column("line_id", Integer, nullable=False),
    Column("date", Date, nullable=False),
    Column("assigned", Integer, nullable=False),
    Column("used", Integer, nullable=False),
    Column("used90", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
# Same text on SQLite and PostgreSQL; "WHERE true" resolves SQLite's
# INSERT ... SELECT ... ON CONFLICT parsing ambiguity.
_MERGE_USAGE = text(
    "INSERT INTO usage_snapshot (line_id, date, assigned, used, used90)"
    " SELECT line_id, date, assigned, used, used90 FROM partnerhub_scratch_usage WHERE true"
    " ON CONFLICT (line_id, date) DO UPDATE SET"
    " assigned = excluded.assigned, used = excluded.used, used90 = excluded.used90"
    " WHERE usage_snapshot.assigned <> excluded.assigned OR usage_snapshot.used <> excluded.used"
    " OR usage_snapshot.used90 <> excluded.used90"
)


class _Bulk:
    """Plain multi-row inserts, the fastest way each database offers.

    PostgreSQL gets COPY (ids drawn from the table's sequence up front when
    the caller needs them); executemany there pays a server round of
    parse/bind/execute per row. SQLite runs in-process, so one executemany
    of plain tuples is already fast; it only needs values in the forms
    SQLAlchemy would store (ISO dates, 0/1, floats for NUMERIC).
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.iso_dates: dict[dt.date, str] = {}
        # Rows written per table, for refresh_statistics().
        self.inserted: dict[str, int] = defaultdict(int)

    @staticmethod
    def _sqlite_converters(table: Table, columns: Sequence[str], iso_dates: dict[dt.date, str]) -> list[Any]:
        def iso(day: dt.date) -> str:
            # Snapshots repeat a few hundred dates a million times.
            text = iso_dates.get(day)
            if text is None:
                text = iso_dates[day] = day.isoformat()
            return text

        converters: list[Any] = []
        for name in columns:
            column_type = table.c[name].type
            if isinstance(column_type, Date):
                converters.append(iso)
            elif isinstance(column_type, Boolean):
                converters.append(int)
            elif isinstance(column_type, Numeric):
                converters.append(float)
            else:
                converters.append(None)
        return converters

    async def insert(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """INSERT ``rows`` (tuples in ``columns`` order) into ``table``."""
        if not rows:
            return
        self.inserted[table.name] += len(rows)
        if self.postgres:
            raw = await self.conn.get_raw_connection()
            driver: Any = raw.driver_connection
            try:
                await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
            except asyncpg_exceptions.IntegrityConstraintViolationError as exc:
                # COPY bypasses SQLAlchemy, so wrap the driver's error the way
                # SQLAlchemy would for load_document's handler.
                raise IntegrityError(f"COPY {table.name}", None, exc) from exc
            return
        converters = self._sqlite_converters(table, columns, self.iso_dates)
        slots = [i for i, f in enumerate(converters) if f is not None]
        if slots:
            converted = []
            for row in rows:
                values = list(row)
                for i in slots:
                    if values[i] is not None:
                        values[i] = converters[i](values[i])
                converted.append(tuple(values))
            params: list[Any] = converted
        else:
            params = rows
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        await self.conn.exec_driver_sql(sql, params)

    async def upsert_snapshots(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert or update snapshots of lines that were already stored.

        The rows go to a scratch table first and are merged by one
        INSERT ... ON CONFLICT statement that skips unchanged rows: no
        snapshot has to travel back to Python, and a reload writes nothing.
        """
        if not rows:
            return
        await self.conn.execute(CreateTable(_SCRATCH_USAGE, if_not_exists=True))
        await self.conn.execute(delete(_SCRATCH_USAGE))
        await self.insert(_SCRATCH_USAGE, _SNAPSHOT_COLUMNS, rows)
        self.inserted[SNAPSHOT.name] += len(rows)
        await self.conn.execute(_MERGE_USAGE)
        await self.conn.execute(DropTable(_SCRATCH_USAGE))

    async def insert_returning_ids(
        self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], key: Sequence[str]
    ) -> list[int]:
        """INSERT ``rows`` into ``table`` and return their new ids in row order.

        ``key`` names columns unique among ``rows``; SQLite's RETURNING order
        is not guaranteed (and asking SQLAlchemy to sort it falls back to one
        statement per row), so ids are matched back by that key.
        """
        if not rows:
            return []
        if self.postgres:
            result = await self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(rows)},
            )
            ids = [row[0] for row in result]
            await self.insert(table, ("id", *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)])
            return ids
        self.inserted[table.name] += len(rows)
        result = await self.conn.execute(
            insert(table).returning(table.c.id, *(table.c[name] for name in key)),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )
        by_key = {tuple(row[1:]): row[0] for row in result}
        slots = [list(columns).index(name) for name in key]
        return [by_key[tuple(row[i] for i in slots)] for row in rows]


async def _refresh_statistics(session: AsyncSession, inserted: dict[str, int]) -> None:
    """ANALYZE tables a load grew a lot, on PostgreSQL.

    Without statistics the planner takes a freshly filled table for empty
    and picks plans that scan it whole (autovacuum may be off, and it lags
    behind bulk loads anyway). Once analysed, PostgreSQL scales its row
    estimates with the table's size, so later growth needs no new ANALYZE:
    a table is analysed when it never was, or when this load added more
    than a fifth of the rows it had at its last ANALYZE.
    """
    names = sorted(name for name, count in inserted.items() if count >= 1000)
    if not names:
        return
    result = await session.execute(
        text(
            "SELECT relname, reltuples FROM pg_class"
            " WHERE relname = ANY(:names) AND relkind = 'r' AND pg_table_is_visible(oid)"
        ),
        {"names": names},
    )
    stale = [name for name, tuples in result.all() if tuples < 0 or inserted[name] > 0.2 * tuples]
    try:
        for name in sorted(stale):
            await session.execute(text(f'ANALYZE "{name}"'))
        await session.commit()
    except SQLAlchemyError:
        # Statistics only speed queries up; the load itself is committed.
        await session.rollback()


async def load_document(session: AsyncSession, doc: dict[str, Any], *, commit: bool = True) -> LoadResult:
    """Validate an import document and upsert it in one transaction.

    Records are matched by their ids (partner ``id``, admin ``id``, customer
    ``id``, ``subscriptionId``/``trialId``, line product, snapshot date,
    invoice/order ``number``); nothing absent from the file is deleted,
    except that a customer's admin assignments become exactly the listed
    ones. Loading the same file twice leaves the same data.

    Args:
        session: The session to write with; its transaction is committed on
            success and rolled back on any failure.
        doc: The parsed JSON document (SPEC §5).
        commit: Commit at the end; ``False`` leaves the committing to the
            caller (a failure still rolls the session back).

    Returns:
        How many records of each kind the file held, and the time taken.

    Raises:
        ImportValidationError: The document is invalid or conflicts with
            rows in the database (e.g. a customer name used by another
            customer id); nothing was written.
    """
    started = time.perf_counter()
    problems = validate_document(doc)
    if problems:
        raise ImportValidationError(problems)
    try:
        conn = await session.connection()
        loader = _Loader(conn, doc)
        await loader.read()
        if loader.problems:
            raise ImportValidationError(loader.problems)
        await loader.write()
        if commit:
            await session.commit()
            if loader.bulk.postgres:
                await _refresh_statistics(session, loader.bulk.inserted)
    except IntegrityError as exc:
        await session.rollback()
        # A concurrent writer can still slip past the checks above; say so
        # plainly instead of surfacing a driver traceback.
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise ImportValidationError([f"$: the database refused the data (changed concurrently?): {detail}"]) from exc
    except BaseException:
        await session.rollback()
        raise
    loader.result.seconds = time.perf_counter() - started
    return loader.result


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_document(session: AsyncSession) -> dict[str, Any]:
    """The whole database as an import document (SPEC §5), without tokens.

    Lists come in a fixed order (partners by id; admins by email; customers
    by name case-insensitively, then id; plans by subscriptionId/trialId;
    lines in Product order; usage by date; invoices and orders by number), so
    identical data gives an identical document.

    Args:
        session: The session to read with.

    Returns:
        The document; ``load_document`` of it into an empty database
        reproduces the same document.
    """
    conn = await session.connection()

    async def rows(query: Select[Any]) -> list[Row[Any]]:
        return list((await conn.execute(query)).all())

    partners = await rows(select(PARTNER.c.id, PARTNER.c.key, PARTNER.c.name))
    admins = await rows(
        select(ADMIN.c.id, ADMIN.c.partner_id, ADMIN.c.key, ADMIN.c.email, ADMIN.c.display_name, ADMIN.c.role)
    )
    customers = await rows(
        select(
            CUSTOMER.c.id,
            CUSTOMER.c.partner_id,
            CUSTOMER.c.key,
            CUSTOMER.c.name,
            CUSTOMER.c.managed_by,
            CUSTOMER.c.created_on,
            CUSTOMER.c.last_admin_activity_on,
        )
    )
    assignments = await rows(select(ASSIGNMENT.c.customer_id, ASSIGNMENT.c.admin_id))
    plans = await rows(
        select(
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
    )
    lines = await rows(select(LINE.c.id, LINE.c.plan_id, LINE.c.product, LINE.c.total))
    # The primary key (line_id, date) serves this order on both databases.
    snapshots = await rows(
        select(SNAPSHOT.c.line_id, SNAPSHOT.c.date, SNAPSHOT.c.assigned, SNAPSHOT.c.used, SNAPSHOT.c.used90).order_by(
            SNAPSHOT.c.line_id, SNAPSHOT.c.date
        )
    )
    invoices = await rows(
        select(
            INVOICE.c.plan_id,
            INVOICE.c.number,
            INVOICE.c.issued_on,
            INVOICE.c.due_on,
            INVOICE.c.amount,
            INVOICE.c.currency,
            INVOICE.c.status,
        )
    )
    orders = await rows(
        select(ORDER.c.plan_id, ORDER.c.number, ORDER.c.placed_on, ORDER.c.action, ORDER.c.product, ORDER.c.quantity)
    )

    usage_by_line: dict[int, list[dict[str, Any]]] = defaultdict(list)
    # Millions of snapshots share a few hundred dates: format each once.
    iso: dict[dt.date, str] = {}
    for s in snapshots:
        day = iso.get(s.date)
        if day is None:
            day = iso[s.date] = s.date.isoformat()
        usage_by_line[s.line_id].append({"date": day, "assigned": s.assigned, "used": s.used, "used90": s.used90})
    lines_by_plan: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for line in lines:
        lines_by_plan[line.plan_id].append(
            (
                _PRODUCT_RANK[line.product],
                {"product": line.product, "total": line.total, "usage": usage_by_line.pop(line.id, [])},
            )
        )
    invoices_by_plan: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for inv in invoices:
        invoices_by_plan[inv.plan_id].append(
            {
                "number": inv.number,
                "issuedOn": inv.issued_on.isoformat(),
                "dueOn": inv.due_on.isoformat(),
                "amount": f"{Decimal(inv.amount).quantize(_CENT):.2f}",
                "currency": inv.currency,
                "status": inv.status,
            }
        )
    orders_by_plan: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        orders_by_plan[order.plan_id].append(
            {
                "number": order.number,
                "placedOn": order.placed_on.isoformat(),
                "action": order.action,
                "product": order.product,
                "quantity": order.quantity,
            }
        )

    admin_key = {a.id: a.key for a in admins}
    subs_by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    trials_by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for plan in plans:
        plan_lines = [item for _, item in sorted(lines_by_plan.get(plan.id, []), key=lambda pair: pair[0])]
        if plan.kind == "SUBSCRIPTION":
            subs_by_customer[plan.customer_id].append(
                {
                    "subscriptionId": plan.ext_id,
                    "status": plan.status,
                    "startsOn": plan.starts_on.isoformat(),
                    "endsOn": plan.ends_on.isoformat(),
                    "autoRenew": bool(plan.auto_renew),
                    "lines": plan_lines,
                    "invoices": sorted(invoices_by_plan.get(plan.id, []), key=lambda i: i["number"]),
                    "orders": sorted(orders_by_plan.get(plan.id, []), key=lambda o: o["number"]),
                }
            )
        else:
            trial: dict[str, Any] = {
                "trialId": plan.ext_id,
                "status": plan.status,
                "startsOn": plan.starts_on.isoformat(),
                "endsOn": plan.ends_on.isoformat(),
            }
            if plan.started_by_id is not None and plan.started_by_id in admin_key:
                trial["startedBy"] = admin_key[plan.started_by_id]
            trial["lines"] = plan_lines
            trials_by_customer[plan.customer_id].append(trial)

    assigned: dict[int, list[str]] = defaultdict(list)
    for a in assignments:
        if a.admin_id in admin_key:
            assigned[a.customer_id].append(admin_key[a.admin_id])
    customers_by_partner: dict[int, list[tuple[tuple[str, str], dict[str, Any]]]] = defaultdict(list)
    for c in customers:
        customers_by_partner[c.partner_id].append(
            (
                (fold(c.name), c.key),
                {
                    "id": c.key,
                    "name": c.name,
                    "managedBy": c.managed_by,
                    "createdOn": c.created_on.isoformat(),
                    "lastAdminActivityOn": _iso(c.last_admin_activity_on),
                    "admins": sorted(assigned.get(c.id, [])),
                    "subscriptions": sorted(subs_by_customer.get(c.id, []), key=lambda s: s["subscriptionId"]),
                    "trials": sorted(trials_by_customer.get(c.id, []), key=lambda t: t["trialId"]),
                },
            )
        )
    admins_by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in admins:
        admins_by_partner[a.partner_id].append(
            {"id": a.key, "email": a.email, "displayName": a.display_name, "role": a.role}
        )
    return {
        "partners": [
            {
                "id": p.key,
                "name": p.name,
                "admins": sorted(admins_by_partner.get(p.id, []), key=lambda a: (a["email"], a["id"])),
                "customers": [item for _, item in sorted(customers_by_partner.get(p.id, []), key=lambda pair: pair[0])],
            }
            for p in sorted(partners, key=lambda p: p.key)
        ]
    }


# --------------------------------------------------------------------------
# Canonical JSON
# --------------------------------------------------------------------------


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _ordered(obj: object, spec: tuple[tuple[str, ...], tuple[str, ...]], children: dict[str, Any]) -> object:
    """A copy of ``obj`` with keys in spec order (unknown keys last, sorted)."""
    if not isinstance(obj, dict):
        return obj
    known = spec[0] + spec[1]
    out: dict[str, Any] = {}
    for key in known:
        if key in obj:
            out[key] = children[key](obj[key]) if key in children else obj[key]
    for key in sorted(k for k in obj if k not in known):
        out[key] = obj[key]
    return out


def _sorted_list(value: object, item: Any, sort_key: Any) -> object:
    if not isinstance(value, list):
        return value
    items = [item(v) for v in value]
    return sorted(items, key=lambda v: sort_key(v) if isinstance(v, dict) else ("\uffff", _text(v)))


def _get(obj: dict[str, Any], key: str) -> str:
    return _text(obj.get(key, ""))


_USAGE_ORDER = _USAGE[0]


def _usage(value: object) -> object:
    """Canonical usage list; the common, already canonical shape is cheap.

    Snapshots are most of a document, so well-formed ones (keys in order,
    text dates) are kept as they are and only sorted by date.
    """
    if isinstance(value, list) and all(
        type(s) is dict and tuple(s) == _USAGE_ORDER and type(s["date"]) is str for s in value
    ):
        return sorted(value, key=lambda s: s["date"])
    return _sorted_list(value, lambda s: _ordered(s, _USAGE, {}), lambda s: ("", _get(s, "date")))


def _canonical(doc: object) -> object:
    usage = _usage
    line = lambda v: _ordered(v, _LINE, {"usage": usage})  # noqa: E731
    lines = lambda v: _sorted_list(  # noqa: E731
        v, line, lambda line: (str(_PRODUCT_RANK.get(line.get("product"), len(PRODUCTS))), _get(line, "product"))
    )
    invoices = lambda v: _sorted_list(v, lambda i: _ordered(i, _INVOICE, {}), lambda i: ("", _get(i, "number")))  # noqa: E731
    orders = lambda v: _sorted_list(v, lambda o: _ordered(o, _ORDER, {}), lambda o: ("", _get(o, "number")))  # noqa: E731
    subscription = lambda v: _ordered(v, _SUBSCRIPTION, {"lines": lines, "invoices": invoices, "orders": orders})  # noqa: E731
    trial = lambda v: _ordered(v, _TRIAL, {"lines": lines})  # noqa: E731
    customer = lambda v: _ordered(  # noqa: E731
        v,
        _CUSTOMER,
        {
            "admins": lambda a: sorted(a, key=_text) if isinstance(a, list) else a,
            "subscriptions": lambda s: _sorted_list(s, subscription, lambda x: ("", _get(x, "subscriptionId"))),
            "trials": lambda t: _sorted_list(t, trial, lambda x: ("", _get(x, "trialId"))),
        },
    )
    admin = lambda v: _ordered(v, _ADMIN, {})  # noqa: E731
    partner = lambda v: _ordered(  # noqa: E731
        v,
        _PARTNER,
        {
            "admins": lambda a: _sorted_list(a, admin, lambda x: (_get(x, "email").lower(), _get(x, "id"))),
            "customers": lambda c: _sorted_list(c, customer, lambda x: (fold(_get(x, "name")), _get(x, "id"))),
        },
    )
    return _ordered(
        doc,
        _ROOT,
        {"partners": lambda p: _sorted_list(p, partner, lambda x: ("", _get(x, "id")))},
    )


def dump_json(doc: dict[str, Any]) -> bytes:
    """Serialise a document deterministically.

    Lists are sorted as :func:`export_document` orders them and object keys
    follow the SPEC's field order, so identical data gives identical bytes
    whatever order a file or the database produced it in.

    Args:
        doc: An import/export document.

    Returns:
        UTF-8 JSON, indented by 2 spaces, ending with a newline.
    """
    return orjson.dumps(_canonical(doc), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
