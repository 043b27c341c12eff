"""Which outcomes for people each obligation serves, and its outcome status from them.

An obligation is served by its own outcomes, and by the outcomes of the partnerships through
which its holder discharges it that name, as what they are the point of (OutcomeServes), its
duty, its deliverable or its funding condition. No other outcome of those partnerships counts:
a quarterly return is not judged by an outcome about something else. With none, its status is
"no outcome linked" (OutcomeStatus.no_outcome_defined).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from compliance.db import any_of, key_column, row_id
from compliance.models import (
    Bid,
    Deliverable,
    Indicator,
    Measurement,
    Outcome,
    OutcomeServes,
    Partnership,
    PartnershipDuty,
    PartnershipMember,
)
from compliance.obligations.rows import ObligationFacts
from compliance.obligations.status import OutcomeStatus, indicator_status, judge_outcome
from compliance.outcomes.trend import WINDOW_YEARS, years_before


@dataclass(frozen=True)
class ServedBy:
    """An outcome behind an obligation's outcome status, with its own status on the date."""

    outcome_id: int
    title: str
    status: OutcomeStatus
    partnership_slug: str | None  # None for the obligation's own outcome


@dataclass(frozen=True)
class OutcomeState:
    """An obligation's outcome status and the outcomes it was read from (none: not linked)."""

    status: OutcomeStatus
    served_by: tuple[ServedBy, ...] = ()


def partnerships_behind(
    session: Session,
    obligations: Sequence[ObligationFacts],
    on: dt.date,
    duty_of: dict[int, int] | None = None,
) -> dict[int, list[int]]:
    """The partnerships through which each obligation's holder discharges it: the partnership
    holding it, or those of which the body holding it is a member on the date that discharge
    its duty (`duty_of`: each deliverable's duty, where the caller has read it already)."""
    behind: dict[int, list[int]] = {
        row_id(o): [o.partnership_id] for o in obligations if o.partnership_id is not None
    }
    body_ids = {o.body_id for o in obligations if o.body_id is not None}
    if not body_ids:
        return behind
    rows = session.exec(
        select(PartnershipMember.body_id, PartnershipDuty.duty_id, PartnershipMember.partnership_id)
        .join(
            PartnershipDuty, col(PartnershipDuty.partnership_id) == PartnershipMember.partnership_id
        )
        .where(any_of(col(PartnershipMember.body_id), body_ids))
        .where((col(PartnershipMember.end_date).is_(None)) | (col(PartnershipMember.end_date) > on))
    ).all()
    through: dict[tuple[int, int], list[int]] = {}
    for body, duty, partnership in rows:
        through.setdefault((body, duty), []).append(partnership)
    duty_of = _duty_of(session, obligations) if duty_of is None else duty_of
    for o in obligations:
        if o.body_id is not None and o.deliverable_id is not None:
            behind[row_id(o)] = through.get((o.body_id, duty_of.get(o.deliverable_id)), [])  # type: ignore[arg-type]  # get(None) finds nothing, as meant
    return behind


def _duty_of(session: Session, obligations: Sequence[ObligationFacts]) -> dict[int, int]:
    ids = {o.deliverable_id for o in obligations if o.deliverable_id}
    if not ids:
        return {}
    query = select(key_column(Deliverable), Deliverable.duty_id).where(
        any_of(col(Deliverable.id), ids)
    )
    return dict(session.exec(query).all())


def _bid_partnerships(session: Session, obligations: Sequence[ObligationFacts]) -> dict[int, int]:
    """For funding obligations held by a body: the partnership the bid was made through."""
    ids = {o.bid_id for o in obligations if o.bid_id and o.body_id is not None}
    if not ids:
        return {}
    query = select(key_column(Bid), Bid.partnership_id).where(
        any_of(col(Bid.id), ids), col(Bid.partnership_id).is_not(None)
    )
    # The query keeps only bids made through a partnership.
    return {bid: p for bid, p in session.exec(query).all() if p is not None}


