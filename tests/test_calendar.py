"""Calendar feeds: every deadline as an all-day event at a secret, revocable address; parsed
back with icalendar."""

import datetime as dt
import hashlib

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import select

from compliance.calendar import pages
from compliance.calendar.service import calendar_url, issue_token, revoke_token
from compliance.config import Settings
from compliance.models import Obligation, Period, User, UserScope
from compliance.obligations.service import sync_obligations
from compliance.reminders.models import CalendarToken
from compliance.reminders.preferences import set_body_reminders
from tests.factories import make_body, make_evidence

ON = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def as_at(monkeypatch):  # type: ignore[no-untyped-def]
    """The feeds are read on ON, whatever the date today."""
    monkeypatch.setattr(Settings, "today", lambda self: ON)


@pytest.fixture
def browser(app):  # type: ignore[no-untyped-def]
    """Nobody signed in: the token in the address is the only credential."""
    if not any(isinstance(r, APIRoute) and r.path == "/calendar/{token}.ics" for r in app.routes):
        app.include_router(pages.router)  # until main.py includes it
    with TestClient(app) as client:
        yield client


@pytest.fixture
def council(session):
    body = make_body(session)
    sync_obligations(session=session, on=ON)
    return body


def periods_of(session, body):
    return session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.body_id == body.id, Obligation.closed_date.is_(None))
    ).all()


def fetch(browser, token):
    response = browser.get(f"/calendar/{token}.ics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def test_a_body_feed_has_every_deadline_as_an_all_day_event_with_alarms(
    session, settings, browser, council
):
    set_body_reminders(session=session, actor="t", body_id=council.id, reminder_days="30,7,1")
    token, row = issue_token(session=session, actor="t", body_id=council.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in str(row)
    assert calendar_url(settings=settings, token=token).endswith(f"/calendar/{token}.ics")
    periods = periods_of(session, council)
    events = {e["uid"]: e for e in fetch(browser, token).walk("VEVENT")}
    assert len(events) == len(periods) > 5
    period = min((p for p in periods if p.due_date > ON), key=lambda p: p.due_date)
    event = events[f"occurrence-{period.id}@127.0.0.1"]
    assert event.decoded("dtstart") == period.due_date
    assert event.decoded("dtend") == period.due_date + dt.timedelta(days=1)
    assert str(event["url"]) == f"{settings.base_url}/obligations/{period.obligation_id}"
    description = str(event["description"])
    assert "https://www.legislation.gov.uk/" in description and council.name in description
    assert "/evidence/new" in description
    triggers = sorted(a.decoded("trigger") for a in event.walk("VALARM"))
    assert triggers == [dt.timedelta(days=-30), dt.timedelta(days=-7), dt.timedelta(days=-1)]
    overdue = next(p for p in periods if p.due_date < ON)  # an alarm in the past would go off
    assert events[f"occurrence-{overdue.id}@127.0.0.1"].walk("VALARM") == []


def test_a_changed_due_date_moves_the_same_event_and_evidence_silences_its_alarms(
    session, browser, council
):
    token, _ = issue_token(session=session, actor="t", body_id=council.id)
    period = next(p for p in periods_of(session, council) if p.due_date > ON)
    uid = f"occurrence-{period.id}@127.0.0.1"
    period.due_date += dt.timedelta(days=10)
    make_evidence(session, occurrences=[period], recorded_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    session.flush()
    event = next(e for e in fetch(browser, token).walk("VEVENT") if e["uid"] == uid)
    assert event.decoded("dtstart") == period.due_date and event.walk("VALARM") == []


def test_a_user_feed_covers_their_scope(session, browser, council):
    elsewhere = make_body(session)
    sync_obligations(session=session, on=ON)
    user = User(email="officer@council.example.org", name="Officer", role="officer")
    session.add(user)
    session.flush()
    session.add(UserScope(user_id=user.id, body_id=council.id))
    session.flush()
    token, _ = issue_token(session=session, actor="t", user_id=user.id)
    uids = {str(e["uid"]) for e in fetch(browser, token).walk("VEVENT")}
    assert uids == {f"occurrence-{p.id}@127.0.0.1" for p in periods_of(session, council)}
    assert not uids & {f"occurrence-{p.id}@127.0.0.1" for p in periods_of(session, elsewhere)}


def test_unknown_and_revoked_tokens_are_not_found(session, browser, council):
    token, row = issue_token(session=session, actor="t", body_id=council.id)
    assert browser.get("/calendar/not-a-token.ics").status_code == 404
    assert revoke_token(session=session, actor="t", token_id=row.id) is True
    assert revoke_token(session=session, actor="t", token_id=row.id) is False
    assert browser.get(f"/calendar/{token}.ics").status_code == 404
    assert session.exec(select(CalendarToken)).all()[0].revoked_at is not None
