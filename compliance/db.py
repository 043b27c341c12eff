"""Engine, sessions, the metadata naming convention and SQLite's per-connection settings."""

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Boolean, DateTime, Engine, String, bindparam, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, col, create_engine, select

from compliance.config import Settings
from compliance.errors import NotSaved, Refused

# Stable constraint names, so that Alembic can alter and drop them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """A moment, stored in UTC and always read back with its zone: PostgreSQL keeps the offset
    (timestamptz); SQLite keeps none, so what it hands back is marked UTC here, the one place
    that knows. A naive moment is refused rather than guessed at."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a moment without its zone cannot be stored: {value!r}")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class _Ids(TypeDecorator):
    """A list of ids as one text parameter: an array literal that PostgreSQL casts to an integer
    array, a JSON array elsewhere (SQLite reads it with json_each). Written as text here, not
    adapted by the driver, which dumps an array's items one by one in Python (a twentieth of a
    whole listing's time on PostgreSQL)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return "{" + ",".join(map(str, value)) + "}"
        return json.dumps(value)


class _AnyOf(ColumnElement[bool]):
    """`column IN (ids)` with the ids bound as one parameter, whatever their number."""

    inherit_cache = True
    type = Boolean()
    # A comparison already: SQLite is not to be given `... = 1` after it.
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, ids: list[int]) -> None:
        self.column = column
        self.ids = bindparam(None, ids, type_=_Ids())


@compiles(_AnyOf)
def _any_of_elsewhere(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(_AnyOf, "postgresql")
def _any_of_postgresql(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY(CAST({ids} AS INTEGER[]))"


def any_of(column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN ids` for a long list of ids: one parameter instead of one per id. An IN of
    thousands costs SQLAlchemy a few microseconds per id to build and again to render at each
    execution, which was a sixth of an API listing's time (docs/performance.md)."""
    return _AnyOf(column, [int(i) for i in ids])


class _Texts(TypeDecorator):
    """A list of strings as one parameter: a JSON array, on every backend."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return json.dumps(value)


class _AnyTextOf(_AnyOf):
    """`column IN (texts)` with the texts bound as one JSON parameter (kept under `ids`, so that
    _AnyOf's traversal and its SQLite form, json_each, serve both)."""

    inherit_cache = True

    def __init__(self, column: Any, texts: list[str]) -> None:
        self.column = column
        self.ids = bindparam(None, texts, type_=_Texts())


@compiles(_AnyTextOf, "postgresql")
def _any_text_of_postgresql(element: _AnyTextOf, compiler: Any, **kw: Any) -> str:
    column, texts = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY(ARRAY(SELECT json_array_elements_text(CAST({texts} AS JSON))))"


def any_text_of(column: Any, texts: Iterable[str]) -> ColumnElement[bool]:
    """`column IN texts` for a long list of strings (keys, codes): one parameter, as any_of."""
    return _AnyTextOf(column, [str(t) for t in texts])


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def row_id(row: _Stored) -> int:
    """A stored row's primary key. The database gives it one when the row is flushed, and every
    row read back has one, so a row without one here is a bug to stop at, not a None to pass on
    (the models declare `int | None` only because a row has no key before its INSERT)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it has not been flushed")
    return row.id


def key_column(model: Any) -> Mapped[int]:
    """A table's primary key column for a query, typed as the int that every row read back has
    (the model says `int | None`, the key of a row not yet inserted)."""
    return col(model.id)


_Row = TypeVar("_Row", bound=SQLModel)


def stored(session: Session, model: type[_Row], key: object) -> _Row:
    """The row that a foreign key of a row already read points at. The constraint means it is
    there; a missing one is a bug to stop at with its name, not a None to read attributes of."""
    row = session.get(model, key)
    if row is None:
        raise LookupError(f"no {model.__name__} {key!r}, though a stored row points at it")
    return row


def plain_rows(session: Session, query: Any) -> Sequence[Any]:
    """The rows of a select of plain columns, read through the session's connection: such a
    select needs none of the ORM's loading, which costs about half a microsecond a row more (a
    whole API listing reads some 10,000). Read at once: the driver's fetchall builds the rows in
    C, where fetching them one by one costs a call each (3,000 periods on PostgreSQL: 4.1
    against 5.5 ms). Flushes first, as the session would, unless the caller has turned
    autoflush off."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(query).all()


