"""Sign in (with a password, or with a work account at an OpenID provider) and sign out."""

import time
from typing import Annotated

from fastapi import Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from compliance.accounts import oidc
from compliance.accounts.identities import NotLetIn, person_from, record_refusal
from compliance.accounts.identities import sign_in as identity_sign_in
from compliance.accounts.service import authenticate, end_session, start_session
from compliance.config import OidcProvider, Settings
from compliance.deps import (
    SESSION_COOKIE,
    FormUser,
    SessionDep,
    SettingsDep,
    page_router,
    public,
    same_origin,
)
from compliance.errors import NotFound, Refused
from compliance.models import User
from compliance.web import render

router = page_router()
ProviderName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
PASSWORDS_OFF = "Passwords are turned off here: sign in with your work account"
CALLBACK_PATH = "/sign-in/oidc/{name}/callback"


def _safe_next(target: str) -> str:
    # Only a path on this site: never an address elsewhere (no open redirect).
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _sign_in_context(
    settings: Settings, next: str, email: str = "", errors: dict | None = None
) -> dict:
    return {
        "next": _safe_next(next),
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
    address = _address(request)
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
    return _signed_in(request, session, user, _safe_next(next))


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(
    request: Request, session: SessionDep, user: User, target: str, provider: str | None = None
) -> RedirectResponse:
    """A new session, whichever way the person signed in, and on to where they were going."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(session=session, token=old)
    token, _ = start_session(
        session=session,
        user=user,
        address=_address(request),
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


def _provider(settings: Settings, name: str) -> OidcProvider:
    provider = settings.oidc_provider(name)
    if provider is None:
        raise NotFound("There is no such way to sign in: go back to the sign-in page")
    return provider


def _problem(request: Request, provider: OidcProvider, message: str, status: int) -> Response:
    context = {"provider": provider, "detail": message}
    return render(request, "sign_in_problem.html", context, status_code=status)


@router.get("/sign-in/oidc/{name}", dependencies=[Depends(public)])
def oidc_begin(
    name: ProviderName, request: Request, settings: SettingsDep, next: str = "/"
) -> Response:
    """Send the person to their provider to sign in, keeping the flow's state, nonce and PKCE
    verifier in a short-lived signed cookie until they come back."""
    provider = _provider(settings, name)
    callback = str(request.url_for("oidc_callback", name=provider.name))
    try:
        url, pending = oidc.begin(provider, redirect_uri=callback, next_path=_safe_next(next))
    except oidc.SignInFailed as exc:
        return _problem(request, provider, exc.message, exc.status)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc.PENDING_COOKIE,
        oidc.seal(pending, secret_key=settings.secret_key),
        max_age=oidc.PENDING_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/sign-in/oidc",
    )
    return response


@router.get(CALLBACK_PATH, name="oidc_callback", dependencies=[Depends(public)])
def oidc_callback(
    name: ProviderName, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The provider's answer: checked, then the person matched to a user (or linked, or made)
    and signed in; otherwise a page saying why, in plain words, and an audit entry."""
    provider = _provider(settings, name)
    pending = oidc.unseal(
        request.cookies.get(oidc.PENDING_COOKIE), secret_key=settings.secret_key, now=time.time()
    )
    address = _address(request)
    try:
        claims = oidc.finish(provider, query=dict(request.query_params), pending=pending)
        person = person_from(provider, claims)
        user = identity_sign_in(session=session, provider=provider, person=person, address=address)
    except oidc.SignInFailed as exc:
        record_refusal(session=session, provider=provider.name, reason=exc.reason, address=address)
        response = _problem(request, provider, exc.message, exc.status)
    except NotLetIn as exc:
        response = _problem(request, provider, exc.message, exc.status)
    else:
        assert pending is not None, "a sign-in that finished was pending"
        response = _signed_in(request, session, user, pending.next, provider=provider.name)
    # An answer is used once: the flow's state goes whatever happened.
    response.delete_cookie(oidc.PENDING_COOKIE, path="/sign-in/oidc")
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
