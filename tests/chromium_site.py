"""The demo area served on 127.0.0.1 and Debian's Chromium, for the browser tests (fixtures
`site` and `browser`, offered to every test module through conftest.py)."""

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session, select

from compliance.catalogue.service import load_catalogue
from compliance.checks.service import run_checks
from compliance.config import Settings
from compliance.db import make_engine
from compliance.demo.service import load_demo
from compliance.main import create_app
from compliance.migrations import upgrade
from compliance.models import Bid, Body, EvidenceLink, Obligation, Period

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's Chromium is not installed (apt-get install chromium); .ci/run installs it",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from tests.conftest import make_user

    data = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{data / 'site.db'}"
    settings = Settings(
        environment="test", secret_key="browser-test", database_url=url, data_dir=data
    )
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_catalogue(session=session)
        load_demo(session=session, settings=settings)
        emails = {
            "admin": make_user(session, "admin").email,
            "officer": make_user(
                session,
                "officer",
                bodies=["E06000052"],
                partnerships=["cios-safeguarding-adults-board"],
            ).email,
            "inspector": make_user(
                session,
                "inspector",
                bodies=["E06000052"],
                partnerships=["cios-safeguarding-adults-board"],
            ).email,
            "outsider": make_user(session, "officer", bodies=["QOX"]).email,
        }
        run_checks(
            session=session,
            on=settings.today(),
            trigger="test",
            due_soon_days=30,
            query_answer_days=14,
        )
        cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
        obligation = session.exec(
            select(Obligation).where(Obligation.body_id == cornwall.id)
        ).first()
        evidence = session.exec(
            select(EvidenceLink.evidence_id)
            .join(Period, Period.id == EvidenceLink.occurrence_id)
            .join(Obligation, Obligation.id == Period.obligation_id)
            .where(Obligation.body_id == cornwall.id)
        ).first()
        bid = session.exec(select(Bid)).first().reference
        obligation_id = obligation.id
        session.commit()
    port = free_port()
    with served(settings, port):
        yield {
            "base": f"http://127.0.0.1:{port}",
            "emails": emails,
            "obligation": obligation_id,
            "evidence": evidence,
            "bid": bid,
            "data": data,
        }
    engine.dispose()


@contextlib.contextmanager
def served(settings: Settings, port: int) -> Iterator[None]:
    """The application with these settings served on 127.0.0.1 in a thread, until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()
