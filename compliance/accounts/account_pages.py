"""The account page: who you are, and your personal API tokens (create, revoke)."""

from typing import Annotated

from fastapi import Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from compliance.access import Principal
from compliance.accounts.service import scopes_of
from compliance.accounts.tokens import (
    DEFAULT_EXPIRES_DAYS,
    MAX_EXPIRES_DAYS,
    create_token,
    is_live,
    revoke_token,
    tokens_of,
)
from compliance.api import MAX_ID
from compliance.deps import CurrentUser, FormUser, SessionDep, page_router
from compliance.errors import Refused
from compliance.web import render

router = page_router()
DAYS_ERROR = f"Enter a whole number of days from 1 to {MAX_EXPIRES_DAYS}"


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    user = principal.user
    codes, slugs = scopes_of(session=session, user_ids=[user.id])[user.id]
    tokens = tokens_of(session=session, user_id=user.id)
    values = {
        "bodies": codes,
        "partnerships": slugs,
        "tokens": [(t, is_live(t)) for t in tokens],
        "errors": {},
        "values": {"name": "", "expires_days": str(DEFAULT_EXPIRES_DAYS)},
        "created": None,
        "revoked": None,
        "max_days": MAX_EXPIRES_DAYS,
    }
    response = render(request, "account.html", values | context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    revoked: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """Who you are, your API tokens, and the form to create one."""
    mine = {t.id: t for t in tokens_of(session=session, user_id=principal.user.id)}
    done = mine.get(revoked) if revoked else None
    return _page(request, session, principal, revoked=done if done and done.revoked_at else None)


@router.post("/account/tokens", response_class=HTMLResponse)
def add_token(
    request: Request,
    session: SessionDep,
    principal: FormUser,
    name: Annotated[str, Form(max_length=1000)] = "",
    expires_days: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Create a token and show it this once; bad input is shown again with what to fix."""
    values = {"name": name, "expires_days": expires_days}
    days = int(expires_days) if expires_days.strip().isdecimal() else 0
    errors = {} if 1 <= days <= MAX_EXPIRES_DAYS else {"expires_days": DAYS_ERROR}
    if not name.strip() or len(name.strip()) > 100:
        errors = {"name": "Enter a name for the token, up to 100 characters"} | errors
    if errors:
        return _page(request, session, principal, status_code=422, errors=errors, values=values)
    try:
        # In a savepoint: a refusal at the database (a NUL in the name) undoes only this.
        with session.begin_nested():
            secret, token = create_token(
                session=session,
                user=principal.user,
                name=name,
                expires_days=days,
                actor=principal.user.email,
            )
    except Refused as exc:
        errors = {exc.field or "name": exc.message}
        return _page(request, session, principal, status_code=422, errors=errors, values=values)
    return _page(request, session, principal, created=(secret, token))


@router.post("/account/tokens/{token_id}/revoke")
def revoke(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, principal: FormUser
) -> RedirectResponse:
    """Stop one of your tokens working, at once."""
    revoke_token(
        session=session, user_id=principal.user.id, token_id=token_id, actor=principal.user.email
    )
    return RedirectResponse(f"/account?revoked={token_id}", status_code=303)
