"""Reminders with nobody to send to (issue 15, item 11): a body whose obligations' reminders
reach no one is a finding for it, kept current as contacts and officers change, and listed on
the admin mail page; the finding names exactly the obligations the reminders drop."""

import datetime as dt

import pytest
from sqlmodel import select

from compliance.checks import rules
from compliance.checks.rules import Reach, Snapshot
from compliance.checks.service import run_checks
from compliance.models import Deliverable, Duty, Finding, Obligation, Period
from compliance.obligations.service import sync_obligations
from compliance.reminders import pages
from compliance.reminders.models import OutboxMessage
from compliance.reminders.reach import reach_of
from compliance.reminders.service import Directory, due_on, queue_due
from tests.conftest import make_user
from tests.factories import make_body, make_partnership
from tests.html import parse

ON = dt.date(2026, 6, 1)
DAY = dt.timedelta(days=1)
RULE = "no_reminder_contact"


def snapshot(reach: list[Reach]) -> Snapshot:
    empty: dict = {}
    return Snapshot(
        on=ON,
        due_soon_days=30,
        query_answer_days=14,
        obligations=[],
        periods=empty,
        evidence=empty,
        deliverables=empty,
        duties=empty,
        conditions=empty,
        body_names=empty,
        partnerships=empty,
        members=empty,
        partnership_duties=empty,
        outcomes=[],
        indicators=[],
        points=empty,
        comments=empty,
        reach=reach,
    )


def hits(reach: list[Reach]) -> list[rules.Hit]:
    snap = snapshot(reach)
    return [h for r in rules.reminder_holders(snap) for h in rules.no_reminder_contact(snap, r)]


def test_a_body_without_a_contact_whose_obligations_no_officer_covers_is_a_finding():
    lost = Reach(7, None, "Lost Council", email=False, unreached=[1, 2, 3])
    (hit,) = hits([lost])
    assert (hit.rule, hit.severity, hit.subject, hit.body_id) == (
        RULE,
        "medium",
        "body:7:reminders",
        7,
    )
    assert hit.message == (
        "Lost Council: reminders about 3 of its obligations have nobody to go to: it has no "
        "contact email, and no officer's scope covers it"
    )
    # No Act sets it: the date and the duty are a convention of this tracker, and nothing
    # records when the body lost its last contact.
    assert hit.basis.startswith("a convention of this tracker, not a statutory duty")
    assert hit.since is None
    assert "contact email" in hit.remedy and "Admin, Users" in hit.remedy
    assert rules.rule_words(RULE).startswith("A body's reminders have nobody to go to")


def test_a_contact_email_or_covered_obligations_clear_it():
    assert hits([Reach(7, None, "Mailed", email=True, unreached=[1])]) == []
    assert hits([Reach(7, None, "Covered", email=False, unreached=[])]) == []


def test_a_partnership_with_no_lead_body_is_the_finding_holder():
    (hit,) = hits([Reach(None, 4, "Lone Board", email=False, unreached=[9])])
    assert (hit.subject, hit.body_id, hit.partnership_id) == ("partnership:4:reminders", None, 4)
    assert "it has no lead body" in hit.message and "lead body" in hit.remedy


@pytest.fixture
def partnership_duty(session) -> Duty:
    query = select(Duty).join(Deliverable).where(Deliverable.held_by == "partnership")
    return session.exec(query.order_by(Duty.id)).first()


@pytest.fixture
def world(session, partnership_duty):  # type: ignore[no-untyped-def]
    """Holders that reminders reach in each way, and two they do not."""
    county = make_body(session, kind="county_council", email="gov@county.example.org")
    found = {
        "county": county,
        "mailed": make_body(session, email="gov@mailed.example.org"),
        "lost": make_body(session, name="Lost Council"),
        # No contact, but an officer of the county above it covers it.
        "district": make_body(session, kind="district_council", parent_id=county.id),
    }
    make_user(session, "officer", bodies=[county.code])
    # A board led by the lost council: its obligations are the lead body's to be told of.
    found["led"] = make_partnership(
        session, duties=[partnership_duty], lead_body_id=found["lost"].id
    )
    found["lone"] = make_partnership(session, duties=[partnership_duty], name="Lone Board")
    found["staffed"] = make_partnership(session, duties=[partnership_duty])
    make_user(session, "officer", partnerships=[found["staffed"].slug])
    sync_obligations(session=session, on=ON)
    return found


def open_obligations(session, *, body=None, partnership=None) -> set[int]:
    query = select(Obligation.id).where(
        Obligation.closed_date.is_(None), Obligation.not_applicable_reason.is_(None)
    )
    if body is not None:
        query = query.where(Obligation.body_id == body.id)
    if partnership is not None:
        query = query.where(Obligation.partnership_id == partnership.id)
    return set(session.exec(query))


def check(session, settings, on=ON):  # type: ignore[no-untyped-def]
    return run_checks(
        session=session,
        on=on,
        trigger="test",
        due_soon_days=settings.due_soon_days,
        query_answer_days=settings.query_answer_days,
    )