# What a request does when the database cannot take its work: a clear 503, never a 500.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 20,
    max_overflow: int = 20,
    pool_timeout_seconds: float = 10,
    busy_timeout_seconds: float = 10,
) -> Engine:
    """Create an engine with a bounded pool; SQLite gets WAL, foreign keys, a busy timeout and
    explicit BEGINs."""
    parsed = make_url(url)
    # A request that finds every connection taken waits this long, then is told to retry (503).
    pool = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout_seconds,
    }
    if parsed.get_backend_name() != "sqlite":
        # A statement waiting for a lock (a row, the audit chain's) gives up after the same time
        # as a writer on SQLite, and the request is answered 503, rather than waiting for ever.
        lock_timeout = {"options": f"-c lock_timeout={int(busy_timeout_seconds * 1000)}"}
        engine = create_engine(
            url, echo=echo, pool_pre_ping=True, connect_args=lock_timeout, **pool
        )
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        event.listen(engine, "checkin", _end_transaction_left_open)
        return engine
    in_memory = not parsed.database or parsed.database == ":memory:"
    if not in_memory and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False},
        **({} if in_memory else pool),
    )
    _configure_sqlite(engine, busy_timeout_ms=int(busy_timeout_seconds * 1000))
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    event.listen(engine, "checkin", _end_transaction_left_open)
    return engine


def _end_transaction_left_open(dbapi_connection, _record) -> None:
    # After a COMMIT that failed, the pool takes the transaction for ended and does not roll it
    # back; the connection would come back still inside it (SQLite then refuses the next BEGIN,
    # and would keep holding its write lock). Whatever is still open is rolled back here.
    if dbapi_connection is None:
        return
    info = getattr(dbapi_connection, "info", None)
    status = getattr(info, "transaction_status", None)  # psycopg: 0 is idle
    if getattr(dbapi_connection, "in_transaction", False) or (status is not None and status != 0):
        dbapi_connection.rollback()


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; SQLAlchemy's
    # documented recipe is to turn it off and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A writer waits this long for another's transaction to end, then is told to retry.
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if not _has_json(cursor):
            cursor.close()
            raise RuntimeError(SQLITE_WITHOUT_JSON)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A writer takes the write lock at BEGIN (IMMEDIATE): in WAL mode a transaction that
        # reads first and writes later fails at once if another writer committed in between.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


SQLITE_WITHOUT_JSON = (
    "This Python's SQLite has no JSON functions (json_each), which the application reads long "
    "lists of ids with: use SQLite 3.38 or later, or one built with JSON1"
)


def _has_json(cursor: Any) -> bool:
    try:
        cursor.execute("SELECT count(*) FROM json_each('[1]')")
    except sqlite3.OperationalError:
        return False
    return cursor.fetchone() == (1,)


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        # A list of ids (an IN of thousands) is passed over without a call per number.
        return any(_has_nul(v) for v in value if not isinstance(v, int))
    return False


def _refuse_nul(connection, cursor, statement, parameters, context, executemany):  # noqa: E501
    # PostgreSQL cannot hold the NUL character in text and fails the statement; whichever form,
    # search box or API field it came from, the person is told so instead of meeting a 500.
    # SQLite could store it, but the same text must not be accepted on one backend only.
    if _has_nul(parameters):
        raise Refused("Text cannot contain the NUL character (U+0000)", status=422)


_engines: dict[str, Engine] = {}


# The data folder of each database the application opened through its settings, by URL: where
# what is kept beside the database (the audit checkpoint) is written after a commit.
_data_dirs: dict[str, Path] = {}


def data_dir_for(bind: object) -> Path | None:
    """The data folder registered for the database behind an engine or connection; None for
    one opened without settings (the test suite's shared database)."""
    url = getattr(bind, "url", None) or getattr(getattr(bind, "engine", None), "url", None)
    return _data_dirs.get(url.render_as_string(hide_password=False)) if url else None


def get_engine(settings: Settings) -> Engine:
    """Return the engine for these settings, creating it once per URL."""
    url = settings.sqlalchemy_url
    _data_dirs[make_url(url).render_as_string(hide_password=False)] = settings.data_dir
    if url not in _engines:
        _engines[url] = make_engine(
            url,
            pool_size=settings.pool_size,
            max_overflow=settings.database_pool_overflow,
            pool_timeout_seconds=settings.database_pool_timeout_seconds,
            busy_timeout_seconds=settings.database_busy_timeout_seconds,
        )
    return _engines[url]


def writer(engine: Engine) -> Engine:
    """The engine for a transaction that will write: on SQLite it begins IMMEDIATE."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def begin_writing(session: Session) -> None:
    """End a session's reading transaction and begin one that will write, as `writer` does: for
    a request that reads (a GET) and then records that it did (a download in the audit trail)."""
    session.commit()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


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


def save(session: Session) -> None:
    """Commit, or raise NotSaved (503, nothing stored) if the database is busy or unreachable."""
    try:
        session.commit()
    except UNAVAILABLE as exc:
        # The caller rolls back (or closes) the session: rolling back here would expire what the
        # error page still needs to show, such as who is signed in.
        raise NotSaved() from exc


def count_rows(session: Session, query: Any) -> int:
    """How many rows a select finds, counted by the database."""
    return session.exec(select(func.count()).select_from(query.subquery())).one()
