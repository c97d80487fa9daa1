"""The range of ``asOf``: analytics and KPIs answer for days within ten years of today (SPEC §3.2).

A Date argument can name any day from 0001-01-01 to 9999-12-31. Far days
mean nothing to a licence report, and near the ends of that range the
windows built around ``asOf`` (``days`` up to 3650, ``weeks`` up to 52) fall
off the calendar: Python raises OverflowError and PostgreSQL refuses dates
before 4713 BC, both answered as INTERNAL_SERVER_ERROR before this check.
Ten years either side keeps every window a valid date (2016-11-25 − 3650
days is 2006-11-28) and leaves room for any real report.
"""

from __future__ import annotations

import datetime as dt

from resolvers.pagination import bad_input

AS_OF_YEARS = 10


def years_from(day: dt.date, years: int) -> dt.date:
    """``day`` moved by whole calendar years; 29 February becomes the 28th in a common year.

    For example 2026-11-25 + 10 → 2036-11-25, 2028-02-29 − 10 → 2018-02-28.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def as_of_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day ``asOf`` may be, both included: ten years before and after ``today``."""
    return years_from(today, -AS_OF_YEARS), years_from(today, AS_OF_YEARS)


def check_as_of(as_of: dt.date | None, today: dt.date, argument: str = "asOf") -> dt.date:
    """The day to compute for: ``as_of``, or ``today`` when it is omitted.

    Args:
        as_of: The argument's value, ``None`` when the caller left it out.
        today: Today in the request's context (``PARTNERHUB_TODAY`` or the clock).
        argument: The argument's name, for the message.

    Raises:
        GraphQLError: ``BAD_USER_INPUT`` naming the argument and the range,
            when ``as_of`` lies outside :func:`as_of_range`.
    """
    if as_of is None:
        return today
    first, last = as_of_range(today)
    if not first <= as_of <= last:
        raise bad_input(
            f"`{argument}` must lie within {AS_OF_YEARS} years of today, from {first.isoformat()} to "
            f"{last.isoformat()}; got {as_of.isoformat()}."
        )
    return as_of
