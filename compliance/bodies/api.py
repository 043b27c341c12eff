"""JSON routes for bodies: search and read, and for administrators add, change and import."""

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict
from starlette.datastructures import UploadFile

from compliance.access import Principal, require
from compliance.api import ApiInput, Date, api_router, shaped
from compliance.bodies.changes import FieldsRefused, create_body, editable, update_body
from compliance.bodies.kinds import BodyKind, Nation
from compliance.bodies.service import ImportRefused, get_body, import_bodies, search_bodies
from compliance.deps import ApiWriter, CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound, Refused
from compliance.models import Body
from compliance.obligations.schemas import ObligationPublic, obligation_items
from compliance.obligations.service import of_body, of_body_codes, sync_obligations
from compliance.obligations.views import view_obligations

router = api_router("bodies")

BODY_EXAMPLE: JsonDict = {
    "code": "E06000052",
    "name": "Cornwall Council",
    "kind": "unitary_authority",
    "nation": "england",
    "website": "https://www.cornwall.gov.uk",
    "email": None,
    "start_date": None,
    "end_date": None,
    "verified": True,
}
DETAIL_EXAMPLE: JsonDict = BODY_EXAMPLE | {
    "parent_code": None,
    "successor_code": None,
    "note": None,
}
IMPORT_EXAMPLE = (
    "code,name,kind,nation,parent_code,website\n"
    "E06000052,Cornwall Council,unitary_authority,england,,www.cornwall.gov.uk\n"
    "CORNWALL-FRS,Cornwall Fire and Rescue Service,fire_and_rescue_authority,england,"
    "E06000052,\n"
)


def registry_writer(principal: ApiWriter) -> Principal:
    """A change to the registry of bodies and partnerships, which only administrators make."""
    require(principal.is_admin, "Only administrators can change the registry")
    return principal


RegistryWriter = Annotated[Principal, Depends(registry_writer)]


def refusal(exc: FieldsRefused) -> Refused | RequestValidationError:
    """A service's refusal as the API reports it: every bad field of the request body named."""
    if exc.status != 422:
        return Refused(exc.message, field=f"body.{exc.field}", status=exc.status)
    return RequestValidationError(
        [
            {"loc": ("body", field), "msg": message, "type": "value_error"}
            for field, message in exc.problems
        ]
    )


class BodyPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BODY_EXAMPLE]})

    code: str
    name: str
    kind: str
    nation: str
    website: str | None
    email: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    verified: bool


class BodyDetail(BodyPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [DETAIL_EXAMPLE]})

    parent_code: str | None
    successor_code: str | None
    note: str | None


class BodyPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"total": 1, "limit": 50, "offset": 0, "items": [BODY_EXAMPLE]}]
        }
    )

    total: int
    limit: int
    offset: int
    items: list[BodyPublic]


Text200 = Annotated[str, Field(max_length=200)]
Code = Annotated[str, Field(max_length=20, description="Official (GSS, ODS) or local code")]


class BodyCreate(ApiInput):
    """A new body, checked as each line of a register import is (GSS code against kind and
    nation, parent in the registry)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "IOS-FRS",
                    "name": "Isles of Scilly Fire and Rescue Service",
                    "kind": "fire_and_rescue_authority",
                    "nation": "england",
                    "parent_code": "E06000053",
                    "website": "https://www.scilly.gov.uk",
                    "email": None,
                    "start_date": None,
                    "end_date": None,
                }
            ]
        }
    )

    code: Code
    name: Text200
    kind: Annotated[BodyKind, Field(strict=False)]
    nation: Annotated[Nation, Field(strict=False)]
    parent_code: Code | None = None
    website: Annotated[str | None, Field(max_length=300)] = None
    email: Annotated[str | None, Field(max_length=254)] = None
    start_date: Date | None = None
    end_date: Date | None = None


class BodyUpdate(ApiInput):
    """The details to change; a field left out stays as it is, null clears it. Ending a body
    closes its obligations from that date, naming the successor that takes them on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "end_date": "2027-04-01",
                    "successor_code": "QJK",
                    "note": "Merges with NHS Devon ICB on 1 April 2027 (illustrative).",
                }
            ]
        }
    )

    name: Text200 | None = None
    website: Annotated[str | None, Field(max_length=300)] = None
    email: Annotated[str | None, Field(max_length=254)] = None
    parent_code: Code | None = None
    end_date: Date | None = None
    successor_code: Code | None = None
    note: Annotated[str | None, Field(max_length=5000)] = None


