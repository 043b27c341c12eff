"""The FastAPI application."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, quote, urlencode

from anyio import to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compliance import __version__
from compliance.api import FieldError, document_problems, problem
from compliance.config import Settings, get_settings
from compliance.db import UNAVAILABLE, get_engine
from compliance.deps import InvalidToken, SignInRequired, public
from compliance.errors import Refused
from compliance.logs import RequestLog
from compliance.migrations import current_revision, head_revision
from compliance.web import STATIC_DIR, render

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_public = Depends(public)
OPENAPI_URL = "/openapi.json"
# Room for the form fields and multipart boundaries around the largest file allowed.
UPLOAD_OVERHEAD_BYTES = 1_000_000
# How far past the limit a page's form with an oversize file is read (see UploadLimit).
OVERSIZE_READ_FACTOR = 4
LOCATIONS = {"path", "query", "header", "cookie", "body"}


API_DESCRIPTION = """
Statutory partnership duties of UK public bodies: the registry of bodies and partnerships, their
obligations with process and outcome status, evidence, outcomes, indicators, measurements, risks,
findings, check runs, audit reports and bulk exports.

**Signing in.** Send a personal token as `Authorization: Bearer cpt_...`. Create one with
`compliance token create --email you@example.org` or on your account page (`/account`); it is
shown once, expires, and can be revoked. A signed-in browser may also read the API with its
session; to change anything that way it must echo its CSRF token in an `X-CSRF-Token` header.

**Permissions** are the pages' own: admins see and change everything; officers change records of
the bodies and partnerships in their scope; inspectors read their scope and review evidence.

**Errors** are problem documents (RFC 9457, `application/problem+json`) naming the offending
field in `field` and every bad field in `errors`. A refused request changes nothing. Request
bodies are strict: a field the schema does not name, or a value of the wrong type, is refused, and
so is a query parameter the operation does not take.

