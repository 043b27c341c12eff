"""Findings, check runs, users, who-am-I and personal tokens through the API."""

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from compliance.accounts.models import ApiToken, UserSession
from compliance.accounts.tokens import create_token
from compliance.checks.current import hand_made
from compliance.models import AuditEvent, CheckRun, Finding, User, UserScope, utcnow
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body, make_partnership

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _finding(session, run, key, severity="high", rule="deliverable_overdue", **where):  # type: ignore[no-untyped-def]
    row = Finding(
        key=key,
        rule=rule,
        severity=severity,
        message=f"Finding {key}",
        first_run_id=run.id,
        last_run_id=run.id,
        **where,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    hand_made(session)  # the findings below are made up: the rules must not put them right
    ours, theirs = make_body(session), make_body(session)
    board = make_partnership(session, members=[ours])
    elsewhere = make_partnership(session, members=[theirs])
    run = CheckRun(as_at_date=dt.date(2026, 11, 26), trigger="test", status="succeeded")
    session.add(run)
    session.flush()
    findings = {
        "ours": _finding(session, run, "a", body_id=ours.id),
        "theirs": _finding(session, run, "b", body_id=theirs.id),
        "board": _finding(
            session, run, "c", "medium", "no_intended_outcome", partnership_id=board.id
        ),
        "elsewhere": _finding(session, run, "d", "low", partnership_id=elsewhere.id),
        "resolved": _finding(session, run, "e", body_id=ours.id, resolved_at=utcnow()),
        "nowhere": _finding(session, run, "f", "medium"),
    }
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", bodies=[ours.code]),
        "inspector": make_user(session, "inspector", bodies=[ours.code]),
        "officer_elsewhere": make_user(session, "officer", bodies=[theirs.code]),
    }
    tokens = {
        who: create_token(session=session, user=user, name="test", actor="test")[0]
        for who, user in users.items()
    }
    return {
        "ours": ours,
        "theirs": theirs,
        "board": board,
        "findings": findings,
        "users": users,
        "tokens": tokens,
    }


def as_(client, world, who):  # type: ignore[no-untyped-def]
    return {"headers": bearer(world["tokens"][who])}


def ids(world, *names):  # type: ignore[no-untyped-def]
    return {world["findings"][n].id for n in names}


def _problem(response, status, field=None):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if field:
        assert response.json()["field"] == field
    return response.json()


# Findings -------------------------------------------------------------------------------------


NEW_USER = {
    "email": "Morwenna.Trelawny@Cornwall.gov.uk",
    "name": "Morwenna Trelawny",
    "role": "officer",
    "password": "a long passphrase of words",
    "bodies": [],
    "partnerships": [],
}


@pytest.mark.parametrize("who", ["officer", "inspector"])
def test_only_administrators_manage_users(client, world, session, who):
    headers = as_(client, world, who)
    target = world["users"]["officer"]
    _problem(client.get("/api/v1/users", **headers), 403)
    _problem(client.get(f"/api/v1/users/{target.id}", **headers), 403)
    _problem(client.get(f"/api/v1/users/{target.id}/tokens", **headers), 403)
    _problem(client.post("/api/v1/users", json=NEW_USER, **headers), 403)
    _problem(client.patch(f"/api/v1/users/{target.id}", json={"role": "admin"}, **headers), 403)
    token_id = session.exec(select(ApiToken.id).where(ApiToken.user_id == target.id)).first()
    _problem(client.delete(f"/api/v1/users/{target.id}/tokens/{token_id}", **headers), 403)
    assert target.role == "officer"
    assert session.get(ApiToken, token_id).revoked_at is None
    assert not session.exec(select(User).where(User.name == NEW_USER["name"])).first()


def test_an_administrator_adds_a_user_who_can_then_sign_in(app, client, world, session):
    body = NEW_USER | {"bodies": [world["ours"].code], "partnerships": [world["board"].slug]}
    response = client.post("/api/v1/users", json=body, **as_(client, world, "admin"))
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "morwenna.trelawny@cornwall.gov.uk"
    assert (user["bodies"], user["partnerships"]) == ([world["ours"].code], [world["board"].slug])
    assert "password" not in json.dumps(user)
    read = client.get(f"/api/v1/users/{user['id']}", **as_(client, world, "admin")).json()
    assert read == user
    browser = TestClient(app)
    sign_in(browser, user["email"], NEW_USER["password"])
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.created")).all()
    assert user["id"] in {int(e.entity_id) for e in events}


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"email": "nobody"}, 400, "body.email"),
        ({"role": "superuser"}, 422, "body.role"),
        ({"password": "short"}, 400, "body.password"),
        ({"bodies": ["E99999999"]}, 400, "body.bodies"),
        ({"partnerships": ["no-such-board"]}, 400, "body.partnerships"),
        ({"is_admin": True}, 422, "body.is_admin"),
        ({"bodies": "E06000052"}, 422, "body.bodies"),
    ],
)
def test_a_bad_new_user_is_refused_and_nothing_is_added(
    client, world, session, change, status, field
):
    before = session.exec(select(func.count()).select_from(User)).one()
    response = client.post("/api/v1/users", json=NEW_USER | change, **as_(client, world, "admin"))
    _problem(response, status, field)
    assert session.exec(select(func.count()).select_from(User)).one() == before


