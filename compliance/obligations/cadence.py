"""Turn a cadence into periods, each with its own due date."""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from compliance.catalogue.schema import Cadence

# Show the next period once its due date is this close, so that a plan due before its year
# starts (a joint forward plan, a partnership plan) appears in time to be prepared.
LOOKAHEAD_DAYS = 92


class DueRule(Protocol):
    """The fields of a deliverable or funding condition that set its due dates."""

    cadence: str
    due_relative_to: str
    due_offset_days: int
    due_date: dt.date | None


@dataclass(frozen=True)
class PeriodDates:
    """The dates of a period a cadence gives, before it is stored as a models.Period."""

    start: dt.date
    end: dt.date
    due: dt.date


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    return dt.date(day.year + month_index // 12, month_index % 12 + 1, 1)


def _year_start(day: dt.date, first_month: int) -> dt.date:
    year = day.year if day.month >= first_month else day.year - 1
    return dt.date(year, first_month, 1)


def _length_months(rule: DueRule) -> int:
    cadence = Cadence(rule.cadence)
    if cadence == Cadence.quarterly:
        return 3
    if cadence == Cadence.every_n_years:
        return 12 * (getattr(rule, "interval_years", None) or 1)
    return 12


def _due(rule: DueRule, start: dt.date, end: dt.date) -> dt.date:
    base = start if rule.due_relative_to == "period_start" else end
    return base + dt.timedelta(days=rule.due_offset_days)


def periods(rule: DueRule, *, anchor: dt.date, until: dt.date) -> list[PeriodDates]:
    """Every period from the one containing `anchor` to the last one that matters at `until`.

    A period matters once it has started, or once its due date is within LOOKAHEAD_DAYS.
    """
    if Cadence(rule.cadence) == Cadence.one_off:
        due = rule.due_date or anchor + dt.timedelta(days=rule.due_offset_days)
        return [PeriodDates(start=min(anchor, due), end=due, due=due)]
    first_month = 1 if getattr(rule, "year_start", "financial") == "calendar" else 4
    months = _length_months(rule)
    start = _year_start(anchor, first_month)
    if months == 3:
        while _add_months(start, 3) <= anchor:
            start = _add_months(start, 3)
    found: list[PeriodDates] = []
    horizon = until + dt.timedelta(days=LOOKAHEAD_DAYS)
    while True:
        end = _add_months(start, months) - dt.timedelta(days=1)
        due = _due(rule, start, end)
        if start > until and due > horizon:
            return found
        found.append(PeriodDates(start=start, end=end, due=due))
        start = end + dt.timedelta(days=1)
