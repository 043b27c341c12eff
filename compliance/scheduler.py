"""The one list of scheduled jobs, and the tick that runs whatever is due.

Jobs are defined here in code; APScheduler (3.x, in-memory) only calls `tick` every few
seconds. Each tick asks the database which slots are due and claims each slot by inserting a
JobRun row with a unique (job, slot) key, so a second scheduler, a restart or an overlapping
tick never runs a slot twice, and a slot missed while the scheduler was down is caught up by
the next tick. On PostgreSQL a session-level advisory lock keeps all but one scheduler idle.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from compliance.checks.jobs import nightly_check
from compliance.config import Settings
from compliance.db import writer
from compliance.models import JobRun, utcnow
from compliance.outbox import flush_outbox
from compliance.reminders.jobs import daily_reminders, weekly_digest

log = logging.getLogger(__name__)
SCHEDULER_LOCK_KEY = 7_201_405_312
# A run still marked running after this long died with its process; its slot is run again.
STALE_AFTER = dt.timedelta(hours=2)


@dataclass(frozen=True)
class Job:
    name: str
    at: Callable[[Settings], dt.time]
    run: Callable[..., str]
    # 0 for Monday ... 6 for Sunday: the job runs on that day only; None: every day.
    weekday: int | None = None


# In this order within a tick: the check brings periods up to date before reminders are queued.
JOBS = [
    Job("nightly_check", lambda s: dt.time.fromisoformat(s.check_time), nightly_check),
    Job("daily_reminders", lambda s: dt.time.fromisoformat(s.reminder_time), daily_reminders),
    Job("weekly_digest", lambda s: dt.time.fromisoformat(s.digest_time), weekly_digest, 0),
]


def latest_slot(at: dt.time, now: dt.datetime, weekday: int | None = None) -> dt.datetime:
    """The most recent slot at a local time (on a weekday, if given), no later than now.

    `now` is zone-aware; stepping back whole days keeps the local time across clock changes.
    """
    slot = dt.datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if slot > now:
        slot -= dt.timedelta(days=1)
    if weekday is not None:
        slot -= dt.timedelta(days=(slot.weekday() - weekday) % 7)
    return slot


def claim(engine: Engine, job: str, slot: str) -> int | None:
    """Claim a slot; return the run's id, or None if another scheduler has it."""
    try:
        with Session(writer(engine)) as session:
            run = JobRun(job=job, slot=slot)
            session.add(run)
            session.commit()
            return run.id
    except IntegrityError:
        return _reclaim_stale(engine, job, slot)


def _reclaim_stale(engine: Engine, job: str, slot: str) -> int | None:
    with Session(writer(engine)) as session:
        run = session.exec(select(JobRun).where(JobRun.job == job, JobRun.slot == slot)).one()
        started = run.started_at if run.started_at.tzinfo else run.started_at.replace(tzinfo=dt.UTC)
        if run.status != "running" or utcnow() - started < STALE_AFTER:
            return None
        taken = session.execute(
            update(JobRun)
            .where(JobRun.id == run.id, JobRun.started_at == run.started_at)
            .values(started_at=utcnow(), detail="reclaimed after a run that never finished")
        )
        session.commit()
        return run.id if taken.rowcount == 1 else None


def _finish(engine: Engine, run_id: int, status: str, detail: str) -> None:
    with Session(writer(engine)) as session:
        run = session.get(JobRun, run_id)
        run.status, run.detail, run.finished_at = status, detail[:4000], utcnow()
        session.commit()


def tick(engine: Engine, settings: Settings, now: dt.datetime | None = None) -> list[str]:
    """Run every job whose latest slot has not run yet; return what was done."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(settings.timezone))
    done = []
    for job in JOBS:
        slot = latest_slot(job.at(settings), now, job.weekday)
        run_id = claim(engine, job.name, slot.isoformat())
        if run_id is None:
            continue
        try:
            detail = job.run(engine=engine, settings=settings, on=slot.date())
            _finish(engine, run_id, "succeeded", detail)
            done.append(f"{job.name} {slot.isoformat()}: {detail}")
        except Exception as exc:  # a failed job is recorded and must not stop the scheduler
            log.exception("job %s for %s failed", job.name, slot)
            _finish(engine, run_id, "failed", repr(exc))
            done.append(f"{job.name} {slot.isoformat()}: failed: {exc!r}")
    done += _send_outbox(engine, settings)
    return done


def _send_outbox(engine: Engine, settings: Settings) -> list[str]:
    # Every tick, not only in the jobs: retries come due and notices are queued by the web pages.
    try:
        report = flush_outbox(engine=engine, settings=settings)
    except Exception as exc:  # a mail failure must not stop the scheduler
        log.exception("sending the outbox failed")
        return [f"outbox: failed: {exc!r}"]
    return [f"outbox: {report}"] if report.sent or report.retrying or report.dead else []


class SchedulerLock:
    """On PostgreSQL, one scheduler at a time holds a session advisory lock; elsewhere a no-op."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.connection: Connection | None = None

    def held(self) -> bool:
        """Take the lock if it is free; tell whether this process holds it."""
        if self.engine.dialect.name != "postgresql":
            return True
        try:
            if self.connection is None:
                self.connection = self.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
                got = self.connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}
                ).scalar()
                if not got:
                    self.release()
                    return False
            self.connection.execute(text("SELECT 1"))
            return True
        except Exception:  # the connection (and with it the lock) is gone; try again next tick
            log.exception("scheduler lock connection lost")
            self.release()
            return False

    def release(self) -> None:
        """Give the lock up; the connection is discarded, not pooled, so the lock cannot linger."""
        if self.connection is not None:
            try:
                self.connection.invalidate()
                self.connection.close()
            finally:
                self.connection = None


def guarded_tick(engine: Engine, settings: Settings, lock: SchedulerLock) -> None:
    """A tick that runs only in the scheduler holding the lock, and never raises."""
    try:
        if lock.held():
            for line in tick(engine, settings):
                log.info("%s", line)
    except Exception:
        log.exception("scheduler tick failed")


def build(scheduler_class, engine: Engine, settings: Settings):  # type: ignore[no-untyped-def]
    """An APScheduler scheduler (in-memory store, explicit timezone) that ticks."""
    lock = SchedulerLock(engine)
    scheduler = scheduler_class(timezone=ZoneInfo(settings.timezone))
    scheduler.add_job(
        guarded_tick,
        "interval",
        seconds=settings.scheduler_tick_seconds,
        args=[engine, settings, lock],
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(ZoneInfo(settings.timezone)),
        misfire_grace_time=settings.scheduler_tick_seconds,
    )
    return scheduler, lock
