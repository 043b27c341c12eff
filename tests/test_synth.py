"""Synthetic registries: England's mix, complete partnerships, evidence where it is expected,
and a check and a body view whose statement counts do not grow with the registry."""

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func
from sqlmodel import Session, select

from compliance.checks.service import run_checks
from compliance.errors import Refused
from compliance.models import (
    Body,
    Duty,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    Indicator,
    Measurement,
    Obligation,
    Outcome,
    Partnership,
    PartnershipDuty,
    PartnershipMember,
    Period,
    Risk,
)
from compliance.obligations.views import view_obligations
from compliance.synth.service import BOARDS, CODE_PREFIX, KINDS, UPPER_TIER, kind_counts, synthesise

ON = dt.date(2026, 6, 1)
BODIES = 30
PER_OBLIGATION = 2


@pytest.fixture
def summary(session: Session, tmp_path) -> str:
    return synthesise(
        session=session,
        data_dir=tmp_path,
        bodies=BODIES,
        evidence_per_obligation=PER_OBLIGATION,
        on=ON,
    )


def synthetic_bodies(session: Session) -> list[Body]:
    return list(session.exec(select(Body).where(Body.code.startswith(CODE_PREFIX))))


def test_kind_counts_follow_englands_mix() -> None:
    assert kind_counts(bodies=1000) == {kind: per for kind, (per, _) in KINDS.items()}
    assert kind_counts(bodies=10_000) == {kind: per * 10 for kind, (per, _) in KINDS.items()}
    for size in (15, 30, 137, 2500):
        counts = kind_counts(bodies=size)
        assert sum(counts.values()) == size
        assert min(counts.values()) >= 1
    for kind, count in kind_counts(bodies=BODIES).items():
        assert abs(count - KINDS[kind][0] * BODIES / 1000) < 1, kind
    with pytest.raises(Refused):
        kind_counts(bodies=len(KINDS) - 1)


def test_bodies_have_englands_mix_and_districts_sit_under_counties(session, summary) -> None:
    bodies = synthetic_bodies(session)
    assert Counter(b.kind for b in bodies) == kind_counts(bodies=BODIES)
    assert len({b.code for b in bodies}) == BODIES
    kinds = {b.id: b.kind for b in bodies}
    districts = [b for b in bodies if b.kind == "district_council"]
    assert districts and all(kinds[d.parent_id] == "county_council" for d in districts)
    assert summary.startswith(f"Synthetic registry (seed 1, as at {ON}): {BODIES} bodies")


def test_every_upper_tier_council_has_its_four_boards(session, summary) -> None:
    councils = [b for b in synthetic_bodies(session) if b.kind in UPPER_TIER]
    partnerships = session.exec(
        select(Partnership).where(Partnership.slug.startswith("syn-"))
    ).all()
    assert Counter(p.lead_body_id for p in partnerships) == {c.id: len(BOARDS) for c in councils}
    duty_slugs = dict(session.exec(select(Duty.id, Duty.slug)).all())
    discharged = {
        link.partnership_id: duty_slugs[link.duty_id]
        for link in session.exec(select(PartnershipDuty))
    }
    members: dict[int, set[int]] = {}
    for m in session.exec(select(PartnershipMember)):
        members.setdefault(m.partnership_id, set()).add(m.body_id)
    for p in partnerships:
        board = next(b for b in BOARDS if p.slug.endswith(f"-{b.tag}"))
        assert discharged[p.id] == board.duty
        assert p.lead_body_id in members[p.id] and len(members[p.id]) >= 2


def test_partnerships_have_outcomes_measured_three_times_and_risks(session, summary) -> None:
    ids = set(session.exec(select(Partnership.id).where(Partnership.slug.startswith("syn-"))))
    outcomes = session.exec(select(Outcome).where(Outcome.partnership_id.in_(ids))).all()
    per_partnership = Counter(o.partnership_id for o in outcomes)
    assert set(per_partnership) == ids and set(per_partnership.values()) <= {1, 2}
    indicators = session.exec(
        select(Indicator).where(Indicator.outcome_id.in_([o.id for o in outcomes]))
    ).all()
    per_outcome = Counter(i.outcome_id for i in indicators)
    assert len(per_outcome) == len(outcomes) and set(per_outcome.values()) <= {1, 2}
    measured = Counter(
        session.exec(
            select(Measurement.indicator_id).where(
                Measurement.indicator_id.in_([i.id for i in indicators])
            )
        ).all()
    )
    assert set(measured.values()) == {3} and len(measured) == len(indicators)
    risks = Counter(session.exec(select(Risk.partnership_id).where(Risk.partnership_id.in_(ids))))
    assert set(risks) == ids and set(risks.values()) <= {1, 2}


