"""A ceiling on each report render (issue 15, item 5): WeasyPrint runs in a child process that is
stopped past COMPLIANCE_REPORT_RENDER_SECONDS or COMPLIANCE_REPORT_RENDER_MEMORY_MB, with a
clear message and nothing stored, and the server carries on."""

import multiprocessing

import pytest
from fastapi.testclient import TestClient

from compliance.config import Settings
from compliance.deps import get_session
from compliance.main import create_app
from compliance.reports.ceiling import Ceiling, RenderCeiling, render_within, too_big, too_long
from tests.conftest import make_user, sign_in
from tests.html import parse

CORNWALL = "E06000052"
SMALL = "<h1>A report</h1><p>One page.</p>"
# Thousands of table rows: seconds of layout, far past a one-second ceiling.
LONG = "<table>" + "".join(f"<tr><td>{n}</td><td>row {n}</td></tr>" for n in range(40_000))


def test_a_render_within_its_ceiling_is_the_pdf_with_its_stages():
    stages: list[str] = []
    pdf = render_within(SMALL, ceiling=Ceiling(seconds=120, memory_mb=4096), on_stage=stages.append)
    assert pdf.startswith(b"%PDF-")
    assert stages[0] == "laying out pages" and stages[-1] == "writing 1 pages"


def live_children() -> set:  # type: ignore[type-arg]
    return {c for c in multiprocessing.active_children() if c.is_alive()}


def test_a_render_past_its_time_is_stopped_with_a_message():
    # Another test's background job may still be rendering in this process: only the child of
    # this render must be gone.
    before = live_children()
    with pytest.raises(RenderCeiling) as stopped:
        render_within(LONG, ceiling=Ceiling(seconds=1, memory_mb=65_536))
    assert stopped.value.status == 503
    assert stopped.value.message == too_long(1)
    assert "COMPLIANCE_REPORT_RENDER_SECONDS" in stopped.value.message
    assert not live_children() - before


def test_a_render_past_its_memory_is_stopped_with_a_message():
    before = live_children()
    with pytest.raises(RenderCeiling) as stopped:
        render_within(LONG, ceiling=Ceiling(seconds=600, memory_mb=1))
    assert stopped.value.message == too_big(1)
    assert "COMPLIANCE_REPORT_RENDER_MEMORY_MB" in stopped.value.message
    assert not live_children() - before


def test_the_settings_bound_the_ceiling():
    settings = Settings(environment="test", secret_key="k" * 32)
    assert settings.render_ceiling == Ceiling(300, 2048)
    with pytest.raises(ValueError, match="report_render_seconds"):
        Settings(environment="test", secret_key="k" * 32, report_render_seconds=0)


@pytest.fixture
def tight(demo_area, settings, session):  # type: ignore[no-untyped-def]
    """The demo, and an application whose renders may hold only 1 MB: every one is stopped."""
    session.commit()
    application = create_app(settings.model_copy(update={"report_render_memory_mb": 1}))
    application.dependency_overrides[get_session] = lambda: session
    return application


def test_a_report_stopped_at_its_ceiling_is_a_clear_503_and_nothing_is_stored(
    tight, session, settings
):
    admin = make_user(session, "admin")
    session.commit()
    with TestClient(tight) as client:
        sign_in(client, admin.email)
        answer = client.get(f"/api/v1/bodies/{CORNWALL}/report.pdf")
        assert answer.status_code == 503, answer.text[:300]
        assert too_big(1) in answer.json()["detail"]
        # A browser that followed the body page's download link is shown a page saying so.
        browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = client.get(f"/api/v1/bodies/{CORNWALL}/report.pdf", headers=browser)
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "COMPLIANCE_REPORT_RENDER_MEMORY_MB" in parse(page.text).findtext(".//main//p")
        # It still serves everything else.
        assert client.get(f"/bodies/{CORNWALL}").status_code == 200
    assert not list(settings.data_dir.rglob("*.pdf"))
