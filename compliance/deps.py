"""Dependencies shared by pages and API routes: the database session, the settings, and who is
signed in (with the CSRF check for forms)."""

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Update
from sqlmodel import Session

from compliance.access import Forbidden, Principal, principal_for, require
from compliance.accounts.service import load_session, session_touch
from compliance.accounts.tokens import live_token, token_touch
from compliance.config import Settings
from compliance.db import save, writer

SESSION_COOKIE = "compliance_session"


class SignInRequired(Exception):
    """Nobody is signed in (or the session has ended)."""


class InvalidToken(Exception):
    """An API request carried an Authorization header that is not a live token."""


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request, committed before the response is sent (so that a change the
    database refused is never answered as saved); a request that may write takes SQLite's write
    lock when its transaction begins, and waits for it, rather than failing halfway."""
    engine = request.app.state.engine
    bind = engine if request.method in SAFE_METHODS else writer(engine)
    # Closing the session rolls back whatever was not committed. Objects keep what they loaded
    # after the commit, so that an error page can still say who is signed in.
    with Session(bind, expire_on_commit=False) as session:
        yield session
        save(session)


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    return request.app.state.settings


# "function": the commit runs when the route returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
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
    request.state.csrf_token = user_session.csrf_token
    request.state.principal = principal_for(session=session, user=user)
    _touch_after_reading(session, session_touch(user_session))
    return request.state.principal


def _touch_after_reading(session: Session, touch: Update | None) -> None:
    # "Last used" is written in a short transaction of its own, after the reading one has ended:
    # on SQLite a transaction that has read cannot take the write lock once another writer has
    # committed, so the touch must be the first statement of its transaction, where it waits.
    # Ending the read also means the route's own transaction begins afresh (IMMEDIATE for a
    # write) rather than holding a lock while a form is still arriving. A refused request has
    # still been recorded as a use, and a streaming download holds no lock.
    session.commit()
    if touch is not None:
        session.execute(touch)
        session.commit()


def _token_principal(request: Request, session: Session) -> Principal:
    scheme, _, token = request.headers["authorization"].partition(" ")
    found = live_token(session=session, token=token.strip())
    if scheme.lower() != "bearer" or found is None:
        raise InvalidToken
    row, user = found
    request.state.via_token = True
    request.state.principal = principal_for(session=session, user=user)
    _touch_after_reading(session, token_touch(row))
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
    expected = request.state.csrf_token
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
    expected = request.state.csrf_token
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("Send a bearer token, or from a signed-in browser the X-CSRF-Token header")
    if not same_origin(request, settings):
        raise Forbidden("This request was sent from another site")
    return principal


ApiWriter = Annotated[Principal, Depends(check_api_write)]
