"""The parts of a report, each loaded for many obligations in a fixed number of queries."""

import datetime as dt
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from compliance.audit.service import DOWNLOAD
from compliance.checks.rules import Hit, rule_words
from compliance.db import key_column, row_id
from compliance.evaluations.results import StageResult, latest_results
from compliance.models import (
    AuditEvent,
    Body,
    Deliverable,
    Duty,
    Evidence,
    EvidenceComment,
    FundingCondition,
    FundingStream,
    Indicator,
    Obligation,
    Outcome,
    Partnership,
    Risk,
    User,
)
from compliance.obligations import served
from compliance.obligations.status import OutcomeStatus, judge_outcome, read_indicator
from compliance.outcomes.judgement import Across, method_line
from compliance.outcomes.recent import latest_measurements, measurement_counts
from compliance.partnerships.value import weigh_partnership

AUDIT_LIMIT = 500


@dataclass(frozen=True)
class Source:
    kind: str
    title: str
    citation: str
    url: str
    verified: bool


@dataclass(frozen=True)
class PeriodItem:
    ref: int
    start: dt.date
    end: dt.date
    due: dt.date
    status: str
    evidence_refs: list[int]


@dataclass(frozen=True)
class EvidenceItem:
    ref: int
    title: str
    kind: str
    effective_date: dt.date
    review_by_date: dt.date | None
    recorded_by: str
    recorded_at: dt.datetime
    sha256: str | None
    file_name: str | None
    media_type: str | None
    size_bytes: int | None
    url: str | None
    review: str | None
    reviewer: str | None
    reviewed_at: dt.datetime | None
    query_open: bool
    obligation_refs: list[int]


@dataclass(frozen=True)
class IndicatorItem:
    ref: int
    name: str
    unit: str
    direction: str
    baseline: float | None
    target: float | None
    target_date: dt.date | None
    data_source: str | None
    # The latest measurements by the as-at date (at most recent.SHOWN, every one its trend can
    # use), oldest first, of `measured` in all: years of daily values are not a report's to print.
    points: list[tuple[dt.date, float]]
    status: str
    method: str = ""
    measured: int = 0


@dataclass(frozen=True)
class OutcomeItem:
    ref: int
    title: str
    description: str | None
    owner: str
    status: str
    indicators: list[IndicatorItem]


@dataclass(frozen=True)
class RiskItem:
    ref: int
    partnership_id: int
    partnership: str
    category: str
    title: str
    likelihood: int
    impact: int
    mitigation: str | None
    owner: str | None
    status: str


@dataclass(frozen=True)
class ValueItem:
    """Is it worth it? A partnership's record of value for cost, weighed as at the date."""

    partnership_id: int
    partnership: str
    rationale: str | None
    alternatives: str | None
    staff_days_a_year: int | None
    pounds_a_year: int | None
    meetings_a_year: int | None
    costs_as_at: dt.date | None
    benefits: str | None
    continuation_decided: dt.date | None
    continuation_due: dt.date | None
    weighing: list[str]


@dataclass(frozen=True)
class FindingItem:
    severity: str
    rule: str
    message: str
    first_seen_at: dt.datetime | None
    obligation_ref: int | None
    period_ref: int | None
    rule_text: str = ""
    basis: str | None = None
    since: dt.date | None = None
    remedy: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    ref: int
    occurred_at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    hash: str


@dataclass(frozen=True)
class UnverifiedFact:
    what: str
    name: str
    note: str | None


