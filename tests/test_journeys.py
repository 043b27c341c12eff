"""Whole journeys in Chromium, from sign-in to done, as an officer, an inspector and an admin
would take them; and every form on every page submitted empty and at its defaults, which must
come back the GOV.UK way (the form again, with an error summary) and never as an error page."""

import datetime as dt
import json
import re
import zipfile

import pytest
from sqlmodel import Session, select

import compliance.obligations.holders as holders
from compliance.config import Settings
from compliance.db import make_engine
from compliance.models import Body
from compliance.reminders.models import OutboxMessage
from tests.chromium_site import needs_chromium
from tests.test_browser import ROLES, axe_violations, pages, signed_in

pytestmark = needs_chromium


def site_today(site) -> dt.date:  # type: ignore[no-untyped-def]
    """The day the site's server believes it is: the suite's frozen clock, where the bodies are."""
    return Settings(environment="test", secret_key="journeys").today()


FORM_SUBMIT = "button[type=submit], input[type=submit]"


def problem_or_done(page, response, where: str) -> None:  # type: ignore[no-untyped-def]
    """A submitted form either succeeded or came back as itself with the GOV.UK error summary."""
    assert response is not None, where
    assert response.status < 500, f"{where}: {response.status}"
    if response.status >= 400:
        assert page.locator(".govuk-error-summary").count() == 1, (
            f"{where}: {response.status} without the form's error summary: "
            + page.inner_text("main")[:300]
        )
        assert page.locator("main form").count() >= 1, f"{where}: no form to correct"
        assert page.title().startswith("Error: "), f"{where}: title {page.title()!r}"


def submit(page, form, where: str):  # type: ignore[no-untyped-def]
    with page.expect_navigation() as navigation:
        form.locator(FORM_SUBMIT).first.click()
    response = navigation.value
    problem_or_done(page, response, where)
    return response


# Every form in the page's main part, but those that download a file (the journeys below
# download those): a filter, a search or a form that records something.
FORMS = "main form:not([action$='/report'])"


def sweepable(page) -> int:  # type: ignore[no-untyped-def]
    return page.locator(FORMS).count()


@pytest.mark.parametrize("who", ROLES)
def test_every_form_submitted_empty_and_at_its_defaults_never_dead_ends(browser, site, who):
    page = signed_in(browser, site, who)
    tried = 0
    for path in pages(site):
        if path == "/no-such-page":
            continue
        response = page.goto(site["base"] + path)
        assert response.status < 500, f"{who} {path}: {response.status}"
        if response.status in (403, 404):
            continue  # this role may not open this page: test_permissions holds who may
        for index in range(sweepable(page)):
            for empty in (False, True):
                page.goto(site["base"] + path)
                forms = page.locator(FORMS)
                if index >= forms.count():
                    break
                form = forms.nth(index)
                form_method = (form.get_attribute("method") or "get").lower()
                if form.locator(".govuk-button--warning").count():
                    break  # a destructive confirmation: the journeys press it, on purpose
                if not form.locator(FORM_SUBMIT).first.is_visible():
                    form.locator("xpath=ancestor::details").first.locator("summary").click()
                if empty:
                    for field in form.locator(
                        "input[type=text], input[type=email], input[type=number], "
                        "input:not([type]), textarea"
                    ).all():
                        if field.is_visible() and field.is_editable():
                            field.fill("")
                where = f"{who} {path} form {index} {'empty' if empty else 'defaults'}"
                response = submit(page, form, where)
                if form_method == "get" and not empty:
                    # A filter or search at its defaults is a question, never a mistake.
                    assert response.status == 200, f"{where}: {response.status}"
                tried += 1
    page.context.close()
    assert tried >= {"admin": 8, "officer": 8, "inspector": 2}[who], tried


