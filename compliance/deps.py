"""Dependencies shared by pages and API routes: the database session, the settings, and who is
signed in (with the CSRF check for forms)."""

import functools
import hmac
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy import Update
from sqlmodel import Session
from starlette.datastructures import FormData

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


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for one request, committed before the response is sent (so that a change the
    database refused is never answered as saved); a request that may write takes SQLite's write
    lock when its transaction begins, and waits for it, rather than failing halfway."""
    engine = request.app.state.engine
    bind = engine if request.method in SAFE_METHODS else writer(engine)
    # Objects keep what they loaded after the commit, so that an error page can still say who is
    # signed in; closing the session rolls back whatever was not committed.
    session = Session(bind, expire_on_commit=False)
    # The commit runs in threads of its own, not the routes' pool: when every route thread waits
    # for a lock (SQLite's writer, the audit chain's), the request holding it must still be able
    # to commit and let the others in, or the process would hang.
    limiter = _commit_limiter(request)
    try:
        yield session
        await to_thread.run_sync(save, session, limiter=limiter)
    finally:
        await to_thread.run_sync(session.close, limiter=limiter)


def _commit_limiter(request: Request) -> CapacityLimiter:
    state = request.app.state
    if getattr(state, "commit_limiter", None) is None:
        state.commit_limiter = CapacityLimiter(state.settings.worker_threads)
    return state.commit_limiter


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    return request.app.state.settings


# "function": the commit runs when the route returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def _commit_on_return(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain-function route given the request's session commits it before it returns, in the
    worker thread it ran in. A lock its writes took (SQLite's writer, the audit chain's) is then
    released before the response is built, which takes another thread: held across that hop,
    the lock would wait for a thread that the requests queued behind it hold."""
    if inspect.iscoroutinefunction(endpoint) or getattr(endpoint, "commits_on_return", False):
        return endpoint
    parameters = inspect.signature(endpoint).parameters
    names = [name for name, p in parameters.items() if p.annotation == SessionDep]
    if not names:
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        save(kwargs[names[0]])
        return result

    run.commits_on_return = True  # type: ignore[attr-defined]  # a marker on the wrapper, read by getattr
    return run


class CommittingRoute(APIRoute):
    """Every route of the application: see `_commit_on_return`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _commit_on_return(endpoint), **kwargs)


def page_router() -> APIRouter:
    """A router for one domain's HTML pages (left out of the API's schema)."""
    return APIRouter(include_in_schema=False, route_class=CommittingRoute)


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
        session=session,
        token=token,
        idle_minutes=settings.session_idle_minutes,
        max_hours=settings.session_max_hours,
    )
    if not loaded:
        return None
    user_session, user = loaded
    request.state.csrf_token = user_session.csrf_token
    request.state.session_id = user_session.id
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


async def posted_form(request: Request) -> FormData:
    """The form a page posted, files included, read before the route runs: page routes are plain
    functions, run in a worker thread, so that waiting for the database never stalls the
    server's event loop."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]


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