def test_an_existing_email_is_a_conflict(client, world):
    email = world["users"]["officer"].email
    response = client.post(
        "/api/v1/users", json=NEW_USER | {"email": email}, **as_(client, world, "admin")
    )
    _problem(response, 409, "body.email")


def test_users_walk_by_cursor(client, world):
    admin = as_(client, world, "admin")
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/users", params={"limit": 3} | ({"cursor": cursor} if cursor else {}), **admin
        ).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(u.id for u in world["users"].values())


def test_an_administrator_changes_role_and_scope_with_an_audit_event(client, world, session):
    target = world["users"]["officer"]
    change = {"role": "inspector", "name": "Jenna Rowe", "bodies": [world["theirs"].code]}
    response = client.patch(
        f"/api/v1/users/{target.id}", json=change, **as_(client, world, "admin")
    )
    assert response.status_code == 200, response.text
    assert response.json() | change == response.json()
    assert response.json()["partnerships"] == []
    event = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "user.updated", AuditEvent.entity_id == str(target.id)
        )
    ).one()
    assert (event.before["role"], event.after["role"]) == ("officer", "inspector")
    assert (event.before["bodies"], event.after["bodies"]) == (
        [world["ours"].code],
        [world["theirs"].code],
    )
    # The new scope applies at once: the findings of the other body, not the old one.
    page = client.get("/api/v1/findings", **as_(client, world, "officer")).json()
    assert {f["id"] for f in page["items"]} == ids(world, "theirs", "elsewhere")


def test_a_bad_change_changes_nothing(client, world, session):
    target = world["users"]["officer"]
    admin = as_(client, world, "admin")
    bad = {"role": "inspector", "bodies": ["E99999999"]}
    _problem(client.patch(f"/api/v1/users/{target.id}", json=bad, **admin), 400, "body.bodies")
    _problem(
        client.patch(f"/api/v1/users/{target.id}", json={"name": "  "}, **admin), 400, "body.name"
    )
    _problem(
        client.patch(f"/api/v1/users/{target.id}", json={"is_active": "no"}, **admin),
        422,
        "body.is_active",
    )
    _problem(client.patch("/api/v1/users/999999", json={"name": "X"}, **admin), 404, "path.user_id")
    assert (target.role, target.name, target.is_active) == ("officer", "Test officer", True)
    scopes = session.exec(
        select(func.count()).select_from(UserScope).where(UserScope.user_id == target.id)
    ).one()
    assert scopes == 1


def test_the_last_administrator_cannot_lock_everyone_out(client, world):
    me = world["users"]["admin"]
    admin = as_(client, world, "admin")
    _problem(
        client.patch(f"/api/v1/users/{me.id}", json={"is_active": False}, **admin),
        409,
        "body.is_active",
    )
    _problem(
        client.patch(f"/api/v1/users/{me.id}", json={"role": "officer"}, **admin), 409, "body.role"
    )
    assert me.is_active and me.role == "admin"


