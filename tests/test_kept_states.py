"""Kept obligation states (compliance.obligations.judged): what the dashboard counts and the
obligations list pages through must be exactly what a fresh judgement finds, after every kind
of change, on a new day, and when a commit lands while states are being judged."""

import datetime as dt

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from compliance.checks.jobs import judge_open_obligations
from compliance.models import (
    Body,
    Evidence,
    Indicator,
    Measurement,
    Obligation,
    Outcome,
    OutcomeServes,
    PartnershipMember,
    Period,
)
from compliance.obligations import judged
from compliance.obligations.tables import ObligationState
from compliance.obligations.views import view_obligations_for
from tests import test_judgement
from tests.factories import make_evidence


@pytest.fixture
def demo(demo_area, session, settings):
    session.commit()


def fresh(session, on, due_soon_days):  # type: ignore[no-untyped-def]
    """Every open obligation's (status, outcome, next due) as judged now, by id."""
    rows = list(session.exec(select(Obligation).where(Obligation.closed_date.is_(None))))
    views = view_obligations_for(
        session=session, obligations=rows, on=on, due_soon_days=due_soon_days
    )
    return {v.obligation.id: (v.status.value, v.outcome.value, v.next_due) for v in views}


def kept(session, on, due_soon_days):  # type: ignore[no-untyped-def]
    """What is kept for the date and window, by obligation id."""
    rows = session.exec(select(ObligationState).where(judged.current(on, due_soon_days)))
    return {s.obligation_id: (s.status, s.outcome, s.next_due) for s in rows}


def next_period_of_a_body(session, today):  # type: ignore[no-untyped-def]
    """The period of a body's obligation that falls due soonest from today."""
    return session.exec(
        select(Period)
        .join(Obligation)
        .where(Obligation.body_id.is_not(None), Period.due_date >= today)
        .order_by(Period.due_date)
    ).first()


def judged_again(session, settings, on=None) -> int:  # type: ignore[no-untyped-def]
    """Keep every open obligation's state current; how many had to be judged."""
    return judge_open_obligations(session, settings=settings, on=on or settings.today())


def assert_kept_as_judged(session, settings, on=None) -> None:  # type: ignore[no-untyped-def]
    on = on or settings.today()
    judged_again(session, settings, on)
    assert kept(session, on, settings.due_soon_days) == fresh(session, on, settings.due_soon_days)


def test_kept_states_follow_every_kind_of_change_and_only_the_holders_it_touched(
    session, settings, demo
):
    today = settings.today()
    total = judged_again(session, settings)
    assert total == len(fresh(session, today, settings.due_soon_days)) > 100
    assert judged_again(session, settings) == 0  # nothing changed: nothing judged again

    # Evidence recorded for an obligation's current period: it is met.
    occurrence = next_period_of_a_body(session, today)
    evidence = make_evidence(session, occurrences=[occurrence], effective_date=today)
    session.commit()
    rejudged = judged_again(session, settings)
    assert 0 < rejudged < total  # the holders the change touched, not the registry
    assert_kept_as_judged(session, settings)

    # The same evidence withdrawn, by setting an attribute and committing (no explicit flush).
    evidence = session.get(Evidence, evidence.id)
    evidence.withdrawn_at = dt.datetime.combine(today, dt.time(9), dt.UTC)
    session.commit()
    assert_kept_as_judged(session, settings)

    # A measurement for a partnership's indicator: its members' outcome statuses.
    indicator = session.exec(
        select(Indicator).join(Outcome).where(Outcome.partnership_id.is_not(None))
    ).first()
    for days in (400, 200, 10):
        session.add(
            Measurement(
                indicator_id=indicator.id,
                measured_date=today - dt.timedelta(days=days),
                value=100.0 - days / 10,
                source="test",
            )
        )
    session.commit()
    assert_kept_as_judged(session, settings)

    # An outcome no longer serving what it served (OutcomeServes is noted since this change).
    link = session.exec(select(OutcomeServes)).first()
    session.delete(link)
    session.commit()
    assert_kept_as_judged(session, settings)

    # A body leaving a partnership: the outcomes it was served by.
    membership = session.exec(
        select(PartnershipMember).where(PartnershipMember.end_date.is_(None))
    ).first()
    membership.end_date = today - dt.timedelta(days=1)
    session.commit()
    assert_kept_as_judged(session, settings)

    # A body renamed (the list's order), and an obligation found not to apply.
    body = session.get(Body, session.get(Obligation, occurrence.obligation_id).body_id)
    body.name = "Aardvark " + body.name
    obligation = session.exec(
        select(Obligation).where(Obligation.body_id == body.id, Obligation.closed_date.is_(None))
    ).first()
    obligation.not_applicable_reason = "No such service in the area"
    session.commit()
    assert_kept_as_judged(session, settings)
    state = session.get(ObligationState, obligation.id)
    assert (state.status, state.holder_name) == ("not_applicable", body.name)


def test_states_kept_for_one_day_or_window_are_judged_again_for_another(session, settings, demo):
    today = settings.today()
    judged_again(session, settings)
    later = today + dt.timedelta(days=45)
    total = len(fresh(session, later, settings.due_soon_days))
    assert judged_again(session, settings, later) == total
    assert_kept_as_judged(session, settings, later)
    wider = judged.keep_current(
        session,
        select(Obligation.id).where(Obligation.closed_date.is_(None)),
        on=later,
        due_soon_days=settings.due_soon_days + 30,
    )
    assert wider == total


