"""Evaluation rounds as officers, partners' staff and people who use services meet them: a round
started and partners invited by single-use links through the outbox, each link answering once,
bad links refused with a clear page, answers past the form's limits refused field by field,
results hidden below the round's minimum, and no stored answer tied to who gave it."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect
from sqlmodel import select

from compliance.evaluations.models import EvaluationAnswer, EvaluationInvitation, EvaluationRound
from compliance.evaluations.service import latest_results, round_results
from compliance.migrations import downgrade, upgrade
from compliance.models import AuditEvent, Outcome
from compliance.reminders.models import OutboxMessage
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body, make_partnership
from tests.html import parse

PARTNER = {
    "share_information": "4",
    "trust": "5",
    "joint_decisions": "2",
    "shared_purpose": "4",
    "expected": "Fewer people go back into hospital",
}
PERSON = {
    "right_outcomes": "partly",
    "matters_most": "Staying in my own home",
    "better_for_me": "4",
    "listened_to": "3",
    "joined_up": "2",
    "what_changed": "I only tell my story once now",
}


@pytest.fixture
def world(app, session, settings):
    member, other = make_body(session), make_body(session)
    board = make_partnership(session, members=[member])
    outcomes = [
        Outcome(partnership_id=board.id, title="Adults at risk feel safer"),
        Outcome(partnership_id=board.id, title="Fewer people go back into hospital"),
    ]
    session.add_all(outcomes)
    session.flush()
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", partnerships=[board.slug]),
        "inspector": make_user(session, "inspector", partnerships=[board.slug]),
        "officer_elsewhere": make_user(session, "officer", bodies=[other.code]),
        "inspector_elsewhere": make_user(session, "inspector", bodies=[other.code]),
    }
    return {
        "today": settings.today(),
        "board": board,
        "base": f"/partnerships/{board.slug}/evaluations",
        "outcomes": outcomes,
        "users": users,
    }


def client_of(app, world, who):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    if who != "anonymous":
        sign_in(client, world["users"][who].email)
    return client


@pytest.fixture
def officer(app, world):  # type: ignore[no-untyped-def]
    return client_of(app, world, "officer")


def round_form(token: str, today: dt.date, minimum: str = "2", **changes: str) -> dict[str, str]:
    closes = today + dt.timedelta(days=14)
    form = {
        "csrf_token": token,
        "title": "Spring evaluation",
        "opens_date-day": str(today.day),
        "opens_date-month": str(today.month),
        "opens_date-year": str(today.year),
        "closes_date-day": str(closes.day),
        "closes_date-month": str(closes.month),
        "closes_date-year": str(closes.year),
        "min_answers": minimum,
    }
    return form | changes


def start_round(client: TestClient, world, minimum: str = "2") -> int:  # type: ignore[no-untyped-def]
    token = csrf_of(client, world["base"])
    response = client.post(
        world["base"], data=round_form(token, world["today"], minimum), follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def invite(client: TestClient, world, round_id: int, addresses: str, token: str = ""):  # type: ignore[no-untyped-def]
    token = token or csrf_of(client, world["base"])
    return client.post(
        f"{world['base']}/{round_id}/invitations",
        data={"csrf_token": token, "addresses": addresses},
        follow_redirects=False,
    )


def invitation_links(session) -> list[str]:  # type: ignore[no-untyped-def]
    """The survey paths in the invitations queued in the outbox, in the order they were sent."""
    bodies = session.exec(
        select(OutboxMessage.text_body)
        .where(OutboxMessage.kind == "evaluation_invitation")
        .order_by(OutboxMessage.id)
    ).all()
    return [urlsplit(re.search(r"http\S+/survey/\S+", body).group(0)).path for body in bodies]


def public_link(session, round_id: int) -> str:  # type: ignore[no-untyped-def]
    return f"/have-your-say/{session.get(EvaluationRound, round_id).public_token}"


def answers(session, round_id: int) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(EvaluationAnswer)
    return session.exec(query.where(EvaluationAnswer.round_id == round_id)).one()


def error_summary(html: str) -> list[str]:
    tree = parse(html)
    return ["".join(a.itertext()) for a in tree.iterfind(".//*[@class='govuk-error-summary']//a")]


def field_errors(html: str) -> dict[str, str]:
    """Each error message printed by its field, by the field's id."""
    tree = parse(html)
    found = {}
    for message in tree.iterfind(".//p[@class='govuk-error-message']"):
        text = "".join(message.itertext()).replace("Error:", "").strip()
        found[message.get("id").removesuffix("-error")] = text
    return found


