"""Who reminders can reach: the facts the rule no_reminder_contact reads.

The reminders (service.py's Directory) write about an obligation to its owner, else to its
body's contact email (a partnership's obligations are its lead body's), else to each officer
whose scope covers it. Where there is none of these, queue_due counts the reminder as having
"nobody to send to" and drops it; the rule makes that a finding for the body, and the admin
mail page lists those findings. Loaded in a fixed number of queries, as every fact a rule reads.
"""

from collections.abc import Iterable

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from compliance.bodies.service import with_descendants
from compliance.checks.rules import Reach
from compliance.db import key_column
from compliance.models import Body, Obligation, Partnership, User, UserScope


def _officer_scopes(session: Session) -> tuple[set[int], set[int]]:
    """The bodies (with those beneath them) and partnerships some active officer covers."""
    rows = session.exec(
        select(UserScope.body_id, UserScope.partnership_id)
        .join(User, col(User.id) == UserScope.user_id)
        .where(col(User.role) == "officer", col(User.is_active).is_(True))
    ).all()
    roots = {b for b, _ in rows if b is not None}
    bodies = with_descendants(session=session, roots=roots) if roots else set()
    return bodies, {p for _, p in rows if p is not None}


def reach_of(
    *,
    session: Session,
    body_ids: Iterable[int] | None = None,
    partnership_ids: Iterable[int] = (),
) -> list[Reach]:
    """Each body (all of them, or these) and each of these partnerships with no lead body that
    holds open obligations: whether it has a contact email, and which of its obligations have
    no active owner and no officer whose scope covers them."""
    holder = func.coalesce(Obligation.body_id, Partnership.lead_body_id)
    query = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() to 4 columns
            key_column(Obligation),
            col(Obligation.partnership_id),
            holder,
            col(Body.name),
            col(Body.email),
            col(Partnership.name),
            key_column(User),
        )
        .outerjoin(Partnership, Partnership.id == Obligation.partnership_id)
        .outerjoin(Body, Body.id == holder)
        .outerjoin(User, and_(col(User.id) == Obligation.owner_id, col(User.is_active).is_(True)))
        .where(
            col(Obligation.closed_date).is_(None), col(Obligation.not_applicable_reason).is_(None)
        )
        .order_by(Obligation.id)
    )
    if body_ids is not None:
        query = query.where(
            or_(
                holder.in_(set(body_ids)),
                and_(holder.is_(None), col(Obligation.partnership_id).in_(set(partnership_ids))),
            )
        )
    covered_bodies, covered_partnerships = _officer_scopes(session)
    found: dict[tuple[int | None, int | None], Reach] = {}
    for obligation_id, partnership_id, body_id, body, email, partnership, owner in session.exec(
        query
    ):
        key = (body_id, None if body_id is not None else partnership_id)
        reach = found.setdefault(
            key, Reach(key[0], key[1], body or partnership or "", bool(email), [])
        )
        covered = body_id in covered_bodies or partnership_id in covered_partnerships
        if owner is None and not covered:
            reach.unreached.append(obligation_id)
    return list(found.values())
