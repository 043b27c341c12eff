"""The pages and the JSON API over the demo area."""

import datetime as dt

import pytest

from compliance.demo.service import demo_story
from tests.html import parse


@pytest.fixture
def demo(demo_area, settings):
    """The demo area; called with a date its file names, the date as the demo loaded today
    tells it (the story moves to the financial year it is loaded in)."""
    story = demo_story(today=settings.today())
    return lambda written: story.date(written).isoformat()


def test_healthz(admin):
    assert admin.get("/healthz").json() == {"status": "ok"}
    ready = admin.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_home_lists_and_searches_bodies(admin, demo):
    page = admin.get("/bodies")
    assert page.status_code == 200
    tree = parse(page.text)
    assert (tree.tag, tree.get("lang")) == ("html", "en-GB")
    names = [a.text for a in tree.iterfind(".//tbody//a")]
    assert "Cornwall Council" in names
    found = parse(admin.get("/bodies", params={"q": "council of the isles"}).text)
    assert [a.text for a in found.iterfind(".//tbody//a")] == ["Council of the Isles of Scilly"]
    police = parse(admin.get("/bodies", params={"kind": "police_force"}).text)
    assert [a.text for a in police.iterfind(".//tbody//a")] == ["Devon and Cornwall Police"]


def test_home_rejects_an_unknown_kind_without_a_server_error(admin):
    response = admin.get("/bodies", params={"kind": "parish"})
    assert response.status_code == 422


def test_duty_catalogue_page_links_every_citation_to_legislation(admin):
    page = admin.get("/duties")
    assert page.status_code == 200
    tree = parse(page.text)
    sections = tree.findall(".//section")
    assert len(sections) >= 25
    for section in sections:
        link = section.find(".//p/a")
        assert link.get("href").startswith("https://www.legislation.gov.uk/")
    assert "unverified" in page.text


def test_body_page_shows_obligations_and_partnerships(admin, demo):
    page = admin.get("/bodies/E06000052")
    assert page.status_code == 200
    tree = parse(page.text)
    assert tree.find(".//h1").text == "Cornwall Council"
    assert len(tree.findall(".//tbody/tr")) > 10
    assert "Cornwall and Isles of Scilly Safeguarding Adults Board" in page.text


def test_unknown_body_page_is_a_clear_404(admin):
    page = admin.get("/bodies/NOPE")
    assert page.status_code == 404
    main = parse(page.text).find(".//main")
    assert "No body with code 'NOPE'" in "".join(main.itertext())


def test_api_duties_and_one_duty(admin):
    duties = admin.get("/api/v1/duties").json()
    assert len(duties) >= 25
    one = admin.get("/api/v1/duties/children-act-2004-s16e").json()
    assert one["url"] == "https://www.legislation.gov.uk/ukpga/2004/31/section/16E"
    assert one["required_members"]
    assert {d["held_by"] for d in one["deliverables"]} == {"partnership"}
    assert admin.get("/api/v1/duties/nope").status_code == 404


def test_api_bodies_search_and_detail(admin, demo):
    page = admin.get("/api/v1/bodies", params={"kind": "integrated_care_board"}).json()
    assert {b["code"] for b in page["items"]} == {"QT6", "QOX"}
    assert page["total"] == 2
    icb = admin.get("/api/v1/bodies/qt6").json()
    assert icb["verified"] is False
    missing = admin.get("/api/v1/bodies/XX9")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No body with code 'XX9'",
        "instance": "/api/v1/bodies/XX9",
    }


def test_api_body_obligations_show_each_period_with_its_own_status(admin, demo):
    url = "/api/v1/bodies/E06000052/obligations"

    def s6_on(day):
        obligations = admin.get(url, params={"as_at": day}).json()
        s6 = next(o for o in obligations if o["source_slug"] == "care-act-2014-s6")
        return s6["status"], {p["period_start_date"]: p["status"] for p in s6["periods"]}

    status, periods = s6_on(demo("2026-05-01"))
    assert periods[demo("2025-04-01")] == "met"
    # No Act dates a continuing duty: a year without assurance is a gap, not a breach, and the
    # duty is judged by its latest assurance (the year to March 2026, evidenced).
    assert periods[demo("2024-04-01")] == "assurance_gap"
    assert status == "met"
    # The protocol's review date (30 June 2026) has passed by November.
    assert s6_on(demo("2026-11-26"))[1][demo("2025-04-01")] == "evidence_expired"
    earlier = admin.get(url, params={"as_at": demo("2025-05-01")}).json()
    s6_then = next(o for o in earlier if o["source_slug"] == "care-act-2014-s6")
    assert all(p["status"] != "met" for p in s6_then["periods"])


