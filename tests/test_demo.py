"""The demo area: its story moves to the financial year it is loaded in, its bodies have named
contacts, and the first reminder run after loading it writes a handful of emails, not one
about every old gap."""

import datetime as dt
from collections import Counter

import pytest
import time_machine
import yaml
from sqlmodel import select

from compliance.demo.service import DEMO_FILE, demo_story, financial_year, load_demo, move
from compliance.models import (
    Body,
    Evidence,
    EvidenceLink,
    Measurement,
    Obligation,
    Partnership,
    Period,
)
from compliance.obligations.status import due_bases
from compliance.obligations.views import view_obligations
from compliance.reminders.models import OutboxMessage, ReminderSetting
from compliance.reminders.service import CHASE_NEW_GAPS_DAYS, queue_due
from tests import test_reminders
from tests.test_reminders import DAY, later_period, messages

council = test_reminders.council  # a body with a contact address, its obligations synchronised
WRITTEN = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))


def load_on(session, settings, day: dt.date) -> None:
    """Load the demo as if today were `day`."""
    with time_machine.travel(dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC), tick=False):
        assert settings.today() == day
        load_demo(session=session, settings=settings)
    session.flush()


def holder_names(session) -> tuple[dict, dict]:
    bodies = {b.id: b.code for b in session.exec(select(Body))}
    return bodies, {p.id: p.slug for p in session.exec(select(Partnership))}


def statuses(session, settings, on: dt.date) -> dict[tuple, tuple]:
    """Each duty obligation's process and outcome status on a date, with each period's status,
    by holder and deliverable (bids keep their written dates, so they are left out)."""
    bodies, partnerships = holder_names(session)
    views = view_obligations(session=session, on=on, due_soon_days=settings.due_soon_days)
    return {
        (
            bodies.get(v.obligation.body_id) or partnerships[v.obligation.partnership_id],
            v.item_slug,
        ): (v.status, v.outcome, tuple(p.status for p in v.periods))
        for v in views
        if v.obligation.bid_id is None
    }


def story_facts(session, settings, day: dt.date) -> dict:
    """What the demo loaded on `day` looks like relative to that day; the load is rolled back."""
    nested = session.begin_nested()
    load_on(session, settings, day)
    duty_evidence = session.exec(
        select(Evidence.effective_date)
        .join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .join(Period, Period.id == EvidenceLink.occurrence_id)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.bid_id.is_(None))
    ).all()
    cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
    facts = {
        "statuses": statuses(session, settings, day),
        "tracked_from": min(
            o.opened_date for o in session.exec(select(Obligation)) if o.body_id == cornwall.id
        ),
        "evidence": [e.effective_date for e in session.exec(select(Evidence))],
        "duty_evidence": duty_evidence,
        "measured": [m.measured_date for m in session.exec(select(Measurement))],
        "titles": {e.title for e in session.exec(select(Evidence))},
    }
    nested.rollback()
    return facts


def test_a_year_later_the_demo_tells_the_same_story_relative_to_its_day(session, settings):
    today = settings.today()
    now, later = (story_facts(session, settings, day) for day in (today, move(today, 1)))
    assert now["statuses"] == later["statuses"]
    counts = Counter(status for status, *_ in now["statuses"].values())
    assert counts["overdue"] > 0 and counts["met"] > 0 and counts["assurance_gap"] > 0
    for facts, day in ((now, today), (later, move(today, 1))):
        years = financial_year(day) - financial_year(WRITTEN["written_for"])
        assert facts["tracked_from"] == move(WRITTEN["track_from"], years)
        # About two years of history, and nothing recorded or measured after the day.
        assert 2 * 365 <= (day - facts["tracked_from"]).days <= 3 * 366
        assert max(facts["evidence"] + facts["measured"]) <= day
        assert min(facts["duty_evidence"]) >= facts["tracked_from"]
        assert len(facts["evidence"]) == len(WRITTEN["evidence"])
    moved = financial_year(move(today, 1)) - financial_year(WRITTEN["written_for"])
    assert f"Safeguarding Adults Board annual report {2024 + moved}-{25 + moved}" in later["titles"]


