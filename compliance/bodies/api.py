"""JSON routes for bodies and their obligations."""

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from compliance.access import require
from compliance.api import api_router
from compliance.bodies.kinds import BodyKind, Nation
from compliance.bodies.service import get_body, search_bodies
from compliance.deps import CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound
from compliance.models import Body
from compliance.obligations.views import ObligationView, view_obligations

router = api_router("bodies")


class BodyPublic(BaseModel):
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
    parent_code: str | None
    successor_code: str | None
    note: str | None


class BodyPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[BodyPublic]


class PeriodPublic(BaseModel):
    period_start_date: dt.date
    period_end_date: dt.date
    due_date: dt.date
    status: str
    evidence_ids: list[int]


class ObligationPublic(BaseModel):
    id: int
    source: str
    source_slug: str
    source_url: str
    item: str
    item_slug: str
    cadence: str
    verified: bool
    status: str
    outcome_status: str
    fully_met: bool
    next_due_date: dt.date | None
    opened_date: dt.date
    closed_date: dt.date | None
    closed_reason: str | None
    not_applicable_reason: str | None
    periods: list[PeriodPublic]


def obligation_public(view: ObligationView) -> ObligationPublic:
    o = view.obligation
    periods = [
        PeriodPublic(
            period_start_date=p.occurrence.period_start_date,
            period_end_date=p.occurrence.period_end_date,
            due_date=p.occurrence.due_date,
            status=p.status,
            evidence_ids=list(p.evidence_ids),
        )
        for p in view.periods
    ]
    return ObligationPublic(
        id=o.id,
        source=view.source_title,
        source_slug=view.source_slug,
        source_url=view.source_url,
        item=view.item_title,
        item_slug=view.item_slug,
        cadence=view.cadence,
        verified=view.verified,
        status=view.status,
        outcome_status=view.outcome,
        fully_met=view.fully_met,
        next_due_date=view.next_due,
        opened_date=o.opened_date,
        closed_date=o.closed_date,
        closed_reason=o.closed_reason,
        not_applicable_reason=o.not_applicable_reason,
        periods=periods,
    )


def _body_or_404(session: SessionDep, code: str) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise NotFound(f"No body with code {code!r}")
    return body


@router.get("/bodies", response_model=BodyPage)
def read_bodies(
    session: SessionDep,
    principal: CurrentUser,
    q: Annotated[str, Query(max_length=100, description="Part of a name or code")] = "",
    kind: BodyKind | None = None,
    nation: Nation | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> BodyPage:
    """Search the registry of bodies."""
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
    """One body, with its parent and successor."""
    body = _body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    parent = session.get(Body, body.parent_id) if body.parent_id else None
    successor = session.get(Body, body.successor_id) if body.successor_id else None
    fields = BodyPublic.model_validate(body, from_attributes=True).model_dump()
    return BodyDetail(
        **fields,
        parent_code=parent and parent.code,
        successor_code=successor and successor.code,
        note=body.note,
    )


@router.get("/bodies/{code}/obligations", response_model=list[ObligationPublic])
def read_body_obligations(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: dt.date | None = None,
    include_closed: bool = False,
) -> list[ObligationPublic]:
    """A body's obligations with their periods and process status on a date (default today)."""
    body = _body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    views = view_obligations(
        session=session,
        on=as_at or dt.date.today(),
        due_soon_days=settings.due_soon_days,
        body_id=body.id,
        include_closed=include_closed,
    )
    return [obligation_public(v) for v in views]
