"""The compliance rules: each a small function over a snapshot of the registry, yielding hits.

A rule never queries the database; the snapshot holds everything, loaded in a fixed number of
queries, so a check costs the same number of statements at 10 bodies or 10,000.
"""

import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, TypedDict

from compliance.bodies.kinds import exists_in
from compliance.db import row_id
from compliance.models import (
    Deliverable,
    Duty,
    FundingCondition,
    Indicator,
    Outcome,
    Partnership,
)
from compliance.obligations.status import (
    DueBasis,
    OutcomeStatus,
    PeriodFacts,
    ProcessStatus,
    deliverable_basis,
    measured_recently,
    obligation_status,
    period_status,
    read_indicator,
)
from compliance.outcomes.judgement import Verdict, judge_outcomes
from compliance.outcomes.trend import RULE as TREND_RULE
from compliance.outcomes.trend import years_before
from compliance.partnerships.value import REVIEW_YEARS, decision_lapsed

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)


@dataclass(frozen=True, slots=True)
class ObligationItem:
    """An open obligation, as the rules read it (the stored row is models.Obligation): plain
    values rather than the ORM's row, which a national check would build 60,000 times and
    read millions of times through its instrumented attributes."""

    label: ClassVar[str] = "obligation"
    id: int
    body_id: int | None
    partnership_id: int | None
    deliverable_id: int | None
    condition_id: int | None
    opened_date: dt.date
    not_applicable_reason: str | None


# Periods and pieces of evidence are named tuples: a national check reads a hundred thousand
# periods and a quarter of a million pieces, and a tuple is built several times faster than a
# frozen dataclass.


class PeriodItem(NamedTuple):
    """A period of an open obligation, as the rules read it (the stored row is models.Period)."""

    id: int
    obligation_id: int
    start: dt.date
    end: dt.date
    due: dt.date

    @property
    def label(self) -> str:
        return "period"


class EvidenceItem(NamedTuple):
    id: int
    title: str
    review_by: dt.date | None
    effective: dt.date | None = None


@dataclass(frozen=True)
class Comment:
    evidence_id: int
    kind: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Member:
    partnership_id: int
    body_id: int
    kind: str
    nation: str = ""


@dataclass(frozen=True)
class BodyFacts:
    id: int
    name: str
    kind: str
    nation: str


@dataclass(frozen=True)
class Point:
    indicator_id: int
    measured_date: dt.date
    value: float


@dataclass(frozen=True)
class Continuation:
    """When a partnership began (or, with no start date, was first tracked) and when its
    partners last decided whether it should continue."""

    started: dt.date | None
    decided: dt.date | None


@dataclass(frozen=True)
class Reach:
    """Who reminders about a holder's obligations can go to (compliance/reminders/reach.py): a
    body, or a partnership with no lead body to write to. `unreached` are its open obligations
    with no active owner and no active officer whose scope covers them."""

    body_id: int | None
    partnership_id: int | None
    name: str
    email: bool
    unreached: list[int] = field(default_factory=list)


def continuation_of(partnership: Partnership) -> Continuation:
    """What the rule continuation_not_reviewed reads of a partnership."""
    tracked = partnership.created_at.date() if partnership.created_at else None
    return Continuation(partnership.start_date or tracked, partnership.continuation_decided_date)