# Starting a round and inviting partners -------------------------------------------------------


def test_an_officer_starts_a_round_and_each_invitation_is_queued_once(officer, world, session):
    round_id = start_round(officer, world)
    row = session.get(EvaluationRound, round_id)
    assert (row.title, row.min_answers, row.status) == ("Spring evaluation", 2, "open")
    sent = invite(officer, world, round_id, "a@example.org, b@example.org\nA@EXAMPLE.org")
    assert sent.status_code == 303
    assert "invited=2&already=0" in sent.headers["location"]
    again = invite(officer, world, round_id, "a@example.org")
    assert "invited=0&already=1" in again.headers["location"]
    messages = session.exec(
        select(OutboxMessage).where(OutboxMessage.kind == "evaluation_invitation")
    ).all()
    assert sorted(m.to_address for m in messages) == ["a@example.org", "b@example.org"]
    assert len({m.idempotency_key for m in messages}) == 2
    links = invitation_links(session)
    assert len(set(links)) == 2
    # Only each token's SHA-256 is stored with the invitation.
    stored = session.exec(select(EvaluationInvitation.token_hash)).all()
    assert not {link.rsplit("/", 1)[1] for link in links} & set(stored)
    assert "preferences" not in messages[0].text_body  # partners' staff are not users
    page = officer.get(f"{world['base']}/{round_id}?invited=2&already=0")
    parse(page.text)
    assert "2 invitations sent" in page.text and "2 sent, 0 used" in page.text
    assert public_link(session, round_id) in page.text


def test_invitation_addresses_are_checked(officer, world, session):
    round_id = start_round(officer, world)
    for typed, message in (
        ("", "Enter at least one email address"),
        ("a@example.org, not-an-address", "“not-an-address” is not an email address"),
    ):
        response = invite(officer, world, round_id, typed)
        assert response.status_code == 422
        assert message in error_summary(response.text)[0]
        assert message in field_errors(response.text)["addresses"]
        assert response.text.count("<title>Error: ") == 1
    assert session.exec(select(func.count()).select_from(EvaluationInvitation)).one() == 0
    assert not invitation_links(session)


def test_a_new_round_is_checked_field_by_field(officer, world, session):
    token = csrf_of(officer, world["base"])
    form = round_form(
        token, world["today"], "1", title="", **{"closes_date-day": "31", "closes_date-month": "2"}
    )
    response = officer.post(world["base"], data=form)
    assert response.status_code == 422
    assert error_summary(response.text) == [
        "Enter a title",
        "The closing date must be a real date",
        "Enter a whole number from 2 to 100",
    ]
    assert 'value="1"' in response.text  # what was typed comes back
    past = round_form(token, world["today"], **{"closes_date-year": str(world["today"].year - 1)})
    assert (
        "The closing date must be today or in the future"
        in officer.post(world["base"], data=past).text
    )
    assert session.exec(select(func.count()).select_from(EvaluationRound)).one() == 0


# A private link answers once ------------------------------------------------------------------


def test_a_private_link_answers_once_then_says_it_has_been_used(app, officer, world, session):
    round_id = start_round(officer, world)
    invite(officer, world, round_id, "a@example.org")
    (link,) = invitation_links(session)
    partner = TestClient(app)
    form = partner.get(link)
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    tree = parse(form.text)
    assert "Adults at risk feel safer" in form.text
    # Every radio group is a fieldset with a legend; every field has a label.
    assert len(tree.findall(".//fieldset/legend")) == 5
    assert len(tree.findall(".//label[@for='expected']")) == 1
    data = PARTNER | {"outcomes": [str(world["outcomes"][1].id)]}
    sent = partner.post(link, data=data, follow_redirects=False)
    assert (sent.status_code, sent.headers["location"]) == (303, "/survey/answered")
    assert "Your answers have been sent" in partner.get("/survey/answered").text
    assert answers(session, round_id) == 1
    used = partner.get(link)
    assert used.status_code == 410 and "This link has already been used" in used.text
    parse(used.text)
    twice = partner.post(link, data=PARTNER)
    assert twice.status_code == 410 and "This link has already been used" in twice.text
    assert "were not recorded" in twice.text
    assert answers(session, round_id) == 1
    assert session.exec(select(EvaluationInvitation)).one().used


