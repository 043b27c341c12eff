"""`compliance backup` and `compliance restore`: a backup of the demo area restores whole, into
an empty database of the same backend, and nothing is restored from a damaged backup."""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sqlmodel import Session, select

from compliance.config import get_settings
from compliance.db import make_engine
from compliance.demo.service import DEMO_PASSWORD
from compliance.main import create_app
from compliance.models import Evidence
from tests.conftest import PG_URL, create_database, drop_database, sign_in
from tests.test_cli import row_counts

# The demo's evidence records, each with its file (seed_data/demo/cornwall.yaml).
DEMO_FILES = 19


@pytest.fixture
def elsewhere(backend: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A second empty database of the backend under test, and a second empty data folder."""
    data_dir = tmp_path / "restored"
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'compliance.db'}", data_dir
        return
    url = create_database(PG_URL)
    yield url, data_dir
    drop_database(url)


@pytest.fixture
def demo_backup(run, tmp_path: Path) -> Path:
    """A backup of the demo area, taken by the command line."""
    assert run("demo").exit_code == 0
    folder = tmp_path / "backup"
    made = run("backup", str(folder))
    assert made.exit_code == 0, made.output
    assert f"and {DEMO_FILES} evidence files to" in made.output
    return folder


def use(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path) -> None:
    """Point the command line at another database and data folder, as the `run` fixture does."""
    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", url)
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()


def tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_a_backup_restores_whole(run, fresh_url, demo_backup, elsewhere, monkeypatch):
    before = row_counts(fresh_url)
    use(monkeypatch, *elsewhere)
    restored = run("restore", str(demo_backup))
    assert restored.exit_code == 0, restored.output
    assert f"{DEMO_FILES} evidence rows, {DEMO_FILES} evidence files and" in restored.output
    assert "run `compliance audit verify` and `compliance evidence fsck`" in restored.output

    verified = run("audit", "verify")
    assert verified.exit_code == 0 and "Audit chain intact" in verified.output
    checked = run("evidence", "fsck")
    assert checked.exit_code == 0, checked.output
    assert row_counts(elsewhere[0]) == before
    assert_every_file_downloads_intact()


def assert_every_file_downloads_intact() -> None:
    settings = get_settings()
    with Session(make_engine(settings.sqlalchemy_url)) as session:
        query = select(Evidence.id, Evidence.sha256).where(Evidence.sha256.is_not(None))
        stored = session.exec(query).all()
    assert len(stored) == DEMO_FILES
    with TestClient(create_app(settings)) as client:
        sign_in(client, "admin@demo.example.org", DEMO_PASSWORD)
        for evidence_id, sha256 in stored:
            download = client.get(f"/evidence/{evidence_id}/file")
            assert download.status_code == 200, download.text
            assert hashlib.sha256(download.content).hexdigest() == sha256


def test_the_manifest_lists_every_file_with_its_hash(demo_backup, backend):
    manifest = json.loads((demo_backup / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["backend"] == backend
    assert manifest["created_at"].endswith("Z") and manifest["alembic_revision"]
    database = demo_backup / manifest["database"]["path"]
    assert hashlib.sha256(database.read_bytes()).hexdigest() == manifest["database"]["sha256"]
    listed = {demo_backup / entry["path"]: entry for entry in manifest["evidence"]}
    assert set(listed) == set(files_under(demo_backup / "evidence"))
    for path, entry in listed.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"] == path.name
        assert path.stat().st_size == entry["size"]
    assert not [path for path in demo_backup.parent.iterdir() if ".partial-" in path.name]


def test_restore_refuses_a_database_that_is_not_empty(run, fresh_url, demo_backup):
    before = row_counts(fresh_url)
    refused = run("restore", str(demo_backup))
    assert refused.exit_code == 1
    assert "Nothing was restored" in refused.stderr
    assert "tables: restore only into an empty database" in refused.stderr
    assert "already holds files: restore only into an empty data folder" in refused.stderr
    assert row_counts(fresh_url) == before


def test_restore_refuses_a_tampered_backup_and_restores_nothing(
    run, demo_backup, elsewhere, monkeypatch
):
    manifest = json.loads((demo_backup / "manifest.json").read_text())
    altered = demo_backup / manifest["evidence"][3]["path"]
    altered.write_bytes(altered.read_bytes() + b" and one more line")
    use(monkeypatch, *elsewhere)
    refused = run("restore", str(demo_backup))
    assert refused.exit_code == 1
    assert f"{altered} does not match its SHA-256 in the manifest" in refused.stderr
    assert refused.stderr.count("does not match") == 1
    assert files_under(elsewhere[1]) == []  # no evidence file, and no SQLite file either
    assert tables(elsewhere[0]) == []


def test_restore_refuses_another_backend_or_a_newer_schema(
    run, demo_backup, elsewhere, monkeypatch
):
    manifest_path = demo_backup / "manifest.json"
    original = json.loads(manifest_path.read_text())
    use(monkeypatch, *elsewhere)
    other = "postgresql" if original["backend"] == "sqlite" else "sqlite"
    manifest_path.write_text(json.dumps(original | {"backend": other}))
    refused = run("restore", str(demo_backup))
    assert refused.exit_code == 1
    assert "This backup was taken from" in refused.stderr
    manifest_path.write_text(json.dumps(original | {"alembic_revision": "9999"}))
    refused = run("restore", str(demo_backup))
    assert refused.exit_code == 1
    assert "whose schema (9999) this version (" in refused.stderr
    assert files_under(elsewhere[1]) == []
    assert tables(elsewhere[0]) == []


def test_a_file_missing_from_the_store_is_named_and_left_out(run, tmp_path, elsewhere, monkeypatch):
    assert run("demo").exit_code == 0
    gone = sorted(files_under(tmp_path / "data" / "evidence"))[0]
    gone.unlink()
    made = run("backup", str(tmp_path / "backup"))
    assert made.exit_code == 0, made.output
    assert f"and {DEMO_FILES - 1} evidence files" in made.output
    assert f"{gone.name[:12]}... is missing from {gone}" in made.stderr
    use(monkeypatch, *elsewhere)
    assert run("restore", str(tmp_path / "backup")).exit_code == 0
    checked = run("evidence", "fsck")
    assert checked.exit_code == 1
    assert f"its file {gone.name[:12]}... is missing." in checked.output


def test_backup_refuses_a_folder_that_is_not_empty(run, tmp_path):
    assert run("init").exit_code == 0
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "notes.txt").write_text("last week's")
    refused = run("backup", str(folder))
    assert refused.exit_code == 1
    assert f"{folder} is not an empty folder" in refused.stderr
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]
    assert not [path for path in tmp_path.iterdir() if ".partial-" in path.name]


def test_backup_into_an_empty_folder_is_allowed(run, tmp_path):
    assert run("init").exit_code == 0
    folder = tmp_path / "backup"
    folder.mkdir()
    made = run("backup", str(folder))
    assert made.exit_code == 0, made.output
    assert "and 0 evidence files" in made.output
    assert (folder / "manifest.json").is_file()


def test_a_postgresql_backup_without_pg_dump_is_a_clear_error(run, backend, tmp_path, monkeypatch):
    if backend != "postgresql":
        pytest.skip("pg_dump is used on PostgreSQL only")
    assert run("init").exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    refused = run("backup", str(tmp_path / "backup"))
    assert refused.exit_code == 1
    assert "pg_dump is not installed" in refused.stderr
    assert not (tmp_path / "backup").exists()
    assert not [path for path in tmp_path.iterdir() if ".partial-" in path.name]