@dataclass
class Snapshot:
    """The state of the registry as at a date, as the rules see it."""

    on: dt.date
    due_soon_days: int
    query_answer_days: int
    obligations: list[ObligationItem]
    periods: dict[int, list[PeriodItem]]
    evidence: dict[int, list[EvidenceItem]]
    deliverables: dict[int, Deliverable]
    duties: dict[int, Duty]
    conditions: dict[int, FundingCondition]
    body_names: dict[int, str]
    partnerships: dict[int, str]
    members: dict[int, list[Member]]
    partnership_duties: dict[int, list[int]]
    outcomes: list[Outcome]
    indicators: list[Indicator]
    points: dict[int, list[Point]]
    comments: dict[int, list[Comment]]
    evidence_titles: dict[int, str] = field(default_factory=dict)
    # The live bodies the check is about, with their kind and nation.
    bodies: dict[int, BodyFacts] = field(default_factory=dict)
    # Evidence id to the holder of an occurrence it serves (body id, partnership id).
    evidence_holders: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    stream_names: dict[int, str] = field(default_factory=dict)
    # The live partnerships' continuation decisions, by partnership id.
    continuation: dict[int, Continuation] = field(default_factory=dict)
    # The live bodies (and lead-less partnerships) holding obligations, with who their
    # reminders can reach.
    reach: list[Reach] = field(default_factory=list)
    outcome_by_id: dict[int, Outcome] = field(init=False)
    obligation_by_id: dict[int, ObligationItem] = field(init=False)
    # What the rules ask of the same obligation and period again and again, worked out once: a
    # snapshot is read, never changed, while the rules run.
    _bases: dict[int, DueBasis] = field(init=False, repr=False, compare=False)
    _statuses: dict[int, ProcessStatus] = field(init=False, repr=False, compare=False)
    _rolled: dict[int, ProcessStatus] = field(init=False, repr=False, compare=False)
    _by_deliverable: dict[int, DueBasis] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.outcome_by_id = {row_id(outcome): outcome for outcome in self.outcomes}
        self.obligation_by_id = {obligation.id: obligation for obligation in self.obligations}
        self._bases, self._statuses, self._rolled, self._by_deliverable = {}, {}, {}, {}

    def basis(self, obligation: ObligationItem) -> DueBasis:
        """Where the obligation's dates come from: the law, a funding condition, a convention."""
        found = self._bases.get(obligation.id)
        if found is None:
            found = self._bases[obligation.id] = self._basis(obligation)
        return found

    def _deliverable_basis(self, deliverable_id: int) -> DueBasis:
        found = self._by_deliverable.get(deliverable_id)
        if found is None:
            found = self._by_deliverable[deliverable_id] = deliverable_basis(
                self.deliverables[deliverable_id]
            )
        return found

    def _basis(self, obligation: ObligationItem) -> DueBasis:
        if obligation.deliverable_id is not None:
            return self._deliverable_basis(obligation.deliverable_id)
        condition = self.conditions[obligation.condition_id]  # type: ignore[index]  # one_source check: else a condition
        stream = self.stream_names.get(condition.stream_id, "its funding stream")
        return DueBasis(statutory=True, standing=False, source=f"a condition of {stream}")

    def status(self, obligation: ObligationItem, period: PeriodItem) -> ProcessStatus:
        """The period's status, by the one definition the pages and reports use."""
        found = self._statuses.get(period.id)
        if found is None:
            found = self._statuses[period.id] = period_status(
                due=period.due,
                review_by=[e.review_by for e in self.evidence.get(period.id, [])],
                on=self.on,
                due_soon_days=self.due_soon_days,
                statutory=self.basis(obligation).statutory,
                tracked_from=obligation.opened_date,
            )
        return found

    def obligation_status(self, obligation: ObligationItem) -> ProcessStatus:
        """The obligation's status, rolled up as the pages roll it up."""
        found = self._rolled.get(obligation.id)
        if found is None:
            facts = [
                PeriodFacts(p.start, p.due, self.status(obligation, p))
                for p in self.periods.get(obligation.id, [])
            ]
            found = self._rolled[obligation.id] = obligation_status(
                facts,
                on=self.on,
                standing=self.basis(obligation).standing,
                not_applicable=bool(obligation.not_applicable_reason),
            )
        return found

    def last_assurance(self, obligation: ObligationItem) -> dt.date | None:
        """The latest effective date of current evidence for any of the obligation's periods."""
        dates = [
            e.effective or p.end
            for p in self.periods.get(obligation.id, [])
            for e in self.evidence.get(p.id, [])
        ]
        return max(dates) if dates else None

    @property
    def memberships(self) -> dict[int, list[int]]:
        """Each body's live partnerships that discharge some duty: all of them, not only the
        partnerships a scoped check judges, or a check after one partnership's change would
        find its members' duties that other partnerships discharge undischarged."""
        if not hasattr(self, "_memberships"):
            found: dict[int, list[int]] = {}
            for partnership_id, members in self.members.items():
                if partnership_id in self.partnership_duties:
                    for member in members:
                        found.setdefault(member.body_id, []).append(partnership_id)
            self._memberships = found
        return self._memberships

    def outcomes_of(self, partnership_id: int) -> list[Outcome]:
        if not hasattr(self, "_by_partnership"):
            grouped: dict[int, list[Outcome]] = {}
            for outcome in self.outcomes:
                if outcome.partnership_id is not None:
                    grouped.setdefault(outcome.partnership_id, []).append(outcome)
            self._by_partnership = grouped
        return self._by_partnership.get(partnership_id, [])

    def indicators_of(self, outcome_id: int) -> list[Indicator]:
        if not hasattr(self, "_by_outcome"):
            grouped: dict[int, list[Indicator]] = {}
            for indicator in self.indicators:
                grouped.setdefault(indicator.outcome_id, []).append(indicator)
            self._by_outcome = grouped
        return self._by_outcome.get(outcome_id, [])

    def holder(self, obligation: ObligationItem) -> str:
        if obligation.body_id is not None:
            return self.body_names.get(obligation.body_id, f"body {obligation.body_id}")
        return self.partnerships.get(obligation.partnership_id, "a partnership")  # type: ignore[arg-type]  # get(None) finds nothing, as meant

    def item(self, obligation: ObligationItem) -> str:
        if obligation.deliverable_id is not None:
            deliverable = self.deliverables[obligation.deliverable_id]
            duty = self.duties[deliverable.duty_id]
            return f"{deliverable.title} ({duty.act} {duty.sections})"
        return self.conditions[obligation.condition_id].title  # type: ignore[index]  # one_source check: else a condition


