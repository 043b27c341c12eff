"""Evidence files, stored once by content address, and evidence records."""

import hashlib
import os
import tempfile
from pathlib import Path

from sqlmodel import Session

from compliance.models import Evidence, EvidenceLink


def evidence_dir(data_dir: Path) -> Path:
    """Where evidence files live."""
    return data_dir / "evidence"


def stored_path(data_dir: Path, sha256: str) -> Path:
    """The path of a stored file: fanned out by the first two hex digits."""
    return evidence_dir(data_dir) / sha256[:2] / sha256


def store_bytes(*, data_dir: Path, content: bytes) -> str:
    """Store content under its SHA-256 and return the hash.

    The file is written under a temporary name, flushed to disk and renamed into place, so a
    crash leaves either the whole file or nothing; storing the same content twice is a no-op.
    """
    sha256 = hashlib.sha256(content).hexdigest()
    target = stored_path(data_dir, sha256)
    if target.exists():
        return sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return sha256


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def record(*, session: Session, evidence: Evidence, occurrence_ids: list[int]) -> Evidence:
    """Record a piece of evidence against one or more occurrences."""
    if not occurrence_ids:
        raise ValueError("evidence must serve at least one obligation")
    session.add(evidence)
    session.flush()
    for occurrence_id in sorted(set(occurrence_ids)):
        session.add(EvidenceLink(evidence_id=evidence.id, occurrence_id=occurrence_id))
    session.flush()
    return evidence


def file_evidence(
    *, data_dir: Path, content: bytes, file_name: str, media_type: str, **fields: object
) -> Evidence:
    """An evidence record for a file, with the file stored first."""
    sha256 = store_bytes(data_dir=data_dir, content=content)
    return Evidence(
        sha256=sha256, file_name=file_name, media_type=media_type, size_bytes=len(content), **fields
    )
