"""Alembic, driven from code so that no alembic.ini is needed."""

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


class MigrationRefused(RuntimeError):
    """A migration that would leave the database inconsistent; nothing of it was committed."""


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at this URL."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to a revision."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database down to a revision."""
    command.downgrade(alembic_config(url), revision)


@functools.cache
def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current_revision(connection) -> str | None:
    """The migration the database is at, or None if it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


# Indexes on expressions that differ by backend (the obligations list's order: text in
# code-point order is COLLATE "C" on PostgreSQL only): their migration alone makes them, as the
# models cannot declare one index for both backends, and autogenerate leaves them be.
MIGRATION_ONLY_INDEXES = frozenset({"ix_obligation_state_list_order"})


def include_object(_object: object, name: str | None, type_: str, *_rest: object) -> bool:
    """Alembic's filter of what autogenerate compares: all but the indexes above."""
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)
