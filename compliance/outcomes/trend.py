"""Whether an indicator is improving, judged by a trend that a single reading cannot move.

The method, printed beside every verdict:

- The window: the indicator's measurements dated in the 3 years up to the as-at date (from the
  same day 3 years before, inclusive), at most the latest 12 of them. Fewer than 3 there is
  "too few measurements to judge".
- The slope: Theil–Sen, the median of the slopes between every pair of those measurements, in
  the indicator's unit a year. One outlying reading (a good year after a fall) barely moves a
  median, where it would swing a least-squares line or a comparison of the last two readings.
- The reading: against the indicator's polarity (whether an increase or a decrease is better).
  The change the slope implies from the first measurement used to the last must be larger than
  a noise band, else there is "no change". The band is the larger of
  (a) a tenth of the gap between baseline and target, when both are set and differ (without
      them, a fiftieth of the median reading), so that a change too small to matter is not
      called a trend; and
  (b) twice the scatter of the readings about the fitted line (the scatter being 1.4826 times
      the median absolute residual, a robust standard deviation), so that readings that merely
      wobble, such as 93, 95, 94, 93, 95 against a target of 95, are not called a trend either.

The baseline and target set the scale of the band; they are never counted as measurements.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import median

from compliance.models import Indicator

WINDOW_YEARS = 3
MAX_POINTS = 12
MIN_POINTS = 3
SHARE_OF_GAP = 0.1
SHARE_OF_LEVEL = 0.02
ROBUST_SD = 1.4826
SCATTERS = 2
DAYS_A_YEAR = 365.25
METHOD = "Theil–Sen slope"
RULE = (
    f"a {METHOD} over the latest {MAX_POINTS} measurements at most in the {WINDOW_YEARS} years "
    f"to the date ({MIN_POINTS} at least), read against the indicator's polarity; the change it "
    "implies must exceed the larger of a tenth of the gap between baseline and target and twice "
    "the scatter of the readings"
)


class Verdict(StrEnum):
    worsening = "worsening"
    too_few_measurements = "too_few_measurements"
    no_change = "no_change"
    improving = "improving"


@dataclass(frozen=True)
class Trend:
    """An indicator's verdict on a date, with the method and the window it was judged by."""

    verdict: Verdict
    slope_per_year: float | None
    points_used: int
    window_start: dt.date
    window_end: dt.date
    first_date: dt.date | None
    last_date: dt.date | None
    change: float | None
    band: float | None
    method: str

    @property
    def judged(self) -> bool:
        """Whether there were enough measurements to say which way it is going."""
        return self.verdict != Verdict.too_few_measurements


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day some years earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def window(points: Sequence[tuple[dt.date, float]], on: dt.date) -> list[tuple[dt.date, float]]:
    """The measurements the trend is judged by: the latest 12 dated in the 3 years up to `on`."""
    start = years_before(on, WINDOW_YEARS)
    inside = sorted(p for p in points if start <= p[0] <= on)
    return inside[-MAX_POINTS:]


def theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The median of pairwise slopes, and the median intercept that goes with it."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    slope = median(slopes) if slopes else 0.0
    return slope, median(y - slope * x for x, y in points)


def noise_band(
    values: list[float], residuals: list[float], baseline: float | None, target: float | None
) -> float:
    """How large a change must be to count: see the module's docstring."""
    if baseline is not None and target is not None and baseline != target:
        material = SHARE_OF_GAP * abs(target - baseline)
    else:
        material = SHARE_OF_LEVEL * abs(median(values))
    scatter = SCATTERS * ROBUST_SD * median(abs(r) for r in residuals)
    return max(material, scatter)


def judge_trend(
    indicator: Indicator, points: Sequence[tuple[dt.date, float]], on: dt.date
) -> Trend:
    """An indicator's trend on a date from its dated measurements (any order, any dates)."""
    used = window(points, on)
    start = years_before(on, WINDOW_YEARS)
    if len(used) < MIN_POINTS:
        return Trend(
            Verdict.too_few_measurements,
            None,
            len(used),
            start,
            on,
            used[0][0] if used else None,
            used[-1][0] if used else None,
            None,
            None,
            f"Too few measurements to judge: {_count(len(used))} in the {WINDOW_YEARS} years to "
            f"{_day(on)}; a trend needs at least {MIN_POINTS}",
        )
    first = used[0][0]
    xy = [((day - first).days / DAYS_A_YEAR, value) for day, value in used]
    slope, intercept = theil_sen(xy)
    residuals = [y - (intercept + slope * x) for x, y in xy]
    band = noise_band(
        [v for _, v in used], residuals, indicator.baseline_value, indicator.target_value
    )
    change = slope * xy[-1][0]
    better = change if indicator.direction == "increase" else -change
    verdict = (
        Verdict.no_change
        if abs(change) <= band
        else (Verdict.improving if better > 0 else Verdict.worsening)
    )
    unit = f" {indicator.unit}" if indicator.unit else ""
    method = (
        f"{METHOD} over {_count(len(used))}, {_day(first)} – {_day(used[-1][0])}: "
        f"{_number(slope, sign=True)}{unit} a year, a change of {_number(change, sign=True)}{unit} "
        f"against a noise band of ±{_number(band)}{unit}; "
        f"{'higher' if indicator.direction == 'increase' else 'lower'} is better"
    )
    return Trend(verdict, slope, len(used), start, on, first, used[-1][0], change, band, method)


def _count(n: int) -> str:
    return f"{n} measurement{'' if n == 1 else 's'}"


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _number(value: float, *, sign: bool = False) -> str:
    """A figure to about three significant digits, never in scientific notation."""
    places = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    text = f"{value:{'+' if sign else ''},.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
