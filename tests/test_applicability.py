"""Which obligations bodies, partnerships and bids carry, and how they open and close."""

import datetime as dt

from sqlmodel import select

from compliance.catalogue.service import get_duty
from compliance.models import Deliverable, Duty, FundingStream, Obligation, Period
from compliance.obligations.service import backfill, of_body, of_partnership, sync_obligations
from compliance.obligations.status import ProcessStatus
from compliance.obligations.views import view_obligations
from tests.factories import make_bid, make_body, make_evidence, make_partnership

ON = dt.date(2026, 11, 26)


def obligations_of(session, **holder):
    column, value = next(iter(holder.items()))
    query = select(Obligation).where(getattr(Obligation, column) == value)
    return list(session.exec(query))


def duty_slugs(session, obligations):
    slugs = set()
    for o in obligations:
        deliverable = session.get(Deliverable, o.deliverable_id)
        slugs.add(session.get(Duty, deliverable.duty_id).slug)
    return slugs


def test_unitary_council_is_bound_by_upper_tier_duties_and_a_district_is_not(session):
    unitary = make_body(session)
    district = make_body(session, code="E07000901", kind="district_council")
    sync_obligations(session=session, on=ON)
    unitary_duties = duty_slugs(session, obligations_of(session, body_id=unitary.id))
    district_duties = duty_slugs(session, obligations_of(session, body_id=district.id))
    assert {"care-act-2014-s6", "care-act-2014-s3", "cda-1998-s17"} <= unitary_duties
    assert {"care-act-2014-s3", "care-act-2014-s42-s45"}.isdisjoint(district_duties)
    assert "cda-1998-s17" in district_duties


def test_nation_decides_between_english_and_welsh_duties(session):
    welsh = make_body(session, code="W06000901", nation="wales")
    sync_obligations(session=session, on=ON)
    slugs = duty_slugs(session, obligations_of(session, body_id=welsh.id))
    assert "care-act-2014-s6" not in slugs
    assert "sswba-2014-part9" in slugs or _partnership_only(session, "sswba-2014-part9")


def _partnership_only(session, slug):
    duty = get_duty(session=session, slug=slug)
    items = session.exec(select(Deliverable).where(Deliverable.duty_id == duty.id)).all()
    return all(d.held_by == "partnership" for d in items)


def test_partnership_carries_the_joint_deliverables_of_the_duties_it_discharges(session):
    duty = get_duty(session=session, slug="children-act-2004-s16e")
    partnership = make_partnership(session, duties=[duty])
    sync_obligations(session=session, on=ON)
    joint = obligations_of(session, partnership_id=partnership.id)
    expected = session.exec(
        select(Deliverable).where(
            Deliverable.duty_id == duty.id, Deliverable.held_by == "partnership"
        )
    ).all()
    assert expected, "s16E should have joint deliverables"
    assert {o.deliverable_id for o in joint} == {d.id for d in expected}


def test_each_period_needs_its_own_evidence(session):
    body = make_body(session)
    sync_obligations(session=session, on=ON, track_from=dt.date(2024, 4, 1))
    obligation = obligations_of(session, body_id=body.id)[0]
    periods = session.exec(
        select(Period)
        .where(Period.obligation_id == obligation.id)
        .order_by(Period.period_start_date)
    ).all()
    assert len(periods) >= 2
    make_evidence(session, occurrences=[periods[0]])
    views = view_obligations(session=session, on=ON, due_soon_days=30, body_id=body.id)
    view = next(v for v in views if v.obligation.id == obligation.id)
    statuses = [p.status for p in view.periods]
    assert statuses[0] == ProcessStatus.met
    assert ProcessStatus.met not in statuses[1:]


def test_sync_is_idempotent(session):
    make_body(session)
    first = sync_obligations(session=session, on=ON)
    second = sync_obligations(session=session, on=ON)
    assert first.opened > 0
    assert (second.opened, second.closed, second.reopened, second.occurrences) == (0, 0, 0, 0)


def test_a_body_that_ends_has_its_obligations_closed_and_kept_and_its_successor_takes_them(session):
    old = make_body(session, name="Old ICB", code="QZ1", kind="integrated_care_board")
    sync_obligations(session=session, on=dt.date(2026, 1, 1))
    count = len(obligations_of(session, body_id=old.id))
    new = make_body(
        session,
        name="Merged ICB",
        code="QZ2",
        kind="integrated_care_board",
        start_date=dt.date(2026, 4, 1),
    )
    old.end_date, old.successor_id = dt.date(2026, 4, 1), new.id
    report = sync_obligations(session=session, on=dt.date(2026, 4, 2))
    kept = obligations_of(session, body_id=old.id)
    assert len(kept) == count and report.closed == count
    assert all(o.closed_date == dt.date(2026, 4, 2) for o in kept)
    assert "pass to Merged ICB (QZ2)" in kept[0].closed_reason
    assert len(obligations_of(session, body_id=new.id)) == count


def test_partnership_that_stops_discharging_a_duty_has_obligations_closed_then_reopened(session):
    duty = get_duty(session=session, slug="children-act-2004-s16e")
    partnership = make_partnership(session, duties=[duty])
    sync_obligations(session=session, on=ON)
    partnership.end_date = ON
    closed = sync_obligations(session=session, on=ON)
    assert closed.closed == len(obligations_of(session, partnership_id=partnership.id))
    partnership.end_date = None
    reopened = sync_obligations(session=session, on=ON)
    assert reopened.reopened == closed.closed


