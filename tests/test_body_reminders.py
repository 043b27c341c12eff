"""A body's own reminder days and senior responsible officer, set in the pages by its officers
and the administrators (compliance/reminders/pages.py), and what the reminders then do."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.accounts.tokens import create_token
from compliance.models import AuditEvent, Obligation
from compliance.reminders.models import ReminderSetting
from compliance.reminders.service import Directory
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body
from tests.html import parse

CORNWALL, DEVON = "E06000052", "E10000008"
PAGE = f"/bodies/{CORNWALL}/reminders"


@pytest.fixture
def bodies(session):  # type: ignore[no-untyped-def]
    return make_body(session, code=CORNWALL, name="Cornwall Council"), make_body(
        session, code=DEVON, name="Devon County Council"
    )


def signed_in(app, session, role: str, bodies: list[str] = ()) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    sign_in(client, make_user(session, role, bodies=list(bodies)).email)
    return client


def setting(session, body) -> ReminderSetting | None:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(ReminderSetting, body.id)


def events(session, body) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    query = select(AuditEvent).where(
        AuditEvent.action == "reminder_setting.set", AuditEvent.entity_id == body.id
    )
    return list(session.exec(query))


def post(client: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    data = {"reminder_days": "", "sro_name": "", "sro_email": "", **fields}
    return client.post(PAGE, data={"csrf_token": csrf_of(client, PAGE), **data})


def values(html: str) -> list[str | None]:
    page = parse(html)
    return [
        page.find(f".//input[@name='{f}']").get("value")
        for f in ("reminder_days", "sro_name", "sro_email")
    ]


def test_an_officer_sets_the_days_and_the_officer_and_the_reminders_follow(
    app, session, settings, bodies
):
    cornwall, _ = bodies
    officer = signed_in(app, session, "officer", [CORNWALL])
    first = officer.get(PAGE)
    assert first.status_code == 200
    assert values(first.text) == ["", "", ""]
    assert "default: 30, 7, 1." in first.text
    saved = post(
        officer,
        reminder_days=" 60, 30,7 ,1",
        sro_name="Dr Jo Pascoe ",
        sro_email="Jo.Pascoe@Cornwall.example.org",
    )
    assert saved.status_code == 200 and saved.url.path == PAGE
    assert "The reminders of Cornwall Council are saved" in saved.text
    own = setting(session, cornwall)
    assert (own.reminder_days, own.sro_name, own.sro_email) == (
        "60,30,7,1",
        "Dr Jo Pascoe",
        "jo.pascoe@cornwall.example.org",
    )
    assert values(saved.text) == ["60,30,7,1", "Dr Jo Pascoe", "jo.pascoe@cornwall.example.org"]
    [event] = events(session, cornwall)
    assert event.actor.startswith("officer-")
    # The reminders read what was saved: the days, and whom an escalation goes to.
    held = Obligation(key="k", body_id=cornwall.id, opened_date=dt.date(2026, 1, 1))
    directory = Directory(session, settings, dt.date(2026, 12, 1))
    assert directory.offsets(held) == [60, 30, 7, 1]
    [escalated_to], _ = directory.sro(held)
    assert escalated_to.address == "jo.pascoe@cornwall.example.org"
    # Emptied, each goes back to its default: the service's days, the body's contact.
    cleared = post(officer)
    assert cleared.status_code == 200
    own = setting(session, cornwall)
    assert (own.reminder_days, own.sro_name, own.sro_email) == (None, None, None)
    assert Directory(session, settings, dt.date(2026, 12, 1)).offsets(held) == [30, 7, 1]
    assert len(events(session, cornwall)) == 2


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"reminder_days": "30,7,x"}, {"reminder_days"}),
        ({"reminder_days": "30,,7"}, {"reminder_days"}),
        ({"reminder_days": "7,7"}, {"reminder_days"}),
        ({"reminder_days": "400"}, {"reminder_days"}),
        ({"reminder_days": "-1"}, {"reminder_days"}),
        ({"sro_name": "Jo Pascoe"}, {"sro_email"}),
        ({"sro_email": "not-an-email"}, {"sro_email"}),
        ({"sro_name": "x" * 201, "sro_email": "jo@example.org"}, {"sro_name"}),
        ({"reminder_days": "1," * 60, "sro_email": "@"}, {"reminder_days", "sro_email"}),
    ],
)
def test_a_mistake_comes_back_with_what_was_typed_and_nothing_is_saved(
    app, session, bodies, fields, wrong
):
    cornwall, _ = bodies
    admin = signed_in(app, session, "admin")
    post(admin, reminder_days="14", sro_name="Jo Pascoe", sro_email="jo@example.org")
    before = setting(session, cornwall)
    kept = (before.reminder_days, before.sro_name, before.sro_email)
    refused = post(admin, **fields)
    assert refused.status_code == 422
    page = parse(refused.text)
    summary = page.findall(".//div[@class='govuk-error-summary']//li/a")
    assert {a.get("href").lstrip("#") for a in summary} == wrong
    for field, typed in fields.items():
        shown = page.find(f".//input[@name='{field}']").get("value")
        assert shown == typed.strip(), field
    after = setting(session, cornwall)
    assert (after.reminder_days, after.sro_name, after.sro_email) == kept
    assert len(events(session, cornwall)) == 1


def test_only_those_who_may_change_the_body_open_or_send_its_reminders(app, session, bodies):
    cornwall, _ = bodies
    officer = signed_in(app, session, "officer", [CORNWALL])
    inspector = signed_in(app, session, "inspector", [CORNWALL])
    elsewhere = signed_in(app, session, "officer", [DEVON])
    token = csrf_of(officer, PAGE)
    for client in (inspector, elsewhere):
        assert client.get(PAGE).status_code == 403
        sent = client.post(
            PAGE, data={"csrf_token": csrf_of(client), "reminder_days": "1", "sro_email": ""}
        )
        assert sent.status_code == 403
    forged = officer.post(PAGE, data={"csrf_token": "forged", "reminder_days": "1"})
    assert forged.status_code == 403
    assert officer.get("/bodies/NOPE/reminders").status_code == 404
    assert setting(session, cornwall) is None and token
    anonymous = TestClient(app).get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303
    link = "Reminder days and senior responsible officer"
    assert link in officer.get(f"/bodies/{CORNWALL}").text
    assert link not in inspector.get(f"/bodies/{CORNWALL}").text
    assert link in signed_in(app, session, "admin").get(f"/bodies/{CORNWALL}").text


def test_a_file_sent_in_a_fields_place_is_refused_and_nothing_is_saved(app, session, bodies):
    cornwall, _ = bodies
    admin = signed_in(app, session, "admin")
    post(admin, reminder_days="14", sro_name="Jo Pascoe", sro_email="jo@example.org")
    refused = admin.post(
        PAGE,
        data={"csrf_token": csrf_of(admin, PAGE), "reminder_days": "", "sro_email": ""},
        files={"sro_name": ("name.txt", b"Jo", "text/plain")},
    )
    assert refused.status_code == 422
    assert "a file cannot go here" in refused.text
    kept = setting(session, cornwall)
    assert (kept.reminder_days, kept.sro_name, kept.sro_email) == (
        "14",
        "Jo Pascoe",
        "jo@example.org",
    )


# Through the API ---------------------------------------------------------------------------------

API = f"/api/v1/bodies/{CORNWALL}/reminders"
PROBLEM = "application/problem+json"


def bearer(app, session, role: str, bodies: list[str] = ()) -> TestClient:  # type: ignore[no-untyped-def]
    user = make_user(session, role, bodies=list(bodies))
    token, _ = create_token(session=session, user=user, name="t", actor="test")
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_through_the_api_the_same_record_is_read_and_set_and_the_page_shows_it(
    app, session, settings, bodies
):
    cornwall, _ = bodies
    officer = bearer(app, session, "officer", [CORNWALL])
    unset = officer.get(API)
    assert unset.status_code == 200
    assert unset.json() == {
        "body_code": CORNWALL,
        "reminder_days": None,
        "days_used": [30, 7, 1],
        "sro_name": None,
        "sro_email": None,
        "updated_at": None,
    }
    typed = {
        "reminder_days": [1, 60, 7, 30],
        "sro_name": " Dr Jo Pascoe ",
        "sro_email": "Jo.Pascoe@Cornwall.example.org",
    }
    saved = officer.put(API, json=typed)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["reminder_days"], body["days_used"]) == ([60, 30, 7, 1], [60, 30, 7, 1])
    assert (body["sro_name"], body["sro_email"]) == (
        "Dr Jo Pascoe",
        "jo.pascoe@cornwall.example.org",
    )
    assert officer.get(API).json() == body
    own = setting(session, cornwall)
    assert (own.reminder_days, own.sro_name) == ("60,30,7,1", "Dr Jo Pascoe")
    [event] = events(session, cornwall)
    assert event.after["sro_email"] == "jo.pascoe@cornwall.example.org"
    page = signed_in(app, session, "officer", [CORNWALL]).get(PAGE)
    assert values(page.text) == ["60,30,7,1", "Dr Jo Pascoe", "jo.pascoe@cornwall.example.org"]
    # Sent empty, each goes back to its default, as the page's emptied form does.
    cleared = officer.put(API, json={})
    assert cleared.status_code == 200
    assert cleared.json()["days_used"] == [30, 7, 1] and cleared.json()["sro_email"] is None
    held = Obligation(key="k", body_id=cornwall.id, opened_date=dt.date(2026, 1, 1))
    assert Directory(session, settings, dt.date(2026, 12, 1)).offsets(held) == [30, 7, 1]
    assert len(events(session, cornwall)) == 2


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"reminder_days": [30, 7, 7]}, "body.reminder_days"),
        ({"reminder_days": [400]}, "body.reminder_days.0"),
        ({"reminder_days": [-1]}, "body.reminder_days.0"),
        ({"reminder_days": []}, "body.reminder_days"),
        ({"reminder_days": "30,7,1"}, "body.reminder_days"),
        ({"reminder_days": [7.5]}, "body.reminder_days.0"),
        ({"sro_name": "Jo Pascoe"}, "body.sro_email"),
        ({"sro_name": "Jo Pascoe", "sro_email": "not-an-email"}, "body.sro_email"),
        ({"sro_name": "x" * 201, "sro_email": "jo@example.org"}, "body.sro_name"),
        ({"sro_email": "jo@example.org", "note": "x"}, "body.note"),
    ],
)
def test_through_the_api_a_mistake_names_its_field_and_changes_nothing(
    app, session, bodies, sent, field
):
    cornwall, _ = bodies
    admin = bearer(app, session, "admin")
    before = {"reminder_days": [14], "sro_name": "Jo", "sro_email": "jo@example.org"}
    assert admin.put(API, json=before).status_code == 200
    refused = admin.put(API, json=sent)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    own = setting(session, cornwall)
    assert (own.reminder_days, own.sro_name, own.sro_email) == ("14", "Jo", "jo@example.org")
    assert len(events(session, cornwall)) == 1


def test_through_the_api_only_those_who_may_change_the_body_read_or_set_its_reminders(
    app, session, bodies
):
    cornwall, _ = bodies
    sent = {"reminder_days": [3]}
    for who in (
        bearer(app, session, "inspector", [CORNWALL]),
        bearer(app, session, "officer", [DEVON]),
    ):
        assert who.get(API).status_code == 403
        assert who.put(API, json=sent).status_code == 403
    anonymous = TestClient(app)
    assert (
        anonymous.get(API).status_code == 401 and anonymous.put(API, json=sent).status_code == 401
    )
    admin = bearer(app, session, "admin")
    missing = admin.put("/api/v1/bodies/NOPE/reminders", json=sent)
    assert missing.status_code == 404 and missing.json()["field"] == "path.code"
    assert setting(session, cornwall) is None and events(session, cornwall) == []
    assert admin.put(API, json=sent).json()["days_used"] == [3]
