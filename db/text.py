"""What a string or integer from outside must be before it is stored or queried.

One module for the import document and the API alike, so a name the import
accepts is a name ``createPartnerAdmin`` accepts and the other way round:

* text is stored NFC-normalised (``"C\\u030c"`` and ``"Č"`` are one name);
* control characters (Unicode category Cc: NUL, escapes, DEL, C1) and lone
  surrogates (Cs) are refused everywhere — line breaks and tabs included,
  since no field of ours is multi-line;
* a name must contain at least one visible character: not only blanks,
  format characters (zero-width space, bidi marks) or separators;
* an integer must fit the database column (a 32-bit signed ``INTEGER`` on
  both databases).
"""

from __future__ import annotations

import unicodedata

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# Categories that draw nothing on their own: separators (Zs, Zl, Zp), format
# characters (Cf: zero-width space, bidi controls) and the refused ones.
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cf", "Cc", "Cs", "Cn", "Co"})
_REFUSED = frozenset({"Cc", "Cs"})


class TextProblem(ValueError):
    """A string a caller sent breaks one of the rules; the message says which, in plain words."""


def refused_character(value: str) -> str | None:
    """The first refused character of ``value`` as ``U+XXXX``, or ``None`` when there is none."""
    for char in value:
        if unicodedata.category(char) in _REFUSED:
            return f"U+{ord(char):04X}"
    return None


def has_visible_character(value: str) -> bool:
    """Whether ``value`` shows anything: some character that is not a blank, separator or format mark."""
    return any(unicodedata.category(char) not in _INVISIBLE for char in value)


def clean_text(value: str, *, what: str) -> str:
    """``value`` NFC-normalised, or :class:`TextProblem` when it holds a refused character.

    Args:
        value: the string as the caller sent it.
        what: the field's name for the message, e.g. ``"Display name"``.
    """
    bad = refused_character(value)
    if bad is not None:
        raise TextProblem(f"{what} must not contain control characters; found {bad}.")
    return unicodedata.normalize("NFC", value)


def clean_name(value: str, *, what: str, limit: int) -> str:
    """A name: :func:`clean_text`, blanks around it removed, at least one visible character, at most ``limit`` long.

    Length counts code points of the normalised, stripped name, the way the
    database's ``length()`` counts them.
    """
    name = clean_text(value, what=what).strip()
    if not name:
        raise TextProblem(f"{what} must not be empty.")
    if not has_visible_character(name):
        raise TextProblem(f"{what} must contain a visible character.")
    if len(name) > limit:
        raise TextProblem(f"{what} may be at most {limit} characters; got {len(name)}.")
    return name


def fits_int32(value: int) -> bool:
    """Whether ``value`` fits a 32-bit signed ``INTEGER`` column."""
    return INT32_MIN <= value <= INT32_MAX
