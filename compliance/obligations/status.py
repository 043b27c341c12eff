"""The process status of occurrences and obligations on a given date.

The outcome dimension (is the partnership making a difference?) is judged beside this one and
never folded into it: evidence of process alone never makes a duty fully met.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from compliance.models import Evidence, EvidenceLink, Obligation, Occurrence


class ProcessStatus(StrEnum):
    """Process states, from worst to best; a roll-up takes the worst."""

    overdue = "overdue"
    evidence_expired = "evidence_expired"
    due_soon = "due_soon"
    met = "met"
    not_yet_due = "not_yet_due"
    not_applicable = "not_applicable"


SEVERITY = {status: rank for rank, status in enumerate(ProcessStatus)}


@dataclass(frozen=True)
class OccurrenceState:
    occurrence: Occurrence
    status: ProcessStatus
    evidence_ids: tuple[int, ...]


def superseded_by(cutoff: dt.datetime):  # type: ignore[no-untyped-def]
    """The ids of evidence corrected by a newer version recorded by a moment.

    A plain (uncorrelated) subquery: as a correlated NOT EXISTS, SQLite with statistics scans
    every piece of evidence once per row, because nearly every supersedes_id is empty.
    """
    newer = aliased(Evidence)
    return select(newer.supersedes_id).where(
        newer.supersedes_id.is_not(None), newer.recorded_at <= cutoff
    )


def current_evidence(
    *, session: Session, occurrence_ids: Iterable[int], on: dt.date
) -> dict[int, list[Evidence]]:
    """Evidence recorded by `on`, neither withdrawn then nor superseded, per occurrence."""
    ids = list(occurrence_ids)
    if not ids:
        return {}
    end_of_day = dt.datetime.combine(on, dt.time.max, tzinfo=dt.UTC)
    query = (
        select(EvidenceLink.occurrence_id, Evidence)
        .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
        .where(EvidenceLink.occurrence_id.in_(ids))
        .where(Evidence.recorded_at <= end_of_day)
        .where((Evidence.withdrawn_at.is_(None)) | (Evidence.withdrawn_at > end_of_day))
    )
    rows = session.exec(query).all()
    # Which of these few are superseded is asked of them by key (the supersedes_id index):
    # a NOT IN over every correction ever made scanned the whole evidence table for one page.
    candidates = sorted({evidence.id for _, evidence in rows})
    superseded = (
        set(
            session.exec(
                select(Evidence.supersedes_id).where(
                    Evidence.supersedes_id.in_(candidates), Evidence.recorded_at <= end_of_day
                )
            )
        )
        if candidates
        else set()
    )
    found: dict[int, list[Evidence]] = {}
    for occurrence_id, evidence in rows:
        if evidence.id not in superseded:
            found.setdefault(occurrence_id, []).append(evidence)
    return found


def occurrence_status(
    occurrence: Occurrence, evidence: list[Evidence], *, on: dt.date, due_soon_days: int
) -> ProcessStatus:
    """The process status of one period on a date."""
    if evidence:
        in_date = [e for e in evidence if e.review_by_date is None or e.review_by_date >= on]
        return ProcessStatus.met if in_date else ProcessStatus.evidence_expired
    if occurrence.due_date < on:
        return ProcessStatus.overdue
    if (occurrence.due_date - on).days <= due_soon_days:
        return ProcessStatus.due_soon
    return ProcessStatus.not_yet_due


def worst(statuses: Iterable[ProcessStatus]) -> ProcessStatus:
    """The worst of several statuses; not-applicable counts only when nothing else is there."""
    counted = [s for s in statuses if s != ProcessStatus.not_applicable]
    if not counted:
        return ProcessStatus.not_applicable
    return min(counted, key=SEVERITY.__getitem__)


def obligation_states(
    *, session: Session, obligations: list[Obligation], on: dt.date, due_soon_days: int
) -> dict[int, tuple[ProcessStatus, list[OccurrenceState]]]:
    """Each obligation's status and its periods' states, in a fixed number of queries."""
    ids = [o.id for o in obligations]
    occurrences = (
        session.exec(
            select(Occurrence)
            .where(Occurrence.obligation_id.in_(ids))
            .order_by(Occurrence.period_start_date)
        ).all()
        if ids
        else []
    )
    evidence = current_evidence(session=session, occurrence_ids=[o.id for o in occurrences], on=on)
    per_obligation: dict[int, list[OccurrenceState]] = {i: [] for i in ids}
    for occurrence in occurrences:
        found = evidence.get(occurrence.id, [])
        status = occurrence_status(occurrence, found, on=on, due_soon_days=due_soon_days)
        per_obligation[occurrence.obligation_id].append(
            OccurrenceState(occurrence, status, tuple(e.id for e in found))
        )
    return {
        o.id: (_rolled_up(o, per_obligation[o.id], on), per_obligation[o.id]) for o in obligations
    }


def _rolled_up(obligation: Obligation, states: list[OccurrenceState], on: dt.date) -> ProcessStatus:
    if obligation.not_applicable_reason:
        return ProcessStatus.not_applicable
    # Periods that have started or fall due soon count; a future period never hides a past gap.
    relevant = [
        s.status
        for s in states
        if s.occurrence.period_start_date <= on or s.status == ProcessStatus.due_soon
    ]
    if not relevant:
        return ProcessStatus.not_yet_due
    counted = [s for s in relevant if s != ProcessStatus.not_yet_due]
    return worst(counted) if counted else ProcessStatus.not_yet_due


class OutcomeStatus(StrEnum):
    """Outcome states, from worst to best; a roll-up takes the worst."""

    no_outcome_defined = "no_outcome_defined"
    not_measured = "not_measured"
    not_improving = "not_improving"
    improving = "improving"


OUTCOME_SEVERITY = {status: rank for rank, status in enumerate(OutcomeStatus)}
MEASURED_WITHIN_DAYS = 365


def indicator_status(indicator, values: list[tuple[dt.date, float]], on: dt.date) -> OutcomeStatus:  # type: ignore[no-untyped-def]
    """An indicator is not measured (nothing in 12 months), improving or not improving."""
    from compliance.outcomes.service import trend

    if not values or (on - values[-1][0]).days > MEASURED_WITHIN_DAYS:
        return OutcomeStatus.not_measured
    improving = trend(indicator, [value for _, value in values]) > 0
    return OutcomeStatus.improving if improving else OutcomeStatus.not_improving


def worst_outcome(statuses: Iterable[OutcomeStatus]) -> OutcomeStatus:
    """The worst of several outcome states; none at all means no outcome is defined."""
    found = list(statuses)
    if not found:
        return OutcomeStatus.no_outcome_defined
    return min(found, key=OUTCOME_SEVERITY.__getitem__)


@dataclass(frozen=True)
class Rollup:
    """Both dimensions side by side, counted and at their worst; not-applicable left out."""

    process: dict[str, int]
    outcome: dict[str, int]
    worst_process: ProcessStatus
    worst_outcome: OutcomeStatus
    fully_met: int
    total: int


def rollup(pairs: list[tuple[ProcessStatus, OutcomeStatus]]) -> Rollup:
    """Roll up obligations' (process, outcome) states: the worst state wins in each dimension.

    An obligation counts as fully met only with its process met and its outcomes improving.
    """
    counted = [(p, o) for p, o in pairs if p != ProcessStatus.not_applicable]
    process = Counter(p.value for p, _ in pairs)
    outcome = Counter(o.value for _, o in counted)
    return Rollup(
        process=dict(process),
        outcome=dict(outcome),
        worst_process=worst(p for p, _ in counted) if counted else ProcessStatus.not_applicable,
        worst_outcome=worst_outcome(o for _, o in counted),
        fully_met=sum(
            1 for p, o in counted if p == ProcessStatus.met and o == OutcomeStatus.improving
        ),
        total=len(counted),
    )
