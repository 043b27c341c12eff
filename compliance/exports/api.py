"""Bulk exports of the obligations, evidence and findings registers, as CSV or XLSX.

CSV streams straight from the database, a batch at a time, through the request's own session:
FastAPI closes a dependency with `yield` only after the response has been sent, so the session
stays open while the body streams. XLSX is a ZIP that can only be finished at the end, so the
workbook is written (in constant memory) to an anonymous temporary file, then streamed from it;
the file disappears when it is closed.
"""

import datetime as dt
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from typing import IO, Annotated, Any

from fastapi import Path, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.api import Date, api_router
from compliance.bodies.service import get_body
from compliance.config import Settings
from compliance.deps import CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound
from compliance.exports.formats import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from compliance.exports.service import Selection, export_csv, file_name, write_export
from compliance.partnerships.service import get_partnership

router = api_router("exports")
CHUNK = 64 * 1024


class ExportKind(StrEnum):
    obligations = "obligations"
    evidence = "evidence"
    findings = "findings"


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The register as an attachment: CSV (UTF-8 with a byte-order mark, CRLF "
        "line ends, a header row, ISO dates) or an XLSX workbook",
    }
}


def _csv_rows(bind, kind: str, selection: Selection) -> Iterator[bytes]:
    # The request's session is committed and closed when the route returns, before the rows
    # stream out; the stream reads through a session of its own, closed at its end.
    with Session(bind) as session:
        yield from export_csv(session=session, kind=kind, selection=selection)


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk


def _selection(
    session: Session,
    settings: Settings,
    principal: Principal,
    body: str | None,
    partnership: str | None,
    as_at: dt.date | None,
) -> tuple[Selection, str | None]:
    """What the user asked for, refused before anything streams if it is unknown or out of
    scope."""
    found_body = found_partnership = None
    if body is not None:
        found_body = get_body(session=session, code=body)
        if found_body is None:
            raise NotFound(f"No body with code {body!r}", field="query.body")
        require(principal.reads_body(found_body.id), "This body is not in your scope")
    if partnership is not None:
        found_partnership = get_partnership(session=session, slug=partnership)
        if found_partnership is None:
            raise NotFound(f"No partnership {partnership!r}", field="query.partnership")
        require(
            principal.reads_partnership(found_partnership.id),
            "This partnership is not in your scope",
        )
    selection = Selection(
        on=as_at or settings.today(),
        due_soon_days=settings.due_soon_days,
        principal=principal,
        body_id=found_body.id if found_body else None,
        partnership_id=found_partnership.id if found_partnership else None,
    )
    codes = (found_body and found_body.code, found_partnership and found_partnership.slug)
    label = "-".join(code for code in codes if code) or None
    return selection, label


@router.get("/exports/{kind}", response_class=StreamingResponse, responses=FILES)
def export(
    kind: Annotated[
        ExportKind,
        Path(
            description="Which register: obligations, evidence or findings",
            examples=["obligations"],
        ),
    ],
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    file_format: Annotated[
        ExportFormat, Query(alias="format", description="csv or xlsx", examples=["csv"])
    ] = ExportFormat.csv,
    body: Annotated[
        str | None,
        Query(
            max_length=20,
            description="Only rows held by this body: its obligations, the evidence "
            "serving them, its findings",
            examples=["E06000052"],
        ),
    ] = None,
    partnership: Annotated[
        str | None,
        Query(
            max_length=80,
            description="Only rows held by this partnership",
            examples=["cios-safeguarding-adults-board"],
        ),
    ] = None,
    as_at: Annotated[
        Date | None,
        Query(
            description="Obligations' statuses as at this date (today by default), the date "
            "in the file name",
            examples=["2026-11-26"],
        ),
    ] = None,
) -> StreamingResponse:
    """Download a whole register (every obligation with both status dimensions, the evidence
    register, or the findings of the checks) that you may read, as CSV or an Excel workbook."""
    selection, label = _selection(session, settings, principal, body, partnership, as_at)
    name = file_name(kind.value, file_format.value, selection.on, label)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if file_format == ExportFormat.csv:
        rows = _csv_rows(session.get_bind(), kind.value, selection)
        return StreamingResponse(rows, media_type=CSV_MEDIA_TYPE, headers=headers)
    # Closed (and so deleted) by _chunks once sent, or by the garbage collector if never sent.
    file = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        write_export(session=session, kind=kind.value, fmt="xlsx", selection=selection, out=file)
    except BaseException:
        file.close()
        raise
    return StreamingResponse(_chunks(file), media_type=XLSX_MEDIA_TYPE, headers=headers)
