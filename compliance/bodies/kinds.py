"""Kinds of public body and nations, and the groups the catalogue may name."""

from enum import StrEnum


class BodyKind(StrEnum):
    county_council = "county_council"
    district_council = "district_council"
    unitary_authority = "unitary_authority"
    metropolitan_district = "metropolitan_district"
    london_borough = "london_borough"
    ni_district_council = "ni_district_council"
    integrated_care_board = "integrated_care_board"
    nhs_trust = "nhs_trust"
    nhs_foundation_trust = "nhs_foundation_trust"
    local_health_board = "local_health_board"
    nhs_wales_trust = "nhs_wales_trust"
    health_board = "health_board"
    integration_joint_board = "integration_joint_board"
    hsc_trust = "hsc_trust"
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
            BodyKind.ni_district_council,
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
    # The NHS body that plans and buys health care for an area, in each nation: the ICB in
    # England, the local health board in Wales, the health board in Scotland, and in Northern
    # Ireland the HSC trust (which also holds the social-care functions councils hold elsewhere).
    "area_health_body": frozenset(
        {
            BodyKind.integrated_care_board,
            BodyKind.local_health_board,
            BodyKind.health_board,
            BodyKind.hsc_trust,
        }
    ),
}

# Kinds that exist in some nations only; a kind not listed may exist in any nation.
# Upper-tier councils are the social-care authorities in England, Wales and Scotland; Northern
# Ireland's district councils are not (its HSC trusts hold those functions).
KIND_NATIONS: dict[BodyKind, frozenset[Nation]] = {
    BodyKind.county_council: frozenset({Nation.england}),
    BodyKind.district_council: frozenset({Nation.england}),
    BodyKind.metropolitan_district: frozenset({Nation.england}),
    BodyKind.london_borough: frozenset({Nation.england}),
    BodyKind.unitary_authority: frozenset({Nation.england, Nation.wales, Nation.scotland}),
    BodyKind.ni_district_council: frozenset({Nation.northern_ireland}),
    BodyKind.integrated_care_board: frozenset({Nation.england}),
    BodyKind.nhs_trust: frozenset({Nation.england}),
    BodyKind.nhs_foundation_trust: frozenset({Nation.england}),
    BodyKind.local_health_board: frozenset({Nation.wales}),
    BodyKind.nhs_wales_trust: frozenset({Nation.wales}),
    BodyKind.health_board: frozenset({Nation.scotland}),
    BodyKind.integration_joint_board: frozenset({Nation.scotland}),
    BodyKind.hsc_trust: frozenset({Nation.northern_ireland}),
}


def exists_in(kind: str, nation: str) -> bool:
    """Tell whether a body of this kind can exist in this nation."""
    nations = KIND_NATIONS.get(BodyKind(kind)) if kind in BodyKind.__members__ else None
    return nations is None or nation in nations


def expand_kinds(names: list[str]) -> frozenset[BodyKind]:
    """Return the body kinds meant by a list of kind and group names."""
    kinds: set[BodyKind] = set()
    for name in names:
        kinds |= KIND_GROUPS.get(name) or {BodyKind(name)}
    return frozenset(kinds)


def is_kind_or_group(name: str) -> bool:
    """Tell whether a name is a body kind or a kind group."""
    return name in KIND_GROUPS or name in BodyKind.__members__
