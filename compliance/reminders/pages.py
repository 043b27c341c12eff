"""The outbox for administrators: how much is waiting, and every email given up on."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compliance.deps import AdminUser, SessionDep, check_form, page_router
from compliance.errors import NotFound
from compliance.outbox import dead_messages, requeue, status_counts
from compliance.web import render

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]


@router.get("/admin/mail", response_class=HTMLResponse)
def mail_page(request: Request, session: SessionDep, principal: AdminUser) -> HTMLResponse:
    """Counts of the outbox by status, and the emails that could not be sent."""
    context = {"counts": status_counts(session=session), "dead": dead_messages(session=session)}
    return render(request, "admin_mail.html", context)


@router.post("/admin/mail/{message_id}/retry")
def retry(
    message_id: int, session: SessionDep, principal: AdminUser, _form: FormCheck
) -> RedirectResponse:
    """Try a dead email again, with a fresh set of attempts."""
    if not requeue(session=session, actor=principal.user.email, message_id=message_id):
        raise NotFound(f"No undelivered email with id {message_id}")
    return RedirectResponse("/admin/mail", status_code=303)
