"""The audit chain's head, signed and kept outside the database, so that deleting events from
the end of the chain, or all of them, is caught: the chain that is left still holds together.

After every commit that appended events, the new head (the last event's id and hash) is written
to DATA_DIR/audit-checkpoint.json with an HMAC under a key derived from COMPLIANCE_SECRET_KEY.
The file only ever moves forward (several processes may commit at once; a lock file orders
them). A commit never starts a checkpoint over a trail that already holds events, nor replaces
one that does not verify: otherwise deleting the file with the last events would be mended by
the next sign-in. `compliance audit verify` starts one where there is none (with a warning),
and a restore or a re-key replaces it. Verify reads it back: an event it records that is
missing, or whose hash differs, is named.

Someone who can write to the database and to the data folder, and holds the key, can still
rewrite history; the head printed in every report, and backups kept elsewhere, are the checks
beyond that.
"""

import datetime as dt
import fcntl
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from compliance.audit.service import HEAD_KEY, STARTS_KEY, derived_key, head
from compliance.db import data_dir_for
from compliance.models import AuditEvent

FILE_NAME = "audit-checkpoint.json"
LOCK_NAME = "audit-checkpoint.lock"

log = logging.getLogger(__name__)
# What a commit could not checkpoint, already logged by this process: said once, not per commit.
_told: set[tuple[Path, str]] = set()


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


def read(
    data_dir: Path, *, secret: str | None = None, old_secret: str | None = None
) -> Checkpoint | None:
    """The checkpoint in `data_dir`; None when there is none yet. Signed with `secret` (the
    configured key by default) or, while the chain is being re-keyed, `old_secret`."""
    path = data_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = Checkpoint(int(data["event_id"]), str(data["hash"]), str(data["written_at"]))
        signature = str(data["signature"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadCheckpoint(f"{path} cannot be read ({exc})") from exc
    keys = [secret] + ([old_secret] if old_secret is not None else [])
    signed = (_signature(key, found.event_id, found.hash, found.written_at) for key in keys)
    if not any(hmac.compare_digest(expected, signature) for expected in signed):
        raise BadCheckpoint(
            f"{path} is not signed with this installation's secret key: it was changed, or "
            "COMPLIANCE_SECRET_KEY was (then run `compliance audit rekey`)"
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
    start: bool = True,
) -> bool:
    """Sign and write the head; whether it was written. With `forward_only`, never over a later
    head nor over a checkpoint that does not verify, and where there is none only if `start`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if forward_only:
            try:
                current = read(data_dir, secret=secret)
            except BadCheckpoint as exc:
                return _left(data_dir, f"the audit checkpoint is left as it is: {exc}")
            if current is None and not start:
                return _left(
                    data_dir,
                    f"no audit checkpoint in {data_dir} for a trail that holds events: run "
                    "`compliance audit verify` to start one",
                )
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
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(json.dumps(content, indent=2) + "\n")
            out.flush()
            os.fsync(out.fileno())  # a power cut leaves the old checkpoint or the new, never half
        os.replace(temporary, data_dir / FILE_NAME)
    return True


def _left(data_dir: Path, why: str) -> bool:
    if (data_dir, why) not in _told:
        _told.add((data_dir, why))
        log.warning(why)
    return False


def replace(data_dir: Path, latest: tuple[int, str] | None) -> None:
    """The checkpoint of a chain that was restored or re-keyed: its head, over whatever was
    there; none for an empty trail (the next event starts one)."""
    if latest is not None:
        write(data_dir, *latest, forward_only=False)
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (data_dir / FILE_NAME).unlink(missing_ok=True)


def problems(
    *, session: Session, data_dir: Path, secret: str | None = None, old_secret: str | None = None
) -> list[str]:
    """What the database lacks that the checkpoint records: deleted or rewritten events."""
    try:
        found = read(data_dir, secret=secret, old_secret=old_secret)
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
    starts_trail = session.info.pop(STARTS_KEY, False)
    if latest is None:
        return
    data_dir = data_dir_for(session.get_bind())
    if data_dir is not None:
        write(data_dir, *latest, start=starts_trail)


@event.listens_for(OrmSession, "after_rollback")
def _forget_after_rollback(session: OrmSession) -> None:
    session.info.pop(HEAD_KEY, None)
    session.info.pop(STARTS_KEY, None)