**Listings** that can be long are paginated by cursor: pass the `next_cursor` of one page as
`cursor` to get the next; `next_cursor` is null on the last page.
"""


def _openapi(app: FastAPI) -> dict:
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    app.openapi_schema = document_problems(schema)
    return app.openapi_schema


def _routers():
    # Imported here, not at the top: the page modules import compliance.web and the services,
    # and loading them only when an app is built keeps `import compliance.main` light for the CLI.
    from compliance.accounts import account_pages
    from compliance.accounts import api as accounts_api
    from compliance.accounts import pages as accounts_pages
    from compliance.admin import check_pages as admin_check_pages
    from compliance.admin import pages as admin_pages
    from compliance.bodies import admin_pages as bodies_admin_pages
    from compliance.bodies import api as bodies_api
    from compliance.bodies import pages as bodies_pages
    from compliance.calendar import pages as calendar_pages
    from compliance.catalogue import api as catalogue_api
    from compliance.catalogue import pages as catalogue_pages
    from compliance.checks import api as checks_api
    from compliance.checks import pages as checks_pages
    from compliance.evaluations import api as evaluations_api
    from compliance.evaluations import pages as evaluations_pages
    from compliance.evaluations import public_pages as evaluations_public_pages
    from compliance.evidence import api as evidence_api
    from compliance.evidence import pages as evidence_pages
    from compliance.exports import api as exports_api
    from compliance.obligations import api as obligations_api
    from compliance.obligations import list_pages as obligations_list_pages
    from compliance.obligations import pages as obligations_pages
    from compliance.outcomes import api as outcomes_api
    from compliance.outcomes import pages as outcomes_pages
    from compliance.partnerships import admin_pages as partnerships_admin_pages
    from compliance.partnerships import api as partnerships_api
    from compliance.partnerships import pages as partnerships_pages
    from compliance.partnerships import value_pages as partnerships_value_pages
    from compliance.reminders import api as reminders_api
    from compliance.reminders import pages as reminders_pages
    from compliance.reports import api as reports_api
    from compliance.reports import pages as reports_pages

    return [
        accounts_pages,
        account_pages,
        bodies_admin_pages,  # before bodies_pages: /bodies/new is not a code
        bodies_pages,
        catalogue_pages,
        obligations_list_pages,
        obligations_pages,
        evidence_pages,
        partnerships_admin_pages,  # before partnerships_pages: /partnerships/new is not a slug
        partnerships_value_pages,
        partnerships_pages,
        outcomes_pages,
        checks_pages,
        admin_pages,
        admin_check_pages,
        reminders_pages,
        calendar_pages,
        evaluations_pages,
        evaluations_public_pages,
        reports_pages,
        reports_api,
        bodies_api,
        reminders_api,
        catalogue_api,
        partnerships_api,
        obligations_api,
        evidence_api,
        outcomes_api,
        checks_api,
        accounts_api,
        exports_api,
        evaluations_api,
    ]


def _work_account_routers():
    # Sign-in with a work account, and the admin's list of links: there only when a provider
    # is configured, so that without one the application is as it was.
    from compliance.accounts import oidc_pages
    from compliance.admin import identity_pages

    return [oidc_pages, identity_pages]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for these settings (the environment's by default).

    The scheduled jobs never run inside it: `compliance serve` runs them beside it, once
    however many web processes it starts (compliance/server.py).
    """
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=_lifespan,
        title="Partnership duties tracker",
        version=__version__,
        description=API_DESCRIPTION,
        # FastAPI's own documentation pages load Swagger UI and ReDoc from a CDN and start them
        # with inline script; /docs is served below from this site's files instead, and ReDoc
        # not at all. Off in production unless COMPLIANCE_API_DOCS turns it on.
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL if settings.api_docs_on else None,
        # No max_body_size here: UploadLimit (below) bounds every body, and unlike FastAPI's
        # limit it lets a page's form with an oversize file come back to the person filling it.
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    for module in _routers():
        # The pages are HTML for people; only the JSON routes belong in the API's schema.
        app.include_router(module.router, include_in_schema=module.__name__.endswith(".api"))
    if settings.oidc_providers:
        for module in _work_account_routers():
            app.include_router(module.router, include_in_schema=False)
    app.openapi = lambda: app.openapi_schema or _openapi(app)  # type: ignore[method-assign]  # FastAPI's way to give the app its own schema
    if settings.api_docs_on:
        app.add_api_route(
            "/docs", api_docs, methods=["GET"], include_in_schema=False, dependencies=[_public]
        )
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"], dependencies=[_public])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["health"], dependencies=[_public])
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.add_exception_handler(Refused, refused)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.add_exception_handler(SignInRequired, sign_in_required)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.add_exception_handler(InvalidToken, invalid_token)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.add_exception_handler(IntegrityError, unique_conflict)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, database_unavailable)
    app.add_middleware(UploadLimit, settings=settings)
    app.middleware("http")(_security_headers(settings))
    app.add_middleware(BlankFiltersMeanAny)
    app.add_middleware(RequestLog)  # outermost: it times and logs whatever the others answer
    return app


def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI, from this site's own copy of swagger-ui-dist, under the strict CSP."""
    context = {"title": request.app.title, "openapi_url": OPENAPI_URL}
    return render(request, "api_docs.html", context)


class BlankFiltersMeanAny:
    """A page's filter form sends every field, a select left at "Any" as an empty value; for
    the pages an empty query parameter is left out, as if it had not been sent, so that every
    filter form works at its defaults. The JSON API is left as its callers send it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and not scope["path"].startswith("/api/"):
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            kept = [(key, value) for key, value in pairs if value != ""]
            if len(kept) != len(pairs):
                scope = dict(scope, query_string=urlencode(kept).encode("latin-1"))
        await self.app(scope, receive, send)


def _security_headers(settings: Settings):
    hsts = f"max-age={settings.hsts_seconds}" if settings.hsts_seconds else None

    async def middleware(request: Request, call_next) -> Response:
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        # Only over HTTPS (as the trusted proxy says, COMPLIANCE_FORWARDED_ALLOW_IPS): browsers
        # ignore it over HTTP, and a site still on HTTP must not promise otherwise.
        if hsts and request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = hsts
        return response

    return middleware


class UploadLimit:
    """Bounds every request body: the largest file allowed, and room for the form around it.

    The API, and any body but a page's multipart form, gets 413 before a byte is read when its
    Content-Length is over the limit, and once past the limit when it sends none (chunked).

    A page's multipart form is a person who picked too large a file: answering 413 would lose
    everything they typed. So its body is passed through python-multipart's streaming parser and
    handed on rewritten, each file cut to one byte past the file limit and the rest thrown away:
    the route sees a file over the limit and shows its form again saying so, with what was
    typed, and no more than the limit ever reaches memory or disk. Cutting the file, rather than
    dropping it, lets every upload page use the size check it already has. The body is still
    read to its end (a browser shows an answer only once it has sent its request), up to
    OVERSIZE_READ_FACTOR times the limit; past that it is cut off with 413 like any other.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.file_limit = settings.max_upload_bytes
        self.limit = settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES
        self.detail = f"The upload is larger than the {settings.max_upload_bytes / 1e6:g} MB limit"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length", "")
        declared = int(length) if length.isdigit() else None
        if declared is not None and declared <= self.limit:
            return await self.app(scope, receive, send)
        boundary = _page_form_boundary(scope)
        cap = self.limit * (OVERSIZE_READ_FACTOR if boundary else 1)
        if declared is not None and declared > cap:
            response = _problem(Request(scope), 413, self.detail)
            return await response(scope, receive, send)
        cut = _FileCutter(boundary, keep=self.file_limit + 1) if boundary else None
        if cut is not None:  # the body changes length as it is cut
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
            scope = dict(scope, headers=headers)
        total = 0

        async def bounded() -> Message:
            nonlocal total
            message = await receive()
            body = message.get("body", b"")
            total += len(body)
            if total > cap:
                # Raised inside the route's reading of its body, so answered by http_error.
                raise StarletteHTTPException(413, self.detail)
            if cut is not None and message["type"] == "http.request":
                message = dict(message, body=cut.feed(body))
            return message

        await self.app(scope, bounded, send)


