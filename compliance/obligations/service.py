"""Applicability: which obligations each body, partnership and bid carries, and their periods."""

import datetime as dt
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.db import any_of, any_text_of, key_column, row_id, stored
from compliance.models import (
    Bid,
    Body,
    Deliverable,
    Duty,
    FundingCondition,
    FundingStream,
    Obligation,
    Partnership,
    PartnershipDuty,
    Period,
)
from compliance.obligations.cadence import DueRule, PeriodDates, periods
from compliance.obligations.rows import ObligationFacts

INACTIVE_BID_STATUSES = {"withdrawn", "rejected"}


@dataclass(frozen=True)
class Expected:
    """An obligation that should be open, and where it comes from."""

    key: str
    body_id: int | None = None
    partnership_id: int | None = None
    deliverable_id: int | None = None
    bid_id: int | None = None
    condition_id: int | None = None
    opens: dt.date | None = None


@dataclass
class SyncReport:
    """What a synchronisation of obligations changed."""

    opened: int = 0
    reopened: int = 0
    closed: int = 0
    occurrences: int = 0
    closed_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Holders:
    """The bodies and partnerships whose obligations one change can alter.

    A change to one body or partnership brings only its own obligations up to date: which
    obligations a holder carries depends on its own details and the catalogue, never on another
    holder's. The whole registry is brought up to date by the nightly check and by changes to
    the catalogue or imports (`holders=None`)."""

    body_ids: frozenset[int] = frozenset()
    partnership_ids: frozenset[int] = frozenset()

    def held(self) -> ColumnElement[bool]:
        """Whether an obligation is held by one of these bodies or partnerships."""
        return or_(
            any_of(col(Obligation.body_id), self.body_ids),
            any_of(col(Obligation.partnership_id), self.partnership_ids),
        )


def of_body(body: Body) -> Holders:
    """One body, as the holders a change to it can alter."""
    return Holders(body_ids=frozenset({row_id(body)}))


def of_body_codes(session: Session, codes: list[str]) -> Holders:
    """The bodies with these codes (those an import created or changed)."""
    found = session.exec(select(key_column(Body)).where(any_text_of(col(Body.code), codes)))
    return Holders(body_ids=frozenset(found))


def of_partnership(partnership: Partnership) -> Holders:
    """One partnership, as the holders a change to it (or to its duties or members) can alter."""
    return Holders(partnership_ids=frozenset({row_id(partnership)}))


def _active(start: dt.date | None, end: dt.date | None, on: dt.date) -> bool:
    return (start is None or start <= on) and (end is None or end > on)


class Placed(Protocol):
    """What applicability reads of a body: its kind and its nation."""

    @property
    def kind(self) -> str: ...

    @property
    def nation(self) -> str: ...


class _Place(NamedTuple):
    kind: str
    nation: str


def binds(duty: Duty, body: Placed) -> bool:
    """Tell whether a duty binds a body of this kind in this nation."""
    return body.kind in duty.holder_kinds and body.nation in duty.jurisdiction


def _live_deliverables(session: Session) -> dict[int, list[Deliverable]]:
    query = (
        select(Deliverable)
        .join(Duty)
        .where(
            col(Deliverable.retired_in_version).is_(None), col(Duty.retired_in_version).is_(None)
        )
    )
    by_duty: dict[int, list[Deliverable]] = {}
    for deliverable in session.exec(query):
        by_duty.setdefault(deliverable.duty_id, []).append(deliverable)
    return by_duty


def holds(deliverable: Deliverable, body: Placed) -> bool:
    """Tell whether a body bound by the duty holds this deliverable itself."""
    if deliverable.held_by != "holder":
        return False
    return not deliverable.holder_kinds or body.kind in deliverable.holder_kinds


def _expected_for_bodies(
    session: Session, on: dt.date, live: dict[int, list[Deliverable]], holders: Holders | None
) -> list[Expected]:
    duties = [d for d in session.exec(select(Duty)) if d.id in live]
    # Which deliverables a body holds depends only on its kind and nation: worked out once for
    # each pair, not for each of a national registry's thousands of bodies.
    held: dict[tuple[str, str], list[int]] = {}
    found = []
    bodies = select(  # type: ignore[call-overload]  # sqlmodel types select() to 4 columns
        key_column(Body), Body.kind, Body.nation, Body.start_date, Body.end_date
    ).order_by(key_column(Body))
    if holders is not None:
        bodies = bodies.where(any_of(key_column(Body), holders.body_ids))
    for body_id, kind, nation, start, end in session.exec(bodies):
        if not _active(start, end, on):
            continue
        deliverable_ids = held.get((kind, nation))
        if deliverable_ids is None:
            facts = _Place(kind, nation)
            deliverable_ids = held[(kind, nation)] = [
                row_id(d)
                for duty in duties
                if binds(duty, facts)
                for d in live[row_id(duty)]
                if holds(d, facts)
            ]
        found += [
            Expected(
                f"body:{body_id}:deliverable:{deliverable_id}",
                body_id=body_id,
                deliverable_id=deliverable_id,
                opens=start,
            )
            for deliverable_id in deliverable_ids
        ]
    return found


