"""Each compliance rule on a hand-made snapshot, then the findings lifecycle on a database."""

import datetime as dt

from sqlmodel import col, select

from compliance.checks import rules
from compliance.checks.rules import Comment, EvidenceItem, Member, PeriodItem, Point, Snapshot
from compliance.checks.service import Scope, evaluate, load_snapshot, run_checks
from compliance.db import any_of
from compliance.models import (
    Body,
    Deliverable,
    Duty,
    EvidenceComment,
    EvidenceLink,
    Finding,
    FundingCondition,
    Indicator,
    Obligation,
    Outcome,
    Period,
)
from tests.conftest import make_user

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
DELIVERABLE = Deliverable(
    id=1,
    duty_id=1,
    slug="report",
    title="Yearly report",
    cadence="annual",
    due_set_by="Children Act 2004 s16G(7)",
)
# Tracked from the start of the financial year before ON, so its periods are judged.
TRACKED = dt.date(2025, 4, 1)
CONDITION = FundingCondition(id=1, stream_id=1, slug="plan", title="Plan agreed", description="d")


def snapshot(**overrides) -> Snapshot:
    values = dict(
        on=ON,
        due_soon_days=30,
        query_answer_days=14,
        obligations=[
            Obligation(id=1, key="k1", body_id=1, deliverable_id=1, opened_date=TRACKED),
            Obligation(id=2, key="k2", body_id=1, bid_id=1, condition_id=1, opened_date=TRACKED),
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


def period(pid=10, obligation_id=1, due=ON) -> PeriodItem:
    return PeriodItem(pid, obligation_id, dt.date(2025, 4, 1), dt.date(2026, 3, 31), due)


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


def test_a_missed_statutory_date_says_where_it_comes_from_and_what_clears_it():
    late = period(due=ON - dt.timedelta(days=1))
    (hit,) = evaluate_one(rules.deliverable_overdue, snapshot(periods={1: [late]}))[0]
    assert hit.severity == "high"
    assert hit.basis == "set by Children Act 2004 s16G(7)"
    assert hit.since == late.due
    assert "set by Children Act 2004 s16G(7)" in hit.message
    assert hit.remedy.startswith("Record evidence of Yearly report")


def convention(cadence="annual") -> dict:
    return {1: Deliverable(id=1, duty_id=1, slug="r", title="Annual assurance", cadence=cadence)}


def test_a_missed_convention_is_a_low_assurance_gap_never_overdue():
    late = period(due=ON - dt.timedelta(days=1))
    snap = snapshot(periods={1: [late]}, deliverables=convention())
    assert fired(rules.deliverable_overdue, snap) == []
    (hit,) = evaluate_one(rules.assurance_gap, snap)[0]
    assert hit.severity == "low"
    assert hit.basis == "a convention of this catalogue; no statutory date"
    assert "no assurance of Annual assurance" in hit.message
    assert "since tracking began on 01 April 2025" in hit.message
    assert "overdue" not in hit.message and "breach" not in hit.message


def test_a_standing_duty_is_judged_by_its_last_assurance_not_a_string_of_missed_years():
    years = [
        PeriodItem(
            20 + i,
            1,
            dt.date(2022 + i, 4, 1),
            dt.date(2023 + i, 3, 31),
            dt.date(2023 + i, 3, 31),
        )
        for i in range(4)
    ]
    snap = snapshot(
        periods={1: years},
        deliverables=convention("continuous"),
        obligations=[
            Obligation(id=1, key="k1", body_id=1, deliverable_id=1, opened_date=dt.date(2022, 4, 1))
        ],
    )
    hits = evaluate_one(rules.assurance_gap, snap)[0]
    assert [h.subject for h in hits] == ["obligation:1:assurance"]
    assert hits[0].occurrence_id == 23
    # Assurance recorded for the last year that fell due clears it, whatever earlier years lack.
    assured = snapshot(
        periods={1: years},
        deliverables=convention("continuous"),
        obligations=snap.obligations,
        evidence={23: [EvidenceItem(5, "Review", None, dt.date(2026, 3, 1))]},
    )
    assert fired(rules.assurance_gap, assured) == []


def test_periods_due_before_tracking_raise_nothing():
    early = period(due=dt.date(2022, 1, 5))
    snap = snapshot(periods={1: [early]})
    snap.obligations[0].opened_date = dt.date(2026, 5, 1)
    assert fired(rules.deliverable_overdue, snap) == []
    assert (
        fired(rules.assurance_gap, snapshot(periods={1: [early]}, deliverables=convention())) == []
    )


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


def test_required_members_are_read_in_the_nation_of_the_partnership():
    duty = Duty(
        id=1,
        slug="csp",
        title="Community safety",
        act="Crime and Disorder Act 1998",
        sections="s5",
        url="u",
        summary="s",
        catalogue_version="1",
        required_members=[["integrated_care_board", "local_health_board"], ["police_force"]],
    )
    welsh = snapshot(
        duties={1: duty},
        partnerships={7: "Cardiff Community Safety Partnership"},
        partnership_duties={7: [1]},
        members={
            7: [
                Member(7, 1, "unitary_authority", "wales"),
                Member(7, 2, "police_force", "wales"),
                Member(7, 3, "local_health_board", "wales"),
            ]
        },
    )
    assert fired(rules.required_partner_missing, welsh) == []
    english = snapshot(
        duties={1: duty},
        partnerships={7: "Shire Community Safety Partnership"},
        partnership_duties={7: [1]},
        members={
            7: [
                Member(7, 1, "unitary_authority", "england"),
                Member(7, 2, "police_force", "england"),
                Member(7, 3, "local_health_board", "wales"),
            ]
        },
    )
    hits = evaluate_one(rules.required_partner_missing, english)[0]
    assert [h.message for h in hits] == [
        "Shire Community Safety Partnership discharges Crime and Disorder Act 1998 s5 but "
        "has no integrated care board among its members"
    ]


def test_a_duty_nobody_discharges_is_found_once_per_body_and_duty():
    duty = Duty(
        id=1,
        slug="sab",
        title="Safeguarding Adults Board",
        act="Care Act 2014",
        sections="s43",
        url="u",
        summary="s",
        catalogue_version="1",
        holder_kinds=["unitary_authority"],
        jurisdiction=["england"],
        required_members=[["unitary_authority"]],
    )
    board = Deliverable(
        id=1,
        duty_id=1,
        slug="plan",
        title="Strategic plan",
        cadence="annual",
        held_by="partnership",
    )
    bodies = {
        1: rules.BodyFacts(1, "Cornwall Council", "unitary_authority", "england"),
        2: rules.BodyFacts(2, "Cardiff Council", "unitary_authority", "wales"),
        3: rules.BodyFacts(3, "Devon Council", "unitary_authority", "england"),
    }
    snap = snapshot(
        duties={1: duty},
        deliverables={1: board},
        bodies=bodies,
        partnerships={7: "Devon SAB"},
        partnership_duties={7: [1]},
        members={7: [Member(7, 3, "unitary_authority", "england")]},
    )
    hits = evaluate_one(rules.duty_not_discharged, snap)[0]
    assert [h.subject for h in hits] == ["body:1:duty:1:discharged"]
    assert hits[0].severity == "low" and hits[0].body_id == 1
    assert "Care Act 2014 s43" in hits[0].message


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


def test_an_outcome_getting_worse_is_high_and_says_which_outcome_indicator_and_method():
    days = [dt.date(2024, 3, 31), dt.date(2025, 3, 31), dt.date(2026, 3, 31)]
    worse = [Point(3, d, v) for d, v in zip(days, (21.1, 22.6, 23.4), strict=True)]
    better = [Point(3, d, v) for d, v in zip(days, (23.4, 22.6, 21.1), strict=True)]
    outcomes = [Outcome(id=1, partnership_id=7, title="Children are not harmed again")]
    common = dict(partnerships={7: "Board A"}, outcomes=outcomes, indicators=[indicator()])
    hits, _ = evaluate_one(rules.outcome_getting_worse, snapshot(**common, points={3: worse}))
    assert [(h.key, h.severity, h.partnership_id) for h in hits] == [
        ("outcome_getting_worse:indicator:3", "high", 7)
    ]
    assert "Board A: the outcome 'Children are not harmed again' is getting worse" in (
        hits[0].message
    )
    assert "indicator 'Re-referrals' (Theil–Sen slope over 3 measurements" in hits[0].message
    assert fired(rules.outcome_getting_worse, snapshot(**common, points={3: better})) == []
    # Two readings are too few to call a trend; higher being better turns it round.
    assert fired(rules.outcome_getting_worse, snapshot(**common, points={3: worse[1:]})) == []
    up = indicator(direction="increase", baseline_value=None, target_value=None)
    common["indicators"] = [up]
    assert fired(rules.outcome_getting_worse, snapshot(**common, points={3: worse})) == []
    assert fired(rules.outcome_getting_worse, snapshot(**common, points={3: better})) == [
        "indicator:3"
    ]


def test_outcomes_that_cannot_be_judged_are_medium():
    outcomes = [Outcome(id=1, partnership_id=7, title="Safer adults")]
    two = [Point(3, dt.date(2025, 3, 31), 21.0), Point(3, dt.date(2026, 3, 31), 20.0)]
    common = dict(partnerships={7: "Board A", 8: "Board B"}, indicators=[indicator()])
    hits, _ = evaluate_one(
        rules.outcomes_cannot_be_judged, snapshot(**common, outcomes=outcomes, points={3: two})
    )
    assert [(h.subject, h.severity) for h in hits] == [("partnership:7:judgement", "medium")]
    assert "'Safer adults', indicator 'Re-referrals': Too few measurements" in hits[0].message
    three = [Point(3, dt.date(2024, 3, 31), 22.0), *two]
    judged = snapshot(**common, outcomes=outcomes, points={3: three})
    assert fired(rules.outcomes_cannot_be_judged, judged) == []
    # With no outcome at all, no_intended_outcome speaks instead.
    assert fired(rules.outcomes_cannot_be_judged, snapshot(**common)) == []


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


def test_a_broken_subject_is_recorded_and_the_rest_still_judged():
    bad = Obligation(id=3, key="k3", body_id=1, deliverable_id=999, opened_date=TRACKED)
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
    sync_obligations(session=session, on=ON, track_from=TRACKED)

    def check(on):
        return run_checks(
            session=session, on=on, trigger="test", due_soon_days=30, query_answer_days=14
        ).run

    first = check(dt.date(2026, 4, 2))
    mine = session.exec(
        select(Finding).where(Finding.body_id == body.id, Finding.rule == "assurance_gap")
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
    from compliance.models import Period

    make_evidence(
        session,
        occurrences=[session.get(Period, finding.occurrence_id)],
        recorded_at=at(dt.date(2026, 4, 3)),
    )
    third = check(dt.date(2026, 4, 4))
    session.refresh(finding)
    assert finding.resolved_at is not None and third.findings_resolved >= 1


def test_judging_a_reports_obligations_alone_finds_what_judging_all_finds_about_them(
    session, settings, demo_area
):
    # A report judges only the obligations it shows (load_snapshot's `judged`): what it finds
    # about them, and about its holders, must be what judging all their obligations finds,
    # a query unanswered on evidence of another duty's obligation included.
    on = settings.today()
    cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
    inspector = make_user(session, "inspector", bodies=["E06000052"])
    mine = list(session.exec(select(Obligation).where(Obligation.body_id == cornwall.id)))
    shown = [o for o in mine if o.deliverable_id == mine[0].deliverable_id]
    other = next(o for o in mine if o.deliverable_id != mine[0].deliverable_id)
    piece = session.exec(
        select(EvidenceLink.evidence_id)
        .join(Period, col(Period.id) == EvidenceLink.occurrence_id)
        .where(Period.obligation_id == other.id)
    ).first()
    assert piece is not None
    asked = dt.datetime.combine(on - dt.timedelta(days=60), dt.time(9), tzinfo=dt.UTC)
    session.add(EvidenceComment(evidence_id=piece, author_id=inspector.id, kind="queried",
                                body="Which year?", created_at=asked))  # fmt: skip
    session.flush()
    scope = Scope(frozenset({cornwall.id}), frozenset())
    ids = {o.id for o in shown}

    def about_shown(judged):  # type: ignore[no-untyped-def]
        snap = load_snapshot(session=session, on=on, due_soon_days=30, query_answer_days=14,
                             scope=scope, judged=judged)  # fmt: skip
        hits, errors = evaluate(snap)
        assert not errors
        return sorted(
            (h.key, h.message)
            for h in hits
            if h.obligation_id in ids or (h.obligation_id is None and h.body_id == cornwall.id)
        )

    everything = about_shown(None)
    assert f"query_unanswered:evidence:{piece}" in [key for key, _ in everything]
    assert any(":obligation:" in key or ":occurrence:" in key for key, _ in everything)
    assert about_shown(any_of(col(Obligation.id), ids)) == everything
