"""The lists: the dashboard's counts and the lists they link to, whose row each is, pagination
that keeps its filters, the export buttons, and the as-at form of the body and duty reports."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

import compliance.bodies.pages as bodies_pages
import compliance.checks.pages as checks_pages
from compliance.exports.formats import XLSX_MEDIA_TYPE
from tests.conftest import make_user, sign_in
from tests.html import parse

CORNWALL = "E06000052"
DUTY = "care-act-2014-s6"


@pytest.fixture
def demo(demo_area, session, settings):
    session.flush()


def text(element) -> str:  # type: ignore[no-untyped-def]
    return " ".join("".join(element.itertext()).split())


def rows_of(client: TestClient, href: str) -> tuple[list, list[str]]:
    """Every table row of a list, following its "Next" links; and the pages' addresses."""
    rows, seen = [], []
    while href:
        assert href not in seen, f"pagination loops back to {href}"
        seen.append(href)
        response = client.get(href)
        assert response.status_code == 200, (href, response.text[:300])
        tree = parse(response.text)
        rows += tree.findall(".//main//table/tbody/tr")
        following = tree.find(".//main//a[@rel='next']")
        href = following is not None and following.get("href")
        if href and href.startswith("?"):
            href = urlsplit(seen[-1]).path + href
    return rows, seen


