"""The partnership page's outcomes, indicators, measurements and risks, used as an officer uses
them: added and changed through the page forms, every form's errors the GOV.UK way, the same
changes through the API, and the audit report as at a chosen date."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from compliance.accounts.tokens import create_token
from compliance.models import AuditEvent, Indicator, Measurement, Outcome, Risk
from compliance.outcomes.service import (
    IndicatorCreate,
    OutcomeCreate,
    RiskCreate,
    add_indicator,
    add_outcome,
    add_risk,
)
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_partnership
from tests.html import parse


@pytest.fixture
def world(session):
    board, other = make_partnership(session), make_partnership(session)
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", partnerships=[board.slug]),
        "inspector": make_user(session, "inspector", partnerships=[board.slug]),
        "officer_elsewhere": make_user(session, "officer", partnerships=[other.slug]),
    }
    tokens = {
        who: create_token(session=session, user=user, name="t", actor="test")[0]
        for who, user in users.items()
    }
    return {"board": board, "page": f"/partnerships/{board.slug}", "users": users, "tokens": tokens}


@pytest.fixture
def recorded(session, world):
    """An outcome of the board with one indicator, and one risk."""
    admin = world["users"]["admin"]
    outcome = add_outcome(
        session=session,
        actor=admin,
        data=OutcomeCreate(partnership_id=world["board"].id, title="Adults at risk are safer"),
    )
    indicator = add_indicator(
        session=session,
        actor=admin,
        data=IndicatorCreate(
            outcome_id=outcome.id,
            name="Desired outcomes achieved",
            unit="%",
            direction="increase",
            baseline_value=89.0,
        ),
    )
    risk = add_risk(
        session=session,
        actor=admin,
        data=RiskCreate(
            partnership_id=world["board"].id,
            category="cost",
            title="Meetings draw on a small council",
            likelihood=4,
            impact=2,
        ),
    )
    return {"outcome": outcome, "indicator": indicator, "risk": risk}


@pytest.fixture
def browse(app, world):
    """A signed-in browser and its form token: browse("officer")."""

    def open_as(who: str) -> tuple[TestClient, str]:
        browser = TestClient(app)
        sign_in(browser, world["users"][who].email)
        return browser, csrf_of(browser, world["page"])

    return open_as


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(model)).one()


def actions(session) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))


def _classes(element) -> set[str]:  # type: ignore[no-untyped-def]
    return set((element.get("class") or "").split())


def _text(element) -> str:  # type: ignore[no-untyped-def]
    return " ".join("".join(element.itertext()).split())


def error_pattern(response, status: int = 422) -> list[str]:  # type: ignore[no-untyped-def]
    """The GOV.UK error pattern, checked: the status, a title starting "Error: ", a summary
    whose every link leads to a field on the page with its own message beside it. Returns the
    summary's messages in order."""
    assert response.status_code == status, response.text[:2000]
    tree = parse(response.text)
    assert tree.find(".//title").text.startswith("Error: ")
    ids = {e.get("id") for e in tree.iter() if e.get("id")}
    beside = {
        e.get("id"): _text(e).removeprefix("Error: ")
        for e in tree.iter()
        if "govuk-error-message" in _classes(e) and e.get("id")
    }
    summary = [
        a
        for ul in tree.iter("ul")
        if "govuk-error-summary__list" in _classes(ul)
        for a in ul.iter("a")
    ]
    assert summary, "no error summary"
    for link in summary:
        target = link.get("href").removeprefix("#")
        assert target in ids, f"the summary links to #{target}, which is not on the page"
        # A date's link goes to its day box; its message is the date group's.
        field = target.removesuffix("-day")
        assert beside.get(f"{field}-error") == _text(link), f"no message by #{target}"
    messages = [_text(a) for a in summary]
    assert not [m for m in messages if "should" in m or "Value error" in m or "_" in m]
    return messages


