"""Tables of the obligations domain beside the registry's: each open obligation's judged state,
kept so that counts and lists read it by index (compliance.obligations.judged keeps it)."""

import datetime as dt

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class ObligationState(SQLModel, table=True):
    """An obligation's process and outcome status, next due date and sort names, as
    view_obligations_for judged them on `judged_on` with a due-soon window of `due_soon_days`.
    A row for another date or window is stale: it is judged again before it is read."""

    __tablename__ = "obligation_state"
    __table_args__ = (Index("ix_obligation_state_status_next_due", "status", "next_due"),)

    obligation_id: int = Field(primary_key=True, foreign_key="obligation.id", ondelete="CASCADE")
    judged_on: dt.date
    due_soon_days: int
    status: str = Field(max_length=30)
    outcome: str = Field(max_length=30, index=True)
    next_due: dt.date | None = None
    # The holder's name and the source's and item's titles: the list's order after the date.
    holder_name: str = Field(sa_column=Column(Text, nullable=False))
    source_title: str = Field(sa_column=Column(Text, nullable=False))
    item_title: str = Field(sa_column=Column(Text, nullable=False))


class JudgedEpoch(SQLModel, table=True):
    """One row whose token is drawn afresh by every commit that changes what a judgement looks
    at: a reader keeps what it judged only if the token is the one it saw when it began reading,
    and what a process remembers of a judgement holds only while the token is unchanged. A
    random token, not a count: a count comes back to an earlier value when a transaction that
    moved it is rolled back (as each test's is), a token drawn again never does."""

    __tablename__ = "obligation_state_epoch"

    id: int = Field(default=1, primary_key=True)
    token: str = Field(default="", max_length=32)
