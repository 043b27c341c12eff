"""Funding bids: which a user may see, who applied, and what their stream asks of them."""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.db import row_id, stored
from compliance.models import Bid, BidApplicant, Body, FundingCondition, FundingStream, Obligation


@dataclass(frozen=True)
class BidDetail:
    """One bid with its stream, its joint applicants, its obligations and the stream's
    conditions."""

    bid: Bid
    stream: FundingStream
    applicants: list[tuple[Body, BidApplicant]]
    obligations: list[Obligation]
    conditions: list[FundingCondition]


def may_read_bid(principal: Principal, bid: Bid, applicant_ids: list[int]) -> bool:
    """A bid is seen by admins, by those who see one of its applicants, and by those who see
    the partnership that made it."""
    return (
        principal.is_admin
        or any(principal.reads_body(b) for b in applicant_ids)
        or principal.reads_partnership(bid.partnership_id)
    )


def bids_in_scope(*, session: Session, principal: Principal) -> list[tuple[Bid, FundingStream]]:
    """The bids this user may see, with the stream each bids to, by reference."""
    applicants: dict[int, list[int]] = {}
    for row in session.exec(select(BidApplicant)):
        applicants.setdefault(row.bid_id, []).append(row.body_id)
    rows = session.exec(
        select(Bid, FundingStream).join(FundingStream).order_by(Bid.reference)
    ).all()
    return [(b, s) for b, s in rows if may_read_bid(principal, b, applicants.get(row_id(b), []))]


def lead_bodies(*, session: Session, bids: list[Bid]) -> dict[int, Body | None]:
    """Each bid's lead applicant, by bid id."""
    wanted = {bid.lead_body_id for bid in bids}
    found = session.exec(select(Body).where(col(Body.id).in_(wanted)))
    by_id = {row_id(body): body for body in found}
    return {row_id(bid): by_id.get(bid.lead_body_id) for bid in bids}


def get_bid(*, session: Session, reference: str) -> BidDetail | None:
    """A bid by its reference, with what its page shows; None if there is none."""
    bid = session.exec(select(Bid).where(Bid.reference == reference)).first()
    if bid is None:
        return None
    applicants = session.exec(
        select(Body, BidApplicant)
        .join(BidApplicant, col(BidApplicant.body_id) == Body.id)
        .where(BidApplicant.bid_id == bid.id)
    ).all()
    stream = stored(session, FundingStream, bid.stream_id)
    return BidDetail(
        bid=bid,
        stream=stream,
        applicants=list(applicants),
        obligations=list(session.exec(select(Obligation).where(Obligation.bid_id == bid.id))),
        conditions=list(
            session.exec(select(FundingCondition).where(FundingCondition.stream_id == stream.id))
        ),
    )
