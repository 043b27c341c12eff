"""Audit PDFs and evidence packs of a body, a partnership, a duty or an area.

The routes are plain `def`s: FastAPI runs them in its thread pool, so rendering never blocks the
event loop. An unchanged report comes from the cache, the same file byte for byte.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.responses import FileResponse
from sqlmodel import Session

from compliance.access import Principal
from compliance.api import IsoDate, api_router
from compliance.audit.service import record_download
from compliance.config import Settings
from compliance.deps import CurrentUser, SessionDep, SettingsDep
from compliance.reports.pdf import Made
from compliance.reports.produce import produce, produce_pack

router = api_router("reports")

# The report checks its own range (from 1 January 2000 to today), with a message that says so.
AsAt = Annotated[
    IsoDate | None,
    Query(description="The report as the data stood at the end of this day; today by default."),
]
Pack = Annotated[
    bool,
    Query(description="The evidence pack (a ZIP of the PDF, every evidence file and a manifest)."),
]
BodyCode = Annotated[
    str, Path(max_length=20, description="An ONS GSS or ODS code", examples=["E06000052"])
]
PartnershipSlug = Annotated[
    str, Path(max_length=80, examples=["our-safeguarding-children-partnership"])
]
DutySlug = Annotated[str, Path(max_length=80, examples=["children-act-2004-s16e"])]
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {}, "application/zip": {}},
        "description": "The PDF, or with pack=true the evidence pack",
    }
}


def record_report_download(
    session: Session, principal: Principal, made: Made, *, pack: bool
) -> None:
    """The download in the audit trail: which report, as at when, with which data."""
    what = {
        "kind": made.report.kind,
        "label": made.report.label,
        "as_at": made.report.as_at,
        "fingerprint": made.fingerprint,
        "pack": pack,
    }
    record_download(
        session=session,
        actor=principal.user.email,
        entity_type="report",
        entity_id=made.report.label,
        what=what,
    )


def deliver(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    kind: str,
    key: str,
    as_at: dt.date | None,
    pack: bool,
) -> FileResponse:
    """Answer with a report's PDF (or its evidence pack), naming its data fingerprint."""
    made = produce(
        session=session, settings=settings, principal=principal, kind=kind, key=key, as_at=as_at
    )
    path = produce_pack(made=made, settings=settings) if pack else made.path
    report = made.report
    record_report_download(session, principal, made, pack=pack)
    return FileResponse(
        path,
        media_type="application/zip" if pack else "application/pdf",
        filename=f"audit-report-{report.label}-{report.as_at.isoformat()}{path.suffix}",
        headers={
            "X-Report-Fingerprint": made.fingerprint,
            "X-Report-Cached": "true" if made.cached else "false",
            "Cache-Control": "private, no-cache",
        },
    )


@router.get("/bodies/{code}/report.pdf", response_class=FileResponse, responses=FILES)
def body_report(
    code: BodyCode,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: AsAt = None,
    pack: Pack = False,
) -> FileResponse:
    """A body's audit report: its obligations and those of the partnerships it belongs to."""
    return deliver(
        session=session,
        settings=settings,
        principal=principal,
        kind="body",
        key=code,
        as_at=as_at,
        pack=pack,
    )


@router.get("/partnerships/{slug}/report.pdf", response_class=FileResponse, responses=FILES)
def partnership_report(
    slug: PartnershipSlug,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: AsAt = None,
    pack: Pack = False,
) -> FileResponse:
    """A partnership's audit report: its obligations, intended outcomes and risks."""
    return deliver(
        session=session,
        settings=settings,
        principal=principal,
        kind="partnership",
        key=slug,
        as_at=as_at,
        pack=pack,
    )


@router.get("/duties/{slug}/report.pdf", response_class=FileResponse, responses=FILES)
def duty_report(
    slug: DutySlug,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: AsAt = None,
    pack: Pack = False,
) -> FileResponse:
    """A duty across every body and partnership it binds that the user may see."""
    return deliver(
        session=session,
        settings=settings,
        principal=principal,
        kind="duty",
        key=slug,
        as_at=as_at,
        pack=pack,
    )


@router.get("/areas/{code}/report.pdf", response_class=FileResponse, responses=FILES)
def area_report(
    code: BodyCode,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: AsAt = None,
    pack: Pack = False,
) -> FileResponse:
    """An area: a body with every body beneath it, or an ICB's footprint, rendered now (the
    reports page renders them in the background instead)."""
    return deliver(
        session=session,
        settings=settings,
        principal=principal,
        kind="area",
        key=code,
        as_at=as_at,
        pack=pack,
    )
