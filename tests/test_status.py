"""Process status of periods and obligations."""

import datetime as dt

from compliance.models import Evidence, Period
from compliance.obligations.status import (
    PeriodFacts,
    ProcessStatus,
    current_evidence,
    obligation_status,
    period_status,
    worst,
)
from tests.factories import make_body, make_evidence

ON = dt.date(2026, 6, 1)


def status(due, review_by=(), statutory=True, tracked_from=dt.date(2025, 4, 1)):
    return period_status(
        due=due,
        review_by=list(review_by),
        on=ON,
        due_soon_days=30,
        statutory=statutory,
        tracked_from=tracked_from,
    )


def test_statuses_of_a_period():
    assert status(dt.date(2026, 5, 31)) == ProcessStatus.overdue
    assert status(dt.date(2026, 6, 1)) == ProcessStatus.due_soon
    assert status(dt.date(2026, 7, 1)) == ProcessStatus.due_soon
    assert status(dt.date(2026, 7, 2)) == ProcessStatus.not_yet_due
    assert status(dt.date(2026, 5, 1), [None]) == ProcessStatus.met
    assert status(dt.date(2026, 5, 1), [dt.date(2026, 5, 31)]) == ProcessStatus.evidence_expired


def test_a_passed_convention_is_an_assurance_gap_and_a_date_before_tracking_is_not_judged():
    assert status(dt.date(2026, 5, 31), statutory=False) == ProcessStatus.assurance_gap
    assert status(dt.date(2022, 1, 5), tracked_from=dt.date(2026, 5, 1)) == (
        ProcessStatus.before_tracking
    )
    # Evidence recorded for a period before tracking still counts.
    assert status(dt.date(2022, 1, 5), [None], tracked_from=dt.date(2026, 5, 1)) == (
        ProcessStatus.met
    )


def facts(*rows):
    return [PeriodFacts(start, due, state) for start, due, state in rows]


def test_a_standing_duty_rolls_up_from_its_latest_assurance_only():
    y = [dt.date(2023 + i, 4, 1) for i in range(4)]
    rows = facts(
        (y[0], dt.date(2024, 3, 31), ProcessStatus.assurance_gap),
        (y[1], dt.date(2025, 3, 31), ProcessStatus.assurance_gap),
        (y[2], dt.date(2026, 3, 31), ProcessStatus.met),
        (y[3], dt.date(2027, 3, 31), ProcessStatus.not_yet_due),
    )
    assert obligation_status(rows, on=ON, standing=True, not_applicable=False) == (
        ProcessStatus.met
    )
    assert obligation_status(rows, on=ON, standing=False, not_applicable=False) == (
        ProcessStatus.assurance_gap
    )
    only_history = facts(
        (dt.date(2021, 4, 1), dt.date(2022, 1, 5), ProcessStatus.before_tracking),
        (y[3], dt.date(2027, 3, 31), ProcessStatus.not_yet_due),
    )
    assert obligation_status(only_history, on=ON, standing=False, not_applicable=False) == (
        ProcessStatus.not_yet_due
    )


def test_worst_state_wins_and_not_applicable_is_left_out():
    assert (
        worst([ProcessStatus.met, ProcessStatus.overdue, ProcessStatus.due_soon])
        == ProcessStatus.overdue
    )
    assert worst([ProcessStatus.met, ProcessStatus.not_applicable]) == ProcessStatus.met
    assert worst([ProcessStatus.not_applicable]) == ProcessStatus.not_applicable


def _one_period(session):
    from sqlmodel import select

    from compliance.models import Obligation
    from compliance.obligations.service import sync_obligations

    body = make_body(session)
    sync_obligations(session=session, on=ON)
    obligation = session.exec(select(Obligation).where(Obligation.body_id == body.id)).first()
    return session.exec(select(Period).where(Period.obligation_id == obligation.id)).first()


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def test_withdrawn_superseded_and_later_evidence_do_not_count(session):
    occurrence = _one_period(session)
    old = make_evidence(session, occurrences=[occurrence], recorded_at=at(dt.date(2026, 1, 10)))
    make_evidence(
        session, occurrences=[occurrence], supersedes_id=old.id, recorded_at=at(dt.date(2026, 3, 1))
    )
    make_evidence(
        session,
        occurrences=[occurrence],
        recorded_at=at(dt.date(2026, 2, 1)),
        withdrawn_at=at(dt.date(2026, 2, 20)),
        withdrawn_reason="wrong file",
    )

    def titles(day):
        found = current_evidence(session=session, occurrence_ids=[occurrence.id], on=day)
        return sorted(
            session.get(Evidence, e.id).recorded_at.date().isoformat()
            for e in found.get(occurrence.id, [])
        )

    assert titles(dt.date(2026, 1, 5)) == []
    assert titles(dt.date(2026, 1, 31)) == ["2026-01-10"]
    assert titles(dt.date(2026, 2, 10)) == ["2026-01-10", "2026-02-01"]
    assert titles(dt.date(2026, 3, 2)) == ["2026-03-01"]
    # In the order recorded (by id), on every database.
    found = current_evidence(
        session=session, occurrence_ids=[occurrence.id], on=dt.date(2026, 2, 10)
    )
    ids = [e.id for e in found[occurrence.id]]
    assert len(ids) == 2 and ids == sorted(ids)
