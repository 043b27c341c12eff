"""JSON routes for obligations: the registry's obligations a page at a time, one obligation with
its periods and evidence, and status roll-ups for a body, a partnership, a duty and an area,
each led by the judgement of what changes for people."""

import datetime as dt
from typing import Annotated

from fastapi import Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.api import MAX_ID, Date, api_router, shaped
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty
from compliance.db import row_id
from compliance.deps import CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound
from compliance.obligations.listing import BY_ID, ObligationFilter, obligation_page
from compliance.obligations.schemas import (
    JUDGEMENT_EXAMPLE,
    JudgementPublic,
    ObligationDetailPublic,
    ObligationPage,
    judgement_public,
    obligation_items,
)
from compliance.obligations.served import partnerships_behind
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.views import (
    area_body_ids,
    obligation_detail,
    status_rollup,
    view_obligations,
)
from compliance.outcomes.judgement import (
    Across,
    area_judgement,
    body_judgement,
    judgement_across,
)
from compliance.partnerships.service import get_partnership

router = api_router("obligations")


class StatusRollup(BaseModel):
    """What changes for people first (the judgement across the scope's partnerships, with its
    reasons), then process and outcome status side by side; not-applicable obligations are not
    counted."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "partnership cios-safeguarding-adults-board",
                    "as_at": "2026-11-26",
                    "judgement": JUDGEMENT_EXAMPLE,
                    "obligations": 3,
                    "fully_met": 1,
                    "worst_process": "overdue",
                    "worst_outcome": "improving",
                    "process": {"met": 1, "overdue": 1, "not_yet_due": 1},
                    "outcome": {"improving": 3},
                }
            ]
        }
    )

    scope: str
    as_at: dt.date
    judgement: JudgementPublic
    obligations: int
    fully_met: int
    worst_process: str
    worst_outcome: str
    process: dict[str, int]
    outcome: dict[str, int]


def _rollup(scope: str, on: dt.date, views, judged: Across) -> StatusRollup:
    result = status_rollup(views)
    return StatusRollup(
        scope=scope,
        as_at=on,
        judgement=judgement_public(judged),
        obligations=result.total,
        fully_met=result.fully_met,
        worst_process=result.worst_process,
        worst_outcome=result.worst_outcome,
        process=result.process,
        outcome=result.outcome,
    )


def _status(session, settings, scope: str, as_at, judge, **filters) -> StatusRollup:
    """Roll up the obligations matching the filters, as at a date (today by default), after
    the judgement `judge(on)` gives."""
    on = as_at or settings.today()
    views = view_obligations(
        session=session, on=on, due_soon_days=settings.due_soon_days, **filters
    )
    return _rollup(scope, on, views, judge(on))


def _missing(what: str, key: str) -> NotFound:
    return NotFound(f"No {what} {key!r}")


@router.get("/bodies/{code}/status", response_model=StatusRollup)
def body_status(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Date | None = None,
) -> StatusRollup:
    """A body's obligations rolled up: the worst process and outcome states win."""
    body = get_body(session=session, code=code)
    if body is None:
        raise _missing("body with code", code)
    require(principal.reads_body(body.id), "This body is not in your scope")

    def judge(on: dt.date) -> Across:
        return body_judgement(session=session, body_id=row_id(body), on=on, principal=principal)

    return _status(session, settings, f"body {body.code}", as_at, judge, body_id=body.id)


@router.get("/partnerships/{slug}/status", response_model=StatusRollup)
def partnership_status(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Date | None = None,
) -> StatusRollup:
    """A partnership's own obligations rolled up."""
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise _missing("partnership with slug", slug)
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")

    def judge(on: dt.date) -> Across:
        return judgement_across(session=session, partnership_ids=[row_id(partnership)], on=on)

    scope = f"partnership {slug}"
    return _status(session, settings, scope, as_at, judge, partnership_id=partnership.id)


@router.get("/duties/{slug}/status", response_model=StatusRollup)
def duty_status(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Date | None = None,
) -> StatusRollup:
    """One duty across every body and partnership it binds."""
    duty = get_duty(session=session, slug=slug)
    if duty is None:
        raise _missing("duty with slug", slug)
    on = as_at or settings.today()
    views = view_obligations(
        session=session, on=on, due_soon_days=settings.due_soon_days, duty_id=duty.id
    )
    visible = [v for v in views if principal.reads_obligation(v.obligation)]
    behind = partnerships_behind(session, [v.obligation for v in visible], on)
    ids = {p for found in behind.values() for p in found if principal.reads_partnership(p)}
    judged = judgement_across(session=session, partnership_ids=ids, on=on)
    return _rollup(f"duty {slug}", on, visible, judged)


