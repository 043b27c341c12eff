"""The schema every catalogue file is checked against when it is loaded."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from compliance.bodies.kinds import Nation, is_kind_or_group

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
Text = Annotated[str, Field(min_length=1)]


def _known_kind(name: str) -> str:
    if not is_kind_or_group(name):
        raise ValueError(f"unknown body kind or group {name!r}")
    return name


KindName = Annotated[str, AfterValidator(_known_kind)]


class Cadence(StrEnum):
    """How often a deliverable falls due."""

    annual = "annual"
    quarterly = "quarterly"
    every_n_years = "every_n_years"
    one_off = "one_off"
    continuous = "continuous"
    standing = "standing"
    per_case = "per_case"


# Duties that run all the time (continuous, standing bodies, case by case) are standing duties:
# no Act sets them a date, so the catalogue asks for assurance once a year by convention and
# judges them by the date of their last assurance, not by a string of missed periods.
STANDING = frozenset({Cadence.continuous, Cadence.standing, Cadence.per_case})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Due(Strict):
    """When an occurrence is due, relative to its period."""

    relative_to: Literal["period_start", "period_end"] = "period_end"
    offset_days: int = Field(default=0, ge=-366, le=366)


class DeliverableSpec(Strict):
    slug: Slug
    title: Text
    cadence: Cadence
    interval_years: int | None = Field(default=None, ge=2, le=10)
    year_start: Literal["financial", "calendar"] = "financial"
    due: Due = Due()
    due_date: dt.date | None = None
    held_by: Literal["holder", "partnership"] = "holder"
    holders: list[KindName] = []
    due_note: str | None = None
    # The Act, regulation or section that fixes the due date ("Children Act 2004 s16G(7)").
    # Absent, the date is a convention of this catalogue: a missed one is an assurance gap,
    # never a breach.
    due_set_by: str | None = None
    evidence: list[Text] = []
    verified: bool = True

    @model_validator(mode="after")
    def _cadence_fields(self) -> "DeliverableSpec":
        if self.due_set_by is not None and self.cadence in STANDING:
            raise ValueError(
                "a continuing, standing or per-case duty has no statutory date: "
                "drop due_set_by (its annual review is a convention)"
            )
        if (self.cadence == Cadence.every_n_years) != (self.interval_years is not None):
            raise ValueError("interval_years is required for every_n_years and only for it")
        if self.due_date is not None and self.cadence != Cadence.one_off:
            raise ValueError("due_date is only for one_off deliverables")
        if self.holders and self.held_by != "holder":
            raise ValueError("holders narrows who holds a deliverable; it needs held_by: holder")
        return self


class DutySpec(Strict):
    slug: Slug
    title: Text
    act: Text
    sections: Text
    url: HttpUrl
    jurisdiction: list[Nation] = Field(min_length=1)
    holders: list[KindName] = Field(min_length=1)
    holders_note: str | None = None
    partners: list[KindName] = []
    partners_note: str | None = None
    required_members: list[list[KindName]] = []
    summary: Text
    typical_evidence: list[Text] = []
    inspection: str | None = None
    notes: str | None = None
    verified: bool = True
    unverified_note: str | None = None
    deliverables: list[DeliverableSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "DutySpec":
        if not self.verified and not self.unverified_note:
            raise ValueError("unverified_note is required when verified is false")
        if not str(self.url).startswith("https://www.legislation.gov.uk/"):
            raise ValueError("url must be on https://www.legislation.gov.uk/")
        slugs = [d.slug for d in self.deliverables]
        if len(slugs) != len(set(slugs)):
            raise ValueError("deliverable slugs must be unique within a duty")
        return self


class ConditionSpec(Strict):
    slug: Slug
    title: Text
    description: Text
    cadence: Literal["one_off", "quarterly", "annual"] = "one_off"
    due: Due = Due()
    due_date: dt.date | None = None
    evidence: list[Text] = []
    verified: bool = True

    @model_validator(mode="after")
    def _due(self) -> "ConditionSpec":
        if self.cadence == "one_off" and self.due_date is None:
            raise ValueError("a one_off condition needs a due_date")
        return self


class FundingStreamSpec(Strict):
    slug: Slug
    name: Text
    period_start: dt.date
    period_end: dt.date
    legal_basis: str | None = None
    url: HttpUrl
    summary: Text
    applicants: list[KindName] = []
    verified: bool = True
    unverified_note: str | None = None
    conditions: list[ConditionSpec] = []

    @model_validator(mode="after")
    def _consistent(self) -> "FundingStreamSpec":
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        if not self.verified and not self.unverified_note:
            raise ValueError("unverified_note is required when verified is false")
        return self


class DutyFile(Strict):
    catalogue_version: Text
    duties: list[DutySpec]


class FundingFile(Strict):
    catalogue_version: Text
    funding_streams: list[FundingStreamSpec]