def test_admin_adds_a_user_imports_a_register_runs_the_checks_and_retries_dead_mail(
    browser, site, tmp_path
):
    engine = make_engine(f"sqlite:///{site['data'] / 'site.db'}")
    with Session(engine) as session:
        session.add(
            OutboxMessage(
                idempotency_key="journey:dead",
                kind="reminder",
                to_address="kerensa@demo.example.org",
                subject="Reminder: Safeguarding Adults Board annual report",
                text_body="text",
                html_body="<p>html</p>",
                message_id="<journey-dead@demo.example.org>",
                status="dead",
                attempts=8,
                last_error="550 5.1.1 No such mailbox",
            )
        )
        session.commit()
    engine.dispose()

    admin = signed_in(browser, site, "admin")
    base = site["base"]
    admin.click("nav >> text=Admin")
    admin.locator("main a", has_text="Add a user").first.click()
    form = admin.locator("main form[method=post]")
    submit(admin, form, "add user empty")
    summary = admin.inner_text(".govuk-error-summary")
    assert "Enter a name" in summary and "Select a role" in summary
    admin.locator("#name").fill("Morwenna Trewin")
    admin.locator("#email").fill("morwenna.trewin@example.org")
    admin.locator("input[name=role][value=officer]").check()
    submit(admin, admin.locator("main form[method=post]"), "officer without scope")
    assert "Select at least one body or partnership" in admin.inner_text(".govuk-error-summary")
    assert admin.locator("#name").input_value() == "Morwenna Trewin"
    admin.locator("#bodies").fill("E06000052")
    admin.locator("#password").fill("a long and memorable passphrase")
    response = submit(admin, admin.locator("main form[method=post]"), "add officer")
    assert response.status == 200 and "Morwenna Trewin" in admin.inner_text("main")

    admin.locator("a", has_text="Import").first.click()
    submit(admin, admin.locator("main form[method=post]"), "import empty")
    assert "Select a CSV file" in admin.inner_text(".govuk-error-summary")
    register = tmp_path / "register.csv"
    register.write_text(
        "code,name,kind,nation,parent_code,website\n"
        "E07000999,Journey District Council,,,,https://example.org\n"
        "E06000999,Bad Line Council,no_such_kind,england,,\n",
        encoding="utf-8",
    )
    admin.locator("#file").set_input_files(str(register))
    submit(admin, admin.locator("main form[method=post]"), "import with a bad line")
    assert "Line 3" in admin.inner_text(".govuk-error-summary")
    register.write_text(
        "code,name,kind,nation,parent_code,website\n"
        "E07000999,Journey District Council,,,,https://example.org\n",
        encoding="utf-8",
    )
    admin.locator("#file").set_input_files(str(register))
    submit(admin, admin.locator("main form[method=post]"), "import")
    assert "1 new" in admin.inner_text(".govuk-notification-banner")

    admin.goto(f"{base}/admin/checks")
    submit(admin, admin.locator("main form[method=post]"), "run checks")
    assert re.search(r"/admin/checks/\d+$", admin.url), admin.url
    assert "open" in admin.inner_text("main").lower()

    admin.goto(f"{base}/admin/users")
    admin.locator("a", has_text="Mail").first.click()
    row = admin.locator("tr", has_text="kerensa@demo.example.org")
    submit(admin, row.locator("form"), "retry dead mail")
    assert admin.locator("tr", has_text="kerensa@demo.example.org").count() == 0
    with Session(make_engine(f"sqlite:///{site['data'] / 'site.db'}")) as session:
        retried = session.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "journey:dead")
        ).one()
        assert retried.status == "queued"
        assert session.exec(select(Body).where(Body.code == "E07000999")).one()
    admin.context.close()


