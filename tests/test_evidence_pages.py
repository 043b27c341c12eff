"""Evidence journeys in the pages, as their users make them: correcting by a new version,
withdrawing after a confirmation, querying and answering, the record form's errors in plain
English, an oversize upload that keeps what was typed, and the review queue naming whose
evidence each row is."""

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from compliance.evidence.service import EvidenceCreate, record, successor
from compliance.main import OVERSIZE_READ_FACTOR, UPLOAD_OVERHEAD_BYTES
from compliance.models import Evidence, EvidenceComment, Obligation, Period
from compliance.obligations.service import sync_obligations
from tests import files as sample
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_body
from tests.html import parse

LIMIT = 1_000_000  # a small upload limit, so that an oversize body is quick to send
FILE_KINDS = (
    "The file must be a PDF, Word, Excel, PowerPoint, OpenDocument, image, text, CSV or email file"  # noqa: E501
)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The suite's settings with a small upload limit, set before the app is built."""
    settings.max_upload_bytes = LIMIT
    return settings


@pytest.fixture
def world(app, session, settings):  # type: ignore[no-untyped-def]
    body = make_body(session, name="Kernow Test Council")
    sync_obligations(session=session, on=settings.today())
    obligation = session.exec(
        select(Obligation)
        .where(Obligation.body_id == body.id, Obligation.deliverable_id.is_not(None))
        .order_by(Obligation.id)
    ).first()
    periods = session.exec(select(Period.id).where(Period.obligation_id == obligation.id)).all()
    officer = make_user(session, "officer", bodies=[body.code])
    inspector = make_user(session, "inspector", bodies=[body.code])
    evidence = record(
        session=session,
        data_dir=settings.data_dir,
        max_bytes=LIMIT,
        actor=officer,
        data=EvidenceCreate(
            kind="minutes",
            title="Minutes of the Board, first draft",
            effective_date=settings.today() - dt.timedelta(days=30),
            occurrence_ids=[periods[0]],
        ),
        content=sample.PDF,
        file_name="minutes.pdf",
    )
    session.flush()
    return {
        "body": body,
        "obligation": obligation,
        "page": f"/obligations/{obligation.id}",
        "periods": list(periods),
        "officer": officer,
        "inspector": inspector,
        "evidence": evidence,
    }


def browser(app, user) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    sign_in(client, user.email)
    return client, csrf_of(client, "/")


def typed(world, settings, **overrides) -> dict:  # type: ignore[no-untyped-def]
    """The evidence form as an officer fills it in; an override of None leaves a field out."""
    day = settings.today() - dt.timedelta(days=10)
    values = {
        "kind": "minutes",
        "title": "Minutes of the Board, 4 June",
        "effective_date-day": str(day.day),
        "effective_date-month": str(day.month),
        "effective_date-year": str(day.year),
        "occurrence_ids": str(world["periods"][0]),
    } | overrides
    return {name: value for name, value in values.items() if value is not None}


def count(session) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(Evidence)).one()


def stored_files(settings) -> list[str]:  # type: ignore[no-untyped-def]
    root = settings.data_dir / "evidence"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def summary(page: str) -> list[str]:
    """The messages of a page's error summary, in order."""
    box = re.search(r'class="govuk-error-summary".*?</ul>', page, flags=re.S)
    assert box, "no error summary"
    return re.findall(r"<a href=\"#[^\"]+\">([^<]+)</a>", box.group(0))


def assert_form_again(response, title: str) -> str:  # type: ignore[no-untyped-def]
    """The same form came back with the GOV.UK error pattern, not an error page."""
    assert response.status_code == 422, response.text[:500]
    parse(response.text)
    assert re.search(r"<title>Error: ", response.text)
    assert title in response.text
    assert "Go to your dashboard" not in response.text
    return response.text


# Correcting ------------------------------------------------------------------------------------


