"""Producing reports: at once (API, command line) or in the background (area reports).

Background jobs live in this process's memory, keyed by a random id, with their PDF in the
report cache on disk: a restart forgets the jobs (the files stay in the cache, and asking again
serves them at once), and with several web processes a job is known only to the one that
started it. The report's data is read in the request that starts the job; only the rendering,
which touches no database, runs in the background, one job at a time.
"""

import datetime as dt
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from compliance.access import Principal
from compliance.config import Settings
from compliance.errors import Refused
from compliance.models import utcnow
from compliance.reports.pack import make_pack
from compliance.reports.pdf import Made, make_pdf
from compliance.reports.service import Report, build_report, chain_head

log = logging.getLogger(__name__)

JOB_HOURS = 24
STAGES = {"queued": 0, "laying out pages": 20, "writing": 75, "done": 100, "failed": 100}


EARLIEST_AS_AT = dt.date(2000, 1, 1)


def as_at_or_today(as_at: dt.date | None, settings: Settings) -> dt.date:
    """The as-at date asked for (never in the future), or today."""
    today = settings.today()
    if as_at is not None and as_at > today:
        raise Refused(
            "as_at: a report cannot be as at a date in the future", field="as_at", status=422
        )
    if as_at is not None and as_at < EARLIEST_AS_AT:
        # Nothing is tracked before then, and a year-1 date overflowed the date arithmetic.
        raise Refused(
            f"as_at: a report cannot be as at a date before {EARLIEST_AS_AT:%-d %B %Y}",
            field="as_at",
            status=422,
        )
    return as_at or today


def produce(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    kind: str,
    key: str,
    as_at: dt.date | None = None,
) -> Made:
    """A report's PDF, from the cache or rendered now."""
    on = as_at_or_today(as_at, settings)
    report = build_report(
        session=session,
        principal=principal,
        kind=kind,
        key=key,
        as_at=on,
        due_soon_days=settings.due_soon_days,
    )
    return make_pdf(
        report=report,
        data_dir=settings.data_dir,
        generated_by=principal.user.name,
        head=chain_head(session=session, as_at=on),
        timezone=settings.timezone,
    )


def produce_pack(*, made: Made, settings: Settings) -> Path:
    """The evidence pack of a report already produced."""
    return make_pack(made=made, data_dir=settings.data_dir)


@dataclass
class Job:
    """An area report being rendered in the background."""

    id: str
    user_id: int
    code: str
    name: str
    as_at: dt.date
    requested_at: dt.datetime
    stage: str = "queued"
    finished_at: dt.datetime | None = None
    made: Made | None = None
    error: str | None = None

    @property
    def progress(self) -> int:
        """Per cent done, by stage (WeasyPrint gives no finer measure)."""
        return STAGES["writing"] if self.stage.startswith("writing") else STAGES.get(self.stage, 50)

    @property
    def done(self) -> bool:
        return self.made is not None


JOBS: dict[str, Job] = {}
_lock = threading.Lock()
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="area-report")


def start_area_report(
    *, session: Session, settings: Settings, principal: Principal, code: str, as_at: dt.date | None
) -> Job:
    """Read an area's report data now and render its PDF in the background."""
    on = as_at_or_today(as_at, settings)
    report = build_report(
        session=session,
        principal=principal,
        kind="area",
        key=code,
        as_at=on,
        due_soon_days=settings.due_soon_days,
    )
    job = Job(secrets.token_urlsafe(16), principal.user.id, report.key, report.name, on, utcnow())
    head = chain_head(session=session, as_at=on)
    with _lock:
        _forget_old()
        JOBS[job.id] = job
    _executor.submit(_run, job, report, head, settings, principal.user.name)
    return job


def _run(job: Job, report: Report, head, settings: Settings, generated_by: str) -> None:  # type: ignore[no-untyped-def]
    def stage(name: str) -> None:
        job.stage = name

    try:
        job.made = make_pdf(
            report=report,
            data_dir=settings.data_dir,
            generated_by=generated_by,
            head=head,
            timezone=settings.timezone,
            on_stage=stage,
        )
        job.stage = "done"
    except Exception:
        log.exception("area report %s failed", job.id)
        job.stage, job.error = "failed", "The report could not be produced; the error is logged."
    job.finished_at = utcnow()


def _forget_old() -> None:
    cutoff = utcnow() - dt.timedelta(hours=JOB_HOURS)
    for job_id in [j.id for j in JOBS.values() if j.requested_at < cutoff]:
        del JOBS[job_id]


def jobs_of(*, user_id: int) -> list[Job]:
    """A user's area report jobs, newest first."""
    with _lock:
        return sorted(
            (j for j in JOBS.values() if j.user_id == user_id),
            key=lambda j: j.requested_at,
            reverse=True,
        )


def job_of(*, user_id: int, job_id: str) -> Job | None:
    """One of the user's jobs, or None (someone else's job is None too)."""
    job = JOBS.get(job_id)
    return job if job is not None and job.user_id == user_id else None


def wait(job: Job, timeout: float = 60) -> bool:
    """Wait for a job to finish (for tests and the command line); True if it did."""
    deadline = utcnow() + dt.timedelta(seconds=timeout)
    while job.finished_at is None and utcnow() < deadline:
        threading.Event().wait(0.05)
    return job.finished_at is not None
