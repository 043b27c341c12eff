"""The audit trail catches truncation and rewriting (issue 15, items 2 and 3): each finding of
the security review is reproduced here, by the command an inspector would run."""

import json

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from compliance.access import principal_for
from compliance.audit import checkpoint
from compliance.audit.service import (
    GENESIS,
    ChainBroken,
    chain_key,
    event_hash,
    head,
    rekey,
    unkeyed_hash,
    verify,
)
from compliance.cli import app
from compliance.config import get_settings
from compliance.db import get_engine, session_scope
from compliance.migrations import upgrade
from compliance.models import AuditEvent, Body, Evidence, EvidenceLink, Obligation, Period
from compliance.reports.models import ReportJob
from compliance.reports.produce import produce
from compliance.reports.service import canonical_json
from tests.conftest import PASSWORD, csrf_of, make_user, sign_in
from tests.test_audit import append


@pytest.fixture
def installation(fresh_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A migrated database and data folder, as the command line sees them, holding 20 events
    committed one transaction at a time (each moving the checkpoint forward)."""
    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", fresh_url)
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "k" * 40)
    get_settings.cache_clear()
    upgrade(fresh_url)
    engine = get_engine(get_settings())
    for _ in range(20):
        with session_scope(engine) as session:
            append(session, 1)
    yield engine
    get_settings.cache_clear()


def verify_command() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify"])
    return result.exit_code, result.output


def sql(engine, statement: str, **values) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        connection.execute(text(statement), values)


def ids(engine) -> list[int]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent.id).order_by(AuditEvent.id)).all())


def test_an_untouched_trail_verifies_and_its_checkpoint_is_the_head(installation):
    code, output = verify_command()
    assert (code, output.strip()) == (0, "Audit chain intact: 20 events.")
    written = checkpoint.read(get_settings().data_dir)
    assert written is not None and written.event_id == ids(installation)[-1]


@pytest.mark.parametrize("deleted", [1, 10, 20], ids=["the last", "the last ten", "all"])
def test_events_deleted_from_the_end_are_named(installation, deleted):
    every = ids(installation)
    sql(installation, "DELETE FROM audit_event WHERE id >= :first", first=every[-deleted])
    code, output = verify_command()
    assert code == 1
    if deleted == 20:
        assert "The audit trail is empty" in output and f"records event {every[-1]}" in output
    else:
        assert f"Events after {every[-deleted - 1]} are missing" in output
        assert f"records event {every[-1]}" in output


def test_a_rewrite_rehashed_with_the_code_alone_no_longer_verifies(installation):
    """The review edited one event and recomputed every later hash with the app's own function:
    without the key, the only function an intruder has is the unkeyed one."""
    with session_scope(installation) as session:
        events = list(session.exec(select(AuditEvent).order_by(AuditEvent.id)))
        target = events[5]
        target.actor = "intruder"
        previous = events[4].hash
        for event in events[5:]:
            event.prev_hash = previous
            event.hash = unkeyed_hash(event)
            previous = event.hash
            session.add(event)
            session.flush()
        target_id = target.id
    code, output = verify_command()
    assert code == 1 and f"broken at event {target_id}" in output
    assert "without this installation's secret key" in output


def test_a_rewrite_of_the_head_with_the_right_key_is_caught_by_the_checkpoint(installation):
    """Even with the key, rewriting the last event changes its hash from the checkpoint's."""
    with Session(installation) as session:
        last = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        last.actor = "intruder"
        last.hash = event_hash(last, chain_key("k" * 40))
        session.add(last)
        session.flush()
        # Committed on the connection, not through the session, so no new checkpoint is written.
        session.connection().commit()
        last_id = last.id
    code, output = verify_command()
    assert code == 1 and f"Event {last_id} has been rewritten" in output


def test_a_forged_checkpoint_is_refused(installation):
    path = get_settings().data_dir / checkpoint.FILE_NAME
    content = json.loads(path.read_text())
    content["event_id"] = ids(installation)[5]
    path.write_text(json.dumps(content))
    code, output = verify_command()
    assert code == 1 and "not signed with this installation's secret key" in output


def test_another_key_does_not_verify_until_the_chain_is_rekeyed(installation, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "n" * 40)
    get_settings.cache_clear()
    code, output = verify_command()
    assert code == 1 and "without this installation's secret key" in output
    wrong = CliRunner().invoke(app, ["audit", "rekey"], input="w" * 40 + "\n")
    assert wrong.exit_code == 1 and "Nothing re-keyed" in wrong.output
    assert verify_command()[0] == 1  # nothing changed
    done = CliRunner().invoke(app, ["audit", "rekey"], input="k" * 40 + "\n")
    assert done.exit_code == 0, done.output
    assert verify_command() == (0, "Audit chain intact: 20 events.\n")


def test_a_trail_without_a_checkpoint_is_told_and_given_one(installation):
    (get_settings().data_dir / checkpoint.FILE_NAME).unlink()
    code, output = verify_command()
    assert code == 0 and "Warning: no checkpoint was found" in output
    assert checkpoint.read(get_settings().data_dir) is not None


def test_the_checkpoint_only_moves_forward(tmp_path):
    assert checkpoint.write(tmp_path, 10, "a" * 64, secret="s")
    assert not checkpoint.write(tmp_path, 9, "b" * 64, secret="s")
    assert checkpoint.read(tmp_path, secret="s").event_id == 10
    assert checkpoint.write(tmp_path, 9, "b" * 64, secret="s", forward_only=False)
    checkpoint.replace(tmp_path, None)  # a restored trail that is empty has no checkpoint
    assert checkpoint.read(tmp_path, secret="s") is None


def test_a_rolled_back_append_moves_no_checkpoint(installation):
    before = checkpoint.read(get_settings().data_dir)
    with Session(installation) as session:
        append(session, 3)
        session.rollback()
    assert checkpoint.read(get_settings().data_dir) == before


def unkey(session) -> None:  # type: ignore[no-untyped-def]
    """Make the chain what it was before 0013: plain SHA-256 links."""
    previous = GENESIS
    for event in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all():
        event.prev_hash = previous
        event.hash = unkeyed_hash(event)
        session.add(event)
        session.flush()
        previous = event.hash


def test_an_unkeyed_chain_from_before_0013_is_rekeyed_only_when_intact(session):
    append(session, 4)
    unkey(session)
    assert verify(session=session)[1] is not None
    assert verify(session=session, unkeyed=True)[1] is None
    rekey(session=session, old_key=None, new_key=chain_key())
    assert verify(session=session)[1] is None
    # A chain under neither the old key nor the new one is not re-keyed.
    with pytest.raises(ChainBroken):
        rekey(session=session, old_key=None, new_key=chain_key("another" * 6))
    assert verify(session=session)[1] is None


def test_an_unkeyed_chain_left_broken_by_the_upgrade_is_told_as_such(installation):
    """0013 leaves a chain from before it, tampered with, unkeyed: verify says where it breaks."""
    with session_scope(installation) as session:
        unkey(session)
    every = ids(installation)
    sql(installation, "UPDATE audit_event SET actor = 'intruder' WHERE id = :id", id=every[7])
    code, output = verify_command()
    assert code == 1 and f"broken at event {every[0]}" in output
    assert (
        f"from before upgrade 0013 (hashed without a key), it breaks at event {every[7]}" in output
    )


def test_deleting_the_checkpoint_with_the_last_events_is_not_mended_by_the_next_commit(
    installation, caplog
):
    """A commit never starts a checkpoint over a trail that holds events: verify warns."""
    every = ids(installation)
    sql(installation, "DELETE FROM audit_event WHERE id >= :first", first=every[-3])
    (get_settings().data_dir / checkpoint.FILE_NAME).unlink()
    for _ in range(2):
        with session_scope(installation) as session:
            append(session, 1)
    assert checkpoint.read(get_settings().data_dir) is None
    told = [r.message for r in caplog.records if r.name == "compliance.audit.checkpoint"]
    assert len(told) == 1 and "run `compliance audit verify` to start one" in told[0]
    code, output = verify_command()
    assert code == 0 and "Warning: no checkpoint was found" in output


def test_a_forged_checkpoint_is_not_replaced_by_the_next_commit(installation):
    path = get_settings().data_dir / checkpoint.FILE_NAME
    content = json.loads(path.read_text())
    content["event_id"] = ids(installation)[5]
    path.write_text(json.dumps(content))
    with session_scope(installation) as session:
        append(session, 1)
    assert json.loads(path.read_text()) == content
    code, output = verify_command()
    assert code == 1 and "not signed with this installation's secret key" in output


def test_rekeying_does_not_launder_a_truncated_trail(installation, monkeypatch):
    every = ids(installation)
    sql(installation, "DELETE FROM audit_event WHERE id >= :first", first=every[-2])
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "n" * 40)
    get_settings.cache_clear()
    refused = CliRunner().invoke(app, ["audit", "rekey"], input="k" * 40 + "\n")
    assert refused.exit_code == 1
    assert f"Nothing re-keyed: Events after {every[-3]} are missing" in refused.output
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "k" * 40)
    get_settings.cache_clear()
    assert f"Events after {every[-3]} are missing" in verify_command()[1]  # nothing changed


