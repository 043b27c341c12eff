"""The evidence register, as an export reads it: every version, with what it serves."""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from compliance.db import key_column, row_id
from compliance.exports.formats import Column
from compliance.exports.selection import Row, Selection, holder_filter, keyset
from compliance.models import (
    Body,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    Obligation,
    Partnership,
    Period,
    User,
)

EVIDENCE_COLUMNS = [
    Column("evidence_id", "number", 12),
    Column("title", width=40),
    Column("kind", width=18),
    Column("effective_date", "date", 13),
    Column("period_start_date", "date", 13),
    Column("period_end_date", "date", 13),
    Column("review_by_date", "date", 13),
    Column("sha256", width=20),
    Column("file_name", width=28),
    Column("media_type", width=20),
    Column("size_bytes", "number", 12),
    Column("url", width=40),
    Column("recorded_by", width=28),
    Column("recorded_at", "datetime", 19),
    Column("supersedes_id", "number", 12),
    Column("superseded_by_id", "number", 12),
    Column("withdrawn_at", "datetime", 19),
    Column("withdrawn_reason", width=32),
    Column("obligation_ids", width=16),
    Column("body_codes", width=16),
    Column("partnership_slugs", width=32),
    Column("latest_review", width=14),
    Column("latest_review_at", "datetime", 19),
]


def evidence_rows(*, session: Session, selection: Selection, batch: int) -> Iterator[list[Row]]:
    """The evidence register: every version, withdrawn or not, serving an obligation in the
    selection, with what it serves and its latest review, a batch at a time."""
    holders = holder_filter(selection, Obligation.body_id, Obligation.partnership_id)
    query = select(Evidence)
    if holders:
        query = query.where(col(Evidence.id).in_(_serving(holders)))
    for page in keyset(session, query, Evidence.id, batch):
        ids = [e.id for e in page]
        emails = dict(
            session.exec(
                select(key_column(User), User.email).where(
                    col(User.id).in_({e.recorded_by_id for e in page})
                )
            ).all()
        )
        newer = dict(
            session.exec(
                select(Evidence.supersedes_id, key_column(Evidence))
                .where(col(Evidence.supersedes_id).in_(ids))
                .order_by(col(Evidence.id))
            ).all()
        )
        served = _served(session, ids, holders)
        reviews = _latest_reviews(session, ids)
        yield [
            _evidence_row(e, emails, newer, served.get(e.id, ([], [], [])), reviews) for e in page
        ]


def _serving(holders: list[ColumnElement[bool]]) -> Any:
    return (
        select(EvidenceLink.evidence_id)
        .join(Period, col(Period.id) == EvidenceLink.occurrence_id)
        .join(Obligation, col(Obligation.id) == Period.obligation_id)
        .where(*holders)
    )


def _served(
    session: Session, ids: list[int], holders: list[ColumnElement[bool]]
) -> dict[int, tuple[list, list, list]]:
    """Per piece of evidence, the obligations it serves in the selection and their holders."""
    rows = session.exec(
        select(EvidenceLink.evidence_id, key_column(Obligation), Body.code, Partnership.slug)
        .join(Period, col(Period.id) == EvidenceLink.occurrence_id)
        .join(Obligation, col(Obligation.id) == Period.obligation_id)
        .outerjoin(Body, col(Body.id) == Obligation.body_id)
        .outerjoin(Partnership, col(Partnership.id) == Obligation.partnership_id)
        .where(col(EvidenceLink.evidence_id).in_(ids), *holders)
    )
    found: dict[int, tuple[set, set, set]] = {}
    for evidence_id, obligation_id, code, slug in rows:
        obligations, codes, slugs = found.setdefault(evidence_id, (set(), set(), set()))
        obligations.add(obligation_id)
        codes.update([code] if code else [])
        slugs.update([slug] if slug else [])
    return {i: tuple(sorted(s) for s in sets) for i, sets in found.items()}  # type: ignore[misc]  # three sets in, three sorted lists out


def _latest_reviews(session: Session, ids: list[int]) -> dict[int, EvidenceComment]:
    rows = session.exec(
        select(EvidenceComment)
        .where(col(EvidenceComment.evidence_id).in_(ids))
        .where(col(EvidenceComment.kind).in_(["accepted", "queried"]))
        .order_by(col(EvidenceComment.id))
    )
    return {c.evidence_id: c for c in rows}


def _evidence_row(
    e: Evidence,
    emails: dict[int, str],
    newer: dict[int | None, int],
    served: tuple[list, list, list],
    reviews: dict[int, EvidenceComment],
) -> Row:
    obligations, codes, slugs = served
    review = reviews.get(row_id(e))
    return (
        e.id,
        e.title,
        e.kind,
        e.effective_date,
        e.period_start_date,
        e.period_end_date,
        e.review_by_date,
        e.sha256,
        e.file_name,
        e.media_type,
        e.size_bytes,
        e.url,
        emails.get(e.recorded_by_id),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
        e.recorded_at,
        e.supersedes_id,
        newer.get(row_id(e)),
        e.withdrawn_at,
        e.withdrawn_reason,
        "; ".join(str(i) for i in obligations),
        "; ".join(codes),
        "; ".join(slugs),
        review.kind if review else None,
        review.created_at if review else None,
    )