def test_officer_adds_an_outcome_with_an_indicator_and_records_a_measurement(browser, site):
    officer = signed_in(browser, site, "officer")
    officer.goto(f"{site['base']}/partnerships/cios-safeguarding-adults-board")
    form = officer.locator("main form[action$='/outcomes']")
    if not form.is_visible():
        form.locator("xpath=ancestor::details").first.locator("summary").click()
    submit(officer, form, "outcome empty")
    officer.goto(f"{site['base']}/partnerships/cios-safeguarding-adults-board")
    form = officer.locator("main form[action$='/outcomes']")
    if not form.is_visible():
        form.locator("xpath=ancestor::details").first.locator("summary").click()
    form.locator("input[type=text], textarea").first.fill(
        "People in Cornwall feel safer after a safeguarding enquiry"
    )
    submit(officer, form, "add outcome")
    assert "People in Cornwall feel safer" in officer.inner_text("main")
    section = officer.locator("section", has_text="People in Cornwall feel safer").first
    section.get_by_role("link", name=re.compile("Add an indicator")).first.click()
    indicator = officer.locator("main form[method=post]")
    submit(officer, indicator, "indicator empty")
    officer.locator("main form[method=post] input[type=text]").first.fill(
        "Enquiries where the person said they felt safer (%)"
    )
    for name, value in (("unit", "%"), ("baseline", "70"), ("target", "85")):
        field = officer.locator(f"main form[method=post] [name={name}]")
        if field.count():
            field.fill(value)
    polarity = officer.locator("main form[method=post] input[type=radio]")
    if polarity.count():
        polarity.first.check()
    submit(officer, officer.locator("main form[method=post]"), "add indicator")
    officer.goto(f"{site['base']}/partnerships/cios-safeguarding-adults-board")
    measure = officer.locator("main form[action$='/measurements']")
    if not measure.is_visible():
        measure.locator("xpath=ancestor::details").first.locator("summary").click()
    choice = measure.locator("select option", has_text="felt safer").first.get_attribute("value")
    measure.locator("select").first.select_option(choice)
    measure.locator("[name=value]").fill("78")
    measured = site_today(site) - dt.timedelta(days=10)
    for part, value in (("day", measured.day), ("month", measured.month), ("year", measured.year)):
        measure.locator(f"#measured_date-{part}").fill(str(value))
    measure.locator("[name=source]").fill("Making Safeguarding Personal survey, journey test")
    submit(officer, measure, "record measurement")
    assert "78" in officer.inner_text("main")
    officer.context.close()


def test_officer_finds_what_is_overdue_records_evidence_and_corrects_it(browser, site, tmp_path):
    officer = signed_in(browser, site, "officer")
    base = site["base"]
    urgent = officer.locator("#count-urgent")
    counted = int(urgent.locator("span").first.inner_text())
    urgent.click()
    rows = 0
    while True:
        rows += officer.locator("main table tbody tr").count()
        following = officer.locator("a[rel=next]")
        if not following.count():
            break
        following.first.click()
    assert rows == counted
    assert "Cornwall Council" in officer.inner_text("main") or counted == 0

    officer.goto(f"{base}/obligations/{site['obligation']}")
    officer.locator("a.govuk-button", has_text="Record evidence").click()
    submit(officer, officer.locator("main form[method=post]"), "record evidence empty")
    assert "Enter a title" in officer.inner_text(".govuk-error-summary")
    officer.locator("input[name=occurrence_ids]").first.check()
    officer.select_option("#kind", label="Minutes")
    officer.locator("#title").fill("Board minutes, March, journey")
    recorded_on = site_today(site) - dt.timedelta(days=20)
    for part in ("day", "month", "year"):
        officer.locator(f"#effective_date-{part}").fill(str(getattr(recorded_on, part)))
    document = tmp_path / "minutes.pdf"
    document.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    officer.locator("#file").set_input_files(str(document))
    submit(officer, officer.locator("main form[method=post]"), "record evidence")
    assert "Evidence recorded" in officer.inner_text(".govuk-notification-banner")

    card = officer.locator(".govuk-summary-card", has_text="Board minutes, March, journey").first
    card.locator("a", has_text="Record a corrected version").click()
    form = officer.locator("main form[method=post]")
    officer.locator("#title").fill("")
    submit(officer, form, "correction empty title")
    assert "Enter a title" in officer.inner_text(".govuk-error-summary")
    officer.locator("#title").fill("Board minutes, March, signed, journey")
    submit(officer, officer.locator("main form[method=post]"), "correction")
    assert "Board minutes, March, signed, journey" in officer.inner_text("main")

    card = officer.locator(".govuk-summary-card", has_text="signed, journey").first
    card.locator("a", has_text="Withdraw").click()
    submit(officer, officer.locator("main form[method=post]"), "withdraw without a reason")
    assert "Enter why you are withdrawing" in officer.inner_text(".govuk-error-summary")
    officer.locator("main textarea").fill("Recorded against the wrong meeting")
    submit(officer, officer.locator("main form[method=post]"), "withdraw")
    withdrawn = officer.locator(".govuk-summary-card", has_text="signed, journey").first
    assert "Withdrawn" in withdrawn.inner_text()
    officer.context.close()


