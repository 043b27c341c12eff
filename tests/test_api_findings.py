"""Findings and check runs through the API: scoped like the findings page, cursor paginated;
only administrators run the checks."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from compliance.models import CheckRun, Finding
from compliance.paging import encode_cursor
from tests import test_api_people
from tests.conftest import sign_in
from tests.test_api_people import _problem, as_, ids

world = test_api_people.world  # the users, bodies, partnerships and findings, as a fixture


@pytest.mark.parametrize(
    ("who", "params", "expected"),
    [
        ("admin", {}, ["ours", "theirs", "board", "elsewhere", "nowhere"]),
        ("officer", {}, ["ours", "board"]),
        ("inspector", {}, ["ours", "board"]),
        ("officer_elsewhere", {}, ["theirs", "elsewhere"]),
        ("officer", {"status": "resolved"}, ["resolved"]),
        ("officer", {"status": "all"}, ["ours", "board", "resolved"]),
        ("officer", {"severity": "medium"}, ["board"]),
        ("admin", {"rule": "no_intended_outcome"}, ["board"]),
        ("admin", {"severity": "low"}, ["elsewhere"]),
    ],
)
def test_findings_keep_to_the_readers_scope(client, world, who, params, expected):
    response = client.get("/api/v1/findings", params=params, **as_(client, world, who))
    assert response.status_code == 200, response.text
    page = response.json()
    assert {f["id"] for f in page["items"]} == ids(world, *expected)
    assert page["next_cursor"] is None


def test_findings_filter_by_body_and_partnership(client, world):
    ours, board = world["ours"], world["board"]
    by_body = client.get(
        "/api/v1/findings", params={"body": ours.code}, **as_(client, world, "officer")
    ).json()
    assert {f["id"] for f in by_body["items"]} == ids(world, "ours")
    assert by_body["items"][0]["body_code"] == ours.code
    by_board = client.get(
        "/api/v1/findings", params={"partnership": board.slug}, **as_(client, world, "officer")
    ).json()
    assert [(f["id"], f["partnership_slug"]) for f in by_board["items"]] == [
        (world["findings"]["board"].id, board.slug)
    ]


def test_findings_refuse_bodies_out_of_scope_and_bad_filters(client, world):
    officer = as_(client, world, "officer")
    theirs = world["theirs"].code
    _problem(client.get("/api/v1/findings", params={"body": theirs}, **officer), 403)
    _problem(
        client.get("/api/v1/findings", params={"body": "E99999999"}, **officer), 422, "query.body"
    )
    _problem(
        client.get("/api/v1/findings", params={"partnership": "nope"}, **officer),
        422,
        "query.partnership",
    )
    _problem(
        client.get("/api/v1/findings", params={"severity": "dire"}, **officer),
        422,
        "query.severity",
    )
    _problem(
        client.get("/api/v1/findings", params={"status": "closed"}, **officer), 422, "query.status"
    )
    _problem(client.get("/api/v1/findings", params={"limit": 501}, **officer), 422, "query.limit")
    _problem(client.get("/api/v1/findings", params={"sort": "id"}, **officer), 422, "query.sort")
    _problem(client.get("/api/v1/findings"), 401)


def test_findings_walk_by_cursor_without_gaps_or_repeats(client, world):
    admin = as_(client, world, "admin")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/findings", params=params | {"status": "all"}, **admin).json()
        seen += [f["id"] for f in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(f.id for f in world["findings"].values())


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        encode_cursor("x"),
        encode_cursor(-1),
        encode_cursor(True),
        encode_cursor(2**40),
    ],
)
def test_a_cursor_that_was_not_given_out_is_refused(client, world, cursor):
    for path in ["/api/v1/findings", "/api/v1/check-runs", "/api/v1/users"]:
        response = client.get(path, params={"cursor": cursor}, **as_(client, world, "admin"))
        _problem(response, 422, "query.cursor")


# Check runs -----------------------------------------------------------------------------------


def _runs(session) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(CheckRun)).one()


@pytest.mark.parametrize("who", ["officer", "inspector", "officer_elsewhere"])
def test_only_administrators_run_the_checks(client, world, session, who):
    before = _runs(session)
    _problem(client.post("/api/v1/check-runs", json={}, **as_(client, world, who)), 403)
    _problem(client.post("/api/v1/check-runs", json={}), 401)
    assert _runs(session) == before


def test_an_administrator_runs_the_checks_and_reads_the_runs(client, world, session, settings):
    admin = as_(client, world, "admin")
    response = client.post("/api/v1/check-runs", json={"as_at": "2026-11-26"}, **admin)
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["trigger"], run["as_at_date"], run["status"]) == ("api", "2026-11-26", "succeeded")
    assert run["findings_open"] == sum(run["by_severity"].values()) == sum(run["by_rule"].values())
    # The hand-made findings no rule raises are resolved by the run.
    assert run["findings_resolved"] == 5
    assert session.get(Finding, world["findings"]["ours"].id).resolved_at is not None
    listed = client.get("/api/v1/check-runs", params={"limit": 1}, **admin).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    older = client.get("/api/v1/check-runs", params={"cursor": listed["next_cursor"]}, **admin)
    assert [r["trigger"] for r in older.json()["items"]] == ["test"]
    one = client.get(f"/api/v1/check-runs/{run['id']}", **as_(client, world, "officer")).json()
    assert (one["id"], one["errors"], one["error_count"]) == (run["id"], None, 0)
    assert client.get(f"/api/v1/check-runs/{run['id']}", **admin).json()["errors"] == []
    without_body = client.post("/api/v1/check-runs", **admin)
    assert without_body.status_code == 201
    assert without_body.json()["as_at_date"] == settings.today().isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"as_at": "2026-02-30"}, "body.as_at"),
        ({"as_at": "3026-01-01"}, "body.as_at"),
        ({"as_at": "1900-01-01"}, "body.as_at"),
        ({"as_at": 20261126}, "body.as_at"),
        ({"on": "2026-11-26"}, "body.on"),
    ],
)
def test_a_bad_check_run_request_runs_nothing(client, world, session, body, field):
    before = _runs(session)
    response = client.post("/api/v1/check-runs", json=body, **as_(client, world, "admin"))
    _problem(response, 422, field)
    assert _runs(session) == before


def test_missing_check_runs_and_browser_writes_without_the_csrf_header(app, client, world):
    _problem(
        client.get("/api/v1/check-runs/999999", **as_(client, world, "admin")), 404, "path.run_id"
    )
    _problem(
        client.get("/api/v1/check-runs/99999999999", **as_(client, world, "admin")),
        422,
        "path.run_id",
    )
    browser = TestClient(app)
    sign_in(browser, world["users"]["admin"].email)
    assert browser.get("/api/v1/check-runs").status_code == 200
    _problem(browser.post("/api/v1/check-runs", json={}), 403)


# Users ----------------------------------------------------------------------------------------
