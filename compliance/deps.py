"""Dependencies shared by pages and API routes: the database session, the settings, and who is
signed in (with the CSRF check for forms)."""

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from compliance.access import Forbidden, Principal, principal_for, require
from compliance.accounts.service import load_session
from compliance.accounts.tokens import user_for_token
from compliance.config import Settings

SESSION_COOKIE = "compliance_session"


class SignInRequired(Exception):
    """Nobody is signed in (or the session has ended)."""


class InvalidToken(Exception):
    """An API request carried an Authorization header that is not a live token."""


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request, committed when the route returns without error."""
    with Session(request.app.state.engine) as session:
        yield session
        session.commit()


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def public() -> None:
    """Marks a route as open to everyone (sign-in, health); every other route needs a user."""


def optional_principal(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Principal | None:
    """The signed-in user, or None: by bearer token on the API, else by the session cookie."""
    if request.url.path.startswith("/api/") and "authorization" in request.headers:
        return _token_principal(request, session)
    token = request.cookies.get(SESSION_COOKIE)
    loaded = token and load_session(
        session=session, token=token, idle_minutes=settings.session_idle_minutes
    )
    if not loaded:
        return None
    user_session, user = loaded
    _commit_touch(session)
    request.state.user_session = user_session
    request.state.principal = principal_for(session=session, user=user)
    return request.state.principal


def _commit_touch(session: Session) -> None:
    # "Last used" is committed at once, in its own short transaction: a refused request must
    # still record the use, and a download that streams for minutes must not hold SQLite's
    # write lock (or a PostgreSQL row lock) the whole time.
    if session.dirty:
        session.commit()


def _token_principal(request: Request, session: Session) -> Principal:
    scheme, _, token = request.headers["authorization"].partition(" ")
    user = user_for_token(session=session, token=token.strip())
    if scheme.lower() != "bearer" or user is None:
        raise InvalidToken
    _commit_touch(session)
    request.state.via_token = True
    request.state.principal = principal_for(session=session, user=user)
    return request.state.principal


def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The signed-in user; anyone else is sent to sign in."""
    if principal is None:
        raise SignInRequired
    return principal


CurrentUser = Annotated[Principal, Depends(require_principal)]


def require_admin(principal: CurrentUser) -> Principal:
    """The signed-in user, who must be an admin."""
    require(principal.is_admin, "Only administrators can do this")
    return principal


AdminUser = Annotated[Principal, Depends(require_admin)]


def same_origin(request: Request, settings: Settings) -> bool:
    """A browser's Origin header, when sent, must be this site's."""
    origin = request.headers.get("origin")
    own = {f"{request.url.scheme}://{request.url.netloc}", settings.base_url.rstrip("/")}
    return origin is None or origin in own


async def check_form(request: Request, principal: CurrentUser, settings: SettingsDep) -> Principal:
    """A state-changing form from this site: its CSRF token matches the session's."""
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.state.user_session.csrf_token
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("This form has expired. Go back, reload the page and try again")
    if not same_origin(request, settings):
        raise Forbidden("This form was sent from another site")
    return principal


FormUser = Annotated[Principal, Depends(check_form)]


def check_api_write(request: Request, principal: CurrentUser, settings: SettingsDep) -> Principal:
    """A change through the API: by bearer token, which a browser never sends by itself, or by
    a signed-in browser that echoes its session's CSRF token in the X-CSRF-Token header."""
    if getattr(request.state, "via_token", False):
        return principal
    sent = request.headers.get("x-csrf-token", "")
    expected = request.state.user_session.csrf_token
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("Send a bearer token, or from a signed-in browser the X-CSRF-Token header")
    if not same_origin(request, settings):
        raise Forbidden("This request was sent from another site")
    return principal


ApiWriter = Annotated[Principal, Depends(check_api_write)]