def sources_of(session: Session, obligations: list[Obligation]) -> dict[int, Source]:
    """Each obligation's duty (with its citation) or funding stream."""
    deliverable_ids = {o.deliverable_id for o in obligations if o.deliverable_id}
    condition_ids = {o.condition_id for o in obligations if o.condition_id}
    by_deliverable, by_condition = {}, {}
    if deliverable_ids:
        query = (
            select(  # type: ignore[call-overload]  # sqlmodel types select() to 4 columns
                key_column(Deliverable),
                col(Duty.title),
                col(Duty.act),
                col(Duty.sections),
                col(Duty.url),
                col(Duty.verified),
            )
            .join(Duty)
            .where(col(Deliverable.id).in_(deliverable_ids))
        )
        for deliverable_id, title, act, sections, url, verified in session.exec(query):
            by_deliverable[deliverable_id] = Source(
                "duty", title, f"{act} {sections}", url, verified
            )
    if condition_ids:
        query = (
            select(key_column(FundingCondition), FundingStream)
            .join(FundingStream)
            .where(col(FundingCondition.id).in_(condition_ids))
        )
        for condition_id, stream in session.exec(query):
            by_condition[condition_id] = Source(
                "funding", stream.name, stream.legal_basis or "", stream.url, stream.verified
            )
    return {
        row_id(o): by_deliverable[o.deliverable_id]
        if o.deliverable_id
        else by_condition[o.condition_id]  # type: ignore[index]  # one_source check: else a condition
        for o in obligations
    }


def evidence_items(
    *, session: Session, evidence_refs: dict[int, list[int]], cutoff: dt.datetime
) -> list[EvidenceItem]:
    """The evidence shown, with who recorded it and its latest review by the cutoff."""
    if not evidence_refs:
        return []
    rows = session.exec(
        select(Evidence).where(col(Evidence.id).in_(evidence_refs)).order_by(col(Evidence.id))
    ).all()
    comments: dict[int, list[EvidenceComment]] = {}
    query = (
        select(EvidenceComment)
        .where(col(EvidenceComment.evidence_id).in_(evidence_refs))
        .where(EvidenceComment.created_at <= cutoff)
        .order_by(col(EvidenceComment.created_at), col(EvidenceComment.id))
    )
    for comment in session.exec(query):
        comments.setdefault(comment.evidence_id, []).append(comment)
    names = dict(session.exec(select(key_column(User), User.name)).all())
    items = []
    for e in rows:
        thread = comments.get(row_id(e), [])
        verdicts = [c for c in thread if c.kind in ("accepted", "queried")]
        last = verdicts[-1] if verdicts else None
        items.append(
            EvidenceItem(
                ref=row_id(e),
                title=e.title,
                kind=e.kind,
                effective_date=e.effective_date,
                review_by_date=e.review_by_date,
                recorded_by=names.get(e.recorded_by_id, "unknown"),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
                recorded_at=e.recorded_at,
                sha256=e.sha256,
                file_name=e.file_name,
                media_type=e.media_type,
                size_bytes=e.size_bytes,
                url=e.url,
                review=last.kind if last else None,
                reviewer=names.get(last.author_id, "unknown") if last else None,
                reviewed_at=last.created_at if last else None,
                query_open=bool(thread) and thread[-1].kind == "queried",
                obligation_refs=sorted(set(evidence_refs[row_id(e)])),
            )
        )
    return sorted(items, key=lambda i: (i.effective_date, i.ref))


def partnerships_behind(
    *, session: Session, obligations: list[Obligation], on: dt.date
) -> dict[int, list[int]]:
    """The partnerships through which each obligation's holder discharges the duty."""
    # The same rule the status engine uses, so the outcomes shown are those it judged.
    return served.partnerships_behind(session, obligations, on)


def outcome_items(
    *,
    session: Session,
    obligations: list[Obligation],
    behind: dict[int, list[int]],
    on: dt.date,
) -> list[OutcomeItem]:
    """The outcomes of the obligations and of the partnerships behind them, with their
    indicators' measurements by the date (which of them serve each obligation is its view's
    `served_by`)."""
    partnership_ids = {p for ids in behind.values() for p in ids}
    own = [o.id for o in obligations]
    if not own:
        return []
    outcomes = session.exec(
        select(Outcome)
        .where(
            or_(
                col(Outcome.partnership_id).in_(partnership_ids),
                col(Outcome.obligation_id).in_(own),
            )
        )
        .order_by(col(Outcome.id))
    ).all()
    indicators = _indicators(session, [row_id(o) for o in outcomes], on)
    names = _partnership_names(session, {o.partnership_id for o in outcomes if o.partnership_id})
    items = [
        OutcomeItem(
            ref=row_id(o),
            title=o.title,
            description=o.description,
            owner=names.get(o.partnership_id, "") if o.partnership_id else "this obligation",
            status=judge_outcome(
                [OutcomeStatus(i.status) for i in indicators.get(row_id(o), [])]
                or [OutcomeStatus.not_measured]
            ).value,
            indicators=indicators.get(row_id(o), []),
        )
        for o in outcomes
    ]
    return items


