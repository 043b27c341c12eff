"""Sign in and sign out."""

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compliance.accounts.service import authenticate, end_session, start_session
from compliance.deps import (
    SESSION_COOKIE,
    FormUser,
    SessionDep,
    SettingsDep,
    page_router,
    public,
    same_origin,
)
from compliance.errors import Refused
from compliance.web import render

router = page_router()


def _safe_next(target: str) -> str:
    # Only a path on this site: never an address elsewhere (no open redirect).
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/sign-in", response_class=HTMLResponse, dependencies=[Depends(public)])
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return render(request, "sign_in.html", {"next": _safe_next(next), "email": "", "errors": {}})


@router.post("/sign-in", dependencies=[Depends(public)])
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
):
    """Check the credentials; on success start a new session (a new id every time)."""
    address = request.client.host if request.client else "unknown"
    if not same_origin(request, settings):
        raise Refused("This form was sent from another site", status=403)
    try:
        user = authenticate(
            session=session,
            email=email,
            password=password,
            address=address,
            max_failures=settings.sign_in_max_failures,
            max_failures_per_address=settings.sign_in_max_failures_per_address,
        )
    except Refused as exc:
        context = {"next": _safe_next(next), "email": email, "errors": {"email": exc.message}}
        return render(request, "sign_in.html", context, status_code=exc.status)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(session=session, token=old)
    token, _ = start_session(
        session=session, user=user, address=address, user_agent=request.headers.get("user-agent")
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, principal: FormUser) -> RedirectResponse:
    """End the session for good."""
    end_session(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