def outcome_states(
    *,
    session: Session,
    obligations: Sequence[ObligationFacts],
    on: dt.date,
    duty_of: dict[int, int] | None = None,
) -> dict[int, OutcomeState]:
    """Each obligation's outcome status on a date, from the outcomes that serve it only, in a
    fixed number of queries (`duty_of`: each deliverable's duty, where the caller has read
    it already)."""
    if not obligations:
        return {}
    duty_of = _duty_of(session, obligations) if duty_of is None else duty_of
    behind = partnerships_behind(session, obligations, on, duty_of)
    through_bid = _bid_partnerships(session, obligations)
    if through_bid:
        for o in obligations:
            if o.bid_id in through_bid:
                behind[row_id(o)] = [*behind.get(row_id(o), []), through_bid[o.bid_id]]
    wanted = {p for ids in behind.values() for p in ids}
    own = [row_id(o) for o in obligations]
    found = session.exec(
        select(Outcome)
        .where(
            any_of(col(Outcome.partnership_id), wanted) | any_of(col(Outcome.obligation_id), own)
        )
        .order_by(col(Outcome.id))
    ).all()
    targets = _targets(session, [row_id(o) for o in found if o.partnership_id is not None])
    # Each outcome found by what it names (its obligation, or its partnership), not tested
    # against every obligation in turn.
    by_obligation: dict[int, list[Outcome]] = {}
    by_partnership: dict[int, list[Outcome]] = {}
    for outcome in found:
        if outcome.obligation_id is not None:
            by_obligation.setdefault(outcome.obligation_id, []).append(outcome)
        if outcome.partnership_id is not None:
            by_partnership.setdefault(outcome.partnership_id, []).append(outcome)
    serving: dict[int, list[Outcome]] = {}
    for obligation in obligations:
        key = row_id(obligation)
        deliverable_id = obligation.deliverable_id
        keys = {
            ("duty", duty_of.get(deliverable_id)),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
            ("deliverable", deliverable_id),
            ("condition", obligation.condition_id),
        }
        mine = {row_id(x): x for x in by_obligation.get(key, [])}
        for partnership_id in set(behind.get(key, [])):
            for candidate in by_partnership.get(partnership_id, []):
                if keys & targets.get(row_id(candidate), set()):
                    mine[row_id(candidate)] = candidate
        serving[key] = [mine[i] for i in sorted(mine)]
    # Only the outcomes that serve an obligation here are judged.
    served_ids = sorted({row_id(o) for outcomes in serving.values() for o in outcomes})
    levels = outcome_levels(session, served_ids, on)
    slugs = _slugs(session, wanted)
    # Each outcome's line is made once, however many obligations it serves.
    lines = {
        i: ServedBy(i, o.title, levels[i], slugs.get(o.partnership_id))  # type: ignore[arg-type]  # get(None) finds nothing, as meant
        for i, o in ((row_id(o), o) for outcomes in serving.values() for o in outcomes)
    }
    states: dict[int, OutcomeState] = {}
    for key, outcomes in serving.items():
        served = tuple(lines[row_id(o)] for o in outcomes)
        states[key] = OutcomeState(judge_outcome(s.status for s in served), served)
    return states


def _targets(session: Session, outcome_ids: list[int]) -> dict[int, set[tuple[str, int]]]:
    """What each partnership outcome serves, as ("duty" | "deliverable" | "condition", id)."""
    if not outcome_ids:
        return {}
    found: dict[int, set[tuple[str, int]]] = {}
    rows = session.exec(
        select(OutcomeServes).where(any_of(col(OutcomeServes.outcome_id), outcome_ids))
    )
    for link in rows:
        kind, target = target_of(link)
        found.setdefault(link.outcome_id, set()).add((kind, target))
    return found


def target_of(link: OutcomeServes) -> tuple[str, int]:
    """The kind and id of what a link names."""
    if link.duty_id is not None:
        return "duty", link.duty_id
    if link.deliverable_id is not None:
        return "deliverable", link.deliverable_id
    return "condition", link.condition_id  # type: ignore[return-value]  # one_target check: else a condition


def _slugs(session: Session, partnership_ids: set[int]) -> dict[int, str]:
    if not partnership_ids:
        return {}
    query = select(key_column(Partnership), Partnership.slug).where(
        any_of(col(Partnership.id), partnership_ids)
    )
    return dict(session.exec(query).all())


def outcome_levels(
    session: Session, outcome_ids: list[int], on: dt.date
) -> dict[int, OutcomeStatus]:
    """Each outcome's status on a date, from its indicators (with none, not measured)."""
    if not outcome_ids:
        return {}
    indicators = session.exec(
        select(Indicator).where(any_of(col(Indicator.outcome_id), outcome_ids))
    ).all()
    values: dict[int, list[tuple[dt.date, float]]] = {}
    if indicators:
        # Only the trend's window can decide a status: years of history need not be read.
        rows = session.exec(
            select(
                col(Measurement.indicator_id),
                col(Measurement.measured_date),
                col(Measurement.value),
            )
            .where(any_of(col(Measurement.indicator_id), [row_id(i) for i in indicators]))
            .where(Measurement.measured_date <= on)
            .where(Measurement.measured_date >= years_before(on, WINDOW_YEARS))
            .order_by(col(Measurement.measured_date))
        )
        for indicator_id, day, value in rows:
            values.setdefault(indicator_id, []).append((day, value))
    levels: dict[int, list[OutcomeStatus]] = {}
    for indicator in indicators:
        status = indicator_status(indicator, values.get(row_id(indicator), []), on)
        levels.setdefault(indicator.outcome_id, []).append(status)
    return {i: judge_outcome(levels.get(i, [OutcomeStatus.not_measured])) for i in outcome_ids}
