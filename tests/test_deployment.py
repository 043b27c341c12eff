"""Ready to deploy: behind a trusted proxy (Secure cookie, the real client address, throttling
by it), untrusted forwarded headers ignored, a request id and one JSON log line per request with
secrets masked, HSTS when asked, `compliance serve --workers 2` serving from two processes with
the scheduled jobs run once in the parent, and both services stopping cleanly on SIGTERM."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from compliance import logs
from compliance import scheduler as sched
from compliance.accounts.models import SignInAttempt
from compliance.config import Settings
from compliance.deps import get_session
from compliance.main import create_app
from compliance.models import JobRun
from compliance.server import uvicorn_options
from tests import test_scheduler
from tests.conftest import PASSWORD, make_user, sign_in

PROXY = "10.0.0.1"
STRANGER = "192.0.2.50"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
JOB_NAMES = {job.name for job in sched.JOBS}
# Generous: two cold Python processes importing the application on a busy two-core machine.
DEADLINE_SECONDS = 120


def _app(settings: Settings, session: Session, **changes):  # type: ignore[no-untyped-def]
    application = create_app(settings.model_copy(update=changes))
    application.dependency_overrides[get_session] = lambda: session
    return application


def _behind_proxy(settings: Settings, session: Session, peer: str, **changes) -> TestClient:
    """The application as `serve` runs it (uvicorn's proxy-headers middleware, with the
    setting's trusted addresses), reached from `peer`."""
    changes = {"forwarded_allow_ips": "10.0.0.0/24", **changes}
    trusted = uvicorn_options(settings.model_copy(update=changes), workers=1)
    assert trusted["proxy_headers"] is True
    wrapped = ProxyHeadersMiddleware(
        _app(settings, session, **changes), trusted_hosts=trusted["forwarded_allow_ips"]
    )
    return TestClient(wrapped, client=(peer, 40000))


def _post_sign_in(client: TestClient, email: str, password: str, forwarded_for: str):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": forwarded_for}
    data = {"email": email, "password": password, "next": "/"}
    return client.post("/sign-in", data=data, headers=headers, follow_redirects=False)


def _addresses(session: Session, email: str) -> list[str]:
    attempts = session.exec(select(SignInAttempt).where(SignInAttempt.email == email)).all()
    return [attempt.address for attempt in attempts]


def _cookie_is_secure(response) -> bool:  # type: ignore[no-untyped-def]
    attributes = response.headers["set-cookie"].lower().split(";")
    return "secure" in {attribute.strip() for attribute in attributes}


# The proxy ---------------------------------------------------------------------------------------


def test_behind_a_trusted_proxy_the_cookie_is_secure_and_the_client_is_the_real_one(
    settings, session
):
    user = make_user(session, "officer")
    with _behind_proxy(settings, session, PROXY) as client:
        response = _post_sign_in(client, user.email, PASSWORD, "203.0.113.7")
    assert response.status_code == 303
    assert _cookie_is_secure(response)
    assert _addresses(session, user.email) == ["203.0.113.7"]


def test_forwarded_headers_from_anyone_else_are_ignored(settings, session):
    user = make_user(session, "officer")
    with _behind_proxy(settings, session, STRANGER) as client:
        response = _post_sign_in(client, user.email, PASSWORD, "203.0.113.7")
    assert response.status_code == 303
    assert not _cookie_is_secure(response)
    assert _addresses(session, user.email) == [STRANGER]


def test_throttling_counts_the_real_address_behind_the_proxy(settings, session):
    user = make_user(session, "officer")
    with _behind_proxy(settings, session, PROXY, sign_in_max_failures=2) as client:
        wrong = [_post_sign_in(client, user.email, "wrong", "203.0.113.7") for _ in range(3)]
        assert [r.status_code for r in wrong] == [401, 401, 429]
        # The guesser's address is held back; someone else behind the same proxy is not.
        assert _post_sign_in(client, user.email, PASSWORD, "203.0.113.7").status_code == 429
        assert _post_sign_in(client, user.email, PASSWORD, "198.51.100.9").status_code == 303


def test_an_untrusted_peer_cannot_dodge_throttling_with_made_up_addresses(settings, session):
    user = make_user(session, "officer")
    with _behind_proxy(settings, session, STRANGER, sign_in_max_failures=2) as client:
        statuses = [
            _post_sign_in(client, user.email, "wrong", f"198.51.100.{n}").status_code
            for n in range(3)
        ]
        assert statuses == [401, 401, 429]
        assert _post_sign_in(client, user.email, PASSWORD, "198.51.100.99").status_code == 429


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.1/24", "10.0.0.1,*", " , "])
def test_a_trusted_proxy_setting_that_uvicorn_would_misread_is_refused(value):
    with pytest.raises(ValidationError, match="COMPLIANCE_FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips=value)


def test_the_trusted_proxy_setting_takes_addresses_networks_or_everyone():
    assert Settings(forwarded_allow_ips=" 10.0.0.5, fd00::/8 ").forwarded_allow_ips == (
        "10.0.0.5,fd00::/8"
    )
    assert Settings(forwarded_allow_ips="*").forwarded_allow_ips == "*"
    assert Settings().forwarded_allow_ips == "127.0.0.1,::1"


# Request ids and the request log -----------------------------------------------------------------


def _request_lines(caplog) -> list[logging.LogRecord]:  # type: ignore[no-untyped-def]
    return [r for r in caplog.records if r.name == "compliance.request"]


def test_a_sane_request_id_is_echoed_and_any_other_replaced(client):
    assert client.get("/sign-in", headers={"X-Request-ID": "edge-7f3a.1"}).headers[
        "X-Request-ID"
    ] == ("edge-7f3a.1")
    for bad in ["two words", "x" * 200, "-starts-with-a-dash", 'quote"d']:
        made = client.get("/sign-in", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert made != bad and len(made) == 32 and int(made, 16) >= 0
    first, second = (client.get("/sign-in").headers["X-Request-ID"] for _ in range(2))
    assert first != second


def test_each_request_is_one_json_line_with_who_what_and_how_long(app, session, caplog):
    caplog.set_level(logging.INFO, logger="compliance.request")
    user = make_user(session, "officer")
    with TestClient(app) as browser:
        sign_in(browser, user.email)
        caplog.clear()
        # A blank filter makes the application copy the request's scope on the way in: the
        # signed-in user must still be seen by the log line.
        browser.get("/?page=1&body=&note=E06000052", headers={"X-Request-ID": "trace-1"})
    (record,) = _request_lines(caplog)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["request_id"] == "trace-1"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert line["user_id"] == user.id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["pid"] == os.getpid() and line["level"] == "INFO"
    assert "E06000052" not in json.dumps(line)  # no query string


def test_secret_addresses_are_masked_in_the_log(client, caplog):
    caplog.set_level(logging.INFO, logger="compliance.request")
    client.get("/calendar/s3cret-calendar-token.ics")
    client.get("/survey/s3cret-survey-token")
    client.get("/have-your-say/s3cret-public-token")
    lines = [json.loads(logs.JsonFormatter().format(r)) for r in _request_lines(caplog)]
    assert [line["path"] for line in lines] == [
        "/calendar/***.ics",
        "/survey/***",
        "/have-your-say/***",
    ]
    assert all(line["user_id"] is None for line in lines)
    server_side = [r for r in caplog.records if r.name.startswith("compliance")]
    assert "s3cret" not in "".join(r.getMessage() for r in server_side)


def test_a_signed_out_request_is_logged_without_a_user(client, caplog):
    caplog.set_level(logging.INFO, logger="compliance.request")
    client.get("/sign-in")
    (record,) = _request_lines(caplog)
    assert record.fields["user_id"] is None and record.fields["status"] == 200


def test_configured_logging_writes_json_or_text_to_standard_error(capsys):
    try:
        logs.configure(Settings(log_format="json"))
        token = logs.request_id.set("run-1")
        logging.getLogger("compliance.test").warning("hello %s", "there")
        logs.request_id.reset(token)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["message"] == "hello there" and line["request_id"] == "run-1"
        assert line["level"] == "WARNING" and line["logger"] == "compliance.test"

        logs.configure(Settings(log_format="text", log_level="warning"))
        logging.getLogger("compliance.test").info("not shown")
        logging.getLogger("compliance.test").warning("shown", extra={"fields": {"job": "x"}})
        text = capsys.readouterr().err
        assert "not shown" not in text
        assert "WARNING compliance.test" in text and text.rstrip().endswith("shown job=x")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == logs.HANDLER_NAME]:
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)


def test_log_format_and_the_scheduler_default_follow_the_environment():
    production = Settings(environment="production", secret_key="p" * 40)
    assert production.log_json and not production.scheduler_in_web_on
    development = Settings(environment="development")
    assert not development.log_json and development.scheduler_in_web_on
    assert Settings(environment="production", secret_key="p" * 40, scheduler_in_web=True)
    assert Settings(log_level="debug").log_level == "DEBUG"


# HSTS --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "base_url", "expected"),
    [
        (31_536_000, "https://testserver", "max-age=31536000"),
        (31_536_000, "http://testserver", None),
        (0, "https://testserver", None),
    ],
)
def test_hsts_only_over_https_and_only_when_asked(settings, session, seconds, base_url, expected):
    application = _app(settings, session, hsts_seconds=seconds)
    with TestClient(application, base_url=base_url) as browser:
        response = browser.get("/sign-in")
    assert response.status_code == 200
    assert response.headers.get("Strict-Transport-Security") == expected


