"""HTML pages for bodies: the searchable list (the home page) and one body."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from compliance.bodies.kinds import BodyKind, Nation
from compliance.bodies.service import get_body, search_bodies
from compliance.deps import SessionDep, SettingsDep
from compliance.models import Body
from compliance.obligations.views import view_obligations
from compliance.partnerships.service import partnerships_of_body
from compliance.web import templates

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    kind: BodyKind | None = None,
    nation: Nation | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The registry of bodies, searchable and paginated."""
    rows, total = search_bodies(
        session=session,
        text=q,
        kind=kind,
        nation=nation,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    context = {
        "bodies": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "q": q,
        "kind": kind,
        "nation": nation,
    }
    return templates.TemplateResponse(request, "home.html", context)


@router.get("/bodies/{code}", response_class=HTMLResponse)
def body_page(
    code: str, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """One body: its obligations with their status, and its partnerships."""
    body = get_body(session=session, code=code)
    if body is None:
        raise HTTPException(status_code=404, detail=f"No body with code {code!r}")
    today = dt.date.today()
    context = {
        "body": body,
        "today": today,
        "parent": session.get(Body, body.parent_id) if body.parent_id else None,
        "successor": session.get(Body, body.successor_id) if body.successor_id else None,
        "obligations": view_obligations(
            session=session, on=today, due_soon_days=settings.due_soon_days, body_id=body.id
        ),
        "partnerships": partnerships_of_body(session=session, body_id=body.id),
    }
    return templates.TemplateResponse(request, "body.html", context)
