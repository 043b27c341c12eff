"""The process status of occurrences and obligations on a given date.

The outcome dimension (is the partnership making a difference?) is judged beside this one and
never folded into it: evidence of process alone never makes a duty fully met.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import select as core_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from compliance.catalogue.schema import STANDING, Cadence
from compliance.db import any_of, key_column, plain_rows, row_id
from compliance.models import (
    Deliverable,
    Evidence,
    EvidenceLink,
    FundingCondition,
    FundingStream,
    Indicator,
    Period,
)
from compliance.obligations.rows import ObligationFacts
from compliance.outcomes.trend import Trend, judge_trend


class ProcessStatus(StrEnum):
    """Process states, from worst to best; a roll-up takes the worst.

    Overdue is kept for a date the law or a funding condition sets. A date that is only a
    convention of the catalogue, once passed without evidence, is an assurance gap: no breach.
    A period that fell due before the obligation was tracked is before tracking and judged not.
    """

    overdue = "overdue"
    evidence_expired = "evidence_expired"
    assurance_gap = "assurance_gap"
    due_soon = "due_soon"
    met = "met"
    not_yet_due = "not_yet_due"
    before_tracking = "before_tracking"
    not_applicable = "not_applicable"


SEVERITY = {status: rank for rank, status in enumerate(ProcessStatus)}
UNJUDGED = frozenset({ProcessStatus.before_tracking, ProcessStatus.not_applicable})


@dataclass(frozen=True)
class DueBasis:
    """Where an obligation's due dates come from, and whether it is a standing duty."""

    statutory: bool
    standing: bool
    source: str

    @property
    def words(self) -> str:
        """The basis in plain words, as findings, pages and reports print it."""
        if self.statutory:
            return f"set by {self.source}"
        return "a convention of this catalogue; no statutory date"


CONVENTION = DueBasis(statutory=False, standing=False, source="")


def deliverable_basis(deliverable: Deliverable) -> DueBasis:
    """A deliverable's basis: the law named by due_set_by, else a convention."""
    return basis_of(deliverable.cadence, deliverable.due_set_by)


def basis_of(cadence: str, due_set_by: str | None) -> DueBasis:
    """The basis of a deliverable of this cadence whose dates are set by `due_set_by`."""
    standing = Cadence(cadence) in STANDING
    if due_set_by:
        return DueBasis(statutory=True, standing=standing, source=due_set_by)
    return DueBasis(statutory=False, standing=standing, source="")


def condition_basis(condition: FundingCondition, stream: FundingStream) -> DueBasis:
    """A funding condition's dates are set by the funding it comes with."""
    return funding_basis(stream.name)


def funding_basis(stream_name: str) -> DueBasis:
    """The basis of a condition of the funding stream of this name."""
    return DueBasis(statutory=True, standing=False, source=f"a condition of {stream_name}")


def due_bases(*, session: Session, obligations: Iterable[ObligationFacts]) -> dict[int, DueBasis]:
    """Each obligation's basis, in two queries."""
    rows = list(obligations)
    deliverable_ids = {o.deliverable_id for o in rows if o.deliverable_id}
    condition_ids = {o.condition_id for o in rows if o.condition_id}
    # Read as columns, not objects (the views read theirs with their sources: views._catalogue).
    by_deliverable: dict[int | None, DueBasis] = (
        {
            deliverable_id: basis_of(cadence, due_set_by)
            for deliverable_id, cadence, due_set_by in session.exec(
                select(key_column(Deliverable), Deliverable.cadence, Deliverable.due_set_by).where(
                    any_of(col(Deliverable.id), deliverable_ids)
                )
            )
        }
        if deliverable_ids
        else {}
    )
    by_condition = (
        {
            c.id: condition_basis(c, s)
            for c, s in session.exec(
                select(FundingCondition, FundingStream)
                .join(FundingStream)
                .where(any_of(col(FundingCondition.id), condition_ids))
            )
        }
        if condition_ids
        else {}
    )
    return {
        row_id(o): by_deliverable.get(o.deliverable_id)
        or by_condition.get(o.condition_id)
        or CONVENTION
        for o in rows
    }


def period_status(
    *,
    due: dt.date,
    review_by: list[dt.date | None],
    on: dt.date,
    due_soon_days: int,
    statutory: bool,
    tracked_from: dt.date,
) -> ProcessStatus:
    """The process status of one period on a date: the one definition pages, reports and the
    check all use. `review_by` holds the review-by date of each piece of current evidence."""
    if review_by:
        in_date = [r for r in review_by if r is None or r >= on]
        return ProcessStatus.met if in_date else ProcessStatus.evidence_expired
    if due < tracked_from:
        return ProcessStatus.before_tracking
    if due < on:
        return ProcessStatus.overdue if statutory else ProcessStatus.assurance_gap
    if (due - on).days <= due_soon_days:
        return ProcessStatus.due_soon
    return ProcessStatus.not_yet_due


