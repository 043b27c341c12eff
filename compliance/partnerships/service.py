"""Partnerships: their members, the duties they discharge, and the changes to both."""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from compliance.models import Body, Duty, Partnership, PartnershipDuty, PartnershipMember

FORMS = (
    "statutory_board",
    "pooled_budget",
    "lead_commissioning",
    "integrated_provision",
    "joint_committee",
    "information_sharing_agreement",
    "informal_network",
)


@dataclass(frozen=True)
class Member:
    body: Body
    membership: PartnershipMember


def list_partnerships(*, session: Session, limit: int = 100, offset: int = 0) -> list[Partnership]:
    """Return partnerships by name, a page at a time."""
    query = select(Partnership).order_by(Partnership.name).limit(limit).offset(offset)
    return list(session.exec(query))


def get_partnership(*, session: Session, slug: str) -> Partnership | None:
    """Return one partnership by its slug, or None."""
    return session.exec(select(Partnership).where(Partnership.slug == slug)).first()


def members_of(*, session: Session, partnership_id: int, on: dt.date | None = None) -> list[Member]:
    """Return the members (current on a date, or all when no date is given) with their bodies."""
    query = (
        select(Body, PartnershipMember)
        .join(PartnershipMember, PartnershipMember.body_id == Body.id)
        .where(PartnershipMember.partnership_id == partnership_id)
        .order_by(Body.name)
    )
    rows = [Member(body, membership) for body, membership in session.exec(query)]
    if on is None:
        return rows
    return [m for m in rows if m.membership.end_date is None or m.membership.end_date > on]


def duties_of(*, session: Session, partnership_id: int) -> list[Duty]:
    """Return the duties a partnership discharges."""
    query = (
        select(Duty)
        .join(PartnershipDuty, PartnershipDuty.duty_id == Duty.id)
        .where(PartnershipDuty.partnership_id == partnership_id)
        .order_by(Duty.act, Duty.slug)
    )
    return list(session.exec(query))


def partnerships_of_body(
    *, session: Session, body_id: int
) -> list[tuple[Partnership, PartnershipMember]]:
    """Return the partnerships a body belongs to, with its membership."""
    query = (
        select(Partnership, PartnershipMember)
        .join(PartnershipMember, PartnershipMember.partnership_id == Partnership.id)
        .where(PartnershipMember.body_id == body_id)
        .order_by(Partnership.name)
    )
    return list(session.exec(query))


def join(
    *, session: Session, partnership: Partnership, body: Body, role: str, on: dt.date | None = None
) -> PartnershipMember:
    """Add a body to a partnership, or bring a former member back."""
    membership = session.exec(
        select(PartnershipMember).where(
            PartnershipMember.partnership_id == partnership.id,
            PartnershipMember.body_id == body.id,
        )
    ).first()
    if membership is None:
        membership = PartnershipMember(
            partnership_id=partnership.id, body_id=body.id, role=role, start_date=on
        )
        session.add(membership)
    else:
        membership.role, membership.end_date = role, None
    session.flush()
    return membership


def leave(*, session: Session, membership: PartnershipMember, on: dt.date) -> None:
    """Record that a body left a partnership; the membership is kept."""
    membership.end_date = on
    session.flush()


def discharge(*, session: Session, partnership: Partnership, duty: Duty) -> None:
    """Record that a partnership discharges a duty (idempotent)."""
    if session.get(PartnershipDuty, (partnership.id, duty.id)) is None:
        session.add(PartnershipDuty(partnership_id=partnership.id, duty_id=duty.id))
        session.flush()