def test_deactivating_a_user_ends_their_sessions_and_tokens(app, client, world, session):
    target = world["users"]["officer"]
    browser = TestClient(app)
    sign_in(browser, target.email)
    assert client.get("/api/v1/me", **as_(client, world, "officer")).status_code == 200
    response = client.patch(
        f"/api/v1/users/{target.id}", json={"is_active": False}, **as_(client, world, "admin")
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    _problem(client.get("/api/v1/me", **as_(client, world, "officer")), 401)
    assert browser.get("/api/v1/me").status_code == 401
    live = session.exec(
        select(UserSession).where(
            UserSession.user_id == target.id, UserSession.revoked_at.is_(None)
        )
    ).all()
    assert live == []
    # Coming back does not bring the old token back.
    client.patch(
        f"/api/v1/users/{target.id}", json={"is_active": True}, **as_(client, world, "admin")
    )
    _problem(client.get("/api/v1/me", **as_(client, world, "officer")), 401)


# Who am I, and tokens -------------------------------------------------------------------------


def test_me_says_who_is_asking_and_how(app, client, world):
    me = client.get("/api/v1/me", **as_(client, world, "officer")).json()
    officer = world["users"]["officer"]
    assert (me["email"], me["role"], me["bodies"], me["signed_in_with"]) == (
        officer.email,
        "officer",
        [world["ours"].code],
        "token",
    )
    browser = TestClient(app)
    sign_in(browser, officer.email)
    assert browser.get("/api/v1/me").json()["signed_in_with"] == "session"
    _problem(client.get("/api/v1/me"), 401)


def _browser_token(app, user, name="Power BI refresh", days=30):  # type: ignore[no-untyped-def]
    browser = TestClient(app)
    sign_in(browser, user.email)
    csrf = csrf_of(browser, "/account")
    response = browser.post(
        "/api/v1/me/tokens",
        json={"name": name, "expires_days": days},
        headers={"X-CSRF-Token": csrf},
    )
    return browser, response


def test_a_token_made_through_the_api_works_until_revoked(app, client, world, session):
    user = world["users"]["inspector"]
    browser, response = _browser_token(app, user)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    made = response.json()
    token = made["token"]
    assert token.startswith(made["prefix"]) and made["state"] == "live"
    expires = dt.datetime.fromisoformat(made["expires_at"])
    assert dt.timedelta(days=29) < expires - utcnow() <= dt.timedelta(days=30)
    assert client.get("/api/v1/me", headers=bearer(token)).json()["email"] == user.email
    listed = client.get("/api/v1/me/tokens", headers=bearer(token))
    assert made["id"] in {t["id"] for t in listed.json()}
    assert token not in listed.text
    assert (
        token
        not in client.get(f"/api/v1/users/{user.id}/tokens", **as_(client, world, "admin")).text
    )
    revoked = client.delete(f"/api/v1/me/tokens/{made['id']}", headers=bearer(token))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    problem = _problem(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert "revoked" in problem["detail"]
    events = session.exec(select(AuditEvent)).all()
    assert {"token.created", "token.revoked"} <= {e.action for e in events}
    secret = token.removeprefix(made["prefix"])
    for event in events:
        text = json.dumps([event.before, event.after, event.entity_id, event.actor])
        assert token not in text and secret not in text


def test_a_token_cannot_make_tokens(client, world, session):
    before = session.exec(select(func.count()).select_from(ApiToken)).one()
    response = client.post(
        "/api/v1/me/tokens", json={"name": "more"}, **as_(client, world, "officer")
    )
    _problem(response, 403)
    assert session.exec(select(func.count()).select_from(ApiToken)).one() == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "", "expires_days": 30}, 422, "body.name"),
        ({"name": "   ", "expires_days": 30}, 400, "body.name"),
        ({"name": "x", "expires_days": 0}, 422, "body.expires_days"),
        ({"name": "x", "expires_days": 367}, 422, "body.expires_days"),
        ({"name": "x", "expires_days": "30"}, 422, "body.expires_days"),
        ({"name": "x", "scopes": ["read"]}, 422, "body.scopes"),
    ],
)
def test_a_bad_token_request_makes_no_token(app, world, session, body, status, field):
    user = world["users"]["officer"]
    browser = TestClient(app)
    sign_in(browser, user.email)
    csrf = csrf_of(browser, "/account")
    response = browser.post("/api/v1/me/tokens", json=body, headers={"X-CSRF-Token": csrf})
    _problem(response, status, field)
    count = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)
    assert session.exec(count).one() == 1


def test_expired_tokens_are_refused_and_shown_as_expired(client, world, session):
    user = world["users"]["officer"]
    token, row = create_token(session=session, user=user, name="old", actor="test")
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    problem = _problem(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert "expired" in problem["detail"]
    states = {
        t["id"]: t["state"]
        for t in client.get("/api/v1/me/tokens", **as_(client, world, "officer")).json()
    }
    assert states[row.id] == "expired"


def test_nobody_revokes_another_users_token_but_an_administrator(client, world, session):
    target = world["users"]["officer"]
    token_id = session.exec(select(ApiToken.id).where(ApiToken.user_id == target.id)).one()
    response = client.delete(
        f"/api/v1/me/tokens/{token_id}", **as_(client, world, "officer_elsewhere")
    )
    _problem(response, 404, "path.token_id")
    assert session.get(ApiToken, token_id).revoked_at is None
    admin = as_(client, world, "admin")
    wrong_user = world["users"]["inspector"].id
    _problem(
        client.delete(f"/api/v1/users/{wrong_user}/tokens/{token_id}", **admin),
        404,
        "path.token_id",
    )
    listed = client.get(f"/api/v1/users/{target.id}/tokens", **admin).json()
    assert [t["id"] for t in listed] == [token_id]
    revoked = client.delete(f"/api/v1/users/{target.id}/tokens/{token_id}", **admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    _problem(client.get("/api/v1/me", **as_(client, world, "officer")), 401)