def test_hsts_follows_the_scheme_the_trusted_proxy_reports(settings, session):
    with _behind_proxy(settings, session, PROXY, hsts_seconds=600) as client:
        through_proxy = client.get("/sign-in", headers=FORWARDED)
    with _behind_proxy(settings, session, STRANGER, hsts_seconds=600) as client:
        claimed = client.get("/sign-in", headers=FORWARDED)
    assert through_proxy.headers.get("Strict-Transport-Security") == "max-age=600"
    assert "Strict-Transport-Security" not in claimed.headers


# The scheduler finishes its job and begins no other once told to stop -----------------------------


# A migrated database with the catalogue, and its settings: the scheduler tests' own.
database = test_scheduler.database


def test_a_stop_during_a_tick_lets_the_running_job_finish_and_begins_no_other(
    database, monkeypatch
):
    engine, settings = database
    stop, ran = threading.Event(), []

    def first(**_):  # type: ignore[no-untyped-def]
        stop.set()  # SIGTERM arrives while this job runs
        ran.append("first")
        return "done"

    def second(**_):  # type: ignore[no-untyped-def]
        ran.append("second")
        return "done"

    monkeypatch.setattr(
        sched,
        "JOBS",
        [
            sched.Job("first", lambda s: sched.dt.time(2, 0), first),
            sched.Job("second", lambda s: sched.dt.time(3, 0), second),
        ],
    )
    now = sched.dt.datetime(2026, 11, 26, 9, 30, tzinfo=sched.dt.UTC)
    done = sched.tick(engine, settings, now=now, stop=stop)
    assert ran == ["first"] and len(done) == 1
    with Session(engine) as session:
        runs = session.exec(select(JobRun)).all()
    # The second slot was never claimed: the next scheduler to start runs it.
    assert [(run.job, run.status) for run in runs] == [("first", "succeeded")]


