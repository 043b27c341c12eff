"""SQLite gets WAL, foreign keys and a busy timeout on every connection; constraints hold on both
backends; a long list of ids is one parameter on both."""

import datetime as dt
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from compliance import db
from compliance.db import any_of, make_engine
from compliance.migrations import upgrade
from compliance.models import Deliverable, Obligation


def test_sqlite_pragmas_are_set_on_every_connection(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_seconds=7.5)
    for _ in range(2):
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 7500
        engine.dispose()


def test_constraints_hold_on_both_backends(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with Session(engine) as session:
        session.add(
            Obligation(key="x", body_id=999, deliverable_id=1, opened_date=dt.date(2026, 1, 1))
        )
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_any_of_finds_what_in_finds_with_one_parameter_however_many_ids(session):
    every = sorted(session.exec(select(Deliverable.id)))
    assert len(every) > 10

    def found(condition):  # type: ignore[no-untyped-def]
        return sorted(session.exec(select(Deliverable.id).where(condition)))

    some = every[::3]
    assert found(any_of(col(Deliverable.id), some)) == found(col(Deliverable.id).in_(some)) == some
    assert found(any_of(col(Deliverable.id), [])) == []
    assert found(~any_of(col(Deliverable.id), some)) == [i for i in every if i not in some]
    # More ids than SQLite allows parameters in one statement (32,766): still one parameter.
    many = list(range(-40_000, 0)) + some
    assert found(any_of(col(Deliverable.id), many)) == some


def test_a_sqlite_without_json_functions_is_refused_with_a_reason(tmp_path, monkeypatch):
    class NoJson:
        def execute(self, statement: str) -> None:
            raise sqlite3.OperationalError("no such table: json_each")

    assert db._has_json(NoJson()) is False
    monkeypatch.setattr(db, "_has_json", lambda cursor: False)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(RuntimeError, match="SQLite 3.38 or later"):
        engine.connect()
    engine.dispose()
