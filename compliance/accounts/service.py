"""Accounts: users, passwords (argon2id), server-side sessions, throttled sign-in."""

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from pwdlib import PasswordHash
from sqlalchemy import ColumnElement, Update, delete, func, update
from sqlmodel import Session, col, select

from compliance.accounts.models import UserSession
from compliance.accounts.throttle import is_throttled, record_attempt, succeeded
from compliance.accounts.tokens import is_live, revoke_token, tokens_of
from compliance.audit.service import record as audit
from compliance.audit.service import snapshot
from compliance.db import begin_writing, count_rows, row_id
from compliance.errors import Refused
from compliance.models import Body, Partnership, User, UserScope, utcnow
from compliance.paging import Keyset, read_page

PASSWORDS = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when no account matches, so that a wrong email costs as long as a wrong
    # password. Made on first use, not at import: hashing costs every command 64 MiB and time.
    return PASSWORDS.hash(secrets.token_urlsafe(16))


SIGN_IN_FAILED = "Enter a correct email address and password"
THROTTLED = "Too many attempts to sign in. Wait 15 minutes, then try again"
MIN_PASSWORD_LENGTH = 12
# Said when passwords are turned off (COMPLIANCE_LOCAL_PASSWORDS) for the person asking.
PASSWORDS_OFF = "Passwords are turned off here: sign in with your work account"


class Role(StrEnum):
    admin = "admin"
    officer = "officer"
    inspector = "inspector"


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return PASSWORDS.hash(password)


def password_matches(user: User, password: str) -> bool:
    """Whether this is the user's password."""
    if not user.password_hash:
        return False
    return PASSWORDS.verify(password, user.password_hash)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """An email address checked and in its normal form, or Refused."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Refused(f"Enter a valid email address: {exc}", field="email") from exc


def create_user(
    *,
    session: Session,
    email: str,
    name: str,
    role: str,
    password: str | None,
    body_codes: Sequence[str] = (),
    partnership_slugs: Sequence[str] = (),
    actor: str = "cli",
) -> User:
    """Add a user with a role and a scope; the password is stored only as an argon2id hash (None:
    no password, for someone who signs in with a work account)."""
    email = normalise_email(email)
    if role not in Role.__members__:
        raise Refused(f"role must be one of: {', '.join(Role)}", field="role")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise Refused(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if session.exec(select(User).where(User.email == email)).first():
        raise Refused(f"a user with the email {email} already exists", field="email", status=409)
    scopes = _scopes(session, body_codes, partnership_slugs)
    hashed = hash_password(password) if password is not None else None
    user = User(email=email, name=name.strip() or email, role=role, password_hash=hashed)
    session.add(user)
    session.flush()
    for body_id, partnership_id in scopes:
        session.add(UserScope(user_id=row_id(user), body_id=body_id, partnership_id=partnership_id))
    session.flush()
    after = snapshot(user, "id", "email", "name", "role") | {
        "bodies": list(body_codes),
        "partnerships": list(partnership_slugs),
    }
    audit(
        session=session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        after=after,
    )
    return user


def _scopes(
    session: Session, codes: Sequence[str], slugs: Sequence[str]
) -> list[tuple[int | None, int | None]]:
    found: list[tuple[int | None, int | None]] = []
    for code in codes:
        body = session.exec(select(Body).where(Body.code == code.strip().upper())).first()
        if body is None:
            raise Refused(f"no body with code {code}", field="body")
        found.append((body.id, None))
    for slug in slugs:
        partnership = session.exec(select(Partnership).where(Partnership.slug == slug)).first()
        if partnership is None:
            raise Refused(f"no partnership with slug {slug}", field="partnership")
        found.append((None, partnership.id))
    return found


def authenticate(
    *,
    session: Session,
    email: str,
    password: str,
    address: str,
    max_failures: int,
    max_failures_per_address: int,
) -> User:
    """The user these credentials belong to, or Refused with the same words either way.

    The attempt is recorded (and committed) before it is counted or checked, so that attempts
    sent at once cannot all pass the limit: see `throttle`."""
    email = email.strip().lower()
    attempt = record_attempt(session=session, email=email, address=address)
    limits = {"per_account": max_failures, "per_address": max_failures_per_address}
    if is_throttled(session=session, attempt=attempt, **limits):
        raise Refused(THROTTLED, status=429)
    user = session.exec(select(User).where(User.email == email)).first()
    stored = user.password_hash if user and user.password_hash else _dummy_hash()
    valid = PASSWORDS.verify(password, stored) and user is not None and user.is_active
    # In the audit trail (never the password): who tried, from where, and whether it worked. A
    # throttled attempt is recorded above only, so that a flood cannot swell the trail. In a
    # transaction of its own that takes SQLite's write lock as it begins, after the reads.
    begin_writing(session)
    audit(
        session=session,
        actor=email[:254],
        action="user.signed_in" if valid else "user.sign_in_failed",
        entity_type="user",
        entity_id=user.id if user else "unknown",
        after={"address": address[:100]},
    )
    if not valid:
        raise Refused(SIGN_IN_FAILED, status=401)
    assert user is not None, "only a known user's password is valid"
    succeeded(attempt)
    return user


def start_session(
    *,
    session: Session,
    user: User,
    address: str | None,
    user_agent: str | None,
    provider: str | None = None,
) -> tuple[str, UserSession]:
    """A new session for a user (a fresh id at every sign-in), by password or through an
    OpenID `provider`; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_digest(token),
        user_id=row_id(user),
        csrf_token=secrets.token_urlsafe(32),
        address=address,
        user_agent=(user_agent or "")[:300],
        provider=provider,
    )
    session.add(row)
    session.flush()
    return token, row


