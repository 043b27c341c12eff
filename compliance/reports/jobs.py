"""Reports produced in the background (the pages' reports and full packs). Those made at once are
in compliance.reports.produce; this process's renderer and heartbeat, compliance.reports.holding.

A background job is a row of report_job, so that every web process can show its progress and a
finished one survives a restart. The report's data is read in the request that starts the job;
that process renders the PDF in a thread of its own (up to COMPLIANCE_REPORT_RENDER_WORKERS jobs
at once), writing each stage to the row, and beats the heartbeat of every job it holds.

A job whose heartbeat is older than STALE_SECONDS lost its process (a restart, a crash). Every
web process looks for such jobs (compliance.reports.resume) and claims each with one UPDATE that
one process alone can win; the winner reads the report's data afresh as the job's owner, with
the access the owner has now, and renders it as the first process would have (`take_up`). A
report that brought its process down would bring down each process that took it up in turn, so a
job is taken up at most MAX_RESUMES times, then failed saying so (RESTARTED); until then a
stranded job shows as waiting to resume. One whose owner is disabled or no longer sees the scope
is failed with the reason.

A finished job names its PDF in the report cache, beside which the report's data is kept (its
SHA-256 is the fingerprint), so that its downloads and evidence pack outlive the process. Jobs are
forgotten after JOB_HOURS; their files stay in the cache, where asking again finds them.
"""

import datetime as dt
import hashlib
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from compliance.access import Principal, principal_for
from compliance.config import Settings
from compliance.db import UNAVAILABLE, row_id, save, session_scope
from compliance.errors import Refused
from compliance.models import User, utcnow
from compliance.reports.ceiling import RenderCeiling
from compliance.reports.holding import executor, hold, release, worker_name
from compliance.reports.models import LIVE, ReportJob
from compliance.reports.pack import HolderReport, make_pack
from compliance.reports.pdf import Made, make_pdf, recall, remember, report_from_json
from compliance.reports.produce import as_at_or_today, data_for, marker_for, produce
from compliance.reports.service import ChainHead, HolderRow, Report, chain_head

log = logging.getLogger(__name__)

JOB_HOURS = 24
# Several missed beats: a beat may wait up to the database's busy timeout on SQLite.
STALE_SECONDS = 60
# Writing a job's final state is retried this many times, a second apart, if the database is busy.
SETTLE_ATTEMPTS = 5
STAGES = {"queued": 0, "starting": 5, "laying out pages": 20, "writing": 75, "done": 100}
FAILED = "The report could not be produced; the error is logged."
# Taken up again after a restart at most this many times: a report that brings its process down
# must not bring down every process in turn.
MAX_RESUMES = 2
RESTARTED = (
    f"This report was tried {MAX_RESUMES + 1} times and the server stopped each time while "
    "writing it, so it is no longer tried: ask for a narrower report, or tell your administrator."
)
WAITING = "waiting to resume after a restart"
RESUMING = "resuming after a restart"
NOT_RESUMED = "The server restarted while this report was being written, and it was not resumed"


@dataclass(frozen=True)
class Job:
    """A background report job as any process reads it."""

    id: str
    user_id: int
    kind: str
    key: str
    name: str
    as_at: dt.date
    requested_at: dt.datetime
    status: str
    stage: str
    progress: int
    error: str | None
    finished_at: dt.datetime | None
    pdf_path: str | None
    fingerprint: str | None
    full_pack: bool
    pack_path: str | None

    @property
    def done(self) -> bool:
        return self.status == "done"


def _stale(row: ReportJob, now: dt.datetime) -> bool:
    """Whether a job is live but its process stopped beating."""
    return row.status in LIVE and row.heartbeat_at < now - dt.timedelta(seconds=STALE_SECONDS)


def _job(row: ReportJob, now: dt.datetime) -> Job:
    status, stage, progress, error = row.status, row.stage, row.progress, row.error
    if _stale(row, now) and row.attempts >= MAX_RESUMES:
        status, stage, progress, error = "failed", "failed", 100, RESTARTED
    elif _stale(row, now):
        # A live process takes it up within RESUME_SECONDS (compliance.reports.resume).
        status, stage, progress = "queued", WAITING, 0
    return Job(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        key=row.key,
        name=row.name,
        as_at=row.as_at_date,
        requested_at=row.created_at,
        status=status,
        stage=stage,
        progress=progress,
        error=error,
        finished_at=row.finished_at,
        pdf_path=row.pdf_path,
        fingerprint=row.fingerprint,
        full_pack=row.full_pack,
        pack_path=row.pack_path,
    )