def test_inspector_searches_filters_and_downloads_reports_as_at_a_past_date(browser, site):
    inspector = signed_in(browser, site, "inspector")
    inspector.click("nav >> text=Bodies")
    inspector.locator("#q").fill("cornwall")
    with inspector.expect_navigation() as navigation:
        inspector.locator("main form button").first.click()
    assert navigation.value.status == 200
    assert "Cornwall Council" in inspector.inner_text("main table")
    inspector.locator("main a", has_text="Cornwall Council").first.click()
    assert "/bodies/E06000052" in inspector.url
    filters = inspector.locator("main form[method=get]:not([action$='/report'])").first
    with inspector.expect_navigation() as navigation:
        filters.locator("button").first.click()
    assert navigation.value.status == 200

    past = site_today(site) - dt.timedelta(days=60)
    report = inspector.locator("main form[action$='/report']").first
    for part in ("day", "month", "year"):
        report.locator(f"#as_at-{part}").fill(str(getattr(past, part)))
    with inspector.expect_download() as download:
        report.locator("button", has_text="PDF").first.click()
    assert download.value.suggested_filename.endswith(f"{past.isoformat()}.pdf")
    with inspector.expect_download() as download:
        report.locator("button", has_text="pack").first.click()
    assert download.value.suggested_filename.endswith(".zip")

    for part in ("day", "month", "year"):
        report.locator(f"#as_at-{part}").fill({"day": "31", "month": "2", "year": "2026"}[part])
    submit(inspector, report, "impossible as-at date")
    assert "Enter a real date" in inspector.inner_text(".govuk-error-summary")
    inspector.context.close()


def test_inspector_starts_a_duty_full_evidence_pack_and_downloads_it_when_ready(browser, site):
    inspector = signed_in(browser, site, "inspector")
    inspector.goto(site["base"] + "/duties/care-act-2014-s42-s45")
    full = inspector.locator("main form[action$='/full-pack']")
    for part, value in (("day", "31"), ("month", "2"), ("year", "2026")):
        full.locator(f"#pack_as_at-{part}").fill(value)
    submit(inspector, full, "full pack with an impossible date")
    summary = inspector.locator(".govuk-error-summary")
    assert "Enter a real date" in summary.inner_text()
    summary.locator("a").first.click()
    assert inspector.evaluate("document.activeElement.id") == "pack_as_at-day"

    full = inspector.locator("main form[action$='/full-pack']")
    for part in ("day", "month", "year"):
        full.locator(f"#pack_as_at-{part}").fill("")
    response = submit(inspector, full, "full pack as at today")
    assert response.status == 200 and inspector.url.endswith("/reports")
    row = inspector.locator("main table tbody tr").first
    assert "with its full evidence pack" in row.inner_text() or "in detail" in row.inner_text()
    for _ in range(600):
        if "Ready" in row.inner_text() or "Failed" in row.inner_text():
            break
        inspector.wait_for_timeout(500)
        inspector.reload()
        row = inspector.locator("main table tbody tr").first
    assert "Ready" in row.inner_text(), row.inner_text()
    with inspector.expect_download() as download:
        row.locator("a", has_text="vidence pack").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["scope"] == {
        "kind": "duty",
        "key": "care-act-2014-s42-s45",
        "name": manifest["scope"]["name"],
    }
    inspector.context.close()


