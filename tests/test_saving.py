"""Saved means saved: through the real request session (not the suite's rolled-back one), a
change is committed before it is answered; a commit that fails is a 503 and stores nothing, no
row and no file; a database that cannot be reached is a clear 503 too."""

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlmodel import Session, select

from compliance.accounts.tokens import create_token
from compliance.catalogue.service import load_catalogue
from compliance.config import Settings
from compliance.db import _engines, get_engine
from compliance.main import create_app
from compliance.migrations import upgrade
from compliance.models import AuditEvent, Evidence, Obligation, Period
from compliance.obligations.service import sync_obligations
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body

ON = dt.date(2026, 12, 1)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Area:
    """A fresh database served by the real application: one council, its officer, a period."""

    def __init__(self, url: str, data_dir: Path):
        upgrade(url)
        self.settings = Settings(
            environment="test", secret_key="test-secret-key", database_url=url, data_dir=data_dir
        )
        self.engine = get_engine(self.settings)
        with Session(self.engine) as session:
            load_catalogue(session=session)
            body = make_body(session)
            sync_obligations(session=session, on=ON)
            officer = make_user(session, "officer", bodies=[body.code])
            self.token, _ = create_token(
                session=session, user=officer, name="uploads", actor=officer.email
            )
            self.email = officer.email
            occurrence = session.exec(
                select(Period)
                .join(Obligation, Obligation.id == Period.obligation_id)
                .where(Obligation.body_id == body.id)
            ).first()
            self.obligation_id, self.occurrence_id = occurrence.obligation_id, occurrence.id
            session.commit()
        self.app = create_app(self.settings)

    def count(self, model) -> int:  # type: ignore[no-untyped-def]
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(model)).one()

    def stored_files(self) -> list[Path]:
        return [p for p in (self.settings.data_dir / "evidence").rglob("*") if p.is_file()]


@pytest.fixture
def area(fresh_url: str, tmp_path: Path) -> Iterator[Area]:
    built = Area(fresh_url, tmp_path / "data")
    yield built
    built.engine.dispose()
    _engines.pop(built.settings.sqlalchemy_url, None)


def fail_commits_that_store_evidence(engine, monkeypatch):  # type: ignore[no-untyped-def]
    """The database refuses the COMMIT of any transaction that inserted evidence, as a full
    disk or a lost connection would (the driver's commit raises); every other commit goes
    through. Returns the repair."""
    flagged: set[int] = set()
    driver_commit = engine.dialect.do_commit

    def mark(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]  # noqa: E501
        if re.match(r"\s*INSERT INTO evidence\b", statement, re.IGNORECASE):
            flagged.add(id(connection.connection))  # the pooled connection do_commit is given

    def do_commit(dbapi_connection):  # type: ignore[no-untyped-def]
        if id(dbapi_connection) in flagged:
            flagged.discard(id(dbapi_connection))
            raise engine.dialect.loaded_dbapi.OperationalError("disk I/O error")
        driver_commit(dbapi_connection)

    event.listen(engine, "before_cursor_execute", mark)
    monkeypatch.setattr(engine.dialect, "do_commit", do_commit)

    def repair() -> None:
        event.remove(engine, "before_cursor_execute", mark)
        monkeypatch.setattr(engine.dialect, "do_commit", driver_commit)

    return repair


def upload(client: TestClient, area: Area, title: str = "Signed section 75 agreement"):  # type: ignore[no-untyped-def]  # noqa: E501
    return client.post(
        f"/api/v1/obligations/{area.obligation_id}/evidence",
        headers={"Authorization": f"Bearer {area.token}"},
        data={
            "kind": "document",
            "title": title,
            "effective_date": "2026-11-20",
            "occurrence_ids": str(area.occurrence_id),
        },
        files={"file": ("agreement.pdf", PDF, "application/pdf")},
    )


def test_a_failed_commit_is_a_503_problem_and_stores_nothing_then_a_retry_saves(area, monkeypatch):
    events_before = area.count(AuditEvent)
    repair = fail_commits_that_store_evidence(area.engine, monkeypatch)
    with TestClient(area.app) as client:
        refused = upload(client, area)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"].isdigit()
        assert "not saved" in refused.json()["detail"]
        assert area.count(Evidence) == 0 and area.count(AuditEvent) == events_before
        assert area.stored_files() == []
        repair()
        saved = upload(client, area)
    assert saved.status_code == 201, saved.text
    assert area.count(Evidence) == 1 and area.count(AuditEvent) == events_before + 1
    assert [p.name for p in area.stored_files()] == [saved.json()["sha256"]]


def record_through_the_page(area: Area, title: str):  # type: ignore[no-untyped-def]
    """An officer fills in the evidence form, with a file, and sends it."""
    with TestClient(area.app) as client:
        sign_in(client, area.email)
        form_page = f"/obligations/{area.obligation_id}/evidence"
        return client.post(
            form_page,
            data={
                "csrf_token": csrf_of(client, f"{form_page}/new"),
                "kind": "document",
                "title": title,
                "effective_date-day": "20",
                "effective_date-month": "11",
                "effective_date-year": "2026",
                "occurrence_ids": str(area.occurrence_id),
            },
            files={"file": ("agreement.pdf", PDF, "application/pdf")},
            follow_redirects=False,
        )


def test_a_failed_commit_brings_the_page_form_back_saying_so(area, monkeypatch):
    fail_commits_that_store_evidence(area.engine, monkeypatch)
    answer = record_through_the_page(area, "Signed section 75 agreement")
    assert answer.status_code == 503
    assert "Your change was not saved" in answer.text
    assert 'value="Signed section 75 agreement"' in answer.text  # what was typed is kept
    assert area.count(Evidence) == 0 and area.stored_files() == []


def test_a_page_upload_refused_after_its_file_was_checked_leaves_no_file(area):
    answer = record_through_the_page(area, "Minutes\x00")
    assert answer.status_code == 422 and "NUL" in answer.text
    assert area.count(Evidence) == 0 and area.stored_files() == []


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[TestClient]:
    """The application with its database gone: nothing listens where the URL points."""
    settings = Settings(
        environment="test",
        secret_key="test-secret-key",
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/gone?connect_timeout=2",
        data_dir=tmp_path,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
    get_engine(settings).dispose()
    _engines.pop(settings.sqlalchemy_url, None)


def test_when_the_database_is_down_every_answer_says_so(unreachable):
    assert unreachable.get("/healthz").json() == {"status": "ok"}
    ready = unreachable.get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    api = unreachable.get("/api/v1/me", headers={"Authorization": "Bearer cpt_x"})
    assert api.status_code == 503 and api.headers["content-type"] == "application/problem+json"
    assert "cannot reach its database" in api.json()["detail"] and "retry-after" in api.headers
    unreachable.cookies.set("compliance_session", "anything")
    page = unreachable.get("/bodies")
    assert page.status_code == 503 and "cannot reach its database" in page.text
    assert "<html" in page.text.lower()
    sign_in_form = unreachable.post("/sign-in", data={"email": "a@example.org", "password": "x"})
    assert sign_in_form.status_code == 503 and "cannot reach its database" in sign_in_form.text
