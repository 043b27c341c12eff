"""Tables of the reports domain: the background report jobs."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, Column, Text
from sqlmodel import Field, SQLModel

from compliance.db import UtcDateTime

JOB_STATUSES = ("queued", "running", "done", "failed")
# A job still to finish: waiting for a thread, or being rendered.
LIVE = ("queued", "running")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _moment(nullable: bool = True):
    if nullable:
        return Field(default=None, sa_type=UtcDateTime)
    return Field(default_factory=_now, sa_type=UtcDateTime)


class ReportJob(SQLModel, table=True):
    """A report rendered in the background by one process and followed from any.

    The process that starts a job renders it and beats its heartbeat while it holds it; a job
    whose heartbeat stops is taken up by another process (claimed by one UPDATE, counted in
    `attempts`), which reads its data afresh as its owner, up to a bound past which it is failed.
    A finished job names its PDF in the report cache, so it survives a restart.
    """

    __tablename__ = "report_job"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in JOB_STATUSES) + ")", name="status"
        ),
    )

    # A random token: it is in the job's addresses, and only its owner may read the job.
    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=20)
    key: str = Field(max_length=80)
    name: str = Field(max_length=300)
    as_at_date: dt.date
    status: str = Field(default="queued", max_length=10)
    stage: str = Field(default="queued", max_length=60)
    progress: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    # Relative to the data folder: DATA_DIR/reports/layout-<hash>/<fingerprint>-<scope>.pdf
    pdf_path: str | None = Field(default=None, max_length=300)
    fingerprint: str | None = Field(default=None, max_length=64)
    # A full evidence pack: the report's pack with every holder's own report in it (a summary's
    # detail), named here once made, beside the PDF in the cache.
    full_pack: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    pack_path: str | None = Field(default=None, max_length=300)
    created_at: dt.datetime = _moment(nullable=False)
    started_at: dt.datetime | None = _moment()
    finished_at: dt.datetime | None = _moment()
    # hostname:pid of the process that renders it, and when that process last said so.
    worker: str = Field(max_length=200)
    heartbeat_at: dt.datetime = _moment(nullable=False)
    # How many times a process took the job up after the one holding it stopped beating.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
