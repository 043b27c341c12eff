"""What people choose: a user's digest and pause with a delegate, a body's reminder days and
senior responsible officer."""

import datetime as dt
from typing import TypeGuard

from sqlmodel import Session, select

from compliance.access import principal_for
from compliance.accounts.service import normalise_email
from compliance.audit.service import record as audit
from compliance.audit.service import snapshot
from compliance.db import row_id
from compliance.errors import Refused
from compliance.models import Body, User, utcnow
from compliance.reminders.models import EmailPreference, ReminderSetting


def parse_days(value: str | None) -> list[int]:
    """Reminder offsets such as "30,7,1", largest first; empty when unset or malformed."""
    try:
        days = {int(part) for part in (value or "").split(",") if part.strip()}
    except ValueError:
        return []
    return sorted((d for d in days if 0 <= d <= 366), reverse=True)


def is_away(preference: EmailPreference | None, on: dt.date) -> TypeGuard[EmailPreference]:
    """Tell whether a user has paused email on this date."""
    if preference is None or preference.paused_from_date is None:
        return False
    until = preference.paused_until_date
    return preference.paused_from_date <= on and (until is None or on <= until)


def preference_of(*, session: Session, user_id: int) -> EmailPreference | None:
    """A user's email preferences, or None while they have chosen nothing."""
    return session.get(EmailPreference, user_id)


def delegate_choices(*, session: Session, user: User) -> list[User]:
    """Who may stand in for a user while they are away, by name: for an admin any other active
    user; for anyone else the admins and the users who can read everything the user can (a
    delegate receives the user's reminders, escalations and inspectors' queries, so must never
    be someone who could not open them in the pages)."""
    others = session.exec(
        select(User).where(User.is_active, User.id != user.id).order_by(User.name, User.email)
    ).all()
    if user.role == "admin":
        return list(others)
    mine = principal_for(session=session, user=user)

    def shares(other: User) -> bool:
        if other.role == "admin":
            return True
        theirs = principal_for(session=session, user=other)
        return bool(mine.body_ids or mine.readable_partnership_ids) and (
            mine.body_ids <= theirs.body_ids
            and mine.readable_partnership_ids <= theirs.readable_partnership_ids
        )

    return [other for other in others if shares(other)]


def set_preferences(
    *,
    session: Session,
    actor: str,
    user: User,
    digest_only: bool,
    paused_from_date: dt.date | None = None,
    paused_until_date: dt.date | None = None,
    delegate_id: int | None = None,
) -> EmailPreference:
    """Record whether a user wants the digest instead of single reminders, and any pause."""
    if paused_until_date and not paused_from_date:
        raise Refused("give the date the pause starts", field="paused_from_date")
    if paused_from_date and paused_until_date and paused_until_date < paused_from_date:
        raise Refused("the pause ends before it starts", field="paused_until_date")
    if delegate_id is not None:
        delegate = session.get(User, delegate_id)
        if delegate is None or not delegate.is_active or delegate.id == user.id:
            raise Refused("choose another active user as delegate", field="delegate_id")
        if delegate not in delegate_choices(session=session, user=user):
            raise Refused(
                "choose a delegate who can see every body and partnership you can",
                field="delegate_id",
            )
    preference = session.get(EmailPreference, user.id) or EmailPreference(user_id=row_id(user))
    before = snapshot(preference) if preference in session else None
    preference.digest_only, preference.delegate_id = digest_only, delegate_id
    preference.paused_from_date, preference.paused_until_date = paused_from_date, paused_until_date
    preference.updated_at = utcnow()
    session.add(preference)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="email_preference.set",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=snapshot(preference),
    )
    return preference


def body_reminders_of(*, session: Session, body_id: int) -> ReminderSetting | None:
    """A body's own reminder days and senior responsible officer, or None while never set."""
    return session.get(ReminderSetting, body_id)


def set_body_reminders(
    *,
    session: Session,
    actor: str,
    body_id: int,
    reminder_days: str | None,
    sro_name: str | None = None,
    sro_email: str | None = None,
) -> ReminderSetting:
    """Record a body's own reminder days and its senior responsible officer, who needs an
    email address for the escalations to reach them. Everything is checked before anything
    changes; a refusal names its field."""
    days = (reminder_days or "").strip() or None
    if days is not None and len(parse_days(days)) != len(days.split(",")):
        raise Refused(
            "reminder days are whole numbers of days, such as 30,7,1", field="reminder_days"
        )
    name, email = (sro_name or "").strip() or None, (sro_email or "").strip() or None
    if name and not email:
        raise Refused(
            "Give the senior responsible officer's email address, or no name", field="sro_email"
        )
    if email:
        try:
            email = normalise_email(email)
        except Refused as exc:
            raise Refused(
                "sro_email is not an email address, like name@example.org", field="sro_email"
            ) from exc
    if session.get(Body, body_id) is None:
        raise Refused(f"no body with id {body_id}", field="body_id")
    setting = session.get(ReminderSetting, body_id) or ReminderSetting(body_id=body_id)
    before = snapshot(setting) if setting in session else None
    setting.reminder_days, setting.sro_name, setting.sro_email = days, name, email
    setting.updated_at = utcnow()
    session.add(setting)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="reminder_setting.set",
        entity_type="body",
        entity_id=body_id,
        before=before,
        after=snapshot(setting),
    )
    return setting