def load_session(
    *, session: Session, token: str, idle_minutes: int, max_hours: int = 12
) -> tuple[UserSession, User] | None:
    """The live session and its user for a cookie value, or None if unknown, ended, idle for
    `idle_minutes`, or begun more than `max_hours` ago (however active since)."""
    row = session.exec(select(UserSession).where(UserSession.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if now - row.last_seen_at > dt.timedelta(minutes=idle_minutes):
        return None
    if now - row.created_at > dt.timedelta(hours=max_hours):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row, user


def session_touch(row: UserSession) -> Update | None:
    """The statement that records a sign-in's use, or None if it was recorded in the last minute
    (so that reading pages does not write on every request)."""
    now = utcnow()
    last = row.last_seen_at
    if now - last <= dt.timedelta(minutes=1):
        return None
    return update(UserSession).where(col(UserSession.id) == row.id).values(last_seen_at=now)


def end_session(*, session: Session, token: str) -> str | None:
    """Sign out: the session can never be used again. Returns the OpenID provider the session
    was begun through, if it was."""
    row = session.exec(select(UserSession).where(UserSession.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = utcnow()
    user = session.get(User, row.user_id)
    actor = user.email if user else str(row.user_id)
    audit(
        session=session,
        actor=actor,
        action="user.signed_out",
        entity_type="user",
        entity_id=row.user_id,
    )
    return row.provider


def revoke_sessions(*, session: Session, user_id: int, keep_id: int | None = None) -> None:
    """End every session of a user but `keep_id` (after a password change, kept for the session
    that changed it; or when access is withdrawn)."""
    live: list[ColumnElement[bool]] = [
        col(UserSession.user_id) == user_id,
        col(UserSession.revoked_at).is_(None),
    ]

    if keep_id is not None:
        live.append(col(UserSession.id) != keep_id)
    session.execute(update(UserSession).where(*live).values(revoked_at=utcnow()))


def scope_of(*, session: Session, user: User) -> tuple[set[int], set[int]]:
    """The body ids and partnership ids a user's scope names."""
    rows = session.exec(select(UserScope).where(UserScope.user_id == user.id)).all()
    return {r.body_id for r in rows if r.body_id}, {
        r.partnership_id for r in rows if r.partnership_id
    }


@dataclass(frozen=True)
class ScopeEntry:
    """A body (by name and code) or a partnership (by name and slug) in a user's scope."""

    name: str
    code: str | None
    slug: str | None


def scope_entries(*, session: Session, user_ids: list[int]) -> dict[int, list[ScopeEntry]]:
    """What each user's scope names, bodies first, each in the order it was given; one query."""
    query = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() to 4 columns
            col(UserScope.user_id),
            col(Body.name),
            col(Body.code),
            col(Partnership.name),
            col(Partnership.slug),
        )
        .outerjoin(Body, col(Body.id) == UserScope.body_id)
        .outerjoin(Partnership, col(Partnership.id) == UserScope.partnership_id)
        .where(col(UserScope.user_id).in_(user_ids))
        .order_by(col(UserScope.partnership_id).is_not(None), col(UserScope.id))
    )
    found: dict[int, list[ScopeEntry]] = {i: [] for i in user_ids}
    for user_id, body, code, partnership, slug in session.exec(query):
        found[user_id].append(
            ScopeEntry(body, code, None) if code else ScopeEntry(partnership, None, slug)
        )
    return found


def scopes_of(*, session: Session, user_ids: list[int]) -> dict[int, tuple[list[str], list[str]]]:
    """The body codes and partnership slugs each user's scope names."""
    return {
        user_id: ([e.code for e in entries if e.code], [e.slug for e in entries if e.slug])
        for user_id, entries in scope_entries(session=session, user_ids=user_ids).items()
    }


def get_user(*, session: Session, user_id: int) -> User | None:
    """Return one user, or None."""
    return session.get(User, user_id)


# The API's order of users (as they were added), and the admin's list's (by name, then email).
USERS_BY_ID = Keyset((col(User.id),))
USERS_BY_NAME = Keyset((col(User.name), col(User.email)))


def list_users(*, session: Session, after: tuple[int] | None = None, limit: int = 50) -> list[User]:
    """Users in id order after the key `after`."""
    return read_page(session, select(User), USERS_BY_ID, after=after, limit=limit)


def users_by_name(*, session: Session, offset: int = 0, limit: int = 50) -> list[User]:
    """Users by name (then email), a page at a time."""
    return list(session.exec(USERS_BY_NAME.numbered(select(User), start=offset, size=limit)))


def count_users(*, session: Session) -> int:
    """How many users there are, active or not."""
    return count_rows(session, select(User))


def last_sign_in(*, session: Session, user_id: int) -> dt.datetime | None:
    """When the user's latest session began, or None."""
    query = select(func.max(UserSession.created_at)).where(UserSession.user_id == user_id)
    return session.exec(query).one()


def _record(session: Session, user: User) -> dict:
    codes, slugs = scopes_of(session=session, user_ids=[row_id(user)])[row_id(user)]
    fields = snapshot(user, "id", "email", "name", "role", "is_active")
    return fields | {"bodies": codes, "partnerships": slugs}


def _last_admin(session: Session, user: User) -> bool:
    others = select(func.count()).where(
        col(User.role) == Role.admin, col(User.is_active).is_(True), col(User.id) != user.id
    )
    return user.role == Role.admin and user.is_active and session.exec(others).one() == 0


def update_user(
    *,
    session: Session,
    user: User,
    actor: str,
    name: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
    body_codes: list[str] | None = None,
    partnership_slugs: list[str] | None = None,
) -> User:
    """Change what is given of a user's name, role, state and scope (None leaves it as it is).

    Everything is checked before anything changes. Deactivating ends the user's sessions and
    revokes their tokens; the last active administrator cannot be demoted or deactivated.
    """
    before = _record(session, user)
    if name is not None and not name.strip():
        raise Refused("Enter the user's name", field="name")
    if role is not None and role not in Role.__members__:
        raise Refused(f"role must be one of: {', '.join(Role)}", field="role")
    demoted = role not in (None, Role.admin) or is_active is False
    if demoted and _last_admin(session, user):
        field = "is_active" if is_active is False else "role"
        message = "This is the only active administrator: make someone else one first"
        raise Refused(message, field=field, status=409)
    scopes = None
    if body_codes is not None or partnership_slugs is not None:
        codes = before["bodies"] if body_codes is None else body_codes
        slugs = before["partnerships"] if partnership_slugs is None else partnership_slugs
        scopes = _scopes(session, codes, slugs)
    user.name = user.name if name is None else name.strip()
    user.role = user.role if role is None else role
    if scopes is not None:
        session.execute(delete(UserScope).where(col(UserScope.user_id) == user.id))
        session.add_all(
            UserScope(user_id=row_id(user), body_id=b, partnership_id=p) for b, p in scopes
        )
    if is_active is False and user.is_active:
        _withdraw_access(session, user, actor)
    user.is_active = user.is_active if is_active is None else is_active
    session.flush()
    after = _record(session, user)
    if after != before:
        audit(
            session=session,
            actor=actor,
            action="user.updated",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after=after,
        )
    return user


def _withdraw_access(session: Session, user: User, actor: str) -> None:
    revoke_sessions(session=session, user_id=row_id(user))
    for token in tokens_of(session=session, user_id=row_id(user)):
        if is_live(token):
            revoke_token(session=session, user_id=row_id(user), token_id=row_id(token), actor=actor)
