"""The administrator's journeys in the pages: users, checks, mail and the bodies import."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.accounts.service import scope_of
from compliance.mailer import Email, enqueue
from compliance.models import Body, CheckRun, User
from compliance.reminders.models import OutboxMessage
from tests.conftest import PASSWORD, csrf_of, make_user, sign_in
from tests.factories import make_body, make_partnership
from tests.html import parse

NEW_USER = {
    "name": "Kerensa Pascoe",
    "email": "kerensa.pascoe@cornwall.example.org",
    "password": "a long enough passphrase",
}


def post(client: TestClient, path: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_of(client, "/admin/users")} | data, **kwargs)


def summary(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The error summary's messages, in order, from a strictly parsed page."""
    tree = parse(page.text)
    return ["".join(a.itertext()) for a in tree.iterfind(".//*[@class='govuk-error-summary']//a")]


def field_value(page, name: str) -> str | None:  # type: ignore[no-untyped-def]
    found = parse(page.text).find(f".//input[@name='{name}']")
    return None if found is None else found.get("value")


def users_named(session, email: str) -> list[User]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(User).where(User.email == email)))


def test_the_new_user_form_chooses_no_role_for_you(admin):
    page = admin.get("/admin/users/new")
    assert page.status_code == 200
    radios = parse(page.text).iterfind(".//input[@name='role']")
    checked = {r.get("value"): r.get("checked") is not None for r in radios}
    assert checked == {"officer": False, "inspector": False, "admin": False}


def test_a_user_without_a_role_is_not_added_and_the_form_comes_back(admin, session):
    body = make_body(session)
    page = post(admin, "/admin/users", NEW_USER | {"bodies": body.code})
    assert page.status_code == 400
    assert summary(page) == ["Select a role"]
    assert "<title>Error: Add a user" in page.text
    assert field_value(page, "name") == NEW_USER["name"]
    assert field_value(page, "email") == NEW_USER["email"]
    assert field_value(page, "bodies") == body.code
    assert field_value(page, "password") is None  # a password is never sent back
    assert users_named(session, NEW_USER["email"]) == []


def test_every_problem_is_listed_in_the_forms_order_in_plain_english(admin, session):
    empty = post(admin, "/admin/users", {})
    assert empty.status_code == 400
    assert summary(empty) == [
        "Enter a name",
        "Enter an email address",
        "Select a role",
        "Enter a password",
    ]
    wrong = post(
        admin,
        "/admin/users",
        {"name": "X", "email": "not an address", "role": "inspector", "password": "short"},
    )
    assert summary(wrong) == [
        "Enter an email address in the correct format, like name@example.org",
        "Enter a password of at least 12 characters",
    ]
    unknown = post(admin, "/admin/users", NEW_USER | {"role": "officer", "bodies": "NOPE1 NOPE2"})
    assert summary(unknown) == ["There are no bodies with the codes NOPE1, NOPE2"]
    taken = make_user(session, "inspector")
    again = post(admin, "/admin/users", NEW_USER | {"email": taken.email, "role": "inspector"})
    assert again.status_code == 400
    assert summary(again) == [f"A user with the email {taken.email} already exists"]
    assert users_named(session, NEW_USER["email"]) == []


def test_an_officer_needs_a_body_or_partnership(admin, session):
    page = post(admin, "/admin/users", NEW_USER | {"role": "officer"})
    assert page.status_code == 400
    assert summary(page) == ["Select at least one body or partnership for an officer"]
    tree = parse(page.text)
    checked = tree.find(".//input[@name='role'][@checked]")
    assert checked is not None and checked.get("value") == "officer"
    assert users_named(session, NEW_USER["email"]) == []
    # An inspector with nothing in scope sees nothing, but the service allows one.
    inspector = post(
        admin, "/admin/users", NEW_USER | {"role": "inspector"}, follow_redirects=False
    )
    assert inspector.status_code == 303


def test_an_officer_is_added_and_listed_with_their_scope(admin, session):
    body = make_body(session, name="Kernow Unitary Council")
    added = post(
        admin,
        "/admin/users",
        NEW_USER | {"role": "officer", "bodies": body.code.lower()},
        follow_redirects=False,
    )
    assert added.status_code == 303
    (user,) = users_named(session, NEW_USER["email"])
    assert added.headers["location"] == f"/admin/users/{user.id}"
    assert (user.role, user.is_active) == ("officer", True)
    assert scope_of(session=session, user=user) == ({body.id}, set())
    listing = parse(admin.get("/admin/users").text)
    row = next(
        tr
        for tr in listing.iterfind(".//tbody/tr")
        if tr.find(".//a") is not None and tr.find(".//a").get("href") == f"/admin/users/{user.id}"
    )
    cells = ["".join(td.itertext()).strip() for td in row.iterfind("td")]
    assert cells == [
        NEW_USER["name"],
        NEW_USER["email"],
        "Officer",
        f"Kernow Unitary Council ({body.code})",
        "Active",
    ]
    page = admin.get(f"/admin/users/{user.id}")
    assert page.status_code == 200
    assert "Kernow Unitary Council" in page.text and "Never" in page.text


