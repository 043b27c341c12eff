"""What the catalogue says, read through its real schema: law apart from convention, duties in
the right nations, and unverified entries that say why."""

import datetime as dt

import pytest
from sqlmodel import select

from compliance.bodies.kinds import KIND_GROUPS, Nation, exists_in, expand_kinds
from compliance.catalogue.schema import STANDING, DutyFile, FundingFile
from compliance.catalogue.service import CATALOGUE_DIR, read_spec
from compliance.models import Deliverable, Duty, Obligation
from compliance.obligations.service import sync_obligations
from tests.factories import make_body

DUTIES = read_spec(CATALOGUE_DIR / "duties.yaml", DutyFile)
FUNDING = read_spec(CATALOGUE_DIR / "funding.yaml", FundingFile)
BY_SLUG = {duty.slug: duty for duty in DUTIES.duties}
DELIVERABLES = [(duty, item) for duty in DUTIES.duties for item in duty.deliverables]
CONVENTION_WORDS = "convention"

# Streams whose year has passed but which stay in the catalogue as the history of bids made.
KEPT_AS_HISTORY = {"better-care-fund-2025-26"}
# The day this version of the funding catalogue was prepared: a fixed date, not the clock.
FUNDING_REVIEWED_ON = dt.date(2026, 12, 4)

ON = dt.date(2026, 12, 1)


def label(duty, item) -> str:  # noqa: ANN001
    return f"{duty.slug}/{item.slug}"


def test_both_files_carry_the_same_version():
    assert DUTIES.catalogue_version == FUNDING.catalogue_version


@pytest.mark.parametrize("duty,item", DELIVERABLES, ids=[label(d, i) for d, i in DELIVERABLES])
def test_a_standing_duty_never_names_a_law_for_its_date(duty, item):
    if item.cadence in STANDING:
        assert item.due_set_by is None


@pytest.mark.parametrize("duty,item", DELIVERABLES, ids=[label(d, i) for d, i in DELIVERABLES])
def test_a_date_the_law_does_not_set_is_called_a_convention(duty, item):
    if item.due_set_by is None:
        assert item.due_note, "a convention date needs a due note saying so"
        assert CONVENTION_WORDS in item.due_note.lower(), item.due_note
    else:
        assert 0 < len(item.due_set_by) <= 200
        assert item.due_set_by.strip() == item.due_set_by


def test_an_annual_duty_without_a_date_in_law_says_so_in_the_agreed_words():
    # Where the law asks for something each year but names no date, the catalogue's date is
    # its own convention and the note says so in these words.
    for slug, item_slug in (
        ("cda-1998-s38-s40", "youth-justice-plan"),
        ("cja-2003-s325", "mappa-annual-report"),
        ("care-act-2014-s42-s45", "sab-strategic-plan"),
        ("care-act-2014-s42-s45", "sab-annual-report"),
        ("daa-2021-part4", "da-annual-report"),
    ):
        item = next(d for d in BY_SLUG[slug].deliverables if d.slug == item_slug)
        assert item.due_set_by is None
        assert "a convention of this catalogue; no statutory date" in " ".join(
            item.due_note.split()
        )


def test_the_dates_the_fact_sheet_calls_statutory_name_their_law():
    expected = {
        ("children-act-2004-s16e", "safeguarding-yearly-report"): "Children Act 2004 s16G(7)",
        ("pbjw-2014", "ij-performance-report"): "s42(4)",
        ("daa-2021-part4", "da-strategy-review"): "SI 2021/990 reg 4",
        ("cda-1998-s5-s6", "csp-partnership-plan"): "SI 2007/1830 reg 10(2)",
    }
    for (slug, item_slug), citation in expected.items():
        item = next(d for d in BY_SLUG[slug].deliverables if d.slug == item_slug)
        assert item.due_set_by and citation in item.due_set_by, (slug, item_slug)
    # The 31 March date of the county community safety agreement is a convention.
    csp = {d.slug: d for d in BY_SLUG["cda-1998-s5-s6"].deliverables}
    assert csp["csp-community-safety-agreement"].due_set_by is None


def test_every_unverified_entry_says_why():
    for duty in DUTIES.duties:
        if not duty.verified:
            assert duty.unverified_note and duty.unverified_note.strip(), duty.slug
    for stream in FUNDING.funding_streams:
        if not stream.verified:
            assert stream.unverified_note and stream.unverified_note.strip(), stream.slug


def test_no_district_council_in_a_two_tier_area_is_named_for_s116b():
    duty = BY_SLUG["lgpiha-2007-s116b"]
    assert "district_council" not in expand_kinds(duty.holders)
    assert all("district_council" not in expand_kinds(d.holders) for d in duty.deliverables)


