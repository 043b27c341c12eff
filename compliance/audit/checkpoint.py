"""The audit chain's head, signed and kept outside the database, so that deleting events from
the end of the chain, or all of them, is caught: the chain that is left still holds together.

After every commit that appended events, the new head (the last event's id and hash) is written
to DATA_DIR/audit-checkpoint.json with an HMAC under a key derived from COMPLIANCE_SECRET_KEY.
The file only ever moves forward (several processes may commit at once; a lock file orders
them), except when a backup is restored or the chain is re-keyed. `compliance audit verify` reads
it back: an event it records that is missing, or whose hash differs, is named.

Someone who can write to the database and to the data folder, and holds the key, can still
rewrite history; the head printed in every report, and backups kept elsewhere, are the checks
beyond that.
"""

import datetime as dt
import fcntl
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from compliance.audit.service import HEAD_KEY, derived_key, head
from compliance.db import data_dir_for
from compliance.models import AuditEvent

FILE_NAME = "audit-checkpoint.json"
LOCK_NAME = "audit-checkpoint.lock"


class BadCheckpoint(Exception):
    """The checkpoint file cannot be read, or is not signed with this installation's key."""


@dataclass(frozen=True)
class Checkpoint:
    event_id: int
    hash: str
    written_at: str


def _secret(secret: str | None) -> str:
    if secret is not None:
        return secret
    from compliance.config import get_settings

    return get_settings().secret_key


def _signature(secret: str | None, event_id: int, hash_: str, written_at: str) -> str:
    message = f"{event_id}:{hash_}:{written_at}".encode()
    key = derived_key(_secret(secret), "audit-checkpoint")
    return hmac.new(key, message, "sha256").hexdigest()


def read(data_dir: Path, *, secret: str | None = None) -> Checkpoint | None:
    """The checkpoint in `data_dir`; None when there is none yet."""
    path = data_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = Checkpoint(int(data["event_id"]), str(data["hash"]), str(data["written_at"]))
        signature = str(data["signature"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadCheckpoint(f"{path} cannot be read ({exc})") from exc
    expected = _signature(secret, found.event_id, found.hash, found.written_at)
    if not hmac.compare_digest(expected, signature):
        raise BadCheckpoint(
            f"{path} is not signed with this installation's secret key: it was changed, or "
            "COMPLIANCE_SECRET_KEY was"
        )
    return found


def write(
    data_dir: Path,
    event_id: int,
    hash_: str,
    *,
    secret: str | None = None,
    now: dt.datetime | None = None,
    forward_only: bool = True,
) -> bool:
    """Sign and write the head; with `forward_only`, never over a later one. Whether written."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if forward_only:
            try:
                current = read(data_dir, secret=secret)
            except BadCheckpoint:
                current = None  # a damaged file is replaced; verify reports it before then
            if current is not None and current.event_id >= event_id:
                return False
        moment = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        content = {
            "event_id": event_id,
            "hash": hash_,
            "written_at": moment,
            "signature": _signature(secret, event_id, hash_, moment),
        }
        temporary = data_dir / f".{FILE_NAME}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, data_dir / FILE_NAME)
    return True


def problems(*, session: Session, data_dir: Path, secret: str | None = None) -> list[str]:
    """What the database lacks that the checkpoint records: deleted or rewritten events."""
    try:
        found = read(data_dir, secret=secret)
    except BadCheckpoint as exc:
        return [f"The checkpoint {exc}"]
    if found is None:
        return []
    when = found.written_at
    recorded = session.get(AuditEvent, found.event_id)
    if recorded is None:
        latest = head(session)
        if latest is None:
            return [
                f"The audit trail is empty, but the checkpoint written {when} records event "
                f"{found.event_id}: every event has been deleted"
            ]
        if latest[0] < found.event_id:
            return [
                f"Events after {latest[0]} are missing: the checkpoint written {when} records "
                f"event {found.event_id}, so the last events have been deleted"
            ]
        return [f"Event {found.event_id}, which the checkpoint written {when} records, is missing"]
    if not hmac.compare_digest(recorded.hash, found.hash):
        return [
            f"Event {found.event_id} has been rewritten: its hash is not the one the checkpoint "
            f"written {when} records"
        ]
    return []


@event.listens_for(OrmSession, "after_commit")
def _write_after_commit(session: OrmSession) -> None:
    latest = session.info.pop(HEAD_KEY, None)
    if latest is None:
        return
    data_dir = data_dir_for(session.get_bind())
    if data_dir is not None:
        write(data_dir, *latest)


@event.listens_for(OrmSession, "after_rollback")
def _forget_after_rollback(session: OrmSession) -> None:
    session.info.pop(HEAD_KEY, None)
