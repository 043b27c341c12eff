"""Evidence: files checked by content and stored crash-safely; records immutable; reviews kept."""

import datetime as dt
import hashlib

import pytest
from sqlalchemy import event
from sqlmodel import select

from compliance.errors import Refused
from compliance.evidence import files
from compliance.evidence.safety import EXTENSIONS
from compliance.evidence.service import (
    EvidenceCreate,
    ReviewVerdict,
    answer,
    new_version,
    open_query,
    parse,
    record,
    review,
    thread,
    withdraw,
)
from compliance.models import AuditEvent, Evidence, Obligation, Period, User
from compliance.obligations.service import sync_obligations
from tests import files as sample
from tests.factories import make_body

LIMIT = 25_000_000


@pytest.fixture
def people(session):
    officer = User(email="officer@example.org", name="Officer", role="officer")
    inspector = User(email="inspector@example.org", name="Inspector", role="inspector")
    session.add_all([officer, inspector])
    session.flush()
    return officer, inspector


@pytest.fixture
def period(session):
    body = make_body(session)
    sync_obligations(session=session, on=dt.date(2026, 6, 1))
    obligation = session.exec(select(Obligation).where(Obligation.body_id == body.id)).first()
    return session.exec(select(Period).where(Period.obligation_id == obligation.id)).first()


def data(period, **overrides) -> EvidenceCreate:
    values = {
        "kind": "document",
        "title": "Board minutes",
        "effective_date": dt.date(2026, 5, 1),
        "occurrence_ids": [period.id],
    }
    return EvidenceCreate(**(values | overrides))


def stored_files(data_dir):
    root = data_dir / "evidence"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (sample.PDF, "application/pdf"),
        (sample.docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (sample.odt(), "application/vnd.oasis.opendocument.text"),
        (sample.png(), "image/png"),
        (sample.CSV, "text/plain"),
        (sample.EML, "message/rfc822"),
    ],
)
def test_allowed_files_are_stored_once_by_content_address(
    session, tmp_path, people, period, content, media_type
):
    officer, _ = people
    evidence = record(
        session=session,
        data_dir=tmp_path,
        max_bytes=LIMIT,
        actor=officer,
        data=data(period),
        content=content,
        file_name="../../etc/minutes.bin",
    )
    digest = hashlib.sha256(content).hexdigest()
    assert (evidence.sha256, evidence.media_type, evidence.size_bytes) == (
        digest,
        media_type,
        len(content),
    )
    # No folders, and an extension that fits what the content was found to be.
    assert evidence.file_name == "minutes" + EXTENSIONS[media_type][0]
    assert files.read(data_dir=tmp_path, sha256=digest) == content
    record(
        session=session,
        data_dir=tmp_path,
        max_bytes=LIMIT,
        actor=officer,
        data=data(period, title="Same file again"),
        content=content,
    )
    assert stored_files(tmp_path) == [digest]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (sample.EXE, "not accepted"),
        (sample.SVG, "not accepted"),
        (b"", "empty"),
        (sample.zipped([("a.txt", "x")]), "application/zip"),
    ],
)
def test_disallowed_files_are_refused_and_nothing_is_stored(
    session, tmp_path, people, period, content, message
):
    officer, _ = people
    before = session.exec(select(Evidence)).all()
    with pytest.raises(Refused, match=message):
        record(
            session=session,
            data_dir=tmp_path,
            max_bytes=LIMIT,
            actor=officer,
            data=data(period),
            content=content,
            file_name="minutes.pdf",
        )
    assert session.exec(select(Evidence)).all() == before
    assert stored_files(tmp_path) == []


def test_oversize_files_are_refused_with_the_limit(session, tmp_path, people, period):
    with pytest.raises(Refused, match="the limit is 1 MB"):
        record(
            session=session,
            data_dir=tmp_path,
            max_bytes=1_000_000,
            actor=people[0],
            data=data(period),
            content=sample.PDF + b"0" * 1_000_001,
        )
    assert stored_files(tmp_path) == []


def test_a_crash_while_writing_leaves_no_file_and_no_row(
    session, tmp_path, people, period, monkeypatch
):
    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        record(
            session=session,
            data_dir=tmp_path,
            max_bytes=LIMIT,
            actor=people[0],
            data=data(period),
            content=sample.PDF,
        )
    leftovers = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    assert leftovers == []
    assert session.exec(select(Evidence).where(Evidence.title == "Board minutes")).all() == []


def test_file_is_on_disk_before_the_row_is_written(session, tmp_path, people, period):
    seen = []

    def before_flush(flushing, _context, _instances):
        if any(isinstance(row, Evidence) for row in flushing.new):
            seen.append(stored_files(tmp_path))

    event.listen(session, "before_flush", before_flush)
    try:
        record(
            session=session,
            data_dir=tmp_path,
            max_bytes=LIMIT,
            actor=people[0],
            data=data(period),
            content=sample.PDF,
        )
    finally:
        event.remove(session, "before_flush", before_flush)
    assert seen == [[hashlib.sha256(sample.PDF).hexdigest()]]


