"""Reminders: what is due becomes outbox messages once, routed to the right person, and says
what the duty is, when it is due and where to act."""

import datetime as dt
from email import message_from_bytes, policy

import pytest
from sqlmodel import select

from compliance.errors import Refused
from compliance.evidence.service import EvidenceCreate, ReviewVerdict, answer, record, review
from compliance.models import Deliverable, Obligation, Period, User, UserScope
from compliance.obligations.service import sync_obligations
from compliance.outbox import build_message
from compliance.reminders.digest import queue_digests, week_of
from compliance.reminders.models import OutboxMessage
from compliance.reminders.preferences import set_body_reminders, set_preferences
from compliance.reminders.service import (
    queue_answer_notice,
    queue_due,
    queue_query_notice,
    reminder_stage,
)
from tests.factories import make_body, make_evidence, make_partnership
from tests.html import parse

ON = dt.date(2026, 6, 1)  # a Monday
DAY = dt.timedelta(days=1)


def later_period(session, body=None, partnership=None, statutory=True):
    """A period of the holder falling due some time after ON; its date set by law unless
    `statutory` is false (overdue notices are sent for statutory dates only)."""
    query = (
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Period.due_date > ON + 10 * DAY)
        .order_by(Period.due_date, Period.id)
    )
    if body is not None:
        query = query.where(Obligation.body_id == body.id)
    if partnership is not None:
        query = query.where(Obligation.partnership_id == partnership.id)
    period = session.exec(query).first()
    obligation = session.get(Obligation, period.obligation_id)
    if obligation.deliverable_id is not None:
        deliverable = session.get(Deliverable, obligation.deliverable_id)
        deliverable.due_set_by = "Test Act 2026 s1" if statutory else None
        session.flush()
    return period


@pytest.fixture
def council(session):
    body = make_body(session, email="governance@council.example.org")
    sync_obligations(session=session, on=ON)
    return body


