"""The outbox for administrators: how much is waiting, every email given up on, and the bodies
whose reminders have nobody to go to."""

import functools
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from compliance.admin.pages import local_time
from compliance.api import MAX_ID
from compliance.checks.findings import by_holder_name, select_findings
from compliance.checks.rules import no_reminder_contact
from compliance.db import row_id
from compliance.deps import AdminUser, SessionDep, SettingsDep, check_form, page_router
from compliance.models import Finding
from compliance.obligations.list_pages import holder_links
from compliance.outbox import dead_messages, requeue, status_counts
from compliance.reminders.models import OutboxMessage
from compliance.reminders.service import addressees_and_holders
from compliance.web import render

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
# The mail page lists this many bodies whose reminders have nobody to go to; the findings page
# lists them all.
UNREACHED_ROWS = 50
NOT_DEAD = (
    "That email is no longer waiting to be tried again: it has been sent, or is already "
    "being tried again"
)


def plain_reason(error: str | None) -> str:
    """Why an email could not be sent, in words for someone who does not read SMTP replies."""
    error = error or ""
    if "credentials" in error:
        return "The mail relay refused this service's sign-in details: check the SMTP settings"
    if error.startswith("temporary failure"):
        return "The mail relay could not be reached"
    if error.startswith("552") or "5.2.2" in error:
        return "The recipient's mailbox is full"
    if error.startswith(("recipient refused", "550", "551", "553")):
        return "The receiving mail server refused the address: check it is right"
    if error[:1] == "4":
        return "The receiving mail server asked for the email to be sent later, every time"
    if error[:1] == "5":
        return "The receiving mail server refused the email"
    return "The email could not be sent"


def _about(session: Session, messages: list[OutboxMessage]) -> dict[int, dict[str, str]]:
    """For each message, the name of the person it was to and the body or partnership of the
    obligation it was about, where it has them."""
    names, holders = addressees_and_holders(session=session, messages=messages)
    return {
        row_id(m): {
            "name": names.get(m.to_user_id, ""),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
            "holder": holders.get(m.obligation_id, ""),  # type: ignore[arg-type]  # get(None) finds nothing, as meant
            "reason": plain_reason(m.last_error),
        }
        for m in messages
    }


def unreached(*, session: Session, limit: int = UNREACHED_ROWS) -> tuple[list[Finding], int]:
    """The open findings that a body's reminders have nobody to go to, the first `limit` of
    them by holder name, and how many there are."""
    found = select_findings(within=None, rule=no_reminder_contact.__name__)
    return by_holder_name(session=session, query=found, limit=limit)


def _mail_page(request: Request, session: Session, settings, error: str = "", status=200):
    dead = dead_messages(session=session)
    nobody, nobody_total = unreached(session=session, limit=UNREACHED_ROWS)
    context = {
        "counts": status_counts(session=session),
        "dead": dead,
        "about": _about(session, dead),
        "findings": nobody,
        "findings_total": nobody_total,
        "finding_holders": holder_links(session, nobody),
        "findings_caption": "Bodies whose reminders have nobody to go to",
        "findings_link": f"/findings?rule={no_reminder_contact.__name__}",
        "when": functools.partial(local_time, zone=settings.timezone),
        "errors": {"dead-mail": error} if error else {},
    }
    return render(request, "admin_mail.html", context, status_code=status)


@router.get("/admin/mail", response_class=HTMLResponse)
def mail_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: AdminUser
) -> HTMLResponse:
    """Counts of the outbox by status, the emails that could not be sent, and the bodies whose
    reminders have nobody to go to."""
    return _mail_page(request, session, settings)


@router.post("/admin/mail/{message_id}/retry")
def retry(
    message_id: MessageId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
):
    """Try a dead email again, with a fresh set of attempts; one no longer dead is said so on
    the same page."""
    if not requeue(session=session, actor=principal.user.email, message_id=message_id):
        return _mail_page(request, session, settings, NOT_DEAD, status=404)
    return RedirectResponse("/admin/mail", status_code=303)
