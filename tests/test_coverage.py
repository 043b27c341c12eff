"""docs/catalogue-coverage.md: held to the catalogue and to the rules of applicability."""

import re
from pathlib import Path

import pytest
from sqlmodel import select

from compliance.catalogue.coverage import (
    CONVENTION,
    NONE_HELD,
    NOTHING_BINDS,
    live_catalogue,
    render,
)
from compliance.models import Deliverable, Duty

DOC = Path(__file__).resolve().parents[1] / "docs" / "catalogue-coverage.md"
REGENERATE = (
    "(d=$(mktemp -d) && export COMPLIANCE_DATA_DIR=$d COMPLIANCE_DATABASE_URL=sqlite:///$d/c.db"
    " && .venv/bin/compliance init && .venv/bin/compliance coverage)"
)
SLUG = re.compile(r"\(`([a-z0-9-]+)`\)")


def rendered(session) -> str:  # noqa: ANN001
    duties, deliverables = live_catalogue(session=session)
    return render(duties=duties, deliverables=deliverables)


def first_difference(old: str, new: str) -> str:
    pairs = zip(old.splitlines() + [""], new.splitlines() + [""], strict=False)
    number, (was, now) = next((n, p) for n, p in enumerate(pairs, 1) if p[0] != p[1])
    same = (a == b for a, b in zip(was, now, strict=False))
    column = next((i for i, equal in enumerate(same) if not equal), min(len(was), len(now)))
    shown = slice(max(0, column - 60), column + 60)
    return (
        f"first difference at line {number}, column {column + 1}:\n"
        f"  file: {was[shown]!r}\n  code: {now[shown]!r}"
    )


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    """Each `###` section of the document ("England: county_council"), as its table's rows."""
    found: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        found[heading.replace("`", "")] = table_rows(body)
    return found


def table_rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    if not lines:
        return []
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return [dict(zip(split[0], cells, strict=True)) for cells in split[2:]]


def slugs(rows: list[dict[str, str]]) -> set[str]:
    return {SLUG.search(row["Duty"]).group(1) for row in rows}


def test_the_document_is_the_one_the_catalogue_and_the_code_give(session):
    expected = rendered(session)
    written = DOC.read_bytes() if DOC.exists() else None
    if written != expected.encode("utf-8"):
        where = (
            first_difference(written.decode("utf-8", "replace"), expected)
            if written is not None
            else "the file is missing"
        )
        pytest.fail(
            f"docs/catalogue-coverage.md no longer matches the catalogue and the code ({where}).\n"
            f"Regenerate it from the repository's folder, on a scratch database:\n  {REGENERATE}",
            pytrace=False,
        )


def test_an_english_district_council_is_not_bound_to_have_regard_to_the_jsna(session):
    s116b = session.exec(select(Duty).where(Duty.slug == "lgpiha-2007-s116b")).one()
    cited = f"{s116b.act} {s116b.sections}"
    found = sections(rendered(session))
    assert cited in {row["Act and sections"] for row in found["England: county_council"]}
    district = found["England: district_council"]
    assert district and cited not in {row["Act and sections"] for row in district}
    assert "lgpiha-2007-s116b" not in slugs(district)


def test_a_welsh_unitary_authority_carries_no_england_only_duty(session):
    england_only = {
        duty.slug for duty in session.exec(select(Duty)) if duty.jurisdiction == ["england"]
    }
    found = sections(rendered(session))
    assert england_only & slugs(found["England: unitary_authority"])
    welsh = found["Wales: unitary_authority"]
    assert welsh and not england_only & slugs(welsh)


def test_a_northern_irish_district_council_is_not_bound_by_the_care_act(session):
    found = sections(rendered(session))
    assert any(
        r["Act and sections"].startswith("Care Act 2014") for r in found["England: county_council"]
    )
    ni = found["Northern Ireland: ni_district_council"]
    assert not any(row["Act and sections"].startswith("Care Act 2014") for row in ni)


def test_every_deliverable_says_what_sets_its_due_date(session):
    text = rendered(session)
    rows = [row for table in sections(text).values() for row in table]
    rows += table_rows(text.partition("## Held by partnerships")[2])
    deliverables = [row for row in rows if row["Cadence"]]
    assert deliverables
    for row in deliverables:
        assert row["Due date"].startswith("set by ") or row["Due date"] == CONVENTION, row
    assert all(row["Deliverable"].startswith(NONE_HELD) for row in rows if not row["Cadence"])


def test_every_partnership_deliverable_is_listed_once(session):
    _, deliverables = live_catalogue(session=session)
    text = rendered(session)
    listed = table_rows(text.partition("## Held by partnerships")[2])
    assert len(listed) == sum(1 for d in deliverables if d.held_by == "partnership")


def test_kinds_nothing_binds_say_so_and_retired_entries_are_left_out(session):
    duty = session.exec(select(Duty).where(Duty.slug == "care-act-2014-s6")).one()
    duty.retired_in_version = "2099.1.1"
    session.flush()
    text = rendered(session)
    assert "care-act-2014-s6" not in text
    assert f"Nothing: {NOTHING_BINDS}." in text


def make_duty(**overrides) -> Duty:  # noqa: ANN003
    values = {
        "id": 1,
        "slug": "test-act-s1",
        "title": "A test duty",
        "act": "Test Act 2030",
        "sections": "s1",
        "url": "https://www.legislation.gov.uk/",
        "jurisdiction": ["wales"],
        "holder_kinds": ["local_health_board"],
        "summary": "A duty for the test.",
        "catalogue_version": "2030.1.1",
    }
    return Duty(**{**values, **overrides})


def make_deliverable(**overrides) -> Deliverable:  # noqa: ANN003
    values = {
        "id": 1,
        "duty_id": 1,
        "slug": "report",
        "title": "Annual report",
        "cadence": "annual",
    }
    return Deliverable(**{**values, **overrides})


def test_without_a_database_a_law_that_sets_the_date_and_doubt_are_shown():
    duty = make_duty(verified=False)
    dated = make_deliverable(due_set_by="Test Act 2030 s1(4)")
    board = make_deliverable(
        id=2, slug="board", title="Board", cadence="standing", held_by="partnership"
    )
    text = render(duties=[duty], deliverables=[dated, board])
    assert text.startswith("# Catalogue coverage\n\nDuty catalogue 2030.1.1.")
    [row] = sections(text)["Wales: local_health_board"]
    assert row["Duty"] == "A test duty (`test-act-s1`) (unverified)"
    assert (row["Cadence"], row["Due date"]) == ("annual", "set by Test Act 2030 s1(4)")
    [shared] = table_rows(text.partition("## Held by partnerships")[2])
    assert (shared["Nations"], shared["Cadence"]) == ("Wales", "standing (standing duty)")
    assert shared["Due date"] == CONVENTION
    assert sections(text)["England: county_council"] == []


def test_the_command_writes_the_file_and_prints_it_with_dash(run, tmp_path):
    assert run("init").exit_code == 0
    target = tmp_path / "coverage.md"
    result = run("coverage", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in result.output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Catalogue coverage\n") and "## Held by partnerships" in text
    printed = run("coverage", "-o", "-")
    assert printed.exit_code == 0 and printed.stdout == text


def test_the_command_asks_for_init_on_an_empty_database(run, tmp_path):
    result = run("coverage", "-o", str(tmp_path / "coverage.md"))
    assert result.exit_code == 1
    assert "run `compliance init` first" in result.stderr
    assert not (tmp_path / "coverage.md").exists()
