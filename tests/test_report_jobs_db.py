"""Background report jobs live in the database: any process follows them, a finished one outlives
its process, and one whose process stopped waits to be taken up again (test_report_job_resume),
or is failed with a clear message once it has been too often.

Each "process" is its own application built on the same database and data folder, as two web
workers are; the jobs are committed for real, on a database of this module's own.
"""

import datetime as dt
import hashlib
import io
import json
import secrets
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from compliance.config import Settings
from compliance.db import _engines, make_engine
from compliance.main import create_app
from compliance.models import User, UserScope, utcnow
from compliance.reports import holding, jobs
from compliance.reports import produce as producing
from compliance.reports.ceiling import RenderCeiling, too_big
from compliance.reports.models import ReportJob
from tests.conftest import (
    DemoTemplate,
    copy_demo,
    csrf_of,
    drop_database,
    make_user,
    sign_in,
)
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
def shared(
    demo_template: DemoTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    folder = tmp_path_factory.mktemp("report-jobs")
    url = copy_demo(demo_template, folder)
    engine = make_engine(url)
    settings = Settings(
        environment="test", secret_key="test-secret-key", database_url=url, data_dir=folder
    )
    yield Shared(url, folder, engine)
    engine.dispose()
    built = _engines.pop(settings.sqlalchemy_url, None)
    if built is not None:
        built.dispose()
    if demo_template.backend != "sqlite":
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
    assert row.worker == holding.worker_name()
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
    monkeypatch.setattr(holding, "_held", {})
    monkeypatch.setattr(holding, "_state", {})
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


def test_a_job_whose_process_stopped_beating_waits_to_resume_until_tried_too_often(shared):
    officer = shared.user("officer", [CORNWALL])
    now = utcnow()
    bound = dt.timedelta(seconds=jobs.STALE_SECONDS)
    stopped = now - bound - dt.timedelta(seconds=1)
    alive = shared.add(
        user_id=officer.id, status="running", stage="laying out pages", progress=20,
        heartbeat_at=now - bound + dt.timedelta(seconds=15),
    )  # fmt: skip
    gone = shared.add(
        user_id=officer.id, status="running", stage="laying out pages", progress=20,
        heartbeat_at=stopped, attempts=jobs.MAX_RESUMES - 1,
    )  # fmt: skip
    queued = shared.add(user_id=officer.id, heartbeat_at=now - bound * 3)
    tired = shared.add(
        user_id=officer.id, status="running", stage="writing", progress=75,
        heartbeat_at=stopped, attempts=jobs.MAX_RESUMES,
    )  # fmt: skip
    client = shared.app()
    sign_in(client, officer.email)
    page = client.get("/reports")
    parse(page.text)
    assert page.text.count(jobs.RESTARTED) == 1 and "Laying out pages" in page.text
    assert page.text.count("Waiting to resume after a restart") == 2

    with Session(shared.engine) as session:
        shown = {j.id: j for j in jobs.jobs_of(session=session, user_id=officer.id, now=now)}
    assert shown[alive].status == "running" and shown[alive].error is None
    for job_id in (gone, queued):
        assert (shown[job_id].status, shown[job_id].stage) == ("queued", jobs.WAITING)
        assert shown[job_id].error is None
    assert (shown[tired].status, shown[tired].error) == ("failed", jobs.RESTARTED)
    for job_id in (gone, queued, tired):
        assert client.get(f"/reports/{job_id}.pdf").status_code == 404

    # Starting another job records the failure of the one tried too often, and of it alone.
    with Session(shared.engine) as session:
        jobs.sweep(session=session, now=now)
        session.commit()
    assert shared.row(alive).status == "running"
    assert (shared.row(gone).status, shared.row(queued).status) == ("running", "queued")
    row = shared.row(tired)
    assert (row.status, row.error) == ("failed", jobs.RESTARTED)
    assert row.finished_at == stopped
    with Session(shared.engine) as session:  # left for no other test to take up
        session.execute(delete(ReportJob).where(col(ReportJob.id).in_([alive, gone, queued])))
        session.commit()


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
    monkeypatch.setattr(holding, "HEARTBEAT_SECONDS", 0.05)
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    job_id = start(client, shared, officer)
    assert until(lambda: shared.row(job_id).stage == "laying out pages")
    staged = shared.row(job_id).heartbeat_at
    assert until(lambda: shared.row(job_id).heartbeat_at > staged)
    held_render.set()
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=120)
    assert until(lambda: "beater" not in holding._state and job_id not in holding._held)


