"""HTML pages for the duty catalogue and for funding bids."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from compliance.access import require
from compliance.catalogue.bids import bids_in_scope, get_bid, lead_bodies, may_read_bid
from compliance.catalogue.service import (
    deliverables_by_duty,
    deliverables_of,
    get_duty,
    list_duties,
)
from compliance.db import row_id
from compliance.deps import CurrentUser, FormUser, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound
from compliance.obligations.list_pages import view_holders
from compliance.obligations.views import status_rollup, view_obligations, view_obligations_for
from compliance.paging import numbered, page_number
from compliance.reports.jobs import start_report
from compliance.reports.pages import as_at_values, report_address, report_as_at
from compliance.web import render

router = page_router()


@router.get("/duties", response_class=HTMLResponse)
def duties_page(request: Request, session: SessionDep, principal: CurrentUser) -> HTMLResponse:
    """Every duty in the catalogue, with its citation linked to legislation.gov.uk."""
    context = {
        "duties": list_duties(session=session),
        "deliverables": deliverables_by_duty(session=session),
    }
    return render(request, "duties.html", context)


def _duty_context(session, settings, principal, slug: str, page: str) -> dict:
    """The law, who is bound, and each obligation under it that this user may see, by holder."""
    duty = get_duty(session=session, slug=slug)
    if duty is None:
        raise NotFound(f"No duty with slug {slug!r}")
    views = view_obligations(
        session=session, on=settings.today(), due_soon_days=settings.due_soon_days, duty_id=duty.id
    )
    visible = [v for v in views if principal.reads_obligation(v.obligation)]
    holders = view_holders(session, visible)
    ordered = sorted(
        visible, key=lambda v: (holders.get(row_id(v.obligation), ("",))[0], v.item_title)
    )
    return {
        "duty": duty,
        "deliverables": deliverables_of(session=session, duty_id=row_id(duty)),
        **numbered(ordered, page_number(page)),
        "holders": holders,
        "rollup": status_rollup(visible),
        "errors": {},
        "values": {},
        "detail_holders": settings.report_detail_holders,
    }


@router.get("/duties/{slug}", response_class=HTMLResponse)
def duty_page(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    page: str = "",
) -> HTMLResponse:
    """The law, who is bound, and compliance across the bodies this user may see."""
    return render(request, "duty.html", _duty_context(session, settings, principal, slug, page))


@router.get("/duties/{slug}/report")
def duty_report_form(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    pack: str = "",
) -> Response:
    """The as-at form's answer: on to the duty's report as at the date typed (today if none),
    or the duty page again with the problem."""
    context = _duty_context(session, settings, principal, slug, "")
    as_at, problem = report_as_at(request.query_params, settings)
    if problem is None:
        address = report_address(f"duties/{context['duty'].slug}", as_at, pack == "true")
        return RedirectResponse(address, status_code=303)
    context |= {"errors": {"as_at": problem}, "values": as_at_values(request.query_params)}
    return render(request, "duty.html", context, status_code=422)


@router.post("/duties/{slug}/full-pack")
def duty_full_pack(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    as_at_day: Annotated[str, Form(alias="pack_as_at-day")] = "",
    as_at_month: Annotated[str, Form(alias="pack_as_at-month")] = "",
    as_at_year: Annotated[str, Form(alias="pack_as_at-year")] = "",
) -> Response:
    """Start the duty's full evidence pack in the background (its report, and every body's and
    partnership's own report when the report is a summary); on to the reports page, where its
    progress shows. Or the duty page again with what is wrong with the date."""
    if get_duty(session=session, slug=slug) is None:
        raise NotFound(f"No duty with slug {slug!r}")
    values = {
        "pack_as_at-day": as_at_day,
        "pack_as_at-month": as_at_month,
        "pack_as_at-year": as_at_year,
    }
    as_at, problem = report_as_at(values, settings, name="pack_as_at")
    if problem is not None:
        context = _duty_context(session, settings, principal, slug, "")
        context |= {"errors": {"pack_as_at": problem}, "values": values}
        return render(request, "duty.html", context, status_code=422)
    start_report(
        session=session,
        engine=request.app.state.engine,
        settings=settings,
        principal=principal,
        kind="duty",
        key=slug,
        as_at=as_at,
        full_pack=True,
    )
    return RedirectResponse("/reports", status_code=303)


@router.get("/bids", response_class=HTMLResponse)
def bids_page(
    request: Request, session: SessionDep, principal: CurrentUser, page: str = ""
) -> HTMLResponse:
    """Funding bids in scope, their lead applicants and the streams they bid to."""
    shown = numbered(bids_in_scope(session=session, principal=principal), page_number(page))
    leads = lead_bodies(session=session, bids=[bid for bid, _ in shown["rows"]])
    return render(request, "bids.html", {**shown, "leads": leads})


@router.get("/bids/{reference}", response_class=HTMLResponse)
def bid_page(
    reference: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """One bid: its joint applicants, and its funding conditions with their status."""
    found = get_bid(session=session, reference=reference)
    if found is None:
        raise NotFound(f"No bid with reference {reference!r}")
    applicant_ids = [row_id(body) for body, _ in found.applicants]
    require(may_read_bid(principal, found.bid, applicant_ids), "This bid is not in your scope")
    views = view_obligations_for(
        session=session,
        obligations=found.obligations,
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
    )
    context = {
        "bid": found.bid,
        "stream": found.stream,
        "applicants": found.applicants,
        "obligations": views,
        "holders": view_holders(session, views),
        "conditions": found.conditions,
    }
    return render(request, "bid.html", context)