@pytest.mark.parametrize("change", ["altered", "unknown", "overlong"])
def test_an_altered_or_unknown_link_is_not_valid(app, officer, world, session, change):
    round_id = start_round(officer, world)
    invite(officer, world, round_id, "a@example.org")
    (link,) = invitation_links(session)
    shared = public_link(session, round_id)
    bad = {
        "altered": lambda path: path[:-1] + ("A" if path[-1] != "A" else "B"),
        "unknown": lambda path: path.rsplit("/", 1)[0] + "/nothing-like-a-token",
        "overlong": lambda path: path + "x" * 500,
    }[change]
    visitor = TestClient(app)
    for path, data in ((bad(link), PARTNER), (bad(shared), PERSON)):
        page = visitor.get(path)
        assert page.status_code == 404 and "This link is not valid" in page.text, path
        posted = visitor.post(path, data=data)
        assert posted.status_code == 404 and "This link is not valid" in posted.text
    assert answers(session, round_id) == 0
    assert not session.exec(select(EvaluationInvitation)).one().used


def test_a_closed_round_takes_no_answers(app, officer, world, session):
    round_id = start_round(officer, world)
    invite(officer, world, round_id, "a@example.org")
    (link,) = invitation_links(session)
    shared = public_link(session, round_id)
    confirm = officer.get(f"{world['base']}/{round_id}/close")
    assert confirm.status_code == 200 and "govuk-button--warning" in confirm.text
    token = csrf_of(officer, world["base"])
    closed = officer.post(
        f"{world['base']}/{round_id}/close", data={"csrf_token": token}, follow_redirects=False
    )
    assert closed.status_code == 303
    today = world["today"]
    when = f"{today.day} {today:%B %Y}"
    visitor = TestClient(app)
    for path, data in ((link, PARTNER), (shared, PERSON)):
        page = visitor.get(path)
        assert page.status_code == 410 and f"This survey closed on {when}" in page.text
        posted = visitor.post(path, data=data)
        assert posted.status_code == 410 and f"This survey closed on {when}" in posted.text
    assert answers(session, round_id) == 0
    assert not session.exec(select(EvaluationInvitation)).one().used
    assert "Send invitations" not in officer.get(f"{world['base']}/{round_id}").text


def test_a_round_past_its_closing_date_says_when_it_closed(app, officer, world, session):
    round_id = start_round(officer, world)
    row = session.get(EvaluationRound, round_id)
    row.opens_date = world["today"] - dt.timedelta(days=30)
    row.closes_date = world["today"] - dt.timedelta(days=2)
    session.add(row)
    session.flush()
    page = TestClient(app).get(public_link(session, round_id))
    assert page.status_code == 410
    assert f"This survey closed on {row.closes_date.day} {row.closes_date:%B %Y}" in page.text


def test_the_shared_link_stops_at_its_cap(app, officer, world, session):
    round_id = start_round(officer, world)
    row = session.get(EvaluationRound, round_id)
    row.max_link_answers = 1
    session.add(row)
    session.flush()
    visitor = TestClient(app)
    shared = public_link(session, round_id)
    assert visitor.post(shared, data=PERSON, follow_redirects=False).status_code == 303
    full = visitor.post(shared, data=PERSON)
    assert full.status_code == 409 and "all the answers it can take" in full.text
    assert answers(session, round_id) == 1