def test_a_state_judged_before_a_commit_that_changed_it_is_not_kept(
    session, settings, demo, monkeypatch
):
    """A commit lands between reading the data and keeping what was judged from it: the epoch
    has moved, so nothing judged is kept, and the next attempt judges the change."""
    today = settings.today()
    occurrence = next_period_of_a_body(session, today)
    target = occurrence.obligation_id
    judge = judged.view_obligations_for
    landed = []

    def judge_then_commit(**kwargs):  # type: ignore[no-untyped-def]
        views = judge(**kwargs)
        if not landed and any(o.id == target for o in kwargs["obligations"]):
            make_evidence(session, occurrences=[occurrence], effective_date=today)
            session.commit()  # another request's commit, landing mid-judgement
            landed.append(True)
        return views

    monkeypatch.setattr(judged, "view_obligations_for", judge_then_commit)
    judged_again(session, settings)
    assert landed
    assert kept(session, today, settings.due_soon_days)[target][0] == "met"
    assert kept(session, today, settings.due_soon_days) == fresh(
        session, today, settings.due_soon_days
    )


def test_keeping_states_refuses_a_session_with_unsaved_changes(session, settings, demo):
    session.add(Body(code="X1", name="Unsaved", kind="district_council", nation="england"))
    with pytest.raises(RuntimeError, match="written nothing"):
        judged_again(session, settings)


def test_the_api_filters_by_status_list_exactly_what_a_fresh_judgement_finds(
    session, settings, demo, app
):
    """Today the listing is narrowed by kept states first; at another date it is not; both
    list exactly the open obligations a fresh judgement puts in the state asked for."""
    from fastapi.testclient import TestClient

    from compliance.accounts.tokens import create_token
    from tests.conftest import make_user
    from tests.test_api_registry import walk

    token, _ = create_token(session=session, user=make_user(session, "admin"), name="t", actor="t")
    session.commit()
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    today = settings.today()
    for on in (today, today + dt.timedelta(days=45)):
        judged_now = fresh(session, on, settings.due_soon_days)
        soon = on + dt.timedelta(days=90)
        for params, wanted in [
            ({"status": "overdue"}, lambda s: s[0] == "overdue"),
            ({"status": "met"}, lambda s: s[0] == "met"),
            ({"outcome_status": "not_measured"}, lambda s: s[1] == "not_measured"),
            ({"due_before": soon.isoformat()}, lambda s, by=soon: s[2] is not None and s[2] <= by),
        ]:
            asked = params | {"limit": 20} | ({} if on == today else {"as_at": on.isoformat()})
            listed = {item["id"] for item in walk(client, asked)}
            expected = {i for i, state in judged_now.items() if wanted(state)}
            assert listed == expected, params
            assert expected or "status" in params


register = test_judgement.register


def test_the_dashboards_remembered_judgement_follows_what_people_say_and_measurements(
    session, register
):
    """The judgement across partnerships is remembered until the epoch token changes: an
    evaluation round's answers and a new measurement each change it at once."""
    from compliance.access import Principal
    from compliance.outcomes.judgement import judgement_across, live_partnerships, scope_judgement
    from tests import test_judgement_voices
    from tests.conftest import make_user

    world = register
    today = world["today"]
    admin = Principal(make_user(session, "admin"), frozenset(), frozenset(), frozenset())
    session.commit()

    def fresh_across():  # type: ignore[no-untyped-def]
        ids = live_partnerships(session=session, on=today)
        return judgement_across(session=session, partnership_ids=ids, on=today)

    def verdict_of(judgement, partnership):  # type: ignore[no-untyped-def]
        return next(p.verdict for p in judgement.partnerships if p.slug == partnership.slug)

    empty = world["empty"]
    assert scope_judgement(session=session, principal=admin, on=today) == fresh_across()
    assert verdict_of(fresh_across(), empty) == "cannot_judge"
    test_judgement_voices._round(session, empty, today, [4, 5, 4, 4, 5])
    session.commit()
    remembered = scope_judgement(session=session, principal=admin, on=today)
    assert verdict_of(remembered, empty) == "improving"
    assert remembered == fresh_across()

    indicator = session.exec(
        select(Indicator).join(Outcome).where(Outcome.partnership_id == world["outcomes"].id)
    ).first()
    for days in (59, 29, 4):
        session.add(
            Measurement(
                indicator_id=indicator.id,
                measured_date=today - dt.timedelta(days=days),
                value=10_000.0 if indicator.direction == "decrease" else -10_000.0,
                source="test",
            )
        )
    session.commit()
    remembered = scope_judgement(session=session, principal=admin, on=today)
    assert remembered == fresh_across()
    assert verdict_of(remembered, world["outcomes"]) == "worsening"


def test_keeping_many_states_at_once_has_postgresql_measure_the_table_again(
    session, settings, demo, backend, monkeypatch
):
    """After a bulk judgement the planner must not plan on the table as it was when nearly
    empty (autovacuum may be off, or not yet come round): PostgreSQL is asked to ANALYZE it."""
    total = len(fresh(session, settings.today(), settings.due_soon_days))
    monkeypatch.setattr(judged, "ANALYZE_AFTER", total)
    issued: list[str] = []
    connection = session.connection()

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        issued.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        assert judged_again(session, settings) == total
        assert judged_again(session, settings) == 0  # nothing judged: nothing measured again
    finally:
        event.remove(connection, "before_cursor_execute", record)
    analyzed = [s for s in issued if s.startswith("ANALYZE")]
    if backend == "postgresql":
        assert analyzed == ["ANALYZE obligation_state"]
        estimate = session.exec(
            text("SELECT reltuples FROM pg_class WHERE relname = 'obligation_state'")
        ).one()[0]
        assert estimate == total
    else:
        assert analyzed == []
