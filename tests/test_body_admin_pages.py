"""An administrator adds and changes bodies in the pages, as the API does, and revokes a user's
API tokens from the user's page."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from compliance.accounts.tokens import create_token
from compliance.models import AuditEvent, Body
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body
from tests.html import parse

SCILLY_FRS = {
    "code": "ios-frs",
    "name": "Isles of Scilly Fire and Rescue Service",
    "kind": "fire_and_rescue_authority",
    "nation": "england",
    "website": "www.scilly.gov.uk",
    "email": "fire@scilly.example.org",
}


def post(client: TestClient, path: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_of(client, "/bodies")} | data, **kwargs)


def summary(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The error summary's messages, in order, from a strictly parsed page."""
    tree = parse(page.text)
    return ["".join(a.itertext()) for a in tree.iterfind(".//*[@class='govuk-error-summary']//a")]


def by_field(page, field: str) -> str:  # type: ignore[no-untyped-def]
    """The error message printed by one field (its visually hidden "Error:" left out)."""
    found = parse(page.text).find(f".//*[@id='{field}-error']")
    return "".join(found.itertext()).replace("Error:", "").strip() if found is not None else ""


def field_value(page, name: str) -> str | None:  # type: ignore[no-untyped-def]
    found = parse(page.text).find(f".//input[@name='{name}']")
    return None if found is None else found.get("value")


def date_fields(name: str, day: dt.date | tuple[str, str, str]) -> dict[str, str]:
    parts = (str(day.day), str(day.month), str(day.year)) if isinstance(day, dt.date) else day
    return dict(zip((f"{name}-day", f"{name}-month", f"{name}-year"), parts, strict=True))


def body_count(session) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(Body)).one()


def events(session, action: str, code: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.entity_id == code)
    return list(session.exec(query))


def test_an_administrator_adds_a_body_and_finds_it_in_the_registry(admin, session, settings):
    county = make_body(session, kind="other", name="Council of the Isles of Scilly")
    listing = admin.get("/bodies")
    assert 'href="/bodies/new"' in listing.text
    form = admin.get("/bodies/new")
    assert form.status_code == 200
    assert "Choose a kind" in form.text
    started = settings.today() - dt.timedelta(days=400)
    data = SCILLY_FRS | {"parent_code": county.code.lower()} | date_fields("start_date", started)
    added = post(admin, "/bodies/new", data, follow_redirects=False)
    assert added.status_code == 303
    assert added.headers["location"] == "/bodies/IOS-FRS/saved?change=added"
    shown = admin.get(added.headers["location"])
    assert shown.status_code == 200
    parse(shown.text)
    assert f"{SCILLY_FRS['name']} has been added to the registry" in shown.text
    body = session.exec(select(Body).where(Body.code == "IOS-FRS")).one()
    assert (body.parent_id, body.website, body.start_date) == (
        county.id,
        "https://www.scilly.gov.uk",
        started,
    )
    assert SCILLY_FRS["name"] in admin.get("/bodies?q=scilly").text
    [event] = events(session, "body.created", "IOS-FRS")
    assert event.actor.startswith("admin-")
    assert event.after["name"] == SCILLY_FRS["name"]


def test_an_empty_form_lists_every_problem_in_order_and_adds_nothing(admin, session):
    before = body_count(session)
    page = post(admin, "/bodies/new", {})
    assert page.status_code == 400
    assert "<title>Error: Add a body" in page.text
    assert summary(page) == [
        "Enter a code",
        "Enter a name",
        "Choose a kind of body",
        "Choose a nation",
    ]
    assert by_field(page, "code") == "Enter a code"
    assert by_field(page, "kind") == "Choose a kind of body"
    assert body_count(session) == before


def test_the_registrys_checks_come_back_in_plain_words_with_what_was_typed(admin, session):
    before = body_count(session)
    typed = {
        "code": "E06000999",
        "kind": "district_council",
        "nation": "england",
        "website": "not a website",
        "email": "not an address",
    }
    page = post(admin, "/bodies/new", typed)
    assert page.status_code == 400
    assert summary(page) == [
        "The code E06000999 is for a unitary authority: choose that kind, or check the code",
        "Enter a name",
        "Enter a website address in the correct format, like www.example.gov.uk",
        "Enter an email address in the correct format, like name@example.org",
    ]
    assert field_value(page, "code") == "E06000999"
    assert field_value(page, "website") == "not a website"
    chosen = parse(page.text).find(".//select[@name='kind']/option[@selected]")
    assert chosen.get("value") == "district_council"
    assert parse(page.text).find(".//input[@name='nation'][@checked]").get("value") == "england"
    elsewhere = SCILLY_FRS | {"code": "WAL-ICB", "kind": "integrated_care_board", "nation": "wales"}
    assert summary(post(admin, "/bodies/new", elsewhere)) == [
        "There is no integrated care board in Wales: choose another kind of body, "
        "or check the nation"
    ]
    assert body_count(session) == before


