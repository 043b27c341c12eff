"""JSON routes for partnerships: read them, and for administrators record them, their members
and the duties they discharge."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.json_schema import JsonDict
from sqlmodel import Session

from compliance.access import require
from compliance.api import ApiInput, Date, api_router
from compliance.bodies.api import RegistryWriter, refusal
from compliance.bodies.changes import FieldsRefused
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty
from compliance.db import row_id
from compliance.deps import ApiWriter, CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound
from compliance.models import Duty, Partnership, PartnershipMember
from compliance.obligations.schemas import JUDGEMENT_EXAMPLE, JudgementPublic, judgement_public
from compliance.obligations.service import of_partnership, sync_obligations
from compliance.outcomes.judgement import judgement_across
from compliance.outcomes.service import risks_of
from compliance.partnerships.service import (
    FORMS,
    VALUE_FIELDS,
    VALUE_LIMITS,
    add_duty,
    admit_member,
    create_partnership,
    duties_of,
    editable,
    end_membership,
    get_partnership,
    list_partnerships,
    members_of,
    membership,
    remove_duty,
    set_value,
    update_partnership,
    value_of,
)
from compliance.partnerships.value import weigh_partnership

router = api_router("partnerships")

PARTNERSHIP_EXAMPLE: JsonDict = {
    "slug": "cios-safeguarding-adults-board",
    "name": "Cornwall and Isles of Scilly Safeguarding Adults Board",
    "form": "statutory_board",
    "description": "A joint Board of the two councils (Care Act 2014 s43(6)), working to a "
    "2024-27 strategic plan.",
    "start_date": None,
    "end_date": None,
}
MEMBER_EXAMPLE: JsonDict = {
    "code": "QT6",
    "name": "NHS Cornwall and the Isles of Scilly Integrated Care Board",
    "kind": "integrated_care_board",
    "role": "Integrated care board (Sch 2 member)",
    "start_date": "2024-04-01",
    "end_date": None,
}
VALUE_EXAMPLE: JsonDict = {
    "rationale": "The Care Act 2014 s43 requires a Board; one Board for Cornwall and the Isles of "
    "Scilly shares expertise the islands could not hold alone.",
    "alternatives": "A Board for each council; one Board with the children's partnership.",
    "staff_days_a_year": 120,
    "pounds_a_year": 45000,
    "meetings_a_year": 10,
    "costs_as_at_date": "2026-04-01",
    "benefits": "One set of multi-agency procedures; reviews whose learning reaches every partner.",
    "continuation_decided_date": "2023-03-03",
    "continuation_due_date": "2026-04-01",
}
WEIGHING_EXAMPLE: list[JsonValue] = [
    "Costs 120 staff days, £45,000 and 10 meetings a year (as at 1 April 2026).",
    "Outcomes: Getting worse for people.",
    "Negatives seen: 2 risks materialised and 1 outcome getting worse for people.",
    "Benefits recorded: yes.",
    "Continuation last decided 3 March 2023; next decision due 1 April 2026 — overdue.",
]
Slug = Annotated[str, Field(max_length=80)]
LongText = Annotated[str | None, Field(max_length=5000)]
Code = Annotated[str, Field(max_length=20)]
Form = Literal[FORMS]  # type: ignore[valid-type]  # FORMS is a tuple of literals, read at runtime


class PartnershipPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PARTNERSHIP_EXAMPLE]})

    slug: str
    name: str
    form: str
    description: str | None
    start_date: dt.date | None
    end_date: dt.date | None


class MemberPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MEMBER_EXAMPLE]})

    code: str
    name: str
    kind: str
    role: str
    start_date: dt.date | None
    end_date: dt.date | None


class PartnershipDetail(PartnershipPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                PARTNERSHIP_EXAMPLE
                | {
                    "judgement": JUDGEMENT_EXAMPLE,
                    "lead_body_code": "E06000052",
                    "members": [MEMBER_EXAMPLE],
                    "duties": ["care-act-2014-s42-s45"],
                }
                | VALUE_EXAMPLE
                | {"value_for_cost": WEIGHING_EXAMPLE}
            ]
        }
    )

    judgement: JudgementPublic = Field(
        description="What changes for people, from its outcomes, with the reasons: shown "
        "before how the partners work"
    )
    lead_body_code: str | None
    members: list[MemberPublic]
    duties: list[str]
    rationale: str | None = Field(description="Why the partnership exists in its form")
    alternatives: str | None = Field(description="The alternatives the partners considered")
    staff_days_a_year: int | None
    pounds_a_year: int | None = Field(description="What it costs a year, in whole pounds")
    meetings_a_year: int | None
    costs_as_at_date: dt.date | None = Field(description="The date the cost figures are as at")
    benefits: str | None = Field(description="What people and partners gain from it")
    continuation_decided_date: dt.date | None = Field(
        description="When partners last decided whether it should continue"
    )
    continuation_due_date: dt.date | None = Field(
        description="When partners will next decide whether it should continue"
    )
    value_for_cost: list[str] = Field(
        description="Is it worth it? Its costs, the judgement of its outcomes, the negatives "
        "seen (risks materialised, outcomes getting worse), whether benefits are recorded, and "
        "its continuation decisions, weighed sentence by sentence; a figure not recorded is "
        "said to be"
    )


class PartnershipCreate(ApiInput):
    """A partnership and the duties (catalogue slugs) it discharges for its members."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "isles-of-scilly-community-safety-partnership",
                    "name": "Isles of Scilly Community Safety Partnership",
                    "form": "statutory_board",
                    "description": "Crime and disorder partnership for the islands (illustrative).",
                    "lead_body_code": "E06000053",
                    "start_date": "2026-04-01",
                    "end_date": None,
                    "duties": ["cda-1998-s5-s6"],
                }
            ]
        }
    )

    slug: Slug
    name: Annotated[str, Field(max_length=200)]
    form: Form
    description: Annotated[str | None, Field(max_length=5000)] = None
    lead_body_code: Code | None = None
    start_date: Date | None = None
    end_date: Date | None = None
    duties: Annotated[list[Slug], Field(max_length=50)] = []