def test_no_english_district_council_holds_s116b_once_loaded(session):
    district = make_body(session, code="E07000990", kind="district_council")
    county = make_body(session, code="E10000990", kind="county_council")
    sync_obligations(session=session, on=ON)
    duty = session.exec(select(Duty).where(Duty.slug == "lgpiha-2007-s116b")).one()
    holders = {
        o.body_id
        for o in session.exec(
            select(Obligation)
            .join(Deliverable, Deliverable.id == Obligation.deliverable_id)
            .where(Deliverable.duty_id == duty.id)
        )
    }
    assert district.id not in holders
    assert county.id in holders


COVENANT = {
    "afa-2006-s343aa": Nation.england,
    "afa-2006-s343ab": Nation.wales,
    "afa-2006-s343ac": Nation.scotland,
    "afa-2006-s343ad": Nation.northern_ireland,
}


@pytest.mark.parametrize("slug,nation", COVENANT.items())
def test_each_covenant_section_runs_in_its_own_nation_only(slug, nation):
    duty = BY_SLUG[slug]
    assert duty.jurisdiction == [nation]
    assert duty.sections == "s" + slug.rsplit("-", 1)[1].upper().replace("S", "", 1)
    # Every holder named is a kind that exists in that nation (a group, such as "council",
    # at least has members there; the duty's jurisdiction leaves out the rest).
    for name in duty.holders:
        assert any(exists_in(kind, nation) for kind in KIND_GROUPS.get(name) or {name}), name
        if name not in KIND_GROUPS:
            assert exists_in(name, nation), name
    assert [d.slug for d in duty.deliverables] == ["armed-forces-covenant-assurance"]


def test_the_northern_ireland_covenant_section_flags_the_councils_question():
    duty = BY_SLUG["afa-2006-s343ad"]
    assert duty.verified is False
    assert "district council" in duty.unverified_note.lower()
    assert "not settled" in duty.unverified_note


@pytest.mark.parametrize(
    "code,kind,nation,section",
    [
        ("E06000990", "unitary_authority", "england", "afa-2006-s343aa"),
        ("W06000990", "unitary_authority", "wales", "afa-2006-s343ab"),
        ("7A9", "local_health_board", "wales", "afa-2006-s343ab"),
        ("S12000990", "unitary_authority", "scotland", "afa-2006-s343ac"),
        ("SHB99", "health_board", "scotland", "afa-2006-s343ac"),
        ("ZT9", "hsc_trust", "northern_ireland", "afa-2006-s343ad"),
    ],
)
def test_a_body_is_bound_by_its_own_nations_covenant_section(session, code, kind, nation, section):
    body = make_body(session, code=code, kind=kind, nation=nation)
    sync_obligations(session=session, on=ON)
    slugs = {
        session.get(Duty, session.get(Deliverable, o.deliverable_id).duty_id).slug
        for o in session.exec(select(Obligation).where(Obligation.body_id == body.id))
    }
    assert {s for s in slugs if s.startswith("afa-2006-")} == {section}


def test_every_holder_exists_in_a_nation_where_its_duty_runs():
    for duty in DUTIES.duties:
        for name in duty.holders + duty.partners:
            kinds = KIND_GROUPS.get(name) or {name}
            assert any(exists_in(kind, nation) for kind in kinds for nation in duty.jurisdiction), (
                duty.slug,
                name,
            )


def test_where_a_duty_runs_in_wales_the_local_health_board_stands_beside_the_icb():
    for duty in DUTIES.duties:
        if Nation.wales not in duty.jurisdiction:
            continue
        for group in duty.required_members:
            if "integrated_care_board" in group:
                assert "local_health_board" in group, duty.slug
        if "integrated_care_board" in duty.holders:
            assert "local_health_board" in duty.holders, duty.slug


def test_the_mappa_duty_to_cooperate_opens_for_each_cooperating_body(session):
    bodies = [
        make_body(session, code="E06000991"),
        make_body(session, code="QZ7", kind="integrated_care_board"),
        make_body(session, code="RZ7", kind="nhs_trust"),
        make_body(session, code="YOT99", kind="youth_offending_team"),
    ]
    sync_obligations(session=session, on=ON)
    duty = session.exec(select(Duty).where(Duty.slug == "cja-2003-s325-3")).one()
    holding = {
        o.body_id
        for o in session.exec(
            select(Obligation)
            .join(Deliverable, Deliverable.id == Obligation.deliverable_id)
            .where(Deliverable.duty_id == duty.id)
        )
    }
    assert {b.id for b in bodies} <= holding


def test_streams_whose_year_has_passed_are_only_those_kept_as_history():
    passed = {s.slug for s in FUNDING.funding_streams if s.period_end < FUNDING_REVIEWED_ON}
    assert passed == KEPT_AS_HISTORY


def test_the_changelog_has_this_version_first():
    text = (CATALOGUE_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = [line for line in text.splitlines() if line.startswith("## ")]
    assert versions[0].startswith(f"## {DUTIES.catalogue_version}")
