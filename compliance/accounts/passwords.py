"""Passwords: people change their own, knowing the current one (the account page), and an
administrator sets a new one for someone who has lost theirs (`compliance user set-password`).
Either way the user's other sign-ins end, and the audit trail records it (never the password)."""

from sqlmodel import Session

from compliance.accounts.service import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    password_matches,
    revoke_sessions,
)
from compliance.accounts.throttle import is_throttled, record_attempt, succeeded
from compliance.audit.service import record as audit
from compliance.db import row_id
from compliance.errors import Refused
from compliance.models import User

CURRENT_WRONG = "Your current password is not right"
THROTTLED = "Too many wrong passwords. Wait 15 minutes, then try again"
TOO_SHORT = f"Enter a new password of at least {MIN_PASSWORD_LENGTH} characters"


def new_password_errors(*, current: str, new: str, confirm: str) -> dict[str, str]:
    """What is wrong with the change-password form before the current password is checked, by
    field in the form's order; empty when nothing is."""
    errors = {}
    if not current:
        errors["current_password"] = "Enter your current password"
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = TOO_SHORT
    elif new == current:
        errors["new_password"] = "Enter a new password that is different from your current one"
    if not confirm:
        errors["confirm_password"] = "Enter your new password again"
    elif confirm != new:
        errors["confirm_password"] = "The passwords you entered do not match"
    return errors


def set_password(
    *,
    session: Session,
    user: User,
    password: str,
    actor: str,
    keep_session_id: int | None = None,
    action: str = "user.password_set",
) -> None:
    """Give a user a new password and end their sessions, all but `keep_session_id` (the one
    they changed it from)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refused(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    user.password_hash = hash_password(password)
    revoke_sessions(session=session, user_id=row_id(user), keep_id=keep_session_id)
    audit(session=session, actor=actor, action=action, entity_type="user", entity_id=user.id)


def change_password(
    *,
    session: Session,
    user: User,
    current: str,
    new: str,
    address: str,
    session_id: int,
    limits: dict[str, int],
) -> None:
    """Change your own password, from the sign-in `session_id`, which stays signed in.

    The current password is checked as a sign-in attempt is, throttled by the same `limits`,
    so that a sign-in left open cannot be used to guess it. A wrong one changes nothing."""
    attempt = record_attempt(session=session, email=user.email, address=address)
    if is_throttled(session=session, attempt=attempt, **limits):
        raise Refused(THROTTLED, field="current_password", status=429)
    if not password_matches(user, current):
        raise Refused(CURRENT_WRONG, field="current_password", status=422)
    succeeded(attempt)
    set_password(
        session=session,
        user=user,
        password=new,
        actor=user.email,
        keep_session_id=session_id,
        action="user.password_changed",
    )