def test_an_unchanged_area_report_asked_again_is_ready_at_once(shared, monkeypatch):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app()
    sign_in(client, officer.email)
    first = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=first, timeout=120)

    # Found by its change marker: no data built, nothing rendered, the job finished as it starts.
    def refused(**_):  # type: ignore[no-untyped-def]
        raise AssertionError("the report's data was built again")

    monkeypatch.setattr(producing, "build_report", refused)
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


DUTY = "children-act-2004-s11"


def start_full_pack(client: TestClient, shared: Shared, user: User, **dates: str) -> str | None:
    """Start a duty's full evidence pack from its page; the new job's id, or None if none."""
    with Session(shared.engine) as session:
        before = set(session.exec(select(ReportJob.id).where(ReportJob.user_id == user.id)))
    fields = {f"pack_as_at-{part}": value for part, value in dates.items()}
    started = client.post(
        f"/duties/{DUTY}/full-pack",
        data={"csrf_token": csrf_of(client, f"/duties/{DUTY}")} | fields,
        follow_redirects=False,
    )
    with Session(shared.engine) as session:
        after = set(session.exec(select(ReportJob.id).where(ReportJob.user_id == user.id)))
    if started.status_code != 303:
        assert after == before
        return None
    assert started.headers["location"] == "/reports"
    (job_id,) = after - before
    return job_id