def test_a_public_form_sent_from_another_site_is_refused(app, officer, world, session):
    round_id = start_round(officer, world)
    response = TestClient(app).post(
        public_link(session, round_id), data=PERSON, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert answers(session, round_id) == 0


# Answers past the form's limits ---------------------------------------------------------------


def test_a_partners_answer_past_the_limits_comes_back_with_messages(app, officer, world, session):
    round_id = start_round(officer, world)
    invite(officer, world, round_id, "a@example.org")
    (link,) = invitation_links(session)
    data = PARTNER | {"trust": "", "joint_decisions": "9", "expected": "x" * 2001}
    data["outcomes"] = ["999999"]
    response = TestClient(app).post(link, data=data)
    assert response.status_code == 422
    assert "<title>Error: " in response.text
    assert error_summary(response.text) == [
        "Choose how much you agree that partners trust each other",
        "Choose how much you agree that decisions are made jointly",
        "Choose outcomes from the list",
        "Write 2,000 characters or fewer about what you expect to change (you wrote 2,001)",
    ]
    assert set(field_errors(response.text)) == {"trust", "joint_decisions", "outcomes", "expected"}
    assert "x" * 2001 in response.text  # what was typed is kept
    assert 'value="4" checked' in response.text
    assert answers(session, round_id) == 0
    assert not session.exec(select(EvaluationInvitation)).one().used


def test_a_persons_answer_past_the_limits_comes_back_with_messages(app, officer, world, session):
    round_id = start_round(officer, world)
    data = PERSON | {"right_outcomes": "", "listened_to": "", "what_changed": "y" * 5000}
    response = TestClient(app).post(public_link(session, round_id), data=data)
    assert response.status_code == 422
    assert error_summary(response.text) == [
        "Choose yes, partly or no",
        "Choose how much you agree that people listen to what matters to you",
        "Write 2,000 characters or fewer about what has changed for you (you wrote 5,000)",
    ]
    assert answers(session, round_id) == 0


# Results and anonymity ------------------------------------------------------------------------


def test_results_show_only_at_the_rounds_minimum(app, officer, world, session):
    round_id = start_round(officer, world, minimum="2")
    invite(officer, world, round_id, "a@example.org b@example.org")
    first, second = invitation_links(session)
    partner = TestClient(app)
    ticked = {"outcomes": [str(world["outcomes"][0].id)]}
    partner.post(first, data=PARTNER | ticked | {"expected": "zebra crossings near the school"})
    page = officer.get(f"{world['base']}/{round_id}").text
    assert "Results show once 2 people have answered (1 so far)" in page
    assert "zebra crossings" not in page
    below = round_results(session=session, round_id=round_id)
    assert below.partners.answers == 1 and not below.partners.shown
    assert below.partners.statements == () and below.partners.texts == ()
    partner.post(second, data=PARTNER | {"trust": "1", "expected": "Apples for everyone"})
    page = officer.get(f"{world['base']}/{round_id}").text
    parse(page)
    assert "Results show once 2 people have answered (2 so far)" not in page
    assert "Results show once 2 people have answered (0 so far)" in page  # the people's stage
    # Sorted, not in the order given: the second answer's words come first.
    assert page.index("Apples for everyone") < page.index("zebra crossings")
    results = round_results(session=session, round_id=round_id).partners
    trust = {s.key: s for s in results.statements}["trust"]
    assert trust.counts == (1, 0, 0, 0, 1) and trust.median == 3 and trust.agreeing == 0.5
    assert trust.median_words == "Neither agree nor disagree"
    assert dict(results.outcomes) == {
        "Adults at risk feel safer": 1,
        "Fewer people go back into hospital": 0,
    }
    assert results.texts[0][1] == ("Apples for everyone", "zebra crossings near the school")


def test_the_default_minimum_is_five(officer, world, session):
    round_id = start_round(officer, world, minimum="5")
    for _ in range(4):
        officer.post(
            f"{world['base']}/{round_id}/session",
            data=PERSON | {"csrf_token": csrf_of(officer, world["base"])},
        )
    assert not round_results(session=session, round_id=round_id).people.shown
    assert "(4 so far)" in officer.get(f"{world['base']}/{round_id}").text
    officer.post(
        f"{world['base']}/{round_id}/session",
        data=PERSON | {"csrf_token": csrf_of(officer, world["base"])},
    )
    people = round_results(session=session, round_id=round_id).people
    assert people.shown and dict(people.right_outcomes) == {"Yes": 0, "Partly": 5, "No": 0}
    assert EvaluationRound.model_fields["min_answers"].default == 5


def test_no_stored_answer_references_an_invitation_or_a_user(app, officer, world, session):
    round_id = start_round(officer, world)
    invite(officer, world, round_id, "a@example.org")
    (link,) = invitation_links(session)
    TestClient(app).post(link, data=PARTNER)
    token = csrf_of(officer, world["base"])
    officer.post(f"{world['base']}/{round_id}/session", data=PERSON | {"csrf_token": token})
    columns = {c["name"] for c in inspect(session.connection()).get_columns("evaluation_answer")}
    assert columns == {"id", "round_id", "stage", "channel", "choices", "outcome_ids", "texts"}
    invitation_columns = inspect(session.connection()).get_columns("evaluation_invitation")
    assert not [
        c["name"]
        for c in invitation_columns
        if c["name"].endswith("_at") and c["name"] != "created_at"
    ]
    stored = session.exec(select(EvaluationAnswer)).all()
    assert {(a.stage, a.channel) for a in stored} == {
        ("partners", "invitation"),
        ("people", "session"),
    }
    invitation = session.exec(select(EvaluationInvitation)).one()
    officer_user = world["users"]["officer"]
    for answer in stored:
        written = repr(answer.model_dump())
        for secret in (invitation.email, invitation.token_hash, officer_user.email):
            assert secret not in written
    # The audit says who typed answers in from a session, never which answers.
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "evaluation_round.session_answer_entered")
    ).all()
    assert len(events) == 1 and events[0].after is None