def test_each_obligation_has_its_evidence_on_the_periods_that_have_begun(session, summary):
    holders = {("body", b.id) for b in synthetic_bodies(session)} | {
        ("partnership", p)
        for p in session.exec(select(Partnership.id).where(Partnership.slug.startswith("syn-")))
    }
    rows = session.exec(
        select(Period, Obligation)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.closed_date.is_(None))
        .order_by(Period.obligation_id, Period.period_start_date)
    ).all()
    periods: dict[int, list[Period]] = {}
    for occurrence, o in rows:
        holder = ("body", o.body_id) if o.body_id else ("partnership", o.partnership_id)
        if holder in holders:
            periods.setdefault(o.id, []).append(occurrence)
    links = Counter(session.exec(select(EvidenceLink.occurrence_id)).all())
    assert periods
    for found in periods.values():
        begun = [p for p in found if p.period_start_date <= ON] or found[:1]
        expected = Counter(begun[i % len(begun)].id for i in range(PER_OBLIGATION))
        assert {p.id: links[p.id] for p in found} == {p.id: expected[p.id] for p in found}
    assert f"{len(periods)} obligations" in summary


def test_evidence_is_dated_in_the_past_and_some_is_queried_or_stale(session, summary):
    evidence = session.exec(select(Evidence)).all()
    cutoff = dt.datetime.combine(ON, dt.time.max)
    assert all(e.recorded_at.replace(tzinfo=None) <= cutoff for e in evidence)
    assert sum(e.kind == "link" for e in evidence) > 0.8 * len(evidence)
    assert all(e.url.startswith("https://example.org/") for e in evidence if e.kind == "link")
    stale = [e for e in evidence if e.review_by_date and e.review_by_date < ON]
    assert 0 < len(stale) < 0.1 * len(evidence)
    kinds = Counter(session.exec(select(EvidenceComment.kind)).all())
    assert kinds["queried"] > 0


def test_a_second_load_is_refused_and_changes_nothing(session, summary, tmp_path) -> None:
    before = session.exec(select(func.count()).select_from(Body)).one()
    with pytest.raises(Refused, match="already holds a synthetic registry"):
        synthesise(session=session, data_dir=tmp_path, bodies=20, evidence_per_obligation=1, on=ON)
    assert session.exec(select(func.count()).select_from(Body)).one() == before


@contextmanager
def rolled_back(engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """Like the session fixture, for a test that needs two registries one after the other."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


def test_the_same_seed_gives_the_same_registry(engine, tmp_path) -> None:
    loads = []
    for _ in range(2):
        with rolled_back(engine) as session:
            summary = synthesise(
                session=session, data_dir=tmp_path, bodies=15, evidence_per_obligation=1, on=ON
            )
            names = session.exec(select(Body.code, Body.name).order_by(Body.code)).all()
            evidence = (Evidence.title, Evidence.url, Evidence.kind, Evidence.review_by_date)
            # Ordered by every column compared, so that ties are identical rows.
            titles = session.exec(select(*evidence).order_by(*evidence)).all()
            loads.append((summary, names, titles))
    assert loads[0] == loads[1]


@contextmanager
def counting(session: Session) -> Iterator[list]:
    """The statements sent while the block runs, an executemany (in however many batches)
    counting as one."""
    contexts: list = []

    def seen(_conn, _cursor, _statement, _parameters, context, _executemany):  # type: ignore[no-untyped-def]
        # SQLAlchemy sends a large executemany in batches, all under one execution context.
        if not contexts or contexts[-1] is not context:
            contexts.append(context)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", seen)
    try:
        yield contexts
    finally:
        event.remove(connection, "before_cursor_execute", seen)


def statements(engine, data_dir, bodies: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Statements for a whole check and for one council's obligations, at a registry size."""
    with rolled_back(engine) as session:
        synthesise(
            session=session, data_dir=data_dir, bodies=bodies, evidence_per_obligation=2, on=ON
        )
        council = session.exec(
            select(Obligation.body_id)
            .join(Body, Body.id == Obligation.body_id)
            .where(Body.kind.in_(UPPER_TIER), Body.code.startswith(CODE_PREFIX))
            .group_by(Obligation.body_id)
            .order_by(func.count().desc(), Obligation.body_id)
        ).first()
        session.flush()
        with counting(session) as check:
            run_checks(
                session=session, on=ON, trigger="test", due_soon_days=30, query_answer_days=14
            )
        with counting(session) as view:
            assert view_obligations(session=session, on=ON, due_soon_days=30, body_id=council)
        return len(check), len(view)


def test_a_bodys_obligations_cost_the_same_statements_at_any_size(engine, tmp_path) -> None:
    (_, small), (_, large) = statements(engine, tmp_path, 20), statements(engine, tmp_path, 60)
    assert small == large < 20


def test_a_check_costs_the_same_statements_at_any_size(engine, tmp_path) -> None:
    (small, _), (large, _) = statements(engine, tmp_path, 20), statements(engine, tmp_path, 60)
    assert small == large < 60