class PeriodRow(NamedTuple):
    """A period as judging and listing read it: its columns as plain values (building thousands
    of ORM objects was a large share of a listing's time)."""

    id: int
    obligation_id: int
    period_start_date: dt.date
    period_end_date: dt.date
    due_date: dt.date


PERIOD_COLUMNS = (
    key_column(Period),
    col(Period.obligation_id),
    col(Period.period_start_date),
    col(Period.period_end_date),
    col(Period.due_date),
)


class PeriodState(NamedTuple):
    """A period as judged on a date (a plain tuple: a listing judges thousands)."""

    occurrence: PeriodRow
    status: ProcessStatus
    evidence_ids: tuple[int, ...]


def superseded_by(cutoff: dt.datetime):
    """The ids of evidence corrected by a newer version recorded by a moment.

    A plain (uncorrelated) subquery: as a correlated NOT EXISTS, SQLite with statistics scans
    every piece of evidence once per row, because nearly every supersedes_id is empty.
    """
    newer = aliased(Evidence)
    return select(newer.supersedes_id).where(
        col(newer.supersedes_id).is_not(None), col(newer.recorded_at) <= cutoff
    )


class Current(NamedTuple):
    """A piece of current evidence, as far as judging a period needs it."""

    id: int
    review_by_date: dt.date | None


def current_evidence(
    *, session: Session, occurrence_ids: Iterable[int], on: dt.date
) -> dict[int, list[Current]]:
    """Evidence recorded by `on`, neither withdrawn then nor superseded, per occurrence, in the
    order it was recorded (by id). Read as plain rows: judging a page of periods reads thousands
    of pieces, and building each as an ORM object was most of an API listing's time."""
    ids = list(occurrence_ids)
    if not ids:
        return {}
    end_of_day = dt.datetime.combine(on, dt.time.max, tzinfo=dt.UTC)
    query = (
        select(EvidenceLink.occurrence_id, key_column(Evidence), col(Evidence.review_by_date))
        .join(Evidence, col(Evidence.id) == EvidenceLink.evidence_id)
        .where(any_of(col(EvidenceLink.occurrence_id), ids))
        .where(Evidence.recorded_at <= end_of_day)
        .where((col(Evidence.withdrawn_at).is_(None)) | (col(Evidence.withdrawn_at) > end_of_day))
        .order_by(col(EvidenceLink.occurrence_id), col(Evidence.id))
    )
    rows = plain_rows(session, query)
    # Which of these few are superseded is asked of them by key (the supersedes_id index):
    # a NOT IN over every correction ever made scanned the whole evidence table for one page.
    candidates = sorted({evidence_id for _, evidence_id, _ in rows})
    superseded = (
        set(
            session.exec(
                select(Evidence.supersedes_id).where(
                    any_of(col(Evidence.supersedes_id), candidates),
                    col(Evidence.recorded_at) <= end_of_day,
                )
            )
        )
        if candidates
        else set()
    )
    found: dict[int, list[Current]] = {}
    for occurrence_id, evidence_id, review_by in rows:
        if evidence_id not in superseded:
            found.setdefault(occurrence_id, []).append(Current(evidence_id, review_by))
    return found


def worst(statuses: Iterable[ProcessStatus]) -> ProcessStatus:
    """The worst of several statuses; unjudged ones count only when nothing else is there."""
    found = list(statuses)
    counted = [s for s in found if s not in UNJUDGED]
    if not counted:
        return (
            ProcessStatus.before_tracking
            if ProcessStatus.before_tracking in found
            else (ProcessStatus.not_applicable)
        )
    return min(counted, key=SEVERITY.__getitem__)


class PeriodFacts(NamedTuple):
    """What the roll-up of one obligation needs of each of its periods."""

    start: dt.date
    due: dt.date
    status: ProcessStatus


def obligation_status(
    periods: list[PeriodFacts], *, on: dt.date, standing: bool, not_applicable: bool
) -> ProcessStatus:
    """An obligation's status from its periods' statuses, in date order.

    Periods that have started or fall due soon count; a future period never hides a past gap.
    A standing duty is judged by its latest assurance only: the current period once evidenced,
    else the latest period whose date has passed, so that missed years never pile up.
    """
    if not_applicable:
        return ProcessStatus.not_applicable
    relevant = [p for p in periods if p.start <= on or p.status == ProcessStatus.due_soon]
    if standing and relevant:
        current = relevant[-1]
        passed = [p for p in relevant if p.due < on and p.status not in UNJUDGED]
        relevant = [current] if current.status == ProcessStatus.met or not passed else [passed[-1]]
    if not relevant:
        return ProcessStatus.not_yet_due
    counted = [p.status for p in relevant if p.status != ProcessStatus.not_yet_due]
    if any(s not in UNJUDGED for s in counted) or len(counted) == len(relevant):
        return worst(counted) if counted else ProcessStatus.not_yet_due
    return ProcessStatus.not_yet_due


