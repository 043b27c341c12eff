"""Mail headers stay one line: a new line in an evidence title (or any control character) can
neither add a header nor make its notification fail on every retry."""

import datetime as dt
from email import message_from_bytes, policy

import pytest
from sqlmodel import Session, select

from compliance.catalogue.service import load_catalogue
from compliance.config import Settings
from compliance.db import make_engine, session_scope
from compliance.evidence.service import ReviewVerdict, review
from compliance.mailer import Email, enqueue, header_text
from compliance.migrations import upgrade
from compliance.models import Obligation, Period, User, UserScope
from compliance.obligations.service import sync_obligations
from compliance.outbox import flush_outbox
from compliance.reminders.models import OutboxMessage
from compliance.reminders.service import queue_query_notice
from tests.factories import make_body, make_evidence

ON = dt.date(2026, 6, 1)
HOSTILE_TITLE = "Board minutes\r\nBcc: attacker@example.com"
HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"}


@pytest.fixture
def engine(fresh_url):  # type: ignore[no-untyped-def]
    """A database of its own: the outbox is sent from other sessions, so rows are committed."""
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with session_scope(engine) as session:
        load_catalogue(session=session)
    yield engine
    engine.dispose()


@pytest.fixture
def mail_settings(fresh_url, tmp_path):  # type: ignore[no-untyped-def]
    return Settings(
        environment="test",
        secret_key="test-secret-key",
        database_url=fresh_url,
        data_dir=tmp_path,
        mail_from="Duties tracker <reminders@tracker.example.org>",
    )


def user(session, email: str, role: str, body) -> User:  # type: ignore[no-untyped-def]
    person = User(email=email, name=email.split("@")[0].title(), role=role)
    session.add(person)
    session.flush()
    session.add(UserScope(user_id=person.id, body_id=body.id))
    session.flush()
    return person


def queue_hostile_query(session, settings) -> int:  # type: ignore[no-untyped-def]
    """An inspector queries evidence whose title carries a header; how many emails queued."""
    body = make_body(session, email="governance@council.example.org")
    sync_obligations(session=session, on=ON)
    officer = user(session, "officer@council.example.org", "officer", body)
    inspector = user(session, "inspector@cqc.example.org", "inspector", body)
    period = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.body_id == body.id)
        .order_by(Period.id)
    ).first()
    evidence = make_evidence(
        session,
        occurrences=[period],
        kind="link",
        title=HOSTILE_TITLE,
        url="https://council.example.org/minutes",
        recorded_by_id=officer.id,
    )
    comment = review(
        session=session,
        actor=inspector,
        evidence_id=evidence.id,
        verdict=ReviewVerdict.queried,
        comment="Which meeting?",
    )
    return queue_query_notice(session=session, settings=settings, comment=comment)


def later(clock: dt.datetime) -> dt.datetime:
    """An hour past the suite's clock: after every message queued in the test fell due."""
    return clock + dt.timedelta(hours=1)


def sent_mail(settings: Settings) -> list:
    folder = settings.data_dir / "mail"
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in folder.iterdir()]


def test_a_new_line_in_an_evidence_title_is_sent_once_on_one_line(
    engine, mail_settings, suite_clock
):
    with session_scope(engine) as session:
        assert queue_hostile_query(session, mail_settings) == 1
    report = flush_outbox(engine=engine, settings=mail_settings, now=later(suite_clock))
    assert (report.sent, report.dead, report.retrying) == (1, 0, 0), report.errors
    (mail,) = sent_mail(mail_settings)
    assert set(mail.keys()) - {"MIME-Version", "Content-Type"} == HEADERS
    assert mail["Bcc"] is None and mail["To"] == "officer@council.example.org"
    assert "\r" not in mail["Subject"] and "\n" not in mail["Subject"]
    with Session(engine) as session:
        (row,) = session.exec(select(OutboxMessage)).all()
    assert row.status == "sent"
    assert row.subject.startswith("Evidence queried: Board minutes Bcc: attacker@example.com – ")


def test_a_message_queued_with_a_new_line_in_its_subject_is_still_sent(
    engine, mail_settings, suite_clock
):
    with session_scope(engine) as session:
        email = Email(HOSTILE_TITLE, "Plain text", "<p>HTML</p>")
        enqueue(
            session=session,
            settings=mail_settings,
            key="old:1",
            kind="query",
            to_address="officer@council.example.org",
            email=email,
        )
        (row,) = session.exec(select(OutboxMessage)).all()
        assert row.subject == "Board minutes Bcc: attacker@example.com"
        # As a row queued before subjects were cleaned: cleaned again when the message is built.
        row.subject = HOSTILE_TITLE
    report = flush_outbox(engine=engine, settings=mail_settings, now=later(suite_clock))
    assert (report.sent, report.dead, report.retrying) == (1, 0, 0), report.errors
    (mail,) = sent_mail(mail_settings)
    assert mail["Subject"] == "Board minutes Bcc: attacker@example.com" and mail["Bcc"] is None
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage.status)).all() == ["sent"]


def test_every_control_character_becomes_a_space():
    assert header_text("a\r\nb\tc\x00d\x7fe\x85f\u2028g  h") == "a b c d e f g  h"
    assert header_text("Due today: Annual report – Cornwall") == (
        "Due today: Annual report – Cornwall"
    )
