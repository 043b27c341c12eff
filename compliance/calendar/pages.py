"""The calendar feed at its secret address, where the token in the path is the only credential;
and the account page where a user creates and revokes the addresses of their own feed."""

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from compliance.access import Principal
from compliance.api import MAX_ID
from compliance.calendar.service import (
    calendar_of,
    calendar_url,
    calendars_of,
    feed,
    issue_token,
    revoke_token,
)
from compliance.db import row_id
from compliance.deps import CurrentUser, FormUser, SessionDep, SettingsDep, page_router, public
from compliance.errors import NotFound
from compliance.reminders.models import CalendarToken
from compliance.web import render, uk_date

router = page_router()
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/calendar/{token}.ics", dependencies=[Depends(public)])
def calendar_feed(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """Every deadline in a user's scope or of a body, as iCalendar; 404 once revoked."""
    content = feed(session=session, settings=settings, token=token)
    if content is None:
        raise NotFound("No calendar at this address: it may have been revoked")
    return Response(
        content,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="deadlines.ics"',
            "Cache-Control": "private, max-age=900",
        },
    )


def _page(request: Request, session: SessionDep, principal: Principal, **context: object):
    values = {
        "calendars": calendars_of(session=session, user_id=row_id(principal.user)),
        "empty_scope": not (principal.body_ids or principal.readable_partnership_ids),
        "address": None,
        "revoked": None,
    }
    response = render(request, "account_calendar.html", values | context)
    # The page may show a feed's secret address: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    revoked: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """What the calendar feed holds, your live addresses, and the button to create one."""
    done = session.get(CalendarToken, revoked) if revoked else None
    mine = done is not None and done.user_id == principal.user.id and done.revoked_at is not None
    return _page(request, session, principal, revoked=done if mine else None)


@router.post("/account/calendar", response_class=HTMLResponse)
def create_calendar(
    request: Request, session: SessionDep, settings: SettingsDep, principal: FormUser
) -> HTMLResponse:
    """Create a calendar address for your scope and show it this once."""
    token, row = issue_token(session=session, actor=principal.user.email, user_id=principal.user.id)
    address = calendar_url(settings=settings, token=token)
    return _page(request, session, principal, address=address, created=row)


@router.get("/account/calendar/{token_id}/revoke", response_class=HTMLResponse)
def confirm_revoke(
    request: Request, token_id: TokenId, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """Ask before a calendar address stops working."""
    row = calendar_of(session=session, user_id=row_id(principal.user), token_id=token_id)
    if row is None:
        raise NotFound(f"You have no live calendar address {token_id}")
    context = {
        "heading": f"Revoke calendar address {row.id}?",
        "detail": f"Created {uk_date(row.created_at)}. Calendars subscribed to it will stop "
        "getting your deadlines. You cannot undo this: create a new address instead.",
        "action": f"/account/calendar/{row.id}/revoke",
        "button": "Revoke the calendar address",
        "back": "/account/calendar",
    }
    return render(request, "account_revoke.html", context)


@router.post("/account/calendar/{token_id}/revoke")
def revoke_calendar(
    token_id: TokenId, session: SessionDep, principal: FormUser
) -> RedirectResponse:
    """Stop one of your calendar addresses working, at once."""
    row = calendar_of(session=session, user_id=row_id(principal.user), token_id=token_id)
    if row is None:
        raise NotFound(f"You have no live calendar address {token_id}")
    revoke_token(session=session, actor=principal.user.email, token_id=row_id(row))
    return RedirectResponse(f"/account/calendar?revoked={row.id}", status_code=303)
