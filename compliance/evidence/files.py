"""Evidence files: checked by content against an allow-list, stored once by SHA-256."""

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import quote

import magic
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from starlette.responses import Response

from compliance.errors import NotFound, Refused
from compliance.evidence.safety import (
    BIDI_AND_CONTROLS,
    SCRIPT_EXTENSIONS,
    ZIP_TYPES,
    FileRefused,
    check_archive,
    clean_name,
    refuse_double_nature,
)

logger = logging.getLogger(__name__)

# What libmagic calls each allowed type, and the type the file is served with.
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel workbook",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/msword": "Word 97-2003 document",
    "application/vnd.ms-excel": "Excel 97-2003 workbook",
    "application/vnd.ms-powerpoint": "PowerPoint 97-2003",
    "application/vnd.oasis.opendocument.text": "OpenDocument text",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet",
    "application/vnd.oasis.opendocument.presentation": "OpenDocument presentation",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "image/tiff": "TIFF image",
    "text/plain": "plain text",
    "text/csv": "CSV",
    "message/rfc822": "email",
}
# libmagic names legacy Office files by their container; the file is allowed only if it is one.
LEGACY_OFFICE = {"application/cdfv2", "application/vnd.ms-office", "application/x-ole-storage"}


@dataclass(frozen=True)
class CheckedFile:
    content: bytes
    media_type: str
    sha256: str


def sniff(content: bytes) -> str:
    """The media type of some content, judged by the content and never by its name."""
    found = magic.from_buffer(content, mime=True).lower()
    if found in LEGACY_OFFICE:
        return "application/msword"
    if found == "text/plain" and _looks_like_email(content):
        return "message/rfc822"
    return found


def _looks_like_email(content: bytes) -> bool:
    headers = BytesHeaderParser().parsebytes(content[:65536])
    return bool(headers.get("From") and (headers.get("Date") or headers.get("Subject")))


def check(content: bytes, *, max_bytes: int, file_name: str | None = None) -> CheckedFile:
    """Refuse empty, oversize, disallowed or double-natured content, and names that run when
    opened; return the content with its type and hash."""
    if not content:
        raise FileRefused("the file is empty")
    if len(content) > max_bytes:
        raise FileRefused(
            f"the file is {len(content) / 1_000_000:.1f} MB; the limit is "
            f"{max_bytes / 1_000_000:.0f} MB"
        )
    extension = Path(clean_name(file_name or "")).suffix.lower()
    if extension in SCRIPT_EXTENSIONS:
        raise FileRefused(
            f"files ending {extension} are not accepted: they can run programs when opened. "
            "Save it as a PDF or plain text instead"
        )
    media_type = sniff(content)
    if media_type not in ALLOWED_TYPES:
        allowed = "PDF, Word, Excel, PowerPoint, OpenDocument, images, CSV, plain text or email"
        raise FileRefused(f"files of type {media_type} are not accepted; upload {allowed}")
    refuse_double_nature(content, media_type, ALLOWED_TYPES[media_type])
    if media_type in ZIP_TYPES:
        check_archive(content, media_type, ALLOWED_TYPES[media_type])
    return CheckedFile(content, media_type, hashlib.sha256(content).hexdigest())


def stored_path(data_dir: Path, sha256: str) -> Path:
    """The path of a stored file: DATA_DIR/evidence/ab/abcdef..."""
    return data_dir / "evidence" / sha256[:2] / sha256


def store(*, data_dir: Path, checked: CheckedFile, session: OrmSession | None = None) -> Path:
    """Store content under its hash; a crash leaves the whole file or none of it.

    Written under a temporary name, flushed to disk, renamed into place, and the folder
    flushed too; the same content stored twice is kept once. With a session, a file this
    transaction brought in is removed again if the transaction does not commit.
    """
    target = stored_path(data_dir, checked.sha256)
    with _lock:
        created = not target.exists()
        if session is not None and (created or checked.sha256 in _uncommitted):
            _uncommitted[checked.sha256] += 1
            session.info.setdefault(PENDING, []).append((target, checked))
    if created:
        _write(target, checked.content)
    return target


def _write(target: Path, content: bytes) -> None:
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
    fsync_dir(target.parent)


# Files stored by transactions that have not committed yet, by hash, with how many such
# transactions hold each. A file leaves this table for good once any of them commits.
PENDING = "compliance.evidence.pending_files"
_lock = threading.Lock()
_uncommitted: Counter[str] = Counter()


@event.listens_for(OrmSession, "before_commit")
def _files_before_commit(session: OrmSession) -> None:
    # Nothing is committed that names a file which is not there (another process may have
    # cleaned it up as an orphan in the meantime): write it again from the upload.
    for target, checked in session.info.get(PENDING, []):
        if not target.exists():
            _write(target, checked.content)


@event.listens_for(OrmSession, "after_commit")
def _files_after_commit(session: OrmSession) -> None:
    with _lock:
        for _target, checked in session.info.pop(PENDING, []):
            _uncommitted.pop(checked.sha256, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _files_after_rollback(session: OrmSession, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (after_commit has emptied the list
    # otherwise): a refused or failed upload leaves no file behind.
    if transaction.parent is not None:
        return
    with _lock:
        for target, checked in session.info.pop(PENDING, []):
            if checked.sha256 not in _uncommitted:
                continue  # another transaction committed a row naming it
            _uncommitted[checked.sha256] -= 1
            if _uncommitted[checked.sha256] <= 0:
                del _uncommitted[checked.sha256]
                target.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk, so that a file renamed into it survives a crash."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class StoredFileDamaged(Refused):
    """A stored file is missing or no longer matches its SHA-256: only a restore can help."""

    def __init__(self, sha256: str):
        super().__init__(
            f"The stored file {sha256[:12]}… is missing or no longer matches its SHA-256. "
            "Nothing was sent; an administrator must restore it from a backup",
            status=409,
        )


def read(*, data_dir: Path, sha256: str) -> bytes:
    """The stored content, checked against its hash; StoredFileDamaged if it is gone or altered."""
    try:
        content = stored_path(data_dir, sha256).read_bytes()
    except FileNotFoundError:
        content = None
    if content is None or hashlib.sha256(content).hexdigest() != sha256:
        logger.error("evidence file %s is missing or does not match its hash", sha256)
        raise StoredFileDamaged(sha256)
    return content


def attachment(name: str) -> str:
    """A Content-Disposition for a download: a plain ASCII name for old clients, and the real
    one encoded (RFC 6266) for the rest, so that any file name can be sent."""
    name = BIDI_AND_CONTROLS.sub("", name) or "evidence"
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", name) or "evidence"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def download(
    *, data_dir: Path, sha256: str | None, file_name: str | None, media_type: str | None
) -> Response:
    """A stored file as a download, for the page and the API alike: an attachment with the type
    its content was checked to be, never cached, checked against its SHA-256 first."""
    if not sha256:
        raise NotFound("This evidence has no file; it is a link or a statement")
    headers = {
        "Content-Disposition": attachment(file_name or "evidence"),
        "Cache-Control": "private, no-store",
    }
    return Response(read(data_dir=data_dir, sha256=sha256), media_type=media_type, headers=headers)
