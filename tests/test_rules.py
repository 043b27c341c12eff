"""Each compliance rule on a hand-made snapshot, then the findings lifecycle on a database."""

import datetime as dt

from sqlmodel import select

from compliance.checks import rules
from compliance.checks.rules import Comment, EvidenceItem, Member, Period, Point, Snapshot
from compliance.checks.service import evaluate, run_checks
from compliance.models import (
    Deliverable,
    Duty,
    Finding,
    FundingCondition,
    Indicator,
    Obligation,
    Outcome,
)

ON = dt.date(2026, 6, 1)
DUTY = Duty(
    id=1,
    slug="d",
    title="Duty",
    act="Children Act 2004",
    sections="s16E",
    url="u",
    summary="s",
    catalogue_version="1",
    required_members=[
        ["unitary_authority", "county_council"],
        ["integrated_care_board"],
        ["police_force"],
    ],
)
DELIVERABLE = Deliverable(id=1, duty_id=1, slug="report", title="Yearly report", cadence="annual")
CONDITION = FundingCondition(id=1, stream_id=1, slug="plan", title="Plan agreed", description="d")


def snapshot(**overrides) -> Snapshot:
    values = dict(
        on=ON,
        due_soon_days=30,
        query_answer_days=14,
        obligations=[
            Obligation(id=1, key="k1", body_id=1, deliverable_id=1, opened_date=ON),
            Obligation(id=2, key="k2", body_id=1, bid_id=1, condition_id=1, opened_date=ON),
        ],
        periods={},
        evidence={},
        deliverables={1: DELIVERABLE},
        duties={1: DUTY},
        conditions={1: CONDITION},
        body_names={1: "Cornwall Council"},
        partnerships={},
        members={},
        partnership_duties={},
        outcomes=[],
        indicators=[],
        points={},
        comments={},
    )
    return Snapshot(**(values | overrides))


def period(pid=10, obligation_id=1, due=ON, declared=False) -> Period:
    return Period(pid, obligation_id, dt.date(2025, 4, 1), dt.date(2026, 3, 31), due, declared)


def fired(rule, snap) -> list[str]:
    hits, errors = evaluate_one(rule, snap)
    assert errors == []
    return [h.subject for h in hits]


def evaluate_one(rule, snap):
    subjects = dict(rules.RULES)[rule]
    hits = [h for s in subjects(snap) for h in rule(snap, s)]
    return hits, []


def test_deliverable_overdue_fires_only_without_evidence_after_the_due_date():
    late = period(due=ON - dt.timedelta(days=1))
    assert fired(rules.deliverable_overdue, snapshot(periods={1: [late]})) == ["occurrence:10"]
    assert fired(rules.deliverable_overdue, snapshot(periods={1: [period(due=ON)]})) == []
    done = snapshot(periods={1: [late]}, evidence={10: [EvidenceItem(5, "Report", None)]})
    assert fired(rules.deliverable_overdue, done) == []


def test_not_applicable_obligations_are_never_judged():
    snap = snapshot(periods={1: [period(due=ON - dt.timedelta(days=9))]})
    snap.obligations[0].not_applicable_reason = "unitary area"
    assert fired(rules.deliverable_overdue, snap) == []


def test_due_soon_within_the_window():
    assert fired(
        rules.deliverable_due_soon, snapshot(periods={1: [period(due=ON + dt.timedelta(days=30))]})
    ) == ["occurrence:10"]
    assert (
        fired(
            rules.deliverable_due_soon,
            snapshot(periods={1: [period(due=ON + dt.timedelta(days=31))]}),
        )
        == []
    )


def test_evidence_past_review_when_every_item_has_expired():
    old = EvidenceItem(5, "Protocol", dt.date(2026, 5, 1))
    fresh = EvidenceItem(6, "Protocol v2", dt.date(2027, 5, 1))
    assert fired(
        rules.evidence_past_review, snapshot(periods={1: [period()]}, evidence={10: [old]})
    ) == ["occurrence:10"]
    assert (
        fired(
            rules.evidence_past_review,
            snapshot(periods={1: [period()]}, evidence={10: [old, fresh]}),
        )
        == []
    )


def test_required_partner_missing_names_the_missing_kind():
    snap = snapshot(
        partnerships={7: "Safeguarding Children Partnership"},
        partnership_duties={7: [1]},
        members={7: [Member(7, 1, "unitary_authority"), Member(7, 2, "police_force")]},
    )
    hits, _ = evaluate_one(rules.required_partner_missing, snap)
    assert [h.message for h in hits] == [
        "Safeguarding Children Partnership discharges Children Act 2004 s16E but has no "
        "integrated care board among its members"
    ]


def test_funding_condition_unmet_as_the_deadline_nears_and_after():
    near = snapshot(periods={2: [period(11, 2, due=ON + dt.timedelta(days=10))]})
    past = snapshot(periods={2: [period(11, 2, due=ON - dt.timedelta(days=1))]})
    far = snapshot(periods={2: [period(11, 2, due=ON + dt.timedelta(days=90))]})
    assert [h.severity for h in evaluate_one(rules.funding_condition_unmet, near)[0]] == ["medium"]
    assert [h.severity for h in evaluate_one(rules.funding_condition_unmet, past)[0]] == ["high"]
    assert fired(rules.funding_condition_unmet, far) == []
    assert fired(rules.deliverable_overdue, past) == []


