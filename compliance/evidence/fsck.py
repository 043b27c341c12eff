"""The stored evidence files checked against the rows that name them: orphans, leftovers of an
interrupted upload, and files that are missing or no longer match their SHA-256."""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from compliance.db import key_column
from compliance.evidence.files import stored_path
from compliance.models import Evidence

# The prefix `files.store` gives a file while it is being written, before the rename.
TEMPORARY_PREFIX = ".incoming-"


@dataclass(frozen=True)
class Damaged:
    """A row whose file is missing, or whose file's content no longer matches its hash."""

    evidence_id: int
    title: str
    sha256: str
    missing: bool


@dataclass
class FsckReport:
    """What a check found; `removed` is filled in by `clean`."""

    files: int = 0
    rows: int = 0
    orphans: list[Path] = field(default_factory=list)
    temporaries: list[Path] = field(default_factory=list)
    young: list[Path] = field(default_factory=list)
    damaged: list[Damaged] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """How many things are still wrong: damaged rows, and leftovers not yet removed."""
        return len(self.damaged) + len(self.orphans) + len(self.temporaries) - len(self.removed)


def check(*, session: Session, data_dir: Path, now: float, grace_minutes: int = 10) -> FsckReport:
    """Compare the files under DATA_DIR/evidence with the evidence rows; change nothing."""
    # Files are listed before rows are read: a file stored in between is simply not seen, and
    # a row committed in between only makes its file look named, never orphaned.
    on_disk = _files(data_dir)
    named = _named(session)
    report = FsckReport(files=len(on_disk), rows=sum(len(rows) for rows in named.values()))
    expected = {stored_path(data_dir, sha256) for sha256 in named}
    for path in sorted(set(on_disk) - expected):
        _sort_unnamed(report, path, now=now, grace_seconds=grace_minutes * 60)
    for sha256, rows in sorted(named.items()):
        state = _state(stored_path(data_dir, sha256), sha256)
        if state is not None:
            report.damaged += [Damaged(i, title, sha256, state == "missing") for i, title in rows]
    return report


def clean(*, session: Session, report: FsckReport) -> FsckReport:
    """Remove the orphans and temporary files a check found; never a file a row names.

    Ends the session's transaction (it writes nothing) so that rows committed since are seen.
    """
    for path in [*report.temporaries, *report.orphans]:
        if path in report.orphans and _still_named(session, path.name):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass  # gone already: what was asked for
        except OSError:
            continue  # left, and so still counted as a problem
        report.removed.append(path)
    return report


def _files(data_dir: Path) -> list[Path]:
    root = data_dir / "evidence"
    found = [path for path in root.rglob("*") if path.is_file()] if root.is_dir() else []
    # A report cut short while its PDF was written leaves the same kind of temporary file there.
    reports = data_dir / "reports"
    if reports.is_dir():
        found += [p for p in reports.rglob(f"{TEMPORARY_PREFIX}*") if p.is_file()]
    return found


def _named(session: Session) -> dict[str, list[tuple[int, str]]]:
    rows = session.exec(
        select(Evidence.sha256, key_column(Evidence), Evidence.title)
        .where(col(Evidence.sha256).is_not(None))
        .order_by(col(Evidence.id))
    )
    named: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for sha256, evidence_id, title in rows:
        named[sha256].append((evidence_id, title))  # type: ignore[index]  # the query keeps evidence with a file

    return named


def _sort_unnamed(report: FsckReport, path: Path, *, now: float, grace_seconds: int) -> None:
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return  # an upload's temporary file, renamed or removed since it was listed
    if now - modified < grace_seconds:
        # Too young to judge: an upload may still be writing it, or about to commit the row
        # that names it. Listed, but neither counted as a problem nor removed.
        report.young.append(path)
    elif path.name.startswith(TEMPORARY_PREFIX):
        report.temporaries.append(path)
    else:
        report.orphans.append(path)


def _state(path: Path, sha256: str) -> str | None:
    try:
        with path.open("rb") as stream:
            actual = hashlib.file_digest(stream, "sha256").hexdigest()
    except FileNotFoundError:
        return "missing"
    return None if actual == sha256 else "altered"


def _still_named(session: Session, name: str) -> bool:
    # A fresh snapshot: the same content uploaded again since the check now has a row, and
    # the file it names must stay.
    session.rollback()
    found = session.exec(
        select(key_column(Evidence)).where(Evidence.sha256 == name).limit(1)
    ).first()
    return found is not None
