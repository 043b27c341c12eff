"""The duty catalogue: complete, validated on load, loaded in place across versions."""

import shutil
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from compliance.catalogue.schema import DutyFile, FundingFile
from compliance.catalogue.service import CATALOGUE_DIR, CatalogueError, load_catalogue, read_spec
from compliance.models import Deliverable, Duty, FundingCondition, FundingStream, Obligation
from compliance.obligations.service import sync_obligations
from tests.factories import make_body


def test_catalogue_holds_at_least_25_duties_each_citing_legislation_gov_uk():
    duties = read_spec(CATALOGUE_DIR / "duties.yaml", DutyFile).duties
    assert len(duties) >= 25
    assert all(str(d.url).startswith("https://www.legislation.gov.uk/") for d in duties)


def test_facts_the_fact_sheet_marks_unverified_stay_unverified():
    duties = {d.slug: d for d in read_spec(CATALOGUE_DIR / "duties.yaml", DutyFile).duties}
    for slug in (
        "nhsa-2006-s14z42",
        "children-act-1989-s27",
        "nhsa-2006-s72",
        "homelessness-act-2002-s1",
    ):
        assert duties[slug].verified is False, slug
        assert duties[slug].unverified_note
    streams = {
        s.slug: s for s in read_spec(CATALOGUE_DIR / "funding.yaml", FundingFile).funding_streams
    }
    assert streams["better-care-fund-2026-27"].verified is False
    bcf = streams["better-care-fund-2025-26"]
    assert any(not c.verified for c in bcf.conditions)


def test_every_funding_stream_of_the_fact_sheet_is_there():
    streams = read_spec(CATALOGUE_DIR / "funding.yaml", FundingFile).funding_streams
    assert len(streams) >= 8


def snapshot(session):
    rows = []
    for model in (Duty, Deliverable, FundingStream, FundingCondition):
        for row in session.exec(select(model)):
            rows.append(row.model_dump())
    return rows


def test_the_fact_sheets_corrections_are_carried():
    duties = {d.slug: d for d in read_spec(CATALOGUE_DIR / "duties.yaml", DutyFile).duties}
    # Pooled-fund reporting is SI 2000/617 reg 7; reg 9 concerns delegated functions.
    s75 = duties["nhsa-2006-s75"]
    reporting = next(d for d in s75.deliverables if d.slug == "s75-quarterly-reporting")
    assert "reg 7" in s75.sections and "reg 7" in reporting.title
    assert "reg 9" not in s75.sections + reporting.title
    # LGPIHA 2007 s116B binds responsible local authorities (s116(4)) and ICBs only.
    bound = {"upper_tier_council", "integrated_care_board"}
    assert set(duties["lgpiha-2007-s116b"].holders) == bound


def test_loading_twice_changes_nothing(session):
    before = snapshot(session)
    report = load_catalogue(session=session)
    assert not report.changed
    assert snapshot(session) == before


def copy_catalogue(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target)
    return target


def edit(path: Path, change) -> None:  # noqa: ANN001
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_bad_file_names_the_file_the_entry_and_the_field(session, tmp_path):
    directory = copy_catalogue(tmp_path)

    def break_cadence(data):
        data["duties"][2]["deliverables"][0]["cadence"] = "fortnightly"

    edit(directory / "duties.yaml", break_cadence)
    slug = yaml.safe_load((directory / "duties.yaml").read_text())["duties"][2]["slug"]
    with pytest.raises(CatalogueError) as error:
        load_catalogue(session=session, directory=directory)
    message = str(error.value)
    assert "duties.yaml" in message
    assert f"entry 3 ({slug})" in message
    assert "field deliverables.0.cadence" in message


def test_an_unknown_body_kind_is_refused(tmp_path):
    directory = copy_catalogue(tmp_path)
    edit(directory / "duties.yaml", lambda data: data["duties"][0]["holders"].append("parish"))
    with pytest.raises(CatalogueError, match="unknown body kind or group 'parish'"):
        read_spec(directory / "duties.yaml", DutyFile)


def test_a_new_version_updates_in_place_and_never_orphans_an_obligation(session, tmp_path):
    body = make_body(session)
    sync_obligations(session=session, on=__import__("datetime").date(2026, 11, 26))
    directory = copy_catalogue(tmp_path)
    target = session.exec(select(Duty).where(Duty.slug == "care-act-2014-s6")).one()
    target_id = target.id

    def new_version(data):
        data["catalogue_version"] = "2027.01.1"
        duty = next(d for d in data["duties"] if d["slug"] == "care-act-2014-s6")
        duty["summary"] = "Reworded summary."
        retired = duty["deliverables"].pop(0)
        duty["deliverables"].append({**retired, "slug": "renamed-review"})

    edit(directory / "duties.yaml", new_version)
    report = load_catalogue(session=session, directory=directory)
    assert "duty care-act-2014-s6" in report.updated
    duty = session.get(Duty, target_id)
    assert (duty.summary, duty.catalogue_version) == ("Reworded summary.", "2027.01.1")
    sync = sync_obligations(session=session, on=__import__("datetime").date(2026, 11, 27))
    closed = [
        o
        for o in session.exec(select(Obligation).where(Obligation.body_id == body.id))
        if o.closed_date
    ]
    assert (
        closed and "removed from the duty catalogue in version 2027.01.1" in closed[0].closed_reason
    )
    assert sync.opened >= 1
    assert session.get(Deliverable, closed[0].deliverable_id) is not None
