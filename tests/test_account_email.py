"""The account's email preferences (digest, pause, delegate) and calendar subscription, used as
a signed-in person would use them in the pages."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import select

from compliance.mailer import reminder_email
from compliance.models import Obligation, Period
from compliance.obligations.service import sync_obligations
from compliance.reminders.models import CalendarToken, EmailPreference
from compliance.reminders.service import Directory, Recipient
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body
from tests.html import parse

CORNWALL = "E06000052"
FEED = re.compile(r"/calendar/([A-Za-z0-9_-]{40,})\.ics")


@pytest.fixture
def cornwall(session):  # type: ignore[no-untyped-def]
    return make_body(session, code=CORNWALL, name="Cornwall Council")


@pytest.fixture
def officer(session, cornwall):  # type: ignore[no-untyped-def]
    return make_user(session, "officer", bodies=[CORNWALL], email="jenna.rowe@example.org")


@pytest.fixture
def deputy(session, cornwall):  # type: ignore[no-untyped-def]
    return make_user(session, "officer", bodies=[CORNWALL], email="sam.deputy@example.org")


@pytest.fixture
def browser(app, officer):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    sign_in(client, officer.email)
    return client


def _text(page: str) -> str:
    return " ".join("".join(parse(page).find(".//main").itertext()).split())


def _typed(name: str, day: str, month: str, year: str) -> dict[str, str]:
    return {f"{name}-day": day, f"{name}-month": month, f"{name}-year": year}


def _date(name: str, day: dt.date | None) -> dict[str, str]:
    return (
        _typed(name, str(day.day), str(day.month), str(day.year))
        if day
        else _typed(name, "", "", "")
    )


def _form_token(browser, page: str, action: str) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token the page's own form sends, which must be the session's."""
    form = parse(browser.get(page).text).find(f".//main//form[@action='{action}']")
    token = form.find(".//input[@name='csrf_token']").get("value")
    assert token == csrf_of(browser, page)
    return token


def _save(browser, **fields: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": _form_token(browser, "/account/email", "/account/email"), **fields}
    return browser.post("/account/email", data=data, follow_redirects=False)


def _summary(page: str) -> list[tuple[str, str]]:
    summary = parse(page).find(".//div[@class='govuk-error-summary']")
    return [(a.get("href"), " ".join("".join(a.itertext()).split())) for a in summary.iter("a")]


def _preference(session, user) -> EmailPreference | None:  # type: ignore[no-untyped-def]
    return session.get(EmailPreference, user.id)


# Email preferences ----------------------------------------------------------------------------


def test_the_link_in_every_emails_footer_opens_the_preferences(
    session, settings, browser, cornwall, officer
):
    sync_obligations(session=session, on=settings.today())
    occurrence, obligation = session.exec(
        select(Period, Obligation)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.body_id == cornwall.id)
    ).first()
    item = Directory(session, settings, settings.today()).item(obligation, occurrence)
    recipient = Recipient(officer.email, officer.id, officer.name)
    email = reminder_email(base_url=settings.base_url, item=item, recipient=recipient, days_left=3)
    (link,) = [
        a.get("href") for a in parse(email.html).iter("a") if "preferences" in "".join(a.itertext())
    ]
    assert link == f"{settings.base_url}/account/email" and link in email.text
    response = browser.get(urlsplit(link).path)
    assert response.status_code == 200
    assert parse(response.text).find(".//h1").text == "Email preferences"
    account = [a.get("href") for a in parse(browser.get("/account").text).iter("a")]
    assert "/account/email" in account and "/account/calendar" in account