def test_each_job_run_is_one_log_line_under_a_run_id(database, caplog):
    engine, settings = database
    caplog.set_level(logging.INFO, logger="compliance.scheduler")
    sched.tick(engine, settings, now=sched.dt.datetime(2026, 11, 26, 9, 30, tzinfo=sched.dt.UTC))
    lines = [
        json.loads(logs.JsonFormatter().format(r))
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "job"
    ]
    assert {line["job"] for line in lines} == JOB_NAMES and len(lines) == len(JOB_NAMES)
    for line in lines:
        assert line["outcome"] == "succeeded" and len(line["request_id"]) == 32
        assert line["started_at"] <= line["finished_at"]
    assert len({line["request_id"] for line in lines}) == len(lines)


# The real services, as processes -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:  # a line still being written, or a stray one
            continue
    return lines


def _wait_for(condition, what: str, process: subprocess.Popen, log: Path) -> None:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the process ended before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DEADLINE_SECONDS} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> int:  # type: ignore[type-arg]
    """SIGTERM, then the exit status (a generous deadline: this is not a timing test)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the process did not stop on SIGTERM")


@pytest.fixture
def environment(fresh_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An initialised database and a data folder, with JSON logs."""
    env = os.environ | {
        "COMPLIANCE_DATABASE_URL": fresh_url,
        "COMPLIANCE_DATA_DIR": str(tmp_path / "data"),
        "COMPLIANCE_ENVIRONMENT": "development",
        "COMPLIANCE_LOG_FORMAT": "json",
        "COMPLIANCE_WORKER_THREADS": "4",
    }
    done = subprocess.run(
        [sys.executable, "-m", "compliance.cli", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield env


def _jobs(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("event") == "job"]


def test_serve_with_two_workers_serves_from_two_processes_and_runs_the_jobs_once(
    environment, tmp_path
):
    port = _free_port()
    log = tmp_path / "serve.log"
    command = ["serve", "--port", str(port), "--workers", "2"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "compliance.cli", *command],
            env=environment,
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def worker_pids() -> set[int]:
        return {ln["pid"] for ln in _json_lines(log) if ln.get("event") == "request"}

    def a_round() -> bool:
        # Many connections at once, so that both workers take some (the kernel hands each
        # connection to whichever process accepts it first).
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda _: httpx.get(f"{base}/sign-in", timeout=30), range(16)))
        assert {answer.status_code for answer in answers} == {200}
        return len(worker_pids()) >= 2

    try:
        _wait_for(ready, "ready server", process, log)
        _wait_for(a_round, "second worker answering", process, log)
        _wait_for(lambda: len(_jobs(_json_lines(log))) == len(JOB_NAMES), "jobs", process, log)
    finally:
        status = _stop(process)
    assert status == 0, log.read_text()[-3000:]

    lines = _json_lines(log)
    workers = worker_pids()
    assert len(workers) == 2 and process.pid not in workers
    # The scheduled jobs ran once, in the parent, not in each worker.
    jobs = _jobs(lines)
    assert sorted(job["job"] for job in jobs) == sorted(JOB_NAMES)
    assert {job["pid"] for job in jobs} == {process.pid}
    assert any(ln["message"] == "scheduler stopped" and ln["pid"] == process.pid for ln in lines)
    requests = [ln for ln in lines if ln.get("event") == "request"]
    assert all(ln["method"] == "GET" and ln["path"] == "/sign-in" for ln in requests)
    # uvicorn's own access log is off: ours is the only line per request.
    assert not [ln for ln in lines if ln.get("logger") == "uvicorn.access"]


