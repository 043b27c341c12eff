"""The reports page: area reports rendered in the background, their progress and downloads; and
the as-at form that the body and duty pages use to download their report as at a date."""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from compliance.access import require
from compliance.bodies.service import get_body
from compliance.config import Settings
from compliance.db import row_id
from compliance.deps import CurrentUser, FormUser, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.forms import date_from_parts
from compliance.reports.api import record_report_download
from compliance.reports.jobs import Job, job_of, jobs_of, made_of, start_report
from compliance.reports.pdf import Made
from compliance.reports.produce import as_at_or_today, produce_pack
from compliance.web import render

router = page_router()
MAX_CODE = 20
AS_AT_PARTS = ("as_at-day", "as_at-month", "as_at-year")
REAL_DATE = "Enter a real date for the report, for example 31 3 2026"
GONE = "This report's file is no longer kept: start the report again"


def _sentence(message: str) -> str:
    """A service's refusal as a sentence: its field name off, a capital letter on."""
    text = message.removeprefix("as_at: ")
    return text[:1].upper() + text[1:]


def report_as_at(
    values: Mapping[str, object], settings: Settings, name: str = "as_at"
) -> tuple[dt.date | None, str | None]:
    """The as-at date typed into a report form (left empty: None, meaning today), or what is
    wrong with it in plain English: the same rules as the report routes."""
    as_at, problem = date_from_parts(values, name, label="as-at date", required=False)
    if problem:
        return None, REAL_DATE
    try:
        as_at_or_today(as_at, settings)
    except Refused as exc:
        return None, _sentence(exc.message)
    return as_at, None


def report_address(path: str, as_at: dt.date | None, pack: bool) -> str:
    """The report route's address (under /api/v1) for this date and kind of download."""
    query = [("as_at", as_at.isoformat())] if as_at else []
    query += [("pack", "true")] if pack else []
    return f"/api/v1/{path}/report.pdf" + (f"?{urlencode(query)}" if query else "")


def as_at_values(params: Mapping[str, str]) -> dict[str, str]:
    """The as-at date's three boxes as typed, to show back on the form."""
    return {name: params.get(name, "") for name in AS_AT_PARTS}


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> HTMLResponse:
    """This user's area reports with their progress, and the form to start one."""
    jobs = jobs_of(session=session, user_id=row_id(principal.user))
    context = {
        "jobs": jobs,
        "errors": {},
        "values": {},
        "detail_holders": settings.report_detail_holders,
    }
    return render(request, "reports.html", context)


@router.post("/reports/areas", response_class=HTMLResponse)
def start_area(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    code: Annotated[str, Form()] = "",
    as_at_day: Annotated[str, Form(alias="as_at-day")] = "",
    as_at_month: Annotated[str, Form(alias="as_at-month")] = "",
    as_at_year: Annotated[str, Form(alias="as_at-year")] = "",
    full_pack: Annotated[str, Form()] = "",
):
    """Start an area report in the background (with every holder's own report in its evidence
    pack if asked); its progress shows on the reports page."""
    values = {
        "code": code,
        "as_at-day": as_at_day,
        "as_at-month": as_at_month,
        "as_at-year": as_at_year,
        "full_pack": full_pack,
    }
    errors = {}
    if not code.strip():
        errors["code"] = "Enter the code of the body whose area the report covers"
    elif len(code.strip()) > MAX_CODE:
        errors["code"] = f"Enter a code of {MAX_CODE} characters or fewer"
    as_at, problem = report_as_at(values, settings)
    if problem:
        errors["as_at"] = problem
    if not errors:
        try:
            start_report(
                session=session,
                engine=request.app.state.engine,
                settings=settings,
                principal=principal,
                kind="area",
                key=code.strip(),
                as_at=as_at,
                full_pack=full_pack == "true",
            )
        except NotFound as exc:
            errors["code"] = exc.message
        except Refused as exc:
            if exc.status == 403:
                raise
            errors[exc.field or "code"] = _sentence(exc.message)
    if errors:
        jobs = jobs_of(session=session, user_id=row_id(principal.user))
        context = {
            "jobs": jobs,
            "errors": errors,
            "values": values,
            "detail_holders": settings.report_detail_holders,
        }
        return render(request, "reports.html", context, status_code=422)
    return RedirectResponse("/reports", status_code=303)


def _finished_job(session, settings, principal, job_id: str) -> tuple[Job, Made]:
    job = job_of(session=session, user_id=principal.user.id, job_id=job_id)
    if job is None or not job.done:
        raise NotFound("No finished report with this address: see the reports page")
    if job.kind == "area":
        body = get_body(session=session, code=job.key)
        require(
            body is not None and principal.reads_body(body.id), "This area is not in your scope"
        )
    # A duty's report shows only what its reader may see, as its own route does.
    made = made_of(job=job, settings=settings)
    if made is None or (job.pack_path and not (settings.data_dir / job.pack_path).exists()):
        raise NotFound(GONE)
    return job, made


@router.get("/reports/{job_id}.pdf")
def job_pdf(
    job_id: str, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> FileResponse:
    """A finished report, to the user who asked for it."""
    _, made = _finished_job(session, settings, principal, job_id)
    record_report_download(session, principal, made, pack=False)
    return FileResponse(
        made.path,
        media_type="application/pdf",
        filename=f"audit-report-{made.report.label}-{made.report.as_at.isoformat()}.pdf",
        headers={"X-Report-Fingerprint": made.fingerprint, "Cache-Control": "private, no-cache"},
    )


@router.get("/reports/{job_id}.zip")
def job_pack(
    job_id: str, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> FileResponse:
    """The evidence pack of a finished report: a full pack holds every holder's own report."""
    job, made = _finished_job(session, settings, principal, job_id)
    record_report_download(session, principal, made, pack=True)
    full = settings.data_dir / job.pack_path if job.pack_path else None
    name = f"audit-report-{made.report.label}-{made.report.as_at.isoformat()}"
    return FileResponse(
        full or produce_pack(made=made, settings=settings),
        media_type="application/zip",
        filename=f"{name}-full.zip" if full else f"{name}.zip",
        headers={"X-Report-Fingerprint": made.fingerprint, "Cache-Control": "private, no-cache"},
    )
