"""Server-rendered SVG charts: they work without JavaScript and drop straight into PDFs."""

import datetime as dt
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 480, 200, 40


def trend_chart(
    *,
    chart_id: str,
    title: str,
    unit: str,
    points: list[tuple[dt.date, float]],
    baseline: float | None = None,
    target: float | None = None,
) -> Markup:
    """A line chart of dated values, with baseline and target lines, labelled for screen readers."""
    if not points:
        return Markup("")
    values = [v for _, v in points] + [v for v in (baseline, target) if v is not None]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = points[0][0], points[-1][0]
    days = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return PAD + (WIDTH - 2 * PAD) * ((day - first).days / days if len(points) > 1 else 0.5)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / span

    line = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
    parts = [
        f'<svg class="app-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(points, unit, baseline, target))}</desc>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#505a5f"/>',  # noqa: E501
    ]
    for value, label, dash in ((baseline, "baseline", "4 4"), (target, "target", "8 4")):
        if value is not None:
            parts.append(
                f'<line x1="{PAD}" y1="{y(value):.1f}" x2="{WIDTH - PAD}" y2="{y(value):.1f}" stroke="#505a5f" stroke-dasharray="{dash}"/>'  # noqa: E501
            )
            parts.append(f'<text x="{WIDTH - PAD + 2}" y="{y(value) + 4:.1f}">{label}</text>')
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


def _describe(points, unit, baseline, target) -> str:  # type: ignore[no-untyped-def]
    values = "; ".join(f"{d:%d %B %Y}: {v:g} {unit}" for d, v in points)
    extra = []
    if baseline is not None:
        extra.append(f"baseline {baseline:g}")
    if target is not None:
        extra.append(f"target {target:g}")
    return f"{values}" + (f" ({', '.join(extra)})" if extra else "")