def test_no_intended_outcome():
    snap = snapshot(
        partnerships={7: "Board A", 8: "Board B"},
        outcomes=[Outcome(id=1, partnership_id=8, title="Safer adults")],
    )
    assert fired(rules.no_intended_outcome, snap) == ["partnership:7"]


def indicator(**overrides) -> Indicator:
    values = dict(
        id=3,
        outcome_id=1,
        name="Re-referrals",
        unit="%",
        direction="decrease",
        baseline_value=22.0,
        target_value=18.0,
    )
    return Indicator(**(values | overrides))


def test_indicator_not_measured_in_twelve_months():
    stale = snapshot(indicators=[indicator()], points={3: [Point(3, dt.date(2025, 5, 31), 21.0)]})
    recent = snapshot(indicators=[indicator()], points={3: [Point(3, dt.date(2025, 6, 2), 21.0)]})
    never = snapshot(indicators=[indicator()])
    assert fired(rules.indicator_not_measured, stale) == ["indicator:3"]
    assert fired(rules.indicator_not_measured, recent) == []
    assert fired(rules.indicator_not_measured, never) == ["indicator:3"]


def test_indicator_moving_away_from_its_target():
    worse = [Point(3, dt.date(2025, 3, 31), 21.0), Point(3, dt.date(2026, 3, 31), 23.4)]
    better = [Point(3, dt.date(2025, 3, 31), 23.4), Point(3, dt.date(2026, 3, 31), 21.0)]
    assert fired(
        rules.indicator_moving_away, snapshot(indicators=[indicator()], points={3: worse})
    ) == ["indicator:3"]
    assert (
        fired(rules.indicator_moving_away, snapshot(indicators=[indicator()], points={3: better}))
        == []
    )
    up = indicator(direction="increase", target_value=None)
    assert fired(rules.indicator_moving_away, snapshot(indicators=[up], points={3: worse})) == []


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


def test_query_unanswered_after_fourteen_days():
    waiting = {5: [Comment(5, "queried", at(ON - dt.timedelta(days=15)))]}
    answered = {
        5: [
            Comment(5, "queried", at(ON - dt.timedelta(days=20))),
            Comment(5, "answer", at(ON - dt.timedelta(days=2))),
        ]
    }
    recent = {5: [Comment(5, "queried", at(ON - dt.timedelta(days=14)))]}
    assert fired(rules.query_unanswered, snapshot(comments=waiting)) == ["evidence:5"]
    assert fired(rules.query_unanswered, snapshot(comments=answered)) == []
    assert fired(rules.query_unanswered, snapshot(comments=recent)) == []


def test_compliant_without_evidence():
    declared = snapshot(periods={1: [period(declared=True)]})
    assert fired(rules.compliant_without_evidence, declared) == ["occurrence:10"]
    backed = snapshot(
        periods={1: [period(declared=True)]}, evidence={10: [EvidenceItem(1, "x", None)]}
    )
    assert fired(rules.compliant_without_evidence, backed) == []


def test_a_broken_subject_is_recorded_and_the_rest_still_judged():
    bad = Obligation(id=3, key="k3", body_id=1, deliverable_id=999, opened_date=ON)
    snap = snapshot(
        periods={
            1: [period(due=ON - dt.timedelta(days=1))],
            3: [period(12, 3, due=ON - dt.timedelta(days=1))],
        }
    )
    snap.obligations.append(bad)
    hits, errors = evaluate(snap)
    assert "occurrence:10" in {h.subject for h in hits if h.rule == "deliverable_overdue"}
    assert any("deliverable_overdue failed on obligation 3" in e for e in errors)


def test_findings_persist_with_first_seen_last_seen_and_resolution(session):
    from compliance.obligations.service import sync_obligations
    from tests.factories import make_body, make_evidence

    body = make_body(session)
    sync_obligations(session=session, on=ON)

    def check(on):
        return run_checks(
            session=session, on=on, trigger="test", due_soon_days=30, query_answer_days=14
        ).run

    first = check(dt.date(2026, 4, 2))
    mine = session.exec(
        select(Finding).where(Finding.body_id == body.id, Finding.rule == "deliverable_overdue")
    ).all()
    assert first.findings_new >= len(mine) > 0
    second = check(dt.date(2026, 4, 3))
    assert second.findings_new == 0
    finding = mine[0]
    session.refresh(finding)
    assert (finding.first_run_id, finding.last_run_id, finding.resolved_at) == (
        first.id,
        second.id,
        None,
    )
    from compliance.models import Occurrence

    make_evidence(
        session,
        occurrences=[session.get(Occurrence, finding.occurrence_id)],
        recorded_at=at(dt.date(2026, 4, 3)),
    )
    third = check(dt.date(2026, 4, 4))
    session.refresh(finding)
    assert finding.resolved_at is not None and third.findings_resolved >= 1
