"""The scheduler: one run per slot however many schedulers, catch-up, contained failures."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from compliance import scheduler as sched
from compliance.catalogue.service import load_catalogue
from compliance.config import Settings
from compliance.db import make_engine, session_scope
from compliance.migrations import upgrade
from compliance.models import CheckRun, JobRun, utcnow

LONDON = ZoneInfo("Europe/London")


def test_latest_slot_is_today_after_the_time_and_yesterday_before_it():
    at = dt.time(2, 0)
    assert sched.latest_slot(at, dt.datetime(2026, 11, 26, 9, 0, tzinfo=LONDON)) == dt.datetime(
        2026, 11, 26, 2, 0, tzinfo=LONDON
    )
    assert sched.latest_slot(at, dt.datetime(2026, 11, 26, 1, 59, tzinfo=LONDON)) == dt.datetime(
        2026, 11, 25, 2, 0, tzinfo=LONDON
    )


@pytest.fixture
def database(fresh_url, tmp_path):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with session_scope(engine) as session:
        load_catalogue(session=session)
    settings = Settings(
        environment="test", secret_key="k", database_url=fresh_url, data_dir=tmp_path
    )
    yield engine, settings
    engine.dispose()


NOW = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)


def counts(engine):
    with Session(engine) as session:
        scheduled = select(CheckRun).where(CheckRun.trigger != "change")
        return len(session.exec(select(JobRun)).all()), len(session.exec(scheduled).all())


def test_two_schedulers_on_one_database_run_a_slot_once(database):
    engine, settings = database
    other = make_engine(settings.sqlalchemy_url)
    results = []
    barrier = threading.Barrier(2)

    def run(e):
        barrier.wait()
        results.append(sched.tick(e, settings, now=NOW))

    threads = [threading.Thread(target=run, args=(e,)) for e in (engine, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    # Each slot runs once, whichever scheduler claims it.
    assert sum(len(r) for r in results) == len(sched.JOBS)
    assert counts(engine) == (len(sched.JOBS), 1)
    assert sched.tick(engine, settings, now=NOW + dt.timedelta(hours=1)) == []
    assert counts(engine) == (len(sched.JOBS), 1)


def test_a_missed_slot_is_caught_up_by_the_next_tick(database):
    engine, settings = database
    sched.tick(engine, settings, now=NOW)
    three_days_later = NOW + dt.timedelta(days=3)
    done = sched.tick(engine, settings, now=three_days_later)
    checks = [line for line in done if line.startswith("nightly_check")]
    assert len(checks) == 1 and "2026-11-29T02:00:00+00:00" in checks[0]
    with Session(engine) as session:
        runs = session.exec(
            select(CheckRun).where(CheckRun.trigger != "change").order_by(CheckRun.id)
        ).all()
    assert [r.as_at_date for r in runs] == [dt.date(2026, 11, 26), dt.date(2026, 11, 29)]


def test_a_failing_job_is_recorded_and_does_not_stop_the_scheduler(database, monkeypatch):
    engine, settings = database

    def broken(**kwargs):
        raise RuntimeError("database of bodies is on fire")

    monkeypatch.setattr(sched, "JOBS", [sched.Job("nightly_check", sched.JOBS[0].at, broken)])
    done = sched.tick(engine, settings, now=NOW)
    assert "failed" in done[0]
    with Session(engine) as session:
        run = session.exec(select(JobRun)).one()
    assert run.status == "failed" and "on fire" in run.detail


def test_a_run_that_died_is_reclaimed_after_it_goes_stale(database):
    engine, settings = database
    slot = sched.latest_slot(dt.time(2, 0), NOW.astimezone(LONDON)).isoformat()
    stale = utcnow() - sched.STALE_AFTER - dt.timedelta(minutes=1)
    with session_scope(engine) as session:
        session.add(JobRun(job="nightly_check", slot=slot, started_at=stale))
    assert sched.claim(engine, "nightly_check", slot) is not None
    assert sched.claim(engine, "nightly_check", slot) is None


def test_only_one_postgresql_scheduler_holds_the_lock(database):
    engine, settings = database
    if engine.dialect.name != "postgresql":
        assert sched.SchedulerLock(engine).held() is True
        return
    first, second = (
        sched.SchedulerLock(engine),
        sched.SchedulerLock(make_engine(settings.sqlalchemy_url)),
    )
    assert first.held() is True
    assert second.held() is False
    first.release()
    assert second.held() is True
    second.release()
    second.engine.dispose()


def test_a_weekly_slot_is_the_latest_of_its_weekday_at_its_time():
    at, monday = dt.time(8, 0), 0
    slot = dt.datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)
    for now in (slot, slot + dt.timedelta(days=3), slot + dt.timedelta(days=7, minutes=-1)):
        assert sched.latest_slot(at, now, monday) == slot
    assert sched.latest_slot(at, slot + dt.timedelta(days=7), monday) == slot + dt.timedelta(7)
    spring = dt.datetime(2027, 3, 29, 9, 0, tzinfo=LONDON)  # the Monday after the clocks change
    assert sched.latest_slot(at, spring, monday).isoformat() == "2027-03-29T08:00:00+01:00"


def test_every_tick_sends_what_waits_in_the_outbox(database):
    from compliance.mailer import Email, enqueue

    engine, settings = database
    first = sched.tick(engine, settings, now=NOW)
    assert [line.split()[0] for line in first] == [job.name for job in sched.JOBS]
    with session_scope(engine) as session:  # as an inspector's query does, between ticks
        enqueue(
            session=session,
            settings=settings,
            key="query:1",
            kind="query",
            to_address="officer@example.org",
            email=Email("Evidence queried", "text", "<p>html</p>"),
        )
    assert sched.tick(engine, settings, now=NOW) == ["outbox: 1 sent, 0 to retry, 0 dead"]
    assert len(list((settings.data_dir / "mail").glob("*.eml"))) == 1
