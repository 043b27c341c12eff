"""Sign-in, sessions and users."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from compliance.accounts.models import SignInAttempt, UserSession
from compliance.accounts.service import SIGN_IN_FAILED, THROTTLED
from compliance.cli import app as cli
from compliance.config import get_settings
from compliance.deps import SESSION_COOKIE
from compliance.models import User, utcnow
from tests.conftest import PASSWORD, make_user, sign_in


def attempt(client, email, password):  # type: ignore[no-untyped-def]
    return client.post(
        "/sign-in", data={"email": email, "password": password}, follow_redirects=False
    )


def test_the_same_message_whether_or_not_the_account_exists(app, session):
    user = make_user(session, "officer")
    client = TestClient(app)
    wrong = attempt(client, user.email, "not the password")
    unknown = attempt(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert SIGN_IN_FAILED in wrong.text and SIGN_IN_FAILED in unknown.text
    failures = session.exec(select(SignInAttempt).where(SignInAttempt.succeeded.is_(False))).all()
    assert {a.email for a in failures} >= {user.email, "nobody@example.org"}


def test_sign_in_is_throttled_per_account(app, session, settings):
    user = make_user(session, "officer")
    client = TestClient(app)
    for _ in range(settings.sign_in_max_failures):
        assert attempt(client, user.email, "wrong").status_code == 401
    refused = attempt(client, user.email, PASSWORD)
    assert refused.status_code == 429 and THROTTLED in refused.text
    assert SESSION_COOKIE not in refused.cookies


def test_a_new_session_id_at_every_sign_in_and_sign_out_ends_it(app, session):
    user = make_user(session, "officer")
    client = TestClient(app)
    sign_in(client, user.email)
    first = client.cookies[SESSION_COOKIE]
    sign_in(client, user.email)
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    stale = TestClient(app, cookies={SESSION_COOKIE: first})
    assert stale.get("/", follow_redirects=False).status_code == 303
    page = client.get("/").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert (
        client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    reused = TestClient(app, cookies={SESSION_COOKIE: second})
    assert reused.get("/", follow_redirects=False).headers["location"].startswith("/sign-in")


def test_sessions_end_after_inactivity(app, session, settings):
    user = make_user(session, "officer")
    client = TestClient(app)
    sign_in(client, user.email)
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.last_seen_at = utcnow() - dt.timedelta(minutes=settings.session_idle_minutes + 1)
    session.flush()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sessions_end_after_their_lifetime_however_active(app, session, settings):
    user = make_user(session, "officer")
    client = TestClient(app)
    sign_in(client, user.email)
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    # Begun just inside the lifetime and used a moment ago: still signed in.
    row.created_at = utcnow() - dt.timedelta(hours=settings.session_max_hours, minutes=-1)
    session.flush()
    assert client.get("/", follow_redirects=False).status_code == 200
    # Begun just past its lifetime, though used a moment ago (a 30-day-old one used to work).
    row.created_at = utcnow() - dt.timedelta(hours=settings.session_max_hours, minutes=1)
    row.last_seen_at = utcnow()
    session.flush()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_cookie_is_httponly_and_samesite_lax(app, session):
    user = make_user(session, "officer")
    response = attempt(TestClient(app), user.email, PASSWORD)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert response.headers["location"] == "/"


def test_sign_in_never_redirects_to_another_site(app, session):
    user = make_user(session, "officer")
    response = TestClient(app).post(
        "/sign-in",
        data={"email": user.email, "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


@pytest.fixture
def cli_database(fresh_url, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", fresh_url)
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_user_add_reads_the_password_from_standard_input(cli_database, fresh_url):
    added = cli_database.invoke(
        cli,
        ["user", "add", "--email", "Clerk@Example.org", "--role", "inspector"],
        input="a long enough secret\n",
    )
    assert added.exit_code == 0, added.output
    assert "Added inspector clerk@example.org." in added.output
    short = cli_database.invoke(
        cli, ["user", "add", "--email", "b@example.org", "--role", "officer"], input="short\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr
    unknown = cli_database.invoke(
        cli,
        ["user", "add", "--email", "c@example.org", "--role", "officer", "--body", "NOPE"],
        input="a long enough secret\n",
    )
    assert unknown.exit_code == 1 and "no body with code NOPE" in unknown.stderr
    from sqlmodel import Session

    from compliance.db import make_engine

    engine = make_engine(fresh_url)
    with Session(engine) as session:
        users = session.exec(select(User)).all()
        assert [u.email for u in users] == ["clerk@example.org"]
        assert users[0].password_hash.startswith("$argon2id$")
    engine.dispose()
