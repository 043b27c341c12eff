"""Background report jobs live in the database: any process follows them, a finished one outlives
its process, and one whose process stopped is failed with a clear message.

Each "process" is its own application built on the same database and data folder, as two web
workers are; the jobs are committed for real, on a database of this module's own.
"""

import datetime as dt
import hashlib
import io
import secrets
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from compliance.catalogue.service import load_catalogue
from compliance.config import Settings
from compliance.db import _engines, make_engine
from compliance.demo.service import load_demo
from compliance.main import create_app
from compliance.migrations import upgrade
from compliance.models import User, UserScope, utcnow
from compliance.reports import jobs
from compliance.reports.ceiling import too_big
from compliance.reports.models import ReportJob
from tests.conftest import PG_URL, create_database, csrf_of, drop_database, make_user, sign_in
from tests.html import parse

CORNWALL = "E06000052"
AREA = "CORNWALL-FRS"
AREA_NAME = "Cornwall Fire and Rescue Service"


@dataclass
class Shared:
    """One database and data folder, which every application of a test is built on."""

    url: str
    data_dir: Path
    engine: Engine

    def app(self, **overrides: object) -> TestClient:
        """A new application on the shared database: another web process."""
        settings = Settings(
            environment="test",
            secret_key="test-secret-key",
            database_url=self.url,
            data_dir=self.data_dir,
        ).model_copy(update=overrides)
        return TestClient(create_app(settings))

    def user(self, role: str, bodies: list[str] = ()) -> User:  # type: ignore[assignment]
        with Session(self.engine, expire_on_commit=False) as session:
            user = make_user(session, role, bodies=bodies)
            session.commit()
        return user

    def row(self, job_id: str) -> ReportJob:
        with Session(self.engine) as session:
            return session.get(ReportJob, job_id)

    def add(self, **values: object) -> str:
        """A job row as some process wrote it."""
        now = utcnow()
        row = {
            "id": secrets.token_urlsafe(16),
            "kind": "area",
            "key": AREA,
            "name": AREA_NAME,
            "as_at_date": now.date(),
            "worker": "elsewhere:1",
            "created_at": now,
            "heartbeat_at": now,
        } | values
        with Session(self.engine) as session:
            session.add(ReportJob(**row))
            session.commit()
        return row["id"]


