"""JSON routes for the duty catalogue."""

from pydantic import BaseModel

from compliance.api import api_router
from compliance.catalogue.service import deliverables_of, get_duty, list_duties
from compliance.deps import CurrentUser, SessionDep
from compliance.errors import NotFound
from compliance.models import Deliverable, Duty

router = api_router("catalogue")


class DeliverablePublic(BaseModel):
    slug: str
    title: str
    cadence: str
    interval_years: int | None
    held_by: str
    due_note: str | None
    evidence: list[str]
    verified: bool


class DutyPublic(BaseModel):
    slug: str
    title: str
    act: str
    sections: str
    url: str
    jurisdiction: list[str]
    holder_kinds: list[str]
    partner_kinds: list[str]
    summary: str
    inspection: str | None
    verified: bool
    unverified_note: str | None
    catalogue_version: str


class DutyDetail(DutyPublic):
    holders_note: str | None
    partners_note: str | None
    required_members: list[list[str]]
    typical_evidence: list[str]
    notes: str | None
    deliverables: list[DeliverablePublic]


def duty_public(duty: Duty) -> DutyPublic:
    return DutyPublic.model_validate(duty, from_attributes=True)


def duty_detail(duty: Duty, deliverables: list[Deliverable]) -> DutyDetail:
    items = [DeliverablePublic.model_validate(d, from_attributes=True) for d in deliverables]
    fields = DutyPublic.model_validate(duty, from_attributes=True).model_dump()
    extra = {
        name: getattr(duty, name)
        for name in (
            "holders_note",
            "partners_note",
            "required_members",
            "typical_evidence",
            "notes",
        )
    }
    return DutyDetail(**fields, **extra, deliverables=items)


@router.get("/duties", response_model=list[DutyPublic])
def read_duties(session: SessionDep, principal: CurrentUser) -> list[DutyPublic]:
    """List the duties in the catalogue."""
    return [duty_public(duty) for duty in list_duties(session=session)]


@router.get("/duties/{slug}", response_model=DutyDetail)
def read_duty(slug: str, session: SessionDep, principal: CurrentUser) -> DutyDetail:
    """One duty with its deliverables."""
    duty = get_duty(session=session, slug=slug)
    if duty is None:
        raise NotFound(f"No duty with slug {slug!r}")
    return duty_detail(duty, deliverables_of(session=session, duty_id=duty.id))