def test_a_web_process_sets_what_start_up_built_beside_the_garbage_collector(environment):
    """Each web process freezes its start-up heap (compliance.server.settle_heap), so that no
    full collection during a request walks the whole application again."""
    probe = (
        "import gc; from compliance.server import web_app; web_app(); "
        "print(gc.get_freeze_count(), len(gc.get_objects()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    frozen, tracked = map(int, done.stdout.split())
    # The application's modules, models and validators: far more than what is left tracked.
    assert frozen > 100_000 and tracked < frozen / 10, (frozen, tracked)


def test_the_scheduler_service_runs_the_jobs_and_stops_cleanly_on_sigterm(environment, tmp_path):
    log = tmp_path / "scheduler.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "compliance.cli", "scheduler"],
            env=environment,
            stdout=out,
            stderr=out,
        )
    try:
        _wait_for(lambda: len(_jobs(_json_lines(log))) == len(JOB_NAMES), "jobs", process, log)
    finally:
        status = _stop(process)
    assert status == 0, log.read_text()[-3000:]
    lines = _json_lines(log)
    assert {job["outcome"] for job in _jobs(lines)} == {"succeeded"}
    assert lines[-1]["message"] == "scheduler stopped"


def test_serve_refuses_a_worker_count_out_of_range():
    done = subprocess.run(
        [sys.executable, "-m", "compliance.cli", "serve", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--workers" in done.stderr