def test_bid_carries_its_stream_conditions_within_the_stream_period(session):
    stream = session.exec(
        select(FundingStream).where(FundingStream.slug == "better-care-fund-2025-26")
    ).one()
    council = make_body(session)
    icb = make_body(session, code="QZ9", kind="integrated_care_board")
    bid = make_bid(session, stream=stream, lead=council, applicants=[icb])
    sync_obligations(session=session, on=ON)
    held = session.exec(select(Obligation).where(Obligation.bid_id == bid.id)).all()
    assert held and all(o.body_id == council.id for o in held)
    due = session.exec(
        select(Period.due_date).where(Period.obligation_id.in_([o.id for o in held]))
    ).all()
    assert all(d <= stream.period_end_date + dt.timedelta(days=120) for d in due)


def test_a_deliverable_can_be_held_by_only_some_holders_of_its_duty(session):
    council = make_body(session)
    icb = make_body(session, code="QZ8", kind="integrated_care_board")
    sync_obligations(session=session, on=ON)
    duty = get_duty(session=session, slug="lgpiha-2007-s116a")
    review = session.exec(
        select(Deliverable).where(
            Deliverable.duty_id == duty.id, Deliverable.slug == "icb-annual-report-reviews-jhws"
        )
    ).one()
    holders = {
        o.body_id
        for o in session.exec(select(Obligation).where(Obligation.deliverable_id == review.id))
    }
    assert icb.id in holders
    assert council.id not in holders


def _states(session, obligations):
    return {o.key: (o.closed_date, o.closed_reason) for o in obligations}


def test_a_change_to_one_holder_brings_its_own_obligations_up_to_date_as_a_full_sync_would(
    session,
):
    stream = session.exec(
        select(FundingStream).where(FundingStream.slug == "better-care-fund-2025-26")
    ).one()
    changed, other = make_body(session), make_body(session)
    board = make_partnership(
        session, duties=[get_duty(session=session, slug="children-act-2004-s16e")]
    )
    own_bid = make_bid(session, stream=stream, lead=changed)
    board_bid = make_bid(session, stream=stream, lead=other, partnership_id=board.id)
    sync_obligations(session=session, on=ON)
    before = len(obligations_of(session, body_id=changed.id))
    # A unitary authority becomes a district council; the other body and the board end; both
    # bids are withdrawn.
    changed.kind = "district_council"
    other.end_date = board.end_date = ON
    own_bid.status = board_bid.status = "withdrawn"
    session.flush()

    body_sync = sync_obligations(session=session, on=ON, holders=of_body(changed))
    assert body_sync.closed > 0 and body_sync.opened > 0 and body_sync.occurrences > 0
    mine = obligations_of(session, body_id=changed.id)
    assert len(mine) == before + body_sync.opened
    assert all(o.closed_date is None for o in obligations_of(session, body_id=other.id))
    assert all(o.closed_date is None for o in obligations_of(session, partnership_id=board.id))

    board_sync = sync_obligations(session=session, on=ON, holders=of_partnership(board))
    theirs = obligations_of(session, partnership_id=board.id)
    assert {o.bid_id for o in theirs} >= {board_bid.id, None}
    assert board_sync.closed == len(theirs) and all(o.closed_date == ON for o in theirs)
    assert all(o.closed_date is None for o in obligations_of(session, body_id=other.id))

    # What is left for a full synchronisation is the other body's alone.
    settled = _states(session, mine + theirs)
    full = sync_obligations(session=session, on=ON)
    assert (full.opened, full.reopened, full.occurrences) == (0, 0, 0)
    assert full.closed == len(obligations_of(session, body_id=other.id)) > 0
    assert _states(session, mine + theirs) == settled


def test_a_withdrawn_bid_has_its_conditions_closed_with_the_reason(session):
    stream = session.exec(
        select(FundingStream).where(FundingStream.slug == "better-care-fund-2025-26")
    ).one()
    bid = make_bid(session, stream=stream, lead=make_body(session))
    sync_obligations(session=session, on=ON)
    bid.status = "withdrawn"
    report = sync_obligations(session=session, on=ON)
    held = session.exec(select(Obligation).where(Obligation.bid_id == bid.id)).all()
    assert report.closed == len(held) > 0
    assert {o.closed_reason for o in held} == {"the bid was withdrawn or rejected"}


def test_a_body_that_has_not_started_yet_carries_nothing(session):
    future = make_body(session, start_date=dt.date(2027, 4, 1))
    sync_obligations(session=session, on=ON)
    assert obligations_of(session, body_id=future.id) == []


def test_tracking_from_an_earlier_date_backfills_earlier_periods(session):
    body, other = make_body(session), make_body(session)
    sync_obligations(session=session, on=ON)
    obligation = obligations_of(session, body_id=body.id)[0]
    first = session.exec(
        select(Period.period_start_date).where(Period.obligation_id == obligation.id)
    ).all()
    backfill(session=session, track_from=dt.date(2024, 4, 1), until=ON, body_ids={body.id})
    untouched = obligations_of(session, body_id=other.id)
    assert untouched and all(o.opened_date == ON for o in untouched)
    later = session.exec(
        select(Period.period_start_date).where(Period.obligation_id == obligation.id)
    ).all()
    assert min(later) < min(first) and set(first) <= set(later)


def test_only_responsible_local_authorities_and_icbs_have_regard_to_the_jsna(session):
    # LGPIHA 2007 s116B binds responsible local authorities (s116(4)): not two-tier districts.
    county = make_body(session, code="E10000901", kind="county_council")
    district = make_body(session, code="E07000902", kind="district_council")
    unitary = make_body(session)
    icb = make_body(session, code="QZZ", kind="integrated_care_board")
    sync_obligations(session=session, on=ON)
    holders = {
        body.kind
        for body in (county, district, unitary, icb)
        if "lgpiha-2007-s116b" in duty_slugs(session, obligations_of(session, body_id=body.id))
    }
    assert holders == {"county_council", "unitary_authority", "integrated_care_board"}
