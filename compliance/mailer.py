"""Email: one function per kind, rendered from templates/email/, and the outbox they go into.

Every email is first written to the outbox table, in the transaction of the event that causes
it, under a unique idempotency key; `compliance.outbox` sends it from there.
"""

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from compliance.config import Settings
from compliance.models import OutboxMessage
from compliance.web import templates

KEY_BATCH = 500
# C0 and C1 controls, DEL and the Unicode line and paragraph separators: in a header, CR or LF
# would start a header of the sender's choosing, and Python refuses to build such a message.
NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


# Rendering ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def header_text(value: str) -> str:
    """A value fit for one header line: each run of control characters becomes one space."""
    return NOT_IN_HEADERS.sub(" ", value)


def _render(kind: str, subject: str, base_url: str, **context: Any) -> Email:
    subject = header_text(subject)
    values = {"preferences_url": f"{base_url}/account/email", "subject": subject, **context}
    text = templates.env.get_template(f"email/{kind}.txt").render(values)
    html = templates.env.get_template(f"email/{kind}.html").render(values)
    return Email(subject[:300], text, html)


def reminder_email(*, base_url: str, item: Any, recipient: Any, days_left: int) -> Email:
    """A period falls due in a few days and has no evidence yet."""
    when = "today" if days_left == 0 else f"in {days_left} day{'s' * (days_left != 1)}"
    subject = f"Due {when}: {item.item} – {item.holder}"
    return _render(
        "reminder", subject, base_url, item=item, recipient=recipient, when=when, days=days_left
    )


def overdue_email(*, base_url: str, item: Any, recipient: Any, days_overdue: int) -> Email:
    """A period passed its due date without evidence."""
    subject = f"Overdue: {item.item} – {item.holder}"
    return _render("overdue", subject, base_url, item=item, recipient=recipient, days=days_overdue)


def escalation_email(
    *, base_url: str, item: Any, recipient: Any, days_overdue: int, sro_missing: bool
) -> Email:
    """A period is a week or more overdue: the senior responsible officer is told, weekly."""
    subject = f"Escalation: {item.item} – {item.holder} is {days_overdue} days overdue"
    return _render(
        "escalation",
        subject,
        base_url,
        item=item,
        recipient=recipient,
        days=days_overdue,
        sro_missing=sro_missing,
    )


def query_email(
    *, base_url: str, item: Any, recipient: Any, evidence: Any, question: str, inspector: str
) -> Email:
    """An inspector queried evidence; the officer who recorded it is asked to answer."""
    subject = f"Evidence queried: {evidence.title} – {item.holder}"
    return _render(
        "query",
        subject,
        base_url,
        item=item,
        recipient=recipient,
        evidence=evidence,
        question=question,
        inspector=inspector,
    )


def answer_email(
    *, base_url: str, item: Any, recipient: Any, evidence: Any, answer: str, officer: str
) -> Email:
    """An officer answered an inspector's query."""
    subject = f"Query answered: {evidence.title} – {item.holder}"
    return _render(
        "answer",
        subject,
        base_url,
        item=item,
        recipient=recipient,
        evidence=evidence,
        answer=answer,
        officer=officer,
    )


def digest_email(
    *, base_url: str, recipient: Any, week_of: dt.date, due: list, findings: list, more: dict
) -> Email:
    """A user's week: what falls due in the next 30 days and the open findings in scope."""
    subject = (
        f"Week of {week_of.day} {week_of:%B %Y}: {len(due) + more['due']} due in the next "
        f"30 days, {len(findings) + more['findings']} open findings"
    )
    return _render(
        "digest",
        subject,
        base_url,
        recipient=recipient,
        week_of=week_of,
        due=due,
        findings=findings,
        more=more,
        findings_url=f"{base_url}/findings",
    )


# The outbox -----------------------------------------------------------------------------------


def message_id_for(key: str, mail_from: str) -> str:
    """A Message-ID fixed by the idempotency key, so that a resend is the same message."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def queued_keys(*, session: Session, keys: list[str]) -> set[str]:
    """Which of these idempotency keys are already in the outbox."""
    found: set[str] = set()
    for start in range(0, len(keys), KEY_BATCH):
        batch = keys[start : start + KEY_BATCH]
        query = select(OutboxMessage.idempotency_key).where(
            col(OutboxMessage.idempotency_key).in_(batch)
        )
        found.update(session.exec(query).all())
    return found


def enqueue(
    *,
    session: Session,
    settings: Settings,
    key: str,
    kind: str,
    to_address: str,
    email: Email,
    **links: int | None,
) -> bool:
    """Write an email to the outbox unless its key is there already; tell whether it was new."""
    # `links` are to_user_id, obligation_id, occurrence_id and evidence_id, for finding it later.
    values = {
        "idempotency_key": key,
        "kind": kind,
        "to_address": to_address,
        "subject": header_text(email.subject)[:300],  # whoever composed it
        "text_body": email.text,
        "html_body": email.html,
        "message_id": message_id_for(key, settings.mail_from),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": dt.datetime.now(dt.UTC),
        "created_at": dt.datetime.now(dt.UTC),
        **links,
    }
    dialect = session.connection().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # ON CONFLICT DO NOTHING: a second scheduler racing this one adds nothing and raises nothing.
    # No conflict target, so that every unique index is an arbiter: the message id is unique too
    # and derived from the key, and naming only the key's index let a race between two inserts
    # of one key end in a unique violation on the message id's (2 in 300 on PostgreSQL).
    table = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on a table class
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return session.execute(statement).first() is not None
