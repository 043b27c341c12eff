"""The judgement that leads with outcomes: a partnership judged by what changes for people, a
body and an area across their partnerships, process shown beneath, and pages, API and PDF
that show the judgement first."""

import csv
import datetime as dt
import io

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.models import Duty, Indicator, Measurement, Obligation, Outcome, Period
from compliance.obligations.service import sync_obligations
from compliance.obligations.status import OutcomeStatus
from compliance.obligations.views import status_rollup, view_obligations
from compliance.outcomes.judgement import (
    Verdict,
    area_judgement,
    body_judgement,
    combine,
    judge_outcomes,
    partnership_judgement,
)
from compliance.outcomes.service import MeasurementCreate, add_measurement
from tests import test_reports
from tests.conftest import make_user, sign_in
from tests.factories import make_body, make_evidence, make_partnership
from tests.html import parse
from tests.test_reports import pdf_text
from tests.test_verdicts import open_findings

app_with_reports = test_reports.app_with_reports
WORSE = (21.1, 22.6, 23.4)  # re-referrals, lower is better
BETTER = (23.4, 22.6, 21.1)


def test_the_rule_any_worse_else_all_improving_else_no_change():
    worse, same, better, unknown = (
        Verdict.worsening,
        Verdict.no_change,
        Verdict.improving,
        Verdict.cannot_judge,
    )
    assert combine([better, worse, unknown]) == worse
    assert combine([better, better, unknown]) == better
    assert combine([better, same]) == same
    assert combine([unknown, unknown]) == combine([]) == unknown


def test_an_outcome_is_judged_by_its_indicators_that_can_be_judged():
    on = dt.date(2026, 6, 1)
    outcome = Outcome(id=1, partnership_id=1, title="Children are not harmed again")
    days = [dt.date(2024, 3, 31), dt.date(2025, 3, 31), dt.date(2026, 3, 31)]

    def indicator(number, values):  # type: ignore[no-untyped-def]
        row = Indicator(id=number, outcome_id=1, name=f"I{number}", unit="%", direction="decrease")
        return row, list(zip(days[-len(values) :], values, strict=True))

    improving, two = indicator(1, BETTER), indicator(2, (22.0, 25.0))
    verdict, reasons = judge_outcomes([(outcome, [improving, two])], on)
    assert verdict == Verdict.improving
    assert [(r.indicator, r.status) for r in reasons] == [
        ("I1", OutcomeStatus.improving),
        ("I2", OutcomeStatus.too_few_measurements),
    ]
    assert judge_outcomes([(outcome, [two])], on)[0] == Verdict.cannot_judge
    verdict, reasons = judge_outcomes([(outcome, [improving, indicator(3, WORSE)])], on)
    assert verdict == Verdict.worsening and reasons[0].indicator == "I3"
    verdict, reasons = judge_outcomes([], on)
    assert verdict == Verdict.cannot_judge
    assert [r.status for r in reasons] == [OutcomeStatus.no_outcome_defined]


# A register of safeguarding children partnerships -------------------------------------------


def _members(session):  # type: ignore[no-untyped-def]
    county = make_body(session, kind="county_council", name="Test County")
    council = make_body(
        session, name="Test Council", parent_id=county.id, email="governance@test.example.org"
    )
    icb = make_body(session, kind="integrated_care_board", code="QZ1", name="Test ICB")
    police = make_body(session, kind="police_force", code="E23000099", name="Test Police")
    return county, council, [council, icb, police]


def _outcome(session, partnership, values, today, title):  # type: ignore[no-untyped-def]
    outcome = Outcome(partnership_id=partnership.id, title=title)
    session.add(outcome)
    session.flush()
    indicator = Indicator(
        outcome_id=outcome.id,
        name="Re-referrals within 12 months",
        unit="%",
        direction="decrease",
        baseline_value=22.0,
        target_value=18.0,
    )
    session.add(indicator)
    session.flush()
    for back, value in zip((730, 365, 30), values, strict=False):
        day = today - dt.timedelta(days=back)
        session.add(Measurement(indicator_id=indicator.id, measured_date=day, value=value))
    session.flush()
    return outcome


