"""JSON routes for a body's own reminder days and its senior responsible officer: the same
record, checks and audit as the page at /bodies/{code}/reminders (reminders/pages.py)."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from compliance.access import require
from compliance.api import ApiInput, api_router
from compliance.bodies.service import get_body
from compliance.db import row_id
from compliance.deps import ApiWriter, CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound, Refused
from compliance.models import Body
from compliance.reminders.preferences import body_reminders_of, parse_days, set_body_reminders

router = api_router("reminders")

Day = Annotated[int, Field(ge=0, le=366)]
EXAMPLE: JsonDict = {
    "reminder_days": [60, 30, 7, 1],
    "sro_name": "Dr Jo Pascoe",
    "sro_email": "jo.pascoe@cornwall.example.org",
}


class BodyRemindersInput(ApiInput):
    """A body's reminder days and senior responsible officer, replaced whole: a field left out
    or null goes back to the default (the service's reminder days; escalations to the body's
    officers)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    reminder_days: Annotated[
        list[Day] | None,
        Field(
            min_length=1,
            max_length=20,
            description="Days before each statutory or funding due date on which a reminder "
            "goes out, each once, such as [30, 7, 1]; null for the service's default",
        ),
    ] = None
    sro_name: Annotated[str | None, Field(max_length=200)] = None
    sro_email: Annotated[
        str | None,
        Field(max_length=254, description="Where escalations of missed dates go"),
    ] = None

    @field_validator("reminder_days")
    @classmethod
    def _each_once(cls, days: list[int] | None) -> list[int] | None:
        if days is not None and len(set(days)) != len(days):
            raise PydanticCustomError("days_repeated", "Give each reminder day once")
        return days


class BodyReminders(BaseModel):
    """A body's reminder settings, and the days its reminders use."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body_code": "E06000052",
                    "days_used": [60, 30, 7, 1],
                    "updated_at": "2026-12-07T09:00:00Z",
                    **EXAMPLE,
                }
            ]
        }
    )

    body_code: str
    reminder_days: list[int] | None = Field(
        description="The body's own reminder days, largest first; null when it uses the default"
    )
    days_used: list[int] = Field(description="The days its reminders use: its own, or the default")
    sro_name: str | None
    sro_email: str | None
    updated_at: dt.datetime | None = Field(description="When these were last set; null if never")


def _writable(session: SessionDep, principal: CurrentUser, code: str) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise NotFound(f"No body with code {code!r}", field="path.code")
    require(
        principal.writes_body(row_id(body)),
        "Only an officer for this body, or an administrator, sees and sets its reminders",
    )
    return body


def _public(session: SessionDep, settings: SettingsDep, body: Body) -> BodyReminders:
    own = body_reminders_of(session=session, body_id=row_id(body))
    days = parse_days(own.reminder_days) if own and own.reminder_days else None
    return BodyReminders(
        body_code=body.code,
        reminder_days=days,
        days_used=days or parse_days(settings.reminder_days),
        sro_name=own.sro_name if own else None,
        sro_email=own.sro_email if own else None,
        updated_at=own.updated_at if own else None,
    )


@router.get("/bodies/{code}/reminders", response_model=BodyReminders)
def read_body_reminders(
    code: str, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> BodyReminders:
    """A body's own reminder days and senior responsible officer (its officers and
    administrators)."""
    return _public(session, settings, _writable(session, principal, code))


@router.put("/bodies/{code}/reminders", response_model=BodyReminders)
def set_reminders(
    code: str,
    data: BodyRemindersInput,
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> BodyReminders:
    """Set a body's reminder days and senior responsible officer, replacing what was there
    (its officers and administrators); each change is on the body's audit trail. Reminders
    and escalations are for dates the law or a funding condition sets; a date of our own
    convention comes in the weekly digest only."""
    body = _writable(session, principal, code)
    days = data.reminder_days
    try:
        set_body_reminders(
            session=session,
            actor=principal.user.email,
            body_id=row_id(body),
            reminder_days=",".join(str(d) for d in sorted(days, reverse=True)) if days else None,
            sro_name=data.sro_name,
            sro_email=data.sro_email,
        )
    except Refused as exc:  # the service's own checks: the officer's name and address
        raise Refused(exc.message, field=f"body.{exc.field}", status=422) from exc
    return _public(session, settings, body)
