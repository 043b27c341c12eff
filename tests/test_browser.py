"""In a real browser (Debian's Chromium, driven by Playwright): axe-core finds no accessibility
violation on any page for any role, and the main journeys work with the keyboard alone."""

import re

import pytest

from tests.chromium_site import needs_chromium
from tests.conftest import PASSWORD

pytestmark = needs_chromium
ROLES = ("admin", "officer", "inspector")


def signed_in(browser, site, who, **context):  # type: ignore[no-untyped-def]
    page = browser.new_context(**context).new_page()
    page.goto(f"{site['base']}/sign-in")
    page.fill("#email", site["emails"][who])
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{site['base']}/")
    return page


def pages(site) -> list[str]:  # type: ignore[no-untyped-def]
    o = site["obligation"]
    return [
        "/",
        "/bodies",
        "/bodies/E06000052",
        f"/obligations/{o}",
        f"/obligations/{o}/evidence/new",
        "/partnerships",
        "/partnerships/cios-safeguarding-adults-board",
        "/duties",
        "/duties/care-act-2014-s42-s45",
        "/bids",
        f"/bids/{site['bid']}",
        "/findings",
        "/reviews",
        f"/audit/obligation/{o}",
        "/admin/users",
        "/admin/import",
        "/admin/mail",
        "/reports",
        "/account",
        "/account/email",
        "/account/calendar",
        "/obligations",
        f"/evidence/{site['evidence']}",
        "/admin/users/new",
        "/admin/checks",
        "/bodies/new",
        "/bodies/E06000052/edit",
        "/bodies/E06000052/reminders",
        "/partnerships/new",
        "/partnerships/cios-safeguarding-adults-board/edit",
        "/partnerships/cios-safeguarding-adults-board/members",
        "/partnerships/cios-safeguarding-adults-board/duties",
        "/no-such-page",
    ]


def axe_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
            # Every rule still runs on every node; only the violations are gathered in full (the
            # library's default, which naming the rules had dropped): a third of axe's time.
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']})"
        for v in results.response["violations"]
    ]


# A desktop, and a phone: at 375 px the navigation folds behind its menu button and tables
# scroll in their own boxes.
WIDTHS = (1280, 375)


def viewport(width: int) -> dict:  # type: ignore[type-arg]
    return {"viewport": {"width": width, "height": 800}}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("who", ROLES)
def test_no_accessibility_violations_on_any_page(browser, site, who, width):
    page = signed_in(browser, site, who, **viewport(width))
    found = {}
    for path in pages(site):
        page.goto(site["base"] + path)
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    page.context.close()
    assert found == {}


def test_sign_in_page_has_no_accessibility_violations(browser, site):
    page = browser.new_context().new_page()
    page.goto(f"{site['base']}/sign-in")
    assert axe_violations(page) == []
    page.fill("#email", "nobody@example.org")
    page.fill("#password", "wrong")
    page.click("button:has-text('Sign in')")
    assert "Enter a correct email address and password" in page.inner_text(".govuk-error-summary")
    assert axe_violations(page) == []
    page.context.close()


