"""Credentials: people change their own password, an administrator sets a lost one from the
command line, and a weak secret key is refused outside development (issue 15, items 2 and 8)."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select

from compliance.accounts.models import UserSession
from compliance.accounts.passwords import CURRENT_WRONG, THROTTLED, TOO_SHORT
from compliance.accounts.service import password_matches, start_session
from compliance.config import Settings
from compliance.db import make_engine
from compliance.models import AuditEvent, User
from tests.conftest import PASSWORD, csrf_of, make_user, sign_in
from tests.html import parse

NEW = "a brand new password for the tracker"


def _signed_in(app, email: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    sign_in(client, email)
    return client


def _change(client: TestClient, current: str, new: str, confirm: str | None = None):  # type: ignore[no-untyped-def]
    form = {
        "csrf_token": csrf_of(client, "/account/password"),
        "current_password": current,
        "new_password": new,
        "confirm_password": new if confirm is None else confirm,
    }
    return client.post("/account/password", data=form, follow_redirects=False)


def _events(session: Session, user: User) -> list[AuditEvent]:
    query = select(AuditEvent).where(
        AuditEvent.entity_type == "user",
        AuditEvent.entity_id == str(user.id),
        AuditEvent.action.like("user.password%"),
    )
    return list(session.exec(query).all())


def test_changing_your_password_keeps_you_signed_in_and_signs_out_the_rest(app, session):
    user = make_user(session, "officer")
    here, elsewhere = _signed_in(app, user.email), _signed_in(app, user.email)
    form = here.get("/account/password")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    parse(form.text)
    answer = _change(here, PASSWORD, NEW)
    assert answer.status_code == 303 and answer.headers["location"] == "/account?password=changed"
    account = here.get(answer.headers["location"])
    parse(account.text)
    assert account.status_code == 200 and "Your password is changed" in account.text
    assert elsewhere.get("/", follow_redirects=False).status_code == 303  # signed out there
    session.refresh(user)
    assert password_matches(user, NEW) and not password_matches(user, PASSWORD)
    [event] = _events(session, user)
    assert (event.action, event.actor) == ("user.password_changed", user.email)
    assert PASSWORD not in str(event.after) and NEW not in str(event.after)


def test_a_wrong_current_password_changes_nothing(app, session):
    user = make_user(session, "officer")
    here, elsewhere = _signed_in(app, user.email), _signed_in(app, user.email)
    before = user.password_hash
    answer = _change(here, "not my password at all", NEW)
    assert answer.status_code == 422
    page = parse(answer.text)
    assert CURRENT_WRONG in answer.text
    assert page.find(".//a[@href='#current_password']") is not None  # the error summary
    assert NEW not in answer.text  # nothing typed is written back into the page
    session.refresh(user)
    assert user.password_hash == before and _events(session, user) == []
    assert elsewhere.get("/", follow_redirects=False).status_code == 200


def test_each_field_says_what_is_wrong(app, session):
    user = make_user(session, "officer")
    here = _signed_in(app, user.email)
    short = _change(here, "", "short", "shorter")
    assert short.status_code == 422
    page = parse(short.text)
    links = [a.get("href") for a in page.iterfind(".//div[@class='govuk-error-summary']//a")]
    assert links == ["#current_password", "#new_password", "#confirm_password"]
    assert "Enter your current password" in short.text and TOO_SHORT in short.text
    mismatch = _change(here, PASSWORD, NEW, NEW + " but different")
    assert "The passwords you entered do not match" in mismatch.text
    same = _change(here, PASSWORD, PASSWORD)
    assert "different from your current one" in same.text
    session.refresh(user)
    assert password_matches(user, PASSWORD) and _events(session, user) == []


def test_guessing_the_current_password_is_throttled(app, session, settings):
    user = make_user(session, "officer")
    here = _signed_in(app, user.email)
    for _ in range(settings.sign_in_max_failures):
        assert _change(here, "a wrong guess here", NEW).status_code == 422
    refused = _change(here, PASSWORD, NEW)
    assert refused.status_code == 429 and THROTTLED in refused.text
    session.refresh(user)
    assert password_matches(user, PASSWORD)


def test_the_form_needs_its_csrf_token(app, session):
    user = make_user(session, "officer")
    here = _signed_in(app, user.email)
    form = {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW}
    assert here.post("/account/password", data=form).status_code == 403
    session.refresh(user)
    assert password_matches(user, PASSWORD)


def test_an_administrator_sets_a_lost_password_from_standard_input(run, fresh_url):
    assert run("init").exit_code == 0
    added = run("user", "add", "--email", "Lost@Example.org", "--role", "officer", stdin=PASSWORD)
    assert added.exit_code == 0, added.output
    engine = make_engine(fresh_url)
    with Session(engine) as session:
        user = session.exec(select(User)).one()
        start_session(session=session, user=user, address="192.0.2.1", user_agent=None)
        session.commit()
    done = run("user", "set-password", "lost@example.org", stdin=NEW + "\n")
    assert done.exit_code == 0, done.output
    assert "Password set for lost@example.org" in done.output and NEW not in done.output
    with Session(engine) as session:
        user = session.exec(select(User)).one()
        assert password_matches(user, NEW)
        assert all(row.revoked_at for row in session.exec(select(UserSession)))
        [event] = _events(session, user)
        assert (event.action, event.actor) == ("user.password_set", "cli")
    engine.dispose()


def test_set_password_refuses_a_short_password_and_an_unknown_user(run):
    assert run("init").exit_code == 0
    added = run("user", "add", "--email", "a@example.org", "--role", "admin", stdin=PASSWORD)
    assert added.exit_code == 0, added.output
    short = run("user", "set-password", "a@example.org", stdin="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr
    unknown = run("user", "set-password", "nobody@example.org", stdin=NEW + "\n")
    assert unknown.exit_code == 1 and "No user with the email nobody@example.org" in unknown.stderr


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x",
        "change-me-change-me-change-me-change-me",
        "your-secret-key-goes-here-0123456789",
        "django-insecure-0123456789abcdefghijklmnop",
        "EXAMPLE_SECRET_FOR_THE_README_0123456789",
    ],
)
def test_a_weak_secret_key_is_refused_in_production_naming_the_setting(key):
    with pytest.raises(ValidationError, match="COMPLIANCE_SECRET_KEY"):
        Settings(environment="production", secret_key=key)


def test_a_random_secret_key_is_accepted_and_weak_ones_outside_production():
    random_key = "9f2c4e7a1b0d3f6e8a5c2b7d4e1f0a9c3b6d8e2f5a7c1b4d0e3f6a9c2b5d8e1f"
    assert Settings(environment="production", secret_key=random_key).secret_key == random_key
    assert Settings(environment="test", secret_key="x").secret_key == "x"
    assert Settings(environment="development", secret_key="").secret_key == ""
