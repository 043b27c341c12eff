"""Server-rendered SVG charts: they work without JavaScript and drop straight into PDFs."""

import datetime as dt
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 480, 200, 40
# Room on the right for the baseline and target labels with their values.
RIGHT = 100
LABEL_GAP = 12
# Each point is labelled with its date and value: more than this and the labels are a smear,
# and a chart of years of daily values would be megabytes. The latest are drawn, and the chart
# says how many of how many.
MAX_DRAWN = 24


def trend_chart(
    *,
    chart_id: str,
    title: str,
    unit: str,
    points: list[tuple[dt.date, float]],
    baseline: float | None = None,
    target: float | None = None,
    method: str | None = None,
    total: int | None = None,
) -> Markup:
    """A line chart of dated values (oldest first), with baseline and target lines labelled
    with their values, described for screen readers (with the trend's method line, when
    given). At most the latest MAX_DRAWN are drawn; when they are fewer than all the values
    (`total`, when the caller holds only the latest), the chart says so."""
    if not points:
        return Markup("")
    points = points[-MAX_DRAWN:]
    total = max(total or 0, len(points))
    note = f"The latest {len(points)} of {total:,} measurements" if total > len(points) else ""
    values = [v for _, v in points] + [v for v in (baseline, target) if v is not None]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = points[0][0], points[-1][0]
    days = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        share = (day - first).days / days if len(points) > 1 else 0.5
        return PAD + (WIDTH - PAD - RIGHT) * share

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / span

    line = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
    parts = [
        f'<svg class="app-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(points, unit, baseline, target, method, note))}</desc>',  # noqa: E501
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - PAD}" stroke="#505a5f"/>',  # noqa: E501
    ]
    if note:
        parts.append(f'<text class="app-chart__note" x="{PAD}" y="14">{escape(note)}</text>')
    for value, label, dash, nudge in _reference_lines(baseline, target, y):
        parts.append(
            f'<line x1="{PAD}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" stroke="#505a5f" stroke-dasharray="{dash}"/>'  # noqa: E501
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT + 4}" y="{y(value) + 4 + nudge:.1f}">{label} {value:g}</text>'
        )
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1d70b8" stroke-width="3"/>')
    for day, value in points:
        parts.append(f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="4" fill="#1d70b8"/>')
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{day:%b %Y}</text>'  # noqa: E501
        )
        parts.append(
            f'<text x="{x(day):.1f}" y="{y(value) - 8:.1f}" text-anchor="middle">{value:g}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _reference_lines(baseline, target, y):
    """The baseline and target lines to draw, with how far to move each label so that two close
    lines keep their labels apart (the higher value's label up, the other's down)."""
    lines = [
        (value, label, dash)
        for value, label, dash in ((baseline, "baseline", "4 4"), (target, "target", "8 4"))
        if value is not None
    ]
    if len(lines) == 2 and abs(y(baseline) - y(target)) < LABEL_GAP:
        half = (LABEL_GAP - abs(y(baseline) - y(target))) / 2
        up = "target" if target >= baseline else "baseline"
        return [(v, label, dash, -half if label == up else half) for v, label, dash in lines]
    return [(v, label, dash, 0.0) for v, label, dash in lines]


def _describe(points, unit, baseline, target, method=None, note="") -> str:
    values = (f"{note}: " if note else "") + "; ".join(
        f"{d:%d %B %Y}: {v:g} {unit}" for d, v in points
    )
    extra = []
    if baseline is not None:
        extra.append(f"baseline {baseline:g}")
    if target is not None:
        extra.append(f"target {target:g}")
    described = f"{values}" + (f" ({', '.join(extra)})" if extra else "")
    return f"{described}. {method}" if method else described
