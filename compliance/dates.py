"""The dates people may type: a year outside a sane range is a slip (year 1 for 2001, 2205 for
2025), refused with a message rather than stored, where it would wreck the date arithmetic of
every view that reads it (three years before year 1 is no date at all).

Two ranges, conventions of ours:

- Any date typed, on a form, in the API, in an imported file or on the command line: the years
  FIRST_YEAR to LAST_YEAR. A body's or a partnership's start may be long past (a council of
  1974), a review or a target some way off, but none in year 1 or 9999.
- A record of what happened, kept by this tracker (a measurement): on or after EARLIEST_RECORD
  and not after today, the same floor as a report's as-at date.
"""

import datetime as dt

FIRST_YEAR, LAST_YEAR = 1900, 2200
EARLIEST_RECORD = dt.date(2000, 1, 1)


def spoken(day: dt.date) -> str:
    """A date as people say it: 1 January 2000."""
    return f"{day.day} {day:%B %Y}"


def year_problem(day: dt.date) -> str | None:
    """Why a typed date cannot be meant, or None."""
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return None
    return f"the year {day.year} is not between {FIRST_YEAR} and {LAST_YEAR}"


def record_problem(day: dt.date, *, today: dt.date) -> str | None:
    """Why a date cannot be that of a record of what happened, or None."""
    if day < EARLIEST_RECORD:
        return f"the date is before {spoken(EARLIEST_RECORD)}"
    if day > today:
        return "the date is in the future"
    return None