def tab_to(page, selector: str, limit: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until the element is focused, as a keyboard user would."""
    for _ in range(limit):
        if page.locator(selector).first.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach {selector} with the keyboard")


def test_keyboard_only_officer_records_evidence_then_inspector_queries_and_accepts(
    browser, site, tmp_path
):
    officer = signed_in(browser, site, "officer")
    officer.goto(f"{site['base']}/obligations/{site['obligation']}")
    before = officer.inner_text("main")
    tab_to(officer, "a.govuk-button:has-text('Record evidence')")
    officer.keyboard.press("Enter")
    officer.wait_for_url(re.compile(r".*/evidence/new$"))
    tab_to(officer, "input[name=occurrence_ids]")
    officer.keyboard.press("Space")
    tab_to(officer, "#kind")
    officer.keyboard.type("Minutes")
    tab_to(officer, "#title")
    officer.keyboard.type("Board minutes, keyboard journey")
    for part, value in (("day", "3"), ("month", "6"), ("year", "2025")):
        tab_to(officer, f"#effective_date-{part}")
        officer.keyboard.type(value)
    document = tmp_path / "minutes.pdf"
    document.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    tab_to(officer, "#file")
    # The file dialog belongs to the operating system, not the page: the keyboard reaches the
    # control, and Playwright stands in for the dialog.
    officer.locator("#file").set_input_files(str(document))
    tab_to(officer, "button:has-text('Record evidence')")
    with officer.expect_navigation():
        officer.keyboard.press("Enter")
    assert officer.url.endswith("recorded=1"), officer.inner_text("main")
    assert "Evidence recorded" in officer.inner_text(".govuk-notification-banner")
    assert "Board minutes, keyboard journey" in officer.inner_text("main")
    assert officer.inner_text("main") != before

    inspector = signed_in(browser, site, "inspector")
    inspector.goto(f"{site['base']}/obligations/{site['obligation']}")
    assert inspector.locator("a.govuk-button:has-text('Record evidence')").count() == 0
    card = inspector.locator(".govuk-summary-card", has_text="Board minutes, keyboard journey")
    card.locator("textarea[name=comment]").fill("Is this the signed version?")
    card.locator("button:has-text('Query')").click()
    officer.goto(f"{site['base']}/obligations/{site['obligation']}")
    mine = officer.locator(".govuk-summary-card", has_text="Board minutes, keyboard journey")
    mine.locator("textarea[name=body]").fill("Yes: signed by the chair on 3 June")
    mine.locator("button:has-text('Send answer')").click()
    inspector.goto(f"{site['base']}/obligations/{site['obligation']}")
    card = inspector.locator(".govuk-summary-card", has_text="Board minutes, keyboard journey")
    card.locator("button:has-text('Accept')").click()
    thread = inspector.locator(
        ".govuk-summary-card", has_text="Board minutes, keyboard journey"
    ).inner_text()
    assert thread.index("Queried") < thread.index("Answer") < thread.index("Accepted")
    officer.context.close()
    inspector.context.close()


def test_inspector_never_sees_a_record_form(browser, site):
    inspector = signed_in(browser, site, "inspector")
    response = inspector.goto(f"{site['base']}/obligations/{site['obligation']}/evidence/new")
    assert response.status == 403
    assert inspector.locator("form[enctype='multipart/form-data']").count() == 0
    inspector.context.close()


def test_an_officer_cannot_reach_another_bodys_evidence_by_changing_the_url(browser, site):
    outsider = signed_in(browser, site, "outsider")
    for path in (
        f"/evidence/{site['evidence']}/file",
        f"/obligations/{site['obligation']}",
        "/bodies/E06000052",
    ):
        response = outsider.goto(site["base"] + path)
        assert response.status == 403, path
    outsider.context.close()


def sideways(page) -> int:  # type: ignore[no-untyped-def]
    """How far the page scrolls sideways, in CSS pixels (0 when it fits the window)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", (375, 320))
def test_no_page_scrolls_sideways_on_a_narrow_screen(browser, site, width):
    """WCAG 2.2 1.4.10 reflow: at 320 CSS pixels nothing needs scrolling in two directions;
    a wide table scrolls inside its own box instead."""
    anonymous = browser.new_context(**viewport(width)).new_page()
    anonymous.goto(f"{site['base']}/sign-in")
    wider = {"/sign-in": sideways(anonymous)}
    anonymous.context.close()
    page = signed_in(browser, site, "admin", **viewport(width))
    for path in pages(site):
        page.goto(site["base"] + path)
        wider[path] = sideways(page)
    page.context.close()
    assert {path: f"{over} px too wide" for path, over in wider.items() if over > 0} == {}


def current_section(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    links = page.locator("#navigation .govuk-service-navigation__link[aria-current]")
    return {link.inner_text().strip(): link.get_attribute("aria-current") for link in links.all()}


def test_the_navigation_marks_the_section_you_are_in(browser, site):
    page = signed_in(browser, site, "admin")
    for path, current in (
        ("/", {"Dashboard": "page"}),
        ("/bodies", {"Bodies": "page"}),
        ("/bodies/E06000052", {"Bodies": "true"}),
        ("/findings", {"Findings": "page"}),
        ("/admin/mail", {"Admin": "true"}),
    ):
        page.goto(site["base"] + path)
        assert current_section(page) == current, path
    page.context.close()


def test_govuk_frontend_javascript_runs_under_the_content_security_policy(browser, site):
    page = browser.new_context(**viewport(375)).new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{site['base']}/sign-in")
    page.fill("#email", site["emails"]["officer"])
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{site['base']}/")
    # Polled by Playwright from outside the page: the policy forbids evaluating strings in it.
    page.locator("body.js-enabled.govuk-frontend-supported").wait_for()
    # The service navigation's component folds the menu behind its button on a phone.
    menu = page.locator(".govuk-service-navigation__toggle")
    assert menu.is_visible()
    assert not page.locator("#navigation").is_visible()
    menu.click()
    assert page.locator("#navigation").is_visible()
    assert menu.get_attribute("aria-expanded") == "true"
    assert problems == []
    page.context.close()


def test_the_api_documentation_runs_under_the_content_security_policy(browser, site):
    page = browser.new_context().new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # the browser's own ask
    page.goto(f"{site['base']}/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 20
    page.locator(".opblock-summary").first.click()
    page.locator(".opblock-body").first.wait_for()
    assert problems == []
    page.context.close()


def test_the_error_summary_takes_the_focus_when_a_form_comes_back(browser, site):
    from playwright.sync_api import expect

    page = browser.new_context().new_page()
    page.goto(f"{site['base']}/sign-in")
    page.fill("#email", "nobody@example.org")
    page.fill("#password", "wrong")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    page.context.close()


def test_without_javascript_the_menu_shows_and_evidence_is_recorded(browser, site, tmp_path):
    page = signed_in(browser, site, "officer", java_script_enabled=False, **viewport(320))
    page.goto(f"{site['base']}/obligations/{site['obligation']}/evidence/new")
    assert page.locator("#navigation").is_visible()
    assert not page.locator(".govuk-service-navigation__toggle").is_visible()
    page.locator("input[name=occurrence_ids]").first.check()
    page.select_option("#kind", label="Minutes")
    page.fill("#title", "Minutes recorded without JavaScript")
    page.fill("#effective_date-day", "4")
    page.fill("#effective_date-month", "6")
    page.fill("#effective_date-year", "2025")
    document = tmp_path / "minutes.pdf"
    document.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.locator("#file").set_input_files(str(document))
    with page.expect_navigation():
        page.click("main form button[type=submit]:has-text('Record evidence')")
    assert page.url.endswith("recorded=1"), page.inner_text("main")
    assert "Minutes recorded without JavaScript" in page.inner_text("main")
    page.context.close()
