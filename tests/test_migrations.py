"""The migrations build exactly the schema the models declare, and run both ways."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import compliance.models  # noqa: F401
from compliance.db import make_engine
from compliance.migrations import downgrade, upgrade


def test_models_and_migrations_agree(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_then_downgrade_to_base_then_upgrade_again(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    assert "obligation" in inspect(engine).get_table_names()
    downgrade(fresh_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(fresh_url)
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