def test_a_users_role_and_scope_are_changed(admin, session):
    body = make_body(session)
    board = make_partnership(session, name="Kernow Safeguarding Board")
    officer = make_user(session, "officer", bodies=[body.code])
    form = admin.get(f"/admin/users/{officer.id}/edit")
    assert field_value(form, "bodies") == body.code
    changed = post(
        admin,
        f"/admin/users/{officer.id}/edit",
        {
            "name": "Renamed Person",
            "role": "inspector",
            "bodies": "",
            "partnerships": board.slug,
            "is_active": "yes",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    session.refresh(officer)
    assert (officer.name, officer.role) == ("Renamed Person", "inspector")
    assert scope_of(session=session, user=officer) == (set(), {board.id})
    page = admin.get(f"/admin/users/{officer.id}")
    assert "Kernow Safeguarding Board" in page.text and "Inspector" in page.text
    # Back to officer with nothing in scope: refused on the same form, nothing changed.
    refused = post(
        admin,
        f"/admin/users/{officer.id}/edit",
        {"name": "", "role": "officer", "bodies": "", "partnerships": "", "is_active": "yes"},
    )
    assert refused.status_code == 400
    assert summary(refused) == [
        "Enter a name",
        "Select at least one body or partnership for an officer",
    ]
    session.refresh(officer)
    assert officer.role == "inspector"


def test_deactivating_asks_first_then_the_user_cannot_sign_in(admin, app, session):
    body = make_body(session)
    officer = make_user(session, "officer", bodies=[body.code])
    with TestClient(app) as theirs:
        sign_in(theirs, officer.email)
        confirm = admin.get(f"/admin/users/{officer.id}/deactivate")
        assert confirm.status_code == 200
        button = parse(confirm.text).find(".//main//button")
        assert "govuk-button--warning" in button.get("class")
        # Choosing "No" on the change form asks too, and changes nothing yet.
        asked = post(
            admin, f"/admin/users/{officer.id}/edit", {"is_active": "no", "name": "Still Asked"}
        )
        assert asked.status_code == 200 and "Are you sure" in asked.text
        session.refresh(officer)
        assert officer.is_active and officer.name != "Still Asked"
        done = post(
            admin,
            f"/admin/users/{officer.id}/edit",
            {"is_active": "no", "confirm": "yes"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        session.refresh(officer)
        assert officer.is_active is False
        assert theirs.get("/", follow_redirects=False).status_code == 303  # signed out
        again = theirs.post(
            "/sign-in",
            data={"email": officer.email, "password": PASSWORD, "next": "/"},
            follow_redirects=False,
        )
        assert again.status_code != 303
    listing = admin.get("/admin/users").text
    assert "Deactivated" in listing


def test_the_last_administrator_cannot_deactivate_themselves(admin, session):
    (me,) = session.exec(select(User).where(User.role == "admin", User.is_active)).all()
    page = post(admin, f"/admin/users/{me.id}/edit", {"is_active": "no", "confirm": "yes"})
    assert page.status_code == 409
    assert summary(page) == [
        "You cannot deactivate the only active administrator. "
        "Make another user an administrator first"
    ]
    body = make_body(session)
    demoted = post(admin, f"/admin/users/{me.id}/edit", {"role": "officer", "bodies": body.code})
    assert demoted.status_code == 409
    assert summary(demoted) == [
        "You cannot change the role of the only active administrator. "
        "Make another user an administrator first"
    ]
    session.refresh(me)
    assert (me.role, me.is_active) == ("admin", True)


def test_a_check_started_from_the_page_shows_its_result_and_is_listed(admin, session):
    make_body(session)  # a council with every duty and no evidence: the checks find plenty
    page = admin.get("/admin/checks")
    assert "Run the checks now" in page.text
    started = post(admin, "/admin/checks", {}, follow_redirects=False)
    assert started.status_code == 303
    run = session.exec(select(CheckRun).order_by(CheckRun.id.desc())).first()
    assert started.headers["location"] == f"/admin/checks/{run.id}"
    assert run.status == "succeeded" and run.findings_open > 0 and run.finished_at
    result = parse(admin.get(started.headers["location"]).text)
    facts = {
        "".join(row.find("dt").itertext()): "".join(row.find("dd").itertext())
        for row in result.iterfind(".//dl/div")
    }
    assert facts["Findings open"] == str(run.findings_open)
    assert facts["New findings"] == str(run.findings_new)
    assert facts["Findings resolved"] == str(run.findings_resolved)
    assert facts["Started by"] == "Administrator"
    listing = parse(admin.get("/admin/checks").text)
    first = listing.find(".//tbody/tr")
    cells = ["".join(td.itertext()).strip() for td in first.iterfind("td")]
    assert cells[0] == f"Run {run.id}"
    assert cells[-3:] == [str(run.findings_open), str(run.findings_new), "0"]


def test_dead_mail_is_reached_from_the_admin_pages_and_tried_again(admin, session, settings):
    nav = parse(admin.get("/admin/users").text).find(".//nav[@aria-label='Administration']")
    links = {a.get("href"): a.get("aria-current") for a in nav.iterfind(".//a")}
    assert links == {
        "/admin/users": "page",
        "/admin/import": None,
        "/admin/checks": None,
        "/admin/mail": None,
    }
    recipient = make_user(session, "officer", email="gone@council.example.org")
    enqueue(
        session=session,
        settings=settings,
        key="dead:admin-pages",
        kind="reminder",
        to_address=recipient.email,
        email=Email("Due in 7 days: annual report", "text", "<p>html</p>"),
        to_user_id=recipient.id,
    )
    row = session.exec(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == "dead:admin-pages")
    ).one()
    row.status, row.attempts, row.last_error = "dead", 8, "550 5.1.1 No such mailbox"
    session.flush()
    page = admin.get("/admin/mail")
    tree = parse(page.text)
    assert (
        tree.find(".//nav[@aria-label='Administration']//a[@aria-current='page']").get("href")
        == "/admin/mail"
    )
    assert tree.find(".//div[@class='app-table-container']//table") is not None
    cells = ["".join(td.itertext()) for td in tree.iterfind(".//tbody//td")]
    assert "gone@council.example.orgTest officer" in cells
    assert "Due in 7 days: annual report" in cells
    assert any("refused the address" in c for c in cells)
    retried = post(admin, f"/admin/mail/{row.id}/retry", {}, follow_redirects=False)
    assert retried.status_code == 303
    session.refresh(row)
    assert (row.status, row.attempts) == ("queued", 0)
    again = post(admin, f"/admin/mail/{row.id}/retry", {})
    assert again.status_code == 404
    assert summary(again)[0].startswith("That email is no longer waiting to be tried again")


def test_an_empty_import_says_so_on_the_same_page(admin):
    page = admin.post(
        "/admin/import",
        data={"csrf_token": csrf_of(admin, "/admin/import")},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert page.status_code == 400
    assert summary(page) == ["Select a CSV file"]
    assert "<title>Error: Import bodies" in page.text
    assert parse(page.text).find(".//form[@action='/admin/import']") is not None


def test_a_malformed_register_lists_every_bad_line_and_imports_nothing(admin, session):
    before = session.exec(select(Body.code)).all()
    csv = (
        "code,name,kind,nation,parent_code,website\n"
        "E06000901,Good Council,unitary_authority,england,,\n"
        "E06000902,Bad Kind,county,england,,\n"
        ",No Code,unitary_authority,england,,\n"
    )
    page = admin.post(
        "/admin/import",
        data={"csrf_token": csrf_of(admin, "/admin/import")},
        files={"file": ("register.csv", csv.encode(), "text/csv")},
    )
    assert page.status_code == 400
    messages = summary(page)
    assert [m.split(":")[0] for m in messages] == ["Line 3", "Line 4"]
    assert "Nothing was imported" in page.text
    assert session.exec(select(Body.code)).all() == before


ADMIN_PAGES = [
    "/admin/users",
    "/admin/users/new",
    "/admin/import",
    "/admin/checks",
    "/admin/mail",
]


@pytest.mark.parametrize("role", ["officer", "inspector"])
def test_nobody_but_an_administrator_reaches_an_admin_page(app, session, role):
    body = make_body(session)
    user = make_user(session, role, bodies=[body.code])
    with TestClient(app) as browser:
        sign_in(browser, user.email)
        token = csrf_of(browser, "/")
        for path in [*ADMIN_PAGES, f"/admin/users/{user.id}", f"/admin/users/{user.id}/edit"]:
            assert browser.get(path).status_code == 403, path
        assert browser.get(f"/admin/users/{user.id}/deactivate").status_code == 403
        posts = [
            ("/admin/users", NEW_USER | {"role": "admin"}),
            (f"/admin/users/{user.id}/edit", {"role": "admin"}),
            ("/admin/checks", {}),
            ("/admin/mail/1/retry", {}),
            ("/admin/import", {}),
        ]
        for path, data in posts:
            assert browser.post(path, data={"csrf_token": token} | data).status_code == 403, path
    session.refresh(user)
    assert user.role == role
    assert session.exec(select(CheckRun).where(CheckRun.trigger == "page")).all() == []
