"""Bulk exports of the registers: obligations, evidence and findings, a batch at a time.

Each register is read by keyset (the next batch of rows after the last id, one SELECT each), so
a national registry never has to fit in memory, and the rows go out as CSV or XLSX
(`formats.py`) while the next batch is read. Scope is applied in SQL (`selection.py`): a user's
export holds only the rows they may read; the command line, acting as the system, exports
everything.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import IO

from sqlmodel import Session, col, select

from compliance.db import key_column, row_id
from compliance.exports import formats
from compliance.exports.evidence import EVIDENCE_COLUMNS, evidence_rows
from compliance.exports.formats import Column
from compliance.exports.selection import Row, Selection, holder_filter, holders_of, keyset
from compliance.models import (
    Deliverable,
    Duty,
    Finding,
    FundingCondition,
    FundingStream,
    Obligation,
)
from compliance.obligations.served import partnerships_behind
from compliance.obligations.views import (
    ObligationView,
    view_obligations_for,
)
from compliance.outcomes.judgement import Across, across, partnership_judgements
from compliance.web import OUTCOME_LABELS

BATCH = 500
FORMATS = ("csv", "xlsx")


# Obligations ----------------------------------------------------------------------------------

OBLIGATION_COLUMNS = [
    Column("obligation_id", "number", 12),
    Column("holder_type", width=12),
    Column("body_code", width=12),
    Column("body_name", width=32),
    Column("partnership_slug", width=32),
    Column("partnership_name", width=32),
    # What changes for people first: the judgement of the partnerships it is discharged through.
    Column("judgement", width=28),
    Column("judgement_reasons", width=60),
    Column("source_type", width=12),
    Column("source", width=48),
    Column("source_slug", width=28),
    Column("deliverable", width=40),
    Column("deliverable_slug", width=28),
    Column("cadence", width=12),
    Column("legal_citation", width=32),
    Column("url", width=40),
    Column("due_basis", width=40),
    Column("next_due_date", "date", 13),
    Column("process_status", width=16),
    Column("outcome_status", width=18),
    # Which outcomes the outcome status was read from; empty: no outcome is linked to it.
    Column("outcome_status_from", width=48),
    Column("fully_met", "boolean", 10),
    Column("opened_date", "date", 13),
    Column("closed_date", "date", 13),
    Column("closed_reason", width=32),
    Column("not_applicable_reason", width=32),
    Column("verified", "boolean", 10),
]


def obligation_rows(*, session: Session, selection: Selection, batch: int) -> Iterator[list[Row]]:
    """Every obligation in the selection, open or closed, with both status dimensions as the
    pages compute them, a batch at a time."""
    query = select(Obligation).where(
        *holder_filter(selection, Obligation.body_id, Obligation.partnership_id)
    )
    for obligations in keyset(session, query, Obligation.id, batch):
        views = view_obligations_for(
            session=session,
            obligations=obligations,
            on=selection.on,
            due_soon_days=selection.due_soon_days,
        )
        bodies, partnerships = holders_of(session, obligations)
        citations = _citations(session, obligations)
        judged = _judgements(session, obligations, selection.on)
        yield [
            _obligation_row(v, bodies, partnerships, citations, judged[row_id(v.obligation)])
            for v in views
        ]


def _judgements(session: Session, obligations: list[Obligation], on: dt.date) -> dict[int, Across]:
    """Each obligation's judgement: across the partnerships it is discharged through (its own
    partnership, or those of which its body is a member that discharge its duty)."""
    behind = partnerships_behind(session, obligations, on)
    wanted = {p for ids in behind.values() for p in ids}
    each = partnership_judgements(session=session, partnership_ids=wanted, on=on)
    return {
        row_id(o): across(each[p] for p in behind.get(row_id(o), []) if p in each)
        for o in obligations
    }


def _reasons(judged: Across) -> str:
    """The judgement's reasons in one cell: partnership, outcome and indicator, status, method."""
    if not judged.partnerships:
        return "Discharged through no partnership in the registry, so no outcome judges it"
    lines = []
    for partnership in judged.partnerships:
        for reason in partnership.reasons:
            what = [
                partnership.name,
                reason.outcome,
                reason.indicator
                and (
                    reason.indicator
                    if reason.source == "voices"
                    else f"indicator {reason.indicator}"
                ),
            ]
            label = OUTCOME_LABELS[reason.status]
            lines.append(f"{', '.join(w for w in what if w)}: {label} ({reason.method})")
    return "; ".join(lines)


