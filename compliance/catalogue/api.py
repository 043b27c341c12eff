"""JSON routes for the duty catalogue."""

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from compliance.api import api_router
from compliance.catalogue.service import deliverables_of, get_duty, list_duties
from compliance.db import row_id
from compliance.deps import CurrentUser, SessionDep
from compliance.errors import NotFound
from compliance.models import Deliverable, Duty

router = api_router("catalogue")


DELIVERABLE_EXAMPLE: JsonDict = {
    "slug": "yearly-report",
    "title": "Yearly report on the arrangements and their effectiveness (s16G(7))",
    "cadence": "annual",
    "interval_years": None,
    "held_by": "partnership",
    "due_note": "At least once in every 12 months",
    "due_set_by": "Children Act 2004 s16G(7)",
    "evidence": ["Yearly report", "Publication page"],
    "verified": True,
}
DUTY_EXAMPLE: JsonDict = {
    "slug": "children-act-2004-s16e",
    "title": "Multi-agency safeguarding arrangements for children",
    "act": "Children Act 2004",
    "sections": "s16E (inserted by Children and Social Work Act 2017 s16); s16G(2), (3) and (7)",
    "url": "https://www.legislation.gov.uk/ukpga/2004/31/section/16E",
    "jurisdiction": ["england"],
    "holder_kinds": ["upper_tier_council", "integrated_care_board", "police_force"],
    "partner_kinds": [],
    "summary": "The three safeguarding partners (council, ICB and police) must jointly arrange, "
    "with the local agencies they choose, how children in the area are kept safe.",
    "inspection": "Joint targeted area inspection (Children Act 2004 s20)",
    "verified": True,
    "unverified_note": None,
    "catalogue_version": "2026.11.1",
}


class DeliverablePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DELIVERABLE_EXAMPLE]})

    slug: str
    title: str
    cadence: str
    interval_years: int | None
    held_by: str
    due_note: str | None
    due_set_by: str | None = Field(
        description="The law that sets the due date; null when it is a convention of this catalogue"
    )
    evidence: list[str]
    verified: bool


class DutyPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DUTY_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                DUTY_EXAMPLE
                | {
                    "holders_note": "The three safeguarding partners are the council, the ICB "
                    "and the chief officer of police.",
                    "partners_note": None,
                    "required_members": [
                        ["upper_tier_council"],
                        ["integrated_care_board"],
                        ["police_force"],
                    ],
                    "typical_evidence": ["Published safeguarding arrangements", "Yearly report"],
                    "notes": None,
                    "deliverables": [DELIVERABLE_EXAMPLE],
                }
            ]
        }
    )

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
    """List the statutory duties in the catalogue, with their Act, sections and who they bind."""
    return [duty_public(duty) for duty in list_duties(session=session)]


@router.get("/duties/{slug}", response_model=DutyDetail)
def read_duty(slug: str, session: SessionDep, principal: CurrentUser) -> DutyDetail:
    """One duty with its deliverables: what must be produced, how often, and by whom."""
    duty = get_duty(session=session, slug=slug)
    if duty is None:
        raise NotFound(f"No duty with slug {slug!r}")
    return duty_detail(duty, deliverables_of(session=session, duty_id=row_id(duty)))
