"""Tables of the accounts domain: server-side sessions, sign-in attempts, API tokens and the
links between users and their work accounts at OpenID providers."""

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from compliance.db import UtcDateTime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UserSession(SQLModel, table=True):
    """A signed-in session; the cookie holds a random id, the table only its SHA-256."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime)
    last_seen_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    # The OpenID provider the session was begun through (its configured name), or None for a
    # password: at sign-out the person is offered that provider's sign-out too.
    provider: str | None = Field(default=None, max_length=40)


class SignInAttempt(SQLModel, table=True):
    """A sign-in attempt, kept to throttle guessing per account and per address."""

    __tablename__ = "sign_in_attempt"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    address: str = Field(max_length=64, index=True)
    succeeded: bool
    attempted_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime, index=True)


class ApiToken(SQLModel, table=True):
    """A personal API token, sent as `Authorization: Bearer`; the table keeps only its SHA-256."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    # The first characters, shown in lists so that a person can tell their tokens apart.
    prefix: str = Field(max_length=16)
    created_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class IdentityLink(SQLModel, table=True):
    """A user's account at an OpenID provider, found again by the provider's subject."""

    __tablename__ = "identity_link"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    provider: str = Field(max_length=40)
    subject: str = Field(max_length=255)
    # The address the provider gave when the link was made, kept for the admin's list.
    email: str = Field(max_length=254)
    linked_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime)
    last_sign_in_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