def api_count(client: TestClient, **params: str) -> int:
    """How many obligations GET /api/v1/obligations lists with these filters, across pages."""
    found, cursor = 0, None
    while True:
        query = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/obligations", params=query).json()
        found += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def count_link(tree, link_id: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    link = tree.find(f".//a[@id='{link_id}']")
    return int(re.match(r"\d+", text(link)).group()), link.get("href")


def test_each_dashboard_count_is_the_number_of_rows_on_the_list_it_links_to(admin, demo):
    tree = parse(admin.get("/").text)
    checked, pages_of = 0, {}
    for link_id in [
        "count-urgent",
        "count-overdue",
        "count-evidence_expired",
        "count-due_soon",
        "count-unmeasured",
    ]:
        count, href = count_link(tree, link_id)
        assert href.startswith("/obligations?")
        rows, pages_of[link_id] = rows_of(admin, href)
        assert len(rows) == count, link_id
        checked += count
    assert checked > 50
    # The unmeasured count runs over several pages of the list.
    assert len(pages_of["count-unmeasured"]) > 1
    findings, href = count_link(tree, "count-findings")
    assert findings > 10 and len(rows_of(admin, href)[0]) == findings


def test_the_list_holds_what_the_api_lists_with_the_same_filters(admin, demo):
    for status in ["overdue", "evidence_expired", "assurance_gap", "met"]:
        rows, _ = rows_of(admin, f"/obligations?status={status}")
        assert len(rows) == api_count(admin, status=status), status
    rows, _ = rows_of(admin, f"/obligations?body={CORNWALL}&outcome=improving")
    assert len(rows) == api_count(admin, body=CORNWALL, outcome_status="improving") > 0


def test_the_dashboard_short_lists_say_see_all(admin, demo):
    tree = parse(admin.get("/").text)
    total, _ = count_link(tree, "count-findings")
    see_all = [a for a in tree.iterfind(".//main//a") if text(a).startswith("See all")]
    assert any(
        text(a).startswith(f"See all {total}") and a.get("href") == "/findings" for a in see_all
    )


def holder_cells(rows: list) -> list[str]:
    return [text(row.find("td")) for row in rows]


def test_every_row_names_its_body_or_partnership(admin, demo):
    tree = parse(admin.get("/").text)
    for table in tree.iterfind(".//main//table"):
        assert text(table.find(".//th")) == "Body or partnership"
        for row in table.iterfind("tbody/tr"):
            link = row.find("td/a")
            assert link.get("href").startswith(("/bodies/", "/partnerships/")), text(row)
    rows, _ = rows_of(admin, "/findings")
    assert len(set(holder_cells(rows))) > 3
    rows, _ = rows_of(admin, "/obligations")
    holders = holder_cells(rows)
    assert "Cornwall Council" in holders and "Safer Cornwall" in holders and "–" not in holders


def test_every_table_of_the_lists_scrolls_in_its_own_box(admin, demo):
    for path in ["/", "/obligations", "/findings", "/bodies", f"/duties/{DUTY}", "/bids"]:
        tree = parse(admin.get(path).text)
        tables = tree.findall(".//main//table")
        assert tables, path
        boxes = tree.findall(".//main//div[@class='app-table-container']/table")
        assert len(boxes) == len(tables), path


def test_a_duty_page_names_the_body_of_each_row(admin, demo):
    rows, _ = rows_of(admin, f"/duties/{DUTY}")
    assert len(rows) > 3
    holders = holder_cells(rows)
    assert len(set(holders)) == len(holders) and "Cornwall Council" in holders
    assert len({text(row) for row in rows}) == len(rows)


def test_pagination_keeps_every_filter(admin, demo, monkeypatch):
    href = "/obligations?outcome=not_measured&outcome=no_outcome_defined&status="
    rows, pages = rows_of(admin, href)
    assert len(pages) > 1
    for page in pages[1:]:
        query = parse_qs(urlsplit(page).query)
        assert query["outcome"] == ["not_measured", "no_outcome_defined"], page
    outcomes = {text(row.findall("td")[-1]) for row in rows}
    assert outcomes <= {"Not measured in the last year", "No outcome linked"}

    monkeypatch.setattr(checks_pages, "PAGE_SIZE", 5)
    rows, pages = rows_of(admin, "/findings?severity=high&rule=")
    assert len(pages) > 1 and all("severity=high" in page for page in pages)
    assert {text(row.findall("td")[1]) for row in rows} == {"High"}

    monkeypatch.setattr(bodies_pages, "PAGE_SIZE", 2)
    rows, pages = rows_of(admin, "/bodies?q=cornwall&kind=&nation=england")
    assert len(pages) > 2
    for page in pages[1:]:
        assert parse_qs(urlsplit(page).query) == {
            "q": ["cornwall"],
            "nation": ["england"],
            "page": [page.rpartition("=")[2]],
        }
    assert all("cornwall" in text(row.find("td")).lower() for row in rows)
    everyone, _ = rows_of(admin, "/bodies")
    assert len(everyone) > len(rows)


def downloads(tree) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {text(a): a.get("href") for a in tree.iterfind(".//main//a") if "Download" in text(a)}


@pytest.mark.parametrize(
    ("path", "export", "carried"),
    [
        (f"/obligations?body={CORNWALL}&status=overdue", "obligations", {"body": [CORNWALL]}),
        (
            "/obligations?partnership=safer-cornwall",
            "obligations",
            {"partnership": ["safer-cornwall"]},
        ),
        ("/obligations", "obligations", {}),
        (f"/bodies/{CORNWALL}", "obligations", {"body": [CORNWALL]}),
        ("/findings?severity=high", "findings", {}),
    ],
)
def test_a_list_offers_its_export_with_its_filters(admin, demo, path, export, carried):
    links = downloads(parse(admin.get(path).text))
    types = {"Download CSV": "text/csv", "Download Excel": XLSX_MEDIA_TYPE}
    for label, media_type in types.items():
        href = links[label]
        assert urlsplit(href).path == f"/api/v1/exports/{export}"
        query = parse_qs(urlsplit(href).query)
        assert {k: v for k, v in query.items() if k != "format"} == carried
        response = admin.get(href)
        assert response.status_code == 200, response.text[:300]
        assert response.headers["content-type"].startswith(media_type)


def as_at_query(on: dt.date | None = None, **parts: str) -> dict[str, str]:
    """The as-at date's three boxes, filled with a date or as typed."""
    if on is not None:
        parts = {"day": str(on.day), "month": str(on.month), "year": str(on.year)}
    return {f"as_at-{part}": value for part, value in parts.items()}


@pytest.mark.parametrize(
    ("page", "report"),
    [
        (f"/bodies/{CORNWALL}", f"/api/v1/bodies/{CORNWALL}/report.pdf"),
        (f"/duties/{DUTY}", f"/api/v1/duties/{DUTY}/report.pdf"),
    ],
)
def test_the_as_at_form_leads_to_the_report_as_at_that_date(admin, demo, settings, page, report):
    form = parse(admin.get(page).text).find(".//main//form[@action='" + page + "/report']")
    assert form.get("method") == "get"
    assert {i.get("name") for i in form.iterfind(".//input")} >= set(
        as_at_query(day="", month="", year="")
    )
    past = settings.today() - dt.timedelta(days=40)
    sent = admin.get(f"{page}/report", params=as_at_query(past), follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{report}?as_at={past.isoformat()}"
    pack = admin.get(
        f"{page}/report", params={**as_at_query(past), "pack": "true"}, follow_redirects=False
    )
    assert pack.headers["location"] == f"{report}?as_at={past.isoformat()}&pack=true"
    blank = as_at_query(day="", month="", year="")
    today = admin.get(f"{page}/report", params=blank, follow_redirects=False)
    assert today.headers["location"] == report


def error_summary(response) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    tree = parse(response.text)
    links = tree.findall(".//div[@class='govuk-error-summary']//li/a")
    return [(a.get("href"), text(a)) for a in links]


@pytest.mark.parametrize("page", [f"/bodies/{CORNWALL}", f"/duties/{DUTY}"])
def test_an_impossible_as_at_date_comes_back_on_the_same_page(admin, demo, settings, page):
    year = str(settings.today().year)
    response = admin.get(f"{page}/report", params=as_at_query(day="31", month="2", year=year))
    assert response.status_code == 422
    assert error_summary(response) == [
        ("#as_at-day", "Enter a real date for the report, for example 31 3 2026")
    ]
    tree = parse(response.text)
    assert tree.find(".//title").text.startswith("Error: ")
    assert tree.find(".//input[@name='as_at-day']").get("value") == "31"
    assert tree.find(".//p[@id='as_at-error']") is not None
    assert "Input should be" not in response.text
    future = admin.get(
        f"{page}/report", params=as_at_query(settings.today() + dt.timedelta(days=2))
    )
    assert future.status_code == 422
    assert error_summary(future) == [
        ("#as_at-day", "A report cannot be as at a date in the future")
    ]


def test_the_body_report_as_at_a_past_date_is_a_pdf(admin, demo, settings):
    past = settings.today() - dt.timedelta(days=40)
    response = admin.get(f"/bodies/{CORNWALL}/report", params=as_at_query(past))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert past.isoformat() in response.headers["content-disposition"]


def test_the_area_report_form_offers_an_as_at_date(admin):
    tree = parse(admin.get("/reports").text)
    form = tree.find(".//main//form[@action='/reports/areas']")
    assert {i.get("name") for i in form.iterfind(".//input")} >= {
        "as_at-day",
        "as_at-month",
        "as_at-year",
    }


def test_an_officer_sees_only_their_scope_on_the_list(app, session, demo):
    officer = make_user(session, "officer", bodies=[CORNWALL])
    client = TestClient(app)
    sign_in(client, officer.email)
    rows, _ = rows_of(client, "/obligations")
    holders = set(holder_cells(rows))
    assert "Cornwall Council" in holders
    assert "Devon and Cornwall Police" not in holders
    assert len(rows) == api_count(client)
    admin = make_user(session, "admin")
    everyone = TestClient(app)
    sign_in(everyone, admin.email)
    assert len(rows_of(everyone, "/obligations")[0]) > len(rows)
    tree = parse(client.get("/").text)
    count, href = count_link(tree, "count-urgent")
    assert (
        len(rows_of(client, href)[0])
        == count
        == api_count(client, status="overdue")
        + api_count(client, status="evidence_expired")
        + api_count(client, status="due_soon")
    )
    outside = client.get("/obligations", params={"body": "RYF"})
    assert outside.status_code == 403
    form = parse(client.get("/obligations").text)
    offered = {o.get("value") for o in form.iterfind(".//select[@name='body']/option")}
    assert CORNWALL in offered and "RYF" not in offered


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/obligations?status=late", "Choose process statuses from the list"),
        ("/obligations?outcome=great", "Choose outcome statuses from the list"),
        ("/obligations?body=NOPE", "Choose a body from the list"),
        ("/obligations?duty=nope", "Choose a duty from the list"),
        ("/bodies?kind=parish", "Choose a kind of body from the list"),
        ("/bodies?nation=mercia", "Choose a nation from the list"),
        ("/bodies?q=" + "x" * 101, "Enter a name or code of 100 characters or fewer"),
        (f"/bodies/{CORNWALL}?process=late", "Choose a process status"),
        ("/findings?severity=huge", "Choose high, medium or low"),
        ("/findings?rule=nope", "Choose a kind of finding from the list"),
    ],
)
def test_a_wrong_filter_value_is_said_in_plain_english(admin, demo, path, message):
    response = admin.get(path)
    assert response.status_code == 422
    assert [m for _, m in error_summary(response)] == [message]
    assert "Input should be" not in response.text and "String should" not in response.text


