"""The weekly digest: per user, what falls due in the next 30 days and the open findings in
scope, queued once per user and week."""

import datetime as dt

from sqlalchemy import or_
from sqlmodel import Session, col, select

from compliance import mailer
from compliance.access import Principal, principal_for
from compliance.checks.findings import select_findings, worst_first
from compliance.config import Settings
from compliance.db import row_id
from compliance.models import Obligation, Period, User
from compliance.obligations.status import current_evidence
from compliance.reminders.service import Directory, DueItem, QueueReport, Recipient

DIGEST_DAYS = 30
# A digest lists this many of each; the rest are counted and a link shows them all.
DIGEST_ROWS = 50


def week_of(on: dt.date) -> dt.date:
    """The Monday of the week a date falls in."""
    return on - dt.timedelta(days=on.weekday())


def _in_scope(principal: Principal):
    return or_(
        col(Obligation.body_id).in_(principal.body_ids),
        col(Obligation.partnership_id).in_(principal.readable_partnership_ids),
    )


def due_soon(
    *, session: Session, directory: Directory, principal: Principal, on: dt.date
) -> list[DueItem]:
    """Periods in a user's scope due in the next 30 days with no evidence yet, soonest first."""
    rows = session.exec(
        select(Period, Obligation)
        .join(Obligation, col(Obligation.id) == Period.obligation_id)
        .where(
            col(Obligation.closed_date).is_(None), col(Obligation.not_applicable_reason).is_(None)
        )
        .where(_in_scope(principal))
        .where(Period.due_date >= on, Period.due_date <= on + dt.timedelta(DIGEST_DAYS))
        .order_by(col(Period.due_date), col(Period.id))
    ).all()
    evidenced = current_evidence(
        session=session, occurrence_ids=[row_id(o) for o, _ in rows], on=on
    )
    return [
        directory.item(obligation, occurrence)
        for occurrence, obligation in rows
        if occurrence.id not in evidenced
    ]


def queue_digests(*, session: Session, settings: Settings, on: dt.date) -> QueueReport:
    """Queue every active user's digest for the week of `on`; a second run adds nothing."""
    directory = Directory(session, settings, on)
    monday = week_of(on)
    report = QueueReport()
    users = session.exec(
        select(User).where(col(User.is_active).is_(True)).order_by(col(User.id))
    ).all()
    keys = {user.id: f"digest:{user.id}:{monday.isoformat()}" for user in users}
    already = mailer.queued_keys(session=session, keys=list(keys.values()))
    for user in users:
        if keys[user.id] in already:
            report.already_queued += 1
            continue
        principal = principal_for(session=session, user=user)
        if not (principal.body_ids or principal.readable_partnership_ids):
            continue  # nothing in scope, nothing to say
        # Only a single reminder can be routed to the digest, so this is a Recipient or None.
        recipient = directory.route(user)
        if not isinstance(recipient, Recipient):
            report.no_address += 1  # away with nobody to stand in: next week's will come
            continue
        new = mailer.enqueue(
            session=session,
            settings=settings,
            key=keys[user.id],
            kind="digest",
            to_address=recipient.address,
            email=_digest(session, directory, principal, recipient, monday),
            to_user_id=recipient.user_id,
        )
        report.queued["digest"] = report.queued.get("digest", 0) + new
    return report


def _digest(session, directory, principal, recipient, monday):
    due = due_soon(session=session, directory=directory, principal=principal, on=directory.on)
    # An admin's digest too is about the bodies and partnerships in their own scope.
    mine = select_findings(within=(principal.body_ids, principal.readable_partnership_ids))
    findings = worst_first(session=session, query=mine)
    base = directory.base_url
    return mailer.digest_email(
        base_url=base,
        recipient=recipient,
        week_of=monday,
        due=due[:DIGEST_ROWS],
        findings=[
            (f, f"{base}/obligations/{f.obligation_id}" if f.obligation_id else None)
            for f in findings[:DIGEST_ROWS]
        ],
        more={
            "due": max(len(due) - DIGEST_ROWS, 0),
            "findings": max(len(findings) - DIGEST_ROWS, 0),
        },
    )