def jobs_of(*, session: Session, user_id: int, now: dt.datetime | None = None) -> list[Job]:
    """A user's report jobs of the last JOB_HOURS, newest first."""
    now = now or utcnow()
    rows = session.exec(
        select(ReportJob)
        .where(ReportJob.user_id == user_id)
        .where(ReportJob.created_at >= now - dt.timedelta(hours=JOB_HOURS))
        .order_by(col(ReportJob.created_at).desc(), col(ReportJob.id))
    ).all()
    return [_job(row, now) for row in rows]


def job_of(
    *, session: Session, user_id: int, job_id: str, now: dt.datetime | None = None
) -> Job | None:
    """One of the user's jobs, or None (someone else's job is None too)."""
    now = now or utcnow()
    row = session.get(ReportJob, job_id)
    if row is None or row.user_id != user_id:
        return None
    if row.created_at < now - dt.timedelta(hours=JOB_HOURS):
        return None
    return _job(row, now)


def made_of(*, job: Job, settings: Settings) -> Made | None:
    """A finished job's PDF with the data it shows, from the report cache; None if the cache no
    longer holds them as they were."""
    if not job.done or job.pdf_path is None:
        return None
    path = settings.data_dir / job.pdf_path
    try:
        data = path.with_suffix(".json").read_bytes()
    except FileNotFoundError:
        return None
    if not path.exists() or hashlib.sha256(data).hexdigest() != job.fingerprint:
        log.warning("report job %s: its files in the cache are missing or changed", job.id)
        return None
    return Made(path, report_from_json(data), job.fingerprint, cached=True)


def sweep(*, session: Session, now: dt.datetime) -> None:
    """Fail the jobs whose process stopped beating once too often to be taken up again; forget
    the jobs older than JOB_HOURS."""
    session.execute(
        update(ReportJob)
        .where(col(ReportJob.status).in_(LIVE))
        .where(col(ReportJob.heartbeat_at) < now - dt.timedelta(seconds=STALE_SECONDS))
        .where(col(ReportJob.attempts) >= MAX_RESUMES)
        .values(
            status="failed",
            stage="failed",
            progress=100,
            error=RESTARTED,
            finished_at=ReportJob.heartbeat_at,
        )
    )
    session.execute(
        delete(ReportJob).where(col(ReportJob.created_at) < now - dt.timedelta(hours=JOB_HOURS))
    )


@dataclass(frozen=True)
class Task:
    """What a background job renders: read in the request that started it, or afresh by the
    process that took it up after a restart."""

    engine: Engine
    job_id: str
    report: Report
    head: ChainHead | None
    settings: Settings
    principal: Principal
    marker: str | None
    made: Made | None
    full_pack: bool

    @property
    def with_holders(self) -> bool:
        """Whether its evidence pack holds every holder's own report (a summary's full pack)."""
        return self.full_pack and self.report.digest is not None


def start_report(
    *,
    session: Session,
    engine: Engine,
    settings: Settings,
    principal: Principal,
    kind: str,
    key: str,
    as_at: dt.date | None,
    full_pack: bool = False,
) -> Job:
    """Read a report's data now and render its PDF in the background, in this process; or, if
    its change marker finds the report already made, a job finished at once. A full pack also
    renders every holder's own report (a summary's detail) and packs them with it."""
    on = as_at_or_today(as_at, settings)
    task = _prepare(
        session=session,
        engine=engine,
        settings=settings,
        principal=principal,
        job_id=secrets.token_urlsafe(16),
        scope=(kind, key, on),
        full_pack=full_pack,
    )
    now = utcnow()
    sweep(session=session, now=now)
    report = task.report
    row = ReportJob(
        id=task.job_id,
        user_id=row_id(principal.user),
        kind=report.kind,
        key=report.key,
        name=report.name,
        as_at_date=on,
        full_pack=full_pack,
        worker=worker_name(),
        created_at=now,
        heartbeat_at=now,
    )
    if task.made is not None and not task.with_holders:
        row.sqlmodel_update(
            {"started_at": now, "finished_at": now} | _finished(task.made, settings)
        )
        session.add(row)
        save(session)
        return _job(row, now)
    session.add(row)
    # Held before the row is committed, so that its heartbeat never misses the first beat; the
    # row is committed before the render starts, so that every write of the render finds it.
    hold(row.id, engine)
    try:
        save(session)
    except BaseException:
        release(row.id)
        raise
    executor(settings.report_render_workers).submit(_run, task)
    return _job(row, now)