def test_a_page_number_that_is_not_one_shows_the_first_page(admin, demo):
    for path in [
        "/obligations?page=abc",
        "/obligations?page=²",
        "/findings?page=0",
        "/bodies?page=-1",
        f"/duties/{DUTY}?page=x",
        "/partnerships?page=abc",
        "/admin/users?page=0",
        "/reviews?page=-3",
        "/bids?page=y",
    ]:
        response = admin.get(path)
        assert response.status_code == 200, path
        if path.startswith("/obligations"):
            assert re.search(r"Obligations, page 1 of [2-9]", response.text)


def test_a_page_past_the_end_shows_the_last_page_on_every_numbered_list(admin, demo, monkeypatch):
    # The bodies read their page before they know how many there are: it once said "15
    # bodies" above "No bodies match".
    monkeypatch.setattr(bodies_pages, "PAGE_SIZE", 4)
    monkeypatch.setattr(checks_pages, "PAGE_SIZE", 4)
    for path in ["/bodies", "/findings"]:
        last, _ = rows_of(admin, path)
        past = parse(admin.get(f"{path}?page=999").text)
        shown = past.findall(".//main//table/tbody/tr")
        assert shown and [text(r) for r in shown] == [text(r) for r in last[-len(shown) :]], path
        assert past.find(".//main//a[@rel='next']") is None, path
        assert "No bodies match" not in text(past.find(".//main")), path


