"""The one list of scheduled jobs, and the tick that runs whatever is due.

Jobs are defined here in code; APScheduler (3.x, in-memory) only calls `tick` every few
seconds. Each tick asks the database which slots are due and claims each slot by inserting a
JobRun row with a unique (job, slot) key, so a second scheduler, a restart or an overlapping
tick never runs a slot twice, and a slot missed while the scheduler was down is caught up by
the next tick. On PostgreSQL a session-level advisory lock keeps all but one scheduler idle.

Each job run writes one log line (job, slot, start, finish, outcome) under a run id of its own.
On SIGTERM the job running is finished and no other is begun (`in_background`).
"""

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from compliance import logs
from compliance.checks.jobs import nightly_check
from compliance.config import Settings
from compliance.db import stored, writer
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
        if run.status != "running" or utcnow() - run.started_at < STALE_AFTER:
            return None
        taken = session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run.id, col(JobRun.started_at) == run.started_at)
            .values(started_at=utcnow(), detail="reclaimed after a run that never finished")
        )
        session.commit()
        return run.id if taken.rowcount == 1 else None  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult


def _finish(engine: Engine, run_id: int, status: str, detail: str) -> None:
    with Session(writer(engine)) as session:
        run = stored(session, JobRun, run_id)
        run.status, run.detail, run.finished_at = status, detail[:4000], utcnow()
        session.commit()


def tick(
    engine: Engine,
    settings: Settings,
    now: dt.datetime | None = None,
    stop: threading.Event | None = None,
) -> list[str]:
    """Run every job whose latest slot has not run yet; return what was done.

    Once `stop` is set no further job is begun: the one running finishes, and the slots left
    unclaimed are caught up by the next scheduler to tick."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(settings.timezone))
    done: list[str] = []
    for job in JOBS:
        if stop is not None and stop.is_set():
            return done
        slot = latest_slot(job.at(settings), now, job.weekday)
        run_id = claim(engine, job.name, slot.isoformat())
        if run_id is not None:
            done.append(_run(engine, settings, job, slot, run_id))
    if stop is None or not stop.is_set():
        done += _send_outbox(engine, settings)
    return done


def _run(engine: Engine, settings: Settings, job: Job, slot: dt.datetime, run_id: int) -> str:
    """Run one claimed slot, record how it ended, and log one line for it under a run id."""
    token = logs.request_id.set(logs.new_id())
    started = dt.datetime.now(dt.UTC)
    try:
        detail = job.run(engine=engine, settings=settings, on=slot.date())
        outcome = "succeeded"
    except Exception as exc:  # a failed job is recorded and must not stop the scheduler
        log.exception("job %s for %s failed", job.name, slot)
        detail, outcome = repr(exc), "failed"
    try:
        _finish(engine, run_id, outcome, detail)
    finally:
        finished = dt.datetime.now(dt.UTC)
        fields = {
            "event": "job",
            "job": job.name,
            "slot": slot.isoformat(),
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat(),
            "outcome": outcome,
            "detail": detail[:500],
        }
        level = logging.INFO if outcome == "succeeded" else logging.ERROR
        extra = {"fields": fields, "request_id": logs.request_id.get()}
        log.log(level, "%s %s %s", job.name, slot.isoformat(), outcome, extra=extra)
        logs.request_id.reset(token)
    said = detail if outcome == "succeeded" else f"failed: {detail}"
    return f"{job.name} {slot.isoformat()}: {said}"


def _send_outbox(engine: Engine, settings: Settings) -> list[str]:
    # Every tick, not only in the jobs: retries come due and notices are queued by the web pages.
    try:
        report = flush_outbox(engine=engine, settings=settings)
    except Exception as exc:  # a mail failure must not stop the scheduler
        log.exception("sending the outbox failed")
        return [f"outbox: failed: {exc!r}"]
    if not (report.sent or report.retrying or report.dead):
        return []
    log.info("outbox: %s", report, extra={"fields": {"event": "outbox"}})
    return [f"outbox: {report}"]


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


def guarded_tick(
    engine: Engine, settings: Settings, lock: SchedulerLock, stop: threading.Event | None = None
) -> None:
    """A tick that runs only in the scheduler holding the lock, and never raises."""
    try:
        if lock.held():
            tick(engine, settings, stop=stop)
    except Exception:
        log.exception("scheduler tick failed")


def build(scheduler_class, engine: Engine, settings: Settings, stop=None):
    """An APScheduler scheduler (in-memory store, explicit timezone) that ticks."""
    lock = SchedulerLock(engine)
    scheduler = scheduler_class(timezone=ZoneInfo(settings.timezone))
    scheduler.add_job(
        guarded_tick,
        "interval",
        seconds=settings.scheduler_tick_seconds,
        args=[engine, settings, lock, stop],
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(ZoneInfo(settings.timezone)),
        misfire_grace_time=settings.scheduler_tick_seconds,
    )
    return scheduler, lock


@contextmanager
def in_background(engine: Engine, settings: Settings) -> Iterator[threading.Event]:
    """Tick in a thread of this process while the block runs; on leaving it, finish the job
    that is running (and begin no other), then give the lock up. Yields the stop event."""
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = threading.Event()
    scheduler, lock = build(BackgroundScheduler, engine, settings, stop)
    scheduler.start()
    log.info(
        "scheduler started: a tick every %s s",
        settings.scheduler_tick_seconds,
        extra={"fields": {"event": "scheduler"}},
    )
    try:
        yield stop
    finally:
        stop.set()
        scheduler.shutdown(wait=True)
        lock.release()
        log.info("scheduler stopped", extra={"fields": {"event": "scheduler"}})


def run_until_signalled(engine: Engine, settings: Settings) -> None:
    """`compliance scheduler`: tick until SIGTERM or SIGINT, then stop as `in_background` does."""
    signalled: list[int] = []
    # The handlers only note the signal: setting the stop event there could deadlock with this
    # thread holding the event's lock at that moment. The loop below passes it on.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: signalled.append(number))
    with in_background(engine, settings):
        while not signalled:
            time.sleep(0.2)
        log.info("signal %s: stopping once the job running finishes", signalled[0])
