"""The outcomes API: outcomes, indicators, measurements and risks, with the pages' permissions."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from compliance.accounts.tokens import create_token
from compliance.models import (
    AuditEvent,
    Deliverable,
    Indicator,
    Measurement,
    Obligation,
    Outcome,
    Risk,
)
from compliance.outcomes.service import (
    IndicatorCreate,
    MeasurementCreate,
    OutcomeCreate,
    add_indicator,
    add_measurement,
    add_outcome,
)
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body, make_partnership

PROBLEM = "application/problem+json"
WHO = ["admin", "officer", "inspector", "officer_elsewhere", "inspector_elsewhere"]
WRITERS = {"admin", "officer"}
READERS = {"admin", "officer", "inspector"}


@pytest.fixture
def world(session):
    board = make_partnership(session, name="Test Safeguarding Adults Board")
    other = make_partnership(session)
    council = make_body(session)
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", partnerships=[board.slug], bodies=[council.code]),
        "inspector": make_user(
            session, "inspector", partnerships=[board.slug], bodies=[council.code]
        ),
        "officer_elsewhere": make_user(session, "officer", partnerships=[other.slug]),
        "inspector_elsewhere": make_user(session, "inspector", partnerships=[other.slug]),
    }
    tokens = {
        who: create_token(session=session, user=user, name="t", actor="test")[0]
        for who, user in users.items()
    }
    outcome = add_outcome(
        session=session,
        actor=users["admin"],
        data=OutcomeCreate(partnership_id=board.id, title="Adults at risk are safer"),
    )
    indicator = add_indicator(
        session=session,
        actor=users["admin"],
        data=IndicatorCreate(
            outcome_id=outcome.id,
            name="Desired outcomes achieved",
            unit="%",
            direction="increase",
            baseline_value=89.0,
            target_value=95.0,
        ),
    )
    deliverable = session.exec(select(Deliverable).order_by(Deliverable.id)).first()
    obligation = Obligation(
        key=f"test-{council.code}",
        body_id=council.id,
        deliverable_id=deliverable.id,
        opened_date=dt.date(2025, 4, 1),
    )
    session.add(obligation)
    session.flush()
    return {
        "board": board,
        "outcome": outcome,
        "indicator": indicator,
        "obligation": obligation,
        "users": users,
        "tokens": tokens,
    }


@pytest.fixture
def api(client, world):
    """Call the API with a bearer token: api("officer", "get", url, ...)."""

    def call(who: str, method: str, url: str, headers=None, **kwargs):  # type: ignore[no-untyped-def]
        headers = (headers or {}) | {"Authorization": f"Bearer {world['tokens'][who]}"}
        return client.request(method, url, headers=headers, **kwargs)

    return call


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(model)).one()


def assert_problem(response, status: int, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    if field is not None:
        assert problem["field"] == field, problem
        assert problem["errors"][0]["field"] == field
    return problem


def test_an_officer_records_an_outcome_indicator_and_measurements(api, world, session):
    slug = world["board"].slug
    created = api(
        "officer",
        "post",
        f"/api/v1/partnerships/{slug}/outcomes",
        json={"title": "Fewer people are harmed by serious violence", "description": None},
    )
    assert created.status_code == 201, created.text
    outcome = created.json()
    assert outcome["partnership"] == slug and outcome["obligation_id"] is None
    assert outcome["created_at"].endswith(("Z", "+00:00")), "RFC 3339 says the offset"
    listed = api("officer", "get", f"/api/v1/partnerships/{slug}/outcomes").json()
    assert [o["title"] for o in listed["items"]][-1] == outcome["title"]
    assert listed["next_cursor"] is None

    indicator = api(
        "officer",
        "post",
        f"/api/v1/outcomes/{outcome['id']}/indicators",
        json={
            "name": "Hospital admissions for violence per 100,000",
            "unit": "per 100,000",
            "direction": "decrease",
            "baseline_value": 31,
            "baseline_date": "2023-03-31",
            "target_value": 27.0,
            "target_date": "2026-03-31",
        },
    )
    assert indicator.status_code == 201, indicator.text
    indicator_id = indicator.json()["id"]
    for day, value in [("2025-03-31", 29.4), ("2024-03-31", 30.2)]:
        posted = api(
            "officer",
            "post",
            f"/api/v1/indicators/{indicator_id}/measurements",
            json={"measured_date": day, "value": value, "source": "PHOF"},
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["measured_date"] == day

    detail = api("inspector", "get", f"/api/v1/indicators/{indicator_id}").json()
    assert [m["measured_date"] for m in detail["measurements"]] == ["2024-03-31", "2025-03-31"]
    # Two measurements are too few to say which way it is going (three at least, issue 14).
    assert detail["trend"] == "too_few_measurements"
    assert detail["trend_method"].startswith("Too few measurements to judge")
    with_indicators = api("inspector", "get", f"/api/v1/outcomes/{outcome['id']}").json()
    assert [i["id"] for i in with_indicators["indicators"]] == [indicator_id]
    stored = session.exec(select(Measurement).where(Measurement.indicator_id == indicator_id))
    assert {m.recorded_by_id for m in stored} == {world["users"]["officer"].id}
    actions = session.exec(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(4))
    assert list(actions) == [
        "measurement.created",
        "measurement.created",
        "indicator.created",
        "outcome.created",
    ]


def test_the_trend_is_judged_over_three_measurements_at_least(api, world, session):
    indicator = world["indicator"]  # baseline 89, target 95: higher is better
    url = f"/api/v1/indicators/{indicator.id}"
    assert api("officer", "get", url).json()["trend"] == "too_few_measurements"
    today = dt.date.today()  # the suite's frozen clock
    days = [today - dt.timedelta(days=n) for n in (700, 350, 10)]
    for day, value in (
        (days[0].isoformat(), 89),
        (days[1].isoformat(), 91),
        (days[2].isoformat(), 94),
    ):
        api(
            "officer",
            "post",
            f"{url}/measurements",
            json={"measured_date": day, "value": value, "source": "SAC"},
        )
    detail = api("officer", "get", url).json()
    assert detail["trend"] == "improving"
    assert detail["trend_method"].startswith("Theil–Sen slope over 3 measurements")


def test_risks_are_recorded_and_listed_a_page_at_a_time(api, world, session):
    slug = world["board"].slug
    for number in range(5):
        created = api(
            "officer",
            "post",
            f"/api/v1/partnerships/{slug}/risks",
            json={
                "category": "cost",
                "title": f"Meetings draw on a small council ({number})",
                "likelihood": 4,
                "impact": 2,
                "mitigation": "Remote attendance by default",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["partnership"] == slug and created.json()["status"] == "open"
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api("inspector", "get", f"/api/v1/partnerships/{slug}/risks", params=params).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5 and seen == sorted(set(seen))


def test_measurements_are_listed_oldest_first_a_page_at_a_time(api, world, session):
    indicator = world["indicator"]
    days = [dt.date(2020 + n, 3, 31) for n in (3, 0, 2, 1)]
    for day in days:
        add_measurement(
            session=session,
            actor="test",
            data=MeasurementCreate(
                indicator_id=indicator.id, measured_date=day, value=90, source="x"
            ),
            today=dt.date(2026, 3, 31),
        )
    url = f"/api/v1/indicators/{indicator.id}/measurements"
    first = api("inspector", "get", url, params={"limit": 3}).json()
    second = api(
        "inspector", "get", url, params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    dates = [m["measured_date"] for m in first["items"] + second["items"]]
    assert dates == [d.isoformat() for d in sorted(days)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJ4Il0", "WzEsMl0", "WzEuNV0"])
def test_a_cursor_the_listing_did_not_give_out_is_refused(api, world, cursor):
    slug = world["board"].slug
    for url in [
        f"/api/v1/partnerships/{slug}/risks",
        f"/api/v1/partnerships/{slug}/outcomes",
        f"/api/v1/indicators/{world['indicator'].id}/measurements",
    ]:
        assert_problem(api("admin", "get", url, params={"cursor": cursor}), 422, "query.cursor")


def test_outcomes_of_an_obligation(api, world, session):
    url = f"/api/v1/obligations/{world['obligation'].id}/outcomes"
    created = api("officer", "post", url, json={"title": "Carers say they are supported"})
    assert created.status_code == 201, created.text
    assert created.json()["obligation_id"] == world["obligation"].id
    assert created.json()["partnership"] is None
    listed = api("inspector", "get", url).json()["items"]
    assert [o["title"] for o in listed] == ["Carers say they are supported"]
    assert api("inspector", "post", url, json={"title": "No"}).status_code == 403
    assert api("officer_elsewhere", "get", url).status_code == 403
    outcome_id = created.json()["id"]
    indicator = api(
        "officer",
        "post",
        f"/api/v1/outcomes/{outcome_id}/indicators",
        json={"name": "Carers' survey score", "unit": "score", "direction": "increase"},
    )
    assert indicator.status_code == 201
    assert api("officer_elsewhere", "get", f"/api/v1/outcomes/{outcome_id}").status_code == 403


def _writes(world):  # type: ignore[no-untyped-def]
    slug, outcome, indicator = world["board"].slug, world["outcome"], world["indicator"]
    return [
        (Outcome, f"/api/v1/partnerships/{slug}/outcomes", {"title": "Outcome"}),
        (
            Indicator,
            f"/api/v1/outcomes/{outcome.id}/indicators",
            {"name": "Indicator", "unit": "%", "direction": "increase"},
        ),
        (
            Measurement,
            f"/api/v1/indicators/{indicator.id}/measurements",
            {"measured_date": "2025-03-31", "value": 90.5, "source": "SAC"},
        ),
        (
            Risk,
            f"/api/v1/partnerships/{slug}/risks",
            {"category": "risk", "title": "Late reviews", "likelihood": 3, "impact": 3},
        ),
    ]


@pytest.mark.parametrize("who", WHO)
def test_who_may_record(api, world, session, who):
    for model, url, body in _writes(world):
        before = count(session, model)
        response = api(who, "post", url, json=body)
        if who in WRITERS:
            assert response.status_code == 201, (url, response.text)
            assert count(session, model) == before + 1
        else:
            assert_problem(response, 403)
            assert count(session, model) == before, url


@pytest.mark.parametrize("who", WHO)
def test_who_may_read(api, world, who):
    slug = world["board"].slug
    for url in [
        f"/api/v1/partnerships/{slug}/outcomes",
        f"/api/v1/outcomes/{world['outcome'].id}",
        f"/api/v1/indicators/{world['indicator'].id}",
        f"/api/v1/indicators/{world['indicator'].id}/measurements",
        f"/api/v1/partnerships/{slug}/risks",
    ]:
        response = api(who, "get", url)
        if who in READERS:
            assert response.status_code == 200, (url, response.text)
        else:
            assert_problem(response, 403)


def test_anonymous_callers_get_a_401_problem(client, world):
    slug = world["board"].slug
    for method, url in [
        ("get", f"/api/v1/partnerships/{slug}/outcomes"),
        ("post", f"/api/v1/partnerships/{slug}/risks"),
        ("get", f"/api/v1/indicators/{world['indicator'].id}"),
        ("post", "/api/v1/measurements/import"),
    ]:
        assert_problem(client.request(method, url, json={}), 401)


def test_a_browser_changes_data_only_with_its_csrf_token(app, world, session):
    browser = TestClient(app)
    sign_in(browser, world["users"]["officer"].email)
    url = f"/api/v1/partnerships/{world['board'].slug}/outcomes"
    before = count(session, Outcome)
    assert_problem(browser.post(url, json={"title": "No token"}), 403)
    assert count(session, Outcome) == before
    token = csrf_of(browser, "/bodies")
    sent = browser.post(url, json={"title": "With token"}, headers={"X-CSRF-Token": token})
    assert sent.status_code == 201, sent.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"measured_date": "2025-03-31", "value": 1, "source": "x", "note": "?"}, "body.note"),
        ({"measured_date": "2026-02-30", "value": 1, "source": "x"}, "body.measured_date"),
        ({"measured_date": "31/03/2025", "value": 1, "source": "x"}, "body.measured_date"),
        ({"measured_date": "2999-03-31", "value": 1, "source": "x"}, "body.measured_date"),
        ({"measured_date": "2025-03-31", "value": "93", "source": "x"}, "body.value"),
        ({"measured_date": "2025-03-31", "value": 1, "source": ""}, "body.source"),
        ({"measured_date": "2025-03-31", "value": 1}, "body.source"),
    ],
)
def test_a_bad_measurement_is_refused_naming_the_field(api, world, session, body, field):
    before = count(session, Measurement)
    url = f"/api/v1/indicators/{world['indicator'].id}/measurements"
    assert_problem(api("officer", "post", url, json=body), 422, field)
    assert count(session, Measurement) == before


def test_a_value_that_is_not_a_finite_number_is_refused(api, world, session):
    url = f"/api/v1/indicators/{world['indicator'].id}/measurements"
    headers = {"Content-Type": "application/json"}
    for value in [b"NaN", b"Infinity", b"1e999"]:
        body = b'{"measured_date": "2025-03-31", "value": %s, "source": "x"}' % value
        response = api("officer", "post", url, content=body, headers=headers)
        assert_problem(response, 422, "body.value")
    assert count(session, Measurement) == 0


def test_a_second_value_for_the_same_date_is_a_409_conflict(api, world, session):
    url = f"/api/v1/indicators/{world['indicator'].id}/measurements"
    body = {"measured_date": "2025-03-31", "value": 90.5, "source": "SAC"}
    assert api("officer", "post", url, json=body).status_code == 201
    before = count(session, Measurement)
    problem = assert_problem(
        api("officer", "post", url, json=body | {"value": 91}), 409, "body.measured_date"
    )
    assert "already has a measurement for 31 March 2025" in problem["detail"]
    assert count(session, Measurement) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("risks", {"category": "risk", "title": "x", "likelihood": 6, "impact": 1}, "likelihood"),
        ("risks", {"category": "danger", "title": "x", "likelihood": 1, "impact": 1}, "category"),
        ("risks", {"category": "risk", "title": "", "likelihood": 1, "impact": 1}, "title"),
        ("risks", {"category": "risk", "title": "x", "likelihood": "1", "impact": 1}, "likelihood"),
        ("outcomes", {"title": "x" * 301}, "title"),
        ("outcomes", {"title": "x", "partnership_id": 1}, "partnership_id"),
        ("outcomes", {}, "title"),
    ],
)
def test_bad_outcomes_and_risks_are_refused_naming_the_field(
    api, world, session, path, body, field
):
    before = count(session, Outcome), count(session, Risk)
    url = f"/api/v1/partnerships/{world['board'].slug}/{path}"
    assert_problem(api("officer", "post", url, json=body), 422, f"body.{field}")
    assert (count(session, Outcome), count(session, Risk)) == before


def test_a_bad_indicator_is_refused_naming_the_field(api, world, session):
    url = f"/api/v1/outcomes/{world['outcome'].id}/indicators"
    body = {"name": "x", "unit": "%", "direction": "up"}
    assert_problem(api("officer", "post", url, json=body), 422, "body.direction")
    body = {"name": "x", "unit": "%", "direction": "increase", "target_date": "2027-13-01"}
    assert_problem(api("officer", "post", url, json=body), 422, "body.target_date")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/partnerships/no-such-board/outcomes", 404),
        ("/api/v1/outcomes/999999", 404),
        ("/api/v1/indicators/999999", 404),
        ("/api/v1/obligations/999999/outcomes", 404),
        ("/api/v1/indicators/99999999999999999999", 422),
        ("/api/v1/outcomes/0", 422),
        ("/api/v1/partnerships/x/risks?limit=501", 422),
        ("/api/v1/partnerships/x/risks?sort=id", 422),
    ],
)
def test_unknown_and_impossible_ids_are_problems_not_errors(api, world, url, status):
    assert_problem(api("admin", "get", url), status)


def test_a_duplicate_that_slips_past_the_check_is_still_a_409(api, world, session, monkeypatch):
    """Two requests for one date at once both find no clash; the unique constraint decides, and
    the loser's savepoint is undone without spoiling the rest of the transaction."""
    import compliance.outcomes.service as service

    url = f"/api/v1/indicators/{world['indicator'].id}/measurements"
    body = {"measured_date": "2025-03-31", "value": 90.5, "source": "SAC"}
    assert api("officer", "post", url, json=body).status_code == 201
    monkeypatch.setattr(service, "_recorded", lambda *args: False)
    before = count(session, Measurement), count(session, AuditEvent)
    assert_problem(api("officer", "post", url, json=body), 409, "body.measured_date")
    assert (count(session, Measurement), count(session, AuditEvent)) == before
