"""The report cache's change marker: an unchanged report is served without building its data
again; any committed change a report may read (through the ORM or a bulk statement) draws a new
token, so the next request builds the data afresh; downloads, sign-ins and kept obligation states
draw none; unsaved changes and another reader's scope never take a report made for others."""

import pytest
from sqlmodel import select, update

from compliance.access import Principal, principal_for
from compliance.accounts.service import start_session
from compliance.models import Partnership, Risk, User
from compliance.obligations.judged import keep_current
from compliance.reports import produce as producing
from compliance.reports.api import record_report_download
from compliance.reports.changes import data_token
from tests.conftest import make_user

CORNWALL = "E06000052"

# What these tests ask of the cache is when a report's data is built, not how its PDF is laid out.
pytestmark = pytest.mark.usefixtures("quick_pdfs")


@pytest.fixture
def demo(demo_area, session, settings):
    session.commit()


@pytest.fixture
def built(monkeypatch):
    """The scopes whose report data was built, in order."""
    calls: list[str] = []
    real = producing.build_report

    def counting(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["key"])
        return real(**kwargs)

    monkeypatch.setattr(producing, "build_report", counting)
    return calls


def admin() -> Principal:
    return Principal(User(email="cli", name="Command line", role="admin"), *[frozenset()] * 3)


def produce(session, settings, principal=None, kind="body", key=CORNWALL):  # type: ignore[no-untyped-def]
    return producing.produce(
        session=session, settings=settings, principal=principal or admin(), kind=kind, key=key
    )


def test_an_unchanged_report_is_served_without_building_its_data(session, settings, demo, built):
    first = produce(session, settings)
    again = produce(session, settings)

    assert built == [CORNWALL]
    assert not first.cached and again.cached
    assert (again.path, again.fingerprint) == (first.path, first.fingerprint)
    assert again.report == first.report


def _cornwall_risk(session):  # type: ignore[no-untyped-def]
    return session.exec(
        select(Risk)
        .join(Partnership, Partnership.id == Risk.partnership_id)
        .where(Partnership.slug.like("cornwall%"))
        .order_by(Risk.id)
    ).first()


def test_a_change_no_finding_reads_still_builds_the_report_again(session, settings, demo, built):
    first = produce(session, settings)
    risk = _cornwall_risk(session)
    assert risk.id in [r.ref for r in first.report.risks]

    # Through the ORM: a risk's title (no rule reads it, so the judgement's token stays).
    risk.title = "Shared care records not joined up across the partners"
    session.commit()
    renamed = produce(session, settings)
    assert built == [CORNWALL, CORNWALL]
    assert renamed.fingerprint != first.fingerprint
    assert risk.title in [r.title for r in renamed.report.risks]

    # Through a bulk statement run by the session.
    session.execute(update(Risk).where(Risk.id == risk.id).values(mitigation="Weekly huddles"))
    session.commit()
    mitigated = produce(session, settings)
    assert built == [CORNWALL] * 3
    assert "Weekly huddles" in [r.mitigation for r in mitigated.report.risks]


def test_downloads_sign_ins_and_kept_states_draw_no_token(session, settings, demo, built):
    made = produce(session, settings)
    before = data_token(session)
    user = make_user(session, "admin")
    session.commit()
    assert data_token(session) != before  # a new user is a row a report may read (a name)
    made = produce(session, settings)
    before = data_token(session)

    record_report_download(session, principal_for(session=session, user=user), made, pack=False)
    session.commit()
    start_session(session=session, user=user, address="127.0.0.1", user_agent="test")
    session.commit()
    keep_current(session, on=settings.today(), due_soon_days=settings.due_soon_days)

    assert data_token(session) == before
    assert produce(session, settings).cached
    assert built == [CORNWALL, CORNWALL]


def test_unsaved_changes_are_never_served_from_the_marker(session, settings, demo, built):
    produce(session, settings)
    risk = _cornwall_risk(session)
    risk.title = "A risk renamed and flushed, not yet committed"
    session.flush()

    shown = produce(session, settings)

    assert built == [CORNWALL, CORNWALL]
    assert risk.title in [r.title for r in shown.report.risks]


def test_another_readers_scope_never_takes_a_report_made_for_others(session, settings, demo, built):
    produce(session, settings)
    officer = make_user(session, "officer", bodies=[CORNWALL])
    session.commit()
    produce(session, settings)  # the new user drew a token: built again for the admin
    scoped = principal_for(session=session, user=officer)

    mine = produce(session, settings, principal=scoped)
    again = produce(session, settings, principal=scoped)

    assert built == [CORNWALL] * 3
    assert again.cached and again.fingerprint == mine.fingerprint
