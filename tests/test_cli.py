"""The command line, run against a fresh database of each backend."""

from pathlib import Path

from sqlalchemy import func, inspect
from sqlmodel import Session, SQLModel, select

from compliance.config import get_settings
from compliance.db import make_engine
from compliance.models import Body

FIXTURES = Path(__file__).parent / "fixtures"


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        counts = {
            name: session.exec(select(func.count()).select_from(table)).one()
            for name, table in SQLModel.metadata.tables.items()
        }
    engine.dispose()
    return counts


def test_init_is_idempotent(run):
    first = run("init")
    assert first.exit_code == 0, first.output
    assert "Catalogue 2026.12.2:" in first.output
    second = run("init")
    assert second.exit_code == 0
    assert "0 added, 0 updated, 0 retired" in second.output


def test_import_bodies_then_again_then_a_broken_file(run, fresh_url, tmp_path):
    assert run("init").exit_code == 0
    register = str(FIXTURES / "uk_councils.csv")
    first = run("import", "bodies", register)
    assert first.exit_code == 0, first.output
    assert "402 new, 0 updated, 0 unchanged" in first.output
    again = run("import", "bodies", register)
    assert "0 new, 0 updated, 402 unchanged; 0 obligations opened" in again.output
    before = row_counts(fresh_url)
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "code,name,kind,nation,parent_code,website\n"
        "E06000052,Cornwall Council,unitary_authority,england,,\n"
        "E06000777,Nowhere,unitary,england,,\n"
        "E07000778,Lost District,district_council,england,E10009999,\n"
    )
    refused = run("import", "bodies", str(broken))
    assert refused.exit_code == 1
    assert "2 problem(s); nothing was imported" in refused.stderr
    assert "line 3: kind 'unitary' is not one of" in refused.stderr
    assert "line 4: parent_code E10009999 is neither in this file nor" in refused.stderr
    assert row_counts(fresh_url) == before


def test_import_of_a_missing_file_is_a_clear_error(run, tmp_path):
    result = run("import", "bodies", str(tmp_path / "absent.csv"))
    assert result.exit_code == 1
    assert "Cannot read" in result.stderr


def test_demo_loads_the_area_and_a_second_run_adds_nothing(run, fresh_url):
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "15 bodies, 8 partnerships, 1 bid(s), 19 new evidence record(s)" in first.output
    counts = row_counts(fresh_url)
    assert counts["obligation"] > 0 and counts["measurement"] > 0 and counts["risk"] > 0
    second = run("demo")
    assert "0 new evidence record(s)" in second.output
    again = row_counts(fresh_url)
    # Setting up again judges everything again (a check run and its audit event); the data and
    # the findings stay as they were.
    assert again.pop("check_run") == counts.pop("check_run") + 1
    assert again.pop("audit_event") == counts.pop("audit_event") + 1
    assert again == counts
    engine = make_engine(fresh_url)
    with Session(engine) as session:
        cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
        assert cornwall.kind == "unitary_authority"
    engine.dispose()


def test_the_demo_with_its_published_password_is_refused_in_production(run, fresh_url, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_ENVIRONMENT", "production")
    monkeypatch.setenv("COMPLIANCE_SECRET_KEY", "a-production-secret-key-of-enough-length-0123")
    get_settings.cache_clear()
    result = run("demo")
    assert result.exit_code == 2, result.output
    assert "not loaded in production" in result.stderr
    assert row_counts_or_empty(fresh_url) == {}  # nothing created, nothing loaded


def row_counts_or_empty(url: str) -> dict[str, int]:
    """Row counts of a database that may not have been created yet."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    finally:
        engine.dispose()
    return row_counts(url) if tables else {}


def test_a_bad_setting_is_reported_not_raised(run, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_ENVIRONMENT", "production")
    get_settings.cache_clear()
    result = run("init")
    assert result.exit_code == 2
    assert "COMPLIANCE_SECRET_KEY" in result.stderr
