"""Admin pages for the compliance checks: recent runs, starting one now, and one run's result."""

import functools
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compliance.admin.pages import local_time
from compliance.api import MAX_ID
from compliance.checks.service import check_now, list_check_runs
from compliance.deps import AdminUser, SessionDep, SettingsDep, check_form, page_router
from compliance.errors import NotFound
from compliance.models import CheckRun
from compliance.web import render

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]
RunId = Annotated[int, Path(ge=1, le=MAX_ID)]
RUNS_SHOWN = 25
# Who started a run, in words; the run records it as its trigger.
TRIGGERS = {
    "scheduler": "Nightly schedule",
    "cli": "Command line",
    "init": "Setting up the database",
    "api": "API",
    "page": "Administrator",
}
STATUSES = {
    "running": "Running",
    "succeeded": "Finished",
    "completed_with_errors": "Finished with errors",
}


def _words(settings) -> dict:
    when = functools.partial(local_time, zone=settings.timezone)
    return {"when": when, "triggers": TRIGGERS, "statuses": STATUSES}


@router.get("/admin/checks", response_class=HTMLResponse)
def checks_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """The most recent runs of the checks, newest first, and the button to run them now."""
    after = (before,) if before is not None else None
    rows = list_check_runs(session=session, after=after, limit=RUNS_SHOWN + 1)
    older = rows[RUNS_SHOWN - 1].id if len(rows) > RUNS_SHOWN else None
    context = {"runs": rows[:RUNS_SHOWN], "older": older, "newest": before is None}
    return render(request, "admin_checks.html", context | _words(settings))


@router.post("/admin/checks")
def start_checks(
    session: SessionDep, settings: SettingsDep, principal: AdminUser, _form: FormCheck
) -> RedirectResponse:
    """Run every rule now as at today, as the nightly job and POST /api/check-runs do: the run
    finishes before the answer, which then shows its result."""
    today = settings.today()
    _, summary = check_now(session=session, settings=settings, on=today, trigger="page")
    return RedirectResponse(f"/admin/checks/{summary.run.id}", status_code=303)


@router.get("/admin/checks/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: RunId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
) -> HTMLResponse:
    """One run: its progress while it runs, then what it found."""
    run = session.get(CheckRun, run_id)
    if run is None:
        raise NotFound(f"There is no check run {run_id}")
    return render(request, "admin_check_run.html", {"run": run} | _words(settings))
