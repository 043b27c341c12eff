"""An indicator's measurements in bounded pieces: the latest few beside its trend on a page or in
a report, with how many there are, and the rest a page at a time. An indicator measured daily
for years must not make its partnership's page, or its report, as long as its history.

What is shown never decides a verdict: the trend is judged from the measurements in its own
window (compliance.outcomes.trend), at most the latest MAX_POINTS of them, so the latest
SHOWN always hold every measurement a trend can use.
"""

import datetime as dt
from collections.abc import Iterable

from sqlmodel import Session, col, func, select

from compliance.db import key_column
from compliance.models import Measurement
from compliance.outcomes.trend import MAX_POINTS
from compliance.paging import PAGE_SIZE, Keyset, page_span

SHOWN = MAX_POINTS
# An indicator's page of measurements, newest first (one a date, at most).
NEWEST_FIRST = Keyset((col(Measurement.measured_date),), newest_first=True)


def latest_measurements(
    *, session: Session, indicator_ids: Iterable[int], on: dt.date | None = None, limit: int = SHOWN
) -> dict[int, list[Measurement]]:
    """Each indicator's latest `limit` measurements (dated by `on`, when given), oldest first,
    in one query."""
    ids = list(indicator_ids)
    if not ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=col(Measurement.indicator_id),
            order_by=col(Measurement.measured_date).desc(),
        )
        .label("rank")
    )
    latest = select(key_column(Measurement), rank).where(col(Measurement.indicator_id).in_(ids))
    if on is not None:
        latest = latest.where(Measurement.measured_date <= on)
    ranked = latest.subquery()
    query = (
        select(Measurement)
        .join(ranked, ranked.c.id == col(Measurement.id))
        .where(ranked.c.rank <= limit)
        .order_by(col(Measurement.indicator_id), col(Measurement.measured_date))
    )
    found: dict[int, list[Measurement]] = {i: [] for i in ids}
    for measurement in session.exec(query):
        found[measurement.indicator_id].append(measurement)
    return found


def measurement_counts(
    *, session: Session, indicator_ids: Iterable[int], on: dt.date | None = None
) -> dict[int, int]:
    """How many measurements each indicator has (dated by `on`, when given)."""
    ids = list(indicator_ids)
    if not ids:
        return {}
    query = select(Measurement.indicator_id, func.count()).where(
        col(Measurement.indicator_id).in_(ids)
    )
    if on is not None:
        query = query.where(Measurement.measured_date <= on)
    counted = dict(session.exec(query.group_by(col(Measurement.indicator_id))).all())
    return {i: counted.get(i, 0) for i in ids}


def newest_first_page(
    *, session: Session, indicator_id: int, page: int, size: int = PAGE_SIZE
) -> tuple[list[Measurement], int, int]:
    """One page of an indicator's measurements, newest first: the rows, the page number (the
    last page for one past it) and how many there are in all."""
    total = measurement_counts(session=session, indicator_ids=[indicator_id])[indicator_id]
    page, _ = page_span(total, page, size)
    query = select(Measurement).where(Measurement.indicator_id == indicator_id)
    return (
        list(session.exec(NEWEST_FIRST.numbered(query, start=(page - 1) * size, size=size))),
        page,
        total,
    )
