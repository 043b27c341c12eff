"""The compliance rules: each a small function over a snapshot of the registry, yielding hits.

A rule never queries the database; the snapshot holds everything, loaded in a fixed number of
queries, so a check costs the same number of statements at 10 bodies or 10,000.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from compliance.models import Deliverable, Duty, FundingCondition, Indicator, Obligation, Outcome
from compliance.outcomes.service import trend

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)
NOT_MEASURED_DAYS = 365


@dataclass(frozen=True)
class Period:
    id: int
    obligation_id: int
    start: dt.date
    end: dt.date
    due: dt.date
    declared: bool


@dataclass(frozen=True)
class EvidenceItem:
    id: int
    title: str
    review_by: dt.date | None


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


@dataclass(frozen=True)
class Point:
    indicator_id: int
    measured_date: dt.date
    value: float


@dataclass
class Snapshot:
    """The state of the registry as at a date, as the rules see it."""

    on: dt.date
    due_soon_days: int
    query_answer_days: int
    obligations: list[Obligation]
    periods: dict[int, list[Period]]
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
    outcome_by_id: dict[int, Outcome] = field(init=False)

    def __post_init__(self) -> None:
        self.outcome_by_id = {outcome.id: outcome for outcome in self.outcomes}

    def outcomes_of(self, partnership_id: int) -> list[Outcome]:
        if not hasattr(self, "_by_partnership"):
            grouped: dict[int, list[Outcome]] = {}
            for outcome in self.outcomes:
                if outcome.partnership_id is not None:
                    grouped.setdefault(outcome.partnership_id, []).append(outcome)
            self._by_partnership = grouped
        return self._by_partnership.get(partnership_id, [])

    def holder(self, obligation: Obligation) -> str:
        if obligation.body_id is not None:
            return self.body_names.get(obligation.body_id, f"body {obligation.body_id}")
        return self.partnerships.get(obligation.partnership_id, "a partnership")

    def item(self, obligation: Obligation) -> str:
        if obligation.deliverable_id is not None:
            deliverable = self.deliverables[obligation.deliverable_id]
            duty = self.duties[deliverable.duty_id]
            return f"{deliverable.title} ({duty.act} {duty.sections})"
        return self.conditions[obligation.condition_id].title


@dataclass(frozen=True)
class Hit:
    """One rule firing about one subject."""

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

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


def _on(obligation: Obligation) -> dict[str, int | None]:
    return {
        "body_id": obligation.body_id,
        "partnership_id": obligation.partnership_id,
        "obligation_id": obligation.id,
    }


def _span(period: Period) -> str:
    return f"{period.start:%d %b %Y} to {period.end:%d %b %Y}"


# What each rule looks at ----------------------------------------------------------------------

PeriodOf = tuple[Obligation, Period]


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


def partnership_duties(snap: Snapshot) -> Iterator[tuple[int, Duty]]:
    for partnership_id, duty_ids in snap.partnership_duties.items():
        for duty_id in duty_ids:
            if duty_id in snap.duties:
                yield partnership_id, snap.duties[duty_id]


def partnerships(snap: Snapshot) -> Iterator[int]:
    return iter(snap.partnerships)


def indicators(snap: Snapshot) -> Iterator[Indicator]:
    return iter(snap.indicators)


def reviewed_evidence(snap: Snapshot) -> Iterator[int]:
    return iter(snap.comments)


# The rules: each takes the snapshot and one subject ------------------------------------------


def deliverable_overdue(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A deliverable's period is past its due date with no evidence."""
    obligation, period = subject
    if period.due < snap.on and not snap.evidence.get(period.id):
        yield Hit(
            "deliverable_overdue",
            HIGH,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: {snap.item(obligation)} for {_span(period)} "
            f"was due on {period.due:%d %B %Y} and has no evidence",
            occurrence_id=period.id,
            **_on(obligation),
        )


