"""Process status of periods and obligations."""

import datetime as dt

from compliance.models import Evidence, Occurrence
from compliance.obligations.status import ProcessStatus, current_evidence, occurrence_status, worst
from tests.factories import make_body, make_evidence

ON = dt.date(2026, 6, 1)


def period(due: dt.date) -> Occurrence:
    return Occurrence(
        obligation_id=1,
        period_start_date=dt.date(2025, 4, 1),
        period_end_date=dt.date(2026, 3, 31),
        due_date=due,
    )


def evidence(review_by=None) -> Evidence:
    return Evidence(
        kind="document", title="x", effective_date=dt.date(2026, 1, 1), review_by_date=review_by
    )


def test_statuses_of_a_period():
    assert (
        occurrence_status(period(dt.date(2026, 5, 31)), [], on=ON, due_soon_days=30)
        == ProcessStatus.overdue
    )
    assert (
        occurrence_status(period(dt.date(2026, 6, 1)), [], on=ON, due_soon_days=30)
        == ProcessStatus.due_soon
    )
    assert (
        occurrence_status(period(dt.date(2026, 7, 1)), [], on=ON, due_soon_days=30)
        == ProcessStatus.due_soon
    )
    assert (
        occurrence_status(period(dt.date(2026, 7, 2)), [], on=ON, due_soon_days=30)
        == ProcessStatus.not_yet_due
    )
    assert (
        occurrence_status(period(dt.date(2026, 5, 1)), [evidence()], on=ON, due_soon_days=30)
        == ProcessStatus.met
    )
    expired = [evidence(review_by=dt.date(2026, 5, 31))]
    assert (
        occurrence_status(period(dt.date(2026, 5, 1)), expired, on=ON, due_soon_days=30)
        == ProcessStatus.evidence_expired
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
    return session.exec(select(Occurrence).where(Occurrence.obligation_id == obligation.id)).first()


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
        return sorted(e.recorded_at.date().isoformat() for e in found.get(occurrence.id, []))

    assert titles(dt.date(2026, 1, 5)) == []
    assert titles(dt.date(2026, 1, 31)) == ["2026-01-10"]
    assert titles(dt.date(2026, 2, 10)) == ["2026-01-10", "2026-02-01"]
    assert titles(dt.date(2026, 3, 2)) == ["2026-03-01"]
