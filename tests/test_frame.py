"""The frame every page shares: the navigation marks where you are, GOV.UK Frontend's JavaScript is
served from the built assets under the strict Content-Security-Policy, and the components render
through govuk-frontend-jinja. In Chromium: tests/test_browser.py."""

import re
from types import SimpleNamespace

import pytest
from sqlmodel import select

from compliance.models import Bid, Obligation
from compliance.web import STATIC_DIR, templates
from tests.conftest import make_user, sign_in
from tests.html import parse

NAV = ".//ul[@id='navigation']"  # the service's; an admin page has its own below it


@pytest.fixture
def demo(demo_area, session, settings):
    session.flush()


def nav_marks(markup: str) -> dict[str, str]:
    """Each navigation link's label, with its aria-current where it has one."""
    marks = {}
    for item in parse(markup).find(NAV).iterfind("li"):
        link = item.find("a")
        label = "".join(link.itertext()).strip()
        active = "govuk-service-navigation__item--active" in item.get("class")
        assert active == (link.get("aria-current") is not None), label
        marks[label] = link.get("aria-current")
    return marks


def current_of(markup: str) -> dict[str, str]:
    return {label: mark for label, mark in nav_marks(markup).items() if mark}


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", {"Dashboard": "page"}),
        ("/bodies", {"Bodies": "page"}),
        ("/findings", {"Findings": "page"}),
        ("/reports", {"Reports": "page"}),
        # Inside a section: the section is marked, as "true" since its link is another page.
        ("/admin/mail", {"Admin": "true"}),
        ("/admin/users", {"Admin": "page"}),
        # A page that belongs to no section marks none, and "/" is the dashboard alone.
        ("/account", {}),
    ],
)
def test_the_navigation_marks_the_section_of_the_page(admin, path, current):
    page = admin.get(path)
    assert page.status_code == 200
    assert current_of(page.text) == current


def test_a_page_within_a_section_marks_it_and_only_admins_see_admin(app, session, demo):
    from fastapi.testclient import TestClient

    officer = make_user(session, "officer", bodies=["E06000052"])
    with TestClient(app) as browser:
        sign_in(browser, officer.email)
        body = browser.get("/bodies/E06000052")
        assert current_of(body.text) == {"Bodies": "true"}
        assert "Admin" not in nav_marks(body.text)
        duty = browser.get("/duties/care-act-2014-s42-s45")
        assert current_of(duty.text) == {"Duties": "true"}


class FakeRequest:
    def __init__(self, path: str) -> None:
        self.url = SimpleNamespace(path=path)


def render_child(source: str, path: str) -> str:
    principal = SimpleNamespace(user=SimpleNamespace(name="Ann", role="officer"), is_admin=False)
    page = templates.env.from_string('{% extends "base.html" %}' + source)
    return page.render(principal=principal, request=FakeRequest(path), csrf_token="t")


def test_a_page_outside_every_section_can_name_its_own():
    markup = render_child('{% set nav_section = "/bodies/E06000052" %}', "/obligations/7")
    assert current_of(markup) == {"Bodies": "true"}
    assert current_of(render_child("", "/obligations/7")) == {}


def test_breadcrumbs_and_back_links_come_before_the_main_content():
    crumbs = render_child(
        '{% from "macros.html" import breadcrumbs %}'
        '{% block breadcrumbs %}{{ breadcrumbs([("Bodies", "/bodies"), ("Cornwall", none)]) }}'
        "{% endblock %}",
        "/bodies/E06000052",
    )
    tree = parse(crumbs)
    trail = tree.find(".//nav[@aria-label='Breadcrumb']")
    assert [a.get("href") for a in trail.iter("a")] == ["/bodies"]
    assert trail.findall(".//li")[-1].get("aria-current") == "page"
    assert crumbs.index("govuk-breadcrumbs") < crumbs.index('id="main-content"')
    back = render_child(
        '{% from "macros.html" import back_link %}'
        '{% block breadcrumbs %}{{ back_link("/bodies", "Back to bodies") }}{% endblock %}',
        "/bodies/E06000052",
    )
    link = parse(back).find(".//a[@class='govuk-back-link']")
    assert (link.get("href"), link.text) == ("/bodies", "Back to bodies")
    assert "govuk-breadcrumbs" not in render_child("", "/bodies")


def scripts(markup: str) -> list[dict[str, str]]:
    return [
        dict(script.attrib, text=(script.text or "").strip())
        for script in parse(markup).iter("script")
    ]


def test_the_page_loads_one_module_script_that_starts_govuk_frontend(admin):
    page = admin.get("/")
    assert scripts(page.text) == [{"type": "module", "src": "/static/app.js", "text": ""}]
    # The policy is the strict one: no inline script, no script from anywhere else.
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    start = admin.get("/static/app.js")
    assert start.status_code == 200
    assert "javascript" in start.headers["content-type"]
    assert "initAll()" in start.text
    assert "govuk-frontend-supported" in start.text
    # Everything it imports is served too, as JavaScript, from the built assets.
    imports = re.findall(r'from\s+"\./([^"]+)"', start.text)
    assert imports == ["govuk-frontend.min.js"]
    for name in imports:
        module = admin.get(f"/static/{name}")
        assert module.status_code == 200, name
        assert "javascript" in module.headers["content-type"]
        assert "initAll" in module.text
        assert (STATIC_DIR / name).is_file()


