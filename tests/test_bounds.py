"""The range of ``asOf`` (resolvers/bounds.py, SPEC §3.2, issue 13)."""

from __future__ import annotations

import datetime as dt

import pytest
from graphql import GraphQLError

from resolvers.bounds import as_of_range, check_as_of, years_from

D = dt.date.fromisoformat
TODAY = D("2026-11-25")


def test_range_is_ten_calendar_years_either_side_of_today() -> None:
    # 2026-11-25 − 10 years = 2016-11-25, + 10 years = 2036-11-25, both included.
    assert as_of_range(TODAY) == (D("2016-11-25"), D("2036-11-25"))


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        ("2028-02-29", -10, "2018-02-28"),  # 2018 is a common year: the 28th
        ("2028-02-29", 10, "2038-02-28"),
        ("2028-02-29", -4, "2024-02-29"),  # 2024 is a leap year: the 29th stays
        ("2026-12-31", 10, "2036-12-31"),
    ],
)
def test_years_from(day: str, years: int, expected: str) -> None:
    assert years_from(D(day), years) == D(expected)


@pytest.mark.parametrize("as_of", ["2016-11-25", "2026-11-25", "2036-11-25", "2020-02-29"])
def test_days_inside_the_range_are_kept(as_of: str) -> None:
    assert check_as_of(D(as_of), TODAY) == D(as_of)


def test_omitted_as_of_is_today() -> None:
    assert check_as_of(None, TODAY) == TODAY


@pytest.mark.parametrize(
    "as_of",
    [
        "2016-11-24",  # one day before the first allowed
        "2036-11-26",  # one day after the last allowed
        "0001-01-01",  # the attack's values: INTERNAL_SERVER_ERROR before
        "9999-12-31",
    ],
)
def test_days_outside_the_range_are_bad_user_input(as_of: str) -> None:
    with pytest.raises(GraphQLError) as caught:
        check_as_of(D(as_of), TODAY)
    assert caught.value.extensions == {"code": "BAD_USER_INPUT"}
    assert caught.value.message == (
        f"`asOf` must lie within 10 years of today, from 2016-11-25 to 2036-11-25; got {as_of}."
    )


def test_the_message_names_the_argument_given() -> None:
    with pytest.raises(GraphQLError, match=r"^`input\.asOf` must lie within 10 years"):
        check_as_of(D("1999-01-01"), TODAY, "input.asOf")


def test_the_widest_windows_around_the_range_ends_are_valid_dates() -> None:
    # The reason for the range: days ≤ 3650 and 52 weeks (364 days) either side stay on the calendar.
    first, last = as_of_range(TODAY)
    # 2006-11-25..2016-11-25 holds 3 leap days (2008, 2012, 2016): 3653 days, so 3650 end 3 days later.
    assert first - dt.timedelta(days=3650) == D("2006-11-28")
    # 2036-11-25..2046-11-25 holds 2 (2040, 2044): 3652 days, so 3650 end 2 days short.
    assert last + dt.timedelta(days=3650) == D("2046-11-23")