class PartnershipUpdate(ApiInput):
    """The details to change; a field left out stays as it is, null clears an optional one. An
    end date on or before today closes the partnership's obligations. Administrators change any
    field; an officer for the partnership changes its record of value for cost (why it exists,
    its costs and benefits, and when partners decide whether it should continue)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"lead_body_code": "QT6", "description": "Hosted by the ICB from 2027."},
                {"staff_days_a_year": 120, "continuation_decided_date": "2026-03-03"},
            ]
        }
    )

    name: Annotated[str, Field(max_length=200)] | None = None
    form: Form | None = None
    description: Annotated[str | None, Field(max_length=5000)] = None
    lead_body_code: Code | None = None
    start_date: Date | None = None
    end_date: Date | None = None
    rationale: LongText = None
    alternatives: LongText = None
    staff_days_a_year: Annotated[int | None, Field(ge=0, le=VALUE_LIMITS["staff_days_a_year"])] = (
        None
    )
    pounds_a_year: Annotated[
        int | None,
        Field(ge=0, le=VALUE_LIMITS["pounds_a_year"], description="Whole pounds a year"),
    ] = None
    meetings_a_year: Annotated[int | None, Field(ge=0, le=VALUE_LIMITS["meetings_a_year"])] = None
    costs_as_at_date: Date | None = None
    benefits: LongText = None
    continuation_decided_date: Date | None = Field(default=None, description="Today or in the past")
    continuation_due_date: Date | None = Field(default=None, description="After the last decision")


class MemberCreate(ApiInput):
    """A body joining the partnership, with its role."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body_code": "RJ8",
                    "role": "NHS provider (co-opted member)",
                    "start_date": "2026-04-01",
                }
            ]
        }
    )

    body_code: Code
    role: Annotated[str, Field(max_length=200)]
    start_date: Date | None = None


