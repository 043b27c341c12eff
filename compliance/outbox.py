"""Sending the outbox: claim one message at a time, send it, mark it sent; retry or give up.

A sender claims a message by a conditional UPDATE, sends it outside any transaction, then marks
it sent. Several senders (two schedulers, `compliance remind` beside the scheduler) can run at
once and each message goes once. A message left `sending` by a crashed sender is claimed again
after STALE_CLAIM and resent under the same Message-ID, so the receiver can tell it is a repeat.
"""

import contextlib
import datetime as dt
import logging
import os
import random
import secrets
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, and_, func, or_, update
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.config import Settings
from compliance.db import key_column, writer
from compliance.mailer import header_text
from compliance.models import OutboxMessage

log = logging.getLogger(__name__)
STALE_CLAIM = dt.timedelta(minutes=15)
# Like a mail server's queue: a first retry after some minutes (greylisting asks for that), then
# doubling, so that the default eight attempts outlast half a day to a day of relay outage.
FIRST_RETRY = dt.timedelta(minutes=10)
LONGEST_RETRY = dt.timedelta(hours=12)


class Transport(Protocol):
    def send(self, message: EmailMessage, row: OutboxMessage) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """Writes each email as an .eml file under DATA_DIR/mail/, whole or not at all."""

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, message: EmailMessage, row: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{row.created_at:%Y%m%d}-{row.id:07d}-{row.kind}.eml"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(message.as_bytes())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)  # a resend after a crash replaces the same file
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        pass


class SmtpTransport:
    """Sends through an SMTP relay, keeping one connection open for a whole flush."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        timeout = s.smtp_timeout_seconds
        if s.smtp_security == "tls":
            context = ssl.create_default_context()
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host,  # type: ignore[arg-type]  # transport_for() makes one only with a host
                s.smtp_port,
                timeout=timeout,
                context=context,
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)  # type: ignore[arg-type]  # transport_for() makes one only with a host

            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password or "")
        return client

    def send(self, message: EmailMessage, row: OutboxMessage) -> None:
        if self.client is None:
            self.client = self._connect()
        sender = parseaddr(self.settings.mail_from)[1]
        try:
            self.client.send_message(message, from_addr=sender, to_addrs=[row.to_address])
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the relay is closing the connection
                self.close()
            raise  # otherwise the relay answered and the connection serves the next message
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.quit()  # a relay that has gone away cannot be told goodbye
            self.client = None


def transport_for(settings: Settings) -> Transport:
    """SMTP when a relay is configured, otherwise .eml files under DATA_DIR/mail/."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FileTransport(settings.data_dir / "mail")


def build_message(row: OutboxMessage, settings: Settings) -> EmailMessage:
    """The MIME message for an outbox row: plain text and HTML, with its fixed Message-ID."""
    message = EmailMessage()
    # Cleaned again here: a row queued before subjects were cleaned would otherwise fail to
    # build on every attempt, and die.
    message["From"] = header_text(settings.mail_from)
    message["To"] = header_text(row.to_address)
    message["Subject"] = header_text(row.subject)
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


@dataclass(frozen=True)
class Failure:
    temporary: bool
    # The relay could not be reached at all: stop this flush rather than fail every message.
    unreachable: bool
    reason: str


def classify(exc: BaseException) -> Failure:
    """Whether a failure to send is worth retrying: 4xx replies, refused connections, timeouts."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return Failure(all(400 <= c < 500 for c in codes), False, f"recipient refused: {codes}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Failure(True, True, f"the relay refused our credentials: {exc.smtp_code}")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return Failure(400 <= exc.smtp_code < 500, False, f"{exc.smtp_code} {text}".strip())
    if isinstance(exc, OSError):  # refused, reset, timed out, TLS failed, disconnected
        return Failure(True, True, f"temporary failure: {exc!r}")
    return Failure(False, False, f"could not send: {exc!r}")


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next attempt: 10, 20, 40 ... minutes at most 12 hours, jittered."""
    # Each wait is 50 to 100 per cent of its ceiling, so that messages failing together spread.
    ceiling = min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + ceiling / 2 * random.random()


