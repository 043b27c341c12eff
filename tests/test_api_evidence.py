"""The evidence API: the pages' services and permission rules, as JSON and multipart."""

import asyncio
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from compliance.accounts.tokens import create_token
from compliance.evidence import files
from compliance.models import AuditEvent, Body, Evidence, EvidenceLink, Obligation, Period
from compliance.reminders.models import OutboxMessage
from tests import files as sample
from tests.conftest import csrf_of, make_user, sign_in

PROBLEM = "application/problem+json"


def _first(session, query):  # type: ignore[no-untyped-def]
    return session.exec(query).first()


def _periods(session, code: str) -> tuple[Obligation, list[int]]:  # type: ignore[no-untyped-def]
    body = session.exec(select(Body).where(Body.code == code)).one()
    obligation = _first(session, select(Obligation).where(Obligation.body_id == body.id))
    ids = session.exec(select(Period.id).where(Period.obligation_id == obligation.id))
    return obligation, sorted(ids.all())


def evidence_serving_only(session, body_id: int) -> int:  # type: ignore[no-untyped-def]
    """Evidence that serves this body's obligations only, so that its officer may change it
    (evidence shared with another body's obligations is changed only by someone who writes
    both); the first by id, so that both backends pick the same row."""
    linked = (
        select(EvidenceLink.evidence_id)
        .join(Period, Period.id == EvidenceLink.occurrence_id)
        .join(Obligation, Obligation.id == Period.obligation_id)
    )
    elsewhere = linked.where((Obligation.body_id != body_id) | Obligation.body_id.is_(None))
    found = _first(
        session,
        linked.where(
            Obligation.body_id == body_id, EvidenceLink.evidence_id.not_in(elsewhere)
        ).order_by(EvidenceLink.evidence_id),
    )
    assert found is not None, "the demo has evidence for this body alone"
    return found


@pytest.fixture
def world(demo_area, app, session, settings):  # type: ignore[no-untyped-def]
    obligation, periods = _periods(session, "E06000052")
    _, elsewhere = _periods(session, "E06000053")
    evidence_id = evidence_serving_only(session, obligation.body_id)
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", bodies=["E06000052"]),
        "inspector": make_user(session, "inspector", bodies=["E06000052"]),
        "officer_elsewhere": make_user(session, "officer", bodies=["QOX"]),
        "inspector_elsewhere": make_user(session, "inspector", bodies=["QOX"]),
    }
    session.flush()
    return {
        "obligation": obligation,
        "periods": periods,
        "elsewhere": elsewhere,
        "evidence": evidence_id,
        "users": users,
    }


def bearer(session, world, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if who == "anonymous":
        return {}
    token, _ = create_token(session=session, user=world["users"][who], name="t", actor="test")
    return {"Authorization": f"Bearer {token}"}


def form(world, **overrides) -> dict:  # type: ignore[no-untyped-def]
    """The upload's fields; an override of None leaves the field out."""
    values = {
        "kind": "minutes",
        "title": "Minutes of the Health and Wellbeing Board, 4 June 2026",
        "effective_date": "2026-06-04",
        "occurrence_ids": [str(world["periods"][0])],
    } | overrides
    return {name: value for name, value in values.items() if value is not None}


def upload(client, world, headers, data=None, file=("minutes.pdf", sample.PDF)):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/obligations/{world['obligation'].id}/evidence",
        data=data or form(world),
        files={"file": (*file, "application/octet-stream")} if file else None,
        headers=headers,
    )


def stored(session, settings) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    root = settings.data_dir / "evidence"
    on_disk = sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return session.exec(select(func.count()).select_from(Evidence)).one(), on_disk


