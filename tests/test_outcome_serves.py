"""Outcomes linked to what they serve: an obligation's outcome status is read from the outcomes
that name its duty, deliverable or funding condition, and from no other; with none it says
"No outcome linked" and is never fully met. Linked in the service, the API and the pages."""

import datetime as dt

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from compliance.accounts.tokens import create_token
from compliance.db import make_engine
from compliance.errors import Refused
from compliance.migrations import upgrade
from compliance.models import AuditEvent, Duty, Obligation, Outcome, OutcomeServes
from compliance.obligations.service import sync_obligations
from compliance.obligations.status import OutcomeStatus
from compliance.obligations.views import view_obligations, view_obligations_for
from compliance.outcomes.serves import serve_choices, serves_of, set_serves
from compliance.outcomes.service import OutcomeCreate, OutcomeUpdate, add_outcome, update_outcome
from compliance.partnerships.service import get_partnership
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body, make_partnership
from tests.html import parse
from tests.test_judgement import BETTER, WORSE, _outcome

DUTY = "children-act-2004-s16e"
REPORT = f"deliverable:{DUTY}/safeguarding-yearly-report"


@pytest.fixture
def board(session, settings):
    """A safeguarding children partnership with one outcome getting better and one getting
    worse, neither linked to anything yet."""
    today = settings.today()
    duty = session.exec(select(Duty).where(Duty.slug == DUTY)).one()
    members = [make_body(session), make_body(session, kind="police_force", code="E23000098")]
    partnership = make_partnership(session, duties=[duty], members=members, name="Serves Board")
    sync_obligations(session=session, on=today, track_from=today - dt.timedelta(days=800))
    better = _outcome(session, partnership, BETTER, today, "Children in need are kept safe")
    worse = _outcome(session, partnership, WORSE, today, "Fewer children are harmed again")
    admin = make_user(session, "admin")
    return {"partnership": partnership, "better": better, "worse": worse, "admin": admin}


def _statuses(session, settings, partnership):  # type: ignore[no-untyped-def]
    views = view_obligations(
        session=session,
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
        partnership_id=partnership.id,
    )
    return {v.item_slug: v for v in views}


def test_an_obligation_with_no_outcome_linked_says_so_and_is_never_fully_met(
    session, settings, board
):
    views = _statuses(session, settings, board["partnership"])
    assert len(views) >= 3
    for view in views.values():
        assert view.outcome == OutcomeStatus.no_outcome_defined
        assert view.served_by == ()
        assert not view.fully_met


def test_an_outcome_serving_the_duty_judges_every_deliverable_of_it_and_says_which(
    session, settings, board
):
    set_serves(session=session, actor="test", outcome=board["better"], keys=[f"duty:{DUTY}"])
    for view in _statuses(session, settings, board["partnership"]).values():
        assert view.outcome == OutcomeStatus.improving
        assert [(s.title, s.status) for s in view.served_by] == [
            ("Children in need are kept safe", OutcomeStatus.improving)
        ]
        assert view.served_by[0].partnership_slug == board["partnership"].slug


def test_an_outcome_serving_one_deliverable_judges_that_one_only(session, settings, board):
    set_serves(session=session, actor="test", outcome=board["worse"], keys=[REPORT])
    views = _statuses(session, settings, board["partnership"])
    report = views.pop("safeguarding-yearly-report")
    assert report.outcome == OutcomeStatus.worsening
    assert [s.title for s in report.served_by] == ["Fewer children are harmed again"]
    assert {v.outcome for v in views.values()} == {OutcomeStatus.no_outcome_defined}


def test_outcomes_serving_the_same_obligation_are_taken_together(session, settings, board):
    set_serves(session=session, actor="test", outcome=board["better"], keys=[f"duty:{DUTY}"])
    set_serves(session=session, actor="test", outcome=board["worse"], keys=[REPORT])
    views = _statuses(session, settings, board["partnership"])
    report = views.pop("safeguarding-yearly-report")
    assert report.outcome == OutcomeStatus.worsening
    assert len(report.served_by) == 2
    assert {v.outcome for v in views.values()} == {OutcomeStatus.improving}


