"""Reading obligations: each with its source, its periods, and both status dimensions."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from compliance.bodies.service import with_descendants
from compliance.db import any_of, key_column, plain_rows, row_id, stored
from compliance.models import (
    Body,
    Deliverable,
    Duty,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    FundingCondition,
    FundingStream,
    Obligation,
    Partnership,
    User,
)
from compliance.obligations.rows import ObligationFacts
from compliance.obligations.served import ServedBy, outcome_states
from compliance.obligations.service import rule_key
from compliance.obligations.status import (
    CONVENTION,
    DueBasis,
    OutcomeStatus,
    PeriodState,
    ProcessStatus,
    Rollup,
    basis_of,
    funding_basis,
    obligation_states,
    rollup,
)


@dataclass(frozen=True)
class ObligationView:
    """An obligation with what it comes from and its process status on a date."""

    obligation: ObligationFacts
    source_title: str
    source_slug: str
    source_url: str
    item_title: str
    item_slug: str
    cadence: str
    verified: bool
    status: ProcessStatus
    periods: list[PeriodState]
    outcome: OutcomeStatus = OutcomeStatus.no_outcome_defined
    basis: DueBasis = CONVENTION
    # The outcomes the outcome status was read from; none means no outcome is linked to it.
    served_by: tuple[ServedBy, ...] = ()

    @property
    def last_assurance(self) -> dt.date | None:
        """The latest period with current evidence: what a standing duty is judged by."""
        done = [p.occurrence.period_end_date for p in self.periods if p.evidence_ids]
        return max(done) if done else None

    @property
    def fully_met(self) -> bool:
        """Met only when the process is met and the outcomes for people are improving."""
        return self.status == ProcessStatus.met and self.outcome == OutcomeStatus.improving

    @property
    def next_due(self) -> dt.date | None:
        """The earliest date still to evidence; for a standing duty, its next assurance."""
        settled = (ProcessStatus.met, ProcessStatus.before_tracking, ProcessStatus.not_applicable)
        waiting = [p for p in self.periods if p.status not in settled]
        if self.basis.standing:
            ahead = (ProcessStatus.due_soon, ProcessStatus.not_yet_due)
            waiting = [p for p in waiting if p.status in ahead] or waiting[-1:]
        return min((p.occurrence.due_date for p in waiting), default=None)


def view_obligations(
    *,
    session: Session,
    on: dt.date,
    due_soon_days: int,
    body_id: int | None = None,
    partnership_id: int | None = None,
    body_ids: list[int] | None = None,
    duty_id: int | None = None,
    include_closed: bool = False,
) -> list[ObligationView]:
    """Obligations with their process and outcome status, in a fixed number of queries."""
    query = select(Obligation)
    if body_id is not None:
        query = query.where(Obligation.body_id == body_id)
    if body_ids is not None:
        query = query.where(col(Obligation.body_id).in_(body_ids))
    if partnership_id is not None:
        query = query.where(Obligation.partnership_id == partnership_id)
    if duty_id is not None:
        query = query.join(Deliverable, col(Deliverable.id) == Obligation.deliverable_id).where(
            Deliverable.duty_id == duty_id
        )
    if not include_closed:
        query = query.where(col(Obligation.closed_date).is_(None))
    obligations = list(session.exec(query.order_by(col(Obligation.id))))
    views = view_obligations_for(
        session=session, obligations=obligations, on=on, due_soon_days=due_soon_days
    )
    return sorted(views, key=lambda v: (v.source_title, v.item_title))


# A view's source and item: title, slug and URL of the duty or stream, title and slug of the
# deliverable or condition, its cadence, and whether both are verified.
_Source = tuple[str, str, str, str, str, str, bool]


class _Catalogued(NamedTuple):
    """What the catalogue says of an obligation's deliverable or condition."""

    source: _Source
    basis: DueBasis
    duty_id: int | None  # a deliverable's duty; None for a funding condition


