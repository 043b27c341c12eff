"""Sign in (with a password, or with a work account at an OpenID provider) and sign out."""

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compliance.accounts import oidc
from compliance.accounts.service import PASSWORDS_OFF, authenticate, end_session, start_session
from compliance.config import Settings
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
from compliance.models import User
from compliance.web import render

router = page_router()


def safe_next(target: str) -> str:
    """A path on this site to go on to after signing in, else the dashboard."""
    # Only a path on this site: never an address elsewhere (no open redirect).
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _sign_in_context(
    settings: Settings, next: str, email: str = "", errors: dict | None = None
) -> dict:
    return {
        "next": safe_next(next),
        "email": email,
        "errors": errors or {},
        "providers": settings.oidc_providers,
        "passwords_on": settings.local_passwords,
    }


@router.get("/sign-in", response_class=HTMLResponse, dependencies=[Depends(public)])
def sign_in_page(
    request: Request, settings: SettingsDep, next: str = "/", signed_out: str = ""
) -> HTMLResponse:
    """The sign-in form, with a button for each OpenID provider; after signing out of a session
    begun at a provider, a link to sign out there too."""
    context = _sign_in_context(settings, next)
    provider = settings.oidc_provider(signed_out) if signed_out else None
    if provider is not None:
        context["signed_out"] = provider
        context["provider_sign_out"] = oidc.sign_out_url(provider)
    return render(request, "sign_in.html", context)


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
    address = address_of(request)
    if not same_origin(request, settings):
        raise Refused("This form was sent from another site", status=403)
    if not settings.password_allowed(email):
        context = _sign_in_context(settings, next, email, {"email": PASSWORDS_OFF})
        return render(request, "sign_in.html", context, status_code=403)
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
        context = _sign_in_context(settings, next, email, {"email": exc.message})
        return render(request, "sign_in.html", context, status_code=exc.status)
    return signed_in(request, session, user, safe_next(next))


def address_of(request: Request) -> str:
    """The client's address, as the trusted proxy gives it."""
    return request.client.host if request.client else "unknown"


def signed_in(
    request: Request, session: SessionDep, user: User, target: str, provider: str | None = None
) -> RedirectResponse:
    """A new session, whichever way the person signed in, and on to where they were going."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(session=session, token=old)
    token, _ = start_session(
        session=session,
        user=user,
        address=address_of(request),
        user_agent=request.headers.get("user-agent"),
        provider=provider,
    )
    response = RedirectResponse(target, status_code=303)
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
def sign_out(
    request: Request, session: SessionDep, settings: SettingsDep, principal: FormUser
) -> RedirectResponse:
    """End the session for good; after a session begun at a provider that offers it, the
    sign-in page offers to sign out there too."""
    provider = end_session(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    target = "/sign-in"
    if provider and settings.oidc_provider(provider):
        target = f"/sign-in?signed_out={provider}"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
