"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from compliance import __version__
from compliance.bodies import api as bodies_api
from compliance.bodies import pages as bodies_pages
from compliance.catalogue import api as catalogue_api
from compliance.catalogue import pages as catalogue_pages
from compliance.config import Settings, get_settings
from compliance.db import get_engine
from compliance.obligations import api as obligations_api
from compliance.partnerships import api as partnerships_api
from compliance.web import templates


def create_app(settings: Settings | None = None, *, with_scheduler: bool = False) -> FastAPI:
    """Build the application for these settings (the environment's by default).

    With `with_scheduler`, the scheduled jobs run inside the web process.
    """
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=_scheduler_lifespan if with_scheduler else None,
        title="Partnership duties tracker",
        version=__version__,
        description=(
            "Statutory partnership duties of UK public bodies, their obligations and evidence."
        ),
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    routers = (
        bodies_pages,
        catalogue_pages,
        bodies_api,
        catalogue_api,
        partnerships_api,
        obligations_api,
    )
    for module in routers:
        app.include_router(module.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    app.add_exception_handler(StarletteHTTPException, http_error)
    return app


@asynccontextmanager
async def _scheduler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    from apscheduler.schedulers.background import BackgroundScheduler

    from compliance.scheduler import build

    scheduler, lock = build(BackgroundScheduler, app.state.engine, app.state.settings)
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=True)
        lock.release()


def healthz(request: Request) -> dict[str, str]:
    """Liveness and database reachability."""
    with request.app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}


async def http_error(request: Request, exc: HTTPException) -> HTMLResponse | JSONResponse:
    """JSON errors under /api, a page elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    context = {"status_code": exc.status_code, "detail": exc.detail}
    return templates.TemplateResponse(request, "error.html", context, status_code=exc.status_code)
