"""Is it worth it? A partnership's costs, benefits and continuation decisions recorded through
its page and the API (one service), weighed in a plain statement that invents no number, a rule
for partners who have not decided in three years whether it should continue, and the section
shown on the partnership page and in its PDF between the outcomes and the process."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect as schema_of
from sqlmodel import func, select

from compliance.accounts.tokens import create_token
from compliance.checks import rules
from compliance.checks.rules import Continuation
from compliance.db import make_engine
from compliance.migrations import downgrade, upgrade
from compliance.models import AuditEvent, Partnership
from compliance.outcomes.judgement import Verdict
from compliance.outcomes.service import RiskCreate, add_risk
from compliance.partnerships.service import set_value
from compliance.partnerships.value import Costs, weigh
from compliance.reports.pdf import render_html
from tests import test_reports
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body, make_partnership
from tests.html import parse
from tests.test_judgement import _outcome
from tests.test_outcome_pages import error_pattern
from tests.test_reports import pdf_text, report
from tests.test_rules import evaluate_one, fired, snapshot
from tests.test_verdicts import open_findings

app_with_reports = test_reports.app_with_reports
VALUE_COLUMNS = (
    "rationale",
    "alternatives",
    "benefits",
    "staff_days_a_year",
    "pounds_a_year",
    "meetings_a_year",
    "costs_as_at_date",
    "continuation_decided_date",
    "continuation_due_date",
)


def _date(name: str, day: dt.date | None) -> dict[str, str]:
    parts = (day.day, day.month, day.year) if day else ("", "", "")
    return {f"{name}-{k}": str(v) for k, v in zip(("day", "month", "year"), parts, strict=True)}


def _events(session, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(model)).one()


# The weighing -----------------------------------------------------------------------------------

ON = dt.date(2026, 6, 1)


def test_a_complete_record_is_weighed_in_plain_words():
    weighed = weigh(
        costs=Costs(staff_days=120, pounds=45000, meetings=10, as_at=dt.date(2026, 4, 1)),
        benefits="One set of procedures for every partner",
        materialised=2,
        worsening=1,
        verdict=Verdict.worsening,
        decided=dt.date(2023, 3, 3),
        due=dt.date(2026, 4, 1),
        on=ON,
    )
    assert weighed.sentences == (
        "Costs 120 staff days, £45,000 and 10 meetings a year (as at 1 April 2026).",
        "Outcomes: Getting worse for people.",
        "Negatives seen: 2 risks materialised and 1 outcome getting worse for people.",
        "Benefits recorded: yes.",
        "Continuation last decided 3 March 2023 (more than three years ago); next decision "
        "due 1 April 2026 — overdue.",
    )
    assert weighed.decision_overdue and weighed.text.startswith("Costs 120 staff days, £45,000")


def test_a_partial_record_says_what_is_not_recorded():
    weighed = weigh(
        costs=Costs(staff_days=1, meetings=0),
        benefits="  ",
        materialised=1,
        worsening=0,
        verdict=Verdict.improving,
        decided=dt.date(2025, 3, 3),
        due=None,
        on=ON,
    )
    assert weighed.sentences == (
        "Costs 1 staff day and 0 meetings a year; money not recorded.",
        "Outcomes: Improving things for people.",
        "Negatives seen: 1 risk materialised.",
        "Benefits: not recorded.",
        "Continuation last decided 3 March 2025; next decision: not recorded.",
    )
    assert not weighed.decision_overdue


def test_an_empty_record_invents_no_number():
    weighed = weigh(
        costs=Costs(),
        benefits=None,
        materialised=0,
        worsening=0,
        verdict=Verdict.cannot_judge,
        decided=None,
        due=None,
        on=ON,
    )
    assert weighed.text == (
        "Costs: not recorded. Outcomes: Cannot judge: no outcomes measured. Negatives seen: none "
        "recorded (no risk materialised, no outcome getting worse). Benefits: not recorded. No "
        "decision on whether it should continue is recorded; next decision: not recorded."
    )
    assert not any(character.isdigit() for character in weighed.text)


# The rule ---------------------------------------------------------------------------------------


def test_the_rule_fires_after_three_years_without_a_decision_and_resolves_after_one():
    # ON is 1 June 2026: three years before it is 1 June 2023.
    snap = snapshot(
        partnerships={7: "Board A", 8: "Board B", 9: "Board C", 10: "Board D"},
        continuation={
            7: Continuation(started=dt.date(2015, 1, 1), decided=dt.date(2023, 5, 31)),
            8: Continuation(started=dt.date(2023, 5, 31), decided=None),
            9: Continuation(started=dt.date(2015, 1, 1), decided=dt.date(2023, 6, 1)),
            10: Continuation(started=dt.date(2023, 6, 1), decided=None),
        },
    )
    assert fired(rules.continuation_not_reviewed, snap) == [
        "partnership:7:continuation",
        "partnership:8:continuation",
    ]
    lapsed, never = evaluate_one(rules.continuation_not_reviewed, snap)[0]
    assert (lapsed.severity, lapsed.partnership_id, lapsed.since) == (
        "low",
        7,
        dt.date(2026, 5, 31),
    )
    assert lapsed.message == (
        "Board A has not recorded a decision on whether it should continue in the last three "
        "years (last decided on 31 May 2023; a convention of this tracker, not a statutory duty)"
    )
    assert "(none recorded since 31 May 2023;" in never.message
    assert rules.rule_words("continuation_not_reviewed") == (
        "A live partnership has not recorded a decision on whether it should continue in the "
        "last three years (a convention of this tracker, not a statutory duty)."
    )
    # A decision recorded within the three years resolves it; with no start known, none fires.
    recent = snapshot(
        partnerships={7: "Board A", 11: "Board E"},
        continuation={
            7: Continuation(started=dt.date(2015, 1, 1), decided=dt.date(2026, 3, 3)),
            11: Continuation(started=None, decided=None),
        },
    )
    assert fired(rules.continuation_not_reviewed, recent) == []


def test_the_finding_opens_and_resolves_as_each_change_is_saved(session, settings):
    today = settings.today()
    board = make_partnership(session, start_date=today - dt.timedelta(days=4 * 366))
    session.commit()
    (finding,) = open_findings(session, partnership_id=board.id, rule="continuation_not_reviewed")
    assert finding.severity == "low" and "convention of this tracker" in finding.basis
    set_value(
        session=session,
        partnership=board,
        changes={"continuation_decided_date": today - dt.timedelta(days=10)},
        actor="test",
        today=today,
    )
    session.commit()
    assert open_findings(session, partnership_id=board.id, rule="continuation_not_reviewed") == []


# The page ---------------------------------------------------------------------------------------


@pytest.fixture
def world(app, session, settings):
    today = settings.today()
    board, other = make_partnership(session), make_partnership(session)
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", partnerships=[board.slug]),
        "inspector": make_user(session, "inspector", partnerships=[board.slug]),
        "officer_elsewhere": make_user(session, "officer", partnerships=[other.slug]),
    }
    session.commit()
    return {
        "board": board,
        "page": f"/partnerships/{board.slug}",
        "form": f"/partnerships/{board.slug}/value",
        "users": users,
        "today": today,
    }


def _browser(app, world, who: str) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    browser = TestClient(app)
    sign_in(browser, world["users"][who].email)
    return browser, csrf_of(browser, world["page"])


def _filled(today: dt.date) -> dict[str, str]:
    return {
        "rationale": "The Act requires a board; one board shares expertise.",
        "alternatives": "A board for each council.",
        "staff_days_a_year": "120",
        "pounds_a_year": "£45,000",
        "meetings_a_year": "10",
        **_date("costs_as_at_date", dt.date(today.year, 4, 1)),
        "benefits": "One set of procedures for every partner.",
        **_date("continuation_decided_date", today - dt.timedelta(days=30)),
        **_date("continuation_due_date", today + dt.timedelta(days=335)),
    }


def test_an_officer_records_it_on_the_page_audited_and_shown_between_outcomes_and_process(
    app, session, world
):
    browser, token = _browser(app, world, "officer")
    form = browser.get(world["form"])
    assert form.status_code == 200 and '<h1 class="govuk-heading-l">Is it worth it?' in form.text
    parse(form.text)
    today = world["today"]
    saved = browser.post(
        world["form"], data={"csrf_token": token, **_filled(today)}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == world["page"] + "#value"
    board = session.get(Partnership, world["board"].id)
    session.refresh(board)
    assert (board.staff_days_a_year, board.pounds_a_year, board.meetings_a_year) == (120, 45000, 10)
    assert board.continuation_decided_date == today - dt.timedelta(days=30)
    (event,) = _events(session, "partnership.value_updated")
    assert event.actor == world["users"]["officer"].email and event.entity_id == board.slug
    assert event.before["pounds_a_year"] is None and event.after["pounds_a_year"] == 45000

    again = browser.get(world["form"])
    assert 'value="120"' in again.text and "The Act requires a board" in again.text
    page = browser.get(world["page"]).text
    parse(page)
    order = [page.find(m) for m in ('id="outcomes"', 'id="value"', 'id="process"')]
    assert -1 not in order and order == sorted(order)
    section = page[order[1] : order[2]]
    assert f"Costs 120 staff days, £45,000 and 10 meetings a year (as at 1 April {today.year})" in (
        section
    )
    assert "Benefits recorded: yes." in section and "A board for each council." in section
    assert f'href="{world["form"]}"' in section


def test_an_empty_form_saves_nothing_harmful(app, session, world):
    browser, token = _browser(app, world, "officer")
    saved = browser.post(world["form"], data={"csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303
    board = session.get(Partnership, world["board"].id)
    session.refresh(board)
    assert all(getattr(board, name) is None for name in VALUE_COLUMNS)
    assert _events(session, "partnership.value_updated") == []
    page = browser.get(world["page"]).text
    assert "Costs: not recorded." in page and "Benefits: not recorded." in page


def test_bad_numbers_and_dates_come_back_the_govuk_way_and_nothing_is_saved(app, session, world):
    browser, token = _browser(app, world, "officer")
    today = world["today"]
    before = _count(session, AuditEvent)
    typed = _filled(today) | {
        "rationale": "Because\x00",
        "staff_days_a_year": "forty",
        "pounds_a_year": "-5",
        "meetings_a_year": "2.5",
        **_date("costs_as_at_date", None) | {"costs_as_at_date-day": "31"},
        **_date("continuation_decided_date", today),
        **_date("continuation_due_date", today - dt.timedelta(days=1)),
        "benefits": "x" * 5001,
    }
    response = browser.post(world["form"], data={"csrf_token": token, **typed})
    assert error_pattern(response) == [
        "Remove the NUL character (U+0000): it cannot be stored",
        "Enter a whole number of staff days, for example 40",
        "Money a year must be £0 or more",
        "Enter a whole number of meetings, for example 10",
        "Enter a real date for the costs, for example 3 3 2023",
        "Enter benefits of 5,000 characters or fewer",
        "The next decision must be after the last one",
    ]
    assert f'action="{world["form"]}"' in response.text
    assert 'value="forty"' in response.text and 'value="2.5"' in response.text
    future = browser.post(
        world["form"],
        data={
            "csrf_token": token,
            **_date("continuation_decided_date", today + dt.timedelta(days=1)),
            "pounds_a_year": "3000000000",
        },
    )
    assert error_pattern(future) == [
        "Enter £2,000,000,000 or less",
        "The last decision must be today or in the past",
    ]
    board = session.get(Partnership, world["board"].id)
    session.refresh(board)
    assert all(getattr(board, name) is None for name in VALUE_COLUMNS)
    assert _count(session, AuditEvent) == before


@pytest.mark.parametrize("who", ["inspector", "officer_elsewhere"])
def test_only_officers_for_the_partnership_and_admins_change_it(app, session, world, who):
    browser = TestClient(app)
    sign_in(browser, world["users"][who].email)
    token = csrf_of(browser, "/partnerships")
    assert browser.get(world["form"]).status_code == 403
    refused = browser.post(world["form"], data={"csrf_token": token, **_filled(world["today"])})
    assert refused.status_code == 403
    assert _events(session, "partnership.value_updated") == []
    page = browser.get(world["page"])
    if who == "inspector":  # reads the section, without the way to change it
        assert 'id="value"' in page.text and world["form"] not in page.text
    else:
        assert page.status_code == 403
    admin, admin_token = _browser(app, world, "admin")
    saved = admin.post(
        world["form"],
        data={"csrf_token": admin_token, "meetings_a_year": "4"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and len(_events(session, "partnership.value_updated")) == 1


def test_a_risk_marked_materialised_on_its_page_or_the_api_is_a_negative_seen(app, session, world):
    risk = add_risk(
        session=session,
        actor=world["users"]["admin"],
        data=RiskCreate(
            partnership_id=world["board"].id,
            category="risk",
            title="Staff leave",
            likelihood=3,
            impact=3,
        ),
    )
    session.commit()
    browser, token = _browser(app, world, "officer")
    form = browser.get(f"/risks/{risk.id}/edit").text
    assert 'value="materialised"' in form and "Materialised: it happened" in form
    fields = {"category": "risk", "title": "Staff leave", "likelihood": "3", "impact": "3"}
    saved = browser.post(
        f"/risks/{risk.id}/edit",
        data={"csrf_token": token, **fields, "status": "materialised"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = browser.get(world["page"]).text
    assert "Negatives seen: 1 risk materialised." in page
    officer = _api(app, session, world["users"]["officer"])
    reopened = officer.patch(f"/api/v1/risks/{risk.id}", json={"status": "open"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert "Negatives seen: none recorded" in browser.get(world["page"]).text
    again = officer.patch(f"/api/v1/risks/{risk.id}", json={"status": "materialised"})
    assert again.json()["status"] == "materialised"


# The API ----------------------------------------------------------------------------------------


def _api(app, session, user) -> TestClient:  # type: ignore[no-untyped-def]
    token, _ = create_token(session=session, user=user, name="t", actor="test")
    session.commit()
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_the_api_patch_sets_the_same_through_the_service_and_keeps_to_scope(app, session, world):
    url = f"/api/v1/partnerships/{world['board'].slug}"
    today = world["today"]
    change = {
        "staff_days_a_year": 120,
        "pounds_a_year": 45000,
        "benefits": " One set of procedures. ",
        "continuation_decided_date": (today - dt.timedelta(days=30)).isoformat(),
    }
    for who in ("officer_elsewhere", "inspector"):
        refused = _api(app, session, world["users"][who]).patch(url, json=change)
        assert refused.status_code == 403, who
    officer = _api(app, session, world["users"]["officer"])
    assert officer.patch(url, json={"name": "Renamed"}).status_code == 403
    assert _events(session, "partnership.value_updated") == []

    changed = officer.patch(url, json=change)
    assert changed.status_code == 200, changed.text
    detail = changed.json()
    assert (detail["staff_days_a_year"], detail["benefits"]) == (120, "One set of procedures.")
    assert (
        detail["value_for_cost"][0]
        == "Costs 120 staff days and £45,000 a year; meetings not recorded."
    )
    assert detail["continuation_decided_date"] == change["continuation_decided_date"]
    (event,) = _events(session, "partnership.value_updated")
    assert event.actor == world["users"]["officer"].email
    assert set(event.after) == {
        "staff_days_a_year",
        "pounds_a_year",
        "benefits",
        "continuation_decided_date",
    }
    assert officer.get(url).json()["pounds_a_year"] == 45000

    negative = officer.patch(url, json={"meetings_a_year": -1})
    assert negative.status_code == 422 and negative.json()["field"] == "body.meetings_a_year"
    early = officer.patch(
        url, json={"continuation_due_date": (today - dt.timedelta(days=31)).isoformat()}
    )
    assert early.status_code == 422 and early.json()["field"] == "body.continuation_due_date"
    board = session.get(Partnership, world["board"].id)
    session.refresh(board)
    assert (board.meetings_a_year, board.continuation_due_date) == (None, None)
    assert len(_events(session, "partnership.value_updated")) == 1


# The PDF and the reports ------------------------------------------------------------------------


def _weighed_board(session, settings):  # type: ignore[no-untyped-def]
    """A board of one council, its costs recorded, an outcome getting worse and a risk that
    materialised."""
    today = settings.today()
    council = make_body(session, name="Value Council")
    board = make_partnership(session, name="Value Board", members=[council])
    admin = make_user(session, "admin")
    set_value(
        session=session,
        partnership=board,
        changes={"staff_days_a_year": 120, "pounds_a_year": 45000, "meetings_a_year": 10},
        actor="test",
        today=today,
    )
    _outcome(session, board, (21.1, 22.6, 23.4), today, "Children protected are not harmed again")
    risk = add_risk(
        session=session,
        actor=admin,
        data=RiskCreate(
            partnership_id=board.id, category="risk", title="Staff leave", likelihood=3, impact=3
        ),
    )
    risk.status = "materialised"
    session.add(risk)
    session.commit()
    return board, council, admin


def test_the_partnership_pdf_weighs_it_between_the_outcomes_and_the_process(
    app_with_reports, session, settings
):
    board, _, admin = _weighed_board(session, settings)
    client = TestClient(app_with_reports)
    sign_in(client, admin.email)
    response = client.get(f"/api/v1/partnerships/{board.slug}/report.pdf")
    assert response.status_code == 200
    text = " ".join(pdf_text(response.content)[1].split())
    body = text[text.index("Appendix C: facts not verified") :]  # past the contents
    markers = (
        "Intended outcomes and indicators",
        "What people and partners say",
        "No evaluation round yet",
        "Is it worth it? Value for cost",
        "Costs 120 staff days, £45,000 and 10 meetings a year.",
        "Outcomes: Getting worse for people.",
        "Negatives seen: 1 risk materialised and 1 outcome getting worse for people.",
        "How the partners work (process)",
    )
    found = [body.find(m) for m in markers]
    assert -1 not in found, [m for m, at in zip(markers, found, strict=True) if at == -1]
    assert found == sorted(found)


def test_a_body_report_gives_a_line_per_partnership(session, settings):
    board, council, _ = _weighed_board(session, settings)
    other = make_partnership(session, name="Another Board", members=[council])
    session.commit()
    shown = report(session, settings, kind="body", key=council.code)
    assert [v.partnership for v in shown.value] == ["Value Board", "Another Board"]
    assert shown.value[0].weighing[0] == "Costs 120 staff days, £45,000 and 10 meetings a year."
    assert shown.value[1].weighing[0] == "Costs: not recorded."
    html = render_html(
        report=shown,
        print_="0" * 64,
        generated_at=dt.datetime.now(dt.UTC),
        generated_by="test",
        head=None,
    )
    assert html.index('id="outcomes"') < html.index('id="value"') < html.index('id="summary"')
    line = f"<strong>{other.name}</strong>: Costs: not recorded. Outcomes: Cannot judge"
    assert line in html and "<strong>Value Board</strong>: Costs 120 staff days" in html


# The migration ----------------------------------------------------------------------------------


def test_the_migration_adds_the_columns_and_takes_them_away(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    columns = {c["name"] for c in schema_of(engine).get_columns("partnership")}
    assert set(VALUE_COLUMNS) <= columns
    downgrade(fresh_url, "0010")
    columns = {c["name"] for c in schema_of(engine).get_columns("partnership")}
    assert not set(VALUE_COLUMNS) & columns and "start_date" in columns
    upgrade(fresh_url)
    assert set(VALUE_COLUMNS) <= {c["name"] for c in schema_of(engine).get_columns("partnership")}
    engine.dispose()
