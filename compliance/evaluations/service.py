"""Evaluation rounds: create and close them, invite the partners' staff by single-use private
links sent through the outbox, and take answers from those links, from the round's shared link
and from staff after a session. Answers are stored apart from whoever gave or typed them."""

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from compliance import mailer
from compliance.audit.service import record as audit
from compliance.config import Settings
from compliance.db import row_id, stored
from compliance.errors import Refused
from compliance.evaluations.models import (
    DEFAULT_MIN_ANSWERS,
    EvaluationAnswer,
    EvaluationInvitation,
    EvaluationRound,
)
from compliance.evaluations.questions import PARTNERS, PEOPLE, Answer
from compliance.evaluations.results import (  # noqa: F401  (the results are part of the service)
    latest_results,
    round_results,
)
from compliance.models import Partnership
from compliance.web import templates, uk_date

TITLE_LIMIT = 200
MIN_ANSWERS_RANGE = (2, 100)
MAX_INVITES = 200
# A token in a link is 43 characters; anything much longer is not one of ours.
TOKEN_LIMIT = 100


@dataclass(frozen=True)
class RoundCreate:
    title: str
    opens_date: dt.date
    closes_date: dt.date
    min_answers: int = DEFAULT_MIN_ANSWERS


class LinkRefused(Refused):
    """A survey link that cannot take an answer now; `heading` says why in a few words."""

    def __init__(self, heading: str, message: str, *, status: int):
        super().__init__(message, status=status)
        self.heading = heading


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Rounds ---------------------------------------------------------------------------------------


def round_problems(data: RoundCreate, today: dt.date) -> dict[str, str]:
    """What is wrong with a new round, by field in the form's order."""
    problems: dict[str, str] = {}
    if not data.title.strip():
        problems["title"] = "Enter a title"
    elif len(data.title.strip()) > TITLE_LIMIT:
        problems["title"] = f"Enter a title of {TITLE_LIMIT} characters or fewer"
    if data.closes_date < today:
        problems["closes_date"] = "The closing date must be today or in the future"
    elif data.closes_date < data.opens_date:
        problems["closes_date"] = "The closing date must be on or after the opening date"
    low, high = MIN_ANSWERS_RANGE
    if not low <= data.min_answers <= high:
        problems["min_answers"] = f"Enter a whole number from {low} to {high}"
    return problems


def create_round(
    *, session: Session, actor: str, partnership_id: int, data: RoundCreate, today: dt.date
) -> EvaluationRound:
    """Open a new round of a partnership's evaluation, with its shared link for stage two."""
    problems = round_problems(data, today)
    if problems:
        field, message = next(iter(problems.items()))
        raise Refused(message, field=field)
    row = EvaluationRound(
        partnership_id=partnership_id,
        title=data.title.strip(),
        opens_date=data.opens_date,
        closes_date=data.closes_date,
        min_answers=data.min_answers,
        public_token=secrets.token_urlsafe(32),
    )
    session.add(row)
    session.flush()
    after = {"title": row.title, "opens": row.opens_date, "closes": row.closes_date}
    audit(
        session=session,
        actor=actor,
        action="evaluation_round.created",
        entity_type="evaluation_round",
        entity_id=row.id,
        after=after | {"partnership_id": partnership_id, "min_answers": row.min_answers},
    )
    return row


def rounds_of(*, session: Session, partnership_id: int) -> list[EvaluationRound]:
    """A partnership's rounds, the newest first."""
    query = select(EvaluationRound).where(EvaluationRound.partnership_id == partnership_id)
    return list(
        session.exec(
            query.order_by(col(EvaluationRound.opens_date).desc(), col(EvaluationRound.id).desc())
        )
    )


def round_state(row: EvaluationRound, today: dt.date) -> str:
    """not_open, open or closed."""
    if row.status == "closed" or today > row.closes_date:
        return "closed"
    return "not_open" if today < row.opens_date else "open"


