"""Administrators record partnerships, their members and duties through the pages, as the API
does, with every problem said on the same form."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from compliance.forms import date_parts
from compliance.models import (
    AuditEvent,
    Deliverable,
    Duty,
    Obligation,
    Partnership,
    PartnershipMember,
)
from compliance.partnerships.service import get_partnership
from compliance.web import uk_date
from tests.conftest import csrf_of, make_user, sign_in
from tests.html import parse

NEW = {
    "name": "Isles of Scilly Community Safety Partnership",
    "slug": "scilly-community-safety",
    "form": "statutory_board",
    "description": "Crime and disorder partnership for the islands.",
    "lead_body_code": "e06000053",
    "start_date-day": "1",
    "start_date-month": "4",
    "start_date-year": "2026",
    "duties": ["cda-1998-s5-s6"],
}
SAFER = "/partnerships/safer-cornwall"


@pytest.fixture
def demo(demo_area, session, settings):  # type: ignore[no-untyped-def]
    session.flush()


def _post(client: TestClient, path: str, data: dict):  # type: ignore[no-untyped-def]
    return client.post(
        path, data=data | {"csrf_token": csrf_of(client, "/partnerships")}, follow_redirects=False
    )


def _summary(page) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The error summary's links: where each points and what it says, in order."""
    tree = parse(page.text)
    links = tree.iterfind(".//div[@class='govuk-error-summary__body']//a")
    return [(a.get("href"), a.text) for a in links]


def _banner(page) -> str:  # type: ignore[no-untyped-def]
    """The success banner's heading."""
    return parse(page.text).find(".//p[@class='govuk-notification-banner__heading']").text


def _title(page) -> str:  # type: ignore[no-untyped-def]
    return parse(page.text).find(".//title").text


def _value(page, field: str) -> str | None:  # type: ignore[no-untyped-def]
    found = parse(page.text).find(f".//input[@name='{field}']")
    return None if found is None else found.get("value")


def _actions(session, prefix: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    query = select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%"))
    return list(session.exec(query.order_by(AuditEvent.id)))


def _partnership_count(session) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(Partnership)).one()


def _duty(session, slug: str) -> Duty:  # type: ignore[no-untyped-def]
    return session.exec(select(Duty).where(Duty.slug == slug)).one()


def _obligations(session, slug: str, duty: str) -> list[Obligation]:  # type: ignore[no-untyped-def]
    query = (
        select(Obligation)
        .join(Deliverable, Deliverable.id == Obligation.deliverable_id)
        .join(Duty, Duty.id == Deliverable.duty_id)
        .join(Partnership, Partnership.id == Obligation.partnership_id)
        .where(Partnership.slug == slug, Duty.slug == duty)
    )
    return list(session.exec(query))


def _open_duties(session, slug: str) -> set[str]:  # type: ignore[no-untyped-def]
    """The duties of the partnership's open obligations."""
    query = (
        select(Duty.slug)
        .join(Deliverable, Deliverable.duty_id == Duty.id)
        .join(Obligation, Obligation.deliverable_id == Deliverable.id)
        .join(Partnership, Partnership.id == Obligation.partnership_id)
        .where(Partnership.slug == slug, Obligation.closed_date.is_(None))
    )
    return set(session.exec(query))


def test_an_admin_adds_a_partnership_that_opens_its_obligations(admin, demo, session):
    listed = parse(admin.get("/partnerships").text)
    assert [a.get("href") for a in listed.iterfind(".//main//a[@role='button']")] == [
        "/partnerships/new"
    ]
    form = admin.get("/partnerships/new")
    assert form.status_code == 200 and _title(form).startswith("Add a partnership")
    ticks = parse(form.text).findall(".//input[@name='duties']")
    assert len(ticks) > 25 and ticks[0].get("id") == "duties"

    added = _post(admin, "/partnerships/new", NEW)
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/partnerships/scilly-community-safety"
    page = admin.get(added.headers["location"])
    assert page.status_code == 200
    assert parse(page.text).find(".//h1").text == NEW["name"]
    [event] = _actions(session, "partnership.created")
    assert event.entity_id == "scilly-community-safety"
    assert event.after["lead_body_code"] == "E06000053"
    assert event.after["duties"] == ["cda-1998-s5-s6"]
    assert _open_duties(session, "scilly-community-safety") == {"cda-1998-s5-s6"}


