"""The account page: who you are, and making and revoking your API tokens."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.accounts.models import ApiToken
from compliance.accounts.tokens import create_token
from compliance.models import AuditEvent
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body
from tests.html import parse

TOKEN = re.compile(r"cpt_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def officer(session):  # type: ignore[no-untyped-def]
    make_body(session, code="E06000052", name="Cornwall Council")
    return make_user(session, "officer", bodies=["E06000052"], email="jenna.rowe@example.org")


@pytest.fixture
def browser(app, officer):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    sign_in(client, officer.email)
    return client


def _tokens(session, user) -> list[ApiToken]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id)))


def _text(page: str) -> str:
    return " ".join("".join(parse(page).find(".//main").itertext()).split())


def test_the_page_needs_a_signed_in_user_and_every_page_links_to_it(client, browser):
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
    header = parse(browser.get("/findings").text).find(".//header")
    assert [a.get("href") for a in header.iter("a")].count("/account") == 1


def test_the_page_says_who_you_are(browser, officer):
    response = browser.get("/account")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    text = _text(response.text)
    assert officer.email in text and "Officer" in text and "E06000052" in text
    assert "You have no API tokens" in text
    labels = {label.get("for") for label in parse(response.text).iter("label")}
    assert {"name", "expires_days"} <= labels


def test_a_token_is_shown_once_then_works_until_revoked(app, browser, session, officer):
    csrf = csrf_of(browser, "/account")
    made = browser.post(
        "/account/tokens",
        data={"csrf_token": csrf, "name": "Power BI refresh", "expires_days": "30"},
    )
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    panel = parse(made.text).find(".//div[@class='govuk-panel govuk-panel--confirmation']")
    token = panel.find(".//code").text
    assert TOKEN.fullmatch(token)
    assert "will not be shown again" in _text(made.text)
    (row,) = _tokens(session, officer)
    assert (row.name, token.startswith(row.prefix)) == ("Power BI refresh", True)

    api = TestClient(app)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == officer.email

    again = browser.get("/account")
    assert token not in again.text and row.prefix in again.text
    assert "Live" in _text(again.text)
    assert not TOKEN.search(again.text)

    revoked = browser.post(
        f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    after = browser.get(revoked.headers["location"])
    assert "is revoked" in _text(after.text) and "Revoked" in _text(after.text)
    assert not parse(after.text).findall(f".//form[@action='/account/tokens/{row.id}/revoke']")
    assert row.revoked_at is not None
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    for event in session.exec(select(AuditEvent)):
        assert token[len(row.prefix) :] not in str([event.before, event.after])


@pytest.mark.parametrize(
    ("name", "days", "field", "message"),
    [
        ("", "30", "name", "Enter a name for the token"),
        ("   ", "30", "name", "Enter a name for the token"),
        ("x" * 101, "30", "name", "Enter a name for the token"),
        ("Feed", "0", "expires_days", "Enter a whole number of days from 1 to 366"),
        ("Feed", "367", "expires_days", "Enter a whole number of days from 1 to 366"),
        ("Feed", "ninety", "expires_days", "Enter a whole number of days from 1 to 366"),
        ("Feed", "²", "expires_days", "Enter a whole number of days from 1 to 366"),
        ("Feed", "", "expires_days", "Enter a whole number of days from 1 to 366"),
        # Refused by the database boundary; the page was a 500 before it rolled back.
        ("a\x00b", "30", "name", "NUL character"),
    ],
)
def test_bad_input_is_shown_again_with_the_error_and_nothing_is_made(
    browser, session, officer, name, days, field, message
):
    csrf = csrf_of(browser, "/account")
    response = browser.post(
        "/account/tokens", data={"csrf_token": csrf, "name": name, "expires_days": days}
    )
    assert response.status_code == 422
    tree = parse(response.text)
    summary = tree.find(".//div[@class='govuk-error-summary']")
    assert [a.get("href") for a in summary.iter("a")] == [f"#{field}"]
    assert message in "".join(summary.itertext())
    assert tree.find(f".//p[@id='{field}-error']") is not None
    assert f"{field}-error" in tree.find(f".//input[@id='{field}']").get("aria-describedby")
    assert tree.find(".//title").text.startswith("Error:")
    assert _tokens(session, officer) == []


def test_forms_without_the_session_token_change_nothing(browser, session, officer):
    made = browser.post("/account/tokens", data={"name": "Feed", "expires_days": "30"})
    assert made.status_code == 403
    assert _tokens(session, officer) == []
    _, row = create_token(session=session, user=officer, name="Feed", actor="test")
    revoked = browser.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": "forged"})
    assert revoked.status_code == 403
    assert row.revoked_at is None


def test_nobody_revokes_another_users_token_from_their_page(browser, session):
    other = make_user(session, "officer")
    _, row = create_token(session=session, user=other, name="Theirs", actor="test")
    csrf = csrf_of(browser, "/account")
    response = browser.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 404
    assert row.revoked_at is None
    assert "Theirs" not in browser.get("/account").text
