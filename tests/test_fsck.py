"""`compliance evidence fsck`: stored files against the rows that name them."""

import hashlib
import os
from pathlib import Path

from compliance.db import make_engine, session_scope
from compliance.evidence import fsck
from compliance.evidence.files import stored_path
from tests import files as sample
from tests.factories import make_evidence

HOUR, MINUTE = 3600, 60


def _put(path: Path, content: bytes, *, age_seconds: int, now: float) -> Path:
    """A file on disk, last changed `age_seconds` before `now` (never by the wall clock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (now - age_seconds, now - age_seconds))
    return path


def _stored(session, data_dir: Path, content: bytes, *, now: float, **overrides):  # type: ignore[no-untyped-def]
    """An evidence row and its file, stored an hour ago."""
    sha256 = hashlib.sha256(content).hexdigest()
    _put(stored_path(data_dir, sha256), content, age_seconds=HOUR, now=now)
    return make_evidence(session, sha256=sha256, file_name="minutes.pdf", **overrides)


def test_a_sound_store_has_nothing_wrong(session, settings, suite_clock):
    now = suite_clock.timestamp()
    _stored(session, settings.data_dir, sample.PDF, now=now)
    make_evidence(session, kind="link", url="https://example.org/minutes")
    report = fsck.check(session=session, data_dir=settings.data_dir, now=now)
    assert report.problems == 0 and report.files == 1 and report.rows == 1
    assert not (report.orphans or report.temporaries or report.young or report.damaged)


def test_each_kind_of_problem_is_reported(session, settings, suite_clock):
    now, data_dir = suite_clock.timestamp(), settings.data_dir
    _stored(session, data_dir, sample.PDF, now=now)
    orphan = _put(stored_path(data_dir, "ab" * 32), b"nobody", age_seconds=HOUR, now=now)
    stale = _put(data_dir / "evidence/ab/.incoming-x1", b"half", age_seconds=HOUR, now=now)
    young = _put(data_dir / "evidence/cd/.incoming-x2", b"half", age_seconds=MINUTE, now=now)
    report_pdf = _put(data_dir / "reports/ab/.incoming-r1", b"%PDF", age_seconds=HOUR, now=now)
    _put(data_dir / "reports/ab/whole-report.pdf", b"%PDF whole", age_seconds=HOUR, now=now)
    missing = make_evidence(session, title="Signed agreement", sha256="cd" * 32)
    altered = _stored(session, data_dir, sample.EML, now=now, title="Board minutes")
    stored_path(data_dir, altered.sha256).write_bytes(sample.EML + b"changed")

    report = fsck.check(session=session, data_dir=data_dir, now=now)
    assert report.orphans == [orphan]
    assert sorted(report.temporaries) == sorted([stale, report_pdf])
    assert report.young == [young]
    damaged = {item.evidence_id: item for item in report.damaged}
    assert set(damaged) == {missing.id, altered.id}
    assert damaged[missing.id].missing and damaged[missing.id].title == "Signed agreement"
    assert not damaged[altered.id].missing and damaged[altered.id].sha256 == altered.sha256
    assert report.problems == 5


def test_clean_removes_only_old_leftovers_never_a_named_file(session, settings, suite_clock):
    now, data_dir = suite_clock.timestamp(), settings.data_dir
    kept = _stored(session, data_dir, sample.PDF, now=now)
    altered = _stored(session, data_dir, sample.EML, now=now)
    stored_path(data_dir, altered.sha256).write_bytes(b"changed")
    orphan = _put(stored_path(data_dir, "ab" * 32), b"nobody", age_seconds=HOUR, now=now)
    stale = _put(data_dir / "evidence/ab/.incoming-x1", b"half", age_seconds=HOUR, now=now)
    young_orphan = _put(stored_path(data_dir, "ef" * 32), b"new", age_seconds=MINUTE, now=now)
    young = _put(data_dir / "evidence/ef/.incoming-x2", b"half", age_seconds=MINUTE, now=now)
    session.commit()  # `clean` reads the rows afresh, as another process's commits would be seen

    report = fsck.check(session=session, data_dir=data_dir, now=now)
    fsck.clean(session=session, report=report)
    assert sorted(report.removed) == sorted([orphan, stale])
    assert not orphan.exists() and not stale.exists()
    assert young_orphan.exists() and young.exists()
    assert stored_path(data_dir, kept.sha256).read_bytes() == sample.PDF
    assert stored_path(data_dir, altered.sha256).read_bytes() == b"changed"
    assert report.problems == 1  # the altered file: only a restore brings it back


def test_clean_keeps_an_orphan_that_a_row_has_named_since(session, settings, suite_clock):
    now, data_dir = suite_clock.timestamp(), settings.data_dir
    orphan = _put(stored_path(data_dir, "ab" * 32), b"nobody", age_seconds=HOUR, now=now)
    report = fsck.check(session=session, data_dir=data_dir, now=now)
    assert report.orphans == [orphan]
    make_evidence(session, sha256="ab" * 32)
    session.commit()
    fsck.clean(session=session, report=report)
    assert orphan.exists() and report.removed == []


def test_the_command_reports_in_words_and_exits_by_what_remains(
    run, fresh_url, tmp_path, suite_clock
):
    assert run("init").exit_code == 0
    now = suite_clock.timestamp()
    data_dir = tmp_path / "data"
    engine = make_engine(fresh_url)
    with session_scope(engine) as session:
        make_evidence(session, title="Signed agreement", sha256="cd" * 32)
    engine.dispose()
    orphan = _put(stored_path(data_dir, "ab" * 32), b"nobody", age_seconds=HOUR, now=now)
    young = _put(data_dir / "evidence/ab/.incoming-x2", b"half", age_seconds=MINUTE, now=now)

    found = run("evidence", "fsck")
    assert found.exit_code == 1
    assert 'Evidence 1 "Signed agreement": its file cdcdcdcdcdcd... is missing.' in found.output
    assert f"Orphan file, named by no evidence: {orphan}" in found.output
    assert f"Left alone, younger than 10 minutes, an upload may be in flight: {young}" in (
        found.output
    )
    assert orphan.exists()

    cleaned = run("evidence", "fsck", "--clean")
    assert cleaned.exit_code == 1  # the missing file is still missing
    assert f"Orphan file, named by no evidence: {orphan} (removed)" in cleaned.output
    assert "1 problem(s) remain: missing or altered files can only be brought back" in (
        cleaned.output
    )
    assert not orphan.exists() and young.exists()


def test_the_command_exits_0_once_clean_has_left_nothing_wrong(run, tmp_path, suite_clock):
    assert run("init").exit_code == 0
    now = suite_clock.timestamp()
    stale = tmp_path / "data/evidence/ab/.incoming-x1"
    _put(stale, b"half", age_seconds=HOUR, now=now)
    assert run("evidence", "fsck").exit_code == 1
    cleaned = run("evidence", "fsck", "--clean", "--grace-minutes", "30")
    assert cleaned.exit_code == 0, cleaned.output
    assert f"Temporary file left by an interrupted upload: {stale} (removed)" in cleaned.output
    assert cleaned.output.rstrip().endswith("Nothing else is wrong.")
    assert run("evidence", "fsck").output.rstrip().endswith("Nothing is wrong.")
