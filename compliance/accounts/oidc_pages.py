"""Sign in with a work account at an OpenID provider: off to the provider, and back. Mounted
only when COMPLIANCE_OIDC_PROVIDERS names a provider."""

import time
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from compliance.accounts import oidc
from compliance.accounts.identities import NotLetIn, person_from, record_refusal
from compliance.accounts.identities import sign_in as identity_sign_in
from compliance.accounts.pages import address_of, safe_next, signed_in
from compliance.config import OidcProvider, Settings
from compliance.deps import SessionDep, SettingsDep, page_router, public
from compliance.errors import NotFound
from compliance.web import render

router = page_router()
ProviderName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


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
        url, pending = oidc.begin(provider, redirect_uri=callback, next_path=safe_next(next))
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


@router.get("/sign-in/oidc/{name}/callback", name="oidc_callback", dependencies=[Depends(public)])
def oidc_callback(
    name: ProviderName, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The provider's answer: checked, then the person matched to a user (or linked, or made)
    and signed in; otherwise a page saying why, in plain words, and an audit entry."""
    provider = _provider(settings, name)
    pending = oidc.unseal(
        request.cookies.get(oidc.PENDING_COOKIE), secret_key=settings.secret_key, now=time.time()
    )
    address = address_of(request)
    try:
        claims = oidc.finish(provider, query=dict(request.query_params), pending=pending)
        person = person_from(provider, claims)
        user = identity_sign_in(session=session, provider=provider, person=person, address=address)
    except oidc.SignInFailed as exc:
        record_refusal(
            session=session,
            provider=provider.name,
            reason=exc.reason,
            address=address,
            per_address=settings.sign_in_max_failures_per_address,
        )
        response = _problem(request, provider, exc.message, exc.status)
    except NotLetIn as exc:
        record_refusal(
            session=session,
            provider=provider.name,
            reason=exc.reason,
            address=address,
            per_address=settings.sign_in_max_failures_per_address,
            email=exc.person.email,
            subject=exc.person.subject,
            user_id=exc.user_id,
        )
        response = _problem(request, provider, exc.message, exc.status)
    else:
        assert pending is not None, "a sign-in that finished was pending"
        response = signed_in(request, session, user, pending.next, provider=provider.name)
    # An answer is used once: the flow's state goes whatever happened.
    response.delete_cookie(oidc.PENDING_COOKIE, path="/sign-in/oidc")
    return response