def test_linking_is_audited_and_read_back_in_the_forms_order(session, board):
    outcome = board["better"]
    set_serves(session=session, actor="test", outcome=outcome, keys=[REPORT, f"duty:{DUTY}"])
    assert serves_of(session=session, outcome=outcome) == [f"duty:{DUTY}", REPORT]
    event = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "outcome.serves_changed")
        .where(AuditEvent.entity_id == str(outcome.id))
    ).one()
    assert event.before == {"serves": []}
    assert event.after == {"serves": [f"duty:{DUTY}", REPORT]}
    # The same again changes nothing and records nothing.
    set_serves(session=session, actor="test", outcome=outcome, keys=[f"duty:{DUTY}", REPORT])
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "outcome.serves_changed"))
    assert len(events.all()) == 1


def test_what_the_partnership_does_not_discharge_is_refused_and_nothing_changes(session, board):
    outcome = board["better"]
    set_serves(session=session, actor="test", outcome=outcome, keys=[REPORT])
    with pytest.raises(Refused) as refused:
        set_serves(
            session=session,
            actor="test",
            outcome=outcome,
            keys=[f"duty:{DUTY}", "duty:care-act-2014-s42-s45", "deliverable:nope/nothing"],
        )
    assert "duty:care-act-2014-s42-s45, deliverable:nope/nothing" in refused.value.message
    assert refused.value.field == "serves"
    assert serves_of(session=session, outcome=outcome) == [REPORT]


def test_an_obligations_own_outcome_serves_it_and_names_nothing_else(session, board):
    obligation = session.exec(
        select(Obligation).where(Obligation.partnership_id == board["partnership"].id)
    ).first()
    own = add_outcome(
        session=session,
        actor=board["admin"],
        data=OutcomeCreate(obligation_id=obligation.id, title="The report is read by families"),
    )
    with pytest.raises(Refused):
        set_serves(session=session, actor="test", outcome=own, keys=[f"duty:{DUTY}"])
    assert serves_of(session=session, outcome=own) == []


def test_the_service_records_serves_with_the_outcome_and_replaces_them_when_given(session, board):
    partnership, admin = board["partnership"], board["admin"]
    outcome = add_outcome(
        session=session,
        actor=admin,
        data=OutcomeCreate(partnership_id=partnership.id, title="Families trust", serves=[REPORT]),
    )
    assert serves_of(session=session, outcome=outcome) == [REPORT]
    update_outcome(session=session, actor=admin, outcome=outcome, data=OutcomeUpdate(title="X"))
    assert serves_of(session=session, outcome=outcome) == [REPORT]  # left out: kept
    change = OutcomeUpdate(serves=[f"duty:{DUTY}"])
    update_outcome(session=session, actor=admin, outcome=outcome, data=change)
    assert serves_of(session=session, outcome=outcome) == [f"duty:{DUTY}"]


def test_a_bodys_obligation_discharged_through_the_partnership_reads_its_linked_outcomes(
    session, settings
):
    """A body-held deliverable of a duty its partnership discharges is judged by the
    partnership's outcomes that serve that duty, as before, and by no other."""
    today = settings.today()
    duty = session.exec(select(Duty).where(Duty.slug == "care-act-2014-s42-s45")).one()
    council = make_body(session)
    partnership = make_partnership(session, duties=[duty], members=[council])
    sync_obligations(session=session, on=today, track_from=today - dt.timedelta(days=800))
    held = view_obligations(
        session=session, on=today, due_soon_days=30, body_id=council.id, duty_id=duty.id
    )
    assert held, "the SAB duty has a deliverable each member council holds"
    outcome = _outcome(session, partnership, BETTER, today, "Adults at risk are safer")
    before = view_obligations(
        session=session, on=today, due_soon_days=30, body_id=council.id, duty_id=duty.id
    )
    assert {v.outcome for v in before} == {OutcomeStatus.no_outcome_defined}
    set_serves(session=session, actor="test", outcome=outcome, keys=[f"duty:{duty.slug}"])
    after = view_obligations(
        session=session, on=today, due_soon_days=30, body_id=council.id, duty_id=duty.id
    )
    assert {v.outcome for v in after} == {OutcomeStatus.improving}


# The API -------------------------------------------------------------------------------------


