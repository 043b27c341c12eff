"""Admin pages for work accounts: which users are linked to which OpenID provider, when each
last signed in that way, and unlinking."""

import functools
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compliance.accounts.identities import count_links, get_link, links, unlink
from compliance.accounts.service import get_user
from compliance.admin.pages import local_time
from compliance.api import MAX_ID
from compliance.deps import AdminUser, SessionDep, SettingsDep, check_form, page_router
from compliance.errors import NotFound
from compliance.paging import PAGE_SIZE, page_number, page_span
from compliance.web import render

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]
LinkId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/admin/work-accounts", response_class=HTMLResponse)
def work_accounts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    page: str = "",
    unlinked: str = "",
) -> HTMLResponse:
    """Every link between a user and a provider account, a page at a time."""
    total = count_links(session=session)
    number, pages = page_span(total, page_number(page))
    rows = links(session=session, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    labels = {p.name: p.label for p in settings.oidc_providers}
    context = {
        "rows": rows,
        "page": number,
        "pages": pages,
        "labels": labels,
        "when": functools.partial(local_time, zone=settings.timezone),
        "unlinked": unlinked[:200],
    }
    return render(request, "admin_work_accounts.html", context)


@router.get("/admin/work-accounts/{link_id}/unlink", response_class=HTMLResponse)
def confirm_unlink(
    link_id: LinkId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
) -> HTMLResponse:
    """Ask before a provider account stops signing in as its user."""
    link = get_link(session=session, link_id=link_id)
    user = get_user(session=session, user_id=link.user_id) if link else None
    if link is None or user is None:
        raise NotFound(f"There is no work account link {link_id}")
    label = next((p.label for p in settings.oidc_providers if p.name == link.provider), None)
    context = {
        "heading": f"Unlink {user.name}'s {label or link.provider} account?",
        "detail": f"The {label or link.provider} account {link.email or link.subject} will no "
        f"longer sign in as {user.name} ({user.email}). If the provider vouches for the same "
        "email address again, it is linked again at its next sign-in: deactivate the user to "
        "keep them out.",
        "action": f"/admin/work-accounts/{link.id}/unlink",
        "button": "Unlink the account",
        "back": "/admin/work-accounts",
    }
    return render(request, "admin_work_account_unlink.html", context)


@router.post("/admin/work-accounts/{link_id}/unlink")
def unlink_account(
    link_id: LinkId, session: SessionDep, principal: AdminUser, _form: FormCheck
) -> RedirectResponse:
    """Remove the link, on the audit trail."""
    link = get_link(session=session, link_id=link_id)
    if link is None:
        raise NotFound(f"There is no work account link {link_id}")
    user = get_user(session=session, user_id=link.user_id)
    unlink(session=session, link=link, actor=principal.user.email)
    done = urlencode({"unlinked": user.name if user else ""})
    return RedirectResponse(f"/admin/work-accounts?{done}", status_code=303)
