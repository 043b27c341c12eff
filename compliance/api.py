"""What every JSON route shares: strict input models, errors as problem documents (RFC 9457),
refusal of unknown query parameters, and the OpenAPI touches that say so (listings page with
compliance.paging, as the pages do).

Each domain keeps its own routes in `compliance/<domain>/api.py`, built with `api_router()`.
"""

import datetime as dt
import re
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi import params as params_module
from fastapi.dependencies.utils import get_flat_params
from fastapi.responses import JSONResponse, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from compliance.dates import FIRST_YEAR, LAST_YEAR, year_problem
from compliance.deps import CommittingRoute
from compliance.errors import Refused
from compliance.paging import MAX_ID

PREFIX = "/api/v1"
# Ids are 32-bit integers in PostgreSQL: a row's id in a page's or an endpoint's address past
# MAX_ID names nothing (and SQLite could not even be asked), so it is refused as an address,
# never a server error.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
PROBLEM_TYPE = "application/problem+json"
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUL = "\x00"
NUL_MESSAGE = "Text cannot contain the NUL character (U+0000)"


def _iso_date(value: Any) -> Any:
    # Left to itself pydantic also reads a number as seconds since 1970, so that as_at=0 was
    # 1 January 1970 and {"effective_date": 86400} the day after; only YYYY-MM-DD is a date here.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError("date_type", "Input should be a date as YYYY-MM-DD")


# A moment in a response, with its offset as RFC 3339 (the schema's date-time) wants: every
# stored moment is read back in UTC with its zone, on SQLite too (compliance.db.UtcDateTime).
Timestamp = dt.datetime


def _sane_year(value: dt.date) -> dt.date:
    # Year 1 for 2001 was stored as given, and three years before it is no date at all.
    if year_problem(value):
        raise PydanticCustomError(
            "date_range",
            "Input should be a date in the years {first} to {last}",
            {"first": FIRST_YEAR, "last": LAST_YEAR},
        )
    return value


# Dates arrive as ISO 8601 text (in JSON and in query strings), so they alone are parsed from
# strings in strict bodies. Use Date for every date, in a body or in a query: its year is
# between 1900 and 2200 (compliance.dates). IsoDate leaves the range to a service that checks
# a narrower one with its own message (a report's as-at date).
IsoDate = Annotated[dt.date, Field(strict=False), BeforeValidator(_iso_date)]
Date = Annotated[IsoDate, AfterValidator(_sane_year)]


MAX_DEPTH = 32
DEPTH_MESSAGE = f"Values may be nested at most {MAX_DEPTH} deep"


def _json_value(value: Any, loc: tuple[str | int, ...], nuls: list[InitErrorDetails]) -> Any:
    # JSON has one kind of number and JSON Schema counts 3.0 as an integer (Python's json
    # writes a whole float that way), so a whole number is one whatever its spelling.
    if len(loc) > MAX_DEPTH:
        # No request body here nests more than a few levels; deeper only exhausts the stack.
        nuls.append(
            {"type": PydanticCustomError("too_deep", DEPTH_MESSAGE), "loc": loc, "input": "…"}
        )
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and NUL in value:
        nuls.append(
            {"type": PydanticCustomError("string_nul", NUL_MESSAGE), "loc": loc, "input": value}
        )
    if isinstance(value, list):
        return [_json_value(item, (*loc, i), nuls) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _json_value(item, (*loc, key), nuls) for key, item in value.items()}
    return value


class ApiInput(BaseModel):
    """A request body: strict types, and no field that the schema does not name."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _json_values(cls, data: Any) -> Any:
        """Whole numbers as integers; no NUL character in any text (see `reject_nul`)."""
        nuls: list[InitErrorDetails] = []
        data = _json_value(data, (), nuls)
        if nuls:
            raise ValidationError.from_exception_data(cls.__name__, nuls)
        return data


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, such as `body.title` or `query.limit`")
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 describes: nothing was changed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "query.due_before: Input should be a valid date",
                    "instance": "/api/v1/obligations",
                    "field": "query.due_before",
                    "errors": [
                        {"field": "query.due_before", "message": "Input should be a valid date"}
                    ],
                }
            ]
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = Field(default=None, description="The offending field, when there is one")
    errors: list[FieldError] = Field(default=[], description="Every bad field, when there are some")


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem document for an API request that was refused."""
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        field=field,
        errors=errors or ([FieldError(field=field, message=detail)] if field else []),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True, exclude_defaults=True) | {"type": body.type},
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers=headers,
    )


def _declared_query(request: Request) -> set[str] | None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    names = getattr(route, "_query_names", None)
    if names is None:
        params = get_flat_params(dependant)
        names = {p.alias for p in params if isinstance(p.field_info, params_module.Query)}
        route._query_names = names  # type: ignore[union-attr]  # a cache on the route, read by getattr above
    return names


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not declare, rather than ignore them."""
    declared = _declared_query(request)
    if declared is None:
        return
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise Refused(
            f"Unknown query parameter {unknown[0]!r}; this operation takes: {allowed}",
            field=f"query.{unknown[0]}",
            status=422,
        )


def reject_nul(request: Request) -> None:
    """Refuse a NUL character in the path or the query: PostgreSQL cannot hold one in text, so
    looking it up failed with a server error (SQLite would have stored it)."""
    for place, values in (("path", request.path_params), ("query", request.query_params)):
        for name, value in values.items():
            if NUL in str(value):
                raise Refused(NUL_MESSAGE, field=f"{place}.{name}", status=422)


def api_router(tag: str) -> APIRouter:
    """A router for one domain's JSON routes under /api/v1."""
    return APIRouter(
        prefix=PREFIX,
        tags=[tag],
        dependencies=[Depends(reject_unknown_query), Depends(reject_nul)],
        route_class=CommittingRoute,
    )


def shaped(payload: Any) -> Response:
    """A JSON response of plain data already in its route's response model's shape (the route
    still declares the model, for the OpenAPI document), written by orjson without building
    the models: a whole listing builds thousands of them, and orjson writes a page of 500
    obligations in a tenth of the time pydantic's encoder takes. For data of numbers, text,
    dates and enums, which both write alike (moments differ: orjson writes UTC as +00:00); the
    tests compare such responses with their models field for field."""
    return Response(orjson.dumps(payload), media_type="application/json")


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document that every API error is a problem document, and how to sign
    in (a bearer token, or the browser's session)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token: `compliance token create --email E`, "
            "or from your account page",
        },
        "session": {"type": "apiKey", "in": "cookie", "name": "compliance_session"},
    }
    refused = {
        "description": "Refused (bad input, not signed in, not allowed, not found): a problem "
        "document saying why, naming the offending field. Nothing was changed.",
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(PREFIX):
            continue
        for operation in operations.values():
            operation["responses"].pop("422", None)
            operation["responses"]["4XX"] = refused
            operation["security"] = [{"bearer": []}, {"session": []}]
    return schema
