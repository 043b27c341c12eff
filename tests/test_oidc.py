"""Sign-in with a work account (OpenID Connect), against a real provider started by each test
(tests/oidc_site.py): linking by verified email, the refusals in plain words with an audit
entry and nothing else stored, replayed, altered and misdirected answers, deactivated users,
accounts made from groups, passwords turned off, sign-out, and the admin's list of links."""

import re
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from compliance.accounts import oidc
from compliance.accounts.models import IdentityLink, UserSession
from compliance.accounts.service import update_user
from compliance.config import OidcGrant, OidcProvider
from compliance.deps import SESSION_COOKIE, get_session
from compliance.main import create_app
from compliance.models import AuditEvent, User
from tests.conftest import PASSWORD, csrf_of, make_user, sign_in
from tests.oidc_site import CLIENT_SECRET, log_in_at_provider, mint_id_token, needs_node

pytestmark = needs_node
ALICE = "alice.officer@example.gov.uk"


def provider_for(issuer: str, **overrides: object) -> OidcProvider:
    fields = {
        "name": "test",
        "label": "Test ID",
        "issuer": issuer,
        "client_id": "tracker",
        "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile groups",
    } | overrides
    return OidcProvider.model_validate(fields)


@pytest.fixture
def make_client(settings, session):  # type: ignore[no-untyped-def]
    """A test browser on an app whose settings are changed by the keyword arguments."""
    clients: list[TestClient] = []

    def make(**changes: object) -> TestClient:
        application = create_app(settings.model_copy(update=changes))
        application.dependency_overrides[get_session] = lambda: session
        client = TestClient(application)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client, oidc_issuer):  # type: ignore[no-untyped-def]
    """A browser on an app with the test provider configured."""
    return make_client(oidc_providers=[provider_for(oidc_issuer)])