def _citations(session: Session, obligations: list[Obligation]) -> dict[tuple[str, int], str]:
    deliverables = {o.deliverable_id for o in obligations if o.deliverable_id}
    conditions = {o.condition_id for o in obligations if o.condition_id}
    duty_rows = session.exec(
        select(key_column(Deliverable), Duty.act, Duty.sections)
        .join(Duty, col(Duty.id) == Deliverable.duty_id)
        .where(col(Deliverable.id).in_(deliverables))
    )
    stream_rows = session.exec(
        select(key_column(FundingCondition), FundingStream.legal_basis)
        .join(FundingStream, col(FundingStream.id) == FundingCondition.stream_id)
        .where(col(FundingCondition.id).in_(conditions))
    )
    found = {("deliverable", i): f"{act} {sections}" for i, act, sections in duty_rows}
    return found | {("condition", i): basis or "" for i, basis in stream_rows}


def _obligation_row(
    view: ObligationView,
    bodies: dict[int, Row],
    partnerships: dict[int, Row],
    citations: dict[tuple[str, int], str],
    judged: Across,
) -> Row:
    o = view.obligation
    body = bodies.get(o.body_id, (None, None))  # type: ignore[arg-type]  # get(None) finds nothing, as meant
    partnership = partnerships.get(o.partnership_id, (None, None))  # type: ignore[arg-type]  # get(None) finds nothing, as meant
    source = (
        ("deliverable", o.deliverable_id) if o.deliverable_id else ("condition", o.condition_id)
    )
    return (
        o.id,
        "body" if o.body_id is not None else "partnership",
        *body,
        *partnership,
        judged.words,
        _reasons(judged),
        "duty" if o.deliverable_id else "funding",
        view.source_title,
        view.source_slug,
        view.item_title,
        view.item_slug,
        view.cadence,
        citations.get(source, ""),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
        view.source_url,
        view.basis.words,
        view.next_due,
        view.status.value,
        view.outcome.value,
        "; ".join(f"{s.title} ({s.status.value})" for s in view.served_by),
        view.fully_met,
        o.opened_date,
        o.closed_date,
        o.closed_reason,
        o.not_applicable_reason,
        view.verified,
    )


# Findings -------------------------------------------------------------------------------------

FINDING_COLUMNS = [
    Column("finding_id", "number", 12),
    Column("rule", width=28),
    Column("severity", width=10),
    Column("message", width=60),
    Column("body_code", width=12),
    Column("body_name", width=32),
    Column("partnership_slug", width=32),
    Column("obligation_id", "number", 13),
    Column("evidence_id", "number", 12),
    Column("basis", width=40),
    Column("since_date", "date", 12),
    Column("remedy", width=60),
    Column("first_seen_at", "datetime", 19),
    Column("last_seen_at", "datetime", 19),
    Column("resolved_at", "datetime", 19),
]


def finding_rows(*, session: Session, selection: Selection, batch: int) -> Iterator[list[Row]]:
    """Every finding of the checks in the selection, open or resolved, a batch at a time."""
    query = select(Finding).where(
        *holder_filter(selection, Finding.body_id, Finding.partnership_id)
    )
    for page in keyset(session, query, Finding.id, batch):
        bodies, partnerships = holders_of(session, page)
        yield [
            (
                f.id,
                f.rule,
                f.severity,
                f.message,
                *bodies.get(f.body_id, (None, None)),
                partnerships.get(f.partnership_id, (None,))[0],
                f.obligation_id,
                f.evidence_id,
                f.basis,
                f.since_date,
                f.remedy,
                f.first_seen_at,
                f.last_seen_at,
                f.resolved_at,
            )
            for f in page
        ]


# The registers and their renderings -----------------------------------------------------------

Reader = Callable[..., Iterator[list[Row]]]
REGISTERS: dict[str, tuple[list[Column], Reader]] = {
    "obligations": (OBLIGATION_COLUMNS, obligation_rows),
    "evidence": (EVIDENCE_COLUMNS, evidence_rows),
    "findings": (FINDING_COLUMNS, finding_rows),
}
KINDS = tuple(REGISTERS)


def export_csv(
    *, session: Session, kind: str, selection: Selection, batch: int = BATCH
) -> Iterator[bytes]:
    """A register as CSV, in encoded chunks of one batch each, read as they are asked for."""
    columns, read = REGISTERS[kind]
    return formats.csv_chunks(columns, read(session=session, selection=selection, batch=batch))


def file_name(kind: str, fmt: str, on: dt.date, label: str | None = None) -> str:
    """A download's name, such as obligations-E06000052-2026-11-26.csv."""
    return "-".join(part for part in (kind, label, on.isoformat()) if part) + f".{fmt}"


def write_export(
    *,
    session: Session,
    kind: str,
    fmt: str,
    selection: Selection,
    out: IO[bytes],
    batch: int = BATCH,
) -> int:
    """Write a register to an open binary file as CSV or XLSX; return how many rows it holds."""
    columns, read = REGISTERS[kind]
    written = 0

    def counted() -> Iterator[list[Row]]:
        nonlocal written
        for rows in read(session=session, selection=selection, batch=batch):
            written += len(rows)
            yield rows

    if fmt == "xlsx":
        formats.write_xlsx(out, kind, columns, counted())
    else:
        out.writelines(formats.csv_chunks(columns, counted()))
    return written