def test_impossible_or_inconsistent_input_is_refused_naming_the_field(period):
    with pytest.raises(Refused, match="effective_date"):
        parse(
            EvidenceCreate,
            {
                "kind": "document",
                "title": "x",
                "effective_date": "2026-02-30",
                "occurrence_ids": [1],
            },
        )
    with pytest.raises(Refused, match="period_end_date is before period_start_date"):
        parse(
            EvidenceCreate,
            {
                "kind": "document",
                "title": "x",
                "effective_date": "2026-01-01",
                "period_start_date": "2026-03-01",
                "period_end_date": "2026-02-01",
                "occurrence_ids": [1],
            },
        )
    with pytest.raises(Refused, match="kind"):
        parse(
            EvidenceCreate,
            {"kind": "rumour", "title": "x", "effective_date": "2026-01-01", "occurrence_ids": [1]},
        )


def test_a_link_needs_an_address_and_a_document_needs_a_file_or_address(
    session, tmp_path, people, period
):
    with pytest.raises(Refused, match="attach a file or give the address"):
        record(
            session=session, data_dir=tmp_path, max_bytes=LIMIT, actor=people[0], data=data(period)
        )
    link = record(
        session=session,
        data_dir=tmp_path,
        max_bytes=LIMIT,
        actor=people[0],
        data=data(period, kind="link", url="https://example.org/report"),
    )
    assert link.url == "https://example.org/report" and link.sha256 is None
    with pytest.raises(Refused, match="no obligation period with id 999999"):
        record(
            session=session,
            data_dir=tmp_path,
            max_bytes=LIMIT,
            actor=people[0],
            data=data(period, occurrence_ids=[999999], kind="link", url="https://example.org/"),
        )


def test_corrections_make_new_versions_and_withdrawal_keeps_the_record(
    session, tmp_path, people, period
):
    officer, _ = people
    first = record(
        session=session,
        data_dir=tmp_path,
        max_bytes=LIMIT,
        actor=officer,
        data=data(period),
        content=sample.PDF,
    )
    second = new_version(
        session=session,
        data_dir=tmp_path,
        max_bytes=LIMIT,
        actor=officer,
        evidence_id=first.id,
        data=data(period, title="Board minutes (corrected)"),
        content=sample.PDF + b"%fix\n",
    )
    assert second.supersedes_id == first.id
    assert session.get(Evidence, first.id).title == "Board minutes"
    with pytest.raises(Refused, match=f"already corrected by evidence {second.id}"):
        new_version(
            session=session,
            data_dir=tmp_path,
            max_bytes=LIMIT,
            actor=officer,
            evidence_id=first.id,
            data=data(period),
            content=sample.PDF,
        )
    with pytest.raises(Refused, match="reason"):
        withdraw(session=session, actor=officer, evidence_id=second.id, reason="  ")
    withdrawn = withdraw(
        session=session, actor=officer, evidence_id=second.id, reason="Wrong board"
    )
    assert withdrawn.withdrawn_reason == "Wrong board" and session.get(Evidence, second.id)
    with pytest.raises(Refused, match="already withdrawn"):
        withdraw(session=session, actor=officer, evidence_id=second.id, reason="again")
    actions = session.exec(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "evidence")
        .order_by(AuditEvent.id)
    ).all()
    assert actions[-3:] == ["evidence.recorded", "evidence.new_version", "evidence.withdrawn"]


def test_review_thread_query_answer_accept(session, tmp_path, people, period):
    officer, inspector = people
    evidence = record(
        session=session,
        data_dir=tmp_path,
        max_bytes=LIMIT,
        actor=officer,
        data=data(period),
        content=sample.PDF,
    )
    with pytest.raises(Refused, match="say what is queried"):
        review(
            session=session, actor=inspector, evidence_id=evidence.id, verdict=ReviewVerdict.queried
        )
    with pytest.raises(Refused, match="no open query"):
        answer(session=session, actor=officer, evidence_id=evidence.id, body="Nothing asked")
    review(
        session=session,
        actor=inspector,
        evidence_id=evidence.id,
        verdict=ReviewVerdict.queried,
        comment="Unsigned?",
    )
    assert open_query(thread(session=session, evidence_id=evidence.id)) is not None
    answer(session=session, actor=officer, evidence_id=evidence.id, body="Signed copy attached")
    review(
        session=session, actor=inspector, evidence_id=evidence.id, verdict=ReviewVerdict.accepted
    )
    kinds = [c.kind for c in thread(session=session, evidence_id=evidence.id)]
    assert kinds == ["queried", "answer", "accepted"]
    assert open_query(thread(session=session, evidence_id=evidence.id)) is None