def test_an_empty_form_lists_every_problem_in_the_forms_order_and_adds_nothing(
    admin, demo, session
):
    before = _partnership_count(session)
    empty = _post(admin, "/partnerships/new", {})
    assert empty.status_code == 400
    assert _title(empty).startswith("Error: Add a partnership")
    assert _summary(empty) == [
        ("#name", "Enter the partnership's name"),
        ("#slug", "Enter the web address name"),
        ("#form", "Select the form of the partnership"),
    ]
    wrong = NEW | {
        "slug": "Not A Slug",
        "lead_body_code": "NOPE",
        "end_date-day": "1",
        "end_date-month": "4",
        "end_date-year": "2025",
        "duties": ["cda-1998-s5-s6", "no-such-duty"],
    }
    page = _post(admin, "/partnerships/new", wrong)
    assert page.status_code == 400
    assert _summary(page) == [
        ("#slug", "The web address name must be lower-case letters and numbers joined by "
         "hyphens, like safer-cornwall"),
        ("#lead_body_code", "There is no body with the code NOPE"),
        ("#end_date-day", "The end date must be after the start date"),
        ("#duties", "Select duties from the list"),
    ]  # fmt: skip
    assert (_value(page, "name"), _value(page, "slug")) == (NEW["name"], "Not A Slug")
    ticked = parse(page.text).find(".//input[@value='cda-1998-s5-s6']")
    assert ticked.get("checked") is not None
    assert "body.slug" not in page.text and "String should" not in page.text
    assert _partnership_count(session) == before
    assert _actions(session, "partnership") == []


def test_a_web_address_name_in_use_is_refused_plainly(admin, demo, session, monkeypatch):
    before = _partnership_count(session)
    taken = _post(admin, "/partnerships/new", NEW | {"slug": "safer-cornwall"})
    assert taken.status_code == 400
    message = "There is already a partnership with the web address name safer-cornwall"
    assert _summary(taken) == [("#slug", message)]
    kept = _post(admin, "/partnerships/new", NEW | {"slug": "new"})
    assert _summary(kept) == [
        ("#slug", "The web address name new is kept for this service's own pages: choose another")
    ]
    # Two administrators adding the same one at once: the service's own refusal, in words.
    monkeypatch.setattr("compliance.partnerships.admin_pages._slug_error", lambda *_: None)
    raced = _post(admin, "/partnerships/new", NEW | {"slug": "safer-cornwall"})
    assert raced.status_code == 400 and _summary(raced) == [("#slug", message)]
    assert _partnership_count(session) == before
    assert _actions(session, "partnership") == []


def test_an_admin_changes_a_partnerships_name_and_only_that_is_recorded(admin, demo, session):
    form = admin.get(f"{SAFER}/edit")
    assert form.status_code == 200
    assert (_value(form, "name"), _value(form, "lead_body_code")) == ("Safer Cornwall", "E06000052")
    assert _value(form, "slug") is None  # its address stays
    selected = parse(form.text).find(".//select[@name='form']/option[@selected]")
    assert selected.get("value") == "statutory_board"

    values = {
        "name": "Safer Cornwall Partnership",
        "form": "statutory_board",
        "description": "The community safety partnership; Partnership Plan 2022-25, refreshed.",
        "lead_body_code": "E06000052",
    }
    blank = _post(admin, f"{SAFER}/edit", values | {"name": " "})
    assert blank.status_code == 400
    assert _summary(blank) == [("#name", "Enter the partnership's name")]
    assert _value(blank, "lead_body_code") == "E06000052"
    changed = _post(admin, f"{SAFER}/edit", values)
    assert (changed.status_code, changed.headers["location"]) == (303, SAFER)
    assert get_partnership(session=session, slug="safer-cornwall").name == values["name"]
    [event] = _actions(session, "partnership.updated")
    assert event.before == {"name": "Safer Cornwall"}
    assert event.after == {"name": values["name"]}
    links = parse(admin.get(SAFER).text).iterfind(".//main//a")
    hrefs = {a.get("href") for a in links}
    assert {f"{SAFER}/edit", f"{SAFER}/members", f"{SAFER}/duties"} <= hrefs