@dataclass(frozen=True)
class Hit:
    """One rule firing about one subject, explaining itself: where its date comes from
    (`basis`), since when it has held (`since`) and what would clear it (`remedy`)."""

    rule: str
    severity: str
    subject: str
    message: str
    body_id: int | None = None
    partnership_id: int | None = None
    obligation_id: int | None = None
    occurrence_id: int | None = None
    evidence_id: int | None = None
    indicator_id: int | None = None
    basis: str | None = None
    since: dt.date | None = None
    remedy: str | None = None

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


class _Holder(TypedDict):
    body_id: int | None
    partnership_id: int | None
    obligation_id: int | None


def _on(obligation: ObligationItem) -> _Holder:
    return {
        "body_id": obligation.body_id,
        "partnership_id": obligation.partnership_id,
        "obligation_id": obligation.id,
    }


def _span(period: PeriodItem) -> str:
    return f"{period.start:%d %b %Y} to {period.end:%d %b %Y}"


def _record(snap: Snapshot, obligation: ObligationItem, period: PeriodItem | None = None) -> str:
    what = f"Record evidence of {snap.item(obligation)}"
    when = f" for {_span(period)}" if period else ""
    return (
        f"{what}{when} on its obligation page, or mark the obligation not applicable "
        "with the reason."
    )


# What each rule looks at ----------------------------------------------------------------------

PeriodOf = tuple[ObligationItem, PeriodItem]


def _periods(snap: Snapshot, *, conditions: bool | None) -> Iterator[PeriodOf]:
    for obligation in snap.obligations:
        if obligation.not_applicable_reason:
            continue
        if conditions is not None and (obligation.condition_id is not None) != conditions:
            continue
        for period in snap.periods.get(obligation.id, []):
            yield obligation, period