def test_api_rejects_an_impossible_date(admin, demo):
    response = admin.get("/api/v1/bodies/E06000052/obligations", params={"as_at": "2026-02-30"})
    assert response.status_code == 422


def test_api_partnerships(admin, demo):
    slugs = [p["slug"] for p in admin.get("/api/v1/partnerships").json()]
    assert "safer-cornwall" in slugs
    sab = admin.get("/api/v1/partnerships/cios-safeguarding-adults-board").json()
    assert {m["code"] for m in sab["members"]} == {"E06000052", "E06000053", "QT6", "E23000035"}
    assert sab["duties"] == ["care-act-2014-s42-s45"]
    assert admin.get("/api/v1/partnerships/nope").status_code == 404


def test_demo_today_is_used_when_no_date_is_given(admin, demo):
    obligations = admin.get("/api/v1/bodies/E06000052/obligations").json()
    assert all(dt.date.fromisoformat(o["opened_date"]) <= dt.date.today() for o in obligations)


def test_status_rollups_for_body_partnership_duty_and_area(admin, demo):
    params = {"as_at": demo("2026-11-26")}
    body = admin.get("/api/v1/bodies/E06000052/status", params=params).json()
    # The council's own dates that have passed are conventions (assurance gaps, not breaches);
    # its worst is evidence past its review date.
    assert body["worst_process"] == "evidence_expired"
    assert body["process"]["assurance_gap"] > 0 and "overdue" not in body["process"]
    unjudged = ("not_applicable", "before_tracking")
    assert body["obligations"] == sum(v for k, v in body["process"].items() if k not in unjudged)
    sab = admin.get(
        "/api/v1/partnerships/cios-safeguarding-adults-board/status", params=params
    ).json()
    assert sab["outcome"] == {"improving": sab["obligations"]}
    duty = admin.get("/api/v1/duties/care-act-2014-s6/status", params=params).json()
    assert duty["obligations"] >= 2
    area = admin.get("/api/v1/areas/E06000052/status", params=params).json()
    assert area["obligations"] > body["obligations"]
    assert admin.get("/api/v1/areas/NOPE/status").status_code == 404
    ambulance = admin.get("/api/v1/bodies/RYF/status", params=params).json()
    assert ambulance["process"].get("not_applicable") == 1


def test_every_filter_form_works_at_its_defaults(admin, demo):
    # A select left at "Any" is sent empty; the pages read it as no filter at all.
    for path in [
        "/bodies?q=scilly&kind=&nation=",
        "/bodies?q=&kind=&nation=",
        "/bodies/E06000052?process=&outcome=",
        "/bodies/E06000052?process=assurance_gap&outcome=",
        "/findings?severity=&page=2",
        "/findings?severity=",
        "/findings?severity=&rule=",
        "/findings?severity=high&rule=&page=",
        "/obligations?body=&partnership=&duty=",
        "/obligations?body=&partnership=&duty=&page=2",
        "/obligations?status=overdue&body=E06000052&partnership=&duty=&page=",
        "/obligations?outcome=not_measured&body=&partnership=safer-cornwall&duty=",
        "/duties/care-act-2014-s6?page=",
        "/bids?page=",
    ]:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    assert "Council of the Isles of Scilly" in admin.get("/bodies?q=scilly&kind=&nation=").text
    # A report's as-at form left empty asks for the report as at today.
    for page in ["/bodies/E06000052", "/duties/care-act-2014-s6"]:
        blank = f"{page}/report?as_at-day=&as_at-month=&as_at-year="
        sent = admin.get(blank, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"].endswith("/report.pdf"), page
    # The JSON API is left as its callers send it: an empty value there is still refused.
    assert admin.get("/api/v1/bodies", params={"kind": ""}).status_code == 422


def test_a_selects_options_are_escaped_and_the_chosen_one_selected():
    from types import SimpleNamespace

    from compliance.web import select_options, with_options

    rows = [
        SimpleNamespace(code="A1", name="Ayr & <b>Arran</b>"),
        SimpleNamespace(code='"B', name="B"),
    ]
    options = select_options(rows, "code", "name", '"B', "Any body")
    field = with_options('<div><select id="body" name="body">\n</select></div>', options)
    assert str(field) == (
        '<div><select id="body" name="body">\n<option value="">Any body</option>\n'
        '<option value="A1">Ayr &amp; &lt;b&gt;Arran&lt;/b&gt;</option>\n'
        '<option value="&#34;B" selected>B</option></select></div>'
    )
