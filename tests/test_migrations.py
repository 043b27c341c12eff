"""The migrations build exactly the schema the models declare, and run both ways."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlmodel import SQLModel

import compliance.models  # noqa: F401
from compliance.db import make_engine
from compliance.migrations import MigrationRefused, downgrade, include_object, upgrade
from tests.conftest import copy_demo, drop_database


def test_models_and_migrations_agree(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": include_object}
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_postgresql_has_the_list_order_index_and_room_in_findings_pages(fresh_url, backend):
    """What national scale needs of PostgreSQL alone: the one index the models leave to its
    migration (include_object), and findings stored with room for heap-only updates. SQLite
    (which could not reflect such an index) sorts a single area without it."""
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with engine.connect() as connection:
        if backend == "postgresql":
            names = {i["name"] for i in inspect(connection).get_indexes("obligation_state")}
            options = connection.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'finding'")
            ).scalar()
            assert options == ["fillfactor=70"]
        else:
            query = text("SELECT name FROM sqlite_master WHERE tbl_name = 'obligation_state'")
            names = set(connection.execute(query).scalars())
    engine.dispose()
    assert ("ix_obligation_state_list_order" in names) == (backend == "postgresql")


def test_upgrade_then_downgrade_to_base_then_upgrade_again(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    assert "obligation" in inspect(engine).get_table_names()
    downgrade(fresh_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(fresh_url)
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_latest_migrations_keep_every_row_of_the_demo(demo_template, tmp_path):
    # The migrations above run on empty databases; on SQLite a table altered in batch mode is
    # copied and dropped, which a database holding rows that point at it refuses (or, for
    # ON DELETE CASCADE, obeys by deleting them).
    url = copy_demo(demo_template, tmp_path)
    engine = make_engine(url)
    try:
        before = _rows_by_table(engine)
        assert before["occurrence"] > 100 and before["evidence"] > 10
        downgrade(url, "0016")
        upgrade(url)
        assert _rows_by_table(engine) == before
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    finally:
        engine.dispose()
        if demo_template.backend != "sqlite":
            drop_database(url)


def _rows_by_table(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }


def test_a_migration_that_would_leave_a_broken_reference_changes_nothing(demo_template, tmp_path):
    url = broken_at_0016(demo_template, tmp_path)
    with pytest.raises(MigrationRefused, match="rows pointing at rows that are not there"):
        upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0016"
    engine.dispose()


def test_init_says_why_it_did_not_migrate(demo_template, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from compliance.cli import app as cli
    from compliance.config import get_settings

    monkeypatch.setenv("COMPLIANCE_DATABASE_URL", broken_at_0016(demo_template, tmp_path))
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["init"])
    get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "The database was not migrated" in result.output
    assert (
        "1 rows pointing at rows that are not there (evidence_link -> occurrence)" in result.output
    )
    assert "Traceback" not in result.output


def broken_at_0016(demo_template, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A copy of the demo at migration 0016 holding a link to a period that is not there, as a
    database written with foreign keys off could."""
    if demo_template.backend != "sqlite":
        pytest.skip("PostgreSQL checks each reference as it is written")
    url = copy_demo(demo_template, tmp_path)
    downgrade(url, "0016")
    engine = make_engine(url)
    with engine.connect() as connection:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("UPDATE evidence_link SET occurrence_id = -1 WHERE rowid = 1")
        connection.commit()
    engine.dispose()
    return url
