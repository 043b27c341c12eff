"""This process's side of the background report jobs: the threads that render them, the jobs it
holds, and the heartbeat that says it still holds them (compliance.reports.jobs)."""

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, update
from sqlmodel import col

from compliance.db import session_scope
from compliance.models import utcnow
from compliance.reports.models import LIVE, ReportJob

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10


def worker_name() -> str:
    """This process, as a job's row names the one rendering it."""
    return f"{socket.gethostname()[:180]}:{os.getpid()}"


def holds(job_id: str) -> bool:
    """Whether this process holds (is rendering) a job."""
    with _lock:
        return job_id in _held


_lock = threading.Lock()
_held: dict[str, Engine] = {}
_state: dict[str, object] = {}


def executor(workers: int) -> ThreadPoolExecutor:
    """This process's threads that render jobs."""
    # One per process, made in it: a pool inherited through fork has no thread left to run. As
    # many threads as renders may run at once (make_pdf's slots bound them with the requests').
    with _lock:
        pool = _state.get("pool")
        if pool is None or _state.get("pid") != os.getpid():
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report-job")
            _state.update(pool=pool, pid=os.getpid())
        return pool  # type: ignore[return-value]  # _state keeps the pool under "pool"


def hold(job_id: str, engine: Engine) -> None:
    """Hold a job: beat its heartbeat until it is released."""
    with _lock:
        _held[job_id] = engine
        beater = _state.get("beater")
        if not isinstance(beater, threading.Thread) or not beater.is_alive():
            beater = threading.Thread(target=_beat, name="report-job-heartbeat", daemon=True)
            _state["beater"] = beater
            beater.start()


def release(job_id: str) -> None:
    """Stop holding a job."""
    with _lock:
        _held.pop(job_id, None)


def _beat() -> None:
    """Every HEARTBEAT_SECONDS, say that this process still holds its jobs; end when it holds
    none (the next job starts another)."""
    while True:
        threading.Event().wait(HEARTBEAT_SECONDS)
        with _lock:
            if not _held:
                _state.pop("beater", None)
                return
            by_engine: dict[Engine, list[str]] = {}
            for job_id, engine in _held.items():
                by_engine.setdefault(engine, []).append(job_id)
        for engine, job_ids in by_engine.items():
            beat(engine=engine, job_ids=job_ids)


def beat(*, engine: Engine, job_ids: list[str]) -> None:
    """Renew the heartbeat of these jobs, held by this process."""
    statement = (
        update(ReportJob)
        .where(col(ReportJob.id).in_(job_ids), col(ReportJob.worker) == worker_name())
        .where(col(ReportJob.status).in_(LIVE))
        .values(heartbeat_at=utcnow())
    )
    try:
        with session_scope(engine) as session:
            session.execute(statement)
    except Exception:
        # The next beat tries again; only STALE_SECONDS of silence fails the jobs.
        log.warning("report jobs' heartbeat not written", exc_info=True)
