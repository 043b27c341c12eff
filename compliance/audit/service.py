"""The audit trail: an append-only chain of events, each holding the hash of the one before.

Each hash is an HMAC keyed by a key derived from COMPLIANCE_SECRET_KEY, so that someone who can
write to the database but does not hold the key cannot rewrite an event and recompute the hashes
after it with this code: the chain would no longer verify. Deleting events from the end leaves a
chain that holds together; the signed checkpoint outside the database (`checkpoint`) catches that.
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import or_, text
from sqlmodel import Session, col, select

from compliance.db import key_column, row_id
from compliance.models import AuditEvent, Body, EvidenceLink, Period, utcnow

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
# Whether the transaction's first append began the trail (no event before it), for the checkpoint.
STARTS_KEY = "audit_starts_trail"
DOWNLOAD = "download"
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
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def derived_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose (the chain, the checkpoint) derived from the secret key, so that
    neither use can stand in for the other."""
    return hmac.new(secret.encode(), f"compliance:{purpose}:v1".encode(), hashlib.sha256).digest()


def chain_key(secret: str | None = None) -> bytes:
    """The key of the chain's hashes: from `secret`, or the configured COMPLIANCE_SECRET_KEY."""
    if secret is None:
        from compliance.config import get_settings

        secret = get_settings().secret_key
    return derived_key(secret, "audit-chain")


def _canonical(event: AuditEvent) -> str:
    content = {
        "occurred_at": _utc_text(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: AuditEvent, key: bytes | None = None) -> str:
    """HMAC-SHA256, under the chain's key, of the previous hash and the event's content."""
    message = (event.prev_hash + _canonical(event)).encode("utf-8")
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def unkeyed_hash(event: AuditEvent) -> str:
    """The plain SHA-256 that chains were hashed with before they were keyed (to 0013): read
    only to re-key such a chain once it is found intact."""
    return hashlib.sha256((event.prev_hash + _canonical(event)).encode("utf-8")).hexdigest()


def hold_appends(session: Session) -> None:
    """Hold back other transactions' appends until this one ends."""
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
    hold_appends(session)
    head = session.exec(
        select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)
    ).first()
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
    # The new head, for the checkpoint written once this transaction commits (`checkpoint`).
    session.info[HEAD_KEY] = (event.id, event.hash)
    session.info.setdefault(STARTS_KEY, head is None)
    return event


def record_download(
    *, session: Session, actor: str, entity_type: str, entity_id: object, what: dict[str, Any]
) -> AuditEvent:
    """Record that a file was downloaded (evidence, a report, a pack), in a write transaction of
    its own after the request's reading one: the event is committed with the request."""
    from compliance.db import begin_writing

    begin_writing(session)
    return record(
        session=session,
        actor=actor,
        action=DOWNLOAD,
        entity_type=entity_type,
        entity_id=entity_id,
        after=what,
    )


@dataclass(frozen=True)
class Break:
    """Where the chain stops holding together."""

    event_id: int
    reason: str