def indicator_ids(
    *, session: Session, obligations: list[Obligation], behind: dict[int, list[int]]
) -> list[int]:
    """The indicators of the outcomes `outcome_items` would show, without reading their
    measurements: a summary counts the findings about them without printing them."""
    own = [o.id for o in obligations]
    if not own:
        return []
    partnership_ids = {p for ids in behind.values() for p in ids}
    outcomes = select(key_column(Outcome)).where(
        or_(col(Outcome.partnership_id).in_(partnership_ids), col(Outcome.obligation_id).in_(own))
    )
    query = select(key_column(Indicator)).where(
        col(Indicator.outcome_id).in_(outcomes.scalar_subquery())
    )
    return list(session.exec(query.order_by(col(Indicator.id))).all())


def counted(
    *, session: Session, obligations: list[Obligation], behind: dict[int, list[int]], cutoff
) -> tuple[int, int]:
    """How many intended outcomes and risks `outcome_items` and `risk_items` would show."""
    own = [o.id for o in obligations]
    partnership_ids = {p for ids in behind.values() for p in ids}
    if not own:
        return 0, 0
    outcomes = session.exec(
        select(func.count())
        .select_from(Outcome)
        .where(
            or_(
                col(Outcome.partnership_id).in_(partnership_ids),
                col(Outcome.obligation_id).in_(own),
            )
        )
    ).one()
    risks = (
        session.exec(
            select(func.count())
            .select_from(Risk)
            .where(col(Risk.partnership_id).in_(partnership_ids), col(Risk.recorded_at) <= cutoff)
        ).one()
        if partnership_ids
        else 0
    )
    return outcomes, risks


def _indicators(
    session: Session, outcome_ids: list[int], on: dt.date
) -> dict[int, list[IndicatorItem]]:
    if not outcome_ids:
        return {}
    rows = session.exec(
        select(Indicator)
        .where(col(Indicator.outcome_id).in_(outcome_ids))
        .order_by(col(Indicator.id))
    ).all()
    ids = [row_id(i) for i in rows]
    latest = latest_measurements(session=session, indicator_ids=ids, on=on)

    counts = measurement_counts(session=session, indicator_ids=ids, on=on)
    found: dict[int, list[IndicatorItem]] = {}
    for i in rows:
        # The latest by the date hold the trend's whole window: the reading is as from all.
        values = [(m.measured_date, m.value) for m in latest.get(row_id(i), [])]
        reading = read_indicator(i, values, on)
        found.setdefault(i.outcome_id, []).append(
            IndicatorItem(
                ref=row_id(i),
                name=i.name,
                unit=i.unit,
                direction=i.direction,
                baseline=i.baseline_value,
                target=i.target_value,
                target_date=i.target_date,
                data_source=i.data_source,
                points=values,
                status=reading.status.value,
                method=method_line(reading),
                measured=counts.get(row_id(i), 0),
            )
        )
    return found


def _partnership_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(key_column(Partnership), Partnership.name).where(col(Partnership.id).in_(ids))
    return dict(session.exec(query).all())


