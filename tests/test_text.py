"""The text rules of db/text.py, shared by the import and the API."""

import re

import pytest

from db.text import INT32_MAX, INT32_MIN, TextProblem, clean_name, clean_text, fits_int32, has_visible_character


def test_text_is_stored_nfc():
    # "C" + COMBINING CARON (U+030C) composes to "Č" (U+010C): one code point.
    assert clean_text("C\u030cačak", what="Name") == "\u010ca\u010dak" == "Čačak"
    assert len(clean_text("C\u030c", what="Name")) == 1


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("a\x00b", "U+0000"),  # NUL
        ("a\tb", "U+0009"),  # tab is Cc too: no field of ours is multi-line
        ("line\nbreak", "U+000A"),
        ("del\x7f", "U+007F"),
        ("c1\x85", "U+0085"),  # NEXT LINE, a C1 control
        ("lone\ud800", "U+D800"),  # a surrogate on its own (Cs)
    ],
)
def test_control_characters_and_surrogates_are_refused(value, found):
    with pytest.raises(TextProblem, match=re.escape(f"Name must not contain control characters; found {found}.")):
        clean_text(value, what="Name")


def test_names_need_a_visible_character():
    # U+200B ZERO WIDTH SPACE (Cf), U+00A0 NO-BREAK SPACE (Zs), U+2028 LINE SEPARATOR (Zl).
    assert not has_visible_character("\u200b\u00a0\u2028")
    with pytest.raises(TextProblem, match=re.escape("Name must contain a visible character.")):
        clean_name("\u200b\u00a0", what="Name", limit=10)
    with pytest.raises(TextProblem, match=re.escape("Name must not be empty.")):
        clean_name("   ", what="Name", limit=10)
    assert clean_name("  Ана  ", what="Name", limit=10) == "Ана"


def test_name_length_counts_normalised_code_points():
    # "C\u030c" * 5 is 10 code points as sent, 5 after NFC: fits a limit of 5.
    assert clean_name("C\u030c" * 5, what="Name", limit=5) == "Č" * 5
    with pytest.raises(TextProblem, match=re.escape("Name may be at most 5 characters; got 6.")):
        clean_name("abcdef", what="Name", limit=5)


def test_int32_bounds():
    assert (INT32_MIN, INT32_MAX) == (-2147483648, 2147483647)
    assert fits_int32(2147483647) and fits_int32(-2147483648)
    assert not fits_int32(2147483648) and not fits_int32(-2147483649)