def test_events_appended_after_the_key_changed_are_rekeyed_too(installation, monkeypatch):
    """The application ran under the new key before `rekey`: its events hold under that key."""
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "n" * 40)
    get_settings.cache_clear()
    with session_scope(installation) as session:
        append(session, 2)
    done = CliRunner().invoke(app, ["audit", "rekey"], input="k" * 40 + "\n")
    assert done.exit_code == 0, done.output
    assert "22 events now verify" in done.output
    assert verify_command() == (0, "Audit chain intact: 22 events.\n")


def _actions(session, since: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    events = session.exec(select(AuditEvent).where(AuditEvent.id > since).order_by(AuditEvent.id))
    return [(e.action, e.actor, e.entity_type) for e in events]


def _last_id(session) -> int:  # type: ignore[no-untyped-def]
    return (head(session) or (0, ""))[0]


def test_sign_ins_failures_and_sign_outs_are_in_the_trail(client, session):

    officer = make_user(session, "officer")
    since = _last_id(session)
    wrong = client.post("/sign-in", data={"email": officer.email, "password": "not it"})
    assert wrong.status_code == 401
    unknown = client.post("/sign-in", data={"email": "Nobody@Example.org", "password": "x"})
    assert unknown.status_code == 401
    sign_in(client, officer.email, PASSWORD)
    ended = client.post("/sign-out", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert ended.status_code == 303
    assert _actions(session, since) == [
        ("user.sign_in_failed", officer.email, "user"),
        ("user.sign_in_failed", "nobody@example.org", "user"),
        ("user.signed_in", officer.email, "user"),
        ("user.signed_out", officer.email, "user"),
    ]
    recorded = session.exec(select(AuditEvent).where(AuditEvent.id > since)).all()
    assert all("not it" not in str(e.after) for e in recorded)  # never the password


def test_evidence_and_report_downloads_are_in_the_trail_but_not_in_reports(
    demo_area, client, session, settings, quick_pdfs
):

    admin = make_user(session, "admin")
    sign_in(client, admin.email)
    code = "E06000052"
    # A file of Cornwall's, so that its report's audit section would show the download.
    evidence = session.exec(
        select(Evidence)
        .join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .join(Period, Period.id == EvidenceLink.occurrence_id)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .join(Body, Body.id == Obligation.body_id)
        .where(Body.code == code, Evidence.sha256.is_not(None))
        .order_by(Evidence.id)
    ).first()
    since = _last_id(session)
    # As at today (the suite's frozen clock), so that today's downloads fall within the report.
    first = client.get(f"/api/v1/bodies/{code}/report.pdf")
    assert client.get(f"/evidence/{evidence.id}/file").status_code == 200
    again = client.get(f"/api/v1/bodies/{code}/report.pdf")
    assert first.status_code == again.status_code == 200
    # The download recorded in between changed nothing the report shows: the same PDF.
    assert again.headers["X-Report-Cached"] == "true"
    assert first.headers["X-Report-Fingerprint"] == again.headers["X-Report-Fingerprint"]
    assert client.get(f"/api/v1/evidence/{evidence.id}/file").status_code == 200
    # A finished area report of the reports page: its PDF and data in the report cache, as a
    # background job leaves them (here the body report above, whose data it is).
    made = produce(
        session=session,
        settings=settings,
        principal=principal_for(session=session, user=admin),
        kind="body",
        key=code,
    )
    made.path.with_suffix(".json").write_bytes(canonical_json(made.report))
    job = ReportJob(
        id="finished-job",
        user_id=admin.id,
        kind="area",
        key=code,
        name="Cornwall",
        as_at_date=settings.today(),
        status="done",
        stage="done",
        progress=100,
        pdf_path=made.path.relative_to(settings.data_dir).as_posix(),
        fingerprint=made.fingerprint,
        worker="elsewhere:1",
    )
    session.add(job)
    session.flush()
    assert client.get("/reports/finished-job.pdf").status_code == 200
    assert client.get("/reports/finished-job.zip").status_code == 200
    downloads = [a for a in _actions(session, since) if a[0] == "download"]
    assert downloads == [
        ("download", admin.email, "report"),
        ("download", admin.email, "evidence"),
        ("download", admin.email, "report"),
        ("download", admin.email, "evidence"),
        ("download", admin.email, "report"),
        ("download", admin.email, "report"),
    ]
    packs = session.exec(
        select(AuditEvent).where(AuditEvent.id > since, AuditEvent.entity_type == "report")
    ).all()
    assert [event.after["pack"] for event in packs] == [False, False, False, True]
