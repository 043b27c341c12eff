"""Fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

Set COMPLIANCE_TEST_DATABASE_URL (a database the suite may fill and empty) to add PostgreSQL.
Each test runs inside a transaction that is rolled back, so tests never see each other's rows.
"""

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

import compliance.accounts.service as accounts
from compliance.catalogue.service import load_catalogue
from compliance.config import Settings
from compliance.db import get_engine, make_engine
from compliance.deps import get_session
from compliance.main import create_app
from compliance.migrations import upgrade
from compliance.obligations import judged
from compliance.outcomes import judgement
from tests.chromium_site import browser, site  # noqa: F401 (fixtures for the browser tests)
from tests.oidc_site import oidc_issuer  # noqa: F401 (the OpenID provider for the sign-in tests)

# Argon2id at its recommended cost takes a noticeable fraction of a second per hash; the tests
# hash hundreds of passwords, so they use the same algorithm at its lowest cost.
accounts.PASSWORDS = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))

PG_URL = os.environ.get("COMPLIANCE_TEST_DATABASE_URL", "")

# No test reads the wall clock: every test starts at the suite's clock, which then ticks on.
# `.ci/run` runs the suite a second time with COMPLIANCE_TEST_CLOCK a year after the real date,
# so a test that only passes near the day it was written fails at once, not next month.
SUITE_CLOCK = dt.datetime.fromisoformat(
    os.environ.get("COMPLIANCE_TEST_CLOCK") or "2026-12-01T09:00:00+00:00"
)
_suite_travel = time_machine.travel(SUITE_CLOCK, tick=True)


def pytest_configure(config: pytest.Config) -> None:
    # From collection on, so that module-level dates and session fixtures read the same clock.
    _suite_travel.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    _suite_travel.stop()


@pytest.fixture(autouse=True)
def suite_clock(request: pytest.FixtureRequest) -> Iterator[dt.datetime]:
    """Each test starts at the suite's clock, whatever the date and however long the run; a
    test on the demo area starts when its loading ended, as if it had loaded it itself."""
    start = SUITE_CLOCK
    if "engine" in request.fixturenames:
        # The databases are made (migrated, the demo loaded) before the test's clock starts.
        request.getfixturevalue("engine")
    if "demo_area" in request.fixturenames:
        start = request.getfixturevalue("demo_template").loaded_until
    with time_machine.travel(start, tick=True):
        yield SUITE_CLOCK


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
_ran: Counter[str] = Counter()


