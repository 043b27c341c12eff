"""What every API call shares: bearer tokens, problem documents, refusing what the schema does not
name."""

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.accounts.models import ApiToken
from compliance.accounts.tokens import create_token, revoke_token, user_for_token
from compliance.models import AuditEvent
from tests.conftest import make_user

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def officer_token(session):
    user = make_user(session, "officer")
    token, row = create_token(session=session, user=user, name="dashboard feed", actor="test")
    return token, row, user


def test_anonymous_api_calls_get_a_401_problem_with_a_bearer_challenge(client):
    response = client.get("/api/v1/duties")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    problem = response.json()
    assert problem["title"] == "Unauthorized" and problem["status"] == 401
    assert "bearer token" in problem["detail"]
    assert problem["instance"] == "/api/v1/duties"


def test_a_live_token_reads_the_api_and_is_marked_used(client, officer_token):
    token, row, _ = officer_token
    assert row.last_used_at is None
    response = client.get("/api/v1/duties", headers=bearer(token))
    assert response.status_code == 200
    assert any(d["slug"] == "children-act-2004-s16e" for d in response.json())
    assert row.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer cpt_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "cpt_without_scheme"],
)
def test_a_bad_authorization_header_is_401_invalid_token(client, officer_token, header):
    response = client.get("/api/v1/duties", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "unknown, expired or revoked" in response.json()["detail"]


def test_revoked_expired_and_deactivated_tokens_stop_working(client, session, officer_token):
    token, row, user = officer_token
    assert client.get("/api/v1/duties", headers=bearer(token)).status_code == 200
    revoke_token(session=session, user_id=user.id, token_id=row.id, actor="test")
    assert client.get("/api/v1/duties", headers=bearer(token)).status_code == 401

    second, second_row = create_token(session=session, user=user, name="second", actor="test")
    second_row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert client.get("/api/v1/duties", headers=bearer(second)).status_code == 401

    third, _ = create_token(session=session, user=user, name="third", actor="test")
    assert client.get("/api/v1/duties", headers=bearer(third)).status_code == 200
    user.is_active = False
    assert client.get("/api/v1/duties", headers=bearer(third)).status_code == 401


def test_tokens_are_stored_and_audited_only_as_hashes(session, officer_token):
    token, row, user = officer_token
    assert token.startswith("cpt_") and len(token) > 40
    stored = session.exec(select(ApiToken).where(ApiToken.id == row.id)).one()
    assert token not in {stored.token_hash, stored.prefix} and token.startswith(stored.prefix)
    events = session.exec(select(AuditEvent).where(AuditEvent.entity_type == "api_token")).all()
    assert events and all(token not in json.dumps(e.after) for e in events)
    assert user_for_token(session=session, token=token).id == user.id
    assert user_for_token(session=session, token=token[:-1] + "x") is None


@pytest.mark.parametrize("days", [0, -5, 367])
def test_a_token_lasts_one_day_to_a_year(session, days):
    from compliance.errors import Refused

    user = make_user(session, "officer")
    with pytest.raises(Refused) as refused:
        create_token(session=session, user=user, name="x", expires_days=days, actor="test")
    assert refused.value.field == "expires_days"


def test_a_bearer_token_does_not_sign_in_to_the_pages(client, officer_token):
    token, _, _ = officer_token
    response = client.get("/bodies", headers=bearer(token), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


def test_unknown_query_parameters_are_refused_not_ignored(client, officer_token):
    token, _, _ = officer_token
    response = client.get("/api/v1/bodies", params={"kinds": "police_force"}, headers=bearer(token))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["field"] == "query.kinds"
    assert "'kinds'" in problem["detail"] and "kind" in problem["detail"]


def test_invalid_values_are_listed_field_by_field(client, officer_token):
    token, _, _ = officer_token
    response = client.get(
        "/api/v1/bodies", params={"limit": "0", "offset": "x"}, headers=bearer(token)
    )
    assert response.status_code == 422
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"query.limit", "query.offset"}
    assert problem["field"] == problem["errors"][0]["field"]
    assert problem["detail"].startswith(problem["field"] + ": ")


def test_an_unknown_api_path_is_a_404_problem(client, officer_token):
    token, _, _ = officer_token
    response = client.get("/api/v1/no-such-thing", headers=bearer(token))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_token_commands_create_list_and_revoke(run, fresh_url):
    from compliance.config import Settings
    from compliance.main import create_app

    assert run("init").exit_code == 0
    email = "feed@example.org"
    added = run("user", "add", "--email", email, "--role", "inspector", stdin="a long password 1\n")
    assert added.exit_code == 0, added.output
    created = run("token", "create", "--email", email, "--name", "BI feed", "--expires-days", "30")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("cpt_")
    assert "It is not shown again" in created.stderr

    listed = run("token", "list", "--email", email)
    assert "BI feed" in listed.output and "live" in listed.output and token not in listed.output
    assert "never used" in listed.output

    settings = Settings(environment="test", secret_key="cli-test", database_url=fresh_url)
    api = TestClient(create_app(settings))
    # A refused request still records that the token was used (committed before the route runs).
    assert api.get("/api/v1/users", headers=bearer(token)).status_code == 403
    assert "never used" not in run("token", "list", "--email", email).output
    assert api.get("/api/v1/duties", headers=bearer(token)).status_code == 200
    token_id = listed.output.split("\t", 1)[0]
    assert run("token", "revoke", "--email", email, token_id).exit_code == 0
    assert "revoked" in run("token", "list", "--email", email).output
    assert api.get("/api/v1/duties", headers=bearer(token)).status_code == 401

    unknown = run("token", "create", "--email", "nobody@example.org")
    assert unknown.exit_code == 1 and "No user with the email" in unknown.output
    too_long = run("token", "create", "--email", email, "--expires-days", "400")
    assert too_long.exit_code == 1 and "1 to 366 days" in too_long.output


def test_a_chunked_upload_past_the_limit_is_cut_off_with_a_413(settings, session):
    import asyncio

    from compliance.deps import get_session
    from compliance.main import create_app

    small = settings.model_copy(update={"max_upload_bytes": 10_000})
    application = create_app(small)
    application.dependency_overrides[get_session] = lambda: session
    token, _ = create_token(session=session, user=make_user(session, "admin"), name="t", actor="t")
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"text/csv")]
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/bodies/import", "raw_path": b"/api/v1/bodies/import",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("testserver", 80), "root_path": "",
    }  # fmt: skip
    received, answers = [], []

    async def receive():  # no Content-Length: the size is only known as the bytes arrive
        received.append(1)
        return {"type": "http.request", "body": b"x" * 10_000, "more_body": len(received) < 200}

    async def send(message):  # type: ignore[no-untyped-def]
        answers.append(message)

    asyncio.run(application(scope, receive, send))
    assert answers[0]["status"] == 413
    assert (b"content-type", b"application/problem+json") in answers[0]["headers"]
    # Cut off once past the limit (10 kB and 1 MB for the form around it), not read to the end.
    assert len(received) < 110


