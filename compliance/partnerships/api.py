"""JSON routes for partnerships."""

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from compliance.access import require
from compliance.api import api_router
from compliance.deps import CurrentUser, SessionDep
from compliance.errors import NotFound
from compliance.partnerships.service import (
    duties_of,
    get_partnership,
    list_partnerships,
    members_of,
)

router = api_router("partnerships")


class PartnershipPublic(BaseModel):
    slug: str
    name: str
    form: str
    description: str | None
    start_date: dt.date | None
    end_date: dt.date | None


class MemberPublic(BaseModel):
    code: str
    name: str
    kind: str
    role: str
    start_date: dt.date | None
    end_date: dt.date | None


class PartnershipDetail(PartnershipPublic):
    members: list[MemberPublic]
    duties: list[str]


@router.get("/partnerships", response_model=list[PartnershipPublic])
def read_partnerships(
    session: SessionDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PartnershipPublic]:
    """List partnerships by name."""
    rows = list_partnerships(session=session, limit=limit, offset=offset)
    return [
        PartnershipPublic.model_validate(p, from_attributes=True)
        for p in rows
        if principal.reads_partnership(p.id)
    ]


@router.get("/partnerships/{slug}", response_model=PartnershipDetail)
def read_partnership(slug: str, session: SessionDep, principal: CurrentUser) -> PartnershipDetail:
    """One partnership with its members (past members keep their end date) and duties."""
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    members = [
        MemberPublic(
            code=m.body.code,
            name=m.body.name,
            kind=m.body.kind,
            role=m.membership.role,
            start_date=m.membership.start_date,
            end_date=m.membership.end_date,
        )
        for m in members_of(session=session, partnership_id=partnership.id)
    ]
    duties = [d.slug for d in duties_of(session=session, partnership_id=partnership.id)]
    fields = PartnershipPublic.model_validate(partnership, from_attributes=True).model_dump()
    return PartnershipDetail(**fields, members=members, duties=duties)