def pytest_report_header(config: pytest.Config) -> str:
    shown = make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else "not configured"
    return (
        f"database backends: {', '.join(BACKENDS)} (PostgreSQL: {shown}); "
        f"suite clock {SUITE_CLOCK.isoformat()}"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for backend in BACKENDS:
            if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid:
                _ran[backend] += 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    counts = ", ".join(f"{backend}: {_ran[backend]} passed" for backend in BACKENDS)
    terminalreporter.write_line(f"database tests by backend: {counts}")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def create_database(base_url: str) -> str:
    """Create an empty PostgreSQL database beside the configured one; return its URL."""
    url = make_url(base_url)
    name = f"{url.database}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = create_database(PG_URL)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def catalogue_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database holding the catalogue, shared by the tests of one backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'suite.db'}"
    else:
        url = create_database(PG_URL)
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_catalogue(session=session)
        session.commit()
    yield engine
    engine.dispose()
    if backend != "sqlite":
        drop_database(url)


@dataclass(frozen=True)
class DemoTemplate:
    """A database holding the catalogue and the demo area, loaded once per backend and run, and
    the files the demo stored. Nothing connects to it: it is only ever copied."""

    backend: str
    url: str
    files: Path
    loaded_until: dt.datetime


@pytest.fixture(scope="session")
def demo_template(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplate]:
    from compliance.demo.service import load_demo

    folder = tmp_path_factory.mktemp("demo-template")
    url = f"sqlite:///{folder / 'demo.db'}" if backend == "sqlite" else create_database(PG_URL)
    files = folder / "files"
    settings = Settings(
        environment="test", secret_key="test-secret-key", database_url=url, data_dir=files
    )
    upgrade(url)
    engine = make_engine(url)
    # Loaded at the suite's clock, as each test that loaded the demo for itself did.
    with time_machine.travel(SUITE_CLOCK, tick=True), Session(engine) as session:
        load_catalogue(session=session)
        load_demo(session=session, settings=settings)
        session.commit()
        loaded_until = dt.datetime.now(dt.UTC)
    engine.dispose()
    yield DemoTemplate(backend, url, files, loaded_until)
    if backend != "sqlite":
        drop_database(url)


def copy_demo(template: DemoTemplate, folder: Path) -> str:
    """A database of its own holding the demo area (a file copy on SQLite, `CREATE DATABASE ...
    TEMPLATE` on PostgreSQL), with the demo's files copied into `folder`; returns its URL."""
    if template.files.exists():
        shutil.copytree(template.files, folder, dirs_exist_ok=True)
    if template.backend == "sqlite":
        target = folder / f"demo-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(make_url(template.url).database, target)
        return f"sqlite:///{target}"
    source = make_url(template.url)
    name = f"{source.database}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    admin.dispose()
    return source.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def demo_engine(
    demo_template: DemoTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A copy of the demo template shared by the tests of one backend that ask for the demo."""
    url = copy_demo(demo_template, tmp_path_factory.mktemp("demo-db"))
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if demo_template.backend != "sqlite":
        drop_database(url)


@pytest.fixture
def demo_area() -> None:
    """Ask for this and the test's database holds the demo area (as `compliance demo` loads it
    on the suite's day), its files in the test's data folder; the test's own changes are rolled
    back, as always. Much quicker than loading the demo in each test."""


@pytest.fixture
def engine(request: pytest.FixtureRequest, backend: str) -> Engine:
    """The database of the test: the demo's if it asked for `demo_area`, else the catalogue's."""
    if "demo_area" in request.fixturenames:
        return request.getfixturevalue("demo_engine")
    return request.getfixturevalue("catalogue_engine")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back at the end of the test, commits included."""
    # What a process remembers of a database is keyed by the token its last commit drew; a
    # rollback restores an earlier token, so nothing one test judged may serve the next.
    judged._complete.clear()
    judgement._live.clear()
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()
    transaction.rollback()
    connection.close()


@pytest.fixture
def settings(request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> Settings:
    if "demo_area" in request.fixturenames:
        files = request.getfixturevalue("demo_template").files
        shutil.copytree(files, tmp_path, dirs_exist_ok=True)
    return Settings(
        environment="test",
        secret_key="test-secret-key",
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
    )


# An application is quick to build, but FastAPI includes its routers lazily: the first request
# an application answers builds every route's dependencies, which was a fifth of a page test's
# time. So the tests of a worker share one application per shape of settings (everything but
# the database and data folder), each test giving it its own settings, engine and session.
_apps: dict[str, FastAPI] = {}


def _shape(settings: Settings) -> str:
    fields = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in settings
        if name not in ("database_url", "data_dir")
    }
    return repr(sorted(fields.items()))


@pytest.fixture
def app(settings: Settings, session: Session) -> Iterator[FastAPI]:
    """The application, reading and writing through the test's rolled-back session."""
    shape = _shape(settings)
    application = _apps.get(shape) or create_app(settings)
    application.state.settings = settings
    application.state.engine = get_engine(settings)
    application.dependency_overrides = {get_session: lambda: session}
    routes = list(application.router.routes)
    yield application
    # A test that added routes keeps its application to itself.
    _apps[shape] = application
    if application.router.routes != routes:
        del _apps[shape]


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A browser with nobody signed in."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def run(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The `compliance` command line on an empty database of the backend under test:
    `run("init")`, or `run("user", "add", ..., stdin="password\n")`."""
    from typer.testing import CliRunner

    from compliance.cli import app as cli
    from compliance.config import get_settings

    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", fresh_url)
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args, stdin=None: runner.invoke(cli, list(args), input=stdin)
    get_settings.cache_clear()


@pytest.fixture
def quick_pdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports' PDFs typeset as a few bytes naming their HTML's digest, not by WeasyPrint (four
    seconds for the demo council's report), for tests about what is built, cached or recorded
    rather than what the PDF shows (tests/test_reports.py reads the PDFs back)."""
    from compliance.reports import pdf

    def typeset(html: str, **_: object) -> bytes:
        digest = hashlib.sha256(html.encode()).hexdigest().encode()
        return b"%PDF-1.7\n% " + digest + b"\n%%EOF\n"

    monkeypatch.setattr(pdf, "write_pdf", typeset)
    monkeypatch.setattr(pdf, "render_within", typeset)


PASSWORD = "correct horse battery staple"


def make_user(
    session: Session,
    role: str,
    *,
    bodies: list[str] = (),
    partnerships: list[str] = (),
    email: str | None = None,
):  # type: ignore[no-untyped-def]
    """A user who can sign in with PASSWORD."""
    from compliance.accounts.service import create_user

    address = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
    return create_user(
        session=session,
        email=address,
        name=f"Test {role}",
        role=role,
        password=PASSWORD,
        body_codes=list(bodies),
        partnership_slugs=list(partnerships),
    )


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign a test browser in, failing the test if it cannot."""
    response = client.post(
        "/sign-in", data={"email": email, "password": password, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def csrf_of(client: TestClient, path: str = "/") -> str:
    """The CSRF token of the signed-in session, read from a page's sign-out form."""
    import re

    page = client.get(path).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def admin(app, session: Session) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A browser signed in as an administrator."""
    user = make_user(session, "admin")
    with TestClient(app) as test_client:
        sign_in(test_client, user.email)
        yield test_client