class MemberEnd(ApiInput):
    """The date a member leaves (its membership is kept, with the date)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"end_date": "2027-03-31"}]})

    end_date: Date


def _partnership_or_404(session: Session, slug: str) -> Partnership:
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}", field="path.slug")
    return partnership


def _duty_or_404(session: Session, slug: str) -> Duty:
    duty = get_duty(session=session, slug=slug)
    if duty is None:
        raise NotFound(f"No duty with slug {slug!r}", field="path.duty_slug")
    return duty


def _member(body, member: PartnershipMember) -> MemberPublic:
    return MemberPublic(
        code=body.code,
        name=body.name,
        kind=body.kind,
        role=member.role,
        start_date=member.start_date,
        end_date=member.end_date,
    )


def _detail(session: Session, partnership: Partnership, on: dt.date) -> PartnershipDetail:
    members = [
        _member(m.body, m.membership)
        for m in members_of(session=session, partnership_id=row_id(partnership))
    ]
    duties = [d.slug for d in duties_of(session=session, partnership_id=row_id(partnership))]
    fields = PartnershipPublic.model_validate(partnership, from_attributes=True).model_dump()
    lead = editable(session=session, partnership=partnership)["lead_body_code"]
    judged = judgement_across(session=session, partnership_ids=[row_id(partnership)], on=on)
    risks = risks_of(session=session, partnership_id=row_id(partnership))
    weighed = weigh_partnership(
        partnership=partnership,
        risk_statuses=[risk.status for risk in risks],
        judgement=judged.partnerships[0],
        on=on,
    )
    return PartnershipDetail(
        **fields,
        judgement=judgement_public(judged),
        lead_body_code=lead,
        members=members,
        duties=duties,
        **value_of(partnership=partnership),
        value_for_cost=list(weighed.sentences),
    )


@router.get("/partnerships", response_model=list[PartnershipPublic])
def read_partnerships(
    session: SessionDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PartnershipPublic]:
    """List the partnerships you may read, by name."""
    # The scope is applied in the query, before the page is cut, so that no page comes back
    # short while there are more partnerships to read.
    within = None if principal.is_admin else set(principal.readable_partnership_ids)
    rows = list_partnerships(session=session, limit=limit, offset=offset, within=within)
    return [PartnershipPublic.model_validate(p, from_attributes=True) for p in rows]


@router.get("/partnerships/{slug}", response_model=PartnershipDetail)
def read_partnership(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Annotated[Date | None, Query(description="Judged as at this date (today)")] = None,
) -> PartnershipDetail:
    """One partnership led by the judgement of what changes for people (with its reasons), then
    its lead body, members (past members keep their end date) and the duties it discharges."""
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    return _detail(session, partnership, as_at or settings.today())


@router.post("/partnerships", response_model=PartnershipDetail, status_code=201)
def add_partnership(
    data: PartnershipCreate, session: SessionDep, settings: SettingsDep, principal: RegistryWriter
) -> PartnershipDetail:
    """Record a partnership and the duties it discharges (administrators); its obligations open
    at once."""
    try:
        partnership = create_partnership(
            session=session, actor=principal.user.email, **data.model_dump()
        )
    except FieldsRefused as exc:
        raise refusal(exc) from exc
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return _detail(session, partnership, settings.today())


@router.patch("/partnerships/{slug}", response_model=PartnershipDetail)
def change_partnership(
    slug: str,
    data: PartnershipUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> PartnershipDetail:
    """Change a partnership's details (administrators; ending it closes its obligations), or
    its record of value for cost: why it exists, its costs and benefits, and when partners
    decide whether it should continue (administrators and officers for the partnership)."""
    changes = data.model_dump(exclude_unset=True)
    value = {name: changes.pop(name) for name in VALUE_FIELDS if name in changes}
    if changes:
        require(principal.is_admin, "Only administrators can change the registry")
    partnership = _partnership_or_404(session, slug)
    require(
        principal.writes_partnership(partnership.id),
        "Only an officer for this partnership can change its record of value for cost",
    )
    actor, today = principal.user.email, settings.today()
    try:
        if changes:
            update_partnership(
                session=session, partnership=partnership, changes=changes, actor=actor
            )
        if value:
            set_value(
                session=session, partnership=partnership, changes=value, actor=actor, today=today
            )
    except FieldsRefused as exc:
        raise refusal(exc) from exc
    if changes:
        sync_obligations(session=session, on=today, holders=of_partnership(partnership))
    return _detail(session, partnership, today)


@router.post("/partnerships/{slug}/members", response_model=MemberPublic, status_code=201)
def add_member(
    slug: str,
    data: MemberCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: RegistryWriter,
) -> MemberPublic:
    """Add a body to a partnership, or bring a former member back (administrators)."""
    partnership = _partnership_or_404(session, slug)
    try:
        member = admit_member(
            session=session,
            partnership=partnership,
            actor=principal.user.email,
            **data.model_dump(),
        )
    except FieldsRefused as exc:
        raise refusal(exc) from exc
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return _member(get_body(session=session, code=data.body_code), member)


@router.post("/partnerships/{slug}/members/{code}/end", response_model=MemberPublic)
def end_member(
    slug: str,
    code: str,
    data: MemberEnd,
    session: SessionDep,
    settings: SettingsDep,
    principal: RegistryWriter,
) -> MemberPublic:
    """Record that a member leaves a partnership on a date (administrators); the membership
    stays on record with its end date."""
    partnership = _partnership_or_404(session, slug)
    body = get_body(session=session, code=code)
    member = body and membership(session=session, partnership=partnership, body=body)
    if not member:
        raise NotFound(f"{code!r} is not a member of {slug}", field="path.code")
    assert body is not None, "a membership was found, so its body was"
    try:
        end_membership(
            session=session,
            partnership=partnership,
            member=member,
            body=body,
            end_date=data.end_date,
            actor=principal.user.email,
        )
    except FieldsRefused as exc:
        raise refusal(exc) from exc
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return _member(body, member)


DutySlug = Annotated[str, Path(max_length=80, examples=["care-act-2014-s42-s45"])]


@router.put("/partnerships/{slug}/duties/{duty_slug}", response_model=PartnershipDetail)
def put_duty(
    slug: str,
    duty_slug: DutySlug,
    session: SessionDep,
    settings: SettingsDep,
    principal: RegistryWriter,
) -> PartnershipDetail:
    """Record that a partnership discharges a duty (administrators; doing it again changes
    nothing); the obligations the duty gives the partnership open."""
    partnership = _partnership_or_404(session, slug)
    duty = _duty_or_404(session, duty_slug)
    if add_duty(session=session, partnership=partnership, duty=duty, actor=principal.user.email):
        sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return _detail(session, partnership, settings.today())


@router.delete("/partnerships/{slug}/duties/{duty_slug}", response_model=PartnershipDetail)
def delete_duty(
    slug: str,
    duty_slug: DutySlug,
    session: SessionDep,
    settings: SettingsDep,
    principal: RegistryWriter,
) -> PartnershipDetail:
    """Record that a partnership no longer discharges a duty (administrators); the obligations
    it gave close, keeping their periods and evidence."""
    partnership = _partnership_or_404(session, slug)
    duty = _duty_or_404(session, duty_slug)
    if not remove_duty(
        session=session, partnership=partnership, duty=duty, actor=principal.user.email
    ):
        raise NotFound(f"{slug} does not discharge {duty_slug}", field="path.duty_slug")
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return _detail(session, partnership, settings.today())
