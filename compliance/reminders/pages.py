"""The outbox for administrators: how much is waiting, every email given up on, and the bodies
whose reminders have nobody to go to. And a body's own reminder days and senior responsible
officer, which its officers and the administrators set."""

import functools
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.accounts.service import normalise_email
from compliance.admin.pages import local_time
from compliance.api import MAX_ID
from compliance.bodies.pages import body_or_404
from compliance.checks.findings import by_holder_name, select_findings
from compliance.checks.rules import no_reminder_contact
from compliance.config import Settings
from compliance.db import row_id
from compliance.deps import (
    AdminUser,
    CurrentUser,
    FormUser,
    PostedForm,
    SessionDep,
    SettingsDep,
    check_form,
    page_router,
)
from compliance.errors import Refused
from compliance.models import Body, Finding
from compliance.obligations.list_pages import holder_links
from compliance.outbox import dead_messages, requeue, status_counts
from compliance.reminders.models import OutboxMessage
from compliance.reminders.preferences import body_reminders_of, parse_days, set_body_reminders
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


# A body's own reminders: the form's fields, the longest each may be (the columns'), and what
# each says when it is wrong.
REMINDER_FIELDS = {"reminder_days": 100, "sro_name": 200, "sro_email": 254}
DAYS_WRONG = (
    "Enter reminder days as whole numbers of days from 0 to 366, each once, separated by "
    "commas, such as 30,7,1"
)


def _writable_body(session: Session, principal: Principal, code: str) -> Body:
    """The body a reminders page is about, which this user must be allowed to change."""
    body = body_or_404(session, code)
    require(principal.writes_body(body.id), "You cannot change this body's reminders")
    return body


def _reminders_page(
    request: Request,
    settings: Settings,
    body: Body,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    context = {
        "body": body,
        "values": values,
        "errors": errors or {},
        "saved": saved,
        "default_days": ", ".join(str(d) for d in parse_days(settings.reminder_days)),
    }
    return render(request, "body_reminders.html", context, status_code=422 if errors else 200)


def _read_reminders(posted: PostedForm) -> tuple[dict[str, str], dict[str, str]]:
    """The form's values as typed (without surrounding spaces) and a message for each field
    that is wrong (a file sent in a field's place among them)."""
    sent = {field: posted.get(field) or "" for field in REMINDER_FIELDS}
    values = {
        field: value.strip() if isinstance(value, str) else "" for field, value in sent.items()
    }
    errors = {
        field: "Type this in; a file cannot go here"
        for field, value in sent.items()
        if not isinstance(value, str)
    }
    days = values["reminder_days"].replace(" ", "")
    if days and len(parse_days(days)) != len(days.split(",")):
        errors["reminder_days"] = DAYS_WRONG
    if values["sro_name"] and not values["sro_email"]:
        errors["sro_email"] = (
            "Enter the senior responsible officer's email address, or leave their name empty"
        )
    elif values["sro_email"]:
        try:
            values["sro_email"] = normalise_email(values["sro_email"])
        except Refused:
            errors["sro_email"] = (
                "Enter an email address in the correct format, like name@example.org"
            )
    for field, longest in REMINDER_FIELDS.items():
        if len(values[field]) > longest and field not in errors:
            errors[field] = f"Enter {longest} characters or fewer"
    if "reminder_days" not in errors:
        values["reminder_days"] = days  # kept as the reminders read it, without spaces
    return values, errors


@router.get("/bodies/{code}/reminders", response_class=HTMLResponse)
def body_reminders(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    saved: str = "",
) -> HTMLResponse:
    """A body's own reminder days and its senior responsible officer, to change."""
    body = _writable_body(session, principal, code)
    own = body_reminders_of(session=session, body_id=row_id(body))
    values = {
        "reminder_days": (own and own.reminder_days) or "",
        "sro_name": (own and own.sro_name) or "",
        "sro_email": (own and own.sro_email) or "",
    }
    return _reminders_page(request, settings, body, values, saved=saved == "true")


@router.post("/bodies/{code}/reminders", response_class=HTMLResponse)
def save_body_reminders(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
) -> Response:
    """Save a body's reminder days and senior responsible officer; anything wrong comes back
    with what was typed, and nothing is saved."""
    body = _writable_body(session, principal, code)
    values, errors = _read_reminders(posted)
    if errors:
        return _reminders_page(request, settings, body, values, errors)
    set_body_reminders(
        session=session,
        actor=principal.user.email,
        body_id=row_id(body),
        reminder_days=values["reminder_days"] or None,
        sro_name=values["sro_name"] or None,
        sro_email=values["sro_email"] or None,
    )
    return RedirectResponse(f"/bodies/{body.code}/reminders?saved=true", status_code=303)
