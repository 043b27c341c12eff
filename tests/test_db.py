"""SQLite gets WAL, foreign keys and a busy timeout on every connection."""

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from compliance.db import make_engine
from compliance.migrations import upgrade
from compliance.models import Obligation


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