def value_of(response, element_id: str) -> str | None:  # type: ignore[no-untyped-def]
    for element in parse(response.text).iter("input"):
        if element.get("id") == element_id:
            return element.get("value")
    raise AssertionError(f"no input #{element_id}")


def token_in(response, action: str) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token carried by the page's form that posts to `action`: posting with it tests
    the form itself, not only the route."""
    for form in parse(response.text).iter("form"):
        if form.get("action") == action:
            for field in form.iter("input"):
                if field.get("name") == "csrf_token" and field.get("value"):
                    return field.get("value")
    raise AssertionError(f"no form with a token posting to {action}")


def date_fields(name: str, day: dt.date) -> dict[str, str]:
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


# Adding and changing through the pages -----------------------------------------------------------


def test_an_officer_adds_an_outcome_then_an_indicator_then_records_a_measurement(
    browse, world, session, settings
):
    browser, _ = browse("officer")
    page = world["page"]
    empty = browser.get(page)
    parse(empty.text)
    assert "no outcome has an indicator yet" in empty.text
    assert ">None<" not in empty.text, "an empty answer shows as nothing"
    assert f'action="{page}/measurements"' not in empty.text

    added = browser.post(
        f"{page}/outcomes",
        data={
            "csrf_token": token_in(empty, f"{page}/outcomes"),
            "title": "People stay in their own homes",
        },
        follow_redirects=False,
    )
    assert (added.status_code, added.headers["location"]) == (303, f"{page}#outcomes")
    outcome = session.exec(select(Outcome)).one()
    assert (outcome.title, outcome.partnership_id) == (
        "People stay in their own homes",
        world["board"].id,
    )
    shown = browser.get(page).text
    new_indicator = f"/outcomes/{outcome.id}/indicators/new"
    assert f'href="{new_indicator}"' in shown
    assert "Add an indicator to the outcome “People stay in their own homes”" in shown

    form = browser.get(new_indicator)
    assert form.status_code == 200
    tree = parse(form.text)
    back = [a for a in tree.iter("a") if "govuk-back-link" in _classes(a)]
    assert ">None<" not in form.text
    assert back and back[0].get("href") == page
    baseline_day = settings.today() - dt.timedelta(days=365)
    sent = browser.post(
        new_indicator,
        data={
            "csrf_token": token_in(form, new_indicator),
            "name": "Days from hospital to home",
            "unit": "days",
            "direction": "decrease",
            "baseline_value": "12.5",
            **date_fields("baseline_date", baseline_day),
            "target_value": "1,000",
            "data_source": "Discharge data",
        },
        follow_redirects=False,
    )
    assert (sent.status_code, sent.headers["location"]) == (303, page)
    indicator = session.exec(select(Indicator)).one()
    assert (indicator.outcome_id, indicator.direction) == (outcome.id, "decrease")
    assert (indicator.baseline_value, indicator.baseline_date) == (12.5, baseline_day)
    assert indicator.target_value == 1000.0

    with_indicator = browser.get(page)
    assert f'<option value="{indicator.id}">Days from hospital to home (outcome: People stay' in (
        with_indicator.text
    )
    measured_day = settings.today() - dt.timedelta(days=30)
    measured = browser.post(
        f"{page}/measurements",
        data={
            "csrf_token": token_in(with_indicator, f"{page}/measurements"),
            "indicator_id": str(indicator.id),
            **date_fields("measured_date", measured_day),
            "value": "11.2",
            "source": "Discharge data, quarter 3",
        },
        follow_redirects=False,
    )
    assert measured.status_code == 303, measured.text[:2000]
    measurement = session.exec(select(Measurement)).one()
    assert (measurement.indicator_id, measurement.measured_date) == (indicator.id, measured_day)
    assert (measurement.value, measurement.source) == (11.2, "Discharge data, quarter 3")
    after = browser.get(page).text
    parse(after)
    assert "Measurements of Days from hospital to home, for the outcome “People stay" in after
    assert "Discharge data, quarter 3" in after
    assert actions(session)[-3:] == ["outcome.created", "indicator.created", "measurement.created"]


def test_an_officer_changes_an_outcome_and_an_indicator(browse, world, recorded, session):
    browser, _ = browse("officer")
    outcome, indicator = recorded["outcome"], recorded["indicator"]
    assert f'href="/outcomes/{outcome.id}/edit"' in browser.get(world["page"]).text

    form = browser.get(f"/outcomes/{outcome.id}/edit")
    assert form.status_code == 200
    assert value_of(form, "outcome-title") == "Adults at risk are safer"
    sent = browser.post(
        f"/outcomes/{outcome.id}/edit",
        data={
            "csrf_token": token_in(form, f"/outcomes/{outcome.id}/edit"),
            "title": "Adults at risk are safer",
            "description": "MSP",
        },
        follow_redirects=False,
    )
    assert (sent.status_code, sent.headers["location"]) == (303, world["page"])
    session.refresh(outcome)
    assert outcome.description == "MSP"
    event = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.entity_id) == ("outcome.updated", str(outcome.id))
    assert (event.before, event.after) == ({"description": None}, {"description": "MSP"})

    form = browser.get(f"/indicators/{indicator.id}/edit")
    assert value_of(form, "indicator-baseline_value") == "89"
    assert 'value="increase" checked' in form.text
    sent = browser.post(
        f"/indicators/{indicator.id}/edit",
        data={
            "csrf_token": token_in(form, f"/indicators/{indicator.id}/edit"),
            "name": "Desired outcomes achieved",
            "unit": "%",
            "direction": "increase",
            "baseline_value": "89",
            "target_value": "95",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    session.refresh(indicator)
    assert (indicator.baseline_value, indicator.target_value) == (89.0, 95.0)
    assert actions(session)[-1] == "indicator.updated"


def test_an_officer_adds_a_risk_and_closes_it(browse, world, session):
    browser, _ = browse("officer")
    before = browser.get(world["page"])
    added = browser.post(
        f"{world['page']}/risks",
        data={
            "csrf_token": token_in(before, f"{world['page']}/risks"),
            "category": "cost",
            "title": "Senior time for meetings",
            "likelihood": "4",
            "impact": "2",
            "owner": "Business manager",
        },
        follow_redirects=False,
    )
    assert (added.status_code, added.headers["location"]) == (303, f"{world['page']}#risks")
    risk = session.exec(select(Risk)).one()
    assert (risk.category, risk.likelihood, risk.impact, risk.status) == ("cost", 4, 2, "open")
    page = browser.get(world["page"]).text
    assert f'href="/risks/{risk.id}/edit"' in page

    form = browser.get(f"/risks/{risk.id}/edit")
    assert value_of(form, "risk-title") == "Senior time for meetings"
    assert value_of(form, "risk-likelihood") == "4"
    changed = browser.post(
        f"/risks/{risk.id}/edit",
        data={
            "csrf_token": token_in(form, f"/risks/{risk.id}/edit"),
            "category": "cost",
            "title": "Senior time for meetings",
            "likelihood": "2",
            "impact": "2",
            "mitigation": "Remote attendance",
            "owner": "Business manager",
            "status": "closed",
        },
        follow_redirects=False,
    )
    assert (changed.status_code, changed.headers["location"]) == (303, world["page"])
    session.refresh(risk)
    assert (risk.likelihood, risk.mitigation, risk.status) == (2, "Remote attendance", "closed")
    event = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "risk.updated"
    assert event.before == {"likelihood": 4, "mitigation": None, "status": "open"}


# Errors the GOV.UK way ---------------------------------------------------------------------------

RISK_ERRORS = [
    "Choose whether it is a risk, a cost or a negative effect",
    "Enter a title for the risk",
    "Enter the likelihood as a whole number from 1 to 5",
    "Enter the impact as a whole number from 1 to 5",
]
INDICATOR_ERRORS = [
    "Enter a name for the indicator",
    "Enter the unit, for example % or days",
    "Choose whether a higher or a lower value is better",
]
EMPTY_FORMS = {
    "add an outcome": ("{page}/outcomes", ["Enter a name for the outcome"]),
    "record a measurement": (
        "{page}/measurements",
        [
            "Choose the indicator you measured",
            "Enter the date measured",
            "Enter the value measured, for example 95 or 12.5",
            "Enter where the figure comes from, for example SAC 2025-26",
        ],
    ),
    "add a risk": ("{page}/risks", RISK_ERRORS),
    "add an indicator": ("/outcomes/{outcome}/indicators/new", INDICATOR_ERRORS),
    "change an outcome": ("/outcomes/{outcome}/edit", ["Enter a name for the outcome"]),
    "change an indicator": ("/indicators/{indicator}/edit", INDICATOR_ERRORS),
    "change a risk": (
        "/risks/{risk}/edit",
        [*RISK_ERRORS, "Choose whether the risk is open or closed"],
    ),
}


@pytest.mark.parametrize("form", EMPTY_FORMS)
def test_every_form_sent_empty_comes_back_with_its_errors_in_order(
    form, browse, world, recorded, session
):
    browser, _ = browse("officer")
    url, expected = EMPTY_FORMS[form]
    url = url.format(
        page=world["page"],
        outcome=recorded["outcome"].id,
        indicator=recorded["indicator"].id,
        risk=recorded["risk"].id,
    )
    before = {m: count(session, m) for m in (Outcome, Indicator, Measurement, Risk, AuditEvent)}
    shown_on = world["page"] if url.startswith(world["page"]) else url
    response = browser.post(url, data={"csrf_token": token_in(browser.get(shown_on), url)})
    assert error_pattern(response) == expected
    assert f'action="{url}"' in response.text, "the same form comes back"
    assert {m: count(session, m) for m in before} == before
    session.refresh(recorded["outcome"])
    assert recorded["outcome"].title == "Adults at risk are safer"


def test_a_wrong_answer_is_named_and_what_was_typed_is_kept(
    browse, world, recorded, session, settings
):
    browser, token = browse("officer")
    indicator = recorded["indicator"]
    tomorrow = settings.today() + dt.timedelta(days=1)
    response = browser.post(
        f"{world['page']}/measurements",
        data={
            "csrf_token": token,
            "indicator_id": str(indicator.id),
            **date_fields("measured_date", tomorrow),
            "value": "ninety",
            "source": "x" * 501,
        },
    )
    assert error_pattern(response) == [
        "The date measured must be today or in the past",
        "Enter a number, for example 95 or 12.5",
        "Enter a source of 500 characters or fewer",
    ]
    assert value_of(response, "measurement-value") == "ninety"
    assert value_of(response, "measured_date-day") == str(tomorrow.day)
    assert f'<option value="{indicator.id}" selected>' in response.text
    assert '<details class="govuk-details" open>' in response.text

    impossible = browser.post(
        f"{world['page']}/measurements",
        data={
            "csrf_token": token,
            "indicator_id": str(indicator.id),
            "measured_date-day": "31",
            "measured_date-month": "2",
            "measured_date-year": "2026",
            "value": "95",
            "source": "SAC",
        },
    )
    assert error_pattern(impossible) == ["The date measured must be a real date"]

    risk = browser.post(
        f"/risks/{recorded['risk'].id}/edit",
        data={
            "csrf_token": token,
            "category": "cost",
            "title": "t" * 301,
            "likelihood": "7",
            "impact": "2",
            "status": "open",
        },
    )
    assert error_pattern(risk) == [
        "Enter a title of 300 characters or fewer",
        "Enter the likelihood as a whole number from 1 to 5",
    ]
    assert value_of(risk, "risk-likelihood") == "7"
    assert count(session, Measurement) == 0


def test_a_second_measurement_for_the_same_date_is_refused_by_the_date(
    browse, world, recorded, session, settings
):
    browser, token = browse("officer")
    fields = {
        "csrf_token": token,
        "indicator_id": str(recorded["indicator"].id),
        **date_fields("measured_date", settings.today()),
        "value": "93",
        "source": "SAC",
    }
    assert (
        browser.post(
            f"{world['page']}/measurements", data=fields, follow_redirects=False
        ).status_code
        == 303
    )
    again = browser.post(f"{world['page']}/measurements", data=fields | {"value": "94"})
    (message,) = error_pattern(again)
    assert message.startswith("This indicator already has a measurement for ")
    assert count(session, Measurement) == 1


# Who sees and changes what -----------------------------------------------------------------------


def test_an_inspector_sees_everything_but_no_form(browse, world, recorded, session):
    browser, token = browse("inspector")
    page = browser.get(world["page"])
    assert page.status_code == 200
    parse(page.text)
    assert (
        "Adults at risk are safer" in page.text and "Meetings draw on a small council" in page.text
    )
    assert 'method="post"' not in page.text.split("</header>", 1)[1]
    assert "/edit" not in page.text and "/indicators/new" not in page.text
    outcome_id = recorded["outcome"].id
    for url in (f"/outcomes/{outcome_id}/edit", f"/risks/{recorded['risk'].id}/edit"):
        refused = browser.get(url)
        assert refused.status_code == 403
        assert "Only an officer for this partnership can change" in refused.text
    posted = browser.post(f"{world['page']}/outcomes", data={"csrf_token": token, "title": "X"})
    assert posted.status_code == 403
    assert count(session, Outcome) == 1


def test_an_officer_elsewhere_is_refused_plainly(browse, world, recorded, session):
    browser, token = browse("officer_elsewhere")
    page = browser.get(world["page"])
    assert page.status_code == 403 and "This partnership is not in your scope" in page.text
    edit = browser.get(f"/outcomes/{recorded['outcome'].id}/edit")
    assert edit.status_code == 403 and "This outcome is not in your scope" in edit.text
    sent = browser.post(
        f"/risks/{recorded['risk'].id}/edit",
        data={
            "csrf_token": token,
            "category": "risk",
            "title": "Mine now",
            "likelihood": "1",
            "impact": "1",
            "status": "closed",
        },
    )
    assert sent.status_code == 403
    session.refresh(recorded["risk"])
    assert recorded["risk"].status == "open"


# The same changes through the API ---------------------------------------------------------------


@pytest.fixture
def api(client, world):
    def call(who: str, method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {world['tokens'][who]}"}
        return client.request(method, url, headers=headers, **kwargs)

    return call


def test_the_api_changes_outcomes_indicators_and_risks(api, world, recorded, session):
    outcome, indicator, risk = recorded["outcome"], recorded["indicator"], recorded["risk"]
    changed = api("officer", "patch", f"/api/v1/outcomes/{outcome.id}", json={"title": "Safer"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Safer"
    assert changed.json()["partnership"] == world["board"].slug

    target = {"target_value": 96, "target_date": "2028-03-31"}
    changed = api("admin", "patch", f"/api/v1/indicators/{indicator.id}", json=target)
    assert changed.status_code == 200, changed.text
    assert changed.json()["target_value"] == 96.0 and changed.json()["name"] == indicator.name
    cleared = api(
        "officer", "patch", f"/api/v1/indicators/{indicator.id}", json={"baseline_value": None}
    )
    assert cleared.status_code == 200 and cleared.json()["baseline_value"] is None

    closed = api("officer", "patch", f"/api/v1/risks/{risk.id}", json={"status": "closed"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["likelihood"]) == ("closed", 4)
    session.refresh(risk)
    assert risk.status == "closed"
    assert actions(session)[-4:] == [
        "outcome.updated",
        "indicator.updated",
        "indicator.updated",
        "risk.updated",
    ]
    events = count(session, AuditEvent)
    unchanged = api("officer", "patch", f"/api/v1/risks/{risk.id}", json={"status": "closed"})
    assert unchanged.status_code == 200
    assert count(session, AuditEvent) == events, "a change to the same value is no change"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/outcomes/{outcome}", {"title": "Theirs"}),
        ("/api/v1/indicators/{indicator}", {"unit": "days"}),
        ("/api/v1/risks/{risk}", {"status": "closed"}),
    ],
)
def test_the_api_refuses_changes_outside_scope_and_empty_names(api, recorded, session, url, body):
    url = url.format(**{k: v.id for k, v in recorded.items()})
    events = count(session, AuditEvent)
    for who in ("officer_elsewhere", "inspector"):
        refused = api(who, "patch", url, json=body)
        assert refused.status_code == 403, (who, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    (name,) = body
    emptied = api("officer", "patch", url, json={name: None})
    assert emptied.status_code == 422, emptied.text
    assert emptied.json()["field"] == f"body.{name}"
    unknown = api("officer", "patch", url, json={"partnership_id": 2})
    assert unknown.status_code == 422
    assert count(session, AuditEvent) == events
    assert api("officer", "patch", url.rsplit("/", 1)[0] + "/999999", json=body).status_code == 404


# The audit report as at a date ------------------------------------------------------------------


def test_the_report_form_sends_the_chosen_date_to_the_report(app, browse, world, settings):
    browser, _ = browse("inspector")
    page = browser.get(world["page"])
    today = settings.today()
    assert value_of(page, "as_at-day") == str(today.day)
    assert value_of(page, "as_at-year") == str(today.year)
    assert f'action="{world["page"]}/report"' in page.text

    day = today - dt.timedelta(days=200)
    url = f"{world['page']}/report"
    sent = browser.get(
        url, params=date_fields("as_at", day) | {"download": "pdf"}, follow_redirects=False
    )
    assert sent.status_code == 303
    location = urlsplit(sent.headers["location"])
    report = f"/api/v1/partnerships/{world['board'].slug}/report.pdf"
    assert location.path == report
    assert parse_qs(location.query) == {"as_at": [day.isoformat()]}
    documented = app.openapi()["paths"]["/api/v1/partnerships/{slug}/report.pdf"]
    parameters = documented["get"]["parameters"]
    assert {"as_at", "pack"} <= {p["name"] for p in parameters}

    pack = browser.get(
        url, params=date_fields("as_at", day) | {"download": "pack"}, follow_redirects=False
    )
    assert parse_qs(urlsplit(pack.headers["location"]).query) == {
        "as_at": [day.isoformat()],
        "pack": ["true"],
    }
    blank = {"as_at-day": "", "as_at-month": "", "as_at-year": "", "download": "pdf"}
    today_report = browser.get(url, params=blank, follow_redirects=False)
    assert (today_report.status_code, today_report.headers["location"]) == (303, report)


def test_a_report_date_in_the_future_or_unreal_comes_back_on_the_page(browse, world, settings):
    browser, _ = browse("inspector")
    url = f"{world['page']}/report"
    future = settings.today() + dt.timedelta(days=1)
    response = browser.get(url, params=date_fields("as_at", future) | {"download": "pdf"})
    # The same words as the body's and the duty's report forms (reports.pages.report_as_at).
    assert error_pattern(response) == ["A report cannot be as at a date in the future"]
    assert value_of(response, "as_at-day") == str(future.day)
    unreal = browser.get(url, params={"as_at-day": "30", "as_at-month": "2", "as_at-year": "2026"})
    assert error_pattern(unreal) == ["Enter a real date for the report, for example 31 3 2026"]
    early = browser.get(url, params={"as_at-day": "1", "as_at-month": "1", "as_at-year": "1999"})
    assert error_pattern(early) == ["A report cannot be as at a date before 1 January 2000"]
