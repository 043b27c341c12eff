"""The tables. Names are singular; datetimes end in _at and dates in _date."""

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import compliance.db  # noqa: F401  (sets the naming convention before any table is declared)
from compliance.db import UtcDateTime


def utcnow() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def _created_at() -> dt.datetime:
    return Field(default_factory=utcnow, sa_type=UtcDateTime)


def _json_list() -> list:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _long_text(nullable: bool = True):
    return Field(default=None if nullable else ..., sa_column=Column(Text, nullable=nullable))


# Registry -------------------------------------------------------------------------------------


class Body(SQLModel, table=True):
    """A public body, identified by its official code (GSS, ODS) or a local one."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=40, index=True)
    nation: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="body.id", index=True)
    website: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=254)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    successor_id: int | None = Field(default=None, foreign_key="body.id")
    verified: bool = True
    note: str | None = _long_text()
    created_at: dt.datetime = _created_at()
    updated_at: dt.datetime = _created_at()


# Catalogue ------------------------------------------------------------------------------------


class Duty(SQLModel, table=True):
    """A statutory duty from the catalogue, kept in place across catalogue versions."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    act: str = Field(max_length=200)
    sections: str = Field(max_length=200)
    url: str = Field(max_length=300)
    jurisdiction: list[str] = _json_list()
    holder_kinds: list[str] = _json_list()
    holders_note: str | None = _long_text()
    partner_kinds: list[str] = _json_list()
    partners_note: str | None = _long_text()
    required_members: list[list[str]] = _json_list()
    summary: str = _long_text(nullable=False)
    typical_evidence: list[str] = _json_list()
    inspection: str | None = _long_text()
    notes: str | None = _long_text()
    verified: bool = True
    unverified_note: str | None = _long_text()
    catalogue_version: str = Field(max_length=40)
    retired_in_version: str | None = Field(default=None, max_length=40)
    created_at: dt.datetime = _created_at()
    updated_at: dt.datetime = _created_at()