def test_an_officer_corrects_evidence_with_a_new_version(app, world, session, settings):
    client, token = browser(app, world["officer"])
    old = world["evidence"]
    correct = f"/evidence/{old.id}/correct"
    assert (
        f'href="{correct}?obligation_id={world["obligation"].id}"' in client.get(world["page"]).text
    )
    form = client.get(correct)
    assert form.status_code == 200
    parse(form.text)
    assert 'value="Minutes of the Board, first draft"' in form.text  # filled in from the old one
    assert "Leave this empty to keep minutes.pdf" in form.text

    fields = {
        "kind": "minutes",
        "title": "Minutes of the Board, as approved",
        **{k: v for k, v in typed(world, settings).items() if k.startswith("effective_date")},
    }
    sent = client.post(correct, data={"csrf_token": token, **fields}, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{world['page']}?corrected=1"

    newer = successor(session=session, evidence_id=old.id)
    assert newer is not None and newer.title == "Minutes of the Board, as approved"
    assert newer.sha256 == old.sha256  # no new file chosen: the old one is kept
    page = client.get(sent.headers["location"]).text
    parse(page)
    assert "Corrected version recorded" in page
    earlier = re.search(r"Earlier versions</dt><dd[^>]*>(.*?)</dd>", page, flags=re.S)
    assert earlier and "Minutes of the Board, first draft" in earlier.group(1)
    # The old version is superseded: it cannot be corrected again, only the new one.
    assert client.get(correct).status_code == 409
    assert f'href="/evidence/{newer.id}/correct' in page and f'href="{correct}' not in page


def test_a_correction_with_problems_comes_back_with_them(app, world, session):
    client, token = browser(app, world["officer"])
    before = count(session)
    sent = client.post(
        f"/evidence/{world['evidence'].id}/correct",
        data={"csrf_token": token, "kind": "minutes", "title": "", "effective_date-day": "31",
              "effective_date-month": "2", "effective_date-year": "2026"},
    )  # fmt: skip
    page = assert_form_again(sent, "Record a corrected version")
    assert summary(page) == [
        "Enter a title",
        "The date the evidence speaks for must be a real date",
    ]
    assert count(session) == before


def test_only_those_who_may_change_it_are_offered_the_correction(app, world):
    client, _ = browser(app, world["inspector"])
    page = client.get(world["page"]).text
    assert "/correct" not in page and "/withdraw" not in page
    assert client.get(f"/evidence/{world['evidence'].id}/correct").status_code == 403


# Withdrawing -----------------------------------------------------------------------------------


def test_withdrawal_asks_to_confirm_and_needs_a_reason(app, world, session):
    client, token = browser(app, world["officer"])
    evidence = world["evidence"]
    page = client.get(world["page"]).text
    assert "govuk-button--warning" not in page and 'name="reason"' not in page
    confirm = f"/evidence/{evidence.id}/withdraw"
    assert f'href="{confirm}?' in page

    shown = client.get(confirm)
    assert shown.status_code == 200
    parse(shown.text)
    assert "Are you sure you want to withdraw this evidence?" in shown.text
    assert "Minutes of the Board, first draft" in shown.text and "minutes.pdf" in shown.text
    assert "govuk-button--warning" in shown.text
    assert ">None</textarea>" not in shown.text  # an empty box, not the word None

    empty = client.post(confirm, data={"csrf_token": token, "reason": "  "})
    again = assert_form_again(empty, "Are you sure you want to withdraw this evidence?")
    assert summary(again) == ["Enter why you are withdrawing this evidence"]
    assert 'id="reason-error"' in again
    session.refresh(evidence)
    assert evidence.withdrawn_at is None

    done = client.post(
        confirm, data={"csrf_token": token, "reason": "Wrong year"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?withdrawn=1")
    session.refresh(evidence)
    assert evidence.withdrawn_at is not None and evidence.withdrawn_reason == "Wrong year"
    assert "Evidence withdrawn" in client.get(done.headers["location"]).text
    # Pressed twice (or sent from a second tab): done already, not an error page.
    twice = client.post(
        confirm, data={"csrf_token": token, "reason": "Again"}, follow_redirects=False
    )
    assert twice.status_code == 303 and twice.headers["location"].endswith("?withdrawn=1")
    session.refresh(evidence)
    assert evidence.withdrawn_reason == "Wrong year"


# Querying and answering ------------------------------------------------------------------------


def test_an_empty_query_or_answer_comes_back_on_the_obligation_page(app, world, session):
    inspector, token = browser(app, world["inspector"])
    evidence_id = world["evidence"].id
    page = inspector.get(world["page"]).text
    query = re.search(r'<button[^>]*value="queried"[^>]*>', page).group(0)
    assert "govuk-button--secondary" in query and "warning" not in query
    assert ">None</textarea>" not in page
    assert "&lt;span" not in page  # the label's hidden words are markup, not text

    review = f"/evidence/{evidence_id}/review"
    empty = inspector.post(review, data={"csrf_token": token, "verdict": "queried", "comment": ""})
    again = assert_form_again(empty, "Periods")
    assert summary(again) == ["Enter what you are querying, so that the officer can answer"]
    assert f'href="#comment-{evidence_id}"' in again and f'id="comment-{evidence_id}"' in again
    long = "Is this signed? " * 400
    too_long = inspector.post(
        review, data={"csrf_token": token, "verdict": "queried", "comment": long}
    )
    kept = assert_form_again(too_long, "Periods")
    assert summary(kept) == ["Enter a comment of 5000 characters or fewer"]
    assert long.strip() in kept  # what was typed is kept
    assert session.exec(select(EvidenceComment)).all() == []

    asked = inspector.post(
        review,
        data={"csrf_token": token, "verdict": "queried", "comment": "Is this signed?"},
        follow_redirects=False,
    )
    assert asked.status_code == 303 and asked.headers["location"].endswith("?queried=1")

    officer, token = browser(app, world["officer"])
    answer = f"/evidence/{evidence_id}/answer"
    blank = officer.post(answer, data={"csrf_token": token, "body": " "})
    again = assert_form_again(blank, "Periods")
    assert summary(again) == ["Enter your answer to the query"]
    assert f'id="answer-{evidence_id}-error"' in again
    answered = officer.post(
        answer, data={"csrf_token": token, "body": "Yes, signed."}, follow_redirects=False
    )
    assert answered.status_code == 303
    # A second answer from a tab left open: the page says why, nothing more is stored.
    stale = officer.post(answer, data={"csrf_token": token, "body": "Yes, signed, again."})
    assert summary(assert_form_again(stale, "Periods")) == [
        "There is no open query on this evidence to answer"
    ]
    kinds = [c.kind for c in session.exec(select(EvidenceComment).order_by(EvidenceComment.id))]
    assert kinds == ["queried", "answer"]


# The record form -------------------------------------------------------------------------------


def post_evidence(client, world, data, file=None):  # type: ignore[no-untyped-def]
    return client.post(
        f"{world['page']}/evidence",
        data=data,
        files={"file": file} if file else None,
        follow_redirects=False,
    )


def test_the_record_form_lists_every_error_at_once_in_plain_english_and_form_order(
    app, world, session, settings
):
    client, token = browser(app, world["officer"])
    long_title = "A very long title " * 20
    data = typed(world, settings, kind="", title=long_title, occurrence_ids=None)
    data |= {"csrf_token": token, "effective_date-month": "13", "url": "not a web address"}
    page = assert_form_again(post_evidence(client, world, data), "Record evidence")
    assert summary(page) == [
        "Choose at least one period this evidence is for",
        "Choose what kind of evidence this is",
        "Enter a title of 300 characters or fewer",
        "The date the evidence speaks for must be a real date",
        "Enter the web address in the right form, like https://www.example.org/report",
    ]
    assert f'value="{long_title}"' in page  # what was typed is kept
    assert "String should" not in page and "Input should" not in page


def test_the_upload_hint_gives_the_limit(app, world):
    client, _ = browser(app, world["officer"])
    form = client.get(f"{world['page']}/evidence/new").text
    assert "The file must be smaller than 1 MB" in form


def test_a_file_of_a_type_not_accepted_is_refused_in_words(app, world, session, settings):
    client, token = browser(app, world["officer"])
    before = count(session), stored_files(settings)
    data = typed(world, settings) | {"csrf_token": token}
    sent = post_evidence(client, world, data, ("tool.exe", sample.EXE, "application/pdf"))
    page = assert_form_again(sent, "Record evidence")
    assert summary(page) == [FILE_KINDS]
    assert "application/" not in re.search(r'id="file-error".*?</p>', page, re.S).group(0)
    assert (count(session), stored_files(settings)) == before


@pytest.mark.parametrize(
    "size",
    [
        LIMIT + 1,  # within the body limit: the route's own check
        LIMIT + UPLOAD_OVERHEAD_BYTES + 100_000,  # past it: cut by the middleware, then checked
    ],
)
def test_an_oversize_upload_brings_the_form_back_with_what_was_typed(
    app, world, session, settings, size
):
    client, token = browser(app, world["officer"])
    before = count(session), stored_files(settings)
    data = typed(world, settings, title="Signed agreement, all schedules") | {"csrf_token": token}
    big = sample.PDF + b"0" * (size - len(sample.PDF))
    page = assert_form_again(
        post_evidence(client, world, data, ("agreement.pdf", big, "application/pdf")),
        "Record evidence",
    )
    assert summary(page) == ["The file must be smaller than 1 MB"]
    assert 'value="Signed agreement, all schedules"' in page
    assert f'value="{world["periods"][0]}" checked' in page
    assert "Choose agreement.pdf again" not in page  # the file itself was the problem
    assert (count(session), stored_files(settings)) == before


def test_a_body_past_the_hard_cap_or_to_the_api_is_still_a_413(app, world, session, settings):
    client, token = browser(app, world["officer"])
    before = count(session), stored_files(settings)
    huge = b"0" * ((LIMIT + UPLOAD_OVERHEAD_BYTES) * OVERSIZE_READ_FACTOR + 1)
    data = typed(world, settings) | {"csrf_token": token}
    assert post_evidence(client, world, data, ("a.pdf", huge, "application/pdf")).status_code == 413
    over = b"0" * (LIMIT + UPLOAD_OVERHEAD_BYTES + 1)
    api = client.post(
        f"/api/v1/obligations/{world['obligation'].id}/evidence",
        data={"kind": "minutes", "title": "x", "effective_date": "2026-01-01",
              "occurrence_ids": str(world["periods"][0])},
        files={"file": ("a.pdf", over, "application/pdf")},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert api.status_code == 413
    assert api.headers["content-type"] == "application/problem+json"
    assert (count(session), stored_files(settings)) == before


# The review queue ------------------------------------------------------------------------------


def test_the_review_queue_names_the_body_and_duty_and_keeps_its_filters(
    app, world, session, settings
):
    for n in range(51):  # one more than a page
        record(
            session=session,
            data_dir=settings.data_dir,
            max_bytes=LIMIT,
            actor=world["officer"],
            data=EvidenceCreate(
                kind="link",
                title=f"Published report {n}",
                url="https://www.example.org/report",
                effective_date=settings.today() - dt.timedelta(days=5),
                occurrence_ids=[world["periods"][0]],
            ),
        )
    session.flush()
    client, _ = browser(app, world["inspector"])
    holder = f"/bodies/{world['body'].code}"
    queue = client.get("/reviews", params={"holder": holder, "state": ""})
    assert queue.status_code == 200
    parse(queue.text)
    row = re.search(r"<tr class=\"govuk-table__row\">\s*<td.*?</tr>", queue.text, re.S).group(0)
    assert "Kernow Test Council" in row
    assert f'href="/obligations/{world["obligation"].id}"' in row
    assert 'class="app-table-container"' in queue.text
    assert f"?holder=%2Fbodies%2F{world['body'].code}&amp;page=2" in queue.text

    second = client.get("/reviews", params={"holder": holder, "page": "2"})
    assert second.status_code == 200 and "Minutes of the Board, first draft" in second.text
    unknown = client.get("/reviews", params={"holder": "/bodies/NOPE"})
    assert unknown.status_code == 422
    assert summary(unknown.text) == ["Choose a body or partnership from the list"]


def test_an_oversize_upload_sent_in_chunks_is_cut_and_the_form_comes_back(
    app, world, session, settings
):
    client, token = browser(app, world["officer"])
    before = count(session), stored_files(settings)
    fields = typed(world, settings) | {"csrf_token": token}
    boundary = "oversizeboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()

    def body():  # no Content-Length: the size is only known as the chunks arrive
        yield from parts
        yield head + sample.PDF
        for _ in range(25):  # 2.5 MB, past the limit and its room for the form
            yield b"0" * 100_000
        yield f"\r\n--{boundary}--\r\n".encode()

    sent = client.post(
        f"{world['page']}/evidence",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    page = assert_form_again(sent, "Record evidence")
    assert summary(page) == ["The file must be smaller than 1 MB"]
    assert 'value="Minutes of the Board, 4 June"' in page
    assert (count(session), stored_files(settings)) == before


def test_a_form_sent_back_for_another_problem_asks_for_the_file_again(app, world, settings):
    client, token = browser(app, world["officer"])
    data = typed(world, settings, title="") | {"csrf_token": token}
    sent = post_evidence(client, world, data, ("minutes.pdf", sample.PDF, "application/pdf"))
    page = assert_form_again(sent, "Record evidence")
    assert summary(page) == ["Enter a title"]
    assert "Choose minutes.pdf again: a file is not kept when the form comes back." in page


def test_a_register_cut_by_the_upload_limit_is_refused_not_imported(admin, session):
    from compliance.models import Body

    header = b"code,name,kind,nation,parent_code,website\n"
    row = b"E07000997,Cut Register District Council,,,,https://example.org\n"
    register = header + row * ((LIMIT + UPLOAD_OVERHEAD_BYTES + 100_000) // len(row))
    before = session.exec(select(func.count()).select_from(Body)).one()
    sent = admin.post(
        "/admin/import",
        data={"csrf_token": csrf_of(admin, "/admin/import")},
        files={"file": ("register.csv", register, "text/csv")},
    )
    assert sent.status_code == 400
    assert "The file must be smaller than 1 MB" in sent.text
    assert session.exec(select(func.count()).select_from(Body)).one() == before
