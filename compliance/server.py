"""`compliance serve`: uvicorn with this installation's settings, in one process or several.

With several workers uvicorn's parent process starts each worker afresh (spawn) from an import
string, `APP_FACTORY`, and only hands them connections; the scheduled jobs, when they run inside
`serve` at all, run in that parent, so once however many workers there are. With one worker the
parent is the server, and they run beside it as before.
"""

import gc
import logging
import signal
from contextlib import nullcontext
from typing import Any

from fastapi import FastAPI

from compliance import logs
from compliance.config import Settings, get_settings

APP_FACTORY = "compliance.server:web_app"
log = logging.getLogger(__name__)


def web_app() -> FastAPI:
    """The application of one web process, built from the environment's settings: what each
    of uvicorn's workers calls (the parent checked the settings before starting any)."""
    from compliance.main import create_app

    settings = get_settings()
    logs.configure(settings)
    app = create_app(settings)
    settle_heap()
    return app


def settle_heap() -> None:
    """Set what start-up built (modules, models, validators, templates: some 240,000 objects)
    beside the garbage collector, which otherwise walks all of them at each full collection.
    Such a collection fell in one request in two of an API listing and added 130 ms to it
    (docs/performance.md); what start-up built lives as long as the process, so nothing is
    lost by never collecting it. Called once, when the web process has built its application.
    """
    gc.collect()
    gc.freeze()


def uvicorn_options(settings: Settings, *, workers: int) -> dict[str, Any]:
    """What `serve` passes to uvicorn.run besides the app, host and port."""
    return {
        "factory": True,
        "workers": workers,
        # Scheme and client address from X-Forwarded-Proto and X-Forwarded-For, believed only
        # from these addresses: the Secure cookie and sign-in throttling depend on both.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
        # Our request log (compliance/logs.py) replaces uvicorn's access log, and its other
        # lines go through our handler: uvicorn is told to configure no logging of its own.
        "access_log": False,
        "log_config": None,
    }


def serve(settings: Settings, *, host: str, port: int, workers: int, with_scheduler: bool) -> None:
    """Serve until SIGTERM or SIGINT; then let requests in progress (and the scheduled job
    running, if any) finish, and return."""
    import uvicorn

    from compliance.db import get_engine
    from compliance.scheduler import in_background

    logs.configure(settings)
    where = "in this process" if with_scheduler else "left to `compliance scheduler`"
    log.info("serving on %s:%s with %s worker(s); scheduled jobs %s", host, port, workers, where)
    # Until uvicorn takes SIGTERM and SIGINT over, either one stops the start. After its graceful
    # shutdown uvicorn raises the signal once more, for this handler: the KeyboardInterrupt is
    # caught inside uvicorn.run, so what follows still runs (the scheduled job finishes) and the
    # process ends with status 0, as a service manager expects of a clean stop.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    jobs = in_background(get_engine(settings), settings) if with_scheduler else nullcontext()
    with jobs:
        uvicorn.run(APP_FACTORY, host=host, port=port, **uvicorn_options(settings, workers=workers))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