def _prepare(
    *,
    session: Session,
    engine: Engine,
    settings: Settings,
    principal: Principal,
    job_id: str,
    scope: tuple[str, str, dt.date],
    full_pack: bool,
) -> Task:
    """What a job renders, read as its owner: the report (kind, key, as at) found made by its
    change marker, else its data built now; and the audit chain's head as at its date."""
    kind, key, on = scope
    marker = marker_for(session, settings, principal, kind, key, on)
    made = recall(settings.data_dir, marker) if marker else None
    report = made.report if made else data_for(session, settings, principal, kind, key, on)
    head = chain_head(session=session, as_at=on)
    return Task(engine, job_id, report, head, settings, principal, marker, made, full_pack)


def take_up(*, engine: Engine, settings: Settings, job_id: str) -> None:
    """Render in this process a job it has just claimed from one that stopped: its data read
    afresh as its owner, then as `start_report` renders it."""
    hold(job_id, engine)
    executor(settings.report_render_workers).submit(_resume, engine, settings, job_id)


def _resume(engine: Engine, settings: Settings, job_id: str) -> None:
    try:
        with Session(engine) as session:
            task = _reread(session, engine, settings, job_id)
    except Refused as exc:
        log.warning("report job %s not resumed: %s", job_id, exc.message)
        reason = exc.message[:1].lower() + exc.message[1:].rstrip(".")
        _give_up(engine, job_id, f"{NOT_RESUMED}: {reason}.")
    except UNAVAILABLE:
        # Left to go stale again, so that a process takes it up once more (if it has attempts
        # left) rather than failing it for a database that was busy for a moment.
        log.warning("report job %s: its data could not be read again yet", job_id, exc_info=True)
        release(job_id)
    except Exception:
        log.exception("report job %s: its data could not be read again", job_id)
        _give_up(engine, job_id, FAILED)
    else:
        _run(task)


def _reread(session: Session, engine: Engine, settings: Settings, job_id: str) -> Task:
    row = session.get(ReportJob, job_id)
    user = session.get(User, row.user_id) if row else None
    if row is None or user is None or not user.is_active:
        # Its data is read as its owner, and a closed account reads nothing.
        raise Refused("the account that asked for it is no longer active")
    return _prepare(
        session=session,
        engine=engine,
        settings=settings,
        principal=principal_for(session=session, user=user),
        job_id=job_id,
        scope=(row.kind, row.key, row.as_at_date),
        full_pack=row.full_pack,
    )


def _give_up(engine: Engine, job_id: str, error: str) -> None:
    try:
        _settle(engine, job_id, _failure(error))
    finally:
        release(job_id)


def _failure(error: str) -> dict[str, object]:
    """A failed job's row."""
    return {"status": "failed", "stage": "failed", "progress": 100, "error": error}


def _finished(made: Made, settings: Settings, pack: Path | None = None) -> dict[str, object]:
    """A done job's row: its PDF (and full pack) in the cache."""
    return {
        "status": "done",
        "stage": "done",
        "progress": 100,
        "pdf_path": made.path.relative_to(settings.data_dir).as_posix(),
        "fingerprint": made.fingerprint,
        "pack_path": pack.relative_to(settings.data_dir).as_posix() if pack else None,
        "error": None,
    }