def messages(session, occurrence=None, kind=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if occurrence is not None:
        query = query.where(OutboxMessage.occurrence_id == occurrence.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.exec(query))


def person(session, email, role="officer", body=None):
    user = User(email=email, name=email.split("@")[0].title(), role=role)
    session.add(user)
    session.flush()
    if body is not None:
        session.add(UserScope(user_id=user.id, body_id=body.id))
        session.flush()
    return user


def test_the_stage_is_the_smallest_offset_not_below_the_days_left():
    offsets = [30, 7, 1]
    stages = {d: reminder_stage(d, offsets) for d in (31, 30, 29, 8, 7, 3, 1, 0)}
    assert stages == {31: None, 30: 30, 29: 30, 8: 30, 7: 7, 3: 7, 1: 1, 0: 1}


def test_reminders_then_overdue_then_weekly_escalation_each_once(session, settings, council):
    period = later_period(session, council)
    due = period.due_date
    for day in (due - 30 * DAY, due - 30 * DAY, due - 20 * DAY, due - 7 * DAY, due - DAY):
        queue_due(session=session, settings=settings, on=day)
    reminders = messages(session, period, "reminder")
    assert [m.idempotency_key.rsplit(":", 1)[1] for m in reminders] == ["30", "7", "1"]
    assert {m.to_address for m in reminders} == {"governance@council.example.org"}
    for day in (due + DAY, due + 3 * DAY, due + 7 * DAY, due + 10 * DAY, due + 14 * DAY):
        queue_due(session=session, settings=settings, on=day)
    assert len(messages(session, period, "overdue")) == 1
    escalations = messages(session, period, "escalation")
    assert len(escalations) == 2  # 7 and 14 days overdue: one a week
    assert "No senior responsible officer is recorded" in escalations[0].text_body
    set_body_reminders(
        session=session,
        actor="test",
        body_id=council.id,
        reminder_days=None,
        sro_name="Jo Director",
        sro_email="Jo.Director@council.example.org",
    )
    queue_due(session=session, settings=settings, on=due + 21 * DAY)
    latest = messages(session, period, "escalation")[-1]
    assert latest.to_address == "jo.director@council.example.org"
    assert "No senior responsible officer" not in latest.text_body
    make_evidence(session, occurrences=[period], recorded_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    queue_due(session=session, settings=settings, on=due + 28 * DAY)
    assert len(messages(session, period)) == 7  # evidence recorded: no more escalations


def test_a_missed_day_is_caught_up_once_and_a_changed_due_date_starts_again(
    session, settings, council
):
    period = later_period(session, council)
    queue_due(session=session, settings=settings, on=period.due_date - 5 * DAY)
    assert [m.idempotency_key.rsplit(":", 1)[1] for m in messages(session, period)] == ["7"]
    period.due_date += 30 * DAY
    session.flush()
    queue_due(session=session, settings=settings, on=period.due_date - 29 * DAY)
    assert [m.idempotency_key.rsplit(":", 1)[1] for m in messages(session, period)] == ["7", "30"]


def test_a_body_may_set_its_own_reminder_days(session, settings, council):
    set_body_reminders(session=session, actor="test", body_id=council.id, reminder_days="14, 2")
    period = later_period(session, council)
    queue_due(session=session, settings=settings, on=period.due_date - 20 * DAY)
    assert messages(session, period) == []
    queue_due(session=session, settings=settings, on=period.due_date - 14 * DAY)
    assert [m.idempotency_key.rsplit(":", 1)[1] for m in messages(session, period)] == ["14"]
    with pytest.raises(Refused):
        set_body_reminders(session=session, actor="t", body_id=council.id, reminder_days="7,x")


def test_a_conventions_date_is_left_to_the_digest_and_never_chased(session, settings, council):
    period = later_period(session, council, statutory=False)
    due = period.due_date
    for day in (due - 30 * DAY, due - DAY, due + DAY, due + 7 * DAY, due + 14 * DAY):
        queue_due(session=session, settings=settings, on=day)
    assert messages(session, period) == []
    # The same period, its date set by law, brings its reminders and is chased once passed.
    later_period(session, council, statutory=True)
    for day in (due - 30 * DAY, due - DAY, due + DAY):
        queue_due(session=session, settings=settings, on=day)
    assert [m.kind for m in messages(session, period)] == ["reminder", "reminder", "overdue"]


def test_the_owner_gets_it_unless_they_chose_the_digest_or_are_away(session, settings, council):
    period = later_period(session, council)
    owner = person(session, "owner@council.example.org", body=council)
    deputy = person(session, "deputy@council.example.org", body=council)
    session.get(Obligation, period.obligation_id).owner_id = owner.id
    session.flush()
    due = period.due_date
    queue_due(session=session, settings=settings, on=due - 30 * DAY)
    assert messages(session, period)[-1].to_user_id == owner.id
    set_preferences(session=session, actor="owner", user=owner, digest_only=True)
    report = queue_due(session=session, settings=settings, on=due - 7 * DAY)
    assert len(messages(session, period)) == 1 and report.digest_only >= 1
    set_preferences(
        session=session,
        actor="owner",
        user=owner,
        digest_only=False,
        paused_from_date=due - 2 * DAY,
        paused_until_date=due + 3 * DAY,
        delegate_id=deputy.id,
    )
    queue_due(session=session, settings=settings, on=due - DAY)
    delegated = messages(session, period)[-1]
    assert delegated.to_address == "deputy@council.example.org"
    assert "delegate of Owner" in delegated.text_body
    set_preferences(
        session=session,
        actor="owner",
        user=owner,
        digest_only=False,
        paused_from_date=due,
        paused_until_date=None,
    )
    queue_due(session=session, settings=settings, on=due + DAY)
    assert messages(session, period)[-1].to_address == "governance@council.example.org"
    with pytest.raises(Refused):
        set_preferences(
            session=session, actor="o", user=owner, digest_only=False, delegate_id=owner.id
        )
    with pytest.raises(Refused):
        set_preferences(
            session=session,
            actor="o",
            user=owner,
            digest_only=False,
            paused_from_date=ON,
            paused_until_date=ON - DAY,
        )


def test_without_a_contact_each_officer_for_the_body_is_told(session, settings):
    body = make_body(session)
    sync_obligations(session=session, on=ON)
    period = later_period(session, body)
    person(session, "a@council.example.org", body=body)
    person(session, "b@council.example.org", body=body)
    person(session, "inspector@cqc.example.org", role="inspector", body=body)
    queue_due(session=session, settings=settings, on=period.due_date - 30 * DAY)
    queue_due(session=session, settings=settings, on=period.due_date - 29 * DAY)
    found = messages(session, period)
    assert sorted(m.to_address for m in found) == ["a@council.example.org", "b@council.example.org"]


@pytest.fixture
def catalogue_duty(session):
    from compliance.models import Deliverable, Duty

    query = select(Duty).join(Deliverable).where(Deliverable.held_by == "partnership")
    return session.exec(query).first()


def test_partnership_obligations_go_to_the_lead_body(session, settings, catalogue_duty):
    lead = make_body(session, email="lead@council.example.org")
    board = make_partnership(session, duties=[catalogue_duty], members=[lead])
    board.lead_body_id = lead.id
    session.flush()
    sync_obligations(session=session, on=ON)
    period = later_period(session, partnership=board)
    queue_due(session=session, settings=settings, on=period.due_date - 7 * DAY)
    assert [m.to_address for m in messages(session, period)] == ["lead@council.example.org"]


def test_an_email_names_the_body_duty_citation_due_date_and_links(session, settings, council):
    period = later_period(session, council)
    queue_due(session=session, settings=settings, on=period.due_date - 7 * DAY)
    row = messages(session, period)[0]
    obligation = session.get(Obligation, period.obligation_id)
    mail = message_from_bytes(build_message(row, settings).as_bytes(), policy=policy.default)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    due = f"{period.due_date.day} {period.due_date:%B %Y}"
    base = settings.base_url
    for part in (text, html):
        assert council.name in part and due in part
        assert f"{base}/obligations/{obligation.id}" in part
        assert f"{base}/obligations/{obligation.id}/evidence/new" in part
        assert f"{base}/account/email" in part
        assert "https://www.legislation.gov.uk/" in part
    assert mail["Message-ID"] == row.message_id and row.subject.startswith("Due in 7 days")
    tree = parse(html)
    assert tree.get("lang") == "en-GB" and tree.find(".//a[@href]") is not None


def test_query_and_answer_notices_reach_the_officer_and_the_inspector(
    session, settings, council, tmp_path
):
    officer = person(session, "officer@council.example.org", body=council)
    inspector = person(session, "inspector@cqc.example.org", role="inspector", body=council)
    period = later_period(session, council)
    data = EvidenceCreate(
        kind="link",
        title="Board minutes",
        effective_date=ON,
        url="https://council.example.org/minutes",
        occurrence_ids=[period.id],
    )
    evidence = record(session=session, data_dir=tmp_path, max_bytes=1000, actor=officer, data=data)
    query = review(
        session=session,
        actor=inspector,
        evidence_id=evidence.id,
        verdict=ReviewVerdict.queried,
        comment="These are the 2024 minutes & not <2025>",
    )
    assert queue_query_notice(session=session, settings=settings, comment=query) == 1
    assert queue_query_notice(session=session, settings=settings, comment=query) == 0
    reply = answer(session=session, actor=officer, evidence_id=evidence.id, body="Corrected.")
    assert queue_answer_notice(session=session, settings=settings, comment=reply) == 1
    queried, answered = messages(session, kind="query"), messages(session, kind="answer")
    assert [m.to_address for m in queried] == ["officer@council.example.org"]
    assert [m.to_address for m in answered] == ["inspector@cqc.example.org"]
    assert "2024 minutes & not <2025>" in queried[0].text_body
    assert "2024 minutes &amp; not &lt;2025&gt;" in queried[0].html_body
    assert "Corrected." in answered[0].text_body and queried[0].evidence_id == evidence.id


def test_a_weekly_digest_per_user_once_a_week_to_the_delegate_when_away(session, settings, council):
    officer = person(session, "officer@council.example.org", body=council)
    person(session, "nobody@council.example.org")  # no scope: no digest
    monday = week_of(later_period(session, council).due_date - 10 * DAY)
    soon = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.body_id == council.id)
        .where(Period.due_date >= monday, Period.due_date <= monday + 30 * DAY)
    ).all()
    report = queue_digests(session=session, settings=settings, on=monday)
    again = queue_digests(session=session, settings=settings, on=monday + 2 * DAY)  # same week
    digests = messages(session, kind="digest")
    assert report.queued == {"digest": 1} and again.queued == {} and len(digests) == 1
    assert digests[0].to_user_id == officer.id
    assert digests[0].idempotency_key == f"digest:{officer.id}:{monday.isoformat()}"
    assert soon and f"{len(soon)} due in the next 30 days" in digests[0].subject
    assert all(f"/obligations/{o.obligation_id}/evidence/new" in digests[0].text_body for o in soon)
    parse(digests[0].html_body)
    # A delegate must be able to read all the officer can: a colleague at the same council.
    deputy = person(session, "deputy@council.example.org", body=council)
    set_preferences(
        session=session,
        actor="o",
        user=officer,
        digest_only=True,
        paused_from_date=monday,
        paused_until_date=monday + 30 * DAY,
        delegate_id=deputy.id,
    )
    queue_digests(session=session, settings=settings, on=monday + 7 * DAY)
    next_week = f"digest:{officer.id}:{(monday + 7 * DAY).isoformat()}"
    delegated = [m for m in messages(session, kind="digest") if m.idempotency_key == next_week]
    assert [m.to_address for m in delegated] == ["deputy@council.example.org"]


def test_a_delegate_must_see_everything_the_user_can(session, settings, council):
    officer = person(session, "officer@council.example.org", body=council)
    elsewhere = person(session, "police@police.example.org", body=make_body(session, code="QOX"))
    with pytest.raises(Refused, match="every body and partnership you can"):
        set_preferences(
            session=session, actor="o", user=officer, digest_only=False, delegate_id=elsewhere.id
        )
    colleague = person(session, "colleague@council.example.org", body=council)
    chosen = set_preferences(
        session=session, actor="o", user=officer, digest_only=False, delegate_id=colleague.id
    )
    assert chosen.delegate_id == colleague.id
