"""The trend method on noisy series: a Theil–Sen slope over a stated window, read against the
indicator's polarity, and a noise band that a wobble or one good reading does not clear."""

import datetime as dt

import pytest

from compliance.models import Indicator
from compliance.obligations.status import OutcomeStatus, read_indicator
from compliance.outcomes.trend import MAX_POINTS, Verdict, judge_trend

ON = dt.date(2026, 6, 1)


def indicator(**overrides) -> Indicator:
    values = dict(
        id=1,
        outcome_id=1,
        name="Desired outcomes achieved",
        unit="%",
        direction="increase",
        baseline_value=89.0,
        target_value=95.0,
    )
    return Indicator(**(values | overrides))


def quarterly(values: list[float], last: dt.date = dt.date(2026, 3, 31)) -> list:
    """Values a quarter apart, the last of them on `last`."""
    count = len(values)
    return [(last - dt.timedelta(days=91 * (count - 1 - n)), v) for n, v in enumerate(values)]


def test_a_steady_but_noisy_improvement_is_improving():
    series = quarterly([70, 72, 71, 74, 76, 75, 78])
    found = judge_trend(indicator(baseline_value=70.0, target_value=85.0), series, ON)
    assert found.verdict == Verdict.improving
    assert found.points_used == 7
    assert 4 < found.slope_per_year < 6


def test_a_single_good_reading_after_a_fall_does_not_make_improving():
    series = quarterly([92, 90, 88, 86, 93])
    # The last two readings rise (86 to 93): comparing only those called this improving.
    found = judge_trend(indicator(), series, ON)
    assert found.verdict == Verdict.worsening
    # A good reading after a level run is no trend either.
    assert judge_trend(indicator(), quarterly([90, 90, 90, 90, 93]), ON).verdict == (
        Verdict.no_change
    )


@pytest.mark.parametrize("values", [[93, 95, 94, 93, 95], [95, 93, 94, 95, 93, 95], [93, 95, 93]])
def test_readings_that_wobble_between_93_and_95_are_no_change(values):
    found = judge_trend(indicator(), quarterly(values), ON)
    assert found.verdict == Verdict.no_change, found.method


def test_where_lower_is_better_a_fall_improves_and_a_rise_gets_worse():
    down = indicator(direction="decrease", baseline_value=22.0, target_value=18.0)
    assert judge_trend(down, quarterly([21.1, 20.4, 20.9, 19.8, 19.5]), ON).verdict == (
        Verdict.improving
    )
    assert judge_trend(down, quarterly([21.1, 22.6, 23.4]), ON).verdict == Verdict.worsening
    up = indicator(baseline_value=None, target_value=None)
    assert judge_trend(up, quarterly([21.1, 22.6, 23.4]), ON).verdict == Verdict.improving


def test_fewer_than_three_measurements_are_too_few_to_judge():
    for values in ([], [93.0], [90.0, 93.0]):
        found = judge_trend(indicator(), quarterly(values), ON)
        assert (found.verdict, found.slope_per_year) == (Verdict.too_few_measurements, None)
        assert found.points_used == len(values)
        assert found.method.startswith("Too few measurements to judge:")
        assert "a trend needs at least 3" in found.method


def test_the_window_is_the_three_years_to_the_date_and_the_latest_twelve_in_it():
    edge = dt.date(2023, 6, 1)
    series = [(edge, 80.0), (dt.date(2024, 6, 1), 85.0), (dt.date(2025, 6, 1), 90.0)]
    counted = judge_trend(indicator(), series, ON)
    assert (counted.points_used, counted.first_date, counted.window_start) == (3, edge, edge)
    assert counted.window_end == ON
    a_day_early = [(edge - dt.timedelta(days=1), 80.0), *series[1:]]
    assert judge_trend(indicator(), a_day_early, ON).verdict == Verdict.too_few_measurements
    # A measurement dated after the as-at date is not read.
    later = [*series[1:], (ON + dt.timedelta(days=1), 99.0)]
    assert judge_trend(indicator(), later, ON).points_used == 2
    monthly = [(dt.date(2025, m, 1), 80.0 + m) for m in range(1, 13)] + [(dt.date(2026, 1, 1), 99)]
    newest = judge_trend(indicator(), monthly, ON)
    assert newest.points_used == MAX_POINTS
    assert (newest.first_date, newest.last_date) == (dt.date(2025, 2, 1), dt.date(2026, 1, 1))


def test_the_method_line_names_the_method_the_measurements_and_their_dates():
    series = [
        (dt.date(2024, 4, 1), 90.5),
        (dt.date(2024, 10, 1), 91.0),
        (dt.date(2025, 4, 1), 92.1),
        (dt.date(2025, 10, 1), 92.4),
        (dt.date(2026, 3, 31), 93.6),
    ]
    found = judge_trend(indicator(), series, ON)
    assert found.method.startswith(
        "Theil–Sen slope over 5 measurements, 1 Apr 2024 – 31 Mar 2026: +"
    )
    assert "% a year, a change of +" in found.method
    assert found.method.endswith("against a noise band of ±0.6 %; higher is better")


def test_without_a_target_the_band_is_a_share_of_the_level():
    flat = indicator(unit="per 100,000", baseline_value=None, target_value=None)
    # 500 to 502 is 0.4% of the level: no change; 500 to 560 is a trend.
    assert judge_trend(flat, quarterly([500, 501, 502]), ON).verdict == Verdict.no_change
    assert judge_trend(flat, quarterly([500, 530, 560]), ON).verdict == Verdict.improving


def test_an_indicator_status_is_its_verdict_once_measured_in_the_last_year():
    recent = quarterly([92, 90, 88], last=dt.date(2026, 3, 31))
    assert read_indicator(indicator(), recent, ON).status == OutcomeStatus.worsening
    stale = quarterly([92, 90, 88], last=dt.date(2025, 5, 31))
    assert read_indicator(indicator(), stale, ON).status == OutcomeStatus.not_measured
    two = quarterly([88, 92])
    assert read_indicator(indicator(), two, ON).status == OutcomeStatus.too_few_measurements
    assert read_indicator(indicator(), [], ON).status == OutcomeStatus.not_measured