def test_loaded_on_the_day_it_was_written_for_the_demo_is_as_written(session, settings):
    nested = session.begin_nested()
    load_on(session, settings, WRITTEN["written_for"])
    written = {(e["title"], e["effective_date"]) for e in WRITTEN["evidence"]}
    loaded = {(e.title, e.effective_date) for e in session.exec(select(Evidence))}
    assert loaded == written
    nested.rollback()


@pytest.mark.parametrize(
    ("on", "years"),
    [
        ("2026-12-01", 0),
        ("2027-03-31", 0),
        ("2027-04-01", 1),
        ("2029-01-15", 2),
        ("2026-03-31", -1),
    ],
)
def test_the_story_moves_by_the_whole_financial_years_between(on, years):
    assert demo_story(today=dt.date.fromisoformat(on)).years == years


def test_years_in_texts_move_with_the_story_and_acts_keep_theirs():
    story = demo_story(today=dt.date(2027, 12, 1))
    assert story.text("Annual report 2024-25 (Children Act 2004 s16G(7))") == (
        "Annual report 2025-26 (Children Act 2004 s16G(7))"
    )
    assert story.text("Strategic plan 2024-27; SI 2007/1830 reg 5; Care Act 2014") == (
        "Strategic plan 2025-28; SI 2007/1830 reg 5; Care Act 2014"
    )
    assert story.text("minutes-2025-10-02.txt, 2 October 2025, 2099-00") == (
        "minutes-2026-10-02.txt, 2 October 2026, 2099-00"
    )
    assert demo_story(today=dt.date(2030, 1, 1)).text("2099-00 Plan 2025-26") == (
        "2099-00 Plan 2028-29"
    )


def test_every_demo_body_has_a_named_contact_and_senior_responsible_officer(session, settings):
    load_demo(session=session, settings=settings)
    session.flush()
    for item in WRITTEN["bodies"]:
        body = session.exec(select(Body).where(Body.code == item["code"])).one()
        setting = session.get(ReminderSetting, body.id)
        assert body.email and body.email.endswith("@demo.example.org"), body.code
        assert setting.sro_name and setting.sro_email.endswith("@demo.example.org"), body.code
    # Loading again changes nothing and records no second change of the officer.
    before = len(session.exec(select(ReminderSetting)).all())
    load_demo(session=session, settings=settings)
    assert len(session.exec(select(ReminderSetting)).all()) == before == len(WRITTEN["bodies"])


def first_run(session, settings, day: dt.date) -> tuple[list[OutboxMessage], int]:
    """The emails of the first reminder run after loading the demo on `day`, and how many
    statutory periods were by then long overdue; rolled back."""
    nested = session.begin_nested()
    load_on(session, settings, day)
    queue_due(session=session, settings=settings, on=day)
    sent = list(session.exec(select(OutboxMessage)))
    views = view_obligations(session=session, on=day, due_soon_days=settings.due_soon_days)
    overdue = [
        p.occurrence
        for v in views
        for p in v.periods
        if v.basis.statutory
        and not p.evidence_ids
        and v.obligation.opened_date <= p.occurrence.due_date
        and (day - p.occurrence.due_date).days > CHASE_NEW_GAPS_DAYS
    ]
    due_dates = {m.id: session.get(Period, m.occurrence_id).due_date for m in sent}
    nested.rollback()
    for message in sent:
        if message.kind in ("overdue", "escalation"):
            assert 0 < (day - due_dates[message.id]).days <= CHASE_NEW_GAPS_DAYS, message.subject
        else:
            assert 0 <= (due_dates[message.id] - day).days <= 30, message.subject
    return sent, len(overdue)


