"""Kinds of public body and nations, and the groups the catalogue may name."""

from enum import StrEnum


class BodyKind(StrEnum):
    county_council = "county_council"
    district_council = "district_council"
    unitary_authority = "unitary_authority"
    metropolitan_district = "metropolitan_district"
    london_borough = "london_borough"
    integrated_care_board = "integrated_care_board"
    nhs_trust = "nhs_trust"
    nhs_foundation_trust = "nhs_foundation_trust"
    police_force = "police_force"
    police_and_crime_commissioner = "police_and_crime_commissioner"
    probation_service = "probation_service"
    fire_and_rescue_authority = "fire_and_rescue_authority"
    youth_offending_team = "youth_offending_team"
    school = "school"
    healthwatch = "healthwatch"
    voluntary_organisation = "voluntary_organisation"
    other = "other"


class Nation(StrEnum):
    england = "england"
    wales = "wales"
    scotland = "scotland"
    northern_ireland = "northern_ireland"


# The catalogue speaks of "the council" or "NHS providers" the way the Acts do; these groups
# turn those words into body kinds. Upper tier: the council with social services functions.
KIND_GROUPS: dict[str, frozenset[BodyKind]] = {
    "council": frozenset(
        {
            BodyKind.county_council,
            BodyKind.district_council,
            BodyKind.unitary_authority,
            BodyKind.metropolitan_district,
            BodyKind.london_borough,
        }
    ),
    "upper_tier_council": frozenset(
        {
            BodyKind.county_council,
            BodyKind.unitary_authority,
            BodyKind.metropolitan_district,
            BodyKind.london_borough,
        }
    ),
    "nhs_provider": frozenset({BodyKind.nhs_trust, BodyKind.nhs_foundation_trust}),
}


def expand_kinds(names: list[str]) -> frozenset[BodyKind]:
    """Return the body kinds meant by a list of kind and group names."""
    kinds: set[BodyKind] = set()
    for name in names:
        kinds |= KIND_GROUPS.get(name) or {BodyKind(name)}
    return frozenset(kinds)


def is_kind_or_group(name: str) -> bool:
    """Tell whether a name is a body kind or a kind group."""
    return name in KIND_GROUPS or name in BodyKind.__members__
