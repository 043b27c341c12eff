"""A body's events are recorded under its code (its own changes) and its id (its reminder
settings); its audit page and the audit section of its report both show every one of them."""

import pytest
from sqlmodel import select

from compliance.bodies.changes import update_body
from compliance.models import Body
from compliance.reminders.preferences import set_body_reminders
from compliance.reports.service import build_report
from tests.test_report_summary import admin as command_line

CORNWALL = "E06000052"


@pytest.fixture
def cornwall(demo_area, session, settings) -> Body:
    body = session.exec(select(Body).where(Body.code == CORNWALL)).one()
    update_body(session=session, body=body, changes={"note": "Audited"}, actor="test")
    set_body_reminders(session=session, actor="test", body_id=body.id, reminder_days="30,7")
    session.flush()
    return body


def test_a_bodys_audit_page_shows_its_changes_and_its_reminder_settings(admin, cornwall):
    trail = admin.get(f"/audit/body/{cornwall.id}").text
    assert "body.updated" in trail and "reminder_setting.set" in trail


def test_a_bodys_report_shows_its_changes_and_its_reminder_settings(session, settings, cornwall):
    report = build_report(
        session=session,
        principal=command_line(),
        kind="body",
        key=CORNWALL,
        as_at=settings.today(),
        due_soon_days=settings.due_soon_days,
    )
    actions = {(e.entity_type, e.action) for e in report.audit}
    assert {("body", "body.updated"), ("body", "reminder_setting.set")} <= actions