def deliverable_due_soon(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A deliverable falls due within the reminder window and has no evidence yet."""
    obligation, period = subject
    days = (period.due - snap.on).days
    if 0 <= days <= snap.due_soon_days and not snap.evidence.get(period.id):
        yield Hit(
            "deliverable_due_soon",
            LOW,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: {snap.item(obligation)} is due on {period.due:%d %B %Y}",
            occurrence_id=period.id,
            **_on(obligation),
        )


def evidence_past_review(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """Every piece of evidence for a period is past its review-by date."""
    obligation, period = subject
    found = snap.evidence.get(period.id, [])
    if found and all(e.review_by is not None and e.review_by < snap.on for e in found):
        latest = max(found, key=lambda e: e.review_by)
        yield Hit(
            "evidence_past_review",
            MEDIUM,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: evidence for {snap.item(obligation)} "
            f"('{latest.title}') was due for review on {latest.review_by:%d %B %Y}",
            occurrence_id=period.id,
            evidence_id=latest.id,
            **_on(obligation),
        )


def required_partner_missing(snap: Snapshot, subject: tuple[int, Duty]) -> Iterator[Hit]:
    """A partnership discharges a duty without a member the law requires."""
    partnership_id, duty = subject
    kinds = {m.kind for m in snap.members.get(partnership_id, [])}
    for group in duty.required_members:
        if not kinds & set(group):
            wanted = " or ".join(k.replace("_", " ") for k in group)
            yield Hit(
                "required_partner_missing",
                HIGH,
                f"partnership:{partnership_id}:duty:{duty.id}:{'|'.join(group)}",
                f"{snap.partnerships[partnership_id]} discharges {duty.act} "
                f"{duty.sections} but has no {wanted} among its members",
                partnership_id=partnership_id,
            )


def funding_condition_unmet(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A funding condition has no evidence as its deadline nears, or after it has passed."""
    obligation, period = subject
    days = (period.due - snap.on).days
    if days <= snap.due_soon_days and not snap.evidence.get(period.id):
        when = "was due" if days < 0 else "is due"
        yield Hit(
            "funding_condition_unmet",
            HIGH if days < 0 else MEDIUM,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: funding condition '{snap.item(obligation)}' "
            f"{when} on {period.due:%d %B %Y} and has no evidence",
            occurrence_id=period.id,
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
        )


def _owner(snap: Snapshot, indicator: Indicator) -> dict[str, int | None]:
    outcome = snap.outcome_by_id.get(indicator.outcome_id)
    return {
        "partnership_id": outcome.partnership_id if outcome else None,
        "obligation_id": outcome.obligation_id if outcome else None,
        "indicator_id": indicator.id,
    }


def indicator_not_measured(snap: Snapshot, indicator: Indicator) -> Iterator[Hit]:
    """An indicator has no measurement in the last 12 months."""
    points = snap.points.get(indicator.id, [])
    latest = points[-1].measured_date if points else None
    if latest is None or (snap.on - latest).days > NOT_MEASURED_DAYS:
        since = f"since {latest:%d %B %Y}" if latest else "at all"
        yield Hit(
            "indicator_not_measured",
            MEDIUM,
            f"indicator:{indicator.id}",
            f"Indicator '{indicator.name}' has not been measured {since}",
            **_owner(snap, indicator),
        )


def indicator_moving_away(snap: Snapshot, indicator: Indicator) -> Iterator[Hit]:
    """An indicator's latest measurement moved away from its target."""
    points = snap.points.get(indicator.id, [])
    if points and trend(indicator, [p.value for p in points]) < 0:
        latest = points[-1]
        yield Hit(
            "indicator_moving_away",
            MEDIUM,
            f"indicator:{indicator.id}",
            f"Indicator '{indicator.name}' moved away from its target: {latest.value:g} "
            f"{indicator.unit} on {latest.measured_date:%d %B %Y}",
            **_owner(snap, indicator),
        )


def query_unanswered(snap: Snapshot, evidence_id: int) -> Iterator[Hit]:
    """An inspector's query has waited too long for an answer."""
    comments = snap.comments[evidence_id]
    latest = comments[-1] if comments else None
    if latest is not None and latest.kind == "queried":
        waited = (snap.on - latest.created_at.date()).days
        if waited > snap.query_answer_days:
            title = snap.evidence_titles.get(evidence_id, f"evidence {evidence_id}")
            yield Hit(
                "query_unanswered",
                MEDIUM,
                f"evidence:{evidence_id}",
                f"The inspector's query on '{title}' has waited {waited} days for an answer",
                evidence_id=evidence_id,
            )


def compliant_without_evidence(snap: Snapshot, subject: PeriodOf) -> Iterator[Hit]:
    """A period declared compliant has no evidence at all."""
    obligation, period = subject
    if period.declared and not snap.evidence.get(period.id):
        yield Hit(
            "compliant_without_evidence",
            HIGH,
            f"occurrence:{period.id}",
            f"{snap.holder(obligation)}: {snap.item(obligation)} for {_span(period)} "
            "is declared compliant but has no evidence",
            occurrence_id=period.id,
            **_on(obligation),
        )


Rule = Callable[[Snapshot, object], Iterator[Hit]]
Subjects = Callable[[Snapshot], Iterator[object]]

# Each rule with the subjects it is asked about, one at a time.
RULES: list[tuple[Rule, Subjects]] = [
    (deliverable_overdue, deliverable_periods),
    (deliverable_due_soon, deliverable_periods),
    (evidence_past_review, all_periods),
    (required_partner_missing, partnership_duties),
    (funding_condition_unmet, condition_periods),
    (no_intended_outcome, partnerships),
    (indicator_not_measured, indicators),
    (indicator_moving_away, indicators),
    (query_unanswered, reviewed_evidence),
    (compliant_without_evidence, all_periods),
]
