"""A background report job whose process stopped is taken up by a live process: by one process
alone, at most MAX_RESUMES times, and only for an owner who may still read it.

The jobs are committed for real, on a database of this module's own (see test_report_jobs_db);
a process that died is a row naming a worker that no longer runs, with a heartbeat long past.
"""

import datetime as dt
import json
import threading
import zipfile

from sqlalchemy import delete, update
from sqlmodel import Session, col

from compliance.config import Settings
from compliance.models import User, UserScope, utcnow
from compliance.reports import holding, jobs, resume
from compliance.reports.models import ReportJob
from compliance.reports.pdf import report_from_json
from tests import test_report_jobs_db
from tests.conftest import sign_in
from tests.html import parse
from tests.test_report_jobs_db import AREA, CORNWALL, DUTY, Shared, until

# The same kind of database as test_report_jobs_db's, one of this module's own.
shared = test_report_jobs_db.shared
DEAD = "otherhost:99999"


def settings_of(shared: Shared) -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-key",
        database_url=shared.url,
        data_dir=shared.data_dir,
    )


def stranded_job(shared: Shared, user: User, now: dt.datetime, **values: object) -> str:
    """A job that a process which has since died was laying out."""
    beat = now - dt.timedelta(seconds=jobs.STALE_SECONDS + 1)
    fields = {
        "user_id": user.id,
        "status": "running",
        "stage": "laying out pages",
        "progress": 20,
        "worker": DEAD,
        "heartbeat_at": beat,
    }
    return shared.add(**(fields | values))


def resume_stale(shared: Shared, now: dt.datetime) -> list[str]:
    return resume.resume_stale(engine=shared.engine, settings=settings_of(shared), now=now)


def forget(shared: Shared, *job_ids: str) -> None:
    """Remove jobs a test left live, so that no later test takes them up."""
    with Session(shared.engine) as session:
        session.execute(delete(ReportJob).where(col(ReportJob.id).in_(job_ids)))
        session.commit()


