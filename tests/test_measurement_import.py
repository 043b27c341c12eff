"""The all-or-nothing CSV import of measurements, through the API and the command line."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from compliance.accounts.tokens import create_token
from compliance.db import make_engine
from compliance.models import AuditEvent, Measurement, User
from compliance.outcomes.service import (
    IndicatorCreate,
    MeasurementCreate,
    OutcomeCreate,
    add_indicator,
    add_measurement,
    add_outcome,
)
from tests.conftest import csrf_of, make_user, sign_in
from tests.factories import make_partnership
from tests.html import parse

URL = "/api/v1/measurements/import"
PROBLEM = "application/problem+json"
HEADER = "indicator,date,value,source\n"


def make_indicator(session: Session, partnership_id: int, actor: User) -> int:
    outcome = add_outcome(
        session=session,
        actor=actor,
        data=OutcomeCreate(partnership_id=partnership_id, title="People stay independent"),
    )
    indicator = add_indicator(
        session=session,
        actor=actor,
        data=IndicatorCreate(
            outcome_id=outcome.id, name="Days to discharge", unit="days", direction="decrease"
        ),
    )
    return indicator.id


@pytest.fixture
def world(session):
    board, other = make_partnership(session), make_partnership(session)
    users = {
        "admin": make_user(session, "admin"),
        "officer": make_user(session, "officer", partnerships=[board.slug]),
        "inspector": make_user(session, "inspector", partnerships=[board.slug]),
    }
    tokens = {
        who: create_token(session=session, user=user, name="t", actor="test")[0]
        for who, user in users.items()
    }
    return {
        "board": board,
        "ours": make_indicator(session, board.id, users["admin"]),
        "theirs": make_indicator(session, other.id, users["admin"]),
        "users": users,
        "tokens": tokens,
    }


@pytest.fixture
def upload(client, world):
    """POST a CSV as the given user: as the body (text/csv) or as a multipart `file`."""

    def send(who: str, data: bytes | str, *, multipart: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        body = data.encode() if isinstance(data, str) else data
        headers = {"Authorization": f"Bearer {world['tokens'][who]}"}
        if multipart:
            files = {"file": ("measurements.csv", body, "text/csv")}
            return client.post(URL, headers=headers, files=files, **kwargs)
        headers["Content-Type"] = "text/csv"
        return client.post(URL, headers=headers, content=body, **kwargs)

    return send


def count(session: Session, model) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(model)).one()


def line_errors(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "nothing was imported" in response.json()["detail"]
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_an_officer_imports_measurements_of_their_indicators(upload, world, session):
    ours = world["ours"]
    events = count(session, AuditEvent)
    response = upload(
        "officer",
        HEADER + f"{ours},2024-03-31,1.9,NHS discharge data\n"
        f'{ours},2025-03-31,1.7,"Q4 return, 2024-25"\n\n'
        f"{ours}, 2026-03-31 , -0.5e0 ,Q4 return 2025-26\n",
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"imported": 3}
    rows = session.exec(
        select(Measurement).where(Measurement.indicator_id == ours).order_by(Measurement.id)
    ).all()
    assert [(m.measured_date.isoformat(), m.value, m.source) for m in rows] == [
        ("2024-03-31", 1.9, "NHS discharge data"),
        ("2025-03-31", 1.7, "Q4 return, 2024-25"),
        ("2026-03-31", -0.5, "Q4 return 2025-26"),
    ]
    assert {m.recorded_by_id for m in rows} == {world["users"]["officer"].id}
    assert count(session, AuditEvent) == events + 3


def test_a_multipart_upload_with_a_byte_order_mark_and_windows_line_ends(upload, world, session):
    text = HEADER + f"{world['ours']},2025-03-31,1.7,Q4\n"
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    response = upload("officer", data, multipart=True)
    assert response.status_code == 200, response.text
    assert response.json() == {"imported": 1}


def test_columns_may_come_in_any_order_and_the_header_in_any_case(upload, world):
    data = f"Source,Value,Date,Indicator\nQ4,1.7,2025-03-31,{world['ours']}\n"
    assert upload("officer", data).json() == {"imported": 1}


def test_every_bad_line_is_listed_and_nothing_is_imported(upload, world, session):
    ours, theirs = world["ours"], world["theirs"]
    add_measurement(
        session=session,
        actor="test",
        data=MeasurementCreate(
            indicator_id=ours, measured_date=dt.date(2023, 3, 31), value=2, source="x"
        ),
        today=dt.date(2023, 3, 31),
    )
    data = (
        HEADER
        + f"{ours},2025-03-31,90.5,SAC\n"  # line 2 is good
        + "99999999,2025-03-31,1,SAC\n"
        + f"{theirs},2025-03-31,1,SAC\n"
        + f"{ours},31/03/2025,1,SAC\n"
        + f"{ours},2026-02-30,1,SAC\n"
        + f"{ours},2999-01-01,1,SAC\n"
        + f"{ours},2024-03-31,ninety,SAC\n"
        + f"{ours},2025-03-31,91,SAC again\n"
        + f"{ours},2023-03-31,88,SAC\n"
        + f"{ours},2022-03-31,88\n"
        + f"{ours},2021-03-31,1,\n"
        + "abc,2020-03-31,1 234,SAC\n"
    )
    before = count(session, Measurement), count(session, AuditEvent)
    errors = line_errors(upload("officer", data))
    assert list(errors) == [f"line {n}" for n in range(3, 14)]
    expected = {
        "line 3": "there is no indicator 99999999",
        "line 4": f"indicator {theirs} is outside your scope",
        "line 5": "date '31/03/2025' is not a date written as YYYY-MM-DD",
        "line 6": "date 2026-02-30 is not a real date",
        "line 7": "date: the date is in the future",
        "line 8": "value 'ninety' is not a number",
        "line 9": f"indicator {ours} has a value for 2025-03-31 already on line 2",
        "line 10": f"indicator {ours} already has a measurement for 2023-03-31",
        "line 11": "expected 4 fields, found 3",
        "line 12": "source is empty",
        "line 13": "indicator 'abc' is not an indicator id",
    }
    for line, message in expected.items():
        assert message in errors[line], (line, errors[line])
    assert "value '1 234' is not a number" in errors["line 13"]
    assert (count(session, Measurement), count(session, AuditEvent)) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty; expected the header indicator,date,value,source"),
        (b"1,2025-03-31,1.7,Q4\n", "expected the header indicator,date,value,source"),
        (b"indicator,date,value\n1,2025-03-31,1.7\n", "expected the header"),
        (b"indicator,date,value,source,note\n", "expected the header"),
    ],
)
def test_a_missing_or_wrong_header_is_line_1(upload, world, session, data, message):
    before = count(session, Measurement)
    errors = line_errors(upload("officer", data))
    assert list(errors) == ["line 1"] and message in errors["line 1"]
    assert count(session, Measurement) == before


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(upload, world, session):
    data = (HEADER + f"{world['ours']},2025-03-31,1.7,Caf\xe9 survey\n").encode("latin-1")
    errors = line_errors(upload("officer", data))
    assert errors == {"line 2": "the file is not UTF-8 text (save it as CSV UTF-8)"}


def test_an_admin_imports_into_every_partnership(upload, world, session):
    data = HEADER + f"{world['ours']},2025-03-31,1,Q4\n{world['theirs']},2025-03-31,2,Q4\n"
    assert upload("admin", data).json() == {"imported": 2}


def test_inspectors_and_strangers_cannot_import(upload, client, world, session):
    data = HEADER + f"{world['ours']},2025-03-31,1,Q4\n"
    before = count(session, Measurement)
    refused = upload("inspector", data)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    anonymous = client.post(URL, content=data, headers={"Content-Type": "text/csv"})
    assert anonymous.status_code == 401
    assert count(session, Measurement) == before


def test_the_upload_must_be_csv_and_within_the_limit(app, upload, client, world):
    token = {"Authorization": f"Bearer {world['tokens']['officer']}"}
    as_json = client.post(URL, headers=token, json={"indicator": 1})
    assert as_json.status_code == 415 and as_json.json()["field"] == "body"
    no_file = client.post(URL, headers=token, files={"other": ("a.csv", b"x", "text/csv")})
    assert no_file.status_code == 422 and no_file.json()["field"] == "body.file"
    app.state.settings = app.state.settings.model_copy(update={"max_upload_bytes": 1000})
    big = HEADER + f"{world['ours']},2025-03-31,1,{'x' * 1000}\n"
    assert upload("officer", big).status_code == 413
    assert upload("officer", big, multipart=True).status_code == 413


# The partnership page's upload form -------------------------------------------------------------


def browser_of(app, world, who: str) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    browser = TestClient(app)
    sign_in(browser, world["users"][who].email)
    return browser, csrf_of(browser, "/bodies")


def test_an_officer_uploads_measurements_on_the_partnership_page(app, world, session):
    browser, token = browser_of(app, world, "officer")
    page = f"/partnerships/{world['board'].slug}"
    assert 'action="' + page + '/measurements/import"' in browser.get(page).text
    csv = (HEADER + f"{world['ours']},2025-03-31,1.7,Q4\n").encode()
    sent = browser.post(
        f"{page}/measurements/import",
        data={"csrf_token": token},
        files={"file": ("m.csv", csv, "text/csv")},
        follow_redirects=False,
    )
    assert (sent.status_code, sent.headers["location"]) == (303, page)
    assert count(session, Measurement) == 1


def test_a_bad_upload_on_the_page_lists_every_bad_line(app, world, session):
    browser, token = browser_of(app, world, "officer")
    url = f"/partnerships/{world['board'].slug}/measurements/import"
    csv = HEADER + f"{world['ours']},2025-03-31,1.7,Q4\n{world['ours']},2025-13-01,1,Q4\nx\n"
    sent = browser.post(
        url, data={"csrf_token": token}, files={"file": ("m.csv", csv.encode(), "text/csv")}
    )
    assert sent.status_code == 422
    parse(sent.text)
    assert "2 bad line(s); nothing was imported" in sent.text
    assert "line 3: date 2025-13-01 is not a real date" in sent.text
    assert "line 4: expected 4 fields, found 1" in sent.text
    empty = browser.post(
        url, data={"csrf_token": token}, files={"file": ("m.csv", b"", "text/csv")}
    )
    assert empty.status_code == 422 and "Choose a CSV file" in empty.text
    assert count(session, Measurement) == 0


def test_an_inspector_has_no_upload_form_and_cannot_post_one(app, world, session):
    browser, token = browser_of(app, world, "inspector")
    page = f"/partnerships/{world['board'].slug}"
    assert "/measurements/import" not in browser.get(page).text
    csv = (HEADER + f"{world['ours']},2025-03-31,1.7,Q4\n").encode()
    sent = browser.post(
        f"{page}/measurements/import",
        data={"csrf_token": token},
        files={"file": ("m.csv", csv, "text/csv")},
    )
    assert sent.status_code == 403
    assert count(session, Measurement) == 0


# The command line ------------------------------------------------------------------------------


@pytest.fixture
def run(run):  # type: ignore[no-untyped-def]
    """The command line (tests/conftest.py), on a database initialised first."""
    assert run("init").exit_code == 0
    return run


@pytest.fixture
def fresh(run, fresh_url):
    """A partnership with an indicator, and an officer of another partnership, committed."""
    engine = make_engine(fresh_url)
    with Session(engine) as session:
        board, other = make_partnership(session), make_partnership(session)
        officer = make_user(session, "officer", partnerships=[board.slug])
        stranger = make_user(session, "officer", partnerships=[other.slug])
        facts = {"indicator": make_indicator(session, board.id, officer), "officer": officer.email}
        facts |= {"officer_id": officer.id, "stranger": stranger.email}
        session.commit()
    yield facts | {"engine": engine}
    engine.dispose()


def stored(engine) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        rows = session.exec(select(Measurement).order_by(Measurement.measured_date)).all()
        return [(m.measured_date.isoformat(), m.recorded_by_id) for m in rows]


def test_the_command_line_imports_as_the_system(run, fresh, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"{fresh['indicator']},2025-03-31,1.7,Q4\n", encoding="utf-8-sig")
    result = run("import", "measurements", str(good))
    assert result.exit_code == 0, result.output
    assert "1 measurement(s) recorded" in result.output
    assert stored(fresh["engine"]) == [("2025-03-31", None)]
    with Session(fresh["engine"]) as session:
        last = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (last.action, last.actor) == ("measurement.created", "cli")


def test_the_command_line_refuses_a_bad_file_whole(run, fresh, tmp_path):
    indicator = fresh["indicator"]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + f"{indicator},2025-03-31,1.7,Q4\n{indicator},2025-02-30,1,Q4\n{indicator},2024,x,Q4\n"
    )
    result = run("import", "measurements", str(bad))
    assert result.exit_code == 1
    assert "2 problem(s); nothing was imported" in result.stderr
    assert "line 3: date 2025-02-30 is not a real date" in result.stderr
    assert "line 4: date '2024' is not a date written as YYYY-MM-DD" in result.stderr
    assert stored(fresh["engine"]) == []


def test_the_command_line_as_a_user_keeps_to_their_scope(run, fresh, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"{fresh['indicator']},2025-03-31,1.7,Q4\n")
    stranger = run("import", "measurements", str(good), "--as", fresh["stranger"])
    assert stranger.exit_code == 1
    assert "outside your scope" in stranger.stderr and stored(fresh["engine"]) == []
    nobody = run("import", "measurements", str(good), "--as", "nobody@example.org")
    assert nobody.exit_code == 1 and "No user with the email" in nobody.stderr
    officer = run("import", "measurements", str(good), "--as", fresh["officer"])
    assert officer.exit_code == 0, officer.output
    assert stored(fresh["engine"]) == [("2025-03-31", fresh["officer_id"])]
    missing = run("import", "measurements", str(tmp_path / "absent.csv"))
    assert missing.exit_code == 1 and "Cannot read" in missing.stderr
