"""Calendar feeds: every deadline of a user's scope or of a body as an all-day event, at a secret
address that can be revoked. Only a SHA-256 of each token is stored."""

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

from icalendar import Alarm, Calendar, Event
from sqlalchemy import or_
from sqlmodel import Session, col, select

from compliance.access import principal_for
from compliance.audit.service import record as audit
from compliance.config import Settings
from compliance.db import row_id, stored
from compliance.errors import Refused
from compliance.models import Body, Obligation, PartnershipMember, User, utcnow
from compliance.obligations.status import ProcessStatus, obligation_states
from compliance.reminders.models import CalendarToken
from compliance.reminders.service import Directory, DueItem
from compliance.web import uk_date

# Alarms only for deadlines still ahead with nothing recorded: an alarm in the past would go off
# the moment someone subscribes.
AHEAD = {ProcessStatus.due_soon, ProcessStatus.not_yet_due}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_url(*, settings: Settings, token: str) -> str:
    """The address a calendar application subscribes to."""
    return f"{settings.base_url.rstrip('/')}/calendar/{token}.ics"


def issue_token(
    *, session: Session, actor: str, user_id: int | None = None, body_id: int | None = None
) -> tuple[str, CalendarToken]:
    """A new secret calendar address for a user or a body; the token is shown once, never kept."""
    if (user_id is None) == (body_id is None):
        raise Refused("a calendar is for one user or one body")
    token = secrets.token_urlsafe(32)
    row = CalendarToken(token_hash=_digest(token), user_id=user_id, body_id=body_id)
    session.add(row)
    session.flush()
    subject = ("user", user_id) if user_id is not None else ("body", body_id)
    audit(
        session=session,
        actor=actor,
        action="calendar_token.issued",
        entity_type=subject[0],
        entity_id=subject[1],
        after={"token_id": row.id},
    )
    return token, row


def revoke_token(*, session: Session, actor: str, token_id: int) -> bool:
    """Stop a calendar address working; tell whether it was live."""
    row = session.get(CalendarToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    subject = ("user", row.user_id) if row.user_id is not None else ("body", row.body_id)
    audit(
        session=session,
        actor=actor,
        action="calendar_token.revoked",
        entity_type=subject[0],
        entity_id=subject[1],
        after={"token_id": row.id},
    )
    return True


def find_token(*, session: Session, token: str) -> CalendarToken | None:
    """The live calendar token for a secret, or None if unknown or revoked."""
    query = select(CalendarToken).where(CalendarToken.token_hash == _digest(token))
    row = session.exec(query).first()
    return row if row is not None and row.revoked_at is None else None


def _scope(session: Session, row: CalendarToken, on: dt.date) -> tuple[str, set, set] | None:
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        principal = principal_for(session=session, user=user)
        return user.name, set(principal.body_ids), set(principal.readable_partnership_ids)
    body = stored(session, Body, row.body_id)
    member_of = session.exec(
        select(PartnershipMember.partnership_id).where(
            col(PartnershipMember.body_id) == body.id,
            or_(col(PartnershipMember.end_date).is_(None), col(PartnershipMember.end_date) > on),
        )
    ).all()
    return body.name, {body.id}, set(member_of)


def feed(*, session: Session, settings: Settings, token: str) -> bytes | None:
    """The iCalendar feed for a secret token, or None if the token is unknown or revoked."""
    row = find_token(session=session, token=token)
    on = settings.today()
    scope = _scope(session, row, on) if row is not None else None
    if scope is None:
        return None
    name, body_ids, partnership_ids = scope
    obligations = list(
        session.exec(
            select(Obligation)
            .where(
                col(Obligation.closed_date).is_(None),
                col(Obligation.not_applicable_reason).is_(None),
            )
            .where(
                or_(
                    col(Obligation.body_id).in_(body_ids),
                    col(Obligation.partnership_id).in_(partnership_ids),
                )
            )
            .order_by(col(Obligation.id))
        )
    )
    states = obligation_states(
        session=session, obligations=obligations, on=on, due_soon_days=settings.due_soon_days
    )
    directory = Directory(session, settings, on)
    calendar = _calendar(name)
    domain = urlsplit(directory.base_url).hostname or "localhost"
    for obligation in obligations:
        offsets = directory.offsets(obligation)
        for period in states[row_id(obligation)][1]:
            item = directory.item(obligation, period.occurrence)
            calendar.add_component(_event(item, period.status, offsets, domain))
    return calendar.to_ical()


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Partnership duties tracker//Deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Partnership duties: {name}")
    calendar.add("x-wr-caldesc", f"Every statutory partnership deadline for {name}")
    # Ask subscribing applications to fetch changes twice a day.
    calendar.add("refresh-interval", dt.timedelta(hours=12), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT12H")
    return calendar


def _event(item: DueItem, status: ProcessStatus, offsets: list[int], domain: str) -> Event:
    event = Event()
    # The period's id, never its date: when a due date changes, the same event moves.
    event.add("uid", f"occurrence-{item.occurrence_id}@{domain}")
    event.add("dtstamp", utcnow())
    event.add("dtstart", item.due_date)
    event.add("dtend", item.due_date + dt.timedelta(days=1))
    event.add("summary", f"Due: {item.item} – {item.holder}")
    event.add("description", _description(item, status))
    event.add("url", item.obligation_url)
    event.add("transp", "TRANSPARENT")
    event.add("categories", [status.value.replace("_", " ").capitalize()])
    if status in AHEAD:
        for days in offsets:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            when = "today" if days == 0 else f"in {days} day{'s' * (days != 1)}"
            alarm.add("description", f"{item.item} – {item.holder} is due {when}")
            alarm.add("trigger", -dt.timedelta(days=days))
            event.add_component(alarm)
    return event


def _description(item: DueItem, status: ProcessStatus) -> str:
    return "\n".join(
        [
            f"{item.holder_label}: {item.holder}",
            f"Duty: {item.duty} ({item.citation})",
            item.citation_url,
            f"For {uk_date(item.period_start_date)} to {uk_date(item.period_end_date)}",
            f"Status: {status.value.replace('_', ' ')}",
            f"See the obligation: {item.obligation_url}",
            f"Record evidence: {item.evidence_url}",
        ]
    )


def calendars_of(*, session: Session, user_id: int) -> list[CalendarToken]:
    """A user's live calendar addresses, newest first."""
    query = (
        select(CalendarToken)
        .where(col(CalendarToken.user_id) == user_id, col(CalendarToken.revoked_at).is_(None))
        .order_by(col(CalendarToken.created_at).desc(), col(CalendarToken.id).desc())
    )
    return list(session.exec(query))


def calendar_of(*, session: Session, user_id: int, token_id: int) -> CalendarToken | None:
    """One of a user's live calendar addresses by its number; None if not theirs or revoked."""
    row = session.get(CalendarToken, token_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return None
    return row