def _evidence_everything(session, partnership, today):  # type: ignore[no-untyped-def]
    rows = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.partnership_id == partnership.id)
        .where(Period.period_start_date <= today)
    )
    for occurrence in rows:
        day = min(occurrence.period_end_date, today)
        make_evidence(session, occurrences=[occurrence], effective_date=day)


@pytest.fixture
def register(session, settings):
    """Two safeguarding partnerships of the same members: one with perfect paperwork and
    outcomes getting worse, one with good outcomes and its statutory yearly report late; and
    a third with no outcome at all."""
    today = settings.today()
    duty = session.exec(select(Duty).where(Duty.slug == "children-act-2004-s16e")).one()
    county, council, members = _members(session)
    # Led by the council, whose contact email its reminders reach.
    led = {"duties": [duty], "members": members, "lead_body_id": council.id}
    paperwork = make_partnership(session, **led, name="Paperwork Board")
    outcomes = make_partnership(session, **led, name="Outcomes Board")
    empty = make_partnership(session, **led, name="Empty Board")
    sync_obligations(session=session, on=today, track_from=today - dt.timedelta(days=800))
    _evidence_everything(session, paperwork, today)
    _evidence_everything(session, empty, today)
    _outcome(session, paperwork, WORSE, today, "Children protected are not harmed again")
    _outcome(session, outcomes, BETTER, today, "Children in need are kept safe")
    session.commit()  # judged as it is saved
    return {
        "today": today,
        "county": county,
        "council": council,
        "paperwork": paperwork,
        "outcomes": outcomes,
        "empty": empty,
    }


def _process(session, settings, partnership):  # type: ignore[no-untyped-def]
    views = view_obligations(
        session=session,
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
        partnership_id=partnership.id,
    )
    return status_rollup(views)


def test_perfect_process_with_outcomes_getting_worse_is_getting_worse_and_high(
    session, settings, register
):
    board = register["paperwork"]
    assert set(_process(session, settings, board).process) <= {"met", "not_yet_due"}
    judged = partnership_judgement(session=session, partnership_id=board.id, on=register["today"])
    assert judged.words == "Getting worse for people"
    (reason,) = judged.reasons
    assert (reason.outcome, reason.status) == (
        "Children protected are not harmed again",
        OutcomeStatus.worsening,
    )
    assert reason.method.startswith("Theil–Sen slope over 3 measurements")
    # Kept current at commit: the finding is open without a nightly check.
    findings = open_findings(session, partnership_id=board.id)
    assert [(f.rule, f.severity) for f in findings] == [("outcome_getting_worse", "high")]
    assert "Children protected are not harmed again" in findings[0].message
    assert "Re-referrals within 12 months" in findings[0].message
    assert "Theil–Sen slope over 3 measurements" in findings[0].message


def test_good_outcomes_with_a_late_statutory_return_improve_and_the_return_is_high_beneath(
    session, settings, register
):
    board = register["outcomes"]
    judged = partnership_judgement(session=session, partnership_id=board.id, on=register["today"])
    assert judged.words == "Improving things for people"
    assert _process(session, settings, board).worst_process == "overdue"
    high = {f.rule for f in open_findings(session, partnership_id=board.id, severity="high")}
    assert high == {"deliverable_overdue"}


def test_no_outcome_cannot_be_judged_and_stays_medium(session, settings, register):
    board = register["empty"]
    judged = partnership_judgement(session=session, partnership_id=board.id, on=register["today"])
    assert judged.words == "Cannot judge: no outcomes measured"
    findings = open_findings(session, partnership_id=board.id)
    assert [(f.rule, f.severity) for f in findings] == [("no_intended_outcome", "medium")]
    # Two measurements only: there are outcomes, but none can be judged yet.
    _outcome(session, board, (22.0, 21.0), register["today"], "Fewer children wait")
    session.commit()
    rules = {(f.rule, f.severity) for f in open_findings(session, partnership_id=board.id)}
    assert rules == {("outcomes_cannot_be_judged", "medium")}