def _catalogue(
    session: Session, obligations: Sequence[ObligationFacts]
) -> dict[tuple[str, int], _Catalogued]:
    """The sources, due bases and duties of these obligations' deliverables and conditions, in
    two queries of plain columns (a listing asks again at every page)."""
    deliverable_ids = {o.deliverable_id for o in obligations if o.deliverable_id}
    condition_ids = {o.condition_id for o in obligations if o.condition_id}
    found: dict[tuple[str, int], _Catalogued] = {}
    if deliverable_ids:
        query = (
            core_select(
                key_column(Deliverable),
                col(Deliverable.title),
                col(Deliverable.slug),
                col(Deliverable.cadence),
                col(Deliverable.verified),
                col(Deliverable.due_set_by),
                col(Deliverable.duty_id),
                col(Duty.title),
                col(Duty.act),
                col(Duty.sections),
                col(Duty.slug),
                col(Duty.url),
                col(Duty.verified),
            )
            .join(Duty, col(Duty.id) == Deliverable.duty_id)
            .where(any_of(col(Deliverable.id), deliverable_ids))
        )
        for row in plain_rows(session, query):
            key, title, slug, cadence, verified, due_set_by, duty_id, *duty = row
            duty_title, act, sections, duty_slug, url, checked = duty
            source = (
                f"{duty_title} ({act} {sections})",
                duty_slug,
                url,
                title,
                slug,
                cadence,
                checked and verified,
            )
            found[("deliverable", key)] = _Catalogued(
                source, basis_of(cadence, due_set_by), duty_id
            )
    if condition_ids:
        streams = (
            core_select(
                key_column(FundingCondition),
                col(FundingCondition.title),
                col(FundingCondition.slug),
                col(FundingCondition.cadence),
                col(FundingCondition.verified),
                col(FundingStream.name),
                col(FundingStream.slug),
                col(FundingStream.url),
                col(FundingStream.verified),
            )
            .join(FundingStream, col(FundingStream.id) == FundingCondition.stream_id)
            .where(any_of(col(FundingCondition.id), condition_ids))
        )
        for key, title, slug, cadence, verified, name, stream_slug, url, checked in plain_rows(
            session, streams
        ):
            source = (name, stream_slug, url, title, slug, cadence, checked and verified)
            found[("condition", key)] = _Catalogued(source, funding_basis(name), None)
    return found


def area_body_ids(*, session: Session, body_id: int) -> list[int]:
    """A body and every body beneath it (districts under a county, and so on)."""
    return sorted(with_descendants(session=session, roots={body_id}))


def status_rollup(views: list[ObligationView]) -> Rollup:
    """Roll up obligations into both dimensions, the worst state winning in each."""
    return rollup([(v.status, v.outcome) for v in views])


@dataclass(frozen=True)
class EvidenceEntry:
    """A piece of evidence as a period shows it: with its earlier versions and review thread."""

    evidence: Evidence
    versions: list[Evidence]
    comments: list[EvidenceComment]
    recorded_by: str


@dataclass(frozen=True)
class ObligationDetail:
    view: ObligationView
    holder_name: str
    holder_link: str
    due_note: str | None
    evidence_hint: list[str]
    entries: dict[int, list[EvidenceEntry]]


def obligation_detail(
    *, session: Session, obligation_id: int, on: dt.date, due_soon_days: int
) -> ObligationDetail | None:
    """Everything the obligation page shows."""
    obligation = session.get(Obligation, obligation_id)
    if obligation is None:
        return None
    view = view_obligations_for(
        session=session, obligations=[obligation], on=on, due_soon_days=due_soon_days
    )[0]
    if obligation.body_id is not None:
        body = stored(session, Body, obligation.body_id)
        holder_name, holder_link = body.name, f"/bodies/{body.code}"
    else:
        partnership = stored(session, Partnership, obligation.partnership_id)
        holder_name, holder_link = partnership.name, f"/partnerships/{partnership.slug}"
    source = (
        stored(session, Deliverable, obligation.deliverable_id)
        if obligation.deliverable_id
        else stored(session, FundingCondition, obligation.condition_id)
    )

    return ObligationDetail(
        view=view,
        holder_name=holder_name,
        holder_link=holder_link,
        due_note=getattr(source, "due_note", None),
        evidence_hint=list(source.evidence or []),
        entries=_entries(session, [row_id(p.occurrence) for p in view.periods]),
    )