def page_paths(session) -> list[str]:  # type: ignore[no-untyped-def]
    obligation = session.exec(select(Obligation)).first().id
    bid = session.exec(select(Bid)).first().reference
    return [
        "/",
        "/bodies",
        "/bodies/E06000052",
        f"/obligations/{obligation}",
        f"/obligations/{obligation}/evidence/new",
        "/partnerships",
        "/partnerships/cios-safeguarding-adults-board",
        "/duties",
        "/duties/care-act-2014-s42-s45",
        "/bids",
        f"/bids/{bid}",
        "/findings",
        "/reviews",
        f"/audit/obligation/{obligation}",
        "/admin/users",
        "/admin/import",
        "/admin/mail",
        "/reports",
        "/account",
        "/no-such-page",
    ]


def test_no_page_has_an_inline_script(admin, client, session, demo):
    found = {}
    for path in page_paths(session):
        page = admin.get(path)
        assert page.headers["content-type"].startswith("text/html"), path
        found[path] = scripts(page.text)
    found["/sign-in"] = scripts(client.get("/sign-in").text)
    found["/obligations"] = scripts(admin.get("/obligations").text)
    module = {"type": "module", "src": "/static/app.js", "text": ""}
    # The pages with a long holder filter load GOV.UK's type-ahead before it, from this site.
    type_ahead = {"defer": "", "src": "/static/accessible-autocomplete.min.js", "text": ""}
    assert {
        p: tags for p, tags in found.items() if tags not in ([module], [type_ahead, module])
    } == {}
    assert sorted(p for p, tags in found.items() if type_ahead in tags) == [
        "/obligations",
        "/reviews",
    ]


# The components render through govuk-frontend-jinja; what the product's macros add is checked
# here: the order of errors, the page links keeping a list's filters.


def macro(name: str):  # type: ignore[no-untyped-def]
    return getattr(templates.env.get_template("macros.html").module, name)


def fragment(markup: object):  # type: ignore[no-untyped-def]
    """A macro's output parsed strictly, inside a page of its own."""
    return parse(
        f"<!DOCTYPE html><html lang='en'><head><title>t</title></head><body>{markup}</body></html>"
    )


def test_the_error_summary_lists_errors_in_the_forms_order_and_links_each_field():
    summary = fragment(macro("error_summary")({"title": "Enter a title", "kind": "Choose <b>"}))
    links = summary.findall(".//div[@class='govuk-error-summary']//a")
    assert [(a.get("href"), a.text) for a in links] == [
        ("#title", "Enter a title"),
        ("#kind", "Choose <b>"),
    ]
    assert str(macro("error_summary")({})).strip() == ""
    message = fragment(macro("field_error")({"title": "Enter a title"}, "title"))
    error = message.find(".//p[@id='title-error']")
    assert "".join(error.itertext()).split() == ["Error:", "Enter", "a", "title"]


def test_pagination_keeps_the_filters_and_marks_this_page():
    tree = fragment(macro("pagination")(5, 10, "?q=a%26b&"))
    links = tree.findall(".//nav[@aria-label='Pagination']//a")
    hrefs = [a.get("href") for a in links]
    assert hrefs == [f"?q=a%26b&page={n}" for n in (4, 1, 4, 5, 6, 10, 6)]
    assert [a.get("href") for a in links if a.get("aria-current") == "page"] == ["?q=a%26b&page=5"]
    assert [a.get("rel") for a in links if a.get("rel")] == ["prev", "next"]
    first = fragment(macro("pagination")(1, 2, "?"))
    assert [a.get("rel") for a in first.iter("a") if a.get("rel")] == ["next"]
    assert str(macro("pagination")(1, 1, "?")).strip() == ""


def test_a_date_input_keeps_what_was_typed_and_shows_its_error():
    values = {"as_at-day": "31", "as_at-month": "13", "as_at-year": "2026"}
    tree = fragment(macro("date_input")("as_at", "As at", values, {"as_at": "Enter a real date"}))
    inputs = tree.findall(".//input")
    assert [(i.get("name"), i.get("value")) for i in inputs] == list(values.items())
    assert all("govuk-input--error" in i.get("class") for i in inputs)
    fieldset = tree.find(".//fieldset")
    assert fieldset.get("aria-describedby") == "as_at-hint as_at-error"
    assert "Enter a real date" in "".join(tree.find(".//p[@id='as_at-error']").itertext())
    blank = fragment(macro("date_input")("as_at", "As at", {}, {}))
    assert blank.find(".//p") is None
    assert "For example, 31 3 2026" in "".join(blank.find(".//div[@id='as_at-hint']").itertext())