def _expected_for_partnerships(
    session: Session, on: dt.date, live: dict[int, list[Deliverable]], holders: Holders | None
) -> list[Expected]:
    query = select(Partnership, PartnershipDuty).join(PartnershipDuty)
    if holders is not None:
        query = query.where(any_of(key_column(Partnership), holders.partnership_ids))
    found = []
    for partnership, link in session.exec(query):
        if not _active(partnership.start_date, partnership.end_date, on):
            continue
        for deliverable in live.get(link.duty_id, []):
            if deliverable.held_by == "partnership":
                key = f"partnership:{partnership.id}:deliverable:{deliverable.id}"
                found.append(
                    Expected(
                        key,
                        partnership_id=partnership.id,
                        deliverable_id=deliverable.id,
                        opens=partnership.start_date,
                    )
                )
    return found


def _expected_for_bids(session: Session, holders: Holders | None) -> list[Expected]:
    query = (
        select(Bid, FundingCondition)
        .join(FundingCondition, col(FundingCondition.stream_id) == Bid.stream_id)
        .join(FundingStream, col(FundingStream.id) == FundingCondition.stream_id)
        .where(
            col(FundingCondition.retired_in_version).is_(None),
            col(FundingStream.retired_in_version).is_(None),
        )
    )
    if holders is not None:
        # Held as its obligations are below: by its partnership, or else by its lead body.
        query = query.where(
            or_(
                any_of(col(Bid.partnership_id), holders.partnership_ids),
                and_(
                    col(Bid.partnership_id).is_(None),
                    any_of(col(Bid.lead_body_id), holders.body_ids),
                ),
            )
        )
    found = []
    for bid, condition in session.exec(query):
        if bid.status in INACTIVE_BID_STATUSES:
            continue
        key = f"bid:{bid.id}:condition:{condition.id}"
        found.append(
            Expected(
                key,
                bid_id=bid.id,
                condition_id=condition.id,
                # A bid through a partnership is held by it; otherwise by its lead body.
                partnership_id=bid.partnership_id if bid.partnership_id else None,
                body_id=None if bid.partnership_id else bid.lead_body_id,
            )
        )
    return found


def expected_obligations(
    *, session: Session, on: dt.date, holders: Holders | None = None
) -> dict[str, Expected]:
    """Every obligation that applies on a date, by its key (of these holders, or of all)."""
    live = _live_deliverables(session)
    expected = _expected_for_bodies(session, on, live, holders)
    expected += _expected_for_partnerships(session, on, live, holders)
    expected += _expected_for_bids(session, holders)
    return {item.key: item for item in expected}


def sync_obligations(
    *,
    session: Session,
    on: dt.date,
    track_from: dt.date | None = None,
    holders: Holders | None = None,
) -> SyncReport:
    """Open the obligations that now apply, close those that no longer do, add due periods:
    of these holders, or of the whole registry when `holders` is None.

    Nothing is deleted: a closed obligation keeps its periods and evidence.
    """
    report = SyncReport()
    expected = expected_obligations(session=session, on=on, holders=holders)
    # Every obligation's key and whether it is closed, as columns: a national registry has
    # tens of thousands, of which a day's synchronisation changes a handful (read as rows).
    known = select(Obligation.key, key_column(Obligation), col(Obligation.closed_date))
    if holders is not None:
        known = known.where(holders.held())
    existing = {key: (obligation_id, closed) for key, obligation_id, closed in session.exec(known)}
    for key, item in expected.items():
        if key not in existing:
            opened = max(d for d in (track_from or on, item.opens) if d is not None)
            session.add(Obligation(**_columns(item), opened_date=min(opened, on)))
            report.opened += 1
        elif existing[key][1] is not None:
            reopened = stored(session, Obligation, existing[key][0])
            reopened.closed_date = reopened.closed_reason = None
            report.reopened += 1
    for key, (obligation_id, closed) in existing.items():
        if key not in expected and closed is None:
            obligation = stored(session, Obligation, obligation_id)
            obligation.closed_date = on
            obligation.closed_reason = closing_reason(session=session, obligation=obligation, on=on)
            report.closed += 1
            report.closed_reasons.append(obligation.closed_reason)
    session.flush()
    report.occurrences = add_due_periods(session=session, until=on, holders=holders)
    if report.opened or report.reopened or report.closed:
        audit(
            session=session,
            actor="system",
            action="obligations.synchronised",
            entity_type="obligations",
            entity_id=on.isoformat(),
            after={
                "opened": report.opened,
                "reopened": report.reopened,
                "closed": report.closed,
                "reasons": sorted(set(report.closed_reasons)),
            },
        )
    return report


def _columns(item: Expected) -> dict[str, Any]:
    return {
        "key": item.key,
        "body_id": item.body_id,
        "partnership_id": item.partnership_id,
        "deliverable_id": item.deliverable_id,
        "bid_id": item.bid_id,
        "condition_id": item.condition_id,
    }