def deliverable_periods(snap: Snapshot) -> Iterator[PeriodOf]:
    return _periods(snap, conditions=False)


def condition_periods(snap: Snapshot) -> Iterator[PeriodOf]:
    return _periods(snap, conditions=True)


def all_periods(snap: Snapshot) -> Iterator[PeriodOf]:
    return _periods(snap, conditions=None)


def deliverable_obligations(snap: Snapshot) -> Iterator[ObligationItem]:
    for obligation in snap.obligations:
        if obligation.deliverable_id is not None and not obligation.not_applicable_reason:
            yield obligation


def partnership_duties(snap: Snapshot) -> Iterator[tuple[int, Duty]]:
    for partnership_id, duty_ids in snap.partnership_duties.items():
        if partnership_id not in snap.partnerships:
            continue
        for duty_id in duty_ids:
            if duty_id in snap.duties:
                yield partnership_id, snap.duties[duty_id]


def bodies_and_partnership_duties(snap: Snapshot) -> Iterator[tuple[BodyFacts, Duty]]:
    """Each live body with each live duty that binds it and is discharged through a partnership
    of which the law makes a body of its kind a member."""
    through_partnership = {
        d.duty_id
        for d in snap.deliverables.values()
        if d.held_by == "partnership" and d.retired_in_version is None
    }
    duties = [
        d
        for d in snap.duties.values()
        if d.id in through_partnership and d.retired_in_version is None
    ]
    for body in snap.bodies.values():
        for duty in duties:
            # Only a body the law makes a member: a power to pool budgets (s75) or a duty to
            # contribute to another body's plan asks for no partnership of its own.
            members = {kind for group in duty.required_members for kind in group}
            bound = body.kind in duty.holder_kinds and body.nation in duty.jurisdiction
            if bound and body.kind in members:
                yield body, duty


def partnerships(snap: Snapshot) -> Iterator[int]:
    return iter(snap.partnerships)


def indicators(snap: Snapshot) -> Iterator[Indicator]:
    return iter(snap.indicators)


def reviewed_evidence(snap: Snapshot) -> Iterator[int]:
    return iter(snap.comments)


def reminder_holders(snap: Snapshot) -> Iterator[Reach]:
    return iter(snap.reach)


# The rules: each takes the snapshot and one subject ------------------------------------------


