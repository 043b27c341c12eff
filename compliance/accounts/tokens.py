"""Personal API tokens: shown once, stored as a SHA-256, expiring, revocable.

A token is 32 random bytes, so a plain SHA-256 is enough to store it (there is nothing to guess
by brute force, unlike a password); looking one up is a single indexed query.
"""

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Update, update
from sqlmodel import Session, col, select

from compliance.accounts.models import ApiToken
from compliance.audit.service import record as audit
from compliance.db import row_id
from compliance.errors import NotFound, Refused
from compliance.models import User, utcnow

PREFIX = "cpt_"
MAX_EXPIRES_DAYS = 366
DEFAULT_EXPIRES_DAYS = 90
# Touch last_used_at at most this often, so that reading the API does not write on every request.
TOUCH_EVERY = dt.timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *,
    session: Session,
    user: User,
    name: str,
    expires_days: int = DEFAULT_EXPIRES_DAYS,
    actor: str,
) -> tuple[str, ApiToken]:
    """A new token for a user; returns the token itself, which is never shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Refused("Give the token a name of 1 to 100 characters", field="name")
    if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise Refused(f"A token lasts from 1 to {MAX_EXPIRES_DAYS} days", field="expires_days")
    if not user.is_active:
        raise Refused(f"{user.email} is not an active user", field="email")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=row_id(user),
        name=name,
        token_hash=_digest(token),
        prefix=token[:10],
        expires_at=utcnow() + dt.timedelta(days=expires_days),
    )
    session.add(row)
    session.flush()
    after = {"user": user.email, "name": name, "prefix": row.prefix, "expires_at": row.expires_at}
    audit(
        session=session,
        actor=actor,
        action="token.created",
        entity_type="api_token",
        entity_id=row.id,
        after=after,
    )
    return token, row


def tokens_of(*, session: Session, user_id: int) -> list[ApiToken]:
    """A user's tokens, newest first, revoked and expired ones included."""
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    return list(
        session.exec(query.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc()))
    )


def is_live(token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Neither revoked nor expired."""
    now = now or utcnow()
    return token.revoked_at is None and token.expires_at > now


def revoke_token(*, session: Session, user_id: int, token_id: int, actor: str) -> ApiToken:
    """Revoke one of a user's tokens; revoking twice is harmless."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"No token {token_id} for this user", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit(
            session=session,
            actor=actor,
            action="token.revoked",
            entity_type="api_token",
            entity_id=row.id,
            after={"prefix": row.prefix},
        )
    return row


def live_token(*, session: Session, token: str) -> tuple[ApiToken, User] | None:
    """A live token and its active user, or None."""
    if not token.startswith(PREFIX):
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or not is_live(row, utcnow()):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row, user


def user_for_token(*, session: Session, token: str) -> User | None:
    """The active user a live token belongs to, or None."""
    found = live_token(session=session, token=token)
    return found[1] if found else None


def token_touch(row: ApiToken) -> Update | None:
    """The statement that records a token's use, or None if it was recorded lately."""
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at <= TOUCH_EVERY:
        return None
    return update(ApiToken).where(col(ApiToken.id) == row.id).values(last_used_at=now)