def _entries(session: Session, occurrence_ids: list[int]) -> dict[int, list[EvidenceEntry]]:
    if not occurrence_ids:
        return {}
    rows = session.exec(
        select(EvidenceLink.occurrence_id, Evidence)
        .join(Evidence, col(Evidence.id) == EvidenceLink.evidence_id)
        .where(col(EvidenceLink.occurrence_id).in_(occurrence_ids))
        .order_by(col(Evidence.recorded_at))
    ).all()
    ids = {e.id for _, e in rows}
    comments: dict[int, list[EvidenceComment]] = {}
    for c in session.exec(
        select(EvidenceComment)
        .where(col(EvidenceComment.evidence_id).in_(ids))
        .order_by(col(EvidenceComment.id))
    ):
        comments.setdefault(c.evidence_id, []).append(c)
    names = dict(session.exec(select(key_column(User), User.name)).all())
    superseded = {e.supersedes_id for _, e in rows if e.supersedes_id}
    by_id = {e.id: e for _, e in rows}
    found: dict[int, list[EvidenceEntry]] = {}
    for occurrence_id, evidence in rows:
        if evidence.id in superseded:
            continue  # shown as an earlier version of the one that corrects it
        versions, current = [], evidence
        while current.supersedes_id and current.supersedes_id in by_id:
            current = by_id[current.supersedes_id]
            versions.append(current)
        thread = [c for e in [evidence, *versions] for c in comments.get(row_id(e), [])]
        entry = EvidenceEntry(
            evidence,
            versions,
            thread,
            names.get(evidence.recorded_by_id, "unknown"),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
        )
        found.setdefault(occurrence_id, []).append(entry)
    return found


def view_obligations_for(
    *, session: Session, obligations: Sequence[ObligationFacts], on: dt.date, due_soon_days: int
) -> list[ObligationView]:
    """Views of given obligations (the same as view_obligations, for rows already loaded)."""
    catalogue = _catalogue(session, obligations)
    # An obligation whose deliverable or condition is not in the catalogue is judged by our
    # convention, as due_bases judges it.
    bases = {
        row_id(o): (found.basis if (found := catalogue.get(rule_key(o))) else CONVENTION)
        for o in obligations
    }
    states = obligation_states(
        session=session,
        obligations=obligations,
        on=on,
        due_soon_days=due_soon_days,
        bases=bases,
    )
    duty_of = {key: c.duty_id for (kind, key), c in catalogue.items() if c.duty_id is not None}
    outcomes = outcome_states(session=session, obligations=obligations, on=on, duty_of=duty_of)
    views = []
    for o in obligations:
        key = row_id(o)
        status, periods = states[key]
        outcome = outcomes[key]
        views.append(
            ObligationView(
                o,
                *catalogue[rule_key(o)].source,
                status=status,
                periods=periods,
                outcome=outcome.status,
                served_by=outcome.served_by,
                basis=bases[key],
            )
        )
    return views


def what_for(*, session: Session, obligation_ids: set[int]) -> dict[int, tuple[str, str]]:
    """What each obligation is for: its deliverable and duty, or its funding condition and
    stream."""
    duties = (
        select(key_column(Obligation), col(Deliverable.title), col(Duty.title))
        .join(Deliverable, col(Deliverable.id) == Obligation.deliverable_id)
        .join(Duty, col(Duty.id) == Deliverable.duty_id)
    )
    conditions = (
        select(key_column(Obligation), col(FundingCondition.title), col(FundingStream.name))
        .join(FundingCondition, col(FundingCondition.id) == Obligation.condition_id)
        .join(FundingStream, col(FundingStream.id) == FundingCondition.stream_id)
    )
    found: dict[int, tuple[str, str]] = {}
    for query in (duties, conditions):
        for obligation_id, item, source in session.exec(
            query.where(col(Obligation.id).in_(obligation_ids))
        ):
            found[obligation_id] = (item, source)
    return found


def obligations_by_id(*, session: Session, obligation_ids: set[int]) -> dict[int, Obligation]:
    """These obligations, by id."""
    query = select(Obligation).where(col(Obligation.id).in_(obligation_ids))
    return {row_id(o): o for o in session.exec(query)}