def assert_problem(response, status: int, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    if field is not None:
        assert response.json()["field"] == field, response.json()


def test_an_officer_records_a_pdf_by_token_and_reads_it_back(client, world, session, settings):
    headers = bearer(session, world, "officer")
    response = upload(client, world, headers)
    assert response.status_code == 201, response.text
    made = response.json()
    digest = hashlib.sha256(sample.PDF).hexdigest()
    assert made["sha256"] == digest and made["media_type"] == "application/pdf"
    assert made["occurrence_ids"] == [world["periods"][0]]
    assert made["obligation_ids"] == [world["obligation"].id]
    assert (made["review_status"], made["reviews"], made["recorded_by"]) == (
        "unreviewed",
        [],
        "Test officer",
    )
    assert files.stored_path(settings.data_dir, digest).read_bytes() == sample.PDF
    assert client.get(f"/api/v1/evidence/{made['id']}", headers=headers).json() == made
    audit = session.exec(select(AuditEvent).where(AuditEvent.entity_id == str(made["id"]))).all()
    assert "evidence.recorded" in [a.action for a in audit]

    download = client.get(made["file_url"], headers=headers)
    assert download.status_code == 200 and download.content == sample.PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith('attachment; filename="minutes.pdf"')
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "private, no-store"


def test_a_png_with_a_name_outside_ascii_is_served_under_that_name(client, world, session):
    headers = bearer(session, world, "admin")
    data = form(world, kind="document", title="Photo of the signed agreement")
    made = upload(client, world, headers, data, ("cytundeb–llofnodwyd.png", sample.png())).json()
    assert made["media_type"] == "image/png"
    download = client.get(made["file_url"], headers=headers)
    assert download.headers["content-type"] == "image/png"
    assert (
        "filename*=UTF-8''cytundeb%E2%80%93llofnodwyd.png"
        in download.headers["content-disposition"]
    )


def test_a_link_has_no_file_to_download(client, world, session):
    headers = bearer(session, world, "officer")
    data = form(world, kind="link", url="https://www.cornwall.gov.uk/hwb")
    made = upload(client, world, headers, data, file=None).json()
    assert (made["url"], made["sha256"], made["file_url"]) == (
        "https://www.cornwall.gov.uk/hwb",
        None,
        None,
    )
    assert_problem(client.get(f"/api/v1/evidence/{made['id']}/file", headers=headers), 404)


def test_a_browser_session_must_send_its_csrf_token_to_write(app, world, session, settings):
    browser = TestClient(app)
    sign_in(browser, world["users"]["officer"].email)
    before = stored(session, settings)
    assert_problem(upload(browser, world, {}), 403)
    assert stored(session, settings) == before
    response = upload(browser, world, {"X-CSRF-Token": csrf_of(browser, "/bodies")})
    assert response.status_code == 201, response.text
    assert browser.get(f"/api/v1/evidence/{response.json()['id']}").status_code == 200


@pytest.mark.parametrize(
    "file", [("report.pdf", sample.EXE), ("drawing.svg", sample.SVG), ("empty.pdf", b"")]
)
def test_disallowed_files_are_refused_and_nothing_is_stored(client, world, session, settings, file):
    before = stored(session, settings)
    response = upload(client, world, bearer(session, world, "officer"), form(world), file)
    assert_problem(response, 422, "body.file")
    assert stored(session, settings) == before


BAD_FIELDS = [
    ({"kind": "link", "url": "https://example.org/x"}, 400, "file"),
    ({"effective_date": "2026-02-30"}, 422, "effective_date"),
    ({"effective_date": "1989-12-31"}, 422, "effective_date"),
    ({"period_start_date": "2026-04-01", "period_end_date": "2025-03-31"}, 422, "period_end_date"),
    ({"review_by_date": "2020-01-01"}, 422, "review_by_date"),
    ({"url": "not a web address"}, 422, "url"),
    ({"kind": "rumour"}, 422, "kind"),
    ({"title": ""}, 422, "title"),
    ({"title": "Minutes\x00"}, 422, "title"),
    ({"kind": "link", "url": "https://ü.example/" + "a" * 480}, 422, "url"),
    ({"colour": "red"}, 422, "colour"),
    ({"occurrence_ids": ["first"]}, 422, "occurrence_ids.0"),
    ({"occurrence_ids": []}, 422, "occurrence_ids"),
    ({"occurrence_ids": ["999999999"]}, 422, "occurrence_ids"),
]


@pytest.mark.parametrize(("data", "status", "field"), BAD_FIELDS)
def test_bad_fields_are_refused_by_name_and_nothing_is_stored(
    client, world, session, settings, data, status, field
):
    before = stored(session, settings)
    response = upload(client, world, bearer(session, world, "officer"), form(world, **data))
    assert_problem(response, status, f"body.{field}")
    assert stored(session, settings) == before


def test_a_period_of_another_obligation_is_refused(client, world, session, settings):
    headers = bearer(session, world, "admin")
    before = stored(session, settings)
    data = form(world, occurrence_ids=[str(world["periods"][0]), str(world["elsewhere"][0])])
    assert_problem(upload(client, world, headers, data), 422, "body.occurrence_ids")
    assert stored(session, settings) == before


def test_an_oversize_file_is_refused(client, world, session, settings):
    settings.max_upload_bytes = 1_000
    before = stored(session, settings)
    response = upload(
        client, world, bearer(session, world, "officer"), file=("big.csv", sample.CSV * 40)
    )
    assert_problem(response, 422, "body.file")
    assert "limit" in response.json()["detail"]
    assert stored(session, settings) == before


def test_the_file_is_checked_off_the_event_loop(client, world, session, monkeypatch):
    seen = []
    check = files.check

    def checking(content, **kwargs):  # type: ignore[no-untyped-def]
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return check(content, **kwargs)

    monkeypatch.setattr(files, "check", checking)
    assert upload(client, world, bearer(session, world, "officer")).status_code == 201
    assert seen == ["worker thread"]


WHO = ["anonymous", "admin", "officer", "inspector", "officer_elsewhere", "inspector_elsewhere"]


def expected(who: str, allowed: set[str], success: int) -> int:
    return success if who in allowed else 401 if who == "anonymous" else 403


@pytest.mark.parametrize("who", WHO)
def test_who_may_record_and_correct(client, world, session, settings, who):
    headers = bearer(session, world, who)
    before = stored(session, settings)
    response = upload(client, world, headers)
    assert response.status_code == expected(who, {"admin", "officer"}, 201), response.text
    if response.status_code != 201:
        assert stored(session, settings) == before
    corrected = client.post(
        f"/api/v1/evidence/{world['evidence']}/versions",
        data=form(world, title="Corrected minutes", occurrence_ids=None),
        files={"file": ("minutes-v2.pdf", sample.PDF + b"%v2\n", "application/pdf")},
        headers=headers,
    )
    assert corrected.status_code == expected(who, {"admin", "officer"}, 201), corrected.text


@pytest.mark.parametrize("who", WHO)
def test_who_may_read_review_and_withdraw(client, world, session, who):
    headers, evidence_id = bearer(session, world, who), world["evidence"]
    readers = {"admin", "officer", "inspector"}
    for path in [f"/api/v1/evidence/{evidence_id}", f"/api/v1/evidence/{evidence_id}/file"]:
        assert client.get(path, headers=headers).status_code == expected(who, readers, 200)
    review = client.post(
        f"/api/v1/evidence/{evidence_id}/reviews", json={"verdict": "accepted"}, headers=headers
    )
    assert review.status_code == expected(who, {"admin", "inspector"}, 201), review.text
    answer = client.post(
        f"/api/v1/evidence/{evidence_id}/answers", json={"answer": "Signed copy"}, headers=headers
    )
    # There is no open query: those who may answer are refused for that, the rest by permission.
    assert answer.status_code == expected(who, {"admin", "officer"}, 400), answer.text
    withdrawal = client.post(
        f"/api/v1/evidence/{evidence_id}/withdrawal", json={"reason": "Wrong year"}, headers=headers
    )
    assert withdrawal.status_code == expected(who, {"admin", "officer"}, 200), withdrawal.text
    withdrawn = session.get(Evidence, evidence_id).withdrawn_at is not None
    assert withdrawn == (who in {"admin", "officer"})
    if withdrawn:
        assert withdrawal.json()["withdrawn_reason"] == "Wrong year"
        assert withdrawal.json()["withdrawn_by"] == "Test " + world["users"][who].role


def test_unknown_ids_are_not_found(client, world, session):
    headers = bearer(session, world, "admin")
    assert_problem(
        client.get("/api/v1/evidence/999999999", headers=headers), 404, "path.evidence_id"
    )
    response = client.post(
        "/api/v1/obligations/999999999/evidence",
        data=form(world),
        files={"file": ("m.pdf", sample.PDF)},
        headers=headers,
    )
    assert_problem(response, 404, "path.obligation_id")
    too_big = client.get(f"/api/v1/evidence/{2**31}", headers=headers)
    assert_problem(too_big, 422, "path.evidence_id")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "Wrong year", "urgent": True}, "body.urgent"),
        ({"reason": 5}, "body.reason"),
        ({"reason": ""}, "body.reason"),
        ({}, "body.reason"),
    ],
)
def test_bad_json_is_refused_and_changes_nothing(client, world, session, body, field):
    headers = bearer(session, world, "officer")
    response = client.post(
        f"/api/v1/evidence/{world['evidence']}/withdrawal", json=body, headers=headers
    )
    assert_problem(response, 422, field)
    assert session.get(Evidence, world["evidence"]).withdrawn_at is None


