"""The list of obligations a user may read, filtered by status, holder and duty, a page at a time:
what the dashboard's counts link to. Also the small helpers the list pages share: reading a
filter value or a page number as a person typed it, a pagination link that keeps the filters,
and the name of the body or partnership each row belongs to."""

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlmodel import Session

from compliance.access import require
from compliance.catalogue.service import get_duty, list_duties
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.exports.selection import holders_of
from compliance.obligations.holders import (
    HOLDER_KINDS,
    Holder,
    find_holder,
    searched,
    suggest,
)
from compliance.obligations.kept import Kept, holder_options
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.views import ObligationView
from compliance.paging import page_number
from compliance.web import page_base, render

router = page_router()
E = TypeVar("E", bound=StrEnum)
# What the dashboard counts: the process states that need doing now, and outcomes not measured.
URGENT = (ProcessStatus.overdue, ProcessStatus.evidence_expired, ProcessStatus.due_soon)
UNMEASURED = (OutcomeStatus.not_measured, OutcomeStatus.no_outcome_defined)
OUTCOMES = list(OutcomeStatus)


def choices(raw: Sequence[str], kind: type[E]) -> tuple[tuple[E, ...], bool]:
    """The values of an enumeration chosen in a filter, and whether any was not one of them."""
    known = {member.value: member for member in kind}
    chosen = tuple(known[value] for value in raw if value in known)
    return tuple(dict.fromkeys(chosen)), any(value not in known for value in raw)


def holder_links(session: Session, rows: Sequence[Any]) -> dict[int, tuple[str, str]]:
    """For rows held by a body or a partnership (obligations, findings), by row id: the
    holder's name and the address of its page."""
    bodies, partnerships = holders_of(session, list(rows))
    found = {}
    for row in rows:
        if row.body_id in bodies:
            code, name = bodies[row.body_id]
            found[row.id] = (name, f"/bodies/{code}")
        elif row.partnership_id in partnerships:
            slug, name = partnerships[row.partnership_id]
            found[row.id] = (name, f"/partnerships/{slug}")
    return found


def view_holders(session: Session, views: Sequence[ObligationView]) -> dict[int, tuple[str, str]]:
    """The holder of each obligation shown, by obligation id."""
    return holder_links(session, [v.obligation for v in views])


def _looked_up(value: str, find, field: str, errors: dict, search: bool = False):
    """The record a filter names, or None; a name that matches nothing is an error by its field
    (a NUL is never looked up: PostgreSQL refuses it in a string), said as the filter asks: a
    select's choice, or a search box's text."""
    value = value.strip()
    found = find(value) if value and "\x00" not in value and len(value) <= 200 else None
    if value and found is None:
        errors[field] = (
            f"No {field} has that name or code: type part of it and choose a suggestion"
            if search
            else f"Choose a {field} from the list"
        )
    return found


def _holder(session, text: str, kind: str, errors: dict, search: bool) -> Holder | None:
    """The body or partnership (`kind`) a holder filter names: see _looked_up."""
    return _looked_up(
        text, lambda v: find_holder(session=session, text=v, kinds=(kind,)), kind, errors, search
    )


def _chosen(session, principal, body: str, partnership: str, duty: str, errors: dict, search: bool):
    found_body = _holder(session, body, "body", errors, search)
    if found_body is not None:
        require(principal.reads_body(found_body.body_id), "This body is not in your scope")
    group = _holder(session, partnership, "partnership", errors, search)
    if group is not None:
        require(
            principal.reads_partnership(group.partnership_id),
            "This partnership is not in your scope",
        )
    found_duty = _looked_up(duty, lambda v: get_duty(session=session, slug=v), "duty", errors)
    return found_body, group, found_duty


def _downloads(body: Holder | None, partnership: Holder | None) -> dict[str, str]:
    """The obligations export of the rows the list's holder filters select, in each format."""
    pairs = [("body", body and body.key), ("partnership", partnership and partnership.key)]
    kept = [(key, value) for key, value in pairs if value]
    return {
        fmt: "/api/v1/exports/obligations?" + urlencode([("format", fmt), *kept])
        for fmt in ("csv", "xlsx")
    }


@router.get("/obligations", response_class=HTMLResponse)
def obligations_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    status: Annotated[list[str] | None, Query()] = None,
    outcome: Annotated[list[str] | None, Query()] = None,
    body: str = "",
    partnership: str = "",
    duty: str = "",
    page: str = "",
) -> HTMLResponse:
    """Every open obligation in scope, filtered by process and outcome status, holder and duty,
    soonest due first, a page at a time."""
    errors: dict[str, str] = {}
    statuses, bad_status = choices(status or [], ProcessStatus)
    if bad_status:
        errors["status"] = "Choose process statuses from the list"
    outcomes, bad_outcome = choices(outcome or [], OutcomeStatus)
    if bad_outcome:
        errors["outcome"] = "Choose outcome statuses from the list"
    # Too many to write as options, the holders are searched as the user types (/holders).
    search = searched(session, principal)
    found_body, group, found_duty = _chosen(
        session, principal, body, partnership, duty, errors, search
    )
    kept = Kept(
        session=session,
        principal=principal,
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
        body_id=found_body and found_body.body_id,
        partnership_id=group and group.partnership_id,
        duty_id=found_duty and found_duty.id,
    )
    shown = kept.page(page_number(page), statuses, outcomes)
    holders = view_holders(session, shown["rows"])
    bodies, partnerships = (
        ([], []) if search else holder_options(session=session, principal=principal)
    )
    filters = [
        *(("status", s.value) for s in statuses),
        *(("outcome", o.value) for o in outcomes),
        ("body", found_body and found_body.key),
        ("partnership", group and group.key),
        ("duty", found_duty and found_duty.slug),
    ]
    context = {
        **shown,
        "holders": holders,
        "errors": errors,
        "today": settings.today(),
        "statuses": statuses,
        "outcomes": outcomes,
        "outcome_statuses": OUTCOMES,
        "body": found_body,
        "partnership": group,
        "duty": found_duty,
        "bodies": bodies,
        "partnerships": partnerships,
        "search": search,
        "typed": {"body": body, "partnership": partnership},
        "duties": list_duties(session=session),
        "base": page_base(filters),
        "downloads": _downloads(found_body, group),
    }
    return render(request, "obligations.html", context, status_code=422 if errors else 200)


# What each holder filter searches: its field's name in the pages, and the kinds it may name.
SEARCHED_KINDS = {"body": ("body",), "partnership": ("partnership",), "holder": HOLDER_KINDS}


@router.get("/holders", response_class=JSONResponse)
def holder_suggestions(
    session: SessionDep, principal: CurrentUser, q: str = "", kind: str = "holder"
) -> JSONResponse:
    """What a holder filter's search box suggests as the user types: the first bodies or
    partnerships this user may read whose name or code holds the text, each as "name (code)".
    Anything the filter cannot search suggests nothing."""
    kinds = SEARCHED_KINDS.get(kind, ())
    found = suggest(session=session, principal=principal, text=q, kinds=kinds) if kinds else []
    return JSONResponse(found)