def _events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        query = select(AuditEvent).where(col(AuditEvent.id) > last).order_by(col(AuditEvent.id))
        rows = session.exec(query.limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = row_id(rows[-1])


def verify(
    *, session: Session, key: bytes | None = None, unkeyed: bool = False
) -> tuple[int, Break | None]:
    """Walk the chain from the start; return how many events held and the first break.
    `unkeyed` checks a chain from before 0013 (plain SHA-256) instead."""
    return _walk(session, [_hasher(None if unkeyed else key or chain_key())])


Hasher = Callable[[AuditEvent], str]


def _hasher(key: bytes | None) -> Hasher:
    """The hash function of a chain keyed by `key`, or of an unkeyed one (None)."""
    return (lambda event: event_hash(event, key)) if key else unkeyed_hash


def _walk(session: Session, hashers: list[Hasher]) -> tuple[int, Break | None]:
    # An event holds when one of `hashers` gives its hash and it links to the event before it.
    expected_prev = GENESIS
    count = 0
    for event in _events(session):
        if event.prev_hash != expected_prev:
            return count, Break(
                row_id(event), "its previous hash does not match the event before it"
            )
        if not any(hmac.compare_digest(hashed(event), event.hash) for hashed in hashers):
            return count, Break(
                row_id(event),
                "its content does not match its hash (changed, or hashed without this "
                "installation's secret key)",
            )
        expected_prev = event.hash
        count += 1
    return count, None


def head(session: Session) -> tuple[int, str] | None:
    """The last event's id and hash; None for an empty trail."""
    query = (
        select(key_column(AuditEvent), AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)
    )
    found = session.exec(query).first()
    return (found[0], found[1]) if found else None


def rekey(*, session: Session, old_key: bytes | None, new_key: bytes | None) -> int:
    """Re-hash the whole chain under `new_key`, after checking that every event holds under
    `old_key` or already under `new_key` (appended since the key changed); None stands for the
    unkeyed SHA-256 of chains from before 0013 on either side. Refused, changing nothing, when
    the chain does not hold: re-keying must never make a tampered chain look whole."""
    hold_appends(session)
    count, broken = _walk(session, [_hasher(old_key), _hasher(new_key)])
    if broken is not None:
        raise ChainBroken(broken)
    previous = GENESIS
    for event in list(_events(session)):
        event.prev_hash = previous
        event.hash = _hasher(new_key)(event)
        previous = event.hash
        session.add(event)
        session.flush()  # one row at a time: every hash stays unique at each step
    # The caller replaces the checkpoint (`checkpoint.replace`): the head's hash has changed.
    return count


class ChainBroken(Exception):
    """The chain does not verify under the key it was said to have."""

    def __init__(self, broken: Break) -> None:
        super().__init__(f"event {broken.event_id}: {broken.reason}")
        self.broken = broken


def history(*, session: Session, entity_type: str, entity_id: object) -> list[AuditEvent]:
    """Every event about one record, oldest first."""
    return _about(session, entity_type, [str(entity_id)])


def _about(session: Session, entity_type: str, keys: list[str]) -> list[AuditEvent]:
    query = select(AuditEvent).where(
        AuditEvent.entity_type == entity_type, col(AuditEvent.entity_id).in_(keys)
    )
    return list(session.exec(query.order_by(col(AuditEvent.id))))


def body_keys(*, session: Session, body_ids: Iterable[int]) -> list[str]:
    """The keys bodies' events are recorded under: the code for a body's own changes
    (body.created, body.updated), the id for its reminder settings. Events in a chained trail
    cannot be rewritten, so every reader of a body's events looks under both."""
    ids = set(body_ids)
    codes = set(session.exec(select(Body.code).where(col(Body.id).in_(ids)))) if ids else set()
    return sorted({str(i) for i in ids} | codes)


def body_history(*, session: Session, body: Body) -> list[AuditEvent]:
    """Every event about a body, oldest first: its own changes and settings, and the imports
    that created or changed it."""
    imports = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "bodies.imported")
        .order_by(col(AuditEvent.id))
    ).all()
    touched = [
        e
        for e in imports
        if body.code in (e.after or {}).get("created", [])
        or body.code in (e.after or {}).get("updated", {})
    ]
    own = _about(session, "body", body_keys(session=session, body_ids=[row_id(body)]))
    return sorted([*touched, *own], key=row_id)


def obligation_history(*, session: Session, obligation_id: int) -> list[AuditEvent]:
    """Every event about an obligation's periods and the evidence that serves them, oldest
    first."""
    periods = session.exec(
        select(key_column(Period)).where(Period.obligation_id == obligation_id)
    ).all()
    evidence = session.exec(
        select(EvidenceLink.evidence_id).where(col(EvidenceLink.occurrence_id).in_(periods))
    ).all()
    about = or_(
        (col(AuditEvent.entity_type) == "evidence")
        & col(AuditEvent.entity_id).in_([str(i) for i in set(evidence)]),
        (col(AuditEvent.entity_type) == "occurrence")
        & col(AuditEvent.entity_id).in_([str(i) for i in periods]),
    )
    return list(session.exec(select(AuditEvent).where(about).order_by(col(AuditEvent.id))))