def _waiting(client: TestClient, **params: str) -> tuple[int, list[tuple[str, str]]]:
    """How many pieces of evidence the review queue says are waiting, and each row's holder and
    evidence, across its pages."""
    href = "/reviews?" + "&".join(f"{k}={v}" for k, v in params.items())
    first = client.get(href)
    assert first.status_code == 200, first.text[:300]
    count = int(re.search(r"(\d+) waiting", first.text).group(1))
    rows, _ = rows_of(client, href)
    return count, [(text(r.findall("td")[1]), text(r.findall("td")[0])) for r in rows]


def test_the_review_queues_filters_split_it_without_losing_a_row(admin, demo):
    total, everything = _waiting(admin)
    tree = parse(admin.get("/reviews").text)
    holders = [o.get("value") for o in tree.findall(".//select[@id='holder']/option")]
    holders = [h for h in holders if h]
    assert total > 3 and len(holders) > 3
    by_holder = []
    for href in holders:
        _, rows = _waiting(admin, holder=href)
        assert rows and len({holder for holder, _ in rows}) == 1, href
        by_holder += rows
    assert sorted(by_holder) == sorted(everything)
    unreviewed, _ = _waiting(admin, state="unreviewed")
    answered, _ = _waiting(admin, state="answered")
    assert unreviewed + answered == total and unreviewed > 0


def test_the_review_queue_is_paged_by_evidence_in_the_database(admin, demo, monkeypatch):
    whole_count, whole = _waiting(admin)
    monkeypatch.setattr("compliance.evidence.pages.PAGE_SIZE", 5)
    count, paged = _waiting(admin)
    _, pages = rows_of(admin, "/reviews")
    # The same rows in the same order, the same count, and a page for every five pieces.
    assert (count, paged) == (whole_count, whole)
    assert len(pages) == -(-whole_count // 5) and len(pages) > 2
    assert parse(admin.get(pages[-1]).text).find(".//main//a[@rel='next']") is None