@pytest.fixture(scope="module")
def shared(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    folder = tmp_path_factory.mktemp("report-jobs")
    url = f"sqlite:///{folder / 'jobs.db'}" if backend == "sqlite" else create_database(PG_URL)
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(
        environment="test", secret_key="test-secret-key", database_url=url, data_dir=folder
    )
    with Session(engine) as session:
        load_catalogue(session=session)
        load_demo(session=session, settings=settings)
        session.commit()
    yield Shared(url, folder, engine)
    engine.dispose()
    built = _engines.pop(settings.sqlalchemy_url, None)
    if built is not None:
        built.dispose()
    if backend != "sqlite":
        drop_database(url)


def until(check: Callable[[], bool], timeout: float = 120) -> bool:
    """Whether `check` came true within `timeout` seconds (polled)."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        threading.Event().wait(0.05)
    return False


@pytest.fixture
def held_render(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Renders stop after laying out pages until the test sets the event."""
    release = threading.Event()
    real = jobs.make_pdf

    def make_pdf(**kwargs):  # type: ignore[no-untyped-def]
        kwargs["on_stage"]("laying out pages")
        release.wait(120)
        return real(**kwargs)

    monkeypatch.setattr(jobs, "make_pdf", make_pdf)
    yield release
    release.set()


def start(client: TestClient, shared: Shared, user: User, code: str = AREA) -> str:
    """Start an area report through a page; the new job's id."""
    with Session(shared.engine) as session:
        before = set(session.exec(select(ReportJob.id).where(ReportJob.user_id == user.id)))
    started = client.post(
        "/reports/areas",
        data={"csrf_token": csrf_of(client, "/reports"), "code": code},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    with Session(shared.engine) as session:
        after = set(session.exec(select(ReportJob.id).where(ReportJob.user_id == user.id)))
    (job_id,) = after - before
    return job_id


def test_a_job_started_in_one_process_is_followed_from_another(shared, held_render):
    officer = shared.user("officer", [CORNWALL])
    first, second = shared.app(), shared.app()
    sign_in(first, officer.email)
    sign_in(second, officer.email)
    refused = first.post(
        "/reports/areas",
        data={"csrf_token": csrf_of(first, "/reports"), "code": "NOPE"},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "No body with code" in refused.text
    parse(refused.text)

    job_id = start(first, shared, officer)
    assert until(lambda: shared.row(job_id).stage == "laying out pages")
    page = second.get("/reports")
    tree = parse(page.text)
    progress = tree.find(".//main//progress")
    assert AREA_NAME in page.text and progress is not None and progress.get("value") == "20"
    assert "Laying out pages" in page.text and f"/reports/{job_id}.pdf" not in page.text
    assert second.get(f"/reports/{job_id}.pdf").status_code == 404

    held_render.set()
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    row = shared.row(job_id)
    assert (row.status, row.progress, row.error) == ("done", 100, None)
    assert row.worker == jobs.worker_name()
    assert row.created_at <= row.started_at <= row.finished_at
    page = second.get("/reports")
    parse(page.text)
    assert f"/reports/{job_id}.pdf" in page.text and f"/reports/{job_id}.zip" in page.text
    pdf = second.get(f"/reports/{job_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["x-report-fingerprint"] == row.fingerprint
    assert second.get(f"/reports/{job_id}.zip").status_code == 200


def test_a_finished_job_and_its_files_survive_a_restart(shared, monkeypatch):
    officer = shared.user("officer", [CORNWALL])
    before = shared.app()
    sign_in(before, officer.email)
    job_id = start(before, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    kept = before.get(f"/reports/{job_id}.pdf").content

    # A restart: nothing of the old process is left in memory, and a new application starts.
    monkeypatch.setattr(jobs, "_held", {})
    monkeypatch.setattr(jobs, "_state", {})
    after = shared.app()
    sign_in(after, officer.email)
    page = after.get("/reports")
    parse(page.text)
    assert AREA_NAME in page.text and "Ready" in page.text
    pdf = after.get(f"/reports/{job_id}.pdf")
    assert pdf.status_code == 200 and pdf.content == kept
    row = shared.row(job_id)
    assert (shared.data_dir / row.pdf_path).read_bytes() == kept
    pack = after.get(f"/reports/{job_id}.zip")
    assert pack.status_code == 200
    with zipfile.ZipFile(io.BytesIO(pack.content)) as archive:
        data = archive.read("report-data.json")
        assert kept in {archive.read(name) for name in archive.namelist()}
    assert (
        hashlib.sha256(data).hexdigest() == row.fingerprint == pdf.headers["x-report-fingerprint"]
    )


def test_a_job_whose_process_stopped_beating_is_failed(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    bound = dt.timedelta(seconds=jobs.STALE_SECONDS)
    alive = shared.add(
        user_id=officer.id, status="running", stage="laying out pages", progress=20,
        heartbeat_at=now - bound + dt.timedelta(seconds=15),
    )  # fmt: skip
    gone = shared.add(
        user_id=officer.id, status="running", stage="laying out pages", progress=20,
        heartbeat_at=now - bound - dt.timedelta(seconds=1),
    )  # fmt: skip
    queued = shared.add(user_id=officer.id, heartbeat_at=now - bound * 3)
    client = shared.app()
    sign_in(client, officer.email)
    page = client.get("/reports")
    parse(page.text)
    assert page.text.count(jobs.RESTARTED) == 2 and "Laying out pages" in page.text

    with Session(shared.engine) as session:
        shown = {j.id: j for j in jobs.jobs_of(session=session, user_id=officer.id, now=now)}
    assert shown[alive].status == "running" and shown[alive].error is None
    for job_id in (gone, queued):
        assert (shown[job_id].status, shown[job_id].error) == ("failed", jobs.RESTARTED)
        assert client.get(f"/reports/{job_id}.pdf").status_code == 404

    # Starting another job records the failures, and they stay failed.
    with Session(shared.engine) as session:
        jobs.sweep(session=session, now=now)
        session.commit()
    assert shared.row(alive).status == "running"
    row = shared.row(gone)
    assert (row.status, row.error) == ("failed", jobs.RESTARTED)
    assert row.finished_at is not None and shared.row(queued).status == "failed"


def test_old_jobs_are_forgotten(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    old = shared.add(
        user_id=officer.id, status="done", stage="done", progress=100,
        created_at=now - dt.timedelta(hours=jobs.JOB_HOURS, minutes=1),
    )  # fmt: skip
    recent = shared.add(
        user_id=officer.id, status="done", stage="done", progress=100,
        created_at=now - dt.timedelta(hours=jobs.JOB_HOURS - 1),
    )  # fmt: skip
    with Session(shared.engine) as session:
        assert [j.id for j in jobs.jobs_of(session=session, user_id=officer.id)] == [recent]
        assert jobs.job_of(session=session, user_id=officer.id, job_id=old) is None
        jobs.sweep(session=session, now=now)
        session.commit()
    assert shared.row(old) is None and shared.row(recent) is not None


def test_a_render_that_fails_says_so(shared, monkeypatch):
    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("WeasyPrint fell over")

    monkeypatch.setattr(jobs, "make_pdf", broken)
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    job_id = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=60)
    row = shared.row(job_id)
    assert (row.status, row.error, row.pdf_path) == ("failed", jobs.FAILED, None)
    page = client.get("/reports")
    parse(page.text)
    assert jobs.FAILED in page.text and "WeasyPrint fell over" not in page.text


def test_a_render_stopped_at_its_ceiling_says_why(shared):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app(report_render_memory_mb=1)
    sign_in(client, officer.email)
    for cached in shared.data_dir.rglob("*.pdf"):  # rendered by an earlier test: render anew
        cached.unlink()
    job_id = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    row = shared.row(job_id)
    assert (row.status, row.error, row.pdf_path) == ("failed", too_big(1), None)
    cells = parse(client.get("/reports").text).iterfind(".//table//td")
    assert any(too_big(1) in "".join(cell.itertext()) for cell in cells)


def test_nobody_else_reads_a_job(shared):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    job_id = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    assert client.get(f"/reports/{job_id}.pdf").status_code == 200

    for role, bodies in (("admin", []), ("officer", [CORNWALL]), ("officer", ["QOX"])):
        stranger = shared.app()
        sign_in(stranger, shared.user(role, bodies).email)
        assert stranger.get(f"/reports/{job_id}.pdf").status_code == 404
        assert stranger.get(f"/reports/{job_id}.zip").status_code == 404
        assert job_id not in stranger.get("/reports").text
    assert client.get("/reports/no-such-job.pdf").status_code == 404
    assert client.get(f"/reports/{'x' * 500}.zip").status_code == 404

    # Its owner, no longer in the area's scope, is refused as today.
    with Session(shared.engine) as session:
        session.execute(delete(UserScope).where(UserScope.user_id == officer.id))
        session.commit()
    assert client.get(f"/reports/{job_id}.pdf").status_code == 403
    assert client.get(f"/reports/{job_id}.zip").status_code == 403


def test_a_job_whose_files_left_the_cache_says_so(shared):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    job_id = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    data = (shared.data_dir / shared.row(job_id).pdf_path).with_suffix(".json")
    kept = data.read_bytes()
    data.write_bytes(kept.replace(b'"kind":"area"', b'"kind":"body"'))
    try:
        changed = client.get(f"/reports/{job_id}.pdf")
        data.unlink()
        gone = client.get(f"/reports/{job_id}.zip")
    finally:
        data.write_bytes(kept)
    for response in (changed, gone):
        assert response.status_code == 404 and "no longer kept" in response.text


def test_the_rendering_process_beats_while_it_holds_a_job(shared, held_render, monkeypatch):
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.05)
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    job_id = start(client, shared, officer)
    assert until(lambda: shared.row(job_id).stage == "laying out pages")
    staged = shared.row(job_id).heartbeat_at
    assert until(lambda: shared.row(job_id).heartbeat_at > staged)
    held_render.set()
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    assert until(lambda: "beater" not in jobs._state and job_id not in jobs._held)


def test_an_unchanged_area_report_asked_again_is_ready_at_once(shared, monkeypatch):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    first = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=first, timeout=120)

    # Found by its change marker: no data built, nothing rendered, the job finished as it starts.
    def refused(**_):  # type: ignore[no-untyped-def]
        raise AssertionError("the report's data was built again")

    monkeypatch.setattr(jobs, "build_report", refused)
    second = start(client, shared, officer)

    row = shared.row(second)
    assert (row.status, row.progress) == ("done", 100)
    assert (row.pdf_path, row.fingerprint) == (
        shared.row(first).pdf_path,
        shared.row(first).fingerprint,
    )
    assert (
        client.get(f"/reports/{second}.pdf").content == client.get(f"/reports/{first}.pdf").content
    )