def open_findings(session) -> dict[str, Finding]:
    query = select(Finding).where(Finding.rule == RULE, Finding.resolved_at.is_(None))
    return {f.key: f for f in session.exec(query)}


def test_the_finding_names_the_holders_and_obligations_the_reminders_cannot_reach(
    session, settings, world
):
    lost, lone, led = world["lost"], world["lone"], world["led"]
    reach = {(r.body_id, r.partnership_id): r for r in reach_of(session=session)}
    lost_ones = open_obligations(session, body=lost) | open_obligations(session, partnership=led)
    assert lost_ones and set(reach[(lost.id, None)].unreached) == lost_ones
    assert set(reach[(None, lone.id)].unreached) == open_obligations(session, partnership=lone)
    assert reach[(world["county"].id, None)].email and reach[(world["mailed"].id, None)].email
    assert not reach[(world["district"].id, None)].email  # but its county's officer covers it
    assert reach[(world["district"].id, None)].unreached == []
    assert reach[(None, world["staffed"].id)].unreached == []
    check(session, settings)
    found = open_findings(session)
    assert set(found) == {
        f"{RULE}:body:{lost.id}:reminders",
        f"{RULE}:partnership:{lone.id}:reminders",
    }
    mine = found[f"{RULE}:body:{lost.id}:reminders"]
    assert mine.body_id == lost.id and f"reminders about {len(lost_ones)} of" in mine.message


def _statutory_due_dates(session, obligation_ids: set[int]) -> list[dt.date]:
    dates = session.exec(
        select(Period.due_date)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .join(Deliverable, Deliverable.id == Obligation.deliverable_id)
        .where(Period.obligation_id.in_(obligation_ids), Period.due_date > ON + 7 * DAY)
        .where(Deliverable.due_set_by.is_not(None))
        .order_by(Period.due_date)
    )
    return sorted(set(dates))[:3]


def test_the_reminders_drop_exactly_what_the_finding_names(session, settings, world):
    unreached = {o for r in reach_of(session=session) if not r.email for o in r.unreached}
    dropped = sent_for = 0
    for due_date in _statutory_due_dates(session, unreached):
        on = due_date - DAY
        due = due_on(session=session, directory=Directory(session, settings, on), on=on)
        report = queue_due(session=session, settings=settings, on=on)
        assert report.no_address == sum(d.obligation.id in unreached for d in due)
        dropped += report.no_address
        sent_for += sum(d.obligation.id not in unreached for d in due)
    assert dropped and sent_for  # both kinds were due: the test compares something
    told = set(session.exec(select(OutboxMessage.obligation_id)))
    assert told and not told & unreached


def test_the_finding_follows_contacts_and_officers_as_they_change(session, settings, world):
    lost = world["lost"]
    key = f"{RULE}:body:{lost.id}:reminders"
    check(session, settings, settings.today())
    session.commit()
    first = open_findings(session)[key]
    # Each change is judged before it commits, for the body it touches, as a full check would.
    lost.email = "gov@lost.example.org"
    session.commit()
    assert key not in open_findings(session)
    lost.email = None
    session.commit()
    assert open_findings(session)[key].message == first.message
    officer = make_user(session, "officer", bodies=[lost.code])
    session.commit()
    assert key not in open_findings(session)
    officer.is_active = False
    session.commit()
    assert open_findings(session)[key].message == first.message


def test_the_admin_mail_page_says_when_every_reminder_has_someone(admin):
    page = admin.get("/admin/mail")
    assert page.status_code == 200
    assert "None: every obligation’s reminders have someone to go to." in page.text


def test_the_admin_mail_page_lists_them_and_links_to_all(session, settings, world, admin):
    check(session, settings)
    page = admin.get("/admin/mail")
    tree = parse(page.text)
    section = tree.find(".//h2[@id='nobody-to-send-to']")
    assert section is not None
    links = {a.get("href"): "".join(a.itertext()) for a in tree.iter("a")}
    assert links[f"/bodies/{world['lost'].code}"] == "Lost Council"
    assert links[f"/partnerships/{world['lone'].slug}"] == "Lone Board"
    assert f"/findings?rule={RULE}" not in links  # all shown: no link to the rest


def test_past_the_first_rows_the_mail_page_links_to_the_findings(
    session, settings, world, admin, monkeypatch
):
    check(session, settings)
    shown, total = pages.unreached(session=session, limit=1)
    assert total == 2 and [f.partnership_id for f in shown] == [world["lone"].id]  # by name
    monkeypatch.setattr(pages, "UNREACHED_ROWS", 1)
    tree = parse(admin.get("/admin/mail").text)
    links = {a.get("href"): "".join(a.itertext()) for a in tree.iter("a")}
    assert links[f"/findings?rule={RULE}"] == "See all 2 on the findings page"
    assert f"/bodies/{world['lost'].code}" not in links
    listed = admin.get(f"/findings?rule={RULE}")
    assert listed.status_code == 200 and "Lost Council: reminders about" in listed.text
