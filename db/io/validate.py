"""Validation of the import document of SPEC §5, before anything is written.

Two passes, both over the whole document, so a bad file yields every problem
at once with its JSON path:

1. pydantic models check each record's own fields (:mod:`db.io.fields`:
   types, enums, dates, amounts, the text rules of :mod:`db.text`) and
   return the cleaned values the loader writes: NFC-normalised strings,
   ``date`` and ``Decimal`` objects. A pydantic error location is the JSON
   path we print.
2. :data:`db.io.checks.CHECKS`, one table of the rules that span records
   (uniqueness, references, one ACTIVE trial, ``endsOn`` after ``startsOn``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from typing_extensions import TypedDict

from db.io.checks import CHECKS, run_check
from db.io.fields import (
    Count,
    Currency,
    CustomerName,
    Day,
    Email,
    Flag,
    Id,
    Money,
    Name,
    Product,
    Token,
    json_path,
    json_type,
    one_of,
    refused,
)
from db.models import INVOICE_STATUSES, MANAGED_BY, ORDER_ACTIONS, ROLES, SUBSCRIPTION_STATUSES, TRIAL_STATUSES


class ImportValidationError(Exception):
    """An import document was refused; nothing was written.

    Attributes:
        problems: Every problem found, each as ``"<json path>: <message>"``.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------
# The document. Field order is the SPEC's, which is also the key order of an
# exported file and the order problems of one record are listed in.
# --------------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UsageDoc(TypedDict):
    """A weekly snapshot: a typed dict rather than a model, since a file holds
    millions of them and a dict is much cheaper to build."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]
    date: Day
    assigned: Count
    used: Count
    used90: Count


class LineDoc(_Record):
    product: Product
    total: Count
    usage: list[UsageDoc] = []


class InvoiceDoc(_Record):
    number: Id
    issuedOn: Day
    dueOn: Day
    amount: Money
    currency: Currency
    status: Annotated[str, PlainValidator(one_of(INVOICE_STATUSES))]


class OrderDoc(_Record):
    number: Id
    placedOn: Day
    action: Annotated[str, PlainValidator(one_of(ORDER_ACTIONS))]
    product: Product
    quantity: Count


class SubscriptionDoc(_Record):
    subscriptionId: Id
    status: Annotated[str, PlainValidator(one_of(SUBSCRIPTION_STATUSES))]
    startsOn: Day
    endsOn: Day
    autoRenew: Flag
    lines: list[LineDoc] = []
    invoices: list[InvoiceDoc] = []
    orders: list[OrderDoc] = []


class TrialDoc(_Record):
    trialId: Id
    status: Annotated[str, PlainValidator(one_of(TRIAL_STATUSES))]
    startsOn: Day
    endsOn: Day
    startedBy: Id | None = None
    lines: list[LineDoc] = []
    # Not a field of a trial: declared only to say so instead of "unknown field".
    autoRenew: Annotated[None, PlainValidator(refused("trials have no autoRenew"))] = Field(default=None, exclude=True)


class CustomerDoc(_Record):
    id: Id
    name: CustomerName
    managedBy: Annotated[str, PlainValidator(one_of(MANAGED_BY))]
    createdOn: Day
    lastAdminActivityOn: Day | None = None
    admins: list[Id] = []
    subscriptions: list[SubscriptionDoc] = []
    trials: list[TrialDoc] = []


class AdminDoc(_Record):
    id: Id
    email: Email
    displayName: Name
    role: Annotated[str, PlainValidator(one_of(ROLES))]
    token: Token | None = None


class PartnerDoc(_Record):
    id: Id
    name: Name
    admins: list[AdminDoc] = []
    customers: list[CustomerDoc] = []


class Document(_Record):
    partners: list[PartnerDoc]


def _declared(model: type[Any]) -> tuple[str, ...]:
    if issubclass(model, BaseModel):
        return tuple(model.model_fields)
    return tuple(model.__annotations__)  # a TypedDict


def keys_of(model: type[Any]) -> tuple[str, ...]:
    """The JSON keys of a record in the SPEC's order (a refused-only key such as a trial's autoRenew left out)."""
    excluded = (
        {name for name, info in model.model_fields.items() if info.exclude} if issubclass(model, BaseModel) else set()
    )
    return tuple(name for name in _declared(model) if name not in excluded)


def _child_models(model: type[Any]) -> dict[str, type[Any]]:
    """The record type of each list-of-records field of ``model``."""
    if not issubclass(model, BaseModel):
        return {}
    children = {}
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is list:
            (item,) = get_args(info.annotation)
            if item in RECORDS:
                children[name] = item
    return children


RECORDS: tuple[type[Any], ...] = (
    Document,
    PartnerDoc,
    AdminDoc,
    CustomerDoc,
    SubscriptionDoc,
    TrialDoc,
    LineDoc,
    UsageDoc,
    InvoiceDoc,
    OrderDoc,
)
_CHILDREN = {model: _child_models(model) for model in RECORDS}
_DECLARED = {model: _declared(model) for model in RECORDS}


def _document_order(loc: Sequence[str | int]) -> tuple[int, ...]:
    """Sort key of a problem's location: list positions, and keys in field order (unknown keys first)."""
    model: type[Any] | None = Document
    key: list[int] = []
    for part in loc:
        if type(part) is int:
            key.append(part)
            continue
        fields = _DECLARED.get(model, ()) if model is not None else ()
        key.append(fields.index(part) if part in fields else -1)
        model = _CHILDREN.get(model, {}).get(str(part)) if model is not None else None
    return tuple(key)