def _page_form_boundary(scope: Scope) -> bytes | None:
    """The multipart boundary of a form posted to a page (not the API), or None."""
    if scope["path"].startswith("/api/"):
        return None
    media, options = parse_options_header(Headers(scope=scope).get("content-type", ""))
    return options.get(b"boundary") if media == b"multipart/form-data" else None


class _FileCutter:
    """A multipart body rewritten as it streams, keeping the first `keep` bytes of each file."""

    def __init__(self, boundary: bytes, *, keep: int) -> None:
        self.boundary, self.keep = boundary, keep
        self.out = bytearray()
        self.name, self.value = b"", b""
        self.is_file, self.kept = False, 0
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self.out.extend(b"\r\n"),
                "on_part_data": self._part_data,
                "on_part_end": lambda: self.out.extend(b"\r\n"),
                "on_end": lambda: self.out.extend(b"--" + self.boundary + b"--\r\n"),
            },
        )

    def feed(self, chunk: bytes) -> bytes:
        """The rewritten bytes for this chunk of the body; 400 if it is not multipart."""
        try:
            self.parser.write(chunk)
        except MultipartParseError as exc:
            raise StarletteHTTPException(400, "The form could not be read") from exc
        out, self.out = bytes(self.out), bytearray()
        return out

    def _part_begin(self) -> None:
        self.out.extend(b"--" + self.boundary + b"\r\n")
        self.is_file, self.kept = False, 0

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def _header_end(self) -> None:
        self.out.extend(self.name + b": " + self.value + b"\r\n")
        if self.name.lower() == b"content-disposition":
            self.is_file = b"filename" in parse_options_header(self.value)[1]
        self.name, self.value = b"", b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self.is_file:
            piece = piece[: max(0, self.keep - self.kept)]
            self.kept += len(piece)
        self.out.extend(piece)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Routes run in the default thread pool, this many at once; commits in a pool of their own
    # of the same size (deps.py).
    settings = app.state.settings
    to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    if settings.environment == "test":
        # The suite takes stranded report jobs up by calling resume_stale, on its own clock.
        yield
        return
    from compliance.reports.resume import resuming

    with resuming(engine=app.state.engine, settings=settings):
        yield


async def healthz() -> dict[str, str]:
    """Liveness: the process answers. It touches neither the database (see /readyz) nor the
    worker threads, so it answers even when every thread is busy."""
    return {"status": "ok"}


