"""Who may see and do what: roles, and a scope of bodies and partnerships.

Admins see and manage everything. Officers and inspectors see the bodies in their scope (and the
bodies beneath them, such as a county's districts), the partnerships in their scope, and the
partnerships their scoped bodies belong to. Officers change records only within that scope;
inspectors change nothing but may accept or query evidence there.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session, col, select

from compliance.accounts.service import scope_of
from compliance.bodies.service import with_descendants
from compliance.errors import Refused
from compliance.models import EvidenceLink, Obligation, PartnershipMember, Period, User


class Held(Protocol):
    """Whatever an obligation is read as (its ORM row, or a plain row): who holds it."""

    @property
    def body_id(self) -> int | None: ...
    @property
    def partnership_id(self) -> int | None: ...


@dataclass(frozen=True)
class Principal:
    """A signed-in user with their scope worked out."""

    user: User
    body_ids: frozenset[int]
    partnership_ids: frozenset[int]
    readable_partnership_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"

    @property
    def is_officer(self) -> bool:
        return self.user.role == "officer"

    @property
    def is_inspector(self) -> bool:
        return self.user.role == "inspector"

    def reads_body(self, body_id: int | None) -> bool:
        return self.is_admin or body_id in self.body_ids

    def writes_body(self, body_id: int | None) -> bool:
        return self.is_admin or (self.is_officer and body_id in self.body_ids)

    def reads_partnership(self, partnership_id: int | None) -> bool:
        return self.is_admin or partnership_id in self.readable_partnership_ids

    def writes_partnership(self, partnership_id: int | None) -> bool:
        return self.is_admin or (self.is_officer and partnership_id in self.partnership_ids)

    def reads_obligation(self, obligation: Held) -> bool:
        if obligation.body_id is not None:
            return self.reads_body(obligation.body_id)
        return self.reads_partnership(obligation.partnership_id)

    def writes_obligation(self, obligation: Held) -> bool:
        if obligation.body_id is not None:
            return self.writes_body(obligation.body_id)
        return self.writes_partnership(obligation.partnership_id)


def principal_for(*, session: Session, user: User) -> Principal:
    """Work out a user's scope."""
    bodies, partnerships = scope_of(session=session, user=user)
    bodies = with_descendants(session=session, roots=bodies) if bodies else set()
    member_of = (
        set(
            session.exec(
                select(PartnershipMember.partnership_id).where(
                    col(PartnershipMember.body_id).in_(bodies)
                )
            ).all()
        )
        if bodies
        else set()
    )
    return Principal(
        user, frozenset(bodies), frozenset(partnerships), frozenset(partnerships | member_of)
    )


class Forbidden(Refused):
    """The signed-in user's role or scope does not allow this."""

    def __init__(self, message: str = "You do not have access to this"):
        super().__init__(message, status=403)


def require(allowed: bool, message: str = "You do not have access to this") -> None:
    """Refuse unless allowed."""
    if not allowed:
        raise Forbidden(message)


def evidence_access(
    *, session: Session, principal: Principal, evidence_id: int
) -> tuple[bool, bool]:
    """Whether a user may read, and may change, a piece of evidence: read it through any
    obligation it serves, change it (correct, withdraw, answer) only if they may change every
    one, since a correction or a withdrawal takes it away from all of them."""
    obligations = [o for _, o in _serving(session, [evidence_id])]
    reads = any(principal.reads_obligation(o) for o in obligations)
    writes = bool(obligations) and all(principal.writes_obligation(o) for o in obligations)
    return reads, writes


def writable_evidence(
    *, session: Session, principal: Principal, evidence_ids: set[int]
) -> set[int]:
    """Of these pieces of evidence, those the user may change (the rule of `evidence_access`,
    in one query for a whole page)."""
    rows = _serving(session, evidence_ids)
    refused = {e for e, obligation in rows if not principal.writes_obligation(obligation)}
    return {e for e, _ in rows} - refused


def _serving(session: Session, evidence_ids: Iterable[int]) -> list[tuple[int, Obligation]]:
    query = (
        select(EvidenceLink.evidence_id, Obligation)
        .join(Period, col(Period.id) == EvidenceLink.occurrence_id)
        .join(Obligation, col(Obligation.id) == Period.obligation_id)
        .where(col(EvidenceLink.evidence_id).in_(set(evidence_ids)))
    )
    return list(session.exec(query).all())