@router.get("/areas/{code}/status", response_model=StatusRollup)
def area_status(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Date | None = None,
) -> StatusRollup:
    """A body and every body beneath it (a county and its districts), rolled up together."""
    body = get_body(session=session, code=code)
    if body is None:
        raise _missing("body with code", code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    ids = area_body_ids(session=session, body_id=row_id(body))

    def judge(on: dt.date) -> Across:
        return area_judgement(session=session, body_id=row_id(body), on=on, principal=principal)

    return _status(session, settings, f"area {body.code}", as_at, judge, body_ids=ids)


def _holders(
    session: Session, principal: Principal, body: str | None, partnership: str | None
) -> tuple[int | None, int | None]:
    body_id = partnership_id = None
    if body is not None:
        found = get_body(session=session, code=body)
        if found is None:
            raise NotFound(f"No body with code {body!r}", field="query.body")
        require(principal.reads_body(found.id), "This body is not in your scope")
        body_id = found.id
    if partnership is not None:
        group = get_partnership(session=session, slug=partnership)
        if group is None:
            raise NotFound(f"No partnership with slug {partnership!r}", field="query.partnership")
        require(principal.reads_partnership(group.id), "This partnership is not in your scope")
        partnership_id = group.id
    return body_id, partnership_id


@router.get("/obligations", response_model=ObligationPage)
def read_obligations(
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    body: Annotated[
        str | None, Query(max_length=20, description="A body's code", examples=["E06000052"])
    ] = None,
    partnership: Annotated[
        str | None,
        Query(max_length=80, description="A partnership's slug", examples=["safer-cornwall"]),
    ] = None,
    duty: Annotated[
        str | None, Query(max_length=80, description="A duty's slug", examples=["care-act-2014-s6"])
    ] = None,
    status: Annotated[ProcessStatus | None, Query(description="Process status on `as_at`")] = None,
    outcome_status: Annotated[
        OutcomeStatus | None, Query(description="Outcome status on `as_at`")
    ] = None,
    due_after: Annotated[Date | None, Query(description="Next due on or after this date")] = None,
    due_before: Annotated[Date | None, Query(description="Next due on or before this date")] = None,
    include_closed: bool = False,
    as_at: Annotated[Date | None, Query(description="Status as at this date (today)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The obligations you may read, by id, a page at a time, with their process and outcome
    status on a date; filter by holder, duty, status and when they next fall due."""
    body_id, partnership_id = _holders(session, principal, body, partnership)
    duty_id = None
    if duty is not None:
        found = get_duty(session=session, slug=duty)
        if found is None:
            raise NotFound(f"No duty with slug {duty!r}", field="query.duty")
        duty_id = found.id
    filters = ObligationFilter(
        body_id=body_id,
        partnership_id=partnership_id,
        duty_id=duty_id,
        include_closed=include_closed,
        body_ids=None if principal.is_admin else principal.body_ids,
        partnership_ids=None if principal.is_admin else principal.readable_partnership_ids,
        status=status,
        outcome=outcome_status,
        due_after=due_after,
        due_before=due_before,
    )
    views, more = obligation_page(
        session=session,
        filters=filters,
        on=as_at or settings.today(),
        due_soon_days=settings.due_soon_days,
        after=BY_ID.read_cursor(cursor),
        limit=limit,
        today=settings.today(),
    )
    next_cursor = BY_ID.cursor(views[-1].obligation) if more else None
    return shaped({"items": obligation_items(session, views), "next_cursor": next_cursor})


@router.get("/obligations/{obligation_id}", response_model=ObligationDetailPublic)
def read_obligation(
    obligation_id: Annotated[int, Path(ge=1, le=MAX_ID, examples=[2])],
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Annotated[Date | None, Query(description="Status as at this date (today)")] = None,
) -> ObligationDetailPublic:
    """One obligation with its periods, the evidence serving each, and both status dimensions."""
    detail = obligation_detail(
        session=session,
        obligation_id=obligation_id,
        on=as_at or settings.today(),
        due_soon_days=settings.due_soon_days,
    )
    if detail is None:
        raise NotFound(f"No obligation {obligation_id}", field="path.obligation_id")
    require(
        principal.reads_obligation(detail.view.obligation), "This obligation is not in your scope"
    )
    (item,) = obligation_items(session, [detail.view])
    return ObligationDetailPublic(
        **item,
        holder_name=detail.holder_name,
        due_note=detail.due_note,
        typical_evidence=detail.evidence_hint,
    )
