"""Log lines for every process (web, scheduler, command line), configured in one place: a JSON
object a line in production, text elsewhere. The web writes one line per request and the
scheduler one per job it runs, each carrying the request id (or run id) that the other lines of
the same request or run carry too."""

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from sqlalchemy import inspect
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compliance.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy or client sends is kept when it looks like one (nginx's $request_id, a UUID):
# anything else could forge or break log lines, and is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Paths whose last part is a secret (the address is the credential): never written to a log.
SECRET_PATHS = (
    re.compile(r"^(/calendar/)[^/]+(\.ics)$"),
    re.compile(r"^(/survey/)(?!answered$)[^/]+()$"),
    re.compile(r"^(/have-your-say/)[^/]+()$"),
)
HEALTH_PATHS = {"/healthz", "/readyz"}
# Libraries that write a line at INFO for every routine step (each scheduler tick, each font
# subset or stylesheet of a PDF, each migration's preamble): shown only at DEBUG.
CHATTY = ("apscheduler", "fontTools", "weasyprint.progress", "alembic")
HANDLER_NAME = "compliance"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
log = logging.getLogger("compliance.request")


def new_id() -> str:
    """A fresh request or run id."""
    return uuid.uuid4().hex


def masked(path: str) -> str:
    """The path as it may be logged: secret parts of an address replaced by ***."""
    for pattern in SECRET_PATHS:
        path = pattern.sub(r"\1***\2", path)
    return path


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time, so that a stream swapped for a while (by
    a test runner) and then closed is never written to later."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _with_request_id(record: logging.LogRecord) -> bool:
    if getattr(record, "request_id", None) is None:
        record.request_id = request_id.get()
    return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, pid, request id, message, and the
    fields the line was logged with."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            line["request_id"] = record.request_id  # type: ignore[attr-defined]  # set by the request-id filter, as checked

        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, pid, message, then the fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = {"request_id": getattr(record, "request_id", None)}
        fields |= getattr(record, "fields", {})
        extra = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        head, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{head} {extra}{newline}{rest}" if extra else text


def configure(settings: Settings) -> None:
    """Send every log line to standard error in the configured format and level. Safe to call
    again: only the handler put there before is replaced, others (a test runner's) are left."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    handler.addFilter(_with_request_id)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    quiet = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
    # Uvicorn's own lines go through the same handler; its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").handlers.clear()
    logging.getLogger("uvicorn.access").propagate = False


def _user_id(scope: Scope) -> int | None:
    # Read from the identity the session loaded, without touching the database: the request's
    # session is closed by now, and its objects may be expired.
    principal = scope.get("state", {}).get("principal")
    try:
        identity = inspect(principal.user).identity if principal is not None else None
    except Exception:  # never let the log line fail the request
        return None
    return identity[0] if identity else None


class RequestLog:
    """One log line per request (method, path with secrets masked, status, duration, user id,
    client address), under a request id taken from X-Request-ID when it is sane or made here,
    and sent back in the response's X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = sent if SANE_REQUEST_ID.fullmatch(sent) else new_id()
        # Shared with every copy of the scope made further in, so the route's request.state
        # (where the signed-in user is kept) is visible here afterwards.
        scope.setdefault("state", {})
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            _log_request(scope, status, time.perf_counter() - started)
            # The id is left set (the request's task ends with it): the traceback the server
            # writes next, outside this middleware, then carries it too.
            raise
        _log_request(scope, status, time.perf_counter() - started)
        request_id.reset(token)


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    path = masked(scope["path"])
    duration_ms = round(seconds * 1000, 1)
    fields = {
        "event": "request",
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "user_id": _user_id(scope),
        "client": scope["client"][0] if scope.get("client") else None,
    }
    if status >= 500:
        level = logging.ERROR
    elif path in HEALTH_PATHS and status == 200:
        level = logging.DEBUG  # a load balancer's polling would drown everything else
    else:
        level = logging.INFO
    extra = {"fields": fields, "request_id": request_id.get()}
    log.log(level, "%s %s %s %.1f ms", scope["method"], path, status, duration_ms, extra=extra)
