"""HTML pages for bodies: the searchable list and one body."""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from compliance.access import require
from compliance.bodies.kinds import BodyKind, Nation
from compliance.bodies.service import get_body, search_bodies
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound
from compliance.models import Body
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.views import status_rollup, view_obligations
from compliance.partnerships.service import partnerships_of_body
from compliance.web import render

router = page_router()
PAGE_SIZE = 50


@router.get("/bodies", response_class=HTMLResponse)
def bodies_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    q: Annotated[str, Query(max_length=100)] = "",
    kind: BodyKind | None = None,
    nation: Nation | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The bodies this user may see, searchable and paginated."""
    within = None if principal.is_admin else principal.body_ids
    rows, total = search_bodies(
        session=session,
        text=q,
        kind=kind,
        nation=nation,
        within=within,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    context = {
        "bodies": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "q": q,
        "kind": kind,
        "nation": nation,
    }
    return render(request, "bodies.html", context)


def body_or_404(session, code: str) -> Body:  # type: ignore[no-untyped-def]
    body = get_body(session=session, code=code)
    if body is None:
        raise NotFound(f"No body with code {code!r}")
    return body


@router.get("/bodies/{code}", response_class=HTMLResponse)
def body_page(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    process: ProcessStatus | None = None,
    outcome: OutcomeStatus | None = None,
) -> HTMLResponse:
    """One body: its obligations with both status dimensions, filters, and its partnerships."""
    body = body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    today = settings.today()
    views = view_obligations(
        session=session, on=today, due_soon_days=settings.due_soon_days, body_id=body.id
    )
    shown = [
        v
        for v in views
        if (process is None or v.status == process) and (outcome is None or v.outcome == outcome)
    ]
    context = {
        "body": body,
        "today": today,
        "parent": session.get(Body, body.parent_id) if body.parent_id else None,
        "successor": session.get(Body, body.successor_id) if body.successor_id else None,
        "obligations": shown,
        "rollup": status_rollup(views),
        "process": process,
        "outcome": outcome,
        "partnerships": partnerships_of_body(session=session, body_id=body.id),
    }
    return render(request, "body.html", context)
