"""Cadences turn into periods with due dates."""

import datetime as dt
from dataclasses import dataclass

from compliance.obligations.cadence import LOOKAHEAD_DAYS, periods


@dataclass
class Rule:
    cadence: str
    due_relative_to: str = "period_end"
    due_offset_days: int = 0
    due_date: dt.date | None = None
    interval_years: int | None = None
    year_start: str = "financial"


def starts(found):
    return [p.start for p in found]


def test_annual_periods_follow_the_financial_year():
    found = periods(Rule("annual"), anchor=dt.date(2024, 6, 1), until=dt.date(2026, 11, 26))
    assert starts(found) == [dt.date(2024, 4, 1), dt.date(2025, 4, 1), dt.date(2026, 4, 1)]
    assert found[0].end == dt.date(2025, 3, 31)
    assert found[0].due == dt.date(2025, 3, 31)


def test_calendar_year_and_offset_after_year_end():
    rule = Rule("annual", year_start="calendar", due_offset_days=122)
    found = periods(rule, anchor=dt.date(2025, 2, 1), until=dt.date(2025, 12, 1))
    assert [(p.start, p.end, p.due) for p in found] == [
        (dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 5, 2))
    ]


def test_plan_due_before_its_year_appears_within_the_lookahead():
    rule = Rule("annual", due_relative_to="period_start", due_offset_days=-1)
    before = periods(rule, anchor=dt.date(2025, 4, 1), until=dt.date(2025, 12, 1))
    assert starts(before) == [dt.date(2025, 4, 1)]
    near = periods(rule, anchor=dt.date(2025, 4, 1), until=dt.date(2026, 1, 15))
    assert starts(near) == [dt.date(2025, 4, 1), dt.date(2026, 4, 1)]
    assert near[1].due == dt.date(2026, 3, 31)
    assert (near[1].due - dt.date(2026, 1, 15)).days <= LOOKAHEAD_DAYS


def test_quarterly_periods_align_to_quarters_of_the_financial_year():
    rule = Rule("quarterly", due_offset_days=30)
    found = periods(rule, anchor=dt.date(2025, 5, 20), until=dt.date(2025, 12, 1))
    assert starts(found) == [dt.date(2025, 4, 1), dt.date(2025, 7, 1), dt.date(2025, 10, 1)]
    assert found[0].end == dt.date(2025, 6, 30)
    assert found[0].due == dt.date(2025, 7, 30)


def test_every_three_years_runs_from_the_anchor_year():
    rule = Rule("every_n_years", interval_years=3)
    found = periods(rule, anchor=dt.date(2022, 1, 5), until=dt.date(2026, 11, 26))
    assert [(p.start, p.end) for p in found] == [
        (dt.date(2021, 4, 1), dt.date(2024, 3, 31)),
        (dt.date(2024, 4, 1), dt.date(2027, 3, 31)),
    ]


def test_one_off_has_a_single_period_with_its_fixed_date():
    rule = Rule("one_off", due_date=dt.date(2022, 1, 5))
    found = periods(rule, anchor=dt.date(2026, 4, 1), until=dt.date(2026, 11, 26))
    assert [(p.start, p.due) for p in found] == [(dt.date(2022, 1, 5), dt.date(2022, 1, 5))]


def test_continuous_duties_get_one_annual_review_per_year():
    found = periods(Rule("continuous"), anchor=dt.date(2025, 4, 1), until=dt.date(2026, 4, 2))
    assert starts(found) == [dt.date(2025, 4, 1), dt.date(2026, 4, 1)]
    assert [p.due for p in found] == [dt.date(2026, 3, 31), dt.date(2027, 3, 31)]
