"""Both status dimensions side by side, and roll-ups where the worst state wins."""

import datetime as dt

from compliance.demo.service import demo_story
from compliance.obligations.status import OutcomeStatus as O
from compliance.obligations.status import ProcessStatus as P
from compliance.obligations.status import judge_outcome, rollup
from compliance.obligations.views import view_obligations
from compliance.partnerships.service import get_partnership


def test_worst_process_wins_not_applicable_is_excluded_and_fully_met_needs_outcomes():
    result = rollup(
        [
            (P.met, O.improving),
            (P.met, O.worsening),
            (P.met, O.no_change),
            (P.due_soon, O.improving),
            (P.not_applicable, O.no_outcome_defined),
        ]
    )
    assert result.worst_process == P.due_soon
    assert result.worst_outcome == O.worsening
    assert (result.fully_met, result.total) == (1, 4)
    assert result.process == {"met": 3, "due_soon": 1, "not_applicable": 1}
    assert result.outcome == {"improving": 2, "worsening": 1, "no_change": 1}


def test_getting_worse_is_the_worst_of_the_measured_outcome_states():
    measured = [O.improving, O.no_change, O.too_few_measurements, O.worsening]
    assert rollup([(P.met, o) for o in measured]).worst_outcome == O.worsening
    assert rollup([(P.met, o) for o in measured[:3]]).worst_outcome == O.too_few_measurements
    assert rollup([(P.met, O.worsening), (P.met, O.not_measured)]).worst_outcome == O.not_measured


def test_outcomes_taken_together_are_judged_by_those_that_can_be_judged():
    assert judge_outcome([O.improving, O.too_few_measurements]) == O.improving
    assert judge_outcome([O.improving, O.no_change, O.not_measured]) == O.no_change
    assert judge_outcome([O.improving, O.worsening]) == O.worsening
    assert judge_outcome([O.not_measured, O.too_few_measurements]) == O.not_measured
    assert judge_outcome([]) == O.no_outcome_defined


def test_process_evidence_alone_never_makes_a_duty_fully_met():
    assert rollup([(P.met, O.no_outcome_defined), (P.met, O.not_measured)]).fully_met == 0


def test_demo_partnerships_show_outcomes_beside_process(demo_area, session, settings):
    on = demo_story(today=settings.today()).date(dt.date(2026, 11, 26))

    def outcome_of(slug, duty=None):
        partnership = get_partnership(session=session, slug=slug)
        views = view_obligations(
            session=session, on=on, due_soon_days=30, partnership_id=partnership.id
        )
        return {v.outcome for v in views if duty is None or v.source_slug == duty}

    assert outcome_of("cios-safeguarding-adults-board") == {O.improving}
    # Its outcome serves the s16E arrangements; the s16C-s16F reviews have none linked.
    children = "our-safeguarding-children-partnership"
    assert outcome_of(children, "children-act-2004-s16e") == {O.worsening}
    assert outcome_of(children, "children-act-2004-s16c-s16f") == {O.no_outcome_defined}
    assert outcome_of("cios-integrated-care-partnership") == {O.no_outcome_defined}
    # The community safety indicator was last measured in March 2025.
    assert outcome_of("safer-cornwall") == {O.not_measured}


def test_a_body_inherits_the_outcomes_of_partnerships_discharging_its_duty(
    demo_area, session, settings
):
    from compliance.bodies.service import get_body

    cornwall = get_body(session=session, code="E06000052")
    on = demo_story(today=settings.today()).date(dt.date(2026, 11, 26))
    views = view_obligations(session=session, on=on, due_soon_days=30, body_id=cornwall.id)
    sab = [v for v in views if v.source_slug == "care-act-2014-s42-s45"]
    assert sab and {v.outcome for v in sab} == {O.improving}
    s11 = [v for v in views if v.source_slug == "children-act-2004-s11"]
    assert {v.outcome for v in s11} == {O.no_outcome_defined}
