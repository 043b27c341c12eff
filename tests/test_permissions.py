"""Nobody sees or changes what their role and scope do not allow."""

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.deps import public, require_principal
from compliance.models import Body, Evidence, Obligation, Period
from tests import files as sample
from tests.conftest import csrf_of, make_user, sign_in
from tests.html import parse
from tests.test_api_evidence import evidence_serving_only


def _dependencies(dependant):  # type: ignore[no-untyped-def]
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependencies(sub)


def api_routes(app):  # type: ignore[no-untyped-def]
    """Every path operation of the app, through the routers it includes."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.path, context.original_route


def test_every_route_checks_who_is_asking(app):
    routes = list(api_routes(app))
    assert len(routes) > 40
    unguarded = [
        f"{sorted(route.methods)} {path}"
        for path, route in routes
        if not {require_principal, public} & set(_dependencies(route.dependant))
    ]
    assert unguarded == []
    open_to_all = {path for path, route in routes if public in set(_dependencies(route.dependant))}
    # The calendar feed's secret token is its own credential (calendar applications cannot sign in),
    # and so are the evaluation surveys' links (partners' staff and people who use services have
    # no account); the thank-you page after them says nothing of any round. The API's
    # documentation describes operations, never data (and is off in production).
    assert open_to_all == {
        "/docs",
        "/sign-in",
        "/healthz",
        "/readyz",
        "/calendar/{token}.ics",
        "/survey/answered",
        "/survey/{token}",
        "/have-your-say/{token}",
    }


@pytest.fixture
def world(demo_area, app, session, settings):
    cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
    obligation = session.exec(select(Obligation).where(Obligation.body_id == cornwall.id)).first()
    occurrence = session.exec(select(Period).where(Period.obligation_id == obligation.id)).first()
    evidence_id = evidence_serving_only(session, cornwall.id)
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", bodies=["E06000052"]),
        "inspector": make_user(session, "inspector", bodies=["E06000052"]),
        "officer_elsewhere": make_user(session, "officer", bodies=["QOX"]),
        "inspector_elsewhere": make_user(session, "inspector", bodies=["QOX"]),
    }
    session.flush()
    return {
        "obligation": obligation,
        "occurrence": occurrence,
        "evidence": evidence_id,
        "users": users,
    }


def browser(app, world, who):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    if who != "anonymous":
        sign_in(client, world["users"][who].email)
    return client


WHO = ["anonymous", "admin", "officer", "inspector", "officer_elsewhere", "inspector_elsewhere"]
READERS = {"admin", "officer", "inspector"}


@pytest.mark.parametrize("who", WHO)
def test_reading_pages_and_api(app, world, who):
    client = browser(app, world, who)
    o = world["obligation"]
    for path in [
        f"/obligations/{o.id}",
        "/bodies/E06000052",
        f"/evidence/{world['evidence']}/file",
        f"/audit/obligation/{o.id}",
        "/api/v1/bodies/E06000052/obligations",
    ]:
        response = client.get(path, follow_redirects=False)
        expected = {"anonymous": 401 if path.startswith("/api") else 303}.get(
            who, 200 if who in READERS else 403
        )
        assert response.status_code == expected, (who, path)
    for path in ["/", "/bodies", "/findings", "/reviews", "/duties", "/partnerships", "/bids"]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == (303 if who == "anonymous" else 200), (who, path)
        if response.status_code == 200:
            parse(response.text)


@pytest.mark.parametrize("who", WHO)
def test_recording_evidence(app, world, who, session):
    client = browser(app, world, who)
    o, occurrence = world["obligation"], world["occurrence"]
    form = client.get(f"/obligations/{o.id}/evidence/new", follow_redirects=False)
    token = csrf_of(client, "/bodies") if who != "anonymous" else ""
    data = {
        "csrf_token": token,
        "kind": "minutes",
        "title": f"Minutes by {who}",
        "effective_date-day": "2",
        "effective_date-month": "6",
        "effective_date-year": "2025",
        "occurrence_ids": str(occurrence.id),
    }
    posted = client.post(
        f"/obligations/{o.id}/evidence",
        data=data,
        files={"file": ("minutes.pdf", sample.PDF, "application/pdf")},
        follow_redirects=False,
    )
    stored = session.exec(select(Evidence).where(Evidence.title == f"Minutes by {who}")).first()
    if who in {"admin", "officer"}:
        assert (form.status_code, posted.status_code) == (200, 303)
        assert stored is not None
    else:
        assert form.status_code in {303, 403} and posted.status_code in {303, 403}
        assert stored is None
        assert "Record evidence" not in client.get(f"/obligations/{o.id}").text


@pytest.mark.parametrize("who", WHO)
def test_reviewing_and_withdrawing(app, world, who, session):
    client = browser(app, world, who)
    token = csrf_of(client, "/bodies") if who != "anonymous" else ""
    evidence_id = world["evidence"]
    review = client.post(
        f"/evidence/{evidence_id}/review",
        data={"csrf_token": token, "verdict": "accepted"},
        follow_redirects=False,
    )
    assert review.status_code == (
        303 if who in {"admin", "inspector"} else 403 if who != "anonymous" else 303
    )
    withdraw = client.post(
        f"/evidence/{evidence_id}/withdraw",
        data={"csrf_token": token, "reason": "test"},
        follow_redirects=False,
    )
    assert withdraw.status_code == (
        303 if who in {"admin", "officer"} else 403 if who != "anonymous" else 303
    )
    withdrawn = session.get(Evidence, evidence_id).withdrawn_at is not None
    assert withdrawn == (who in {"admin", "officer"})


@pytest.mark.parametrize("who", WHO)
def test_admin_pages(app, world, who):
    client = browser(app, world, who)
    page = client.get("/admin/users", follow_redirects=False)
    assert page.status_code == {"anonymous": 303, "admin": 200}.get(who, 403)
    token = csrf_of(client, "/bodies") if who != "anonymous" else ""
    added = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": f"new-{who}@example.org",
            "name": "New",
            "role": "officer",
            "bodies": "E06000052",
            "password": "a long enough password",
        },
        follow_redirects=False,
    )
    assert added.status_code == {"anonymous": 303, "admin": 303}.get(who, 403)


def test_an_officer_cannot_reach_another_bodys_evidence_by_changing_the_url(app, world, session):
    client = browser(app, world, "officer_elsewhere")
    assert client.get(f"/evidence/{world['evidence']}/file").status_code == 403
    assert client.get(f"/evidence/{world['evidence']}", follow_redirects=False).status_code == 403
    assert client.get("/api/v1/bodies/E06000052").status_code == 403


def test_forms_without_the_token_or_from_another_site_are_refused(app, world):
    client = browser(app, world, "officer")
    evidence_id = world["evidence"]
    missing = client.post(f"/evidence/{evidence_id}/withdraw", data={"reason": "x"})
    assert missing.status_code == 403 and "expired" in missing.text
    token = csrf_of(client, "/bodies")
    foreign = client.post(
        f"/evidence/{evidence_id}/withdraw",
        data={"csrf_token": token, "reason": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403


def test_security_headers_on_every_response(app, world):
    client = browser(app, world, "officer")
    for path in ["/", "/sign-in", "/api/v1/duties", f"/evidence/{world['evidence']}/file", "/nope"]:
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    download = client.get(f"/evidence/{world['evidence']}/file")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"].startswith("text/plain")


def test_pages_contain_no_inline_script(app, world):
    client = browser(app, world, "admin")
    for path in [
        "/",
        "/bodies/E06000052",
        f"/obligations/{world['obligation'].id}",
        "/partnerships/cios-safeguarding-adults-board",
    ]:
        assert not re.search(r"<script(?![^>]*\bsrc=)", client.get(path).text)


def test_every_form_on_every_page_carries_the_session_token(app, world):
    client = browser(app, world, "admin")
    token = csrf_of(client, "/bodies")
    o = world["obligation"]
    for path in [
        "/",
        f"/obligations/{o.id}",
        f"/obligations/{o.id}/evidence/new",
        "/admin/users",
        "/admin/import",
        "/partnerships/cios-safeguarding-adults-board",
    ]:
        html = client.get(path).text
        posts = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
        assert posts, path
        for form in posts:
            if 'action="/sign-in"' not in form:
                assert f'name="csrf_token" value="{token}"' in form, (path, form[:120])


def test_a_query_from_the_page_queues_a_notice_in_the_same_transaction(app, world, session):
    from compliance.reminders.models import OutboxMessage

    client = browser(app, world, "inspector")
    token = csrf_of(client, "/bodies")
    evidence_id = world["evidence"]
    data = {"csrf_token": token, "verdict": "queried", "comment": "Unsigned?"}
    assert (
        client.post(
            f"/evidence/{evidence_id}/review", data=data, follow_redirects=False
        ).status_code
        == 303
    )
    kinds = [m.kind for m in session.exec(select(OutboxMessage))]
    assert "query" in kinds