def backfill(
    *,
    session: Session,
    track_from: dt.date,
    until: dt.date,
    body_ids: AbstractSet[int] = frozenset(),
    partnership_ids: AbstractSet[int] = frozenset(),
) -> int:
    """Track these holders' open obligations from an earlier date; return the periods added."""
    query = select(Obligation).where(col(Obligation.closed_date).is_(None))
    for obligation in session.exec(query):
        mine = obligation.body_id in body_ids or obligation.partnership_id in partnership_ids
        if mine and track_from < obligation.opened_date:
            obligation.opened_date = track_from
    session.flush()
    return add_due_periods(session=session, until=until)


def closing_reason(*, session: Session, obligation: Obligation, on: dt.date) -> str:
    """Say in words why an obligation stopped applying."""
    if obligation.body_id:
        body = session.get(Body, obligation.body_id)
        if body and not _active(body.start_date, body.end_date, on):
            successor = session.get(Body, body.successor_id) if body.successor_id else None
            return f"{body.name} ended on {body.end_date}" + (
                f"; its obligations pass to {successor.name} ({successor.code})"
                if successor
                else ""
            )
    if obligation.partnership_id:
        partnership = session.get(Partnership, obligation.partnership_id)
        if partnership and not _active(partnership.start_date, partnership.end_date, on):
            return f"{partnership.name} ended on {partnership.end_date}"
    if obligation.deliverable_id:
        deliverable = session.get(Deliverable, obligation.deliverable_id)
        duty = session.get(Duty, deliverable.duty_id) if deliverable else None
        retired = (duty.retired_in_version if duty else None) or (
            deliverable.retired_in_version if deliverable else None
        )
        if retired:
            return f"removed from the duty catalogue in version {retired}"
        if obligation.partnership_id:
            return "the partnership no longer discharges this duty"
        return "the duty no longer binds a body of this kind or nation"
    if obligation.condition_id:
        condition = session.get(FundingCondition, obligation.condition_id)
        stream = session.get(FundingStream, condition.stream_id) if condition else None
        retired = (stream.retired_in_version if stream else None) or (
            condition.retired_in_version if condition else None
        )
        if retired:
            return f"removed from the funding catalogue in version {retired}"
    return "the bid was withdrawn or rejected"


def add_due_periods(*, session: Session, until: dt.date, holders: Holders | None = None) -> int:
    """Create the periods of every open obligation (of these holders, or of all) up to `until`;
    return how many were added."""
    made = select(col(Period.obligation_id), col(Period.period_start_date))
    if holders is not None:
        made = made.join(Obligation).where(holders.held())
    # Plain tuples, not the result's rows: a row compares itself in Python, and a national
    # registry asks this set about a hundred thousand periods.
    have = {(obligation_id, start) for obligation_id, start in session.exec(made)}
    rules = _due_rules(session)
    # Obligations under one deliverable opened on one day have the same periods: each list is
    # worked out once (a registry holds tens of thousands of obligations, a few hundred lists).
    due: dict[tuple[tuple[str, int], dt.date, dt.date], list[PeriodDates]] = {}
    open_ones = select(
        key_column(Obligation),
        col(Obligation.deliverable_id),
        col(Obligation.condition_id),
        col(Obligation.opened_date),
    ).where(col(Obligation.closed_date).is_(None))
    if holders is not None:
        open_ones = open_ones.where(holders.held())
    added = 0
    for obligation_id, deliverable_id, condition_id, opened in session.exec(open_ones):
        key = _rule_key(deliverable_id, condition_id)
        rule, window = rules[key]
        anchor = window[0] if window else opened
        last = min(until, window[1]) if window else until
        if (key, anchor, last) not in due:
            due[key, anchor, last] = [
                p
                for p in periods(rule, anchor=anchor, until=last)
                if not (window and p.start > window[1])
            ]
        for period in due[key, anchor, last]:
            if (obligation_id, period.start) not in have:
                session.add(
                    Period(
                        obligation_id=obligation_id,
                        period_start_date=period.start,
                        period_end_date=period.end,
                        due_date=period.due,
                    )
                )
                added += 1
    session.flush()
    return added


def rule_key(obligation: ObligationFacts) -> tuple[str, int]:
    return _rule_key(obligation.deliverable_id, obligation.condition_id)


def _rule_key(deliverable_id: int | None, condition_id: int | None) -> tuple[str, int]:
    if deliverable_id is not None:
        return ("deliverable", deliverable_id)
    return ("condition", condition_id or 0)


def _due_rules(
    session: Session,
) -> dict[tuple[str, int], tuple[DueRule, tuple[dt.date, dt.date] | None]]:
    rules: dict[tuple[str, int], tuple[DueRule, tuple[dt.date, dt.date] | None]] = {}
    for deliverable in session.exec(select(Deliverable)):
        rules[("deliverable", row_id(deliverable))] = (deliverable, None)
    for condition, stream in session.exec(
        select(FundingCondition, FundingStream).join(FundingStream)
    ):
        window = (stream.period_start_date, stream.period_end_date)
        rules[("condition", row_id(condition))] = (condition, window)
    return rules