def test_a_body_and_an_area_are_judged_across_their_partnerships(session, register):
    today = register["today"]
    body = body_judgement(session=session, body_id=register["council"].id, on=today)
    assert body.words == "Getting worse for people"
    assert body.counts == {"worsening": 1, "cannot_judge": 1, "no_change": 0, "improving": 1}
    assert [p.name for p in body.partnerships] == [
        "Paperwork Board",
        "Empty Board",
        "Outcomes Board",
    ]
    area = area_judgement(session=session, body_id=register["county"].id, on=today)
    assert (area.verdict, area.counts) == (body.verdict, body.counts)
    alone = make_body(session, name="A council in no partnership")
    nothing = body_judgement(session=session, body_id=alone.id, on=today)
    assert (nothing.words, nothing.partnerships) == ("Cannot judge: no outcomes measured", ())


def test_one_good_reading_is_no_improvement_and_findings_follow_each_commit(session, register):
    board = register["paperwork"]
    indicator = session.exec(
        select(Indicator)
        .join(Outcome, Outcome.id == Indicator.outcome_id)
        .where(Outcome.partnership_id == board.id)
    ).one()

    def judged() -> Verdict:
        on = register["today"]
        return partnership_judgement(session=session, partnership_id=board.id, on=on).verdict

    add_measurement(
        session=session,
        actor="test",
        data=MeasurementCreate(
            indicator_id=indicator.id,
            measured_date=register["today"] - dt.timedelta(days=10),
            value=19.0,
            source="a good month",
        ),
        today=register["today"],
    )
    session.commit()
    # The last two readings improve, but the trend of four does not: no change yet, and no
    # longer getting worse, so the high finding was resolved as the reading was saved.
    assert judged() == Verdict.no_change
    assert open_findings(session, partnership_id=board.id) == []
    rows = session.exec(
        select(Measurement)
        .where(Measurement.indicator_id == indicator.id)
        .order_by(Measurement.measured_date)
    )
    for row, value in zip(rows, (18.0, 20.0, 22.0, 24.0), strict=True):
        row.value = value  # the same dates, now getting worse steadily
        session.add(row)
    session.flush()  # as every service does before the transaction commits
    session.commit()
    assert judged() == Verdict.worsening
    assert [f.rule for f in open_findings(session, partnership_id=board.id)] == [
        "outcome_getting_worse"
    ]


# Shown first --------------------------------------------------------------------------------


def _positions(text: str, *markers: str) -> list[int]:
    found = [text.find(m) for m in markers]
    assert -1 not in found, [m for m, at in zip(markers, found, strict=True) if at == -1]
    return found


def test_the_partnership_page_leads_with_the_judgement_and_its_reasons(admin, register):
    page = admin.get(f"/partnerships/{register['paperwork'].slug}")
    assert page.status_code == 200
    card = next(e for e in parse(page.text).iter("div") if e.get("id") == "judgement")
    words = " ".join("".join(card.itertext()).split())
    assert "Getting worse for people" in words
    assert "Children protected are not harmed again, indicator “Re-referrals within 12" in words
    assert "Theil–Sen slope over 3 measurements" in words
    positions = _positions(page.text, 'id="judgement"', 'id="outcomes"', 'id="process"')
    assert positions == sorted(positions)
    # The chart labels baseline and target with their values; its caption has the method.
    assert ">baseline 22</text>" in page.text and ">target 18</text>" in page.text
    assert "Method: Theil–Sen slope over 3 measurements" in page.text

    other = admin.get(f"/partnerships/{register['outcomes'].slug}").text
    judgement, late = _positions(other, "Improving things for people", "Overdue (statutory date)")
    assert judgement < late  # the process problem is shown, beneath


