"""HTML page for the duty catalogue."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from compliance.catalogue.service import list_duties
from compliance.deps import SessionDep
from compliance.models import Deliverable
from compliance.web import templates

router = APIRouter(include_in_schema=False)


@router.get("/duties", response_class=HTMLResponse)
def duties_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Every duty in the catalogue, with its citation linked to legislation.gov.uk."""
    duties = list_duties(session=session)
    deliverables: dict[int, list[Deliverable]] = {}
    query = (
        select(Deliverable).where(Deliverable.retired_in_version.is_(None)).order_by(Deliverable.id)
    )
    for deliverable in session.exec(query):
        deliverables.setdefault(deliverable.duty_id, []).append(deliverable)
    context = {"duties": duties, "deliverables": deliverables}
    return templates.TemplateResponse(request, "duties.html", context)