class Deliverable(SQLModel, table=True):
    """Something a duty requires, with the cadence that sets its due dates."""

    __table_args__ = (UniqueConstraint("duty_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    duty_id: int = Field(foreign_key="duty.id", index=True)
    slug: str = Field(max_length=80)
    title: str = Field(max_length=200)
    cadence: str = Field(max_length=20)
    interval_years: int | None = None
    year_start: str = Field(default="financial", max_length=20)
    due_relative_to: str = Field(default="period_end", max_length=20)
    due_offset_days: int = 0
    due_date: dt.date | None = None
    held_by: str = Field(default="holder", max_length=20)
    # Empty: every holder of the duty; otherwise only holders of these kinds.
    holder_kinds: list[str] = _json_list()
    due_note: str | None = _long_text()
    # The law that fixes the due date; None when the date is a convention of the catalogue.
    due_set_by: str | None = Field(default=None, max_length=200)
    evidence: list[str] = _json_list()
    verified: bool = True
    retired_in_version: str | None = Field(default=None, max_length=40)


class FundingStream(SQLModel, table=True):
    """A funding programme for a period, such as the Better Care Fund 2025-26."""

    __tablename__ = "funding_stream"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    name: str = Field(max_length=200)
    period_start_date: dt.date
    period_end_date: dt.date
    legal_basis: str | None = _long_text()
    url: str = Field(max_length=300)
    summary: str = _long_text(nullable=False)
    applicant_kinds: list[str] = _json_list()
    verified: bool = True
    unverified_note: str | None = _long_text()
    catalogue_version: str = Field(max_length=40)
    retired_in_version: str | None = Field(default=None, max_length=40)


class FundingCondition(SQLModel, table=True):
    """A joint-working condition of a funding stream, with its deadline or cadence."""

    __tablename__ = "funding_condition"

    __table_args__ = (UniqueConstraint("stream_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="funding_stream.id", index=True)
    slug: str = Field(max_length=80)
    title: str = Field(max_length=200)
    description: str = _long_text(nullable=False)
    cadence: str = Field(default="one_off", max_length=20)
    due_relative_to: str = Field(default="period_end", max_length=20)
    due_offset_days: int = 0
    due_date: dt.date | None = None
    evidence: list[str] = _json_list()
    verified: bool = True
    retired_in_version: str | None = Field(default=None, max_length=40)


# Partnerships and bids ------------------------------------------------------------------------


class Partnership(SQLModel, table=True):
    """A real joint arrangement: a board, a pooled budget, a joint committee."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    name: str = Field(max_length=200)
    form: str = Field(max_length=40)
    description: str | None = _long_text()
    lead_body_id: int | None = Field(default=None, foreign_key="body.id")
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    # Is it worth it? Why it exists in this form, what it costs (a year, as at a date) and
    # gains, and when its partners decide whether it should continue: weighed, with the risks
    # that materialised and the outcomes getting worse, by compliance/partnerships/value.py.
    rationale: str | None = _long_text()
    alternatives: str | None = _long_text()
    benefits: str | None = _long_text()
    staff_days_a_year: int | None = None
    pounds_a_year: int | None = None
    meetings_a_year: int | None = None
    costs_as_at_date: dt.date | None = None
    continuation_decided_date: dt.date | None = None
    continuation_due_date: dt.date | None = None
    created_at: dt.datetime = _created_at()
    updated_at: dt.datetime = _created_at()


class PartnershipMember(SQLModel, table=True):
    """A body's place in a partnership, with its role; leaving sets end_date."""

    __tablename__ = "partnership_member"

    __table_args__ = (UniqueConstraint("partnership_id", "body_id"),)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int = Field(foreign_key="partnership.id", index=True)
    body_id: int = Field(foreign_key="body.id", index=True)
    role: str = Field(max_length=200)
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class PartnershipDuty(SQLModel, table=True):
    """A duty that a partnership discharges for its members."""

    __tablename__ = "partnership_duty"

    partnership_id: int = Field(foreign_key="partnership.id", primary_key=True)
    duty_id: int = Field(foreign_key="duty.id", primary_key=True, index=True)


class Bid(SQLModel, table=True):
    """A bid to a funding stream, made jointly by its applicants."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    stream_id: int = Field(foreign_key="funding_stream.id", index=True)
    lead_body_id: int = Field(foreign_key="body.id")
    partnership_id: int | None = Field(default=None, foreign_key="partnership.id")
    status: str = Field(default="submitted", max_length=20)
    submitted_date: dt.date | None = None
    created_at: dt.datetime = _created_at()


class BidApplicant(SQLModel, table=True):
    """A joint applicant to a bid."""

    __tablename__ = "bid_applicant"

    bid_id: int = Field(foreign_key="bid.id", primary_key=True)
    body_id: int = Field(foreign_key="body.id", primary_key=True, index=True)
    role: str = Field(default="joint applicant", max_length=200)


# Obligations ----------------------------------------------------------------------------------


class Obligation(SQLModel, table=True):
    """One body or partnership held to one deliverable, or one bid to one funding condition."""

    __table_args__ = (
        CheckConstraint("(body_id IS NULL) <> (partnership_id IS NULL)", name="one_holder"),
        CheckConstraint("(deliverable_id IS NULL) <> (condition_id IS NULL)", name="one_source"),
        CheckConstraint("(condition_id IS NULL) = (bid_id IS NULL)", name="condition_via_bid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    body_id: int | None = Field(default=None, foreign_key="body.id", index=True)
    partnership_id: int | None = Field(default=None, foreign_key="partnership.id", index=True)
    deliverable_id: int | None = Field(default=None, foreign_key="deliverable.id", index=True)
    bid_id: int | None = Field(default=None, foreign_key="bid.id", index=True)
    condition_id: int | None = Field(default=None, foreign_key="funding_condition.id")
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    opened_date: dt.date
    closed_date: dt.date | None = None
    closed_reason: str | None = _long_text()
    not_applicable_reason: str | None = _long_text()
    created_at: dt.datetime = _created_at()


class Period(SQLModel, table=True):
    """One period of an obligation's cadence, with its own due date and its own evidence."""

    # Its table, its foreign keys (`occurrence_id`), the API's fields and the audit trail's
    # entity type keep the name it had: the API is a published contract and a chained audit
    # event cannot be rewritten.
    __tablename__ = "occurrence"
    __table_args__ = (UniqueConstraint("obligation_id", "period_start_date"),)

    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    period_start_date: dt.date
    period_end_date: dt.date
    due_date: dt.date = Field(index=True)


# Evidence -------------------------------------------------------------------------------------


class Evidence(SQLModel, table=True):
    """A record that something was done; corrections supersede it, withdrawal keeps it."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)
    title: str = Field(max_length=300)
    description: str | None = _long_text()
    effective_date: dt.date
    period_start_date: dt.date | None = None
    period_end_date: dt.date | None = None
    review_by_date: dt.date | None = None
    sha256: str | None = Field(default=None, max_length=64, index=True)
    file_name: str | None = Field(default=None, max_length=255)
    media_type: str | None = Field(default=None, max_length=120)
    size_bytes: int | None = None
    url: str | None = Field(default=None, max_length=500)
    recorded_by_id: int | None = Field(default=None, foreign_key="user.id")
    recorded_at: dt.datetime = _created_at()
    # Indexed: "is this version superseded?" is asked of every piece of evidence on every check.
    # Unique: two corrections of one version at once cannot both land (the chain never forks).
    supersedes_id: int | None = Field(
        default=None, foreign_key="evidence.id", index=True, unique=True
    )
    # Indexed: the review queue sets withdrawn evidence aside by it without reading every piece.
    withdrawn_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    withdrawn_reason: str | None = _long_text()
    withdrawn_by_id: int | None = Field(default=None, foreign_key="user.id")


class EvidenceLink(SQLModel, table=True):
    """Evidence serving an occurrence; one piece may serve several."""

    __tablename__ = "evidence_link"

    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", primary_key=True, index=True)


class EvidenceComment(SQLModel, table=True):
    """An inspector's review (accepted or queried) or an officer's answer, kept as a thread."""

    __tablename__ = "evidence_comment"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    kind: str = Field(max_length=20)
    body: str | None = _long_text()
    created_at: dt.datetime = _created_at()


# Outcomes and risks ---------------------------------------------------------------------------


class Outcome(SQLModel, table=True):
    """What a partnership or obligation is meant to achieve for the people who use services."""

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int | None = Field(default=None, foreign_key="partnership.id", index=True)
    obligation_id: int | None = Field(default=None, foreign_key="obligation.id", index=True)
    title: str = Field(max_length=300)
    description: str | None = _long_text()
    created_at: dt.datetime = _created_at()


# Exactly one of the three is set (written so that SQLite and PostgreSQL read it alike).
ONE_TARGET = (
    " + ".join(
        f"CAST({column} IS NOT NULL AS INTEGER)"
        for column in ("duty_id", "deliverable_id", "condition_id")
    )
    + " = 1"
)


class OutcomeServes(SQLModel, table=True):
    """What a partnership's outcome is the point of: a duty the partnership discharges (every
    deliverable of it), one deliverable, or one funding condition of its bids. An obligation's
    outcome status is read from the outcomes that serve it, and from no other."""

    __tablename__ = "outcome_serves"
    __table_args__ = (
        CheckConstraint(
            ONE_TARGET,
            name="one_target",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    outcome_id: int = Field(foreign_key="outcome.id", index=True)
    duty_id: int | None = Field(default=None, foreign_key="duty.id")
    deliverable_id: int | None = Field(default=None, foreign_key="deliverable.id")
    condition_id: int | None = Field(default=None, foreign_key="funding_condition.id")


class Indicator(SQLModel, table=True):
    """A measure that shows whether an outcome is being achieved."""

    id: int | None = Field(default=None, primary_key=True)
    outcome_id: int = Field(foreign_key="outcome.id", index=True)
    name: str = Field(max_length=300)
    unit: str = Field(max_length=40)
    direction: str = Field(max_length=20)
    baseline_value: float | None = None
    baseline_date: dt.date | None = None
    target_value: float | None = None
    target_date: dt.date | None = None
    data_source: str | None = _long_text()


class Measurement(SQLModel, table=True):
    """A dated value of an indicator, with where it came from."""

    __table_args__ = (UniqueConstraint("indicator_id", "measured_date"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    measured_date: dt.date
    value: float
    source: str | None = _long_text()
    recorded_by_id: int | None = Field(default=None, foreign_key="user.id")
    recorded_at: dt.datetime = _created_at()


class Risk(SQLModel, table=True):
    """A recorded risk, cost or negative effect of a partnership."""

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int = Field(foreign_key="partnership.id", index=True)
    category: str = Field(max_length=20)
    title: str = Field(max_length=300)
    description: str | None = _long_text()
    likelihood: int = Field(ge=1, le=5)
    impact: int = Field(ge=1, le=5)
    mitigation: str | None = _long_text()
    owner: str | None = Field(default=None, max_length=200)
    status: str = Field(default="open", max_length=20)
    recorded_at: dt.datetime = _created_at()


# People and the audit trail -------------------------------------------------------------------


class User(SQLModel, table=True):
    """Someone who signs in: an admin, a governance officer or an inspector."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password_hash: str | None = Field(default=None, max_length=300)
    is_active: bool = True
    created_at: dt.datetime = _created_at()


class UserScope(SQLModel, table=True):
    """A body or partnership a user may see and act on."""

    __tablename__ = "user_scope"

    __table_args__ = (
        CheckConstraint("(body_id IS NULL) <> (partnership_id IS NULL)", name="one_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    body_id: int | None = Field(default=None, foreign_key="body.id")
    partnership_id: int | None = Field(default=None, foreign_key="partnership.id")


class AuditEvent(SQLModel, table=True):
    """An append-only record of a change, chained to the one before by its hash."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: dt.datetime = _created_at()
    actor: str = Field(max_length=254)
    action: str = Field(max_length=40)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=120)
    before: dict | None = Field(default=None, sa_column=Column(JSON))
    after: dict | None = Field(default=None, sa_column=Column(JSON))
    # Unique: two writers that read the same head cannot both append, so the chain never forks.
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


# The engine and the scheduler ----------------------------------------------------------------


class CheckRun(SQLModel, table=True):
    """One run of the compliance rules, as at a date."""

    __tablename__ = "check_run"

    id: int | None = Field(default=None, primary_key=True)
    as_at_date: dt.date
    trigger: str = Field(max_length=40)
    started_at: dt.datetime = _created_at()
    finished_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(default="running", max_length=20)
    findings_open: int = 0
    findings_new: int = 0
    findings_resolved: int = 0
    errors: list[str] = _json_list()


# Percent of each page of findings filled by inserts (see Finding).
FINDING_FILLFACTOR = 70


class Finding(SQLModel, table=True):
    """What a rule found about one subject; kept open while the rule fires, then resolved."""

    # Every check marks each open finding seen again (last_seen_at, last_run_id, neither
    # indexed): room left in each page lets PostgreSQL write the new version beside the old
    # without touching the six indexes (a heap-only update). Migration 0021 sets it.
    __table_args__ = {"postgresql_with": {"fillfactor": FINDING_FILLFACTOR}}

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, index=True)
    rule: str = Field(max_length=60, index=True)
    severity: str = Field(max_length=10)
    message: str = _long_text(nullable=False)
    body_id: int | None = Field(default=None, foreign_key="body.id", index=True)
    partnership_id: int | None = Field(default=None, foreign_key="partnership.id", index=True)
    obligation_id: int | None = Field(default=None, foreign_key="obligation.id", index=True)
    occurrence_id: int | None = Field(default=None, foreign_key="occurrence.id")
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id")
    indicator_id: int | None = Field(default=None, foreign_key="indicator.id")
    # How the finding explains itself: where its date comes from (law, with the citation, or a
    # convention of the catalogue), since when it has held, and what would clear it.
    basis: str | None = _long_text()
    since_date: dt.date | None = None
    remedy: str | None = _long_text()
    first_seen_at: dt.datetime = _created_at()
    last_seen_at: dt.datetime = _created_at()
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    first_run_id: int = Field(foreign_key="check_run.id")
    last_run_id: int = Field(foreign_key="check_run.id")


class OutboxMessage(SQLModel, table=True):
    """An email, written in the transaction of the event that causes it, then sent from here.

    The idempotency key stops a second run, scheduler or restart from queueing it twice; the
    fixed Message-ID makes the rare resend after a crash recognisable as the same message.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=30)
    to_address: str = Field(max_length=254)
    to_user_id: int | None = Field(default=None, foreign_key="user.id")
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    message_id: str = Field(max_length=200, unique=True)
    # queued -> sending -> sent, or back to queued for a retry, or dead after the last attempt.
    status: str = Field(default="queued", max_length=10)
    attempts: int = 0
    next_attempt_at: dt.datetime = _created_at()
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    claim_token: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = _created_at()
    sent_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    obligation_id: int | None = Field(default=None, foreign_key="obligation.id", index=True)
    occurrence_id: int | None = Field(default=None, foreign_key="occurrence.id")
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id")


class JobRun(SQLModel, table=True):
    """A scheduled job's run for one slot; the unique key stops a slot running twice."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    slot: str = Field(max_length=40)
    started_at: dt.datetime = _created_at()
    finished_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(default="running", max_length=20)
    detail: str | None = _long_text()


# Tables of other domains, declared in their own modules and registered with this metadata.
from compliance.accounts import models as _account_models  # noqa: E402, F401
from compliance.checks import current as _current_findings  # noqa: E402, F401
from compliance.evaluations import models as _evaluation_models  # noqa: E402, F401
from compliance.obligations import tables as _obligation_tables  # noqa: E402, F401
from compliance.reminders import models as _reminder_models  # noqa: E402, F401
from compliance.reports import changes as _report_changes  # noqa: E402, F401
from compliance.reports import models as _report_models  # noqa: E402, F401