def risk_items(
    *, session: Session, behind: dict[int, list[int]], cutoff: dt.datetime
) -> list[RiskItem]:
    """The risks recorded by the cutoff for the partnerships behind the obligations."""
    ids = {p for found in behind.values() for p in found}
    if not ids:
        return []
    names = _partnership_names(session, ids)
    query = (
        select(Risk)
        .where(col(Risk.partnership_id).in_(ids))
        .where(Risk.recorded_at <= cutoff)
        .order_by(col(Risk.partnership_id), col(Risk.id))
    )
    return [
        RiskItem(
            ref=row_id(r),
            partnership_id=r.partnership_id,
            partnership=names[r.partnership_id],
            category=r.category,
            title=r.title,
            likelihood=r.likelihood,
            impact=r.impact,
            mitigation=r.mitigation,
            owner=r.owner,
            status=r.status,
        )
        for r in session.exec(query)
    ]


def value_items(
    *, session: Session, judgement: Across, cutoff: dt.datetime, on: dt.date
) -> list[ValueItem]:
    """Each judged partnership's costs, benefits and continuation decisions, in the judgement's
    order, weighed with its risks recorded as materialised by the cutoff and its outcomes the
    judgement finds getting worse."""
    judged = [j for j in judgement.partnerships if j.partnership_id is not None]
    if not judged:
        return []
    ids = {j.partnership_id for j in judged}
    rows = {p.id: p for p in session.exec(select(Partnership).where(col(Partnership.id).in_(ids)))}
    statuses: dict[int, list[str]] = {}
    query = select(Risk.partnership_id, Risk.status).where(
        col(Risk.partnership_id).in_(ids), col(Risk.recorded_at) <= cutoff
    )
    for partnership_id, status in session.exec(query):
        statuses.setdefault(partnership_id, []).append(status)
    items = []
    for j in judged:
        p = rows[j.partnership_id]
        weighed = weigh_partnership(
            partnership=p, risk_statuses=statuses.get(row_id(p), []), judgement=j, on=on
        )
        items.append(
            ValueItem(
                partnership_id=row_id(p),
                partnership=p.name,
                rationale=p.rationale,
                alternatives=p.alternatives,
                staff_days_a_year=p.staff_days_a_year,
                pounds_a_year=p.pounds_a_year,
                meetings_a_year=p.meetings_a_year,
                costs_as_at=p.costs_as_at_date,
                benefits=p.benefits,
                continuation_decided=p.continuation_decided_date,
                continuation_due=p.continuation_due_date,
                weighing=list(weighed.sentences),
            )
        )
    return items


def finding_item(hit: Hit, first_seen: dt.datetime | None) -> FindingItem:
    """A finding as the report shows it, explaining itself."""
    return FindingItem(
        severity=hit.severity,
        rule=hit.rule,
        message=hit.message,
        first_seen_at=first_seen,
        obligation_ref=hit.obligation_id,
        period_ref=hit.occurrence_id,
        rule_text=rule_words(hit.rule),
        basis=hit.basis,
        since=hit.since,
        remedy=hit.remedy,
    )


def audit_entries(
    *,
    session: Session,
    subjects: dict[str, Sequence[int | str]],
    since: dt.datetime,
    cutoff: dt.datetime,
) -> tuple[list[AuditEntry], int]:
    """The audit events in the period about the records shown (the latest AUDIT_LIMIT of
    them), and how many there were."""
    about = [
        and_(
            col(AuditEvent.entity_type) == kind,
            col(AuditEvent.entity_id).in_([str(i) for i in ids]),
        )
        for kind, ids in subjects.items()
        if ids
    ]
    if not about:
        return [], 0
    # Changes only: downloads are in the trail too, but a report read must not change a report.
    where = and_(
        col(AuditEvent.occurred_at) >= since,
        col(AuditEvent.occurred_at) <= cutoff,
        col(AuditEvent.action) != DOWNLOAD,
        or_(*about),
    )
    total = session.exec(select(func.count()).select_from(AuditEvent).where(where)).one()
    rows = session.exec(
        select(AuditEvent).where(where).order_by(col(AuditEvent.id).desc()).limit(AUDIT_LIMIT)
    ).all()
    entries = [
        AuditEntry(row_id(e), e.occurred_at, e.actor, e.action, e.entity_type, e.entity_id, e.hash)
        for e in reversed(rows)
    ]
    return entries, total