@dataclass
class FlushReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.dead} dead"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands datetimes back without their zone; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _claimable(now: dt.datetime):
    return or_(
        and_(col(OutboxMessage.status) == "queued", col(OutboxMessage.next_attempt_at) <= now),
        and_(
            col(OutboxMessage.status) == "sending",
            col(OutboxMessage.claimed_at) < now - STALE_CLAIM,
        ),
    )


def claim(engine: Engine, now: dt.datetime) -> OutboxMessage | None:
    """Claim the next message due for sending, or None; a claim lost to a rival moves on."""
    for _ in range(20):
        with Session(writer(engine), expire_on_commit=False) as session:
            query = (
                select(key_column(OutboxMessage))
                .where(_claimable(now))
                .order_by(col(OutboxMessage.id))
            )
            candidate = session.exec(query.limit(1)).first()
            if candidate is None:
                return None
            token = secrets.token_hex(16)
            taken = session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == candidate, _claimable(now))
                .values(
                    status="sending",
                    claim_token=token,
                    claimed_at=now,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
            row = session.get(OutboxMessage, candidate) if taken.rowcount == 1 else None  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
            session.commit()
            if row is not None:
                return row
    return None


def _settle(engine: Engine, row: OutboxMessage, values: dict) -> None:
    with Session(writer(engine)) as session:
        # Only the holder of the claim settles it; a rival who reclaimed a stale one wins.
        session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row.id, col(OutboxMessage.claim_token) == row.claim_token
            )
            .values(**values)
        )
        session.commit()


def _send_one(
    engine: Engine, settings: Settings, transport: Transport, row: OutboxMessage, now: dt.datetime
) -> tuple[str, Failure | None]:
    try:
        transport.send(build_message(row, settings), row)
    except Exception as exc:  # every failure is recorded on the message, none escapes
        failure = classify(exc)
        if failure.temporary and row.attempts < settings.mail_max_attempts:
            retry_at = now + backoff(row.attempts)
            _settle(
                engine,
                row,
                {"status": "queued", "next_attempt_at": retry_at, "last_error": failure.reason},
            )
            return "retrying", failure
        log.warning("email %s to %s is dead: %s", row.id, row.to_address, failure.reason)
        _settle(engine, row, {"status": "dead", "last_error": failure.reason})
        return "dead", failure
    _settle(engine, row, {"status": "sent", "sent_at": _utcnow(), "last_error": None})
    return "sent", None


def flush_outbox(
    *,
    engine: Engine,
    settings: Settings,
    now: dt.datetime | None = None,
    transport: Transport | None = None,
    limit: int = 1000,
) -> FlushReport:
    """Send what is due in the outbox; safe to run in several processes at once."""
    now = _as_utc(now or _utcnow())
    transport = transport or transport_for(settings)
    report = FlushReport()
    try:
        for _ in range(limit):
            row = claim(engine, now)
            if row is None:
                break
            outcome, failure = _send_one(engine, settings, transport, row, now)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if failure is not None:
                report.errors.append(failure.reason)
                if failure.unreachable:
                    break  # the rest wait for the next flush rather than each use an attempt
    finally:
        transport.close()
    return report


def status_counts(*, session: Session) -> dict[str, int]:
    """How many messages are queued, sending, sent and dead."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    return {"queued": 0, "sending": 0, "sent": 0, "dead": 0} | dict(session.exec(query).all())


def dead_messages(*, session: Session, limit: int = 200) -> list[OutboxMessage]:
    """Messages given up on after their last attempt, newest first."""
    query = select(OutboxMessage).where(OutboxMessage.status == "dead")
    return list(session.exec(query.order_by(col(OutboxMessage.id).desc()).limit(limit)))


def requeue(*, session: Session, actor: str, message_id: int) -> bool:
    """Give a dead message a fresh set of attempts; tell whether it was dead."""
    result = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == "dead")
        .values(status="queued", attempts=0, next_attempt_at=_utcnow(), claim_token=None)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        return False
    audit(
        session=session,
        actor=actor,
        action="outbox_message.requeued",
        entity_type="outbox_message",
        entity_id=message_id,
    )
    return True
