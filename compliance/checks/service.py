"""Running the rules: load a snapshot in a fixed number of queries, judge, persist findings."""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, or_, true, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.checks.current import pending
from compliance.checks.rules import (
    RULES,
    BodyFacts,
    Comment,
    EvidenceItem,
    Hit,
    Member,
    ObligationItem,
    PeriodItem,
    Point,
    Snapshot,
    continuation_of,
)
from compliance.config import Settings
from compliance.db import key_column, plain_rows, row_id
from compliance.memory import collector_paused
from compliance.models import (
    Body,
    CheckRun,
    Deliverable,
    Duty,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    Finding,
    FundingCondition,
    FundingStream,
    Indicator,
    Measurement,
    Obligation,
    Outcome,
    Partnership,
    PartnershipDuty,
    PartnershipMember,
    Period,
    utcnow,
)
from compliance.obligations.service import SyncReport, sync_obligations
from compliance.obligations.status import PERIOD_COLUMNS, superseded_by
from compliance.paging import Keyset, read_page
from compliance.reminders.reach import reach_of

log = logging.getLogger(__name__)


def end_of(day: dt.date) -> dt.datetime:
    """The last moment of a day, in UTC."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)


def _active(start_col, end_col, on: dt.date):
    return and_((start_col.is_(None)) | (start_col <= on), (end_col.is_(None)) | (end_col > on))


@dataclass(frozen=True)
class Scope:
    """The holders a check is about: None for everything, else these bodies and partnerships."""

    body_ids: frozenset[int] = frozenset()
    partnership_ids: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.body_ids or self.partnership_ids)


def _holders(scope: Scope | None, body_col, partnership_col):
    if scope is None:
        return true()
    return or_(body_col.in_(scope.body_ids), partnership_col.in_(scope.partnership_ids))


def load_snapshot(
    *,
    session: Session,
    on: dt.date,
    due_soon_days: int,
    query_answer_days: int,
    scope: Scope | None = None,
    judged: Any = None,
) -> Snapshot:
    """Everything the rules need as at a date, for everything or for a scope's holders.

    `judged`, a condition on Obligation, narrows the obligations (with their periods, evidence
    and outcomes) that the rules judge, for a report that shows the findings about some of its
    holders' obligations only; the evidence an inspector has queried is still read across all
    of the holders' obligations, since a query unanswered is a finding about the holder.
    """
    cutoff = end_of(on)
    everything = _holders(scope, Obligation.body_id, Obligation.partnership_id)
    mine = everything if judged is None else and_(everything, judged)
    obligations = [
        ObligationItem(*row)
        for row in plain_rows(
            session,
            core_select(
                key_column(Obligation),
                col(Obligation.body_id),
                col(Obligation.partnership_id),
                col(Obligation.deliverable_id),
                col(Obligation.condition_id),
                col(Obligation.opened_date),
                col(Obligation.not_applicable_reason),
            ).where(col(Obligation.closed_date).is_(None), mine),
        )
    ]
    periods: dict[int, list[PeriodItem]] = {}
    open_periods = (
        core_select(*PERIOD_COLUMNS)
        .join(Obligation, col(Obligation.id) == col(Period.obligation_id))
        .where(col(Obligation.closed_date).is_(None), mine)
        .order_by(col(Period.period_start_date))
    )
    for period in plain_rows(session, open_periods):
        periods.setdefault(period[1], []).append(PeriodItem(*period))
    live_body = _active(Body.start_date, Body.end_date, on)
    scoped_bodies = (
        select(Body).where(live_body)
        if scope is None
        else select(Body).where(live_body, col(Body.id).in_(scope.body_ids))
    )
    bodies = {
        row_id(b): BodyFacts(row_id(b), b.name, b.kind, b.nation)
        for b in session.exec(scoped_bodies)
    }

    in_partnerships = (
        true()
        if scope is None
        else or_(
            col(PartnershipMember.partnership_id).in_(scope.partnership_ids),
            col(PartnershipMember.body_id).in_(scope.body_ids),
        )
    )
    members: dict[int, list[Member]] = {}
    member_rows = (
        select(PartnershipMember.partnership_id, key_column(Body), Body.kind, Body.nation)
        .join(Body, col(Body.id) == PartnershipMember.body_id)
        .where(
            _active(PartnershipMember.start_date, PartnershipMember.end_date, on),
            live_body,
            in_partnerships,
        )
    )
    for partnership_id, body_id, kind, nation in session.exec(member_rows):
        members.setdefault(partnership_id, []).append(Member(partnership_id, body_id, kind, nation))
    wanted = set(members) | (set(scope.partnership_ids) if scope is not None else set())
    partnership_query = select(Partnership).where(
        _active(Partnership.start_date, Partnership.end_date, on)
    )
    if scope is not None:
        partnership_query = partnership_query.where(col(Partnership.id).in_(wanted))
    live_partnerships = list(session.exec(partnership_query))
    active_partnerships = {row_id(p): p.name for p in live_partnerships}
    discharged: dict[int, list[int]] = {}
    for link in session.exec(
        select(PartnershipDuty).where(col(PartnershipDuty.partnership_id).in_(active_partnerships))
    ):
        discharged.setdefault(link.partnership_id, []).append(link.duty_id)
    judged_partnerships = (
        set(active_partnerships)
        if scope is None
        else set(active_partnerships) & set(scope.partnership_ids)
    )
    # The live obligations as a subquery, never as a list: a national registry has more of
    # them than a statement may carry parameters (65,535 on PostgreSQL).
    live_obligation_ids = select(key_column(Obligation)).where(
        col(Obligation.closed_date).is_(None), mine
    )
    outcomes = list(
        session.exec(
            select(Outcome).where(
                col(Outcome.partnership_id).in_(judged_partnerships)
                | col(Outcome.obligation_id).in_(live_obligation_ids)
            )
        )
    )
    outcome_ids = {o.id for o in outcomes}
    indicators = list(
        session.exec(
            select(Indicator)
            .where(col(Indicator.outcome_id).in_(outcome_ids))
            .order_by(col(Indicator.id))
        )
    )
    points: dict[int, list[Point]] = {}
    for row in session.exec(
        select(
            col(Measurement.indicator_id), col(Measurement.measured_date), col(Measurement.value)
        )
        .where(Measurement.measured_date <= on)
        .where(col(Measurement.indicator_id).in_([i.id for i in indicators]))
        .order_by(col(Measurement.measured_date))
    ):
        points.setdefault(row[0], []).append(Point(*row))
    evidence, titles, holders = _current_evidence(session, cutoff, mine)
    if judged is not None:
        _, queried, queried_holders = _current_evidence(session, cutoff, everything, queried=True)
        titles, holders = titles | queried, holders | queried_holders
    return Snapshot(
        on=on,
        due_soon_days=due_soon_days,
        query_answer_days=query_answer_days,
        obligations=obligations,
        periods=periods,
        evidence=evidence,
        deliverables={row_id(d): d for d in session.exec(select(Deliverable))},
        duties={row_id(d): d for d in session.exec(select(Duty))},
        conditions={row_id(c): c for c in session.exec(select(FundingCondition))},
        body_names=dict(session.exec(select(key_column(Body), Body.name)).all()),
        partnerships={p: active_partnerships[p] for p in judged_partnerships},
        members=members,
        partnership_duties=discharged,
        outcomes=outcomes,
        indicators=indicators,
        points=points,
        comments=_comments(session, cutoff, set(titles)),
        evidence_titles=titles,
        bodies=bodies,
        evidence_holders=holders,
        stream_names=dict(
            session.exec(select(key_column(FundingStream), FundingStream.name)).all()
        ),
        continuation={
            row_id(p): continuation_of(p) for p in live_partnerships if p.id in judged_partnerships
        },
        reach=_reach(session, scope, set(bodies), judged_partnerships),
    )


def _reach(session: Session, scope: Scope | None, bodies: set[int], partnerships: set[int]):
    # Judged for the live bodies in the check, with all their obligations (a lead body's
    # partnerships' too) whatever the scope, so that a scoped check says what a full one does.
    found = reach_of(
        session=session,
        body_ids=None if scope is None else bodies,
        partnership_ids=partnerships,
    )
    return [r for r in found if r.body_id in bodies or r.partnership_id in partnerships]


def _current_evidence(
    session: Session, cutoff: dt.datetime, mine, queried: bool = False
) -> tuple[dict[int, list[EvidenceItem]], dict[int, str], dict[int, tuple[int | None, int | None]]]:
    """Current evidence per period of the obligations `mine` selects, with each piece's title
    and holder; `queried`: only the pieces with a review comment by the cutoff."""
    query = (
        core_select(
            col(EvidenceLink.occurrence_id),
            key_column(Evidence),
            col(Evidence.title),
            col(Evidence.review_by_date),
            col(Evidence.effective_date),
            col(Obligation.body_id),
            col(Obligation.partnership_id),
        )
        .join(Evidence, col(Evidence.id) == col(EvidenceLink.evidence_id))
        .join(Period, col(Period.id) == col(EvidenceLink.occurrence_id))
        .join(Obligation, col(Obligation.id) == col(Period.obligation_id))
        .where(mine)
        .where(col(Evidence.recorded_at) <= cutoff)
        .where((col(Evidence.withdrawn_at).is_(None)) | (col(Evidence.withdrawn_at) > cutoff))
        .where(col(Evidence.id).not_in(superseded_by(cutoff)))
    )
    if queried:
        reviewed = select(EvidenceComment.evidence_id).where(EvidenceComment.created_at <= cutoff)
        query = query.where(col(Evidence.id).in_(reviewed))
    found: dict[int, list[EvidenceItem]] = {}
    titles: dict[int, str] = {}
    holders: dict[int, tuple[int | None, int | None]] = {}
    for (
        occurrence_id,
        evidence_id,
        title,
        review_by,
        effective,
        body_id,
        partnership_id,
    ) in plain_rows(session, query):
        found.setdefault(occurrence_id, []).append(
            EvidenceItem(evidence_id, title, review_by, effective)
        )
        titles[evidence_id] = title
        holders.setdefault(evidence_id, (body_id, partnership_id))
    return found, titles, holders


def _comments(
    session: Session, cutoff: dt.datetime, evidence_ids: set[int]
) -> dict[int, list[Comment]]:
    query = (
        select(EvidenceComment.evidence_id, EvidenceComment.kind, EvidenceComment.created_at)
        .where(EvidenceComment.created_at <= cutoff)
        .order_by(col(EvidenceComment.created_at), col(EvidenceComment.id))
    )
    if len(evidence_ids) <= CHUNK:
        query = query.where(col(EvidenceComment.evidence_id).in_(evidence_ids))
    # Else every comment by the cutoff is read and those asked about kept: a national
    # registry's evidence ids are too many to send as parameters, and comments are far fewer.
    found: dict[int, list[Comment]] = {}
    for evidence_id, kind, created_at in session.exec(query):
        if evidence_id in evidence_ids:
            found.setdefault(evidence_id, []).append(Comment(evidence_id, kind, created_at))
    return found


def evaluate(snap: Snapshot) -> tuple[list[Hit], list[str]]:
    """Ask every rule about every subject; a failure on one subject is recorded, not fatal."""
    hits: dict[str, Hit] = {}
    errors: list[str] = []
    for rule, subjects in RULES:
        for subject in subjects(snap):
            try:
                for hit in rule(snap, subject):
                    hits[hit.key] = hit
            except Exception as exc:  # one broken record must not stop the run
                log.exception("rule %s failed", rule.__name__)
                errors.append(f"{rule.__name__} failed on {_describe(subject)}: {exc!r}")
    return list(hits.values()), errors


def _describe(subject: object) -> str:
    if isinstance(subject, tuple):
        return ", ".join(_describe(part) for part in subject)
    row_id = getattr(subject, "id", None)
    label = getattr(subject, "label", type(subject).__name__.lower())
    return f"{label} {row_id}" if row_id is not None else repr(subject)


@dataclass(frozen=True)
class CheckSummary:
    run: CheckRun
    by_severity: dict[str, int]
    by_rule: dict[str, int]


FINDING_COLUMNS = (
    "rule",
    "severity",
    "message",
    "body_id",
    "partnership_id",
    "obligation_id",
    "occurrence_id",
    "evidence_id",
    "indicator_id",
    "basis",
    "remedy",
)


def _columns(hit: Hit) -> dict[str, object]:
    return {**{c: getattr(hit, c) for c in FINDING_COLUMNS}, "since_date": hit.since}


@collector_paused()
def check_now(
    *, session: Session, settings: Settings, on: dt.date, trigger: str
) -> tuple[SyncReport, CheckSummary]:
    """A full check as at a date, the one way every caller runs it (the nightly job, `compliance
    init` and `check`, the admin page and POST /api/check-runs): obligations and their periods
    are brought up to date first, then every rule runs on what that left, in one transaction.
    The garbage collector waits meanwhile (see compliance.memory)."""
    sync = sync_obligations(session=session, on=on)
    summary = run_checks(
        session=session,
        on=on,
        trigger=trigger,
        due_soon_days=settings.due_soon_days,
        query_answer_days=settings.query_answer_days,
    )
    return sync, summary


def run_checks(
    *,
    session: Session,
    on: dt.date,
    trigger: str,
    due_soon_days: int,
    query_answer_days: int,
    scope: Scope | None = None,
) -> CheckSummary:
    """Run every rule as at a date and bring the findings up to date: all of them, or only
    those about a scope's holders (after a change, in the same transaction)."""
    run = CheckRun(as_at_date=on, trigger=trigger)
    session.add(run)
    session.flush()
    snap = load_snapshot(
        session=session,
        on=on,
        due_soon_days=due_soon_days,
        query_answer_days=query_answer_days,
        scope=scope,
    )
    hits, errors = evaluate(snap)
    if scope is not None:
        hits = [h for h in hits if _within(scope, h.body_id, h.partnership_id)]
    new, resolved = _persist(session, run, hits, scope)
    run.findings_open, run.findings_new, run.findings_resolved = len(hits), new, resolved
    run.errors, run.finished_at = errors, utcnow()
    run.status = "completed_with_errors" if errors else "succeeded"
    session.flush()
    if scope is None:
        # Everything has just been judged: nothing waits to be re-evaluated at commit.
        pending(session).clear()
        audit(
            session=session,
            actor=f"check:{trigger}",
            action="check.completed",
            entity_type="check_run",
            entity_id=run.id,
            after={
                "as_at_date": on,
                "open": len(hits),
                "new": new,
                "resolved": resolved,
                "errors": len(errors),
            },
        )
    return CheckSummary(
        run, dict(Counter(h.severity for h in hits)), dict(Counter(h.rule for h in hits))
    )