def unverified_facts(
    *, session: Session, obligations: list[Obligation], body_ids: AbstractSet[int]
) -> list[UnverifiedFact]:
    """Catalogue and registry facts behind the report that are still marked unverified."""
    facts: list[UnverifiedFact] = []
    deliverable_ids = {o.deliverable_id for o in obligations if o.deliverable_id}
    if deliverable_ids:
        query = (
            select(Deliverable.title, Deliverable.verified, key_column(Duty))
            .join(Duty)
            .where(col(Deliverable.id).in_(deliverable_ids))
        )
        rows = session.exec(query.order_by(Duty.slug, Deliverable.slug)).all()
        # Any: sqlmodel types select() to four columns, so its rows are untyped here.
        duty_rows: Any = (
            select(  # type: ignore[call-overload]  # sqlmodel types select() to 4 columns
                key_column(Duty),
                col(Duty.title),
                col(Duty.act),
                col(Duty.sections),
                col(Duty.verified),
            )
            .add_columns(col(Duty.unverified_note))
            .where(col(Duty.id).in_({duty_id for _, _, duty_id in rows}))
            .order_by(Duty.slug)
        )
        duties = {d.id: d for d in session.exec(duty_rows)}

        facts += [
            UnverifiedFact("Duty", f"{d.title} ({d.act} {d.sections})", d.unverified_note)
            for d in duties.values()
            if not d.verified
        ]
        facts += [
            UnverifiedFact("Deliverable", f"{duties[duty_id].title}: {title}", None)
            for title, verified, duty_id in rows
            if not verified
        ]
    condition_ids = {o.condition_id for o in obligations if o.condition_id}
    if condition_ids:
        streams = select(FundingCondition, FundingStream).join(FundingStream)
        for condition, stream in session.exec(
            streams.where(col(FundingCondition.id).in_(condition_ids)).order_by(
                col(FundingCondition.id)
            )
        ):
            if not stream.verified:
                facts.append(UnverifiedFact("Funding stream", stream.name, stream.unverified_note))
            if not condition.verified:
                facts.append(
                    UnverifiedFact("Funding condition", f"{stream.name}: {condition.title}", None)
                )
    if body_ids:
        unverified = select(Body).where(col(Body.id).in_(body_ids), col(Body.verified).is_(False))
        facts += [
            UnverifiedFact("Body", f"{b.name} ({b.code})", b.note)
            for b in session.exec(unverified.order_by(Body.name))
        ]
    return list(dict.fromkeys(facts))


@dataclass(frozen=True)
class VoiceItem:
    """What people who use services, carers and the partners' staff said in a partnership's
    latest evaluation round opened by the date: a line per stage, totals only past its minimum."""

    partnership_id: int
    partnership: str
    round_title: str | None
    opens: dt.date | None
    closes: dt.date | None
    lines: list[str]


def _stage_line(stage: StageResult) -> str:
    if not stage.shown:
        return (
            f"{stage.label}: results show once {stage.minimum} people have answered "
            f"({stage.answers} so far)"
        )
    agreed = "; ".join(f"“{s.text}”: {round(s.agreeing * 100)}% agree" for s in stage.statements)
    return f"{stage.label}: {stage.answers} answers" + (f"; {agreed}" if agreed else "")


def voice_items(*, session: Session, judgement: Across, on: dt.date) -> list[VoiceItem]:
    """Each judged partnership's latest evaluation round, in the judgement's order."""
    items = []
    for j in judgement.partnerships:
        if j.partnership_id is None:
            continue
        latest = latest_results(session=session, partnership_id=j.partnership_id, on=on).latest
        if latest is None:
            items.append(VoiceItem(j.partnership_id, j.name, None, None, None, []))
            continue
        row = latest.round
        lines = [_stage_line(latest.people), _stage_line(latest.partners)]
        items.append(
            VoiceItem(j.partnership_id, j.name, row.title, row.opens_date, row.closes_date, lines)
        )
    return items
