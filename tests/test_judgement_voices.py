"""The voice of people who use services feeds the judgement: the latest evaluation round with
enough answers from people counts beside the outcomes (a median of agree or more to "Things have
got better for me" is improving, less is no change); below the minimum, after the date, or from
the partners' staff, answers change nothing."""

import datetime as dt

from compliance.evaluations.models import EvaluationAnswer
from compliance.evaluations.questions import read_people_answer
from compliance.evaluations.service import RoundCreate, create_round, enter_session_answer
from compliance.obligations.status import OutcomeStatus
from compliance.outcomes.judgement import VOICE, Verdict, partnership_judgement
from tests import test_judgement

register = test_judgement.register


def _round(session, partnership, today, better, *, opens=None, title="Autumn round"):  # type: ignore[no-untyped-def]
    """A round opened 30 days ago (or on `opens`) with one session answer per value given."""
    opens = opens or today - dt.timedelta(days=30)
    data = RoundCreate(title=title, opens_date=opens, closes_date=opens + dt.timedelta(days=60))
    row = create_round(
        session=session, actor="test", partnership_id=partnership.id, data=data, today=opens
    )
    for value in better:
        form = {
            "right_outcomes": "yes",
            "better_for_me": str(value),
            "listened_to": "4",
            "joined_up": "4",
        }
        answer = read_people_answer(form, has_outcomes=True)
        assert not answer.errors, answer.errors
        enter_session_answer(session=session, actor="test", row=row, answer=answer, today=opens)
    session.flush()
    return row


def _judged(session, partnership, today):  # type: ignore[no-untyped-def]
    return partnership_judgement(session=session, partnership_id=partnership.id, on=today)


def test_people_agreeing_things_got_better_keep_improving_indicators_improving(session, register):
    board, today = register["outcomes"], register["today"]
    _round(session, board, today, [4, 4, 5, 3, 4])
    judged = _judged(session, board, today)
    assert judged.verdict == Verdict.improving
    (voice,) = [r for r in judged.reasons if r.source == "voices"]
    assert (voice.indicator, voice.status) == (VOICE, OutcomeStatus.improving)
    assert voice.outcome is None
    assert "Autumn round" in voice.method and "5 answers, median agree" in voice.method


def test_people_not_agreeing_stop_improving_indicators_making_it_improving(session, register):
    board, today = register["outcomes"], register["today"]
    _round(session, board, today, [3, 2, 4, 3, 3, 2])
    judged = _judged(session, board, today)
    assert judged.words == "No change yet"
    (voice,) = [r for r in judged.reasons if r.source == "voices"]
    assert voice.status == OutcomeStatus.no_change
    assert "median neither agree nor disagree" in voice.method


def test_with_no_outcome_measured_peoples_answers_judge_it(session, register):
    board, today = register["empty"], register["today"]
    assert _judged(session, board, today).verdict == Verdict.cannot_judge
    _round(session, board, today, [4, 5, 4, 4, 5])
    assert _judged(session, board, today).verdict == Verdict.improving


def test_people_never_make_it_getting_worse_on_their_own(session, register):
    board, today = register["paperwork"], register["today"]  # its indicator is getting worse
    _round(session, board, today, [5, 5, 5, 5, 5])
    assert _judged(session, board, today).verdict == Verdict.worsening
    empty = register["empty"]
    _round(session, empty, today, [1, 1, 2, 1, 1])
    assert _judged(session, empty, today).verdict == Verdict.no_change


def test_a_round_below_its_minimum_changes_nothing(session, register):
    board, today = register["outcomes"], register["today"]
    _round(session, board, today, [1, 1, 1, 1])  # four answers, minimum five
    judged = _judged(session, board, today)
    assert judged.verdict == Verdict.improving
    assert [r for r in judged.reasons if r.source == "voices"] == []


def test_the_latest_round_with_enough_answers_counts_and_later_rounds_wait(session, register):
    board, today = register["outcomes"], register["today"]
    _round(
        session, board, today, [2, 3, 3, 2, 3], opens=today - dt.timedelta(days=200), title="Old"
    )
    _round(session, board, today, [4, 4, 4, 4, 4], opens=today - dt.timedelta(days=20), title="New")
    (voice,) = [r for r in _judged(session, board, today).reasons if r.source == "voices"]
    assert "“New”" in voice.method
    # As at a day before the newer round opened, the older one speaks.
    earlier = today - dt.timedelta(days=100)
    (voice,) = [r for r in _judged(session, board, earlier).reasons if r.source == "voices"]
    assert "“Old”" in voice.method


def test_the_partners_staff_answers_do_not_feed_the_judgement(session, register):
    board, today = register["empty"], register["today"]
    row = _round(session, board, today, [])
    for _ in range(6):
        choices = {"share_information": 5, "trust": 5, "joint_decisions": 5, "shared_purpose": 5}
        session.add(
            EvaluationAnswer(
                round_id=row.id, stage="partners", channel="invitation", choices=choices
            )
        )
    session.flush()
    judged = _judged(session, board, today)
    assert judged.verdict == Verdict.cannot_judge
    assert [r for r in judged.reasons if r.source == "voices"] == []
