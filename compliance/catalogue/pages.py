"""HTML pages for the duty catalogue and for funding bids."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from compliance.access import require
from compliance.catalogue.service import deliverables_of, get_duty, list_duties
from compliance.db import row_id, stored
from compliance.deps import CurrentUser, FormUser, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound
from compliance.models import (
    Bid,
    BidApplicant,
    Body,
    Deliverable,
    FundingCondition,
    FundingStream,
    Obligation,
)
from compliance.obligations.list_pages import page_number, view_holders
from compliance.obligations.views import status_rollup, view_obligations, view_obligations_for
from compliance.reports.jobs import start_report
from compliance.reports.pages import as_at_values, report_address, report_as_at
from compliance.web import paginate, render

router = page_router()


@router.get("/duties", response_class=HTMLResponse)
def duties_page(request: Request, session: SessionDep, principal: CurrentUser) -> HTMLResponse:
    """Every duty in the catalogue, with its citation linked to legislation.gov.uk."""
    duties = list_duties(session=session)
    deliverables: dict[int, list[Deliverable]] = {}
    query = select(Deliverable).where(col(Deliverable.retired_in_version).is_(None))
    for deliverable in session.exec(query.order_by(col(Deliverable.id))):
        deliverables.setdefault(deliverable.duty_id, []).append(deliverable)
    return render(request, "duties.html", {"duties": duties, "deliverables": deliverables})


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
        **paginate(ordered, page_number(page)),
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


def _bid_visible(principal, applicants: list[int], bid: Bid) -> bool:
    return (
        principal.is_admin
        or any(principal.reads_body(b) for b in applicants)
        or principal.reads_partnership(bid.partnership_id)
    )


@router.get("/bids", response_class=HTMLResponse)
def bids_page(
    request: Request, session: SessionDep, principal: CurrentUser, page: str = ""
) -> HTMLResponse:
    """Funding bids in scope, their lead applicants and the streams they bid to."""
    applicants: dict[int, list[int]] = {}
    for row in session.exec(select(BidApplicant)):
        applicants.setdefault(row.bid_id, []).append(row.body_id)
    rows = session.exec(
        select(Bid, FundingStream).join(FundingStream).order_by(Bid.reference)
    ).all()
    visible = [(b, s) for b, s in rows if _bid_visible(principal, applicants.get(row_id(b), []), b)]
    shown = paginate(visible, page_number(page))
    leads = {b.id: b.lead_body_id for b, _ in shown["rows"]}
    bodies = session.exec(select(Body).where(col(Body.id).in_(set(leads.values())))).all()
    by_id = {body.id: body for body in bodies}
    context = {**shown, "leads": {bid: by_id.get(body) for bid, body in leads.items()}}
    return render(request, "bids.html", context)


@router.get("/bids/{reference}", response_class=HTMLResponse)
def bid_page(
    reference: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """One bid: its joint applicants, and its funding conditions with their status."""
    bid = session.exec(select(Bid).where(Bid.reference == reference)).first()
    if bid is None:
        raise NotFound(f"No bid with reference {reference!r}")
    applicants = session.exec(
        select(Body, BidApplicant)
        .join(BidApplicant, col(BidApplicant.body_id) == Body.id)
        .where(BidApplicant.bid_id == bid.id)
    ).all()
    require(
        _bid_visible(principal, [row_id(b) for b, _ in applicants], bid),
        "This bid is not in your scope",
    )
    obligations = session.exec(select(Obligation).where(Obligation.bid_id == bid.id)).all()
    views = view_obligations_for(
        session=session,
        obligations=list(obligations),
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
    )
    stream = stored(session, FundingStream, bid.stream_id)
    conditions = session.exec(
        select(FundingCondition).where(col(FundingCondition.stream_id) == stream.id)
    ).all()
    return render(
        request,
        "bid.html",
        {
            "bid": bid,
            "stream": stream,
            "applicants": applicants,
            "obligations": views,
            "holders": view_holders(session, views),
            "conditions": conditions,
        },
    )
