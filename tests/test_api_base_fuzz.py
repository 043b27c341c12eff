"""What the fuzzer (tests/test_fuzz.py) found in the shared API plumbing, each kept fixed by the
input that used to fail."""

import datetime as dt
import json

import pytest
from pydantic import TypeAdapter, ValidationError

from compliance.api import ApiInput, Date, Timestamp
from compliance.deps import CurrentUser

PROBLEM = "application/problem+json"


class Sample(ApiInput):
    count: int
    share: float = 0.0
    on_date: Date | None = None


def test_a_405_names_every_method_the_path_takes(app, admin):
    # GET and POST on one path are two routes; Starlette's Allow named only the first, and
    # the problem handler dropped even that.
    def probe(principal: CurrentUser) -> dict[str, str]:
        return {}

    app.add_api_route("/api/v1/probe", probe, methods=["GET"])
    app.add_api_route("/api/v1/probe", probe, methods=["POST"])
    response = admin.request("TRACE", "/api/v1/probe")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "GET, POST"
    page = admin.request("OPTIONS", "/healthz")
    assert (page.status_code, page.headers["allow"]) == (405, "GET")


@pytest.mark.parametrize("as_at", ["0", "86400", "2026-01-01T00:00:00", "2026-1-1", "٢٠٢٦-٠١-٠١"])
def test_a_query_date_is_yyyy_mm_dd_and_never_a_timestamp(admin, as_at):
    # as_at=0 used to be read as seconds since 1970 and rendered a report as at 1 January 1970.
    response = admin.get(
        "/api/v1/duties/children-act-2004-s16e/report.pdf", params={"as_at": as_at}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "query.as_at"


def test_a_body_date_is_yyyy_mm_dd_and_never_a_timestamp():
    assert Sample.model_validate({"count": 1, "on_date": "2026-03-31"}).on_date == dt.date(
        2026, 3, 31
    )
    for value in (86400, "86400", "2026-03-31T00:00:00", "2026-02-30"):
        with pytest.raises(ValidationError) as refused:
            Sample.model_validate({"count": 1, "on_date": value})
        assert refused.value.errors()[0]["loc"] == ("on_date",)


def test_a_whole_number_is_an_integer_however_json_spells_it():
    # JSON Schema counts 3.0 as an integer, so the fuzzer sent it; strict mode refused it.
    assert Sample.model_validate(json.loads('{"count": 3.0, "share": 2.0}')).count == 3
    for value in (3.5, "3", True, None):
        with pytest.raises(ValidationError):
            Sample.model_validate({"count": value})


def test_a_service_refusal_names_the_field_where_the_api_request_carried_it(admin):
    # The reports service, shared with the pages, says "as_at"; the API says "query.as_at".
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    response = admin.get(
        "/api/v1/duties/children-act-2004-s16e/report.pdf", params={"as_at": future}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "query.as_at"
    assert problem["errors"] == [{"field": "query.as_at", "message": problem["detail"]}]


def test_a_moment_read_back_from_the_database_is_given_as_utc(session):
    # SQLite keeps no offset, and a time without one is not an RFC 3339 date-time: every stored
    # moment comes back in UTC with its zone (compliance.db.UtcDateTime), on either backend.
    from sqlmodel import select

    from compliance.accounts.models import UserSession
    from compliance.accounts.service import start_session
    from tests.conftest import make_user

    user = make_user(session, "officer")
    _, row = start_session(session=session, user=user, address=None, user_agent=None)
    row.last_seen_at = dt.datetime(2026, 11, 26, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    session.flush()
    session.expunge_all()
    moment = session.exec(select(UserSession.last_seen_at).where(UserSession.id == row.id)).one()
    assert moment.utcoffset() == dt.timedelta(0)
    assert TypeAdapter(Timestamp).dump_json(moment) == b'"2026-11-26T09:30:00Z"'
    with pytest.raises(Exception, match="without its zone"):
        row = session.get(UserSession, row.id)
        row.last_seen_at = dt.datetime(2026, 11, 26, 9, 30)
        session.flush()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/bodies/E06%0000052", "path.code"),
        ("/api/v1/duties/children-act-2004-s16e/report.pdf?as_at=%00", "query.as_at"),
        ("/api/v1/bodies?q=Corn%00wall", "query.q"),
    ],
)
def test_a_nul_in_the_path_or_query_is_refused_naming_it(admin, url, field):
    # PostgreSQL cannot hold a NUL in text: looking the code up was a server error.
    response = admin.get(url)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_a_nul_anywhere_in_a_body_is_refused_naming_it():
    class Titled(ApiInput):
        title: str
        tags: list[str] = []

    with pytest.raises(ValidationError) as refused:
        Titled.model_validate(json.loads('{"title": "SAB\\u0000", "tags": ["a", "\\u0000"]}'))
    assert [e["loc"] for e in refused.value.errors()] == [("title",), ("tags", 1)]


def test_deeply_nested_json_is_refused_not_a_stack_overflow():
    # Found in review: {"reason": [[[...]]]} 500 levels deep (1 kB) exhausted the stack while
    # the body was checked, and the request ended in a 500.
    nested = json.loads("[" * 500 + "]" * 500)
    with pytest.raises(ValidationError, match="nested at most 32 deep"):
        Sample.model_validate({"count": 1, "extra": nested})


def test_a_report_as_at_year_one_is_refused_naming_the_date(admin):
    # Found in review: as_at=0001-01-01 overflowed the date arithmetic and gave a 500.
    response = admin.get("/api/v1/bodies/E06000052/report.pdf", params={"as_at": "0001-01-01"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == "query.as_at"
    assert "before 1 January 2000" in response.json()["detail"]
