"""The garbage collector's pause around the batches that build a registry's worth of objects."""

import datetime as dt
import gc
import threading
from collections.abc import Iterator

import pytest

from compliance.checks import service
from compliance.memory import collector_paused


@pytest.fixture(autouse=True)
def collector_left_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_inside_and_on_again_after():
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer batch still runs
    assert gc.isenabled()


def test_the_collector_is_on_again_after_a_batch_that_failed():
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a rule broke")
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_batches_in_two_threads_keep_it_off_until_the_last_ends():
    inside, first_done, seen = threading.Event(), threading.Event(), []

    def second() -> None:
        with collector_paused():
            inside.set()
            first_done.wait(timeout=10)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=second)
    with collector_paused():
        thread.start()
        assert inside.wait(timeout=10)
    first_done.set()  # the first batch has ended while the second still runs
    thread.join(timeout=10)
    assert seen == [False]
    assert gc.isenabled()


def collector_seen_by(monkeypatch, module, name: str) -> list[bool]:  # type: ignore[no-untyped-def]
    """Whether the collector was on at each call of `module.name`, which still does its work."""
    seen: list[bool] = []
    real = getattr(module, name)

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, watched)
    return seen


def test_a_full_check_reads_and_judges_with_the_collector_paused(session, settings, monkeypatch):
    seen = collector_seen_by(monkeypatch, service, "load_snapshot")
    service.check_now(session=session, settings=settings, on=dt.date(2026, 12, 1), trigger="test")
    assert seen == [False]
    assert gc.isenabled()


def test_the_day_s_judgement_of_every_obligation_runs_with_the_collector_paused(
    demo_area, session, settings, monkeypatch
):
    from compliance.obligations import judged

    session.commit()
    seen = collector_seen_by(monkeypatch, judged, "_judge_and_keep")
    later = settings.today() + dt.timedelta(days=3)
    assert judged.keep_current(session, on=later, due_soon_days=settings.due_soon_days) > 0
    assert seen and not any(seen)
    assert gc.isenabled()


def test_a_report_s_data_is_built_with_the_collector_paused(
    demo_area, session, settings, monkeypatch
):
    from compliance.access import Principal
    from compliance.models import User
    from compliance.reports import service as reports

    seen = collector_seen_by(monkeypatch, reports, "view_obligations_for")
    admin = Principal(User(email="a@example.org", name="A", role="admin"), *[frozenset()] * 3)
    report = reports.build_report(
        session=session,
        principal=admin,
        kind="body",
        key="E06000052",
        as_at=settings.today(),
        due_soon_days=settings.due_soon_days,
    )
    assert report.summary.total > 0
    assert seen and not any(seen)
    assert gc.isenabled()