def test_answers_from_a_session_are_entered_by_staff_and_count(officer, world, session):
    round_id = start_round(officer, world)
    path = f"{world['base']}/{round_id}/session"
    page = officer.get(path)
    assert page.status_code == 200
    parse(page.text)
    token = csrf_of(officer, world["base"])
    wrong = officer.post(path, data=PERSON | {"csrf_token": token, "better_for_me": ""})
    assert wrong.status_code == 422
    assert error_summary(wrong.text) == [
        "Choose how much you agree that things have got better for you"
    ]
    assert "Staying in my own home" in wrong.text
    for _ in range(2):
        saved = officer.post(path, data=PERSON | {"csrf_token": token}, follow_redirects=False)
        assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    assert "2 people’s answers from sessions so far" in officer.get(path + "?saved=1").text
    people = round_results(session=session, round_id=round_id).people
    assert people.shown and people.answers == 2 and people.by_channel == {"session": 2}
    assert dict(people.texts)["What matters most to you?"] == ("Staying in my own home",) * 2


def test_latest_results_trend_across_rounds(officer, world, session):
    first = start_round(officer, world)
    second = start_round(officer, world)
    token = csrf_of(officer, world["base"])
    for _ in range(2):
        officer.post(f"{world['base']}/{first}/session", data=PERSON | {"csrf_token": token})
    officer.post(
        f"{world['base']}/{second}/session",
        data=PERSON | {"csrf_token": token, "better_for_me": "5"},
    )
    found = latest_results(session=session, partnership_id=world["board"].id, on=world["today"])
    assert found.latest.round.id == second and not found.latest.people.shown
    assert [h.round_id for h in found.trend] == [first, second]
    assert found.trend[0].agreeing["better_for_me"] == 1.0
    assert found.trend[0].agreeing["listened_to"] == 0.0
    assert found.trend[0].right_outcomes == 0.0
    assert found.trend[1].agreeing["better_for_me"] is None  # below the minimum
    assert found.trend[0].agreeing["trust"] is None  # no partner answered
    earlier = latest_results(
        session=session, partnership_id=world["board"].id, on=world["today"] - dt.timedelta(days=1)
    )
    assert earlier.latest is None and earlier.trend == ()
    listing = officer.get(world["base"])
    parse(listing.text)
    assert "Across rounds" in listing.text and "Too few answers" in listing.text


# Who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    ["anonymous", "admin", "officer", "inspector", "officer_elsewhere", "inspector_elsewhere"],
)
def test_staff_pages_are_for_officers_in_scope(app, world, session, who):
    round_id = start_round(client_of(app, world, "officer"), world)
    client = client_of(app, world, who)
    token = csrf_of(client, "/account") if who != "anonymous" else ""
    base, writes = world["base"], who in {"admin", "officer"}
    reads = writes or who == "inspector"
    expected_read = 200 if reads else 303 if who == "anonymous" else 403
    expected_write = 303 if writes or who == "anonymous" else 403
    for path in (base, f"{base}/{round_id}"):
        assert client.get(path, follow_redirects=False).status_code == expected_read, path
    for path in (f"{base}/{round_id}/session", f"{base}/{round_id}/close"):
        status = client.get(path, follow_redirects=False).status_code
        assert status == (200 if writes else 303 if who == "anonymous" else 403), path
    before = session.exec(select(func.count()).select_from(EvaluationRound)).one()
    created = client.post(base, data=round_form(token, world["today"]), follow_redirects=False)
    invited = invite(client, world, round_id, "x@example.org", token) if token else None
    entered = client.post(
        f"{base}/{round_id}/session", data=PERSON | {"csrf_token": token}, follow_redirects=False
    )
    assert created.status_code == expected_write
    assert entered.status_code == expected_write
    if invited is not None:
        assert invited.status_code == (303 if writes else 403)
    after = session.exec(select(func.count()).select_from(EvaluationRound)).one()
    assert after - before == (1 if writes else 0)
    assert answers(session, round_id) == (1 if writes else 0)
    if who == "inspector":
        page = client.get(f"{base}/{round_id}").text
        assert "Send invitations" not in page and "/have-your-say/" not in page


