"""Plain factory functions: a valid row with overridable fields."""

import datetime as dt
import itertools
from typing import Any

from sqlmodel import Session

from compliance.models import (
    Bid,
    BidApplicant,
    Body,
    Evidence,
    EvidenceLink,
    Partnership,
    PartnershipDuty,
    PartnershipMember,
)

_numbers = itertools.count(1)


def make_body(session: Session, **overrides: Any) -> Body:
    number = next(_numbers)
    values: dict[str, Any] = {
        "code": f"E06{900000 + number:06d}",
        "name": f"Test Unitary Council {number}",
        "kind": "unitary_authority",
        "nation": "england",
    }
    body = Body(**(values | overrides))
    session.add(body)
    session.flush()
    return body


def make_partnership(
    session: Session, *, duties: list[Any] = (), members: list[Body] = (), **overrides: Any
) -> Partnership:
    number = next(_numbers)
    values: dict[str, Any] = {
        "slug": f"test-partnership-{number}",
        "name": f"Test Board {number}",
        "form": "statutory_board",
    }
    partnership = Partnership(**(values | overrides))
    session.add(partnership)
    session.flush()
    for duty in duties:
        session.add(PartnershipDuty(partnership_id=partnership.id, duty_id=duty.id))
    for body in members:
        session.add(
            PartnershipMember(partnership_id=partnership.id, body_id=body.id, role="member")
        )
    session.flush()
    return partnership


def make_bid(
    session: Session, *, stream: Any, lead: Body, applicants: list[Body] = (), **overrides: Any
) -> Bid:
    number = next(_numbers)
    values: dict[str, Any] = {
        "reference": f"BID-{number}",
        "title": f"Test bid {number}",
        "stream_id": stream.id,
        "lead_body_id": lead.id,
    }
    bid = Bid(**(values | overrides))
    session.add(bid)
    session.flush()
    for body in [lead, *applicants]:
        session.add(BidApplicant(bid_id=bid.id, body_id=body.id))
    session.flush()
    return bid


def make_evidence(session: Session, *, occurrences: list[Any] = (), **overrides: Any) -> Evidence:
    number = next(_numbers)
    values: dict[str, Any] = {
        "kind": "document",
        "title": f"Evidence {number}",
        "effective_date": dt.date(2025, 6, 1),
    }
    values |= overrides
    # Recorded on the day it took effect, not at the wall clock: a view as at a fixed date must
    # not find the evidence "recorded later" once that date is past.
    effective = values["effective_date"]
    values.setdefault("recorded_at", dt.datetime.combine(effective, dt.time(12), dt.UTC))
    evidence = Evidence(**values)
    session.add(evidence)
    session.flush()
    for occurrence in occurrences:
        session.add(EvidenceLink(evidence_id=evidence.id, occurrence_id=occurrence.id))
    session.flush()
    return evidence
