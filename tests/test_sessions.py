"""Sessions: their idle and absolute lifetimes, and a refusal answered as a refusal when the same
request records the sign-in's use (issue 15, items 8 and 12)."""

import datetime as dt

import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from compliance.accounts.models import UserSession
from compliance.accounts.service import load_session, start_session
from compliance.config import Settings
from compliance.db import make_engine
from compliance.main import create_app
from compliance.migrations import upgrade
from tests.conftest import make_user, sign_in
from tests.html import parse


def test_a_sign_in_ends_after_30_idle_minutes_or_12_hours_by_default(session, suite_clock):
    fields = Settings.model_fields
    limits = {
        "idle_minutes": fields["session_idle_minutes"].default,
        "max_hours": fields["session_max_hours"].default,
    }
    assert limits == {"idle_minutes": 30, "max_hours": 12}
    user = make_user(session, "officer")
    token, row = start_session(session=session, user=user, address=None, user_agent=None)
    session.flush()

    def live_at(moment: dt.datetime, last_seen: dt.datetime) -> bool:
        row.last_seen_at = last_seen
        session.flush()
        with time_machine.travel(moment, tick=False):
            return load_session(session=session, token=token, **limits) is not None

    begun = suite_clock
    idle = dt.timedelta(minutes=30)
    assert live_at(begun + idle, last_seen=begun)
    assert not live_at(begun + idle + dt.timedelta(seconds=1), last_seen=begun)
    late = begun + dt.timedelta(hours=12)
    assert live_at(late, last_seen=late - dt.timedelta(minutes=1))
    assert not live_at(late + dt.timedelta(seconds=1), last_seen=late)


def _stale_sign_in(engine, user_id: int) -> None:  # type: ignore[no-untyped-def]
    """Make a sign-in's last use old enough that the next request records it again."""
    with Session(engine) as session:
        row = session.exec(select(UserSession).where(UserSession.user_id == user_id)).one()
        row.last_seen_at = row.last_seen_at - dt.timedelta(minutes=5)
        session.commit()


def test_a_refused_page_stays_a_403_when_the_request_records_the_sign_ins_use(
    fresh_url, tmp_path, suite_clock
):
    # The application's own request sessions (the other tests share one open test session,
    # which would hide an object left unloaded once the request's session is closed).
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with Session(engine) as session:
        officer = make_user(session, "officer")
        session.commit()
        email, user_id, name = officer.email, officer.id, officer.name
    settings = Settings(
        environment="test", secret_key="test-secret-key", database_url=fresh_url, data_dir=tmp_path
    )
    app = create_app(settings)
    client = TestClient(app, raise_server_exceptions=False)
    sign_in(client, email)
    refusals = [
        lambda: client.get("/admin/users"),  # a page for administrators
        lambda: client.post("/account/tokens", data={"csrf_token": "stale", "name": "x"}),
    ]
    for refuse in refusals:
        _stale_sign_in(engine, user_id)
        answer = refuse()
        assert answer.status_code == 403, answer.text[:300]
        assert name in parse(answer.text).findtext(".//a[@href='/account']")
    with Session(engine) as session:
        row = session.exec(select(UserSession).where(UserSession.user_id == user_id)).one()
        assert row.last_seen_at.replace(tzinfo=dt.UTC) >= suite_clock  # the use was recorded
    app.state.engine.dispose()
    engine.dispose()