def test_a_query_needs_a_comment_and_a_verdict_must_be_known(client, world, session):
    headers = bearer(session, world, "inspector")
    path = f"/api/v1/evidence/{world['evidence']}/reviews"
    assert_problem(
        client.post(path, json={"verdict": "queried"}, headers=headers), 400, "body.comment"
    )
    assert_problem(
        client.post(path, json={"verdict": "maybe"}, headers=headers), 422, "body.verdict"
    )
    assert session.exec(select(OutboxMessage)).all() == []


def queue(client, headers, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/reviews", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_query_answer_accept_round_trip(client, world, session):
    inspector, officer = bearer(session, world, "inspector"), bearer(session, world, "officer")
    made = upload(client, world, officer).json()
    path = f"/api/v1/evidence/{made['id']}"
    assert made["id"] in [i["id"] for i in queue(client, inspector, limit=500)]

    query = {"verdict": "queried", "comment": "Are these the approved minutes?"}
    queried = client.post(f"{path}/reviews", json=query, headers=inspector)
    assert queried.status_code == 201, queried.text
    assert queried.json()["kind"] == "queried" and queried.json()["author"] == "Test inspector"
    assert "query" in [m.kind for m in session.exec(select(OutboxMessage))]
    waiting = {i["id"]: i["review_status"] for i in queue(client, officer, limit=500)}
    assert waiting[made["id"]] == "queried"
    assert made["id"] not in [i["id"] for i in queue(client, inspector, limit=500)]

    answered = client.post(
        f"{path}/answers", json={"answer": " Yes, approved 4 June. "}, headers=officer
    )
    assert answered.status_code == 201 and answered.json()["comment"] == "Yes, approved 4 June."
    assert "answer" in [m.kind for m in session.exec(select(OutboxMessage))]
    waiting = {i["id"]: i["review_status"] for i in queue(client, inspector, limit=500)}
    assert waiting[made["id"]] == "answered"

    accepted = client.post(f"{path}/reviews", json={"verdict": "accepted"}, headers=inspector)
    assert accepted.status_code == 201
    shown = client.get(path, headers=officer).json()
    assert shown["review_status"] == "accepted"
    assert [r["kind"] for r in shown["reviews"]] == ["queried", "answer", "accepted"]
    assert made["id"] not in [i["id"] for i in queue(client, inspector, limit=500)]
    assert made["id"] not in [i["id"] for i in queue(client, officer, limit=500)]


def test_a_correction_supersedes_and_cannot_be_repeated(client, world, session):
    headers = bearer(session, world, "officer")
    old = upload(client, world, headers).json()
    path = f"/api/v1/evidence/{old['id']}/versions"
    data = form(world, title="Minutes (corrected)", occurrence_ids=None)
    new = client.post(
        path, data=data, files={"file": ("m.pdf", sample.PDF + b"%2\n")}, headers=headers
    )
    assert new.status_code == 201, new.text
    assert (new.json()["supersedes_id"], new.json()["occurrence_ids"]) == (
        old["id"],
        old["occurrence_ids"],
    )
    assert (
        client.get(f"/api/v1/evidence/{old['id']}", headers=headers).json()["superseded_by_id"]
        == new.json()["id"]
    )
    again = client.post(path, data=data, files={"file": ("m.pdf", sample.PDF)}, headers=headers)
    assert_problem(again, 400)
    stray = form(world, occurrence_ids=[str(world["elsewhere"][0])])
    newest = f"/api/v1/evidence/{new.json()['id']}/versions"
    assert_problem(
        client.post(newest, data=stray, files={"file": ("m.pdf", sample.PDF)}, headers=headers),
        422,
        "body.occurrence_ids",
    )


def test_the_queue_pages_by_cursor_and_keeps_to_scope(client, world, session):
    headers = bearer(session, world, "admin")
    whole = [i["id"] for i in queue(client, headers, limit=500)]
    assert len(whole) >= 3 and whole == sorted(whole, reverse=True)
    walked, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/reviews", params=params, headers=headers).json()
        walked += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == whole
    for params, field in [
        ({"cursor": "nonsense"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"page": 2}, "page"),
    ]:
        response = client.get("/api/v1/reviews", params=params, headers=headers)
        assert_problem(response, 422, f"query.{field}")
    assert_problem(client.get("/api/v1/reviews"), 401)


@pytest.mark.parametrize("who", ["admin", "officer", "inspector", "inspector_elsewhere"])
def test_the_queue_is_the_one_the_page_shows(app, client, world, session, who):
    query = {"verdict": "queried", "comment": "Which meeting approved this?"}
    headers = bearer(session, world, "admin")
    client.post(f"/api/v1/evidence/{world['evidence']}/reviews", json=query, headers=headers)
    browser = TestClient(app)
    sign_in(browser, world["users"][who].email)
    page = browser.get("/reviews").text
    # The page gives evidence serving two bodies or partnerships a row for each.
    shown = {int(i) for i in re.findall(r'href="/evidence/(\d+)"', page)}
    listed = [i["id"] for i in queue(browser, {}, limit=500)]
    assert sorted(listed) == sorted(shown) and (shown or who == "inspector_elsewhere")
    assert (world["evidence"] in listed) == (who == "officer")


def test_evidence_shared_with_a_body_outside_scope_is_read_in_part_and_not_changed(
    client, world, session, settings
):
    from compliance.evidence.service import EvidenceCreate, record

    shared = record(
        session=session,
        data_dir=settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        actor=world["users"]["admin"],
        data=EvidenceCreate(
            kind="minutes",
            title="Joint board minutes",
            effective_date="2026-06-04",
            url="https://example.org/minutes",
            occurrence_ids=[world["periods"][0], world["elsewhere"][0]],
        ),
    )
    officer = bearer(session, world, "officer")
    seen = client.get(f"/api/v1/evidence/{shared.id}", headers=officer).json()
    # The other body's obligation and period stay out of sight.
    assert seen["obligation_ids"] == [world["obligation"].id]
    assert seen["occurrence_ids"] == [world["periods"][0]]
    # A correction or a withdrawal would take it away from the other body too.
    correction = client.post(
        f"/api/v1/evidence/{shared.id}/versions",
        data=form(world, kind="link", url="https://example.org/v2", occurrence_ids=None),
        headers=officer,
    )
    assert_problem(correction, 403)
    withdrawal = client.post(
        f"/api/v1/evidence/{shared.id}/withdrawal", json={"reason": "wrong"}, headers=officer
    )
    assert_problem(withdrawal, 403)
    assert session.get(Evidence, shared.id).withdrawn_at is None
    admin = bearer(session, world, "admin")
    everything = client.get(f"/api/v1/evidence/{shared.id}", headers=admin).json()
    assert len(everything["obligation_ids"]) == 2


def test_two_corrections_racing_past_the_check_do_not_fork_the_versions(
    client, world, session, monkeypatch
):
    from compliance.evidence import service

    headers = bearer(session, world, "officer")
    old = upload(client, world, headers).json()
    path = f"/api/v1/evidence/{old['id']}/versions"
    data = form(world, title="Minutes (corrected)", occurrence_ids=None)
    first = client.post(
        path, data=data, headers=headers | {}, files={"file": ("a.pdf", sample.PDF)}
    )
    assert first.status_code == 201, first.text
    # As if the second request had looked for a successor before the first one committed.
    monkeypatch.setattr(service, "successor", lambda **_: None)
    second = client.post(path, data=data, headers=headers, files={"file": ("b.pdf", sample.PDF)})
    assert_problem(second, 409)
    assert "corrected by someone else" in second.json()["detail"]
    versions = session.exec(select(Evidence).where(Evidence.supersedes_id == old["id"])).all()
    assert [v.id for v in versions] == [first.json()["id"]]