def begin(client: TestClient, next: str = "/") -> str:
    response = client.get(f"/sign-in/oidc/test?next={next}", follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def sign_in_as(client: TestClient, login: str, next: str = "/"):  # type: ignore[no-untyped-def]
    callback = log_in_at_provider(begin(client, next), login)
    return client.get(callback, follow_redirects=False)


def refusals(session) -> list[dict]:  # type: ignore[no-untyped-def]
    query = (
        select(AuditEvent)
        .where(AuditEvent.action == "user.sign_in_refused")
        .order_by(col(AuditEvent.id))  # PostgreSQL keeps no order without one
    )
    return [event.after for event in session.exec(query)]


def refused_page(response, status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert "You have not been signed in" in response.text
    assert words in response.text
    assert SESSION_COOKIE not in response.cookies


def test_first_sign_in_links_the_user_with_that_verified_email_then_finds_them_by_subject(
    client, session
):
    user = make_user(session, "officer", email=ALICE)
    response = sign_in_as(client, "alice", next="/duties")
    assert response.status_code == 303 and response.headers["location"] == "/duties"
    assert "Sign out" in client.get("/").text
    link = session.exec(select(IdentityLink)).one()
    assert (link.user_id, link.provider, link.subject, link.email) == (
        user.id,
        "test",
        "alice",
        ALICE,
    )
    assert link.last_sign_in_at is not None
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.provider == "test"
    # Found again by subject: the address here may change, the link holds.
    user.email = "alice.renamed@example.gov.uk"
    session.flush()
    client.cookies.clear()
    assert sign_in_as(client, "alice").status_code == 303
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("user.identity_linked") == 1
    assert actions.count("user.signed_in") == 2


def test_an_unknown_person_is_refused_in_plain_words_and_nothing_is_stored(client, session):
    users = len(session.exec(select(User)).all())
    response = sign_in_as(client, "stranger")
    refused_page(response, 403, "There is no account here for stranger@example.org")
    assert len(session.exec(select(User)).all()) == users
    assert session.exec(select(IdentityLink)).all() == []
    assert session.exec(select(UserSession)).all() == []
    assert [r["reason"] for r in refusals(session)] == ["unknown_user"]
    assert "Sign out" not in client.get("/sign-in").text


def test_an_email_the_provider_has_not_verified_is_not_linked(client, session):
    make_user(session, "officer", email=ALICE)
    response = sign_in_as(client, "unverified")
    refused_page(response, 403, "has not confirmed your email address")
    assert session.exec(select(IdentityLink)).all() == []
    assert [r["reason"] for r in refusals(session)] == ["email_not_verified"]


def test_a_user_linked_at_a_provider_is_not_linked_again_to_another_account_there(client, session):
    make_user(session, "officer", email=ALICE)
    assert sign_in_as(client, "alice").status_code == 303
    client.cookies.clear()
    refused_page(sign_in_as(client, "alicetwin"), 403, "linked to another Test ID account")
    assert [link.subject for link in session.exec(select(IdentityLink))] == ["alice"]
    assert [r["reason"] for r in refusals(session)] == ["linked_elsewhere"]


def test_a_deactivated_user_cannot_sign_in_whether_linked_or_not(client, session):
    admin = make_user(session, "admin")
    leaver = make_user(session, "officer", email="leaver@example.gov.uk")
    update_user(session=session, user=leaver, actor=admin.email, is_active=False)
    refused_page(sign_in_as(client, "leaver"), 403, "This account has been deactivated")
    assert session.exec(select(IdentityLink)).all() == []
    # Linked first, deactivated afterwards: refused by subject too.
    alice = make_user(session, "officer", email=ALICE)
    assert sign_in_as(client, "alice").status_code == 303
    update_user(session=session, user=alice, actor=admin.email, is_active=False)
    client.cookies.clear()
    refused_page(sign_in_as(client, "alice"), 403, "This account has been deactivated")
    assert [r["reason"] for r in refusals(session)] == ["deactivated", "deactivated"]


def test_a_replayed_answer_is_refused(client, session):
    make_user(session, "officer", email=ALICE)
    callback = log_in_at_provider(begin(client), "alice")
    pending = client.cookies.get(oidc.PENDING_COOKIE)
    assert client.get(callback, follow_redirects=False).status_code == 303
    # The same answer again, even with the flow's cookie put back: the provider refuses the
    # code it has already exchanged.
    client.cookies.clear()
    client.cookies.set(oidc.PENDING_COOKIE, pending, path="/sign-in/oidc")
    refused_page(client.get(callback, follow_redirects=False), 400, "already been used")
    # And without the cookie (a second tab, or someone else's browser): no state to match.
    client.cookies.clear()
    refused_page(client.get(callback, follow_redirects=False), 400, "already been used")
    reasons = [r["reason"] for r in refusals(session)]
    assert reasons == ["token_refused:invalid_grant", "no_pending_sign_in"]
    assert len(session.exec(select(UserSession)).all()) == 1


def test_an_id_token_for_another_sign_in_is_refused_by_its_nonce(client, session, settings):
    make_user(session, "officer", email=ALICE)
    callback = log_in_at_provider(begin(client), "alice")
    pending = oidc.unseal(
        client.cookies.get(oidc.PENDING_COOKIE), secret_key=settings.secret_key, now=_now()
    )
    other = oidc.Pending(**(pending.__dict__ | {"nonce": "a-nonce-from-another-sign-in"}))
    client.cookies.clear()
    client.cookies.set(
        oidc.PENDING_COOKIE, oidc.seal(other, secret_key=settings.secret_key), path="/sign-in/oidc"
    )
    refused_page(client.get(callback, follow_redirects=False), 400, "does not belong to this")
    assert [r["reason"] for r in refusals(session)] == ["id_token_nonce"]
    assert session.exec(select(IdentityLink)).all() == []


def test_a_state_that_does_not_match_is_refused(client, session):
    callback = log_in_at_provider(begin(client), "alice")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    refused_page(client.get(forged, follow_redirects=False), 400, "already been used")
    assert [r["reason"] for r in refusals(session)] == ["state_mismatch"]


def _now() -> float:
    import time

    return time.time()  # time-machine's clock: the test's, not the wall's


def _with_token(monkeypatch, client, change) -> None:  # type: ignore[no-untyped-def]
    """The token response as the provider sent it, then changed in transit by `change`."""
    provider = client.app.state.settings.oidc_providers[0]
    app = oidc._client(provider)
    real = app.fetch_access_token

    async def altered(**kwargs):  # type: ignore[no-untyped-def]
        token = await real(**kwargs)
        return change(dict(token), kwargs)

    monkeypatch.setattr(app, "fetch_access_token", altered)


def _nonce_of(client, settings) -> str:  # type: ignore[no-untyped-def]
    cookie = client.cookies.get(oidc.PENDING_COOKIE)
    return oidc.unseal(cookie, secret_key=settings.secret_key, now=_now()).nonce


def test_a_tampered_id_token_is_refused_by_its_signature(client, session, monkeypatch):
    make_user(session, "officer", email=ALICE)
    make_user(session, "admin", email="boss@example.gov.uk")

    def tamper(token: dict, _kwargs: dict) -> dict:
        import base64
        import json

        header, payload, signature = token["id_token"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = "boss"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return token | {"id_token": f"{header}.{forged}.{signature}"}

    _with_token(monkeypatch, client, tamper)
    refused_page(sign_in_as(client, "alice"), 400, "its signature is wrong")
    assert [r["reason"] for r in refusals(session)] == ["id_token_signature"]
    assert session.exec(select(UserSession)).all() == []


@pytest.mark.parametrize(
    ("changes", "words", "reason"),
    [
        ({"aud": "another-service"}, "it was meant for another service", "id_token_aud"),
        (
            {"aud": ["another-service"], "azp": "tracker"},
            "it was meant for another service",
            "id_token_aud",
        ),
        ({"iss": "https://elsewhere.example"}, "it came from another issuer", "id_token_iss"),
        ({"iat": -7200, "exp": -3600}, "expired", "id_token_expired"),
    ],
)
def test_an_id_token_meant_for_another_service_issuer_or_time_is_refused(
    client, session, settings, monkeypatch, changes, words, reason
):
    """ID tokens signed with the provider's own key, each with one claim wrong."""
    make_user(session, "officer", email=ALICE)
    issuer = client.app.state.settings.oidc_providers[0].issuer

    def replace(token: dict, _kwargs: dict) -> dict:
        now = int(_now())
        claims = {
            "iss": issuer,
            "sub": "alice",
            "aud": "tracker",
            "iat": now,
            "exp": now + 600,
            "nonce": _nonce_of(client, settings),
            "email": ALICE,
            "email_verified": True,
        }
        for key, value in changes.items():
            claims[key] = now + value if key in ("iat", "exp") else value
        return token | {"id_token": mint_id_token(**claims)}

    _with_token(monkeypatch, client, replace)
    refused_page(sign_in_as(client, "alice"), 400, words)
    assert [r["reason"] for r in refusals(session)] == [reason]
    assert session.exec(select(IdentityLink)).all() == []


def test_a_cancelled_sign_in_says_so(client, session):
    begin(client)
    state = client.cookies.get(oidc.PENDING_COOKIE)
    assert state
    response = client.get(
        "/sign-in/oidc/test/callback?error=access_denied&state=x", follow_redirects=False
    )
    refused_page(response, 400, "You cancelled signing in")
    assert [r["reason"] for r in refusals(session)] == ["cancelled"]


def test_a_provider_that_is_down_gets_a_clear_page_not_an_error(make_client, session):
    from tests.chromium_site import free_port

    client = make_client(oidc_providers=[provider_for(f"http://127.0.0.1:{free_port()}")])
    response = client.get("/sign-in/oidc/test", follow_redirects=False)
    assert response.status_code == 503
    assert "Test ID could not be reached just now" in response.text
    assert oidc.PENDING_COOKIE not in response.cookies


def test_an_account_is_made_only_where_turned_on_with_the_role_its_group_gives(
    make_client, oidc_issuer, session
):
    grants = {"cornwall-officers": OidcGrant(role="inspector")}
    provider = provider_for(oidc_issuer, create_users=True, grants=grants)
    client = make_client(oidc_providers=[provider])
    assert sign_in_as(client, "newstarter").status_code == 303
    made = session.exec(select(User).where(User.email == "new.starter@example.gov.uk")).one()
    assert (made.role, made.is_active, made.password_hash, made.name) == (
        "inspector",
        True,
        None,
        "New Starter",
    )
    # No group that gives a role: made, inactive, waiting for an administrator.
    client.cookies.clear()
    refused_page(sign_in_as(client, "nogroup"), 403, "waiting for an administrator")
    waiting = session.exec(select(User).where(User.email == "no.group@example.gov.uk")).one()
    assert waiting.is_active is False
    assert [r["reason"] for r in refusals(session)] == ["waiting"]


def test_with_passwords_off_only_the_break_glass_admin_signs_in_with_one(
    make_client, oidc_issuer, session
):
    admin = make_user(session, "admin")
    officer = make_user(session, "officer")
    client = make_client(
        oidc_providers=[provider_for(oidc_issuer)],
        local_passwords=False,
        break_glass_email=admin.email.upper(),
    )
    page = client.get("/sign-in").text
    assert "Sign in with Test ID" in page and "emergency administrator only" in page
    response = client.post(
        "/sign-in", data={"email": officer.email, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Passwords are turned off here" in response.text
    sign_in(client, admin.email)


def test_signing_out_offers_the_providers_sign_out(client, session):
    make_user(session, "officer", email=ALICE)
    assert sign_in_as(client, "alice").status_code == 303
    response = client.post(
        "/sign-out", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert response.headers["location"] == "/sign-in?signed_out=test"
    page = client.get(response.headers["location"]).text
    assert "You have signed out of this service" in page
    link = re.search(r'href="([^"]+)">Sign out of Test ID too', page).group(1)
    assert urlparse(link).path == "/session/end"
    assert parse_qs(urlparse(link.replace("&amp;", "&")).query)["client_id"] == ["tracker"]
    assert "Sign out" not in client.get("/sign-in").text.split("<main")[0][-2000:]


def test_the_admin_sees_who_is_linked_and_can_unlink(client, session, make_client, oidc_issuer):
    alice = make_user(session, "officer", email=ALICE)
    assert sign_in_as(client, "alice").status_code == 303
    admin = make_user(session, "admin")
    browser = make_client(oidc_providers=[provider_for(oidc_issuer)])
    sign_in(browser, admin.email)
    assert 'href="/admin/work-accounts"' in browser.get("/admin/users").text
    page = browser.get("/admin/work-accounts").text
    assert alice.name in page and "Test ID" in page and ALICE in page
    link = session.exec(select(IdentityLink)).one()
    confirm = browser.get(f"/admin/work-accounts/{link.id}/unlink")
    assert "Unlink" in confirm.text
    response = browser.post(
        f"/admin/work-accounts/{link.id}/unlink",
        data={"csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert session.exec(select(IdentityLink)).all() == []
    assert "work account was unlinked" in browser.get(response.headers["location"]).text
    # An officer may not see the list.
    officer = make_client(oidc_providers=[provider_for(oidc_issuer)])
    sign_in(officer, alice.email)
    assert officer.get("/admin/work-accounts").status_code == 403


def test_private_key_jwt_client_authentication(make_client, oidc_issuer, session):
    from tests.oidc_site import HERE

    make_user(session, "officer", email=ALICE)
    provider = provider_for(
        oidc_issuer,
        client_id="tracker-key",
        client_secret=None,
        private_key_file=HERE / "client-key.pem",
        private_key_id="tracker-client-key",
    )
    client = make_client(oidc_providers=[provider])
    assert sign_in_as(client, "alice").status_code == 303


def test_without_a_provider_there_is_no_way_in_but_the_password(make_client, session):
    client = make_client()
    assert "Sign in with" not in client.get("/sign-in").text
    assert client.get("/sign-in/oidc/test", follow_redirects=False).status_code == 404
    admin = make_user(session, "admin")
    sign_in(client, admin.email)
    assert client.get("/admin/work-accounts").status_code == 404
    assert "/admin/work-accounts" not in client.get("/admin/users").text


def test_a_flood_of_made_up_answers_is_counted_and_not_written_to_the_trail(
    make_client, oidc_issuer, session
):
    client = make_client(
        oidc_providers=[provider_for(oidc_issuer)], sign_in_max_failures_per_address=3
    )
    for _ in range(6):
        response = client.get("/sign-in/oidc/test/callback?code=made-up&state=made-up")
        refused_page(response, 400, "has expired or has already been used")
    # The first three refusals from the address are on the trail; the rest only counted.
    assert [r["reason"] for r in refusals(session)] == ["no_pending_sign_in"] * 3


def test_with_passwords_off_the_account_page_offers_no_password_but_to_the_break_glass_admin(
    make_client, oidc_issuer, session
):
    make_user(session, "officer", email=ALICE)
    admin = make_user(session, "admin")
    changes = {
        "oidc_providers": [provider_for(oidc_issuer)],
        "local_passwords": False,
        "break_glass_email": admin.email,
    }
    client = make_client(**changes)
    assert sign_in_as(client, "alice").status_code == 303
    page = client.get("/account").text
    assert "passwords are turned off here" in page and 'href="/account/password"' not in page
    refused = client.get("/account/password")
    assert refused.status_code == 403 and "Passwords are turned off here" in refused.text
    form = {"csrf_token": csrf_of(client), "current_password": "x", "new_password": "y" * 20}
    assert (
        client.post("/account/password", data=form | {"confirm_password": "y" * 20}).status_code
        == 403
    )
    glass = make_client(**changes)
    sign_in(glass, admin.email)
    assert 'href="/account/password"' in glass.get("/account").text
    assert glass.get("/account/password").status_code == 200


def test_with_passwords_off_an_admin_adds_a_user_without_one_who_then_signs_in_at_work(
    make_client, oidc_issuer, session
):
    admin = make_user(session, "admin")
    changes = {
        "oidc_providers": [provider_for(oidc_issuer)],
        "local_passwords": False,
        "break_glass_email": admin.email,
    }
    client = make_client(**changes)
    sign_in(client, admin.email)
    assert "leave this empty" in client.get("/admin/users/new").text
    form = {
        "csrf_token": csrf_of(client),
        "name": "Alice Officer",
        "email": ALICE,
        "role": "inspector",
        "bodies": "",
        "partnerships": "",
    }
    refused = client.post("/admin/users", data=form | {"password": "a-password-never-used"})
    assert refused.status_code == 400 and "leave the password empty" in refused.text
    assert session.exec(select(User).where(User.email == ALICE)).first() is None
    added = client.post("/admin/users", data=form | {"password": ""}, follow_redirects=False)
    assert added.status_code == 303, added.text
    assert session.exec(select(User).where(User.email == ALICE)).one().password_hash is None
    alice = make_client(**changes)
    assert sign_in_as(alice, "alice").status_code == 303
