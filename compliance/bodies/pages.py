"""HTML pages for bodies: the searchable list, one body, and its report as at a date."""

import functools
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from compliance.access import Principal, require
from compliance.bodies.kinds import BodyKind, Nation
from compliance.bodies.service import get_body, search_bodies
from compliance.config import Settings
from compliance.db import row_id
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound
from compliance.models import Body
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.views import status_rollup, view_obligations
from compliance.outcomes.judgement import body_judgement
from compliance.paging import PAGE_SIZE, page_number, page_span
from compliance.partnerships.service import partnerships_of_body
from compliance.reports.pages import as_at_values, report_address, report_as_at
from compliance.web import page_base, render

router = page_router()
MAX_SEARCH = 100


def _one(raw: str, kind, field: str, message: str, errors: dict):
    """One value of an enumeration from a filter (none chosen: None); a value not in it is an
    error by its field, and no filter."""
    known = {member.value: member for member in kind}
    if raw and raw not in known:
        errors[field] = message
    return known.get(raw)


@router.get("/bodies", response_class=HTMLResponse)
def bodies_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    q: str = "",
    kind: str = "",
    nation: str = "",
    page: str = "",
) -> HTMLResponse:
    """The bodies this user may see, searchable and paginated."""
    errors: dict[str, str] = {}
    if len(q) > MAX_SEARCH:
        errors["q"] = f"Enter a name or code of {MAX_SEARCH} characters or fewer"
    elif "\x00" in q:
        errors["q"] = "Enter a name or code without the NUL character (it cannot be searched)"
    chosen_kind = _one(kind, BodyKind, "kind", "Choose a kind of body from the list", errors)
    chosen_nation = _one(nation, Nation, "nation", "Choose a nation from the list", errors)
    text = "" if errors.get("q") else q
    search = functools.partial(
        search_bodies,
        session=session,
        text=text,
        kind=chosen_kind,
        nation=chosen_nation,
        within=None if principal.is_admin else principal.body_ids,
        limit=PAGE_SIZE,
    )
    asked = page_number(page)
    rows, total = search(offset=(asked - 1) * PAGE_SIZE)
    number, pages = page_span(total, asked, PAGE_SIZE)
    if number != asked:
        # Past the end: the last page, as every list shows one.
        rows, total = search(offset=(number - 1) * PAGE_SIZE)
    context = {
        "bodies": rows,
        "total": total,
        "page": number,
        "pages": pages,
        "q": q,
        "kind": chosen_kind,
        "nation": chosen_nation,
        "errors": errors,
        "base": page_base([("q", text), ("kind", chosen_kind), ("nation", chosen_nation)]),
    }
    return render(request, "bodies.html", context, status_code=422 if errors else 200)


def body_or_404(session, code: str) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise NotFound(f"No body with code {code!r}")
    return body


def _body_context(
    session, settings: Settings, principal: Principal, code: str, process: str, outcome: str
) -> dict:
    """What the body page shows, its filters read as typed (a wrong one is an error)."""
    body = body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    errors: dict[str, str] = {}
    chosen_process = _one(process, ProcessStatus, "process", "Choose a process status", errors)
    chosen_outcome = _one(outcome, OutcomeStatus, "outcome", "Choose an outcome status", errors)
    today = settings.today()
    views = view_obligations(
        session=session, on=today, due_soon_days=settings.due_soon_days, body_id=body.id
    )
    shown = [
        v
        for v in views
        if (chosen_process is None or v.status == chosen_process)
        and (chosen_outcome is None or v.outcome == chosen_outcome)
    ]
    return {
        "body": body,
        "today": today,
        "judgement": body_judgement(
            session=session, body_id=row_id(body), on=today, principal=principal
        ),
        "parent": session.get(Body, body.parent_id) if body.parent_id else None,
        "successor": session.get(Body, body.successor_id) if body.successor_id else None,
        "obligations": shown,
        "rollup": status_rollup(views),
        "process": chosen_process,
        "outcome": chosen_outcome,
        "partnerships": partnerships_of_body(session=session, body_id=row_id(body)),
        "errors": errors,
        "values": {},
        "downloads": {
            fmt: "/api/v1/exports/obligations?" + urlencode({"format": fmt, "body": body.code})
            for fmt in ("csv", "xlsx")
        },
    }


@router.get("/bodies/{code}", response_class=HTMLResponse)
def body_page(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    process: str = "",
    outcome: str = "",
) -> HTMLResponse:
    """One body: its obligations with both status dimensions, filters, and its partnerships."""
    context = _body_context(session, settings, principal, code, process, outcome)
    return render(request, "body.html", context, status_code=422 if context["errors"] else 200)


@router.get("/bodies/{code}/report")
def body_report_form(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    pack: str = "",
) -> Response:
    """The as-at form's answer: on to the body's report as at the date typed (today if none),
    or the body page again with the problem."""
    body = body_or_404(session, code)
    require(principal.reads_body(body.id), "This body is not in your scope")
    as_at, problem = report_as_at(request.query_params, settings)
    if problem is None:
        address = report_address(f"bodies/{body.code}", as_at, pack == "true")
        return RedirectResponse(address, status_code=303)
    context = _body_context(session, settings, principal, code, "", "")
    context |= {"errors": {"as_at": problem}, "values": as_at_values(request.query_params)}
    return render(request, "body.html", context, status_code=422)
