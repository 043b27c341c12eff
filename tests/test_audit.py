"""The audit chain: every change appended, tampering named, concurrent writers never fork it."""

import threading

from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from compliance.audit.service import record, verify
from compliance.cli import app
from compliance.config import get_settings
from compliance.db import make_engine, session_scope
from compliance.migrations import upgrade
from compliance.models import AuditEvent


def append(session, n, actor="tester"):
    for i in range(n):
        record(
            session=session,
            actor=actor,
            action="thing.changed",
            entity_type="thing",
            entity_id=i,
            before={"value": i},
            after={"value": i + 1, "when": "2026-11-26"},
        )


def test_a_chain_of_events_verifies(session):
    append(session, 5)
    count, broken = verify(session=session)
    assert broken is None and count >= 5


def test_tampering_with_a_row_is_named(session):
    append(session, 4)
    target = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc()).offset(1)).first()
    session.execute(
        text("UPDATE audit_event SET actor = 'intruder' WHERE id = :id"), {"id": target.id}
    )
    session.expire_all()
    _, broken = verify(session=session)
    assert broken.event_id == target.id and "content" in broken.reason


def test_deleting_a_row_is_named_at_the_next_event(session):
    append(session, 4)
    ids = session.exec(select(AuditEvent.id).order_by(AuditEvent.id)).all()
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[-2]})
    session.expire_all()
    _, broken = verify(session=session)
    assert broken.event_id == ids[-1] and "previous hash" in broken.reason


def test_concurrent_writers_never_fork_the_chain(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    errors = []

    def writer(name):
        try:
            for _ in range(10):
                with session_scope(engine) as session:
                    append(session, 2, actor=name)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(engine) as session:
        count, broken = verify(session=session)
    engine.dispose()
    assert errors == []
    assert (count, broken) == (60, None)


def test_audit_verify_command_exits_non_zero_naming_the_event(fresh_url, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", fresh_url)
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with session_scope(engine) as session:
        append(session, 3)
    runner = CliRunner()
    assert "Audit chain intact: 3 events." in runner.invoke(app, ["audit", "verify"]).output
    with engine.begin() as connection:
        second = connection.execute(text("SELECT id FROM audit_event ORDER BY id")).all()[1][0]
        connection.execute(
            text("UPDATE audit_event SET after = NULL WHERE id = :id"), {"id": second}
        )
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert f"Audit chain broken at event {second}" in result.stderr