def test_the_first_reminder_run_after_loading_writes_a_handful_not_the_backlog(session, settings):
    # The day the suite runs, and the first days of the next financial year, when the year's
    # reports have just fallen due. (In the four weeks before 31 March every body is reminded
    # of each standing duty's yearly review: the year end, which a running install sends too,
    # not a backlog.) Measured: no email on 1 December, three on 5 April.
    today = settings.today()
    for day in (today, dt.date(financial_year(today) + 1, 4, 5)):
        sent, long_overdue = first_run(session, settings, day)
        # The story has statutory gaps months old; none of them is written about.
        assert long_overdue >= 3, day
        assert len(sent) <= 6, (day, [m.subject for m in sent])
        assert max(Counter(m.to_address for m in sent).values(), default=0) <= 3, day


def test_a_statutory_period_falling_overdue_after_loading_is_chased_every_week(session, settings):
    load_demo(session=session, settings=settings)
    session.flush()
    today = settings.today()
    slug = "our-safeguarding-children-partnership"
    board = session.exec(select(Partnership).where(Partnership.slug == slug)).one()
    periods = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.partnership_id == board.id)
        .order_by(Period.due_date)
    ).all()
    obligations = {p.obligation_id: session.get(Obligation, p.obligation_id) for p in periods}
    statutory = due_bases(session=session, obligations=obligations.values())
    upcoming = next(
        p for p in periods if p.due_date > today and statutory[p.obligation_id].statutory
    )
    evidenced = set(session.exec(select(EvidenceLink.occurrence_id)).all())
    old = next(  # last year's report, never recorded
        p
        for p in periods
        if statutory[p.obligation_id].statutory
        and p.id not in evidenced
        and (today - p.due_date).days > CHASE_NEW_GAPS_DAYS
        and p.due_date >= obligations[p.obligation_id].opened_date
    )
    queue_due(session=session, settings=settings, on=today)
    assert messages(session, old) == []  # an old gap is history: findings and the digest show it
    due = upcoming.due_date
    for day in (due + DAY, due + 7 * DAY, due + 35 * DAY, due + 42 * DAY):
        queue_due(session=session, settings=settings, on=day)
    sent = messages(session, upcoming)
    assert [m.kind for m in sent] == ["overdue", "escalation", "escalation", "escalation"]
    assert sent[0].to_address == "governance.cornwall@demo.example.org"  # the lead body's contact
    assert {m.to_address for m in sent[1:]} == {"morwenna.tregear@demo.example.org"}
    assert messages(session, old) == []


def test_an_old_gap_nobody_was_told_of_is_not_chased_but_a_reminded_one_is(
    session, settings, council
):
    period = later_period(session, council)  # its date set by law
    due = period.due_date
    queue_due(session=session, settings=settings, on=due + (CHASE_NEW_GAPS_DAYS + 1) * DAY)
    assert messages(session, period) == []
    queue_due(session=session, settings=settings, on=due + CHASE_NEW_GAPS_DAYS * DAY)
    assert [m.kind for m in messages(session, period)] == ["escalation"]  # fell overdue lately
    queue_due(session=session, settings=settings, on=due + 90 * DAY)
    assert [m.kind for m in messages(session, period)] == ["escalation", "escalation"]


def test_a_period_reminded_before_it_fell_due_is_chased_however_late_the_next_run(
    session, settings, council
):
    period = later_period(session, council)
    queue_due(session=session, settings=settings, on=period.due_date - 7 * DAY)
    queue_due(session=session, settings=settings, on=period.due_date + 60 * DAY)
    assert [m.kind for m in messages(session, period)] == ["reminder", "escalation"]


def test_the_demo_board_weighs_its_cost_and_no_continuation_finding_is_due(session, settings):
    from compliance.checks.service import check_now
    from compliance.models import Finding, Partnership
    from compliance.outcomes.judgement import partnership_judgement
    from compliance.partnerships.value import weigh_on_page

    load_demo(session=session, settings=settings)
    today = settings.today()
    board = session.exec(
        select(Partnership).where(Partnership.slug == "cios-safeguarding-adults-board")
    ).one()
    story = demo_story(today=today)
    assert board.pounds_a_year == 182000
    assert board.continuation_decided_date == story.date("2024-03-20") <= today
    judgement = partnership_judgement(session=session, partnership_id=board.id, on=today)
    weighed = weigh_on_page(board, [], judgement, today)
    assert "140 staff days" in str(weighed) and "£182,000" in str(weighed)
    check_now(session=session, settings=settings, on=today, trigger="test")
    flagged = session.exec(
        select(Finding).where(
            Finding.partnership_id == board.id,
            Finding.rule == "continuation_not_reviewed",
            Finding.resolved_at.is_(None),
        )
    ).all()
    assert flagged == []