def test_admin_finds_a_body_among_many_by_typing_part_of_its_name_or_its_code(browser, site):
    # The holder filters are type-ahead searches past ten options (static/app.js): a name
    # chosen from the suggestions, a code typed in full, an emptied box (any body) and a name
    # that is nobody's (the filter's own error) each send what the select would have.
    admin = signed_in(browser, site, "admin")
    admin.goto(f"{site['base']}/obligations")
    assert admin.locator("select#body-select").is_hidden()
    filters = admin.locator("main form[method=get]").first
    search = admin.locator("input#body")
    search.fill("cornw")
    admin.locator("#body__listbox li", has_text="Cornwall Council").first.click()
    for typed, sent, status in [
        (None, "E06000052", 200),
        ("", "", 200),
        ("E06000053", "E06000053", 200),
        ("Nobody of this name", "Nobody+of+this+name", 422),
    ]:
        if typed is not None:
            search.fill(typed)
        with admin.expect_navigation() as navigation:
            filters.locator("button", has_text="Filter").click()
        assert navigation.value.status == status, typed
        assert f"body={sent}&" in admin.url, (typed, admin.url)
        search = admin.locator("input#body")
    assert "Choose a body from the list" in admin.inner_text(".govuk-error-summary")
    admin.goto(f"{site['base']}/obligations?body=E06000052")
    assert admin.input_value("input#body") == "Cornwall Council"
    assert "Cornwall Council" in admin.inner_text("main table")
    admin.goto(f"{site['base']}/reviews")
    admin.locator("input#holder").fill("safeguarding adults")
    admin.locator("#holder__listbox li").first.click()
    with admin.expect_navigation() as navigation:
        admin.locator("main form[method=get] button").first.click()
    assert navigation.value.status == 200
    assert "holder=%2Fpartnerships%2Fcios-safeguarding-adults-board" in admin.url
    officer = signed_in(browser, site, "officer")
    officer.goto(f"{site['base']}/obligations")
    assert officer.locator("select#body").is_visible()  # a few bodies: the select as it is
    admin.context.close()
    officer.context.close()


def test_at_national_scale_a_holder_is_found_by_suggestions_the_server_gives(
    browser, site, monkeypatch
):
    # Past SEARCHED_PAST holders the filters write no options: the box asks /holders as the
    # user types (static/app.js), and what it sends is looked up (obligations/holders.py).
    monkeypatch.setattr(holders, "SEARCHED_PAST", 0)
    for role, seen, unseen in [
        ("admin", "Devon and Cornwall Police (E23000035)", None),
        ("officer", "Cornwall Council (E06000052)", "Devon and Cornwall Police (E23000035)"),
    ]:
        user = signed_in(browser, site, role)
        user.goto(f"{site['base']}/obligations")
        assert user.locator("select#body").count() == 0
        search = user.locator("input#body")
        search.fill("cornw")
        suggestions = user.locator("#body__listbox li")
        suggestions.filter(has_text=seen).wait_for()
        assert axe_violations(user) == [], role  # the boxes, and a menu of suggestions open
        if unseen:
            assert unseen not in suggestions.all_inner_texts()
        suggestions.filter(has_text="Cornwall Council (E06000052)").click()
        with user.expect_navigation() as navigation:
            user.locator("main form[method=get] button", has_text="Filter").click()
        assert navigation.value.status == 200, role
        assert user.input_value("input#body") == "Cornwall Council (E06000052)"
        assert "held by Cornwall Council" in user.inner_text("main")
        cells = user.locator("main table tbody tr td:nth-child(1)").all_inner_texts()
        assert cells and all("Cornwall Council" in c for c in cells), cells[:3]
        user.locator("input#body").fill("Nobody of this name")
        user.locator("input#body").press("Escape")
        with user.expect_navigation() as navigation:
            user.locator("main form[method=get] button", has_text="Filter").click()
        assert navigation.value.status == 422
        assert "No body has that name or code" in user.inner_text(".govuk-error-summary")
        assert user.input_value("input#body") == "Nobody of this name"
        user.goto(f"{site['base']}/reviews")
        user.locator("input#holder").fill("adults")
        user.locator("#holder__listbox li").first.click()
        with user.expect_navigation() as navigation:
            user.locator("main form[method=get] button").first.click()
        assert navigation.value.status == 200
        assert "cios-safeguarding-adults-board" in user.input_value("input#holder")
        user.context.close()