def test_a_duty_full_pack_holds_every_holders_own_report(shared, monkeypatch):
    # The Cornwall officer sees two holders of the safeguarding duty: over a threshold of one,
    # the duty's report is a summary, and its full pack holds both holders' own reports.
    officer = shared.user("officer", [CORNWALL])
    client = shared.app(report_detail_holders=1)
    sign_in(client, officer.email)
    stages: list[tuple[str, int]] = []
    real_write = jobs._write

    def write(engine, job_id, **values):  # type: ignore[no-untyped-def]
        if "stage" in values:
            stages.append((values["stage"], values["progress"]))
        return real_write(engine, job_id, **values)

    monkeypatch.setattr(jobs, "_write", write)
    job_id = start_full_pack(client, shared, officer)
    assert job_id is not None
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=300)
    row = shared.row(job_id)
    assert (row.status, row.error, row.full_pack) == ("done", None, True)
    assert row.pack_path and (shared.data_dir / row.pack_path).exists()
    holders_stages = [s for s in stages if s[0].startswith("holders' reports")]
    assert [s[0] for s in holders_stages] == [
        "holders' reports: 1 of 2",
        "holders' reports: 2 of 2",
    ]
    assert [p for _, p in stages] == sorted(p for _, p in stages)

    page = client.get("/reports")
    parse(page.text)
    assert "with its full evidence pack" in page.text and "Full evidence pack" in page.text
    pack = client.get(f"/reports/{job_id}.zip")
    assert pack.status_code == 200 and pack.headers["content-disposition"].endswith('-full.zip"')
    with zipfile.ZipFile(io.BytesIO(pack.content)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        summary = json.loads(archive.read("report-data.json"))
        held = {name: archive.read(name) for name in names if name.startswith("holders/")}
    assert summary["digest"] is not None and len(summary["digest"]["holders"]) == 2
    listed = manifest["holders"]
    assert [(h["kind"], h["key"], h["url"]) for h in listed] == [
        (h["kind"], h["key"], h["address"]) for h in summary["digest"]["holders"]
    ]
    assert len(held) == 4 and all(h["problem"] is None for h in listed)
    files = {f["file"]: f for f in manifest["files"]}
    for holder in listed:
        pdf = held[holder["file"]]
        data = held[holder["file"].removesuffix(".pdf") + "-data.json"]
        assert pdf.startswith(b"%PDF-") and files[holder["file"]]["kind"] == "holder report"
        assert hashlib.sha256(data).hexdigest() == holder["fingerprint"]
        assert hashlib.sha256(pdf).hexdigest() == files[holder["file"]]["sha256"]
        # The holder's report is the one its own address serves as at the same date.
        kind = "bodies" if holder["kind"] == "body" else "partnerships"
        own = client.get(
            f"/api/v1/{kind}/{holder['key']}/report.pdf", params={"as_at": summary["as_at"]}
        )
        assert own.status_code == 200, own.text
        assert own.headers["x-report-fingerprint"] == holder["fingerprint"]
        assert own.content == pdf


def test_a_full_pack_asked_with_a_date_that_is_not_real_changes_nothing(shared):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app(report_detail_holders=1)
    sign_in(client, officer.email)
    for dates, problem in (
        ({"day": "31", "month": "2", "year": "2026"}, "Enter a real date for the report"),
        ({"day": "1", "month": "1", "year": "2099"}, "cannot be as at a date in the future"),
        ({"day": "x", "month": "", "year": ""}, "Enter a real date for the report"),
    ):
        assert start_full_pack(client, shared, officer, **dates) is None
        answer = client.post(
            f"/duties/{DUTY}/full-pack",
            data={"csrf_token": csrf_of(client, f"/duties/{DUTY}")}
            | {f"pack_as_at-{part}": value for part, value in dates.items()},
        )
        assert answer.status_code == 422 and problem in answer.text
        tree = parse(answer.text)
        assert tree.find(".//*[@id='pack_as_at-day']").get("value") == dates["day"]
    no_csrf = client.post(f"/duties/{DUTY}/full-pack", data={})
    assert no_csrf.status_code == 403
    assert client.post("/duties/no-such-duty/full-pack", data={
        "csrf_token": csrf_of(client, f"/duties/{DUTY}")
    }).status_code == 404  # fmt: skip


def test_a_holder_past_its_ceiling_is_listed_in_the_full_pack_with_the_reason(shared, monkeypatch):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app(report_detail_holders=1)
    sign_in(client, officer.email)
    real = jobs.produce

    def produce(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["kind"] == "body" and kwargs["key"] == CORNWALL:
            raise RenderCeiling(too_big(1))
        return real(**kwargs)

    monkeypatch.setattr(jobs, "produce", produce)
    job_id = start_full_pack(client, shared, officer)
    assert job_id is not None and jobs.wait(engine=shared.engine, job_id=job_id, timeout=300)
    assert shared.row(job_id).status == "done"
    pack = client.get(f"/reports/{job_id}.zip")
    with zipfile.ZipFile(io.BytesIO(pack.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
    (missing,) = [h for h in manifest["holders"] if h["problem"]]
    assert (missing["key"], missing["problem"], missing["file"]) == (CORNWALL, too_big(1), None)
    assert any(f["problem"] == too_big(1) for f in manifest["files"])
    assert sum(name.endswith(".pdf") and name.startswith("holders/") for name in names) == 1


def test_an_area_full_pack_from_the_reports_page(shared):
    officer = shared.user("officer", [CORNWALL])
    client = shared.app(report_detail_holders=1)
    sign_in(client, officer.email)
    with Session(shared.engine) as session:
        before = set(session.exec(select(ReportJob.id).where(ReportJob.user_id == officer.id)))
    started = client.post(
        "/reports/areas",
        data={"csrf_token": csrf_of(client, "/reports"), "code": AREA, "full_pack": "true"},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    with Session(shared.engine) as session:
        after = set(session.exec(select(ReportJob.id).where(ReportJob.user_id == officer.id)))
    (job_id,) = after - before
    assert jobs.wait(engine=shared.engine, job_id=job_id, timeout=600)
    row = shared.row(job_id)
    assert (row.status, row.error, row.kind, row.full_pack) == ("done", None, "area", True)
    with zipfile.ZipFile(io.BytesIO(client.get(f"/reports/{job_id}.zip").content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        summary = json.loads(archive.read("report-data.json"))
    assert len(manifest["holders"]) == len(summary["digest"]["holders"]) > 1
    assert all(h["fingerprint"] and h["file"] for h in manifest["holders"])

    # Without the box ticked, the same area's job is its report and its usual pack.
    plain = start(client, shared, officer)
    assert jobs.wait(engine=shared.engine, job_id=plain, timeout=120)
    assert (shared.row(plain).full_pack, shared.row(plain).pack_path) == (False, None)
    with zipfile.ZipFile(io.BytesIO(client.get(f"/reports/{plain}.zip").content)) as archive:
        assert "holders" not in json.loads(archive.read("manifest.json"))
