"""Tables of evaluation rounds, in the spirit of the Partnership Outcomes Evaluation Toolkit
(University of Birmingham, Health Services Management Centre): a survey of the partners' staff,
then a check with the people who use services and carers.

An answer is stored with its round and stage only: never the invitation, the user who typed it
in, or a time, so that nothing in the record ties what was said to who said it.
"""

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from compliance.db import UtcDateTime

# Results of a stage show once it has this many answers, unless the round says otherwise.
DEFAULT_MIN_ANSWERS = 5
# How many answers the round's shared link takes before it stops: a bound on a link passed on.
DEFAULT_MAX_LINK_ANSWERS = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EvaluationRound(SQLModel, table=True):
    """One round of a partnership's evaluation, open between two dates."""

    __tablename__ = "evaluation_round"

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int = Field(foreign_key="partnership.id", index=True)
    title: str = Field(max_length=200)
    opens_date: dt.date
    closes_date: dt.date
    min_answers: int = DEFAULT_MIN_ANSWERS
    max_link_answers: int = DEFAULT_MAX_LINK_ANSWERS
    # open, or closed (early, by an officer; a round also stops taking answers after closes_date).
    status: str = Field(default="open", max_length=10)
    closed_date: dt.date | None = None
    # The link staff share with people who use services. Kept as it is, not hashed, because
    # staff copy it again from the round's page; it admits answers to that stage only, up to
    # max_link_answers.
    public_token: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime)


class EvaluationInvitation(SQLModel, table=True):
    """A private, single-use link to the partners' survey; only the token's SHA-256 is kept."""

    __tablename__ = "evaluation_invitation"
    __table_args__ = (UniqueConstraint("round_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="evaluation_round.id")
    email: str = Field(max_length=254)
    token_hash: str = Field(max_length=64, unique=True)
    # Whether, not when: a time of use beside the answers could tell who gave which.
    used: bool = False
    created_at: dt.datetime = Field(default_factory=_now, sa_type=UtcDateTime)


class EvaluationAnswer(SQLModel, table=True):
    """One person's answers to one stage of a round, with nothing that says who they are."""

    __tablename__ = "evaluation_answer"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="evaluation_round.id", index=True)
    # partners (their staff's survey) or people (people who use services and carers).
    stage: str = Field(max_length=10)
    # invitation, link (the round's shared link) or session (typed in by staff afterwards).
    channel: str = Field(max_length=10)
    # Statement key -> 1 (strongly disagree) to 5 (strongly agree); right_outcomes -> yes/partly/no.
    choices: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The partnership's outcomes a partner expects to change.
    outcome_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Question key -> free text.
    texts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
