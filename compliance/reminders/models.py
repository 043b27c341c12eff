"""Tables of the reminders domain (preferences, calendar tokens). The outbox's table is in
compliance.models, beside the mailer and the outbox that send from it."""

import datetime as dt

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from compliance.db import UtcDateTime
from compliance.models import OutboxMessage as OutboxMessage  # imported from here by the tests


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _moment(nullable: bool = True):
    if nullable:
        return Field(default=None, sa_type=UtcDateTime)
    return Field(default_factory=_now, sa_type=UtcDateTime)


class EmailPreference(SQLModel, table=True):
    """How a user wants their email: single reminders or the weekly digest, and when away."""

    __tablename__ = "email_preference"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    digest_only: bool = False
    paused_from_date: dt.date | None = None
    paused_until_date: dt.date | None = None
    delegate_id: int | None = Field(default=None, foreign_key="user.id")
    updated_at: dt.datetime = _moment(nullable=False)


class ReminderSetting(SQLModel, table=True):
    """A body's own reminder offsets and its senior responsible officer for escalations."""

    __tablename__ = "reminder_setting"

    body_id: int = Field(foreign_key="body.id", primary_key=True)
    # Days before a due date, such as "30,7,1"; None means the application's default.
    reminder_days: str | None = Field(default=None, max_length=100)
    sro_name: str | None = Field(default=None, max_length=200)
    sro_email: str | None = Field(default=None, max_length=254)
    updated_at: dt.datetime = _moment(nullable=False)


class CalendarToken(SQLModel, table=True):
    """A secret calendar address for a user or a body; only the token's SHA-256 is kept."""

    __tablename__ = "calendar_token"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (body_id IS NULL)", name="one_owner"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    body_id: int | None = Field(default=None, foreign_key="body.id", index=True)
    created_at: dt.datetime = _moment(nullable=False)
    revoked_at: dt.datetime | None = _moment()