def test_an_admin_adds_a_member_then_ends_its_membership_after_confirming(
    admin, demo, session, settings
):
    page = admin.get(f"{SAFER}/members")
    assert page.status_code == 200
    rows = parse(page.text).findall(".//tbody/tr")
    assert len(rows) == 5
    empty = _post(admin, f"{SAFER}/members", {})
    assert empty.status_code == 400 and _title(empty).startswith("Error: ")
    assert _summary(empty) == [
        ("#body_code", "Enter the code of the body"),
        ("#role", "Enter the body's role in the partnership"),
    ]
    again = _post(admin, f"{SAFER}/members", {"body_code": "QT6", "role": "Member"})
    assert _summary(again) == [
        ("#body_code", "NHS Cornwall and the Isles of Scilly Integrated Care Board (QT6) is "
         "already a member"),
    ]  # fmt: skip
    member = {
        "body_code": "rj8",
        "role": "NHS provider (co-opted member)",
        "start_date-day": "1",
        "start_date-month": "4",
        "start_date-year": "2026",
    }
    joined = _post(admin, f"{SAFER}/members", member)
    assert joined.status_code == 303
    shown = admin.get(joined.headers["location"])
    assert _banner(shown) == "Cornwall Partnership NHS Foundation Trust is now a member"

    confirm = admin.get(f"{SAFER}/members/RJ8/end")
    assert confirm.status_code == 200
    today = date_parts(settings.today())
    assert _value(confirm, "end_date-day") == today["day"]
    assert _value(confirm, "end_date-year") == today["year"]
    button = parse(confirm.text).find(
        ".//form[@action='/partnerships/safer-cornwall/members/RJ8/end']//button"
    )
    assert "govuk-button--warning" in button.get("class")
    early = {"end_date-day": "1", "end_date-month": "3", "end_date-year": "2026"}
    refused = _post(admin, f"{SAFER}/members/RJ8/end", early)
    assert refused.status_code == 400
    assert _summary(refused) == [
        ("#end_date-day", "The date it leaves must be after it joined on 1 April 2026")
    ]
    assert _value(refused, "end_date-month") == "3"
    ended = _post(admin, f"{SAFER}/members/RJ8/end", {f"end_date-{k}": v for k, v in today.items()})
    assert ended.status_code == 303
    assert _banner(admin.get(ended.headers["location"])) == (
        "The membership of Cornwall Partnership NHS Foundation Trust ends on "
        + uk_date(settings.today())
    )
    stored = session.exec(
        select(PartnershipMember).where(PartnershipMember.role == member["role"])
    ).one()
    assert stored.end_date == settings.today()
    assert admin.get(f"{SAFER}/members/RJ8/end", follow_redirects=False).status_code == 303
    actions = [e.action for e in _actions(session, "partnership_member")]
    assert actions == ["partnership_member.joined", "partnership_member.left"]


def test_an_admin_adds_and_removes_duties_and_the_obligations_follow(admin, demo, session):
    page = admin.get(f"{SAFER}/duties")
    assert page.status_code == 200
    ticked = [i.get("value") for i in parse(page.text).iterfind(".//input[@checked]")]
    assert ticked == ["cda-1998-s5-s6"]
    assert _open_duties(session, "safer-cornwall") == {"cda-1998-s5-s6"}

    saved = _post(admin, f"{SAFER}/duties", {"duties": ["pcsca-2022-s8"]})
    assert saved.status_code == 200
    banner = parse(saved.text).find(".//div[@class='govuk-notification-banner__content']")
    words = " ".join("".join(banner.itertext()).split())
    added, removed = (_duty(session, slug) for slug in ("pcsca-2022-s8", "cda-1998-s5-s6"))
    assert f"Added: {added.title} Removed: {removed.title}" in words
    assert _open_duties(session, "safer-cornwall") == {"pcsca-2022-s8"}
    closed = _obligations(session, "safer-cornwall", "cda-1998-s5-s6")
    assert closed and all("no longer discharges" in o.closed_reason for o in closed)
    actions = [e.action for e in _actions(session, "partnership_duty")]
    assert actions == ["partnership_duty.added", "partnership_duty.removed"]
    unchanged = _post(admin, f"{SAFER}/duties", {"duties": ["pcsca-2022-s8"]})
    assert "Nothing changed" in unchanged.text
    tampered = _post(admin, f"{SAFER}/duties", {"duties": ["no-such-duty"]})
    assert tampered.status_code == 400
    assert _summary(tampered) == [("#duties", "Select duties from the list")]
    assert _open_duties(session, "safer-cornwall") == {"pcsca-2022-s8"}


ROUTES = [
    ("get", "/partnerships/new"),
    ("post", "/partnerships/new"),
    ("get", f"{SAFER}/edit"),
    ("post", f"{SAFER}/edit"),
    ("get", f"{SAFER}/members"),
    ("post", f"{SAFER}/members"),
    ("get", f"{SAFER}/members/QT6/end"),
    ("post", f"{SAFER}/members/QT6/end"),
    ("get", f"{SAFER}/duties"),
    ("post", f"{SAFER}/duties"),
]


@pytest.mark.parametrize("role", ["officer", "inspector"])
def test_officers_and_inspectors_are_refused_every_page(app, demo, session, role):
    user = make_user(session, role, partnerships=["safer-cornwall"])
    client = TestClient(app)
    sign_in(client, user.email)
    token = csrf_of(client, SAFER)
    page = parse(client.get(SAFER).text)
    assert not [a for a in page.iterfind(".//main//a") if a.get("href") == f"{SAFER}/edit"]
    assert "/partnerships/new" not in client.get("/partnerships").text
    data = NEW | {"csrf_token": token, "body_code": "RJ8", "role": "x", "end_date-day": "1"}
    for method, path in ROUTES:
        kwargs = {"data": data} if method == "post" else {}
        response = getattr(client, method)(path, follow_redirects=False, **kwargs)
        assert response.status_code == 403, (role, method, path)
    assert _actions(session, "partnership") == []