def test_the_body_page_and_the_dashboard_lead_with_the_judgement_across_partnerships(
    app, session, admin, register
):
    page = admin.get(f"/bodies/{register['council'].code}").text
    parse(page)
    card, details, obligations = _positions(page, 'id="judgement"', ">Code<", 'id="obligations"')
    assert card < details < obligations
    assert "What changes for people, across its 3 partnerships" in page
    assert "1 getting worse for people" in page and "1 improving things for people" in page

    dashboard = admin.get("/").text
    parse(dashboard)
    assert _positions(dashboard, 'id="judgement"', "Due or overdue") == sorted(
        _positions(dashboard, 'id="judgement"', "Due or overdue")
    )
    assert "Paperwork Board</a></dt>" in dashboard and "across 3 partnerships" in dashboard
    officer = make_user(session, "officer", partnerships=[register["outcomes"].slug])
    session.commit()
    browser = TestClient(app)
    sign_in(browser, officer.email)
    mine = browser.get("/").text
    assert "across 1 partnership<" in mine and "Paperwork Board" not in mine


def test_the_api_gives_the_judgement_with_reasons_before_the_process(admin, register):
    slug = register["paperwork"].slug
    detail = admin.get(f"/api/v1/partnerships/{slug}").json()
    assert detail["judgement"]["verdict"] == "worsening"
    assert detail["judgement"]["words"] == "Getting worse for people"
    (reason,) = detail["judgement"]["reasons"]
    assert reason["outcome"] == "Children protected are not harmed again"
    assert reason["method"].startswith("Theil–Sen slope over 3 measurements")

    status = admin.get(f"/api/v1/partnerships/{slug}/status").json()
    assert list(status)[:3] == ["scope", "as_at", "judgement"]
    assert status["judgement"]["verdict"] == "worsening"
    body = admin.get(f"/api/v1/bodies/{register['council'].code}/status").json()
    assert body["judgement"]["counts"]["improving"] == 1
    assert [p["slug"] for p in body["judgement"]["partnerships"]][0] == slug
    area = admin.get(f"/api/v1/areas/{register['county'].code}/status").json()
    assert area["judgement"]["verdict"] == "worsening"
    duty = admin.get("/api/v1/duties/children-act-2004-s16e/status").json()
    assert sum(duty["judgement"]["counts"].values()) == 3


def test_the_partnership_pdf_opens_with_the_judgement_then_outcomes_then_process(
    app_with_reports, session, register
):
    admin = make_user(session, "admin")
    session.commit()
    client = TestClient(app_with_reports)
    sign_in(client, admin.email)
    response = client.get(f"/api/v1/partnerships/{register['paperwork'].slug}/report.pdf")
    assert response.status_code == 200
    text = " ".join(pdf_text(response.content)[1].split())
    body = text[text.index("Appendix C: facts not verified") :]  # past the contents
    positions = _positions(
        body,
        "Judgement: what changes for people",
        "Getting worse for people",
        "Children protected are not harmed again",
        "Intended outcomes and indicators",
        "How the partners work (process)",
        "Obligations",
    )
    assert positions == sorted(positions)
    assert "Theil–Sen slope over 3 measurements" in body


def test_the_obligations_export_gives_the_judgement_before_the_source(admin, register):
    slug = register["paperwork"].slug
    response = admin.get(
        "/api/v1/exports/obligations", params={"format": "csv", "partnership": slug}
    )
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header.index("judgement") < header.index("source") < header.index("process_status")
    assert rows and {row[header.index("judgement")] for row in rows} == {"Getting worse for people"}
    reasons = rows[0][header.index("judgement_reasons")]
    assert reasons.startswith(
        "Paperwork Board, Children protected are not harmed again, indicator Re-referrals within "
        "12 months: Getting worse for people (Theil–Sen slope over 3 measurements"
    )
