"""What a report covers: a body, a partnership, a duty across its bodies, or an area.

A body's report takes in its own obligations and those of the partnerships it belongs to,
since much of a body's duty is discharged through them. An area is a body with every body
beneath it; an integrated care board's area is its footprint: the bodies that sit with it in
its partnerships, and the bodies beneath them.
"""

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from compliance.access import Principal, require
from compliance.bodies.service import get_body, with_descendants
from compliance.catalogue.service import get_duty
from compliance.db import row_id
from compliance.errors import NotFound, Refused
from compliance.models import Body, Deliverable, Obligation, Partnership, PartnershipMember
from compliance.partnerships.service import get_partnership

KINDS = ("body", "partnership", "duty", "area")


@dataclass(frozen=True)
class Scope:
    """The subject of a report and the bodies and partnerships it takes in."""

    kind: str
    key: str
    name: str
    description: str
    body_ids: frozenset[int]
    partnership_ids: frozenset[int]
    duty_id: int | None = None

    @property
    def label(self) -> str:
        return scope_label(self.kind, self.key)


def scope_label(kind: str, key: str) -> str:
    """A file-name-safe name for a scope, such as body-E06000052."""
    return f"{kind}-{re.sub(r'[^A-Za-z0-9_-]+', '_', key)}"


def resolve_scope(
    *, session: Session, principal: Principal, kind: str, key: str, on: dt.date
) -> Scope:
    """The scope named by kind and key; NotFound if there is none, Forbidden if out of scope."""
    if kind == "body":
        body = _body(session, principal, key)
        return Scope(
            "body",
            body.code,
            f"{body.name} ({body.code})",
            "Its own obligations and those of the partnerships it belongs to.",
            frozenset({row_id(body)}),
            frozenset(_readable(principal, member_partnerships(session, {row_id(body)}, on))),
        )
    if kind == "partnership":
        partnership = get_partnership(session=session, slug=key)
        if partnership is None:
            raise NotFound(f"No partnership with slug {key!r}")
        require(
            principal.reads_partnership(partnership.id), "This partnership is not in your scope"
        )
        return Scope(
            "partnership",
            partnership.slug,
            partnership.name,
            "The obligations the partnership holds, its intended outcomes and its risks.",
            frozenset(),
            frozenset({row_id(partnership)}),
        )
    if kind == "duty":
        return _duty_scope(session, principal, key)
    if kind == "area":
        body = _body(session, principal, key)
        bodies = area_bodies(session=session, body=body, on=on)
        return Scope(
            "area",
            body.code,
            f"{body.name} ({body.code}) and its area",
            _area_description(body, len(bodies)),
            frozenset(bodies),
            frozenset(_readable(principal, member_partnerships(session, bodies, on))),
        )
    raise Refused(f"A report covers one of: {', '.join(KINDS)}", field="kind")


def _body(session: Session, principal: Principal, code: str) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise NotFound(f"No body with code {code!r}")
    require(principal.reads_body(body.id), "This body is not in your scope")
    return body


def _duty_scope(session: Session, principal: Principal, slug: str) -> Scope:
    duty = get_duty(session=session, slug=slug)
    if duty is None:
        raise NotFound(f"No duty with slug {slug!r}")
    within = "every body and partnership it binds" + (
        "" if principal.is_admin else f" within the scope of {principal.user.name}"
    )
    return Scope(
        "duty",
        duty.slug,
        f"{duty.title} ({duty.act} {duty.sections})",
        f"The duty across {within}.",
        frozenset(),
        frozenset(),
        duty_id=duty.id,
    )


def _area_description(body: Body, count: int) -> str:
    if body.kind == "integrated_care_board":
        return (
            f"The board's footprint: {count} bodies that sit with it in its partnerships, and "
            "the bodies beneath them; their obligations and those of their partnerships."
        )
    return f"{count} bodies: the body and every body beneath it, and their partnerships."


def _readable(principal: Principal, partnership_ids: set[int]) -> set[int]:
    return {p for p in partnership_ids if principal.reads_partnership(p)}


def _active(start, end, on: dt.date):
    return and_(or_(start.is_(None), start <= on), or_(end.is_(None), end > on))


def member_partnerships(session: Session, body_ids: set[int], on: dt.date) -> set[int]:
    """The partnerships any of these bodies belonged to on a date."""
    if not body_ids:
        return set()
    query = (
        select(PartnershipMember.partnership_id)
        .join(Partnership, col(Partnership.id) == PartnershipMember.partnership_id)
        .where(col(PartnershipMember.body_id).in_(body_ids))
        .where(_active(PartnershipMember.start_date, PartnershipMember.end_date, on))
        .where(_active(Partnership.start_date, Partnership.end_date, on))
    )
    return set(session.exec(query).all())


def area_bodies(*, session: Session, body: Body, on: dt.date) -> set[int]:
    """A body and everything beneath it; for an ICB, its footprint (see the module docstring)."""
    roots = {row_id(body)}

    if body.kind == "integrated_care_board":
        partnerships = member_partnerships(session, {row_id(body)}, on)
        if partnerships:
            roots |= set(
                session.exec(
                    select(PartnershipMember.body_id)
                    .where(col(PartnershipMember.partnership_id).in_(partnerships))
                    .where(_active(PartnershipMember.start_date, PartnershipMember.end_date, on))
                ).all()
            )
    return with_descendants(session=session, roots=roots)


def scope_obligations(
    *, session: Session, principal: Principal, scope: Scope, on: dt.date
) -> list[Obligation]:
    """The obligations open on the date within the scope, that the principal may read."""
    query = select(Obligation)
    if scope.duty_id is not None:
        query = query.join(Deliverable, col(Deliverable.id) == Obligation.deliverable_id).where(
            Deliverable.duty_id == scope.duty_id
        )
    else:
        holders = []
        if scope.body_ids:
            holders.append(col(Obligation.body_id).in_(scope.body_ids))
        if scope.partnership_ids:
            holders.append(col(Obligation.partnership_id).in_(scope.partnership_ids))
        if not holders:
            return []
        query = query.where(or_(*holders))
    query = query.where(Obligation.opened_date <= on).where(
        or_(col(Obligation.closed_date).is_(None), col(Obligation.closed_date) > on)
    )
    return [
        o for o in session.exec(query.order_by(col(Obligation.id))) if principal.reads_obligation(o)
    ]
