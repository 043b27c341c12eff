"""An evaluation round end to end in Chromium: an officer starts a round and invites partners,
a partner answers on a desktop, someone who uses services answers on a phone-sized screen with
JavaScript off, and results appear only past the round's minimum. axe finds no violation on the
public answer forms."""

import re
import sqlite3
from urllib.parse import urlsplit

from tests.chromium_site import needs_chromium
from tests.test_browser import axe_violations, sideways, signed_in, viewport

pytestmark = needs_chromium
EVALUATIONS = "/partnerships/cios-safeguarding-adults-board/evaluations"
PARTNER = {"share_information": "4", "trust": "5", "joint_decisions": "3", "shared_purpose": "4"}


def invitation_paths(site) -> list[str]:  # type: ignore[no-untyped-def]
    """The survey links in the invitations the site queued, read from its outbox."""
    with sqlite3.connect(site["data"] / "site.db") as db:
        rows = db.execute(
            "SELECT text_body FROM outbox_message WHERE kind = 'evaluation_invitation' ORDER BY id"
        ).fetchall()
    return [urlsplit(re.search(r"http\S+/survey/\S+", body).group(0)).path for (body,) in rows]


def answer_as_partner(browser, site, path: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context(**viewport(1280)).new_page()
    page.goto(site["base"] + path)
    assert axe_violations(page) == []
    for name, value in PARTNER.items():
        page.check(f"input[name={name}][value='{value}']")
    page.locator("input[name=outcomes]").first.check()
    page.fill("#expected", expected)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "Your answers have been sent" in page.inner_text("main")
    page.goto(site["base"] + path)  # the link works once
    assert "This link has already been used" in page.inner_text("main")
    assert axe_violations(page) == []
    page.context.close()


def results_of(officer, site, round_path: str) -> str:  # type: ignore[no-untyped-def]
    officer.goto(site["base"] + round_path)
    return officer.inner_text("main")


def test_an_evaluation_round_end_to_end(browser, site):
    officer = signed_in(browser, site, "officer")
    officer.goto(site["base"] + EVALUATIONS)
    officer.fill("#title", "Browser evaluation round")
    officer.fill("#min_answers", "2")
    with officer.expect_navigation():
        officer.click("main form button[type=submit]:has-text('Start the round')")
    round_path = urlsplit(officer.url).path
    assert re.fullmatch(rf"{EVALUATIONS}/\d+", round_path), officer.url
    officer.fill("#addresses", "partner.one@example.org\npartner.two@example.org")
    with officer.expect_navigation():
        officer.click("main form button[type=submit]:has-text('Send invitations')")
    assert "2 invitations sent" in officer.inner_text("main")
    first, second = invitation_paths(site)
    public = urlsplit(officer.input_value("#public-link")).path

    # The partners' stage: hidden at one answer, shown at two.
    answer_as_partner(browser, site, first, "Fewer adults harmed twice")
    assert "Results show once 2 people have answered (1 so far)" in results_of(
        officer, site, round_path
    )
    assert "Fewer adults harmed twice" not in officer.inner_text("main")
    answer_as_partner(browser, site, second, "Better joint training")
    shown = results_of(officer, site, round_path)
    assert "2 people answered" in shown and "Fewer adults harmed twice" in shown
    assert "Results show once 2 people have answered (0 so far)" in shown  # people's stage

    # The form on a phone: axe and the width are measured by script, so with JavaScript on.
    checked = browser.new_context(**viewport(375)).new_page()
    checked.goto(site["base"] + public)
    assert axe_violations(checked) == []
    assert sideways(checked) == 0
    with checked.expect_navigation():
        checked.click("main form button[type=submit]")
    assert "There is a problem" in checked.inner_text(".govuk-error-summary")
    assert axe_violations(checked) == []
    assert sideways(checked) == 0
    checked.context.close()

    # Someone who uses services answers on a phone, without JavaScript.
    phone = browser.new_context(java_script_enabled=False, **viewport(375)).new_page()
    phone.goto(site["base"] + public)
    phone.check("input[name=right_outcomes][value=partly]")
    phone.fill("#matters_most", "Being asked what I want")
    with phone.expect_navigation():
        phone.click("main form button[type=submit]")
    assert "Choose how much you agree that things have got better for you" in phone.inner_text(
        ".govuk-error-summary"
    )
    assert phone.input_value("#matters_most") == "Being asked what I want"
    for name, value in (("better_for_me", "4"), ("listened_to", "5"), ("joined_up", "2")):
        phone.check(f"input[name={name}][value='{value}']")
    with phone.expect_navigation():
        phone.click("main form button[type=submit]")
    assert "Your answers have been sent" in phone.inner_text("main")
    phone.context.close()
    assert "Results show once 2 people have answered (1 so far)" in results_of(
        officer, site, round_path
    )
    assert "Being asked what I want" not in officer.inner_text("main")

    # A second person's answers, typed in by the officer after a session.
    officer.click("a:has-text('Enter answers from a session')")
    officer.check("input[name=right_outcomes][value=yes]")
    officer.fill("#matters_most", "Feeling safe at home")
    for name, value in (("better_for_me", "5"), ("listened_to", "4"), ("joined_up", "4")):
        officer.check(f"input[name={name}][value='{value}']")
    with officer.expect_navigation():
        officer.click("main form button[type=submit]:has-text('Save this person')")
    assert "Answers saved" in officer.inner_text("main")
    shown = results_of(officer, site, round_path)
    assert "Results show once" not in shown
    assert "Being asked what I want" in shown and "Feeling safe at home" in shown
    officer.context.close()