class BodyImportReport(BaseModel):
    """What an import changed, and the obligations that opened and closed as a result."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": ["CORNWALL-FRS"],
                    "updated": ["E06000052"],
                    "unchanged": 0,
                    "changes": {
                        "E06000052": {
                            "website": ["https://www.cornwall.gov.uk", "https://cornwall.gov.uk"]
                        }
                    },
                    "obligations_opened": 3,
                    "obligations_closed": 0,
                }
            ]
        }
    )

    created: list[str]
    updated: list[str]
    unchanged: int
    changes: dict[str, dict[str, list]]
    obligations_opened: int
    obligations_closed: int


def _body_or_404(session: SessionDep, code: str, field: str | None = None) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise NotFound(f"No body with code {code!r}", field=field)
    return body


def _detail(session: SessionDep, body: Body) -> BodyDetail:
    fields = BodyPublic.model_validate(body, from_attributes=True).model_dump()
    details = editable(session=session, body=body)
    return BodyDetail(
        **fields,
        parent_code=details["parent_code"],
        successor_code=details["successor_code"],
        note=body.note,
    )


@router.get("/bodies", response_model=BodyPage)
def read_bodies(
    session: SessionDep,
    principal: CurrentUser,
    q: Annotated[str, Query(max_length=100, description="Part of a name or code")] = "",
    kind: BodyKind | None = None,
    nation: Nation | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> BodyPage:
    """Search the registry of bodies you may read, by name or code, kind and nation."""
    rows, total = search_bodies(
        session=session,
        text=q,
        kind=kind,
        nation=nation,
        within=None if principal.is_admin else principal.body_ids,
        limit=limit,
        offset=offset,
    )
    items = [BodyPublic.model_validate(b, from_attributes=True) for b in rows]
    return BodyPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/bodies/{code}", response_model=BodyDetail)
def read_body(code: str, session: SessionDep, principal: CurrentUser) -> BodyDetail:
    """One body, with its parent and successor (the body that takes on its obligations)."""
    body = _body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    return _detail(session, body)


@router.get("/bodies/{code}/obligations", response_model=list[ObligationPublic])
def read_body_obligations(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Date | None = None,
    include_closed: bool = False,
) -> Response:
    """A body's obligations with their periods and process status on a date (default today)."""
    body = _body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    views = view_obligations(
        session=session,
        on=as_at or settings.today(),
        due_soon_days=settings.due_soon_days,
        body_id=body.id,
        include_closed=include_closed,
    )
    return shaped(obligation_items(session, views))


@router.post("/bodies", response_model=BodyDetail, status_code=201)
def add_body(
    data: BodyCreate, session: SessionDep, settings: SettingsDep, principal: RegistryWriter
) -> BodyDetail:
    """Add a body to the registry (administrators); the obligations it now holds open at once."""
    try:
        body = create_body(session=session, actor=principal.user.email, **data.model_dump())
    except FieldsRefused as exc:
        raise refusal(exc) from exc
    sync_obligations(session=session, on=settings.today(), holders=of_body(body))
    return _detail(session, body)


@router.patch("/bodies/{code}", response_model=BodyDetail)
def change_body(
    code: str,
    data: BodyUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: RegistryWriter,
) -> BodyDetail:
    """Change a body's details (administrators). An end date on or before today closes its
    obligations, saying why and which successor takes them on."""
    body = _body_or_404(session, code, field="path.code")
    changes = data.model_dump(exclude_unset=True)
    try:
        update_body(session=session, body=body, changes=changes, actor=principal.user.email)
    except FieldsRefused as exc:
        raise refusal(exc) from exc
    sync_obligations(session=session, on=settings.today(), holders=of_body(body))
    return _detail(session, body)


async def csv_upload(request: Request, settings: SettingsDep) -> bytes:
    """The CSV file sent as the request body (text/csv), or as a form's `file` field."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        upload = (await request.form(max_files=1, max_fields=10)).get("file")
        if not isinstance(upload, UploadFile):
            raise Refused(
                "Send the register as the form's file field", field="body.file", status=422
            )
        data = await upload.read()
    elif media in {"text/csv", "application/csv"}:
        data = await request.body()
    else:
        raise Refused("Send the register as text/csv, or as multipart/form-data", status=415)
    if len(data) > settings.max_upload_bytes:
        raise Refused(f"The file is larger than {settings.max_upload_bytes} bytes", status=413)
    return data


@router.post(
    "/bodies/import",
    response_model=BodyImportReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": IMPORT_EXAMPLE},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
def import_register(
    session: SessionDep,
    settings: SettingsDep,
    principal: RegistryWriter,
    data: Annotated[bytes, Depends(csv_upload)],
) -> BodyImportReport:
    """Import a register of bodies (administrators), all or nothing: a bad line changes
    nothing, and every bad line is listed in the problem's `errors` as `line N`."""
    try:
        report = import_bodies(
            session=session,
            data=data,
            actor=principal.user.email,
            max_rows=settings.max_import_rows,
        )
    except ImportRefused as exc:
        if exc.whole:
            raise Refused(f"{exc.whole}; nothing was imported", field="body", status=422) from exc
        raise RequestValidationError(
            [
                {"loc": (f"line {e.line}",), "msg": e.message, "type": "value_error"}
                for e in exc.errors
            ]
        ) from exc
    imported = of_body_codes(session, report.created + report.updated)
    sync = sync_obligations(session=session, on=settings.today(), holders=imported)
    return BodyImportReport(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        changes=report.changes,
        obligations_opened=sync.opened + sync.reopened,
        obligations_closed=sync.closed,
    )
