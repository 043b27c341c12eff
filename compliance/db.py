"""Engine, sessions, the metadata naming convention and SQLite's per-connection settings."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine

from compliance.config import Settings
from compliance.errors import Refused

# Stable constraint names, so that Alembic can alter and drop them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, echo=echo, pool_pre_ping=True)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
    _configure_sqlite(engine)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; SQLAlchemy's
    # documented recipe is to turn it off and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # A writer takes the write lock at BEGIN (IMMEDIATE): in WAL mode a transaction that
        # reads first and writes later fails at once if another writer committed in between.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]  # noqa: E501
    # PostgreSQL cannot hold the NUL character in text and fails the statement; whichever form,
    # search box or API field it came from, the person is told so instead of meeting a 500.
    # SQLite could store it, but the same text must not be accepted on one backend only.
    if _has_nul(parameters):
        raise Refused("Text cannot contain the NUL character (U+0000)", status=422)


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings) -> Engine:
    """Return the engine for these settings, creating it once per URL."""
    url = settings.sqlalchemy_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def writer(engine: Engine) -> Engine:
    """The engine for a transaction that will write: on SQLite it begins IMMEDIATE."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A writing session that commits on success and rolls back on error."""
    with Session(writer(engine)) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