def closed_on(row: EvaluationRound) -> dt.date:
    """The day the round stopped taking answers (or will)."""
    return row.closed_date or row.closes_date


def close_round(*, session: Session, actor: str, row: EvaluationRound, today: dt.date) -> bool:
    """Stop a round taking answers, from today; tell whether it was still open."""
    if row.status == "closed":
        return False
    row.status = "closed"
    row.closed_date = min(today, row.closes_date)
    session.add(row)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="evaluation_round.closed",
        entity_type="evaluation_round",
        entity_id=row.id,
        after={"closed_date": row.closed_date},
    )
    return True


def _refuse_unless_open(row: EvaluationRound, today: dt.date) -> None:
    state = round_state(row, today)
    if state == "closed":
        when = uk_date(closed_on(row))
        raise LinkRefused("This survey has closed", f"This survey closed on {when}.", status=410)
    if state == "not_open":
        when = uk_date(row.opens_date)
        raise LinkRefused(
            "This survey is not open yet", f"This survey opens on {when}.", status=403
        )


# Invitations ----------------------------------------------------------------------------------


def parse_addresses(text: str) -> tuple[list[str], str | None]:
    """Email addresses, one a line or separated by commas; or the message for the first bad one."""
    found: list[str] = []
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        try:
            address = validate_email(part, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return (
                [],
                f"“{part[:60]}” is not an email address: enter addresses like name@example.org",
            )
        if address not in found:
            found.append(address)
    if not found:
        return [], "Enter at least one email address"
    if len(found) > MAX_INVITES:
        return [], f"Enter {MAX_INVITES} email addresses or fewer at a time"
    return found, None


def survey_url(*, settings: Settings, token: str) -> str:
    """The private address of one invitation to the partners' survey."""
    return f"{settings.base_url.rstrip('/')}/survey/{token}"


def public_url(*, settings: Settings, row: EvaluationRound) -> str:
    """The round's shared address for people who use services and carers."""
    return f"{settings.base_url.rstrip('/')}/have-your-say/{row.public_token}"


def invitation_email(
    *, partnership: Partnership, row: EvaluationRound, link: str, min_answers: int
) -> mailer.Email:
    """An invitation to answer the partners' survey, with its private link."""
    subject = f"How well do the partners work together? {partnership.name}"
    values = {
        "subject": subject,
        "partnership": partnership,
        "round": row,
        "link": link,
        "closes": uk_date(row.closes_date),
        "min_answers": min_answers,
    }
    text = templates.env.get_template("email/evaluation_invitation.txt").render(values)
    html = templates.env.get_template("email/evaluation_invitation.html").render(values)
    return mailer.Email(subject[:300], text, html)


def invite(
    *,
    session: Session,
    settings: Settings,
    actor: str,
    row: EvaluationRound,
    addresses: list[str],
    today: dt.date,
) -> tuple[int, int]:
    """Send each address not yet invited its own private link; tell how many new, how many not."""
    if round_state(row, today) == "closed":
        raise Refused(f"This round closed on {uk_date(closed_on(row))}", field="addresses")
    partnership = stored(session, Partnership, row.partnership_id)
    known = set(
        session.exec(
            select(EvaluationInvitation.email).where(EvaluationInvitation.round_id == row.id)
        )
    )
    new = [address for address in addresses if address not in known]
    for address in new:
        token = secrets.token_urlsafe(32)
        invitation = EvaluationInvitation(
            round_id=row_id(row), email=address, token_hash=_digest(token)
        )
        session.add(invitation)
        session.flush()
        link = survey_url(settings=settings, token=token)
        email = invitation_email(
            partnership=partnership, row=row, link=link, min_answers=row.min_answers
        )
        mailer.enqueue(
            session=session,
            settings=settings,
            key=f"evaluation-invitation:{invitation.id}",
            kind="evaluation_invitation",
            to_address=address,
            email=email,
        )
    if new:
        audit(
            session=session,
            actor=actor,
            action="evaluation_round.invited",
            entity_type="evaluation_round",
            entity_id=row.id,
            after={"invited": new},
        )
    return len(new), len(addresses) - len(new)


# Answers --------------------------------------------------------------------------------------


NOT_VALID = ("This link is not valid", "Check that you copied the whole link from the email.")


def open_invitation(
    *, session: Session, token: str, today: dt.date
) -> tuple[EvaluationInvitation, EvaluationRound]:
    """The invitation behind a private link, if it can still take its one answer."""
    invitation = None
    if len(token) <= TOKEN_LIMIT:
        query = select(EvaluationInvitation).where(
            EvaluationInvitation.token_hash == _digest(token)
        )
        invitation = session.exec(query).first()
    if invitation is None:
        raise LinkRefused(*NOT_VALID, status=404)
    if invitation.used:
        raise LinkRefused(
            "This link has already been used",
            "Each invitation takes one set of answers, and yours have been received. Thank you.",
            status=410,
        )
    row = stored(session, EvaluationRound, invitation.round_id)
    _refuse_unless_open(row, today)

    return invitation, row


def open_link(*, session: Session, token: str, today: dt.date) -> EvaluationRound:
    """The round behind its shared link, if it can take another answer."""
    row = None
    if len(token) <= TOKEN_LIMIT:
        query = select(EvaluationRound).where(EvaluationRound.public_token == token)
        row = session.exec(query).first()
    if row is None:
        raise LinkRefused(*NOT_VALID[:1], "Check that you have the whole link.", status=404)
    _refuse_unless_open(row, today)
    taken = session.exec(
        select(func.count())
        .select_from(EvaluationAnswer)
        .where(EvaluationAnswer.round_id == row.id, EvaluationAnswer.channel == "link")
    ).one()
    if taken >= row.max_link_answers:
        raise LinkRefused(
            "This survey has all the answers it can take",
            "This link has reached its limit of answers. Thank you for wanting to take part.",
            status=409,
        )
    return row


def _refuse_errors(answer: Answer) -> None:
    if answer.errors:
        field, message = next(iter(answer.errors.items()))
        raise Refused(message, field=field)


def _store(
    session: Session, row: EvaluationRound, stage: str, channel: str, answer: Answer
) -> None:
    _refuse_errors(answer)
    session.add(
        EvaluationAnswer(
            round_id=row_id(row),
            stage=stage,
            channel=channel,
            choices=answer.choices,
            outcome_ids=answer.outcome_ids,
            texts=answer.texts,
        )
    )
    session.flush()


def answer_invitation(*, session: Session, token: str, answer: Answer, today: dt.date) -> None:
    """Take a partner's answers through their private link, and use the link up."""
    invitation, row = open_invitation(session=session, token=token, today=today)
    _refuse_errors(answer)
    # Conditional, so that two answers sent at once through one link cannot both count.
    used = session.execute(
        update(EvaluationInvitation)
        .where(
            col(EvaluationInvitation.id) == invitation.id, col(EvaluationInvitation.used).is_(False)
        )
        .values(used=True)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        raise LinkRefused(
            "This link has already been used", "Your answers were received.", status=410
        )
    _store(session, row, PARTNERS, "invitation", answer)


def answer_link(*, session: Session, token: str, answer: Answer, today: dt.date) -> None:
    """Take the answers of someone who uses services, or a carer, through the shared link."""
    row = open_link(session=session, token=token, today=today)
    _store(session, row, PEOPLE, "link", answer)


def enter_session_answer(
    *, session: Session, actor: str, row: EvaluationRound, answer: Answer, today: dt.date
) -> None:
    """Record one person's answers, typed in by staff after a session with them."""
    if round_state(row, today) == "closed":
        raise Refused(f"This round closed on {uk_date(closed_on(row))}")
    _store(session, row, PEOPLE, "session", answer)
    # Who typed answers in, and how many, but never which answers: the audit names no answer.
    audit(
        session=session,
        actor=actor,
        action="evaluation_round.session_answer_entered",
        entity_type="evaluation_round",
        entity_id=row.id,
    )