def obligation_states(
    *,
    session: Session,
    obligations: Sequence[ObligationFacts],
    on: dt.date,
    due_soon_days: int,
    bases: dict[int, DueBasis] | None = None,
) -> dict[int, tuple[ProcessStatus, list[PeriodState]]]:
    """Each obligation's status and its periods' states, in a fixed number of queries (one
    fewer when the caller has their bases already, from due_bases)."""
    ids = [row_id(o) for o in obligations]
    occurrences = (
        [
            PeriodRow(*row)
            for row in plain_rows(
                session,
                core_select(*PERIOD_COLUMNS)
                .where(any_of(col(Period.obligation_id), ids))
                .order_by(col(Period.period_start_date)),
            )
        ]
        if ids
        else []
    )
    evidence = current_evidence(session=session, occurrence_ids=[o.id for o in occurrences], on=on)
    if bases is None:
        bases = due_bases(session=session, obligations=obligations)
    tracked = {key: o.opened_date for key, o in zip(ids, obligations, strict=True)}

    per_obligation: dict[int, list[PeriodState]] = {i: [] for i in ids}
    for occurrence in occurrences:
        found = evidence.get(occurrence.id, [])
        status = period_status(
            due=occurrence.due_date,
            review_by=[e.review_by_date for e in found],
            on=on,
            due_soon_days=due_soon_days,
            statutory=bases[occurrence.obligation_id].statutory,
            tracked_from=tracked[occurrence.obligation_id],
        )
        per_obligation[occurrence.obligation_id].append(
            PeriodState(occurrence, status, tuple(e.id for e in found))
        )
    judged = {}
    for obligation in obligations:
        key = row_id(obligation)
        states = per_obligation[key]
        facts = [
            PeriodFacts(s.occurrence.period_start_date, s.occurrence.due_date, s.status)
            for s in states
        ]
        status = obligation_status(
            facts,
            on=on,
            standing=bases[key].standing,
            not_applicable=bool(obligation.not_applicable_reason),
        )
        judged[key] = (status, states)
    return judged


class OutcomeStatus(StrEnum):
    """Outcome states, from worst to best; a roll-up takes the worst.

    Nothing to measure, then nothing measured in the last 12 months, come first; among the
    measured, getting worse is the worst, then too few measurements to say, then no change.
    A trend is judged by compliance.outcomes.trend (its method is printed beside it).
    """

    no_outcome_defined = "no_outcome_defined"
    not_measured = "not_measured"
    worsening = "worsening"
    too_few_measurements = "too_few_measurements"
    no_change = "no_change"
    improving = "improving"


OUTCOME_SEVERITY = {status: rank for rank, status in enumerate(OutcomeStatus)}
MEASURED_WITHIN_DAYS = 365


def measured_recently(latest: dt.date | None, on: dt.date) -> bool:
    """Tell whether an indicator's latest measurement is within the last 12 months."""
    return latest is not None and (on - latest).days <= MEASURED_WITHIN_DAYS


@dataclass(frozen=True)
class IndicatorReading:
    """An indicator's status on a date, with the trend (and its method) behind it."""

    status: OutcomeStatus
    trend: Trend


def read_indicator(
    indicator: Indicator, values: list[tuple[dt.date, float]], on: dt.date
) -> IndicatorReading:
    """An indicator is not measured (nothing in the 12 months to `on`), else its trend's verdict:
    improving, no change, getting worse, or too few measurements to judge."""
    trend = judge_trend(indicator, values, on)
    latest = max((day for day, _ in values if day <= on), default=None)
    if not measured_recently(latest, on):
        return IndicatorReading(OutcomeStatus.not_measured, trend)
    return IndicatorReading(OutcomeStatus(trend.verdict.value), trend)


def indicator_status(
    indicator: Indicator, values: list[tuple[dt.date, float]], on: dt.date
) -> OutcomeStatus:
    """An indicator's outcome status on a date (see read_indicator)."""
    return read_indicator(indicator, values, on).status


JUDGED_STATES = (OutcomeStatus.worsening, OutcomeStatus.no_change, OutcomeStatus.improving)


def judge_outcome(statuses: Iterable[OutcomeStatus]) -> OutcomeStatus:
    """Several indicators' (or outcomes') states taken together, as the judgement of a
    partnership takes them: any getting worse is getting worse; otherwise those that could be
    judged decide (all improving is improving, else no change); with none judged, the worst of
    the rest; none at all means no outcome is defined."""
    found = list(statuses)
    judged = [s for s in found if s in JUDGED_STATES]
    if OutcomeStatus.worsening in judged:
        return OutcomeStatus.worsening
    if judged:
        improving = all(s == OutcomeStatus.improving for s in judged)
        return OutcomeStatus.improving if improving else OutcomeStatus.no_change
    return worst_outcome(found)


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
    counted = [(p, o) for p, o in pairs if p not in UNJUDGED]
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
