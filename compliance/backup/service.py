"""Backups that restore: a consistent snapshot of the database, the evidence files its rows
name (laid out as under DATA_DIR) and a manifest of SHA-256 hashes, checked before a restore."""

import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from compliance import __version__
from compliance.audit import checkpoint
from compliance.audit.service import head
from compliance.config import Settings
from compliance.db import make_engine
from compliance.evidence.files import fsync_dir, stored_path
from compliance.migrations import alembic_config
from compliance.models import AuditEvent, Evidence

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
HASHES_IN_SNAPSHOT = "SELECT DISTINCT sha256 FROM evidence WHERE sha256 IS NOT NULL"


class BackupError(Exception):
    """A backup or restore that did not happen, with every reason in words."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class RestoreIncomplete(BackupError):
    """A restore that stopped after the database was written."""


class ManifestFile(BaseModel):
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Manifest(BaseModel):
    """What a backup holds, with the hash of every file in it."""

    format: Literal[1]
    created_at: dt.datetime
    app_version: str
    backend: Literal["sqlite", "postgresql"]
    alembic_revision: str
    database: ManifestFile
    evidence: list[ManifestFile]
    not_backed_up: list[str] = []


@dataclass(frozen=True)
class Snapshot:
    backend: str
    revision: str
    hashes: set[str]


@dataclass
class RestoreSummary:
    manifest: Manifest
    evidence_rows: int
    files: int
    audit_events: int
    needs_migration: bool


def backup(*, settings: Settings, target: Path) -> Manifest:
    """Write a backup into a folder that does not exist or is empty; return its manifest."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError([f"{target} is not an empty folder: give a new folder for the backup"])
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed at the end: a backup that failed half way never
    # sits under the target's name looking complete.
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    try:
        manifest = _write_backup(settings, staging)
        _fsync_tree(staging)
        if target.exists():
            target.rmdir()
        staging.rename(target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _write_backup(settings: Settings, staging: Path) -> Manifest:
    url = settings.sqlalchemy_url
    snapshot = _snapshot(url, staging)
    # After the snapshot: every row in it has its file, since the application deletes none.
    files, not_backed_up = _copy_evidence(settings.data_dir, staging, snapshot.hashes)
    database = DATABASE_FILES[snapshot.backend]
    size = (staging / database).stat().st_size
    manifest = Manifest(
        format=FORMAT,
        created_at=dt.datetime.now(dt.UTC),
        app_version=__version__,
        backend=snapshot.backend,
        alembic_revision=snapshot.revision,
        database=ManifestFile(path=database, sha256=_sha256(staging / database), size=size),
        evidence=files,
        not_backed_up=not_backed_up,
    )
    (staging / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def _snapshot(url: str, staging: Path) -> Snapshot:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_snapshot(url, staging / DATABASE_FILES["sqlite"])
    if backend == "postgresql":
        return _postgres_snapshot(url, staging / DATABASE_FILES["postgresql"])
    raise BackupError([f"Backups of a {backend} database are not supported"])


def _sqlite_snapshot(url: str, copy_path: Path) -> Snapshot:
    source_path = Path(make_url(url).database or "")
    if not source_path.is_file():
        raise BackupError([f"There is no SQLite database at {source_path}: nothing to back up"])
    source = closing(sqlite3.connect(source_path, timeout=30))
    with source as live, closing(sqlite3.connect(copy_path)) as copy:
        # One step, under one read transaction: a consistent snapshot, and in WAL mode the
        # server's writers carry on meanwhile.
        live.backup(copy)
        # The copy is a single self-contained file: no -wal beside it to lose.
        copy.execute("PRAGMA journal_mode=DELETE")
        return Snapshot("sqlite", _revision(copy.execute), _hashes(copy.execute))


def _postgres_snapshot(url: str, dump_path: Path) -> Snapshot:
    pg_dump = _tool("pg_dump")
    dsn, env = _libpq(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                # pg_dump reads this very snapshot, so the hashes read here are those of its rows.
                exported = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                run = connection.exec_driver_sql
                revision, hashes = _revision(run), _hashes(run)
                args = ["--format=custom", "--no-owner", f"--snapshot={exported}"]
                _call([pg_dump, *args, f"--file={dump_path}", f"--dbname={dsn}"], env)
    finally:
        engine.dispose()
    return Snapshot("postgresql", revision, hashes)


def _revision(execute) -> str:
    try:
        return execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except Exception as exc:
        raise BackupError(["The database has no schema yet (run `compliance init`)"]) from exc


def _hashes(execute) -> set[str]:
    return {row[0] for row in execute(HASHES_IN_SNAPSHOT).fetchall()}


def _copy_evidence(
    data_dir: Path, staging: Path, hashes: set[str]
) -> tuple[list[ManifestFile], list[str]]:
    files: list[ManifestFile] = []
    skipped: list[str] = []
    for sha256 in sorted(hashes):
        source, copy = stored_path(data_dir, sha256), stored_path(staging, sha256)
        if not source.is_file():
            skipped.append(f"{sha256[:12]}... is missing from {source}")
            continue
        actual, size = _copy(source, copy)
        if actual != sha256:
            copy.unlink()
            skipped.append(f"{sha256[:12]}... no longer matches its SHA-256 ({source})")
            continue
        files.append(ManifestFile(path=_relative(sha256), sha256=sha256, size=size))
    return files, skipped


def read_manifest(source: Path) -> Manifest:
    """The manifest of a backup folder, or BackupError saying why it cannot be read."""
    try:
        return Manifest.model_validate_json((source / MANIFEST).read_bytes())
    except FileNotFoundError as exc:
        raise BackupError([f"{source} holds no {MANIFEST}: it is not a complete backup"]) from exc
    except ValidationError as exc:
        problems = [f"{MANIFEST}: {error['msg']} at {error['loc']}" for error in exc.errors()]
        raise BackupError(problems) from exc


def verify(*, source: Path, manifest: Manifest) -> list[str]:
    """Every way the files in a backup folder differ from its manifest (none: it is whole)."""
    problems = []
    if manifest.database.path != DATABASE_FILES[manifest.backend]:
        problems.append(f"the database file {manifest.database.path!r} is not a name backups use")
    else:
        problems += _check(source, manifest.database)
    for entry in manifest.evidence:
        if entry.path != _relative(entry.sha256):
            problems.append(f"{entry.path} is not where the file {entry.sha256[:12]}... belongs")
        else:
            problems += _check(source, entry)
    listed = {source / entry.path for entry in manifest.evidence}
    extra = [path for path in sorted((source / "evidence").rglob("*")) if path.is_file()]
    problems += [f"{path} is not in the manifest" for path in extra if path not in listed]
    return problems


def _check(source: Path, entry: ManifestFile) -> list[str]:
    path = source / entry.path
    if not path.is_file():
        return [f"{path} is missing"]
    if _sha256(path) != entry.sha256:
        return [f"{path} does not match its SHA-256 in the manifest: it was altered or damaged"]
    return []


def restore(*, settings: Settings, source: Path) -> RestoreSummary:
    """Restore a backup into an empty database and an empty DATA_DIR/evidence, checked first."""
    manifest = read_manifest(source)
    url = settings.sqlalchemy_url
    problems = verify(source=source, manifest=manifest)
    problems += _target_problems(url=url, data_dir=settings.data_dir, manifest=manifest)
    if problems:
        raise BackupError(problems)
    restore_database = _restore_sqlite if manifest.backend == "sqlite" else _restore_postgres
    restore_database(url, source / manifest.database.path)
    try:
        files = _restore_files(source, settings.data_dir, manifest.evidence)
    except (OSError, BackupError) as exc:
        stopped = f"the database was restored but the evidence files were not ({exc})"
        raise RestoreIncomplete([stopped, "empty both, then restore again"]) from exc
    return _restored(url, manifest, files, settings.data_dir)


def _target_problems(*, url: str, data_dir: Path, manifest: Manifest) -> list[str]:
    backend = make_url(url).get_backend_name()
    if backend != manifest.backend:
        taken, here = BACKEND_NAMES[manifest.backend], BACKEND_NAMES.get(backend, backend)
        return [
            f"This backup was taken from {taken} and the database configured is {here}: "
            f"restore it into {taken} (set COMPLIANCE_DATABASE_URL), or move the data with an "
            "export instead"
        ]
    problems = _revision_problems(url, manifest)
    if tables := _tables(url, backend):
        shown = make_url(url).render_as_string(hide_password=True)
        problems.append(
            f"The database {shown} already holds {tables} tables: restore only into an empty "
            "database (create a new one, or move the SQLite file away)"
        )
    stored = data_dir / "evidence"
    if stored.is_dir() and any(path.is_file() for path in stored.rglob("*")):
        problems.append(f"{stored} already holds files: restore only into an empty data folder")
    return problems


def _revision_problems(url: str, manifest: Manifest) -> list[str]:
    known = {script.revision for script in _scripts(url).walk_revisions()}
    if manifest.alembic_revision in known:
        return []
    return [
        f"This backup was taken by version {manifest.app_version}, whose schema "
        f"({manifest.alembic_revision}) this version ({__version__}) does not know: restore it "
        "with that version or a newer one"
    ]


def _scripts(url: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(url))


def _tables(url: str, backend: str) -> int:
    if backend == "sqlite":
        path = Path(make_url(url).database or "")
        # Not created just to look: a refused restore leaves no empty database file behind.
        if not path.exists():
            return 0
        with closing(sqlite3.connect(path)) as connection:
            query = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            return connection.execute(query).fetchone()[0]
    engine = make_engine(url)
    try:
        return len(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _restore_sqlite(url: str, dump: Path) -> None:
    target = Path(make_url(url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Opened read-only, so that restoring never changes the backup.
    source = closing(sqlite3.connect(f"{dump.resolve().as_uri()}?mode=ro", uri=True))
    with source as backed_up, closing(sqlite3.connect(target)) as copy:
        backed_up.backup(copy)
        copy.execute("PRAGMA journal_mode=WAL")


def _restore_postgres(url: str, dump: Path) -> None:
    pg_restore = _tool("pg_restore")
    dsn, env = _libpq(url)
    # One transaction: a restore that fails part way leaves the database as empty as it was.
    args = ["--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={dsn}"]
    _call([pg_restore, *args, str(dump)], env)


def _restore_files(source: Path, data_dir: Path, entries: list[ManifestFile]) -> int:
    for entry in entries:
        target = stored_path(data_dir, entry.sha256)
        # Under the temporary name `files.store` uses: a restore cut short leaves files that
        # `compliance evidence fsck --clean` removes, never a partial file under a real name.
        temporary = target.with_name(f".incoming-restore-{entry.sha256[:16]}")
        actual, _ = _copy(source / entry.path, temporary)
        if actual != entry.sha256:
            temporary.unlink()
            raise BackupError([f"{source / entry.path} changed while it was being restored"])
        os.replace(temporary, target)
    for folder in {stored_path(data_dir, entry.sha256).parent for entry in entries}:
        fsync_dir(folder)
    return len(entries)


def _restored(url: str, manifest: Manifest, files: int, data_dir: Path) -> RestoreSummary:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            evidence = session.exec(select(func.count()).select_from(Evidence)).one()
            events = session.exec(select(func.count()).select_from(AuditEvent)).one()
            latest = head(session)
    finally:
        engine.dispose()
    # The restored chain's head is the audit trail's new checkpoint, over any older one.
    checkpoint.replace(data_dir, latest)
    heads = _scripts(url).get_heads()
    return RestoreSummary(manifest, evidence, files, events, manifest.alembic_revision not in heads)


def _tool(name: str) -> str:
    if found := shutil.which(name):
        return found
    advice = "install the PostgreSQL client tools of the server's version (postgresql-client)"
    raise BackupError([f"{name} is not installed (or not on PATH): {advice}"])


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump and pg_restore, and their environment with the password.

    The password goes in PGPASSWORD, not on the command line, where `ps` would show it.
    """
    parsed = make_url(url)
    dsn = parsed._replace(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )

    env = dict(os.environ) | ({"PGPASSWORD": parsed.password} if parsed.password else {})
    return dsn, env


def _call(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tool = Path(args[0]).name
        raise BackupError([f"{tool} failed (exit {done.returncode}): {done.stderr.strip()}"])


def _relative(sha256: str) -> str:
    return stored_path(Path(), sha256).as_posix()


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _copy(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file, flushed to disk; return the SHA-256 and size of what was written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest(), size


def _fsync_tree(root: Path) -> None:
    # Files copied here are flushed already; the database and manifest, and every folder, now.
    for path in [root / MANIFEST, *root.glob("database.*")]:
        with path.open("rb+") as stream:
            os.fsync(stream.fileno())
    for folder in [root, *(path for path in root.rglob("*") if path.is_dir())]:
        fsync_dir(folder)