def test_the_page_needs_a_signed_in_user(client):
    response = client.get("/account/email", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")


def test_digest_pause_and_delegate_are_saved_and_shown_again(
    session, settings, browser, officer, deputy
):
    start = settings.today() + dt.timedelta(days=10)
    end = start + dt.timedelta(days=14)
    response = _save(
        browser,
        digest_only="yes",
        **_date("paused_from_date", start),
        **_date("paused_until_date", end),
        delegate_id=str(deputy.id),
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account/email?saved=true"
    saved = _preference(session, officer)
    assert (saved.digest_only, saved.paused_from_date, saved.paused_until_date) == (
        True,
        start,
        end,
    )
    assert saved.delegate_id == deputy.id
    page = browser.get(response.headers["location"])
    assert "Your email preferences are saved" in _text(page.text)
    tree = parse(page.text)
    assert tree.find(".//input[@name='digest_only'][@value='yes']").get("checked") is not None
    assert tree.find(".//input[@name='paused_until_date-day']").get("value") == str(end.day)
    chosen = tree.find(".//select[@id='delegate_id']/option[@selected]")
    assert chosen.get("value") == str(deputy.id) and deputy.email in chosen.text


def test_the_form_left_at_its_defaults_saves_without_an_error(session, browser, officer):
    page = parse(browser.get("/account/email").text)
    assert page.find(".//input[@name='digest_only'][@value='no']").get("checked") is not None
    options = page.findall(".//select[@id='delegate_id']/option")
    assert (options[0].get("value"), options[0].text) == ("", "Nobody")
    assert not [o for o in options if o.get("selected") is not None]
    response = _save(browser, digest_only="no", delegate_id="", **_date("paused_from_date", None))
    assert response.status_code == 303, _text(response.text)
    saved = _preference(session, officer)
    assert (saved.digest_only, saved.paused_from_date, saved.delegate_id) == (False, None, None)
    assert _save(browser).status_code == 303  # nothing sent at all: the same defaults


def test_a_pause_ending_before_it_starts_comes_back_with_what_was_typed(
    session, settings, browser, officer
):
    start = settings.today() + dt.timedelta(days=10)
    typed = {
        "digest_only": "yes",
        **_date("paused_from_date", start),
        **_date("paused_until_date", start - dt.timedelta(days=1)),
    }
    response = _save(browser, **typed)
    assert response.status_code == 422
    assert _summary(response.text) == [
        ("#paused_until_date-day", "The pause must end on or after the day it starts")
    ]
    tree = parse(response.text)
    assert tree.find(".//title").text.startswith("Error: ")
    assert tree.find(".//p[@id='paused_until_date-error']") is not None
    for name, value in typed.items():
        if name != "digest_only":
            assert tree.find(f".//input[@name='{name}']").get("value") == value
    assert tree.find(".//input[@name='digest_only'][@value='yes']").get("checked") is not None
    assert _preference(session, officer) is None


def test_impossible_dates_are_refused_in_the_order_of_the_form(
    session, settings, browser, officer, deputy
):
    year = str(settings.today().year + 1)
    response = _save(
        browser,
        **_typed("paused_from_date", "31", "2", year),
        **_typed("paused_until_date", "x", "3", year),
        delegate_id=str(officer.id),
    )
    assert response.status_code == 422
    hrefs, messages = zip(*_summary(response.text), strict=True)
    assert hrefs == ("#paused_from_date-day", "#paused_until_date-day", "#delegate_id")
    assert messages[0].startswith("Enter a real date") and messages[1].startswith(
        "Enter a real date"
    )
    assert messages[2] == "You cannot stand in for yourself: choose someone else, or nobody"
    assert parse(response.text).find(".//input[@name='paused_from_date-day']").get("value") == "31"
    assert _preference(session, officer) is None


def test_an_end_without_a_start_is_refused(session, settings, browser, officer):
    response = _save(browser, **_date("paused_until_date", settings.today()))
    assert response.status_code == 422
    assert [href for href, _ in _summary(response.text)] == ["#paused_from_date-day"]
    assert _preference(session, officer) is None


def test_yourself_or_someone_outside_your_scope_is_not_a_delegate(
    session, browser, officer, deputy
):
    make_body(session, code="E06000053", name="Council of the Isles of Scilly")
    stranger = make_user(session, "officer", bodies=["E06000053"], email="far.away@example.org")
    admin = make_user(session, "admin", email="admin.person@example.org")
    gone = make_user(session, "officer", bodies=[CORNWALL], email="gone@example.org")
    gone.is_active = False
    session.flush()
    options = {
        o.get("value")
        for o in parse(browser.get("/account/email").text).iter("option")
        if o.get("value")
    }
    assert options == {str(deputy.id), str(admin.id)}
    for refused, message in [
        (officer.id, "You cannot stand in for yourself: choose someone else, or nobody"),
        (stranger.id, "Choose someone from the list, or nobody"),
        (gone.id, "Choose someone from the list, or nobody"),
        ("nobody", "Choose someone from the list, or nobody"),
    ]:
        response = _save(browser, delegate_id=str(refused))
        assert response.status_code == 422
        assert _summary(response.text) == [("#delegate_id", message)]
    assert _preference(session, officer) is None


def test_a_paused_user_is_told_who_stands_in(session, settings, browser, officer, deputy):
    today = settings.today()
    fields = {**_date("paused_from_date", today), "delegate_id": str(deputy.id)}
    assert _save(browser, **fields).status_code == 303
    text = _text(browser.get("/account/email").text)
    assert f"Your email is paused today: your reminders go to {deputy.name} instead" in text


# Calendar subscription ------------------------------------------------------------------------


def _create(browser):  # type: ignore[no-untyped-def]
    csrf = _form_token(browser, "/account/calendar", "/account/calendar")
    return browser.post("/account/calendar", data={"csrf_token": csrf})


def test_a_calendar_address_is_shown_once_and_its_feed_answers(
    app, session, settings, browser, officer, cornwall
):
    sync_obligations(session=session, on=settings.today())
    page = browser.get("/account/calendar")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "You have no calendar addresses" in _text(page.text)
    made = _create(browser)
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    tree = parse(made.text)
    field = tree.find(".//input[@id='calendar-address']")
    assert field.get("readonly") is not None
    assert tree.find(".//label[@for='calendar-address']").text == "Your calendar address"
    address = field.get("value")
    assert address.startswith(settings.base_url) and "will not be shown again" in _text(made.text)
    (secret,) = FEED.findall(address)
    (row,) = session.exec(select(CalendarToken).where(CalendarToken.user_id == officer.id))
    assert secret not in str(row)

    again = browser.get("/account/calendar")
    assert secret not in again.text and not FEED.search(again.text)
    assert f"Calendar address {row.id}" in _text(again.text)

    feed = TestClient(app).get(urlsplit(address).path)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    events = list(Calendar.from_ical(feed.content).walk("VEVENT"))
    assert events and all(cornwall.name in str(e["summary"]) for e in events)


def test_revoking_asks_first_then_the_feed_is_refused(app, session, browser, officer):
    address = parse(_create(browser).text).find(".//input[@id='calendar-address']").get("value")
    (row,) = session.exec(select(CalendarToken).where(CalendarToken.user_id == officer.id))
    listing = parse(browser.get("/account/calendar").text)
    link = listing.find(f".//a[@href='/account/calendar/{row.id}/revoke']")
    assert link is not None and "warning" not in (link.get("class") or "")

    confirm = browser.get(f"/account/calendar/{row.id}/revoke")
    assert confirm.status_code == 200
    form = parse(confirm.text).find(f".//form[@action='/account/calendar/{row.id}/revoke']")
    assert "govuk-button--warning" in form.find(".//button").get("class")
    assert row.revoked_at is None  # looking at the question changes nothing

    confirming = f"/account/calendar/{row.id}/revoke"
    csrf = _form_token(browser, confirming, confirming)
    done = browser.post(
        f"/account/calendar/{row.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and row.revoked_at is not None
    after = browser.get(done.headers["location"])
    assert f"Calendar address {row.id} is revoked" in _text(after.text)
    assert "You have no calendar addresses" in _text(after.text)
    assert TestClient(app).get(urlsplit(address).path).status_code == 404
    assert browser.get(f"/account/calendar/{row.id}/revoke").status_code == 404


def test_nobody_revokes_another_users_calendar(app, session, browser, deputy):
    other = TestClient(app)
    sign_in(other, deputy.email)
    _create(other)
    (row,) = session.exec(select(CalendarToken).where(CalendarToken.user_id == deputy.id))
    assert browser.get(f"/account/calendar/{row.id}/revoke").status_code == 404
    csrf = csrf_of(browser, "/account/calendar")
    refused = browser.post(f"/account/calendar/{row.id}/revoke", data={"csrf_token": csrf})
    assert refused.status_code == 404 and row.revoked_at is None
    assert f"Calendar address {row.id}" not in _text(browser.get("/account/calendar").text)
    forged = other.post(f"/account/calendar/{row.id}/revoke", data={"csrf_token": "forged"})
    assert forged.status_code == 403 and row.revoked_at is None


def test_api_tokens_are_revoked_after_a_confirmation_too(session, browser, officer):
    from compliance.accounts.tokens import create_token

    _, token = create_token(session=session, user=officer, name="Feed", actor="test")
    account = parse(browser.get("/account").text)
    assert account.find(f".//a[@href='/account/tokens/{token.id}/revoke']") is not None
    assert not [b for b in account.iter("button") if "warning" in (b.get("class") or "")]
    confirm = parse(browser.get(f"/account/tokens/{token.id}/revoke").text)
    form = confirm.find(f".//form[@action='/account/tokens/{token.id}/revoke']")
    assert "govuk-button--warning" in form.find(".//button").get("class")
    assert token.revoked_at is None