def readyz(request: Request) -> Response:
    """Readiness: the database answers and its schema is at this code's newest migration; 503
    with the reason otherwise, so that a load balancer sends no traffic here until it is."""
    head = head_revision()
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = current_revision(connection)
    except UNAVAILABLE as exc:
        log.warning("readiness: database unreachable: %s", exc)
        body = {"status": "unavailable", "database": "unreachable", "schema": "unknown"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
    if current != head:
        body = {"status": "unavailable", "database": "ok", "schema": f"at {current}, not {head}"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
    return JSONResponse({"status": "ok", "database": "ok", "schema": head})


def _is_api(request: Request) -> bool:
    """Whether a refusal is answered as problem JSON: under /api/, except to a browser that
    navigated there (a report or evidence download from a page), which is shown a page."""
    if not request.url.path.startswith("/api/"):
        return False
    return "text/html" not in request.headers.get("accept", "")


def _problem(
    request: Request,
    status: int,
    detail: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _is_api(request):
        return problem(request, status, detail, field=field, headers=headers)
    page = render(
        request, "error.html", {"status_code": status, "detail": detail}, status_code=status
    )
    page.headers.update(headers or {})
    return page


def _allowed(request: Request) -> str:
    """Every method the path takes. Starlette's own Allow names only the first route that
    matched the path, and GET and POST on one path are two routes."""
    methods = set()
    for route in request.app.router.routes:
        if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Problem documents under /api, a page elsewhere, keeping the error's headers."""
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request)
    return _problem(request, exc.status_code, str(exc.detail), headers=headers)


def _located(request: Request, field: str | None) -> str | None:
    """The API names a field with where it was sent (`query.as_at`); a service shared with the
    pages names it bare (`as_at`), so the API adds the place the request carried it."""
    if field is None or not _is_api(request) or field.partition(".")[0] in LOCATIONS:
        return field
    if field in request.path_params:
        return f"path.{field}"
    if field in request.query_params:
        return f"query.{field}"
    return f"body.{field}" if request.method in {"POST", "PUT", "PATCH"} else field


def _is_unique_violation(exc: IntegrityError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)  # PostgreSQL
    return code == "23505" or "UNIQUE constraint failed" in str(exc.orig)  # or SQLite


async def unique_conflict(request: Request, exc: IntegrityError) -> Response:
    """Two requests adding the same thing at the same moment: the second is told so (409) and
    changes nothing. Any other integrity error is a bug, and stays a 500."""
    if not _is_unique_violation(exc):
        raise exc
    log.warning("unique conflict on %s: %s", request.url.path, exc.orig)
    detail = "This conflicts with a change saved a moment ago; reload and try again"
    return _problem(request, 409, detail)


async def refused(request: Request, exc: Refused) -> Response:
    """A refused request: its reason, and nothing changed."""
    field = _located(request, exc.field)
    return _problem(request, exc.status, exc.message, field, headers=exc.headers)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database is busy (every connection taken, or SQLite's write lock held past the busy
    timeout) or cannot be reached: 503 with Retry-After, nothing changed, never a 500."""
    lock_timeout = getattr(getattr(exc, "orig", None), "sqlstate", None) == "55P03"  # PostgreSQL
    busy = isinstance(exc, PoolTimeout) or lock_timeout or "database is locked" in str(exc)
    log.warning("database %s on %s: %s", "busy" if busy else "unavailable", request.url.path, exc)
    if busy:
        detail = "The service is busy just now; nothing was changed. Try again in a few seconds"
    else:
        detail = "The service cannot reach its database; nothing was changed. Try again shortly"
    return _problem(request, 503, detail, headers={"Retry-After": "5" if busy else "30"})


async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
    """Pages send people to sign in and back; the API answers 401."""
    if _is_api(request):
        detail = "Send a bearer token (Authorization: Bearer ...) or sign in first"
        return problem(request, 401, detail, headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target)}", status_code=303)


async def invalid_token(request: Request, exc: InvalidToken) -> Response:
    """A bearer token that is unknown, expired or revoked: 401, saying so."""
    detail = "The API token is not valid: it is unknown, expired or revoked"
    challenge = 'Bearer error="invalid_token"'
    return problem(request, 401, detail, headers={"WWW-Authenticate": challenge})


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """A malformed request: say which field and why."""
    errors = [FieldError(field=_location(e["loc"]), message=e["msg"]) for e in exc.errors()] or [
        FieldError(field="request", message="invalid request")
    ]
    first = errors[0]
    if _is_api(request):
        detail = f"{first.field}: {first.message}"
        return problem(request, 422, detail, field=first.field, errors=errors)
    # Pages read their own forms and say what is wrong in words; what reaches here is an
    # address that was typed or edited by hand, so it is said as such, never in pydantic's words.
    where, _, field = first.field.partition(".")
    if where == "path":
        return _problem(request, 404, "Page not found: check the address")
    words = f"the value given for {field!r}" if field else "what was sent"
    return _problem(request, 422, f"This page could not use {words}: check the address", field)