@pytest.fixture
def api(client, session, board):
    officer = make_user(session, "officer", partnerships=[board["partnership"].slug])
    token = create_token(session=session, user=officer, name="t", actor="test")[0]

    def call(method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    return call


def test_the_api_links_outcomes_and_shows_what_an_obligation_was_read_from(api, session, board):
    slug = board["partnership"].slug
    created = api(
        "post", f"/api/v1/partnerships/{slug}/outcomes", json={"title": "New", "serves": [REPORT]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["serves"] == [REPORT]
    outcome_id = board["better"].id
    changed = api("patch", f"/api/v1/outcomes/{outcome_id}", json={"serves": [f"duty:{DUTY}"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["serves"] == [f"duty:{DUTY}"]
    assert api("get", f"/api/v1/outcomes/{outcome_id}").json()["serves"] == [f"duty:{DUTY}"]
    obligation = session.exec(
        select(Obligation).where(Obligation.partnership_id == board["partnership"].id)
    ).first()
    body = api("get", f"/api/v1/obligations/{obligation.id}").json()
    titles = {s["title"] for s in body["outcomes_served_by"]}
    assert "Children in need are kept safe" in titles
    assert body["outcome_status"] != "no_outcome_defined"


def test_the_api_refuses_what_the_partnership_does_not_discharge_and_changes_nothing(
    api, session, board
):
    outcome_id = board["better"].id
    refused = api("patch", f"/api/v1/outcomes/{outcome_id}", json={"serves": ["duty:nope"]})
    assert refused.status_code == 422, refused.text
    assert "duty:nope" in refused.json()["detail"]
    assert session.exec(select(OutcomeServes)).all() == []
    emptied = api("patch", f"/api/v1/outcomes/{outcome_id}", json={"serves": None})
    assert emptied.status_code == 422, emptied.text


# The pages -----------------------------------------------------------------------------------


@pytest.fixture
def officer_browser(client, session, board):
    officer = make_user(session, "officer", partnerships=[board["partnership"].slug])
    sign_in(client, officer.email)
    return client


def test_the_change_page_lists_what_the_outcome_may_serve_and_saves_the_ticks(
    officer_browser, session, board
):
    outcome = board["better"]
    page = officer_browser.get(f"/outcomes/{outcome.id}/edit")
    assert page.status_code == 200
    boxes = parse(page.text).findall(".//input[@name='serves']")
    keys = [b.get("value") for b in boxes]
    choices = serve_choices(session=session, partnership_id=board["partnership"].id)
    assert keys == [c.key for c in choices] and f"duty:{DUTY}" in keys and REPORT in keys
    assert not any(b.get("checked") is not None for b in boxes)
    form = {"csrf_token": csrf_of(officer_browser), "title": outcome.title, "serves": [REPORT]}
    saved = officer_browser.post(f"/outcomes/{outcome.id}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert serves_of(session=session, outcome=outcome) == [REPORT]
    again = parse(officer_browser.get(f"/outcomes/{outcome.id}/edit").text)
    ticked = again.findall(".//input[@name='serves'][@checked]")
    assert [b.get("value") for b in ticked] == [REPORT]
    # Untick everything: it serves nothing.
    form["serves"] = []
    officer_browser.post(f"/outcomes/{outcome.id}/edit", data=form, follow_redirects=False)
    assert serves_of(session=session, outcome=outcome) == []


def test_a_forged_choice_is_an_error_by_the_field_and_changes_nothing(
    officer_browser, session, board
):
    outcome = board["better"]
    set_serves(session=session, actor="test", outcome=outcome, keys=[REPORT])
    form = {"csrf_token": csrf_of(officer_browser), "title": "Changed", "serves": ["duty:forged"]}
    answer = officer_browser.post(f"/outcomes/{outcome.id}/edit", data=form)
    assert answer.status_code == 422
    html = parse(answer.text)
    link = html.find(".//a[@href='#outcome-serves']")
    assert link is not None and "duty:forged" in "".join(link.itertext())
    assert serves_of(session=session, outcome=outcome) == [REPORT]
    session.refresh(outcome)
    assert outcome.title == "Children in need are kept safe"


def test_the_partnership_page_records_an_outcome_with_what_it_serves(
    officer_browser, session, board
):
    slug = board["partnership"].slug
    page = officer_browser.get(f"/partnerships/{slug}")
    assert "Serves no duty or condition yet" in page.text
    csrf = csrf_of(officer_browser)
    form = {"csrf_token": csrf, "title": "Families say it helped", "serves": REPORT}
    saved = officer_browser.post(
        f"/partnerships/{slug}/outcomes", data=form, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    outcome = session.exec(select(Outcome).where(Outcome.title == "Families say it helped")).one()
    assert serves_of(session=session, outcome=outcome) == [REPORT]
    shown = officer_browser.get(f"/partnerships/{slug}").text
    assert "The point of: " in shown


def test_the_obligation_page_says_which_outcomes_it_was_read_from_or_that_none_is_linked(
    officer_browser, session, board
):
    obligation = session.exec(
        select(Obligation).where(Obligation.partnership_id == board["partnership"].id)
    ).first()
    page = officer_browser.get(f"/obligations/{obligation.id}").text
    assert "No outcome linked" in page
    assert "No outcome for people is linked to this" in page
    set_serves(session=session, actor="test", outcome=board["worse"], keys=[f"duty:{DUTY}"])
    page = parse(officer_browser.get(f"/obligations/{obligation.id}").text)
    href = f"/partnerships/{board['partnership'].slug}#outcome-{board['worse'].id}"
    link = page.find(f".//a[@href='{href}']")
    assert link is not None and link.text == "Fewer children are harmed again"


# The migration -------------------------------------------------------------------------------


def test_upgrading_links_existing_outcomes_to_what_they_were_read_for(fresh_url):
    """Before 0012 every outcome of a partnership judged all its obligations: the upgrade keeps
    that, linking each to the partnership's duties and the funding conditions it holds."""
    upgrade(fresh_url, "0011")
    engine = make_engine(fresh_url)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO duty (id, slug, title, act, sections, url, jurisdiction, holder_kinds,"
                " partner_kinds, required_members, summary, typical_evidence, verified,"
                " catalogue_version, created_at, updated_at) VALUES (1, 'd', 'D', 'A', 's', 'u',"
                " '[]', '[]', '[]', '[]', 'x', '[]', true, 'v', '2026-01-01', '2026-01-01')"
            )
        )
        db.execute(
            text(
                "INSERT INTO partnership (id, slug, name, form, created_at, updated_at) VALUES"
                " (1, 'p', 'P', 'statutory_board', '2026-01-01', '2026-01-01'),"
                " (2, 'q', 'Q', 'statutory_board', '2026-01-01', '2026-01-01')"
            )
        )
        db.execute(text("INSERT INTO partnership_duty (partnership_id, duty_id) VALUES (1, 1)"))
        db.execute(
            text(
                "INSERT INTO outcome (id, partnership_id, title, created_at) VALUES"
                " (1, 1, 'Linked', '2026-01-01'), (2, 2, 'Nothing to serve', '2026-01-01')"
            )
        )
    upgrade(fresh_url)
    with Session(engine) as db:
        links = db.exec(select(OutcomeServes)).all()
    engine.dispose()
    assert [(link.outcome_id, link.duty_id) for link in links] == [(1, 1)]


def test_an_outcome_can_serve_a_funding_condition_of_its_partnerships_bid(
    demo_area, session, settings
):
    pooled = get_partnership(session=session, slug="cornwall-bcf-section-75")
    keys = [c.key for c in serve_choices(session=session, partnership_id=pooled.id)]
    conditions = [k for k in keys if k.startswith("condition:better-care-fund-2025-26/")]
    assert conditions, keys
    outcome = session.exec(select(Outcome).where(Outcome.partnership_id == pooled.id)).first()
    set_serves(session=session, actor="test", outcome=outcome, keys=conditions[:1])
    condition_id = next(
        c.row_id
        for c in serve_choices(session=session, partnership_id=pooled.id)
        if c.key == conditions[0]
    )
    held = session.exec(select(Obligation).where(Obligation.condition_id == condition_id)).all()
    assert held
    views = view_obligations_for(
        session=session, obligations=list(held), on=settings.today(), due_soon_days=30
    )
    assert all([s.outcome_id for s in v.served_by] == [outcome.id] for v in views)