def test_a_code_already_in_the_registry_is_refused_plainly(admin, session):
    existing = make_body(session, code="IOS-FRS", kind="fire_and_rescue_authority")
    page = post(admin, "/bodies/new", SCILLY_FRS)
    assert page.status_code == 400
    assert summary(page) == [f"A body with the code {existing.code} already exists"]
    same = session.exec(select(Body).where(Body.code == existing.code)).all()
    assert [b.name for b in same] == [existing.name]


def test_a_parent_not_in_the_registry_is_named(admin, session):
    page = post(admin, "/bodies/new", SCILLY_FRS | {"parent_code": "nope-1"})
    assert summary(page) == ["There is no body with the code NOPE-1"]
    assert session.exec(select(Body).where(Body.code == "IOS-FRS")).first() is None


def test_an_impossible_date_is_refused(admin, session):
    page = post(admin, "/bodies/new", SCILLY_FRS | date_fields("start_date", ("31", "2", "2026")))
    assert page.status_code == 400
    assert summary(page) == ["The start date must be a real date"]
    assert field_value(page, "start_date-day") == "31"
    body = make_body(session)
    change = post(admin, f"/bodies/{body.code}/edit", date_fields("end_date", ("0", "13", "2026")))
    assert summary(change) == ["The end date must be a real date"]
    assert by_field(change, "end_date") == "The end date must be a real date"


def test_too_long_an_answer_is_said_with_its_limit(admin, session):
    body = make_body(session)
    page = post(admin, f"/bodies/{body.code}/edit", {"name": "N" * 201, "note": "x" * 5001})
    assert page.status_code == 400
    assert "<title>Error: Change " in page.text
    assert summary(page) == [
        "Enter a name of 200 characters or fewer",
        "Enter a note of 5,000 characters or fewer",
    ]
    assert field_value(page, "name") == "N" * 201
    session.refresh(body)
    assert body.note is None


def test_an_administrator_changes_a_bodys_name_and_website(admin, session):
    body = make_body(session, email="office@council.example.org")
    page = admin.get(f"/bodies/{body.code}")
    assert f'href="/bodies/{body.code}/edit"' in page.text
    form = admin.get(f"/bodies/{body.code}/edit")
    assert form.status_code == 200
    assert field_value(form, "name") == body.name
    assert field_value(form, "email") == "office@council.example.org"
    assert field_value(form, "code") is None  # shown, not changeable
    answers = {
        "name": "Kernow Council",
        "website": "www.kernow.example.org",
        "email": "office@council.example.org",
    }
    saved = post(admin, f"/bodies/{body.code}/edit", answers, follow_redirects=False)
    assert saved.status_code == 303
    shown = admin.get(saved.headers["location"])
    assert "Your changes to Kernow Council are saved" in shown.text
    session.refresh(body)
    assert (body.name, body.website) == ("Kernow Council", "https://www.kernow.example.org")
    [event] = events(session, "body.updated", body.code)
    assert set(event.after) == {"name", "website"}


def test_saving_the_form_as_it_came_changes_nothing_and_says_so(admin, session):
    body = make_body(session, email="office@council.example.org")
    form = admin.get(f"/bodies/{body.code}/edit")
    answers = {
        name: field_value(form, name) or ""
        for name in ("name", "kind", "nation", "parent_code", "website", "email", "note")
    }
    for sent in (answers, {}):
        saved = post(admin, f"/bodies/{body.code}/edit", sent, follow_redirects=False)
        assert saved.status_code == 303
        shown = admin.get(saved.headers["location"])
        assert "Nothing was changed" in shown.text
        assert "are saved" not in shown.text
    assert events(session, "body.updated", body.code) == []


