"""Alembic environment: the models' metadata, batch mode for SQLite, our engine settings."""

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import compliance.models  # noqa: F401  (registers the tables)
from compliance.db import make_engine
from compliance.migrations import MigrationRefused, include_object

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))  # type: ignore[arg-type]  # alembic_config() sets it

    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    # On SQLite, batch mode alters a table by copying it and dropping the old one. With foreign
    # keys on (the engine turns them on), that DROP deletes the rows first: it fails where other
    # rows point at them and, worse, cascades where they are declared ON DELETE CASCADE. SQLite's
    # own procedure for altering a table turns them off around the transaction (the pragma does
    # nothing inside one) and checks them before committing. SQLite's DDL is transactional, so
    # every migration of the run commits together or not at all (Alembic assumes otherwise).
    _foreign_keys(connection, on=False)
    try:
        _configure(connection, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
            _refuse_broken_references(connection)
    finally:
        _foreign_keys(connection, on=True)


def _configure(connection: Connection, *, transactional_ddl: bool | None = None) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
        transactional_ddl=transactional_ddl,
    )


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    if connection.in_transaction():
        raise RuntimeError("Migrations must start outside a transaction on SQLite.")
    # On the driver's own connection: through SQLAlchemy, the pragma would open a transaction.
    driver = connection.connection.driver_connection
    assert driver is not None, "a connection checked out of the pool has its driver's"
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _refuse_broken_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({f"{row[0]} -> {row[2]}" for row in broken})
        raise MigrationRefused(
            f"The migration would leave {len(broken)} rows pointing at rows that are not there "
            f"({', '.join(tables)}); nothing was changed."
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
