"""The list of obligations a user may read, filtered by status, holder and duty, a page at a time:
what the dashboard's counts link to. Also the small helpers the list pages share: reading a
filter value or a page number as a person typed it, a pagination link that keeps the filters,
and the name of the body or partnership each row belongs to."""

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlmodel import Session, col, select

from compliance.access import Principal, require
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty, list_duties
from compliance.db import key_column
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.exports.selection import holders_of
from compliance.models import Body, Obligation, Partnership
from compliance.obligations.judged import in_states, keep_current, sort_order
from compliance.obligations.listing import ObligationFilter, filtered
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.tables import ObligationState
from compliance.obligations.views import ObligationView, view_obligations_for
from compliance.partnerships.service import get_partnership
from compliance.web import PAGE_SIZE, page_span, render

router = page_router()
E = TypeVar("E", bound=StrEnum)
MAX_PAGE = 100_000
# What the dashboard counts: the process states that need doing now, and outcomes not measured.
URGENT = (ProcessStatus.overdue, ProcessStatus.evidence_expired, ProcessStatus.due_soon)
UNMEASURED = (OutcomeStatus.not_measured, OutcomeStatus.no_outcome_defined)
OUTCOMES = list(OutcomeStatus)


def page_number(raw: str | None) -> int:
    """A page number as typed in the address: anything but a whole number is the first page."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_PAGE)):
        return 1
    return min(max(int(text), 1), MAX_PAGE)


def choices(raw: Sequence[str], kind: type[E]) -> tuple[tuple[E, ...], bool]:
    """The values of an enumeration chosen in a filter, and whether any was not one of them."""
    known = {member.value: member for member in kind}
    chosen = tuple(known[value] for value in raw if value in known)
    return tuple(dict.fromkeys(chosen)), any(value not in known for value in raw)


def page_base(pairs: Sequence[tuple[str, Any]]) -> str:
    """The start of a pagination link that keeps every filter set (empty ones left out)."""
    kept = [(key, str(value)) for key, value in pairs if value not in (None, "")]
    return f"?{urlencode(kept)}&" if kept else "?"


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


class Kept:
    """The open obligations a user may read, narrowed by holder and duty, read from their kept
    states (compliance.obligations.judged), judged first where none is kept for the date: what
    the dashboard counts and the obligations list pages through, in a fixed number of queries
    however large the registry. The rows a page shows are judged afresh."""

    def __init__(
        self,
        *,
        session: Session,
        principal: Principal,
        on: dt.date,
        due_soon_days: int,
        body_id: int | None = None,
        partnership_id: int | None = None,
        duty_id: int | None = None,
    ):
        self.session, self.on, self.due_soon_days = session, on, due_soon_days
        self.filters = ObligationFilter(
            body_id=body_id,
            partnership_id=partnership_id,
            duty_id=duty_id,
            body_ids=None if principal.is_admin else principal.body_ids,
            partnership_ids=None if principal.is_admin else principal.readable_partnership_ids,
        )
        narrowed = not principal.is_admin or any(
            v is not None for v in (body_id, partnership_id, duty_id)
        )
        ids = filtered(self.filters, select(key_column(Obligation))) if narrowed else None
        keep_current(session, ids, on=on, due_soon_days=due_soon_days)

    def _select(
        self,
        columns: Sequence[Any],
        statuses: Sequence[ProcessStatus],
        outcomes: Sequence[OutcomeStatus],
    ):
        query = (
            select(*columns)
            .select_from(ObligationState)
            .join(Obligation, Obligation.id == ObligationState.obligation_id)
        )
        kept = in_states(self.on, self.due_soon_days, statuses=statuses, outcomes=outcomes)
        return filtered(self.filters, query).where(*kept)

    def count(
        self, statuses: Sequence[ProcessStatus] = (), outcomes: Sequence[OutcomeStatus] = ()
    ) -> int:
        """How many are in one of these process states and one of these outcome states (either
        left empty: any)."""
        query = self._select([func.count()], statuses, outcomes)
        return self.session.exec(query).one()

    def by_status(self, statuses: Sequence[ProcessStatus]) -> dict[ProcessStatus, int]:
        """How many are in each of these process states."""
        query = self._select([ObligationState.status, func.count()], statuses, ())
        found = dict(self.session.exec(query.group_by(ObligationState.status)).all())
        return {s: found.get(s.value, 0) for s in statuses}

    def views(
        self,
        statuses: Sequence[ProcessStatus] = (),
        outcomes: Sequence[OutcomeStatus] = (),
        *,
        offset: int = 0,
        limit: int,
    ) -> list[ObligationView]:
        """Those in these states, soonest due first (then by holder, source and item), judged
        afresh: `limit` of them from `offset`."""
        dialect = self.session.get_bind().dialect.name
        query = self._select([ObligationState.obligation_id], statuses, outcomes)
        ids = list(
            self.session.exec(query.order_by(*sort_order(dialect)).offset(offset).limit(limit))
        )
        rows = {
            o.id: o
            for o in self.session.exec(select(Obligation).where(col(Obligation.id).in_(ids)))
        }
        return view_obligations_for(
            session=self.session,
            obligations=[rows[i] for i in ids],
            on=self.on,
            due_soon_days=self.due_soon_days,
        )

    def page(
        self,
        number: int,
        statuses: Sequence[ProcessStatus] = (),
        outcomes: Sequence[OutcomeStatus] = (),
        size: int = PAGE_SIZE,
    ) -> dict[str, Any]:
        """One page, with its number and the count for the pagination links (as web.paginate)."""
        total = self.count(statuses, outcomes)
        number, pages = page_span(total, number, size)
        rows = self.views(statuses, outcomes, offset=(number - 1) * size, limit=size)
        return {"rows": rows, "page": number, "pages": pages, "total": total}


def _holder_options(session: Session, principal: Principal) -> tuple[list, list]:
    """The bodies (code, name) and partnerships (slug, name) holding open obligations this user
    may read, by name."""
    held = select(Obligation).where(col(Obligation.closed_date).is_(None))
    by_body = held.with_only_columns(col(Obligation.body_id)).where(
        col(Obligation.body_id).is_not(None)
    )
    by_partnership = held.with_only_columns(col(Obligation.partnership_id)).where(
        col(Obligation.body_id).is_(None)
    )
    # Rows of the two columns the filter's options show: at national scale, thousands of them.
    bodies = select(Body.code, Body.name).where(col(Body.id).in_(by_body))
    partnerships = select(Partnership.slug, Partnership.name).where(
        col(Partnership.id).in_(by_partnership)
    )
    if not principal.is_admin:
        bodies = bodies.where(col(Body.id).in_(principal.body_ids))
        partnerships = partnerships.where(
            col(Partnership.id).in_(principal.readable_partnership_ids)
        )
    return (
        list(session.exec(bodies.order_by(Body.name))),
        list(session.exec(partnerships.order_by(Partnership.name))),
    )


def _looked_up(value: str, find, field: str, errors: dict):
    """The record a filter names, or None; a name that matches nothing is an error by its field
    (a NUL is never looked up: PostgreSQL refuses it in a string)."""
    value = value.strip()
    found = find(value) if value and "\x00" not in value and len(value) <= 200 else None
    if value and found is None:
        errors[field] = f"Choose a {field} from the list"
    return found


def _chosen(session, principal, body: str, partnership: str, duty: str, errors: dict):
    found_body = _looked_up(body, lambda v: get_body(session=session, code=v), "body", errors)
    if found_body is not None:
        require(principal.reads_body(found_body.id), "This body is not in your scope")
    group = _looked_up(
        partnership, lambda v: get_partnership(session=session, slug=v), "partnership", errors
    )
    if group is not None:
        require(principal.reads_partnership(group.id), "This partnership is not in your scope")
    found_duty = _looked_up(duty, lambda v: get_duty(session=session, slug=v), "duty", errors)
    return found_body, group, found_duty


def _downloads(body: Body | None, partnership: Partnership | None) -> dict[str, str]:
    """The obligations export of the rows the list's holder filters select, in each format."""
    pairs = [("body", body and body.code), ("partnership", partnership and partnership.slug)]
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
    found_body, group, found_duty = _chosen(session, principal, body, partnership, duty, errors)
    kept = Kept(
        session=session,
        principal=principal,
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
        body_id=found_body and found_body.id,
        partnership_id=group and group.id,
        duty_id=found_duty and found_duty.id,
    )
    shown = kept.page(page_number(page), statuses, outcomes)
    holders = view_holders(session, shown["rows"])
    bodies, partnerships = _holder_options(session, principal)
    filters = [
        *(("status", s.value) for s in statuses),
        *(("outcome", o.value) for o in outcomes),
        ("body", found_body and found_body.code),
        ("partnership", group and group.slug),
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
        "duties": list_duties(session=session),
        "base": page_base(filters),
        "downloads": _downloads(found_body, group),
    }
    return render(request, "obligations.html", context, status_code=422 if errors else 200)