def deliverable_overdue(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A date the law sets has passed with no evidence (a convention's date never fires this)."""
    obligation, period = subject
    if snap.status(obligation, period) == ProcessStatus.overdue:
        basis = snap.basis(obligation)
        yield Hit(
            "deliverable_overdue",
            HIGH,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: {snap.item(obligation)} for {_span(period)} "
            f"was due on {period.due:%d %B %Y}, a date {basis.words}, and has no evidence",
            occurrence_id=period.id,
            basis=basis.words,
            since=period.due,
            remedy=_record(snap, obligation, period),
            **_on(obligation),
        )


def assurance_gap(snap: Snapshot, obligation: ObligationItem) -> Iterator[Hit]:
    """A duty whose dates are a convention of the catalogue has no assurance for its last year.

    No Act sets the date, so this is no breach: it says the registry holds no assurance that the
    duty is being met. A continuing or per-case duty is judged by its last assurance only.
    """
    basis = snap.basis(obligation)
    if basis.statutory or snap.obligation_status(obligation) != ProcessStatus.assurance_gap:
        return
    missed = [
        p
        for p in snap.periods.get(obligation.id, [])
        if snap.status(obligation, p) == ProcessStatus.assurance_gap
    ]
    last = snap.last_assurance(obligation)
    since = last or obligation.opened_date
    recorded = f"since {last:%d %B %Y}" if last else f"since tracking began on {since:%d %B %Y}"
    yield Hit(
        "assurance_gap",
        LOW,
        f"obligation:{obligation.id}:assurance",
        f"{snap.holder(obligation)}: no assurance of {snap.item(obligation)} recorded {recorded}; "
        f"the catalogue asks for it by {missed[-1].due:%d %B %Y} by convention (no statutory date)",
        basis=basis.words,
        since=since,
        remedy=_record(snap, obligation, missed[-1]),
        occurrence_id=missed[-1].id,
        **_on(obligation),
    )


def deliverable_due_soon(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A deliverable falls due within the reminder window and has no evidence yet."""
    obligation, period = subject
    if snap.status(obligation, period) == ProcessStatus.due_soon:
        basis = snap.basis(obligation)
        yield Hit(
            "deliverable_due_soon",
            LOW,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: {snap.item(obligation)} is due on "
            f"{period.due:%d %B %Y} ({basis.words})",
            occurrence_id=period.id,
            basis=basis.words,
            since=snap.on,
            remedy=_record(snap, obligation, period),
            **_on(obligation),
        )


def evidence_past_review(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """Every piece of evidence for a period is past its review-by date."""
    obligation, period = subject
    if snap.status(obligation, period) == ProcessStatus.evidence_expired:
        latest = max(snap.evidence[period.id], key=lambda e: e.review_by)  # type: ignore[arg-type, return-value]  # expired: each has a review-by date (period_status)

        yield Hit(
            "evidence_past_review",
            MEDIUM,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: evidence for {snap.item(obligation)} "
            f"('{latest.title}') was due for review on {latest.review_by:%d %B %Y}",
            occurrence_id=period.id,
            evidence_id=latest.id,
            basis="the review-by date recorded with the evidence",
            since=latest.review_by,
            remedy="Record a corrected version of the evidence with a new review-by date, "
            "or further evidence for the period.",
            **_on(obligation),
        )


def _home_nations(members: list[Member]) -> set[str]:
    """The nation most of a partnership's members are in (all of them, on a tie)."""
    counts = Counter(m.nation for m in members if m.nation)
    if not counts:
        return set()
    most = max(counts.values())
    return {nation for nation, count in counts.items() if count == most}


def _members_wanted(group: list[str], nations: set[str]) -> list[str]:
    """The kinds of a required-member group that exist in the partnership's nations."""
    if not nations:
        return list(group)
    return [kind for kind in group if any(exists_in(kind, nation) for nation in nations)]


def required_partner_missing(snap: Snapshot, subject: tuple[int, Duty]) -> Iterator[Hit]:
    """A partnership discharges a duty without a member the law requires in its nation.

    A requirement is read in the nation of the members: where England names the integrated
    care board, Wales names the local health board; a kind that does not exist in the
    partnership's nation is never asked for.
    """
    partnership_id, duty = subject
    members = snap.members.get(partnership_id, [])
    kinds = {m.kind for m in members}
    nations = _home_nations(members)
    for group in duty.required_members:
        wanted = _members_wanted(group, nations)
        if wanted and not kinds & set(wanted):
            words = " or ".join(k.replace("_", " ") for k in wanted)
            yield Hit(
                "required_partner_missing",
                HIGH,
                f"partnership:{partnership_id}:duty:{duty.id}:{'|'.join(group)}",
                f"{snap.partnerships[partnership_id]} discharges {duty.act} "
                f"{duty.sections} but has no {words} among its members",
                partnership_id=partnership_id,
                basis=f"set by {duty.act} {duty.sections}",
                remedy=f"Add the {words} to the partnership's members, with the date it joined.",
            )


def duty_not_discharged(snap: Snapshot, subject: tuple[BodyFacts, Duty]) -> Iterator[Hit]:
    """A duty that is met through a partnership binds a body, yet no partnership in the
    registry discharges it for that body.

    Low: the registry may simply not record the partnership yet. It says what to record, and
    is never read as a breach until someone confirms that no such partnership exists.
    """
    body, duty = subject
    for member in snap.memberships.get(body.id, []):
        if duty.id in snap.partnership_duties.get(member, []):
            return
    yield Hit(
        "duty_not_discharged",
        LOW,
        f"body:{body.id}:duty:{duty.id}:discharged",
        f"{body.name}: {duty.act} {duty.sections} ({duty.title}) binds it, but the registry "
        "records no partnership that discharges that duty with it as a member",
        body_id=body.id,
        basis=f"set by {duty.act} {duty.sections}",
        remedy="Record the partnership that discharges this duty for the body (or set one up): "
        "add it on the partnerships page with its members, and link it to this duty.",
    )


def funding_condition_unmet(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A funding condition has no evidence as its deadline nears, or after it has passed."""
    obligation, period = subject
    status = snap.status(obligation, period)
    if status in (ProcessStatus.overdue, ProcessStatus.due_soon):
        late = status == ProcessStatus.overdue
        basis = snap.basis(obligation)
        yield Hit(
            "funding_condition_unmet",
            HIGH if late else MEDIUM,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: funding condition '{snap.item(obligation)}' "
            f"{'was' if late else 'is'} due on {period.due:%d %B %Y} and has no evidence",
            occurrence_id=period.id,
            basis=basis.words,
            since=period.due if late else snap.on,
            remedy=_record(snap, obligation, period),
            **_on(obligation),
        )


def no_intended_outcome(snap: Snapshot, partnership_id: int) -> Iterator[Hit]:
    """A partnership records no outcome for the people who use services."""
    if not snap.outcomes_of(partnership_id):
        yield Hit(
            "no_intended_outcome",
            MEDIUM,
            f"partnership:{partnership_id}",
            f"{snap.partnerships[partnership_id]} records no intended outcome for the "
            "people who use services: is the partnership an end in itself?",
            partnership_id=partnership_id,
            basis="a principle of this tracker: a partnership is judged by what it achieves "
            "for people, not by its paperwork",
            remedy="Record on the partnership page what it is meant to achieve for people, "
            "with an indicator to measure it by.",
        )


def _owner(snap: Snapshot, indicator: Indicator) -> dict[str, int | None]:
    outcome = snap.outcome_by_id.get(indicator.outcome_id)
    obligation = snap.obligation_by_id.get(outcome.obligation_id) if outcome else None  # type: ignore[arg-type]  # get(None) finds nothing, as meant
    return {
        "partnership_id": (
            outcome.partnership_id
            if outcome and outcome.partnership_id
            else (obligation.partnership_id if obligation else None)
        ),
        "body_id": obligation.body_id if obligation else None,
        "obligation_id": outcome.obligation_id if outcome else None,
        "indicator_id": indicator.id,
    }


def indicator_not_measured(snap: Snapshot, indicator: Indicator) -> Iterator[Hit]:
    """An indicator has no measurement in the last 12 months."""
    points = snap.points.get(row_id(indicator), [])
    latest = points[-1].measured_date if points else None
    if not measured_recently(latest, snap.on):
        since = f"since {latest:%d %B %Y}" if latest else "at all"
        yield Hit(
            "indicator_not_measured",
            MEDIUM,
            f"indicator:{indicator.id}",
            f"Indicator '{indicator.name}' has not been measured {since}",
            basis="a convention of this tracker: an indicator is measured at least every 12 months",
            since=latest,
            remedy="Record a measurement of the indicator, with its date and source.",
            **_owner(snap, indicator),
        )


def _values(snap: Snapshot, indicator: Indicator) -> list[tuple[dt.date, float]]:
    return [(p.measured_date, p.value) for p in snap.points.get(row_id(indicator), [])]


def outcome_getting_worse(snap: Snapshot, indicator: Indicator) -> Iterator[Hit]:
    """An outcome is getting worse for people: the trend of one of its indicators, read against
    the indicator's polarity, is worse by more than its noise band.

    High: at least as severe as a statutory date missed, since the point of a partnership is
    what changes for the people who use services.
    """
    reading = read_indicator(indicator, _values(snap, indicator), snap.on)
    if reading.status != OutcomeStatus.worsening:
        return
    outcome = snap.outcome_by_id.get(indicator.outcome_id)
    title = outcome.title if outcome else f"outcome {indicator.outcome_id}"
    owner = _owner(snap, indicator)
    holder = snap.partnerships.get(owner["partnership_id"]) or (  # type: ignore[arg-type]  # get(None) finds nothing, as meant
        snap.body_names.get(owner["body_id"]) if owner["body_id"] else None
    )
    yield Hit(
        "outcome_getting_worse",
        HIGH,
        f"indicator:{indicator.id}",
        f"{holder + ': ' if holder else ''}the outcome '{title}' is getting worse for people: "
        f"indicator '{indicator.name}' ({reading.trend.method})",
        basis="the indicator's own polarity, baseline and target, read by the trend method: "
        + TREND_RULE,
        since=reading.trend.last_date,
        remedy="Say on the partnership page what the partners will change; the finding clears "
        "when later measurements no longer show the indicator getting worse.",
        **owner,
    )


def outcomes_cannot_be_judged(snap: Snapshot, partnership_id: int) -> Iterator[Hit]:
    """A partnership records intended outcomes, but none can be judged: no indicator of them has
    3 measurements in 3 years with one in the last 12 months."""
    outcomes = snap.outcomes_of(partnership_id)
    if not outcomes:
        return  # no_intended_outcome says so
    rows = [(o, [(i, _values(snap, i)) for i in snap.indicators_of(row_id(o))]) for o in outcomes]
    verdict, reasons = judge_outcomes(rows, snap.on)
    if verdict != Verdict.cannot_judge:
        return
    why = "; ".join(
        f"'{r.outcome}'" + (f", indicator '{r.indicator}'" if r.indicator else "") + f": {r.method}"
        for r in reasons
    )
    yield Hit(
        "outcomes_cannot_be_judged",
        MEDIUM,
        f"partnership:{partnership_id}:judgement",
        f"{snap.partnerships[partnership_id]}: cannot judge whether it improves things for "
        f"people, no outcome has enough recent measurements ({why})",
        partnership_id=partnership_id,
        basis="a principle of this tracker: a partnership is judged by what it achieves for "
        "people; " + TREND_RULE,
        remedy="Record measurements of an indicator of each outcome: at least 3 in 3 years, "
        "one of them in the last 12 months.",
    )


def continuation_not_reviewed(snap: Snapshot, partnership_id: int) -> Iterator[Hit]:
    """A live partnership has not recorded a decision on whether it should continue in the last
    three years (a convention of this tracker, not a statutory duty).

    Low: no Act asks it, and it says nothing of what changes for people; it asks the partners
    whether the partnership is still the way to get what it is for, since a partnership is a
    means, not an end. It never outranks an outcome getting worse.
    """
    facts = snap.continuation.get(partnership_id)
    if facts is None or not decision_lapsed(facts.decided, facts.started, snap.on):
        return
    if facts.decided is not None:
        last, since = f"last decided on {facts.decided:%d %B %Y}", facts.decided
    else:
        assert facts.started is not None, "with no decision, only a start date can lapse"
        last, since = f"none recorded since {facts.started:%d %B %Y}", facts.started

    yield Hit(
        "continuation_not_reviewed",
        LOW,
        f"partnership:{partnership_id}:continuation",
        f"{snap.partnerships[partnership_id]} has not recorded a decision on whether it should "
        f"continue in the last three years ({last}; a convention of this tracker, not a "
        "statutory duty)",
        partnership_id=partnership_id,
        basis="a convention of this tracker, not a statutory duty: partners decide at least "
        "every three years whether the partnership should continue",
        since=years_before(since, -REVIEW_YEARS),
        remedy="Record on the partnership's 'Is it worth it?' page when its partners last "
        "decided whether it should continue, and when they will next decide.",
    )


def query_unanswered(snap: Snapshot, evidence_id: int) -> Iterator[Hit]:
    """An inspector's query has waited too long for an answer."""
    comments = snap.comments[evidence_id]
    latest = comments[-1] if comments else None
    if latest is not None and latest.kind == "queried":
        waited = (snap.on - latest.created_at.date()).days
        if waited > snap.query_answer_days:
            title = snap.evidence_titles.get(evidence_id, f"evidence {evidence_id}")
            body_id, partnership_id = snap.evidence_holders.get(evidence_id, (None, None))
            yield Hit(
                "query_unanswered",
                MEDIUM,
                f"evidence:{evidence_id}",
                f"The inspector's query on '{title}' has waited {waited} days for an answer",
                evidence_id=evidence_id,
                body_id=body_id,
                partnership_id=partnership_id,
                basis=f"a convention of this tracker: a query is answered within "
                f"{snap.query_answer_days} days",
                since=latest.created_at.date(),
                remedy="Answer the query on the evidence, or record corrected evidence.",
            )


def no_reminder_contact(snap: Snapshot, reach: Reach) -> Iterator[Hit]:
    """A body's reminders have nobody to go to: it has no contact email, and some of its
    obligations have no owner and no officer whose scope covers them.

    Every reminder, overdue notice and escalation about them is dropped as having "nobody to
    send to", so a statutory date can pass with no one told. No Act asks for a contact; it is a
    convention of this tracker that each obligation has someone its reminders reach. Nothing
    records when the body lost its last contact, so the finding gives no date it holds since.
    """
    if reach.email or not reach.unreached:
        return
    if reach.body_id is not None:
        subject, why = f"body:{reach.body_id}:reminders", "it has no contact email"
        fix = "Record the body's contact email on its edit page"
    else:
        subject, why = f"partnership:{reach.partnership_id}:reminders", "it has no lead body"
        fix = "Record the partnership's lead body, with a contact email, on its edit page"
    yield Hit(
        "no_reminder_contact",
        MEDIUM,
        subject,
        f"{reach.name}: reminders about {len(reach.unreached)} of its obligations have nobody "
        f"to go to: {why}, and no officer's scope covers it",
        body_id=reach.body_id,
        partnership_id=reach.partnership_id,
        basis="a convention of this tracker, not a statutory duty: every obligation has "
        "someone its reminders reach (its owner, its body's contact email, or an officer "
        "whose scope covers it)",
        remedy=f"{fix}, or give an officer a scope that covers it (Admin, Users).",
    )


@functools.cache
def rule_words(rule: str) -> str:
    """A rule in plain words: the first sentence of its description (worked out once a rule:
    a national report asks for it for each of thousands of findings)."""
    found = next((r for r, _ in RULES if r.__name__ == rule), None)
    if found is None or not found.__doc__:
        return rule.replace("_", " ")
    return " ".join(found.__doc__.split("\n\n")[0].split())


# Any: each rule takes its own kind of subject (a period, a partnership id, an indicator...), and
# the pair below is what ties a rule to the subjects it is given.
Rule = Callable[[Snapshot, Any], Iterator[Hit]]
Subjects = Callable[[Snapshot], Iterator[Any]]

# Each rule with the subjects it is asked about, one at a time.
RULES: list[tuple[Rule, Subjects]] = [
    (deliverable_overdue, deliverable_periods),
    (assurance_gap, deliverable_obligations),
    (deliverable_due_soon, deliverable_periods),
    (evidence_past_review, all_periods),
    (required_partner_missing, partnership_duties),
    (duty_not_discharged, bodies_and_partnership_duties),
    (funding_condition_unmet, condition_periods),
    (no_intended_outcome, partnerships),
    (indicator_not_measured, indicators),
    (outcome_getting_worse, indicators),
    (outcomes_cannot_be_judged, partnerships),
    (continuation_not_reviewed, partnerships),
    (query_unanswered, reviewed_evidence),
    (no_reminder_contact, reminder_holders),
]
