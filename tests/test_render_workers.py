"""Renders within a ceiling run in child processes, so a process runs up to
COMPLIANCE_REPORT_RENDER_WORKERS of them at once; the same report asked for twice at once is
rendered once. The child is replaced here by a stand-in that notes how many run together."""

import threading
import time

import pytest

from compliance.access import Principal
from compliance.config import Settings
from compliance.models import User
from compliance.reports import pdf
from compliance.reports.ceiling import Ceiling
from compliance.reports.service import build_report


@pytest.fixture
def reports(demo_area, session, settings):  # type: ignore[no-untyped-def]
    session.flush()
    admin = Principal(User(email="cli", name="Command line", role="admin"), *[frozenset()] * 3)
    return [
        build_report(
            session=session,
            principal=admin,
            kind=kind,
            key=key,
            as_at=settings.today(),
            due_soon_days=settings.due_soon_days,
        )
        for kind, key in (("body", "E06000052"), ("body", "E06000053"), ("body", "QT6"))
    ]


@pytest.fixture
def renders(monkeypatch):  # type: ignore[no-untyped-def]
    """The stand-in child: how many renders ran, and the most at once."""
    seen = {"now": 0, "most": 0, "count": 0}
    guard = threading.Lock()

    def render_within(html, *, ceiling, on_stage=None):  # type: ignore[no-untyped-def]
        with guard:
            seen["now"] += 1
            seen["count"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        time.sleep(0.3)
        with guard:
            seen["now"] -= 1
        return b"%PDF-1.7 stand-in"

    monkeypatch.setattr(pdf, "render_within", render_within)
    return seen


def make_all(reports, settings, workers):  # type: ignore[no-untyped-def]
    made = []
    threads = [
        threading.Thread(
            target=lambda r=report: made.append(
                pdf.make_pdf(
                    report=r,
                    data_dir=settings.data_dir,
                    generated_by="Test",
                    head=None,
                    ceiling=Ceiling(60, 512),
                    workers=workers,
                )
            )
        )
        for report in reports
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return made


def test_renders_run_side_by_side_up_to_the_workers_setting(reports, settings, renders):
    made = make_all(reports, settings, workers=2)

    assert renders["count"] == 3 and renders["most"] == 2
    assert len({m.path for m in made}) == 3


def test_one_worker_renders_one_at_a_time(reports, settings, renders):
    make_all(reports, settings, workers=1)

    assert renders["count"] == 3 and renders["most"] == 1


def test_the_same_report_asked_for_at_once_is_rendered_once(reports, settings, renders):
    made = make_all([reports[0]] * 3, settings, workers=3)

    assert renders["count"] == 1
    assert len({m.path for m in made}) == 1 and sum(not m.cached for m in made) == 1


def test_the_default_is_the_number_of_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert Settings(environment="test", secret_key="k" * 32).report_render_workers == 6
