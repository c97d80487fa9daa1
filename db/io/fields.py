"""The field types of the import document: each a check that returns the cleaned value or raises the problem.

The text rules are :mod:`db.text`'s (NFC, no control characters, a visible
character in names, 32-bit integers); the messages are the import's, short
because the JSON path in front of them names the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

from db.models import PRODUCTS, fold
from db.text import INT32_MAX, has_visible_character, refused_character

# Column widths of db/models.py: PostgreSQL enforces them, so they are
# checked here to report a path instead of a driver error.
ID_LEN = 100
NAME_LEN = 200
EMAIL_LEN = 320
TOKEN_LEN = 1000
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
CENT = Decimal("0.01")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT_RE = re.compile(r"-?\d+(?:\.\d+)?")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for "expected X, got Y"."""
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


def quote(value: str) -> str:
    """``value`` as a JSON string, the way problems show what a file said."""
    return json.dumps(value, ensure_ascii=False)


def json_path(loc: Iterable[str | int]) -> str:
    """A pydantic error location as a JSON path: ``partners[0].customers[3].name`` (``$`` for the root)."""
    path = ""
    for part in loc:
        if type(part) is int:
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "$"


def problem(message: str) -> PydanticCustomError:
    # The message travels as context: a template would read braces in the
    # file's own text as placeholders.
    return PydanticCustomError("import", "{message}", {"message": message})


_date_cache: dict[str, dt.date] = {}


def parse_date(text: str) -> dt.date | None:
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


def _day(value: object) -> dt.date:
    if type(value) is not str:
        raise problem(f"expected date string, got {json_type(value)}")
    parsed = _date_cache.get(value) or parse_date(value)
    if parsed is None:
        raise problem("not a date")
    return parsed


def _text(limit: int, *, name: bool = False, nfc: bool = True) -> Callable[[object], str]:
    """The check of a string field: the text rules, not blank, at most ``limit`` characters.

    Args:
        limit: Characters allowed, counted after NFC (as the database counts).
        name: A name: blanks around it are dropped and it must show a
            visible character (db/text.py's rule for names).
        nfc: Normalise; off for tokens, whose hash must match what clients send.
    """

    def check(value: object) -> str:
        if type(value) is not str:
            raise problem(f"expected string, got {json_type(value)}")
        # isprintable() (in C) is False for every refused character, so the
        # per-character rule runs only on the rare text that needs it.
        bad = None if value.isprintable() else refused_character(value)
        if bad is not None:
            raise problem(f"must not contain control characters; found {bad}")
        text = unicodedata.normalize("NFC", value) if nfc else value
        if name:
            text = text.strip()
        if not text.strip():
            raise problem("must not be empty")
        if name and not has_visible_character(text):
            raise problem("must contain a visible character")
        if len(text) > limit:
            raise problem(f"longer than {limit} characters")
        return text

    return check


check_id = _text(ID_LEN)


def id_key(value: str) -> str:
    """What :func:`check_id` returns for an id it accepted, without checking it again: the key ids compare by."""
    return unicodedata.normalize("NFC", value)


check_name = _text(NAME_LEN, name=True)
_check_email_text = _text(EMAIL_LEN)
_check_token = _text(TOKEN_LEN, nfc=False)


def check_customer_name(value: object) -> str:
    """A name whose case-folded key (``customer.name_key``) fits the column too."""
    text = check_name(value)
    if len(fold(text)) > NAME_LEN:
        raise problem(f"longer than {NAME_LEN} characters")
    return text


def check_email(value: object) -> str:
    """An address, stored trimmed and lower-cased: the key logins and uniqueness use."""
    text = _check_email_text(value).strip()
    if not _EMAIL_RE.fullmatch(text):
        raise problem("not an email address")
    return text.lower()


def one_of(allowed: tuple[str, ...]) -> Callable[[object], str]:
    known = frozenset(allowed)

    def check(value: object) -> str:
        if type(value) is not str:
            raise problem(f"expected string, got {json_type(value)}")
        if value not in known:
            raise problem(f"unknown value {quote(value)}; expected one of {', '.join(allowed)}")
        return value

    return check


def amount(value: object) -> Decimal | str:
    """The amount as a Decimal, or the message saying why it is not one."""
    if isinstance(value, bool):
        return f"expected decimal string, got {json_type(value)}"
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
        return f"expected decimal string, got {json_type(value)}"
    if number < 0:
        return "must not be negative"
    if number != number.quantize(CENT):
        return "more than 2 decimals"
    if number > MAX_AMOUNT:
        return f"too large (at most {MAX_AMOUNT})"
    return number.quantize(CENT)


def _amount(value: object) -> Decimal:
    number = amount(value)
    if isinstance(number, str):
        raise problem(number)
    return number


def _currency(value: object) -> str:
    if type(value) is not str:
        raise problem(f"expected string, got {json_type(value)}")
    if not _CURRENCY_RE.fullmatch(value):
        raise problem("not a currency code (3 upper-case letters)")
    return value


def refused(message: str) -> Callable[[object], None]:
    def check(value: object) -> None:
        raise problem(message)

    return check


Id = Annotated[str, PlainValidator(check_id)]
Name = Annotated[str, PlainValidator(check_name)]
CustomerName = Annotated[str, PlainValidator(check_customer_name)]
Email = Annotated[str, PlainValidator(check_email)]
Token = Annotated[str, PlainValidator(_check_token)]
Day = Annotated[dt.date, PlainValidator(_day)]
# Strict: JSON's 1.0 or true is not a count; the bound is the INTEGER column's.
Count = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
Flag = Annotated[bool, Field(strict=True)]
Money = Annotated[Decimal, PlainValidator(_amount)]
Currency = Annotated[str, PlainValidator(_currency)]
Product = Annotated[str, PlainValidator(one_of(PRODUCTS))]