def test_ending_a_body_names_the_body_that_takes_over(admin, session, settings):
    started = settings.today() - dt.timedelta(days=3000)
    body, successor = make_body(session, start_date=started), make_body(session)
    early = date_fields("end_date", started - dt.timedelta(days=1))
    refused = post(admin, f"/bodies/{body.code}/edit", {"name": body.name} | early)
    assert summary(refused) == ["The end date must be after the start date"]
    answers = {"name": body.name, "successor_code": "nope-2"} | date_fields(
        "end_date", settings.today()
    )
    unknown = post(admin, f"/bodies/{body.code}/edit", answers)
    assert summary(unknown) == ["There is no body with the code NOPE-2"]
    itself = post(admin, f"/bodies/{body.code}/edit", answers | {"successor_code": body.code})
    assert summary(itself) == [
        "A body cannot take over from itself: enter the code of another body"
    ]
    session.refresh(body)
    assert body.end_date is None
    done = post(admin, f"/bodies/{body.code}/edit", answers | {"successor_code": successor.code})
    assert done.status_code == 200
    session.refresh(body)
    assert (body.end_date, body.successor_id) == (settings.today(), successor.id)


@pytest.mark.parametrize("role", ["officer", "inspector"])
def test_only_administrators_add_or_change_bodies(app, session, role):
    body = make_body(session)
    user = make_user(session, role, bodies=[body.code])
    client = TestClient(app)
    sign_in(client, user.email)
    assert 'href="/bodies/new"' not in client.get("/bodies").text
    assert f'href="/bodies/{body.code}/edit"' not in client.get(f"/bodies/{body.code}").text
    for path in ["/bodies/new", f"/bodies/{body.code}/edit", f"/bodies/{body.code}/saved"]:
        assert client.get(path).status_code == 403, path
    added = post(client, "/bodies/new", SCILLY_FRS)
    changed = post(client, f"/bodies/{body.code}/edit", {"name": "Taken over"})
    assert (added.status_code, changed.status_code) == (403, 403)
    assert session.exec(select(Body).where(Body.code == "IOS-FRS")).first() is None
    session.refresh(body)
    assert body.name != "Taken over"


def test_an_administrator_revokes_a_users_token_after_confirming(admin, app, session):
    officer = make_user(session, "officer", bodies=[make_body(session).code])
    secret, token = create_token(session=session, user=officer, name="Power BI", actor="test")
    program = TestClient(app)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert program.get("/api/v1/me", headers=bearer).status_code == 200
    page = admin.get(f"/admin/users/{officer.id}")
    parse(page.text)
    assert "Power BI" in page.text and token.prefix in page.text
    link = f"/admin/users/{officer.id}/tokens/{token.id}/revoke"
    assert f'href="{link}"' in page.text
    confirm = admin.get(link)
    assert confirm.status_code == 200
    assert "govuk-button--warning" in confirm.text
    assert program.get("/api/v1/me", headers=bearer).status_code == 200  # asking revokes nothing
    done = post(admin, link, {}, follow_redirects=False)
    assert done.status_code == 303
    after = admin.get(done.headers["location"])
    assert "is revoked: it no longer works" in after.text
    assert f'href="{link}"' not in after.text
    assert program.get("/api/v1/me", headers=bearer).status_code == 401
    assert [e.actor for e in events(session, "token.revoked", str(token.id))] == [
        admin.get("/api/v1/me").json()["email"]
    ]


def test_only_administrators_see_or_revoke_a_users_tokens(app, session):
    officer = make_user(session, "officer", bodies=[make_body(session).code])
    _, token = create_token(session=session, user=officer, name="Feed", actor="test")
    other = make_user(session, "inspector", bodies=[make_body(session).code])
    client = TestClient(app)
    sign_in(client, other.email)
    link = f"/admin/users/{officer.id}/tokens/{token.id}/revoke"
    assert client.get(link).status_code == 403
    assert post(client, link, {}).status_code == 403
    session.refresh(token)
    assert token.revoked_at is None


def test_a_bodys_audit_trail_shows_it_added_and_changed_in_the_pages(admin, session):
    added = post(admin, "/bodies/new", SCILLY_FRS, follow_redirects=False)
    assert added.status_code == 303, summary(added)
    body = session.exec(select(Body).where(Body.code == "IOS-FRS")).one()
    changed = post(admin, "/bodies/IOS-FRS/edit", {"name": "Scilly Fire"}, follow_redirects=False)
    assert changed.status_code == 303, summary(changed)
    trail = admin.get(f"/audit/body/{body.id}").text
    assert "body.created" in trail and "body.updated" in trail