def test_the_demo_board_has_an_evaluation_round_whose_peoples_answers_show(session, settings):
    from compliance.evaluations.results import latest_results
    from compliance.models import Partnership

    load_demo(session=session, settings=settings)
    load_demo(session=session, settings=settings)  # loaded again: nothing added twice
    board = session.exec(
        select(Partnership).where(Partnership.slug == "cios-safeguarding-adults-board")
    ).one()
    results = latest_results(session=session, partnership_id=board.id, on=settings.today())
    assert len(results.trend) == 1
    people, partners = results.latest.people, results.latest.partners
    assert people.shown and people.answers == 6 and people.by_channel == {"session": 6}
    assert not partners.shown and partners.answers == 0


YOUTH_JUSTICE = "cornwall-youth-justice-management-board"


def demo_partnership(session, slug: str) -> Partnership:
    return session.exec(select(Partnership).where(Partnership.slug == slug)).one()


def open_findings(session, partnership: Partnership) -> list:
    """The unresolved findings about a partnership or any of its obligations."""
    from compliance.models import Finding

    obligation_ids = session.exec(
        select(Obligation.id).where(Obligation.partnership_id == partnership.id)
    ).all()
    return session.exec(
        select(Finding).where(
            Finding.resolved_at.is_(None),
            (Finding.partnership_id == partnership.id) | Finding.obligation_id.in_(obligation_ids),
        )
    ).all()


def test_the_youth_justice_board_meets_every_date_yet_is_getting_worse_for_people(
    session, settings
):
    from compliance.checks.service import check_now
    from compliance.obligations.status import OutcomeStatus, ProcessStatus
    from compliance.obligations.views import status_rollup
    from compliance.outcomes.judgement import Verdict, partnership_judgement

    load_demo(session=session, settings=settings)
    today = settings.today()
    board = demo_partnership(session, YOUTH_JUSTICE)
    views = view_obligations(
        session=session, on=today, due_soon_days=settings.due_soon_days, partnership_id=board.id
    )
    # Every period that has fallen due is met with current evidence; none is left unjudged.
    due = [p for v in views for p in v.periods if p.occurrence.due_date < today]
    assert len(views) == 2 and len(due) >= 4
    assert {p.status for p in due} == {ProcessStatus.met}
    assert status_rollup(views).worst_process == ProcessStatus.met
    judgement = partnership_judgement(session=session, partnership_id=board.id, on=today)
    assert judgement.verdict == Verdict.worsening
    worse = [r for r in judgement.reasons if r.status == OutcomeStatus.worsening]
    assert [r.outcome for r in worse] == ["Fewer children are drawn into the youth justice system"]
    assert "lower is better" in worse[0].method
    check_now(session=session, settings=settings, on=today, trigger="test")
    # Nothing about its process: no date missed, no evidence lapsed, no member missing.
    findings = open_findings(session, board)
    assert [(f.rule, f.severity) for f in findings] == [("outcome_getting_worse", "high")]
    assert "Fewer children are drawn into the youth justice system" in findings[0].message
    sab = demo_partnership(session, "cios-safeguarding-adults-board")
    assert partnership_judgement(session=session, partnership_id=sab.id, on=today).verdict == (
        Verdict.improving
    )


def row_counts(session) -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import SQLModel

    return {
        table.name: session.exec(select(func.count()).select_from(table)).one()
        for table in SQLModel.metadata.sorted_tables
    }


def test_loading_the_demo_again_adds_nothing(session, settings):
    load_demo(session=session, settings=settings)
    session.flush()
    before = row_counts(session)
    assert before["measurement"] > 0 and before["evidence"] == len(WRITTEN["evidence"])
    load_demo(session=session, settings=settings)
    session.flush()
    assert row_counts(session) == before