def test_a_job_whose_process_died_is_taken_up_and_finishes_with_its_pdf(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    as_at = now.date() - dt.timedelta(days=40)
    job_id = stranded_job(shared, officer, now, as_at_date=as_at)
    client = shared.app()
    sign_in(client, officer.email)
    page = client.get("/reports")
    parse(page.text)
    assert "Waiting to resume after a restart" in page.text and jobs.RESTARTED not in page.text

    assert job_id in resume_stale(shared, now)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    row = shared.row(job_id)
    assert (row.status, row.error, row.progress) == ("done", None, 100)
    assert (row.worker, row.attempts) == (holding.worker_name(), 1)
    pdf = client.get(f"/reports/{job_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["x-report-fingerprint"] == row.fingerprint
    assert (shared.data_dir / row.pdf_path).read_bytes() == pdf.content
    # The report the job was started for: its scope, as at its date.
    data = (shared.data_dir / row.pdf_path).with_suffix(".json").read_bytes()
    report = report_from_json(data)
    assert (report.kind, report.key, report.as_at) == ("area", AREA, as_at)
    assert until(lambda: not holding.holds(job_id))


def test_a_full_pack_is_taken_up_as_a_full_pack(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    duty = {"kind": "duty", "key": DUTY, "name": "Safeguarding", "full_pack": True}
    job_id = stranded_job(shared, officer, now, **duty)
    # Two holders of the duty in the officer's scope, over a threshold of one: a summary.
    settings = settings_of(shared).model_copy(update={"report_detail_holders": 1})

    assert job_id in resume.resume_stale(engine=shared.engine, settings=settings, now=now)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=300)
    row = shared.row(job_id)
    assert (row.status, row.error, row.full_pack) == ("done", None, True)
    with zipfile.ZipFile(shared.data_dir / row.pack_path) as archive:
        held = [name for name in archive.namelist() if name.startswith("holders/")]
        summary = json.loads(archive.read("report-data.json"))
    assert (summary["kind"], summary["key"]) == ("duty", DUTY)
    assert len(held) == 4 and len(summary["digest"]["holders"]) == 2


def test_of_processes_racing_to_claim_a_stranded_job_one_alone_wins(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    job_id = stranded_job(shared, officer, now)
    with Session(shared.engine) as session:
        (found,) = [job for job in resume.stranded(session=session, now=now) if job.id == job_id]
    racers = 6
    ready, won = threading.Barrier(racers), []

    def race(number: int) -> None:
        ready.wait()
        worker = f"process-{number}:1"
        if resume.claim(engine=shared.engine, job=found, worker=worker, now=now):
            won.append(worker)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    row = shared.row(job_id)
    assert (row.worker, row.attempts, row.stage) == (won[0], 1, jobs.RESUMING)
    # Claimed just now, it is no longer stranded; a latecomer with the old reading misses too,
    # even one whose clock is so far ahead that the winner's claim looks stale to it.
    with Session(shared.engine) as session:
        assert job_id not in [job.id for job in resume.stranded(session=session, now=now)]
    ahead = now + dt.timedelta(seconds=jobs.STALE_SECONDS * 2)
    for late in (now, ahead):
        assert not resume.claim(engine=shared.engine, job=found, worker="late:1", now=late)
    forget(shared, job_id)


def test_two_processes_looking_at_once_render_a_stranded_job_once(shared, monkeypatch):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    job_id = stranded_job(shared, officer, now)
    taken: list[str] = []
    real = jobs.take_up

    def take_up(**kwargs):  # type: ignore[no-untyped-def]
        taken.append(kwargs["job_id"])
        real(**kwargs)

    monkeypatch.setattr(jobs, "take_up", take_up)
    ready = threading.Barrier(2)
    looked: list[list[str]] = []

    def look() -> None:
        ready.wait()
        looked.append(resume_stale(shared, now))

    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert taken.count(job_id) == 1 and sum(job_id in ids for ids in looked) == 1
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    assert (shared.row(job_id).status, shared.row(job_id).attempts) == ("done", 1)


def test_a_job_taken_up_as_often_as_allowed_is_failed_not_taken_again(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    tired = stranded_job(shared, officer, now, attempts=jobs.MAX_RESUMES)
    last = stranded_job(shared, officer, now, attempts=jobs.MAX_RESUMES - 1, status="queued")

    spent = resume.Stranded(tired, DEAD, jobs.MAX_RESUMES)
    assert not resume.claim(engine=shared.engine, job=spent, worker="late:1", now=now)

    # The look records the failure of the one with no attempts left, and takes the other up
    # for the last time.
    taken = resume_stale(shared, now)
    assert last in taken and tired not in taken
    row = shared.row(tired)
    assert (row.status, row.error, row.attempts) == ("failed", jobs.RESTARTED, jobs.MAX_RESUMES)
    assert jobs.wait(engine=shared.engine, job_id=last, timeout=120)
    assert (shared.row(last).status, shared.row(last).attempts) == ("done", jobs.MAX_RESUMES)
    assert f"tried {jobs.MAX_RESUMES + 1} times and the server stopped each time" in row.error


def test_a_job_whose_owner_may_no_longer_read_it_is_failed_with_the_reason(shared):
    disabled = shared.user("officer", [CORNWALL])
    unscoped = shared.user("officer", [CORNWALL])
    with Session(shared.engine) as session:
        session.execute(update(User).where(col(User.id) == disabled.id).values(is_active=False))
        session.execute(delete(UserScope).where(col(UserScope.user_id) == unscoped.id))
        session.commit()
    now = utcnow()
    closed = stranded_job(shared, disabled, now)
    refused = stranded_job(shared, unscoped, now)

    taken = resume_stale(shared, now)
    assert closed in taken and refused in taken
    for job_id in (closed, refused):
        assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=60)
    row = shared.row(closed)
    assert (row.status, row.pdf_path) == ("failed", None)
    assert row.error == f"{jobs.NOT_RESUMED}: the account that asked for it is no longer active."
    row = shared.row(refused)
    assert (row.status, row.pdf_path) == ("failed", None)
    assert row.error == f"{jobs.NOT_RESUMED}: this body is not in your scope."
    assert until(lambda: not holding.holds(closed) and not holding.holds(refused))


def test_a_job_whose_process_still_beats_is_never_taken(shared, monkeypatch):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    beating = stranded_job(
        shared, officer, now, heartbeat_at=now - dt.timedelta(seconds=jobs.STALE_SECONDS - 5)
    )
    # One this very process renders, whose beats the database has been too busy to take.
    slow = stranded_job(shared, officer, now, worker=holding.worker_name())
    monkeypatch.setitem(holding._held, slow, shared.engine)

    taken = resume_stale(shared, now)
    assert beating not in taken and slow not in taken
    for job_id, worker in ((beating, DEAD), (slow, holding.worker_name())):
        row = shared.row(job_id)
        assert (row.status, row.worker, row.attempts, row.stage) == (
            "running",
            worker,
            0,
            "laying out pages",
        )
    forget(shared, beating, slow)


def test_each_web_process_looks_for_stranded_jobs_while_it_serves(shared, monkeypatch):
    def resumers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "report-job-resumer"]

    looks: list[dt.datetime] = []
    monkeypatch.setattr(resume, "RESUME_SECONDS", 0.01)
    monkeypatch.setattr(resume, "resume_stale", lambda **kwargs: looks.append(kwargs["now"]))
    with shared.app():  # the suite's processes leave it to the tests
        assert resumers() == []
    assert resumers() == []
    with shared.app(environment="development"):
        assert len(resumers()) == 1
        assert until(lambda: len(looks) >= 2)
    assert resumers() == []