def test_a_unique_clash_from_a_race_is_a_409_and_other_integrity_errors_stay_bugs(app, session):
    from compliance.deps import CurrentUser, SessionDep
    from compliance.models import Body, PartnershipMember
    from tests.factories import make_body

    make_body(session, code="E06000950")

    def clash(db: SessionDep, principal: CurrentUser) -> dict:
        # As if another request had added the same code between our check and our insert.
        db.add(Body(code="E06000950", name="Again", kind="unitary_authority", nation="england"))
        db.flush()
        return {}

    def broken(db: SessionDep, principal: CurrentUser) -> dict:
        db.add(PartnershipMember(partnership_id=999999, body_id=999999, role="x"))
        db.flush()
        return {}

    app.add_api_route("/api/v1/probe-clash", clash, methods=["POST"])
    app.add_api_route("/api/v1/probe-broken", broken, methods=["POST"])
    user = make_user(session, "admin")
    token, _ = create_token(session=session, user=user, name="t", actor="test")
    with TestClient(app, raise_server_exceptions=False) as client:
        conflict = client.post("/api/v1/probe-clash", headers=bearer(token))
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == PROBLEM
        assert "saved a moment ago" in conflict.json()["detail"]
        assert client.post("/api/v1/probe-broken", headers=bearer(token)).status_code == 500
