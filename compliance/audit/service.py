"""The audit trail: an append-only chain of events, each holding the hash of the one before."""

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import text
from sqlmodel import Session, select

from compliance.models import AuditEvent, utcnow

GENESIS = "0" * 64
# Any fixed number: the key of the PostgreSQL advisory lock that serialises appends.
AUDIT_LOCK_KEY = 7_201_405_311


def jsonable(value: Any) -> Any:
    """A value as JSON would store it (dates as ISO strings), so hashes survive a round trip."""
    return None if value is None else to_jsonable_python(value)


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named fields of a row (all columns when none are named), ready for an event."""
    data = row.model_dump()
    return jsonable({name: data[name] for name in fields} if fields else data)


def _utc_text(moment: dt.datetime) -> str:
    # SQLite hands datetimes back without their zone; every stored time is UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of the previous hash and the event's canonical content."""
    content = {
        "occurred_at": _utc_text(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((event.prev_hash + canonical).encode("utf-8")).hexdigest()


def _serialise_appends(session: Session) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    # On SQLite, writers begin IMMEDIATE (compliance.db.writer), which already serialises them.


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event to the chain."""
    _serialise_appends(session)
    head = session.exec(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=jsonable(before),
        after=jsonable(after),
        prev_hash=head or GENESIS,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Break:
    """Where the chain stops holding together."""

    event_id: int
    reason: str


def _events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        query = select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id)
        rows = session.exec(query.limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify(*, session: Session) -> tuple[int, Break | None]:
    """Walk the chain from the start; return how many events held and the first break."""
    expected_prev = GENESIS
    count = 0
    for event in _events(session):
        if event.prev_hash != expected_prev:
            return count, Break(event.id, "its previous hash does not match the event before it")
        if event_hash(event) != event.hash:
            return count, Break(event.id, "its content does not match its hash")
        expected_prev = event.hash
        count += 1
    return count, None


def history(*, session: Session, entity_type: str, entity_id: object) -> list[AuditEvent]:
    """Every event about one record, oldest first."""
    query = select(AuditEvent).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)
    )
    return list(session.exec(query.order_by(AuditEvent.id)))