# The migration --------------------------------------------------------------------------------


def test_the_migration_adds_and_removes_the_tables(fresh_url):
    from compliance.db import make_engine

    upgrade(fresh_url, "0010")
    engine = make_engine(fresh_url)
    tables = {"evaluation_round", "evaluation_invitation", "evaluation_answer"}
    assert tables <= set(inspect(engine).get_table_names())
    downgrade(fresh_url, "-1")
    assert not tables & set(inspect(engine).get_table_names())
    assert "partnership" in inspect(engine).get_table_names()
    engine.dispose()


# The API --------------------------------------------------------------------------------------


def test_the_api_gives_the_same_results_and_hides_them_below_the_minimum(app, officer, world):
    round_id = start_round(officer, world)
    path = f"/api/v1/partnerships/{world['board'].slug}/evaluations"
    token = csrf_of(officer, world["base"])
    officer.post(f"{world['base']}/{round_id}/session", data=PERSON | {"csrf_token": token})
    below = officer.get(path).json()
    people = below["latest"]["people"]
    assert (people["answers"], people["shown"], people["statements"], people["texts"]) == (
        1,
        False,
        [],
        [],
    )
    officer.post(f"{world['base']}/{round_id}/session", data=PERSON | {"csrf_token": token})
    found = officer.get(path).json()
    assert found["latest"]["id"] == round_id and found["latest"]["state"] == "open"
    people = found["latest"]["people"]
    assert people["shown"] and people["statements"][0] == {
        "key": "better_for_me",
        "text": "Things have got better for me",
        "counts": [0, 0, 0, 2, 0],
        "median": 4.0,
        "agreeing": 1.0,
    }
    assert found["trend"][0]["agreeing"]["better_for_me"] == 1.0
    assert client_of(app, world, "officer_elsewhere").get(path).status_code == 403
    assert client_of(app, world, "inspector").get(path).status_code == 200


def test_without_recorded_outcomes_the_forms_do_not_ask_about_them(app, session, settings):
    board = make_partnership(session)
    officer = TestClient(app)
    sign_in(officer, make_user(session, "officer", partnerships=[board.slug]).email)
    world = {"base": f"/partnerships/{board.slug}/evaluations", "today": settings.today()}
    round_id = start_round(officer, world)
    shared = public_link(session, round_id)
    visitor = TestClient(app)
    form = visitor.get(shared).text
    assert "Are these the right things to work on?" not in form
    person = {k: v for k, v in PERSON.items() if k != "right_outcomes"}
    assert visitor.post(shared, data=person, follow_redirects=False).status_code == 303
    invite(officer, world, round_id, "a@example.org")
    (link,) = invitation_links(session)
    assert 'name="outcomes"' not in visitor.get(link).text
    assert visitor.post(link, data=PARTNER, follow_redirects=False).status_code == 303
    assert answers(session, round_id) == 2


def test_the_partnership_page_says_what_people_and_partners_say(officer, world, session):
    page = f"/partnerships/{world['board'].slug}"
    assert "No evaluation round yet" in officer.get(page).text
    round_id = start_round(officer, world)
    shown = officer.get(page).text
    assert shown.count("results show once 2 people have answered (0 so far)") == 2
    path = f"{world['base']}/{round_id}/session"
    token = csrf_of(officer, world["base"])
    for _ in range(2):
        officer.post(path, data=PERSON | {"csrf_token": token}, follow_redirects=False)
    shown = officer.get(page).text
    # People's answers now show; the partners' survey has none yet, so stays hidden.
    assert shown.count("results show once 2 people") == 1
    section = shown[shown.index('id="voices"') : shown.index('id="value"')]
    assert "2 answers." in section and "% agree" in section
