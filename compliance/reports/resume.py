"""Taking up the background report jobs whose process stopped (compliance.reports.jobs).

Every web process runs `resuming` beside its requests (main.py's lifespan): every RESUME_SECONDS
it looks for live jobs whose heartbeat is older than STALE_SECONDS and claims each with one
UPDATE that names the holder and the attempts it read. However many processes race for a job,
the first UPDATE changes both, so every other one finds no row and leaves the job alone: one
process alone takes it up and renders it. A job already taken up MAX_RESUMES times is not
claimed; `sweep` records its failure. A look that finds nothing writes nothing.
"""

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from compliance.config import Settings
from compliance.db import session_scope
from compliance.models import utcnow
from compliance.reports import holding, jobs
from compliance.reports.models import ReportJob

log = logging.getLogger(__name__)

# A few heartbeats: often enough that a stranded job waits little past STALE_SECONDS.
RESUME_SECONDS = holding.HEARTBEAT_SECONDS * 3


@dataclass(frozen=True)
class Stranded:
    """A live job whose process stopped beating, as read before claiming it."""

    id: str
    worker: str
    attempts: int


def stranded(*, session: Session, now: dt.datetime) -> list[Stranded]:
    """The live jobs whose heartbeat is older than STALE_SECONDS, oldest first."""
    rows = session.exec(
        select(ReportJob)
        .where(col(ReportJob.status).in_(jobs.LIVE))
        .where(col(ReportJob.heartbeat_at) < now - dt.timedelta(seconds=jobs.STALE_SECONDS))
        .order_by(col(ReportJob.created_at))
    ).all()
    return [Stranded(row.id, row.worker, row.attempts) for row in rows]


def claim(*, engine: Engine, job: Stranded, worker: str, now: dt.datetime) -> bool:
    """Make `worker` the holder of a stranded job, counting one more attempt; True if this
    UPDATE was the one that did (another process's claim, or a beat of the old holder after the
    job was read, leaves it unchanged)."""
    statement = (
        update(ReportJob)
        .where(col(ReportJob.id) == job.id, col(ReportJob.status).in_(jobs.LIVE))
        .where(col(ReportJob.worker) == job.worker, col(ReportJob.attempts) == job.attempts)
        .where(col(ReportJob.attempts) < jobs.MAX_RESUMES)
        .where(col(ReportJob.heartbeat_at) < now - dt.timedelta(seconds=jobs.STALE_SECONDS))
        .values(
            worker=worker,
            heartbeat_at=now,
            attempts=job.attempts + 1,
            status="queued",
            stage=jobs.RESUMING,
            progress=0,
        )
    )
    with session_scope(engine) as session:
        return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult


def resume_stale(*, engine: Engine, settings: Settings, now: dt.datetime) -> list[str]:
    """Take up in this process every stranded job it wins, and record as failed those with no
    attempts left; the ids of the jobs taken up."""
    with Session(engine) as session:
        found = stranded(session=session, now=now)
    spent = [job for job in found if job.attempts >= jobs.MAX_RESUMES]
    if spent:
        # Written only then: most looks find nothing, and need not take SQLite's write lock.
        with session_scope(engine) as session:
            jobs.sweep(session=session, now=now)
    # One this process still renders is only slow to beat (a busy database), not stranded.
    left = [job for job in found if job not in spent and not holding.holds(job.id)]
    return [job.id for job in left if _take(engine, settings, job, now)]


def _take(engine: Engine, settings: Settings, job: Stranded, now: dt.datetime) -> bool:
    if not claim(engine=engine, job=job, worker=holding.worker_name(), now=now):
        return False
    log.info("report job %s: taken up after a restart (attempt %d)", job.id, job.attempts + 1)
    jobs.take_up(engine=engine, settings=settings, job_id=job.id)
    return True


@contextmanager
def resuming(*, engine: Engine, settings: Settings) -> Iterator[None]:
    """Look for stranded jobs every RESUME_SECONDS in a thread of this process while the block
    runs; at its end, stop looking (the renders already begun carry on)."""
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(engine, settings, stop), name="report-job-resumer", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)


def _watch(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(RESUME_SECONDS):
        try:
            resume_stale(engine=engine, settings=settings, now=utcnow())
        except Exception:
            # The database may be down for a while; the next look tries again.
            log.warning("looking for stranded report jobs failed", exc_info=True)
