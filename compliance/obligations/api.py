"""JSON routes for status roll-ups: a body, a partnership, a duty across its bodies, an area."""

import datetime as dt

from pydantic import BaseModel

from compliance.access import require
from compliance.api import api_router
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty
from compliance.deps import CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound
from compliance.obligations.views import area_body_ids, status_rollup, view_obligations
from compliance.partnerships.service import get_partnership

router = api_router("status")


class StatusRollup(BaseModel):
    """Process and outcome status side by side; not-applicable obligations are not counted."""

    scope: str
    as_at: dt.date
    obligations: int
    fully_met: int
    worst_process: str
    worst_outcome: str
    process: dict[str, int]
    outcome: dict[str, int]


def _rollup(scope: str, on: dt.date, views) -> StatusRollup:  # type: ignore[no-untyped-def]
    result = status_rollup(views)
    return StatusRollup(
        scope=scope,
        as_at=on,
        obligations=result.total,
        fully_met=result.fully_met,
        worst_process=result.worst_process,
        worst_outcome=result.worst_outcome,
        process=result.process,
        outcome=result.outcome,
    )


def _status(session, settings, scope: str, as_at: dt.date | None, **filters) -> StatusRollup:  # type: ignore[no-untyped-def]  # noqa: E501
    """Roll up the obligations matching the filters, as at a date (today by default)."""
    on = as_at or settings.today()
    views = view_obligations(
        session=session, on=on, due_soon_days=settings.due_soon_days, **filters
    )
    return _rollup(scope, on, views)


def _missing(what: str, key: str) -> NotFound:
    return NotFound(f"No {what} {key!r}")


@router.get("/bodies/{code}/status", response_model=StatusRollup)
def body_status(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: dt.date | None = None,
) -> StatusRollup:
    """A body's obligations rolled up: the worst process and outcome states win."""
    body = get_body(session=session, code=code)
    if body is None:
        raise _missing("body with code", code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    return _status(session, settings, f"body {body.code}", as_at, body_id=body.id)


@router.get("/partnerships/{slug}/status", response_model=StatusRollup)
def partnership_status(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: dt.date | None = None,
) -> StatusRollup:
    """A partnership's own obligations rolled up."""
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise _missing("partnership with slug", slug)
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    return _status(session, settings, f"partnership {slug}", as_at, partnership_id=partnership.id)


@router.get("/duties/{slug}/status", response_model=StatusRollup)
def duty_status(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: dt.date | None = None,
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
    return _rollup(f"duty {slug}", on, visible)


@router.get("/areas/{code}/status", response_model=StatusRollup)
def area_status(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: dt.date | None = None,
) -> StatusRollup:
    """A body and every body beneath it (a county and its districts), rolled up together."""
    body = get_body(session=session, code=code)
    if body is None:
        raise _missing("body with code", code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    ids = area_body_ids(session=session, body_id=body.id)
    return _status(session, settings, f"area {body.code}", as_at, body_ids=ids)