CHANGE = "change"
# Most ids one statement is given as a list: PostgreSQL takes at most 65,535 parameters.
CHUNK = 10_000


def _within(scope: Scope, body_id: int | None, partnership_id: int | None) -> bool:
    return body_id in scope.body_ids or partnership_id in scope.partnership_ids


def _persist(
    session: Session, run: CheckRun, hits: list[Hit], scope: Scope | None
) -> tuple[int, int]:
    now = utcnow()
    said = [col(getattr(Finding, name)) for name in (*FINDING_COLUMNS, "since_date")]
    query = select(col(Finding.key), key_column(Finding), *said).where(
        col(Finding.resolved_at).is_(None)
    )
    if scope is not None:
        query = query.where(_holders(scope, Finding.body_id, Finding.partnership_id))
    # Two transactions judging the same holder at once may each have opened the same finding;
    # the first is kept and any twin resolved, so the register heals at the next evaluation.
    open_findings: dict[str, int] = {}
    stored: dict[int, tuple[object, ...]] = {}
    twins: list[int] = []
    for row in session.exec(query.order_by(col(Finding.id))).all():
        key, fid = row[0], row[1]
        if key in open_findings:
            twins.append(fid)
        else:
            open_findings[key], stored[fid] = fid, tuple(row[2:])
    firing = {hit.key: hit for hit in hits}
    fresh = [
        {
            "key": key,
            **_columns(hit),
            "first_seen_at": now,
            "last_seen_at": now,
            "first_run_id": run.id,
            "last_run_id": run.id,
        }
        for key, hit in firing.items()
        if key not in open_findings
    ]
    if fresh:
        # Nulls rendered, so all rows share one statement shape and go in one batch.
        session.execute(insert(Finding).execution_options(render_nulls=True), fresh)
    # What a finding says follows its data: a message, severity or remedy may change. Those
    # that changed are written row by row; the rest (nearly all) are only marked seen again.
    changed = [
        {"id": fid, **_columns(firing[key]), "last_seen_at": now, "last_run_id": run.id}
        for key, fid in open_findings.items()
        if key in firing and tuple(_columns(firing[key]).values()) != stored[fid]
    ]
    if changed:
        session.execute(update(Finding), changed)
    rewritten = {row["id"] for row in changed}
    seen = [fid for key, fid in open_findings.items() if key in firing and fid not in rewritten]
    _set(session, seen, last_seen_at=now, last_run_id=run.id)
    gone = [fid for key, fid in open_findings.items() if key not in firing] + twins
    _set(session, gone, resolved_at=now, last_run_id=run.id)
    return len(fresh), len(gone)


def _set(session: Session, finding_ids: list[int], **values: object) -> None:
    for start in range(0, len(finding_ids), CHUNK):  # within a statement's parameter limit
        session.execute(
            update(Finding)
            .where(col(Finding.id).in_(finding_ids[start : start + CHUNK]))
            .values(**values)
        )


# The history of runs, newest first: the admin's page and the API page it by key.
NEWEST_RUNS = Keyset((col(CheckRun.id),), newest_first=True)


def list_check_runs(
    *, session: Session, after: tuple[int] | None = None, limit: int = 50
) -> list[CheckRun]:
    """Check runs, newest first, from the one before the run whose key is `after` when given.
    The re-evaluations that follow each change are left out: their findings show, but a run per
    saved form would bury the scheduled and requested runs."""
    query = select(CheckRun).where(CheckRun.trigger != CHANGE)
    return read_page(session, query, NEWEST_RUNS, after=after, limit=limit)