# pydantic's own error types in our words; "import" errors carry their message.
_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda e: "required field missing",
    "extra_forbidden": lambda e: "unknown field",
    "model_type": lambda e: f"expected object, got {json_type(e['input'])}",
    "list_type": lambda e: f"expected array, got {json_type(e['input'])}",
    "int_type": lambda e: f"expected integer, got {json_type(e['input'])}",
    "bool_type": lambda e: f"expected boolean, got {json_type(e['input'])}",
    "greater_than_equal": lambda e: "must not be negative",
    "less_than_equal": lambda e: f"too large (at most {e['ctx']['le']})",
    "import": lambda e: str(e["ctx"]["message"]),
}


def _field_problems(error: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    return [(tuple(e["loc"]), _MESSAGES.get(e["type"], lambda e: str(e["msg"]))(e)) for e in error.errors()]


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block.

    Validating and loading a file builds hundreds of thousands of small
    objects next to the millions of the parsed document, and each full
    collection this triggers walks them all (at 10,000 customers it tripled
    validation time and cost the old loader 0.4 s). Few of them form cycles,
    so little is left for the collector when it resumes. Files are
    loaded by the CLI and the seeder (``serve`` seeds before it listens), never
    while requests are served.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_document(doc: object) -> tuple[Document | None, list[str]]:
    """Validate an import document and return its cleaned records.

    Returns:
        The document's records (None when there is any problem) and every
        problem as ``"<json path>: <message>"`` in document order.
    """
    parsed: Document | None = None
    with paused_gc():
        try:
            parsed = Document.model_validate(doc)
            problems = []
        except ValidationError as error:
            problems = _field_problems(error)
        refused_at = {loc for loc, _ in problems}
        walks: dict[Any, Any] = {}
        for check in CHECKS:
            problems.extend(run_check(check, doc, refused_at, walks))
    if not problems:
        return parsed, []
    # Stable: problems at one place keep the order they were found in.
    problems.sort(key=lambda problem: _document_order(problem[0]))
    return None, [f"{json_path(loc)}: {message}" for loc, message in problems]


def validate_document(doc: object) -> list[str]:
    """Check an import document (SPEC §5) and list every problem.

    Args:
        doc: The parsed JSON document.

    Returns:
        Every problem as ``"<json path>: <message>"`` in document order, e.g.
        ``partners[0].customers[3].subscriptions[1].endsOn: not a date``;
        empty when the document can be loaded (conflicts with rows already
        in a database are checked by :func:`db.io.load_document`).
    """
    return parse_document(doc)[1]