def _run(task: Task) -> None:
    engine, job_id, settings = task.engine, task.job_id, task.settings
    # A full pack spends most of its time on the holders' reports, after the summary's.
    share = 10 if task.with_holders else 100

    def stage(name: str) -> None:
        progress = STAGES["writing"] if name.startswith("writing") else STAGES.get(name, 50)
        _write(engine, job_id, stage=name, progress=progress * share // 100)

    try:
        begun = {"status": "running", "stage": "starting", "started_at": utcnow()}
        _write(engine, job_id, progress=STAGES["starting"] * share // 100, **begun)
        made = task.made or make_pdf(
            report=task.report,
            data_dir=settings.data_dir,
            generated_by=task.principal.user.name,
            head=task.head,
            timezone=settings.timezone,
            on_stage=stage,
            ceiling=settings.render_ceiling,
            workers=settings.report_render_workers,
        )
        if task.marker and task.made is None:
            remember(settings.data_dir, task.marker, made)
        pack = None
        if share < 100:
            holders = holder_reports(task, share)
            _write(engine, job_id, stage="writing the evidence pack", progress=97)
            pack = make_pack(made=made, data_dir=settings.data_dir, holders=holders)
        outcome = _finished(made, settings, pack)
    except RenderCeiling as exc:
        log.warning("report job %s stopped: %s", job_id, exc.message)
        outcome = _failure(exc.message)
    except Exception:
        log.exception("report job %s failed", job_id)
        outcome = _failure(FAILED)
    try:
        _settle(engine, job_id, outcome)
    finally:
        release(job_id)


def holder_reports(task: Task, start: int) -> list[HolderReport]:
    """Each holder's own report as at the summary's date, as its own address serves it (found
    by its marker, or from the cache, or rendered now), up to COMPLIANCE_REPORT_RENDER_WORKERS
    at once. One past its ceiling is listed in the pack with the reason, not left out."""
    rows = task.report.digest.holders if task.report.digest else []
    done = [0]
    counting = threading.Lock()

    def one(row: HolderRow) -> HolderReport:
        try:
            with Session(task.engine) as session:
                made = produce(
                    session=session,
                    settings=task.settings,
                    principal=task.principal,
                    kind=row.kind,
                    key=row.key,
                    as_at=task.report.as_at,
                )
            return HolderReport(row.kind, row.key, row.name, row.address, made)
        except RenderCeiling as exc:
            log.warning("report job %s: %s %s: %s", task.job_id, row.kind, row.key, exc.message)
            return HolderReport(row.kind, row.key, row.name, row.address, None, exc.message)
        finally:
            with counting:
                done[0] += 1
                finished = done[0]
            progress = start + (97 - start) * finished // len(rows)
            stage = f"holders' reports: {finished} of {len(rows)}"
            _write(task.engine, task.job_id, stage=stage, progress=progress)

    workers = max(1, task.settings.report_render_workers)
    # One thread more than renders at once: while every render slot is busy, the next holder's
    # data is read, so that a slot freed starts its next render at once (make_pdf's slots still
    # bound the renders).
    with ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="holder-report") as pool:
        return list(pool.map(one, rows))


def _write(engine: Engine, job_id: str, **values: object) -> bool:
    """A live job's stage, written if the database takes it at once (the next one will do)."""
    statement = (
        update(ReportJob)
        .where(col(ReportJob.id) == job_id, col(ReportJob.worker) == worker_name())
        .where(col(ReportJob.status).in_(LIVE))
        .values(heartbeat_at=utcnow(), **values)
    )
    try:
        with session_scope(engine) as session:
            session.execute(statement)
    except UNAVAILABLE:
        log.warning("report job %s: stage not written, the database is busy", job_id)
        return False
    return True


def _settle(engine: Engine, job_id: str, outcome: dict[str, object]) -> None:
    """A job's final state, retried while the database is busy. Written even over a failure
    that a sweep recorded meanwhile: the job did finish, in this process."""
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        now = utcnow()
        statement = (
            update(ReportJob)
            .where(col(ReportJob.id) == job_id, col(ReportJob.worker) == worker_name())
            .values(heartbeat_at=now, finished_at=now, **outcome)
        )
        try:
            with session_scope(engine) as session:
                session.execute(statement)
            return
        except UNAVAILABLE:
            log.warning("report job %s: final state not written (attempt %d)", job_id, attempt)
            threading.Event().wait(1)
    log.error("report job %s: final state never written; it will show failed", job_id)


def wait(*, engine: Engine, job_id: str, timeout: float = 60) -> bool:
    """Wait for a job to finish (for tests and the command line); True if it did."""
    for _ in range(int(timeout / 0.05)):
        with Session(engine) as session:
            row = session.get(ReportJob, job_id)
            if row is None or row.status not in LIVE:
                return row is not None
        threading.Event().wait(0.05)
    return False
