"""Bounded work (issue 15, item 5): no officer can exhaust memory or CPU.

- No import holds more than COMPLIANCE_MAX_IMPORT_ROWS records: a larger file is refused whole,
  saying how many rows it has, on the pages, the API and the command line, having been read a
  line at a time rather than held.
- A measurement is dated from 1 January 2000 to today, on the form, in the API and in an
  import (every bad line named, nothing imported); no typed date is in year 1.
- An indicator measured 10,000 times makes neither its partnership's page, nor the API's
  indicator, nor its audit report, as long as its history, and no verdict changes.

Today is ON throughout, passed in (Settings.today), never the wall clock.
"""

import datetime as dt
import io
import tracemalloc

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import select

from compliance.accounts.tokens import create_token
from compliance.bodies.service import import_bodies
from compliance.charts import MAX_DRAWN
from compliance.config import Settings, get_settings
from compliance.csvfiles import ImportRefused, read_csv
from compliance.models import Body, Indicator, Measurement, Outcome, Partnership
from compliance.obligations.status import read_indicator
from compliance.outcomes.imports import import_measurements
from compliance.outcomes.recent import PAGE_SIZE, SHOWN
from compliance.outcomes.trend import judge_trend
from compliance.reports.pdf import render_html
from compliance.reports.service import build_report, canonical_json
from tests import test_measurement_import
from tests.conftest import make_user, sign_in
from tests.html import parse
from tests.test_measurement_import import HEADER, browser_of, count, line_errors
from tests.test_reports import admin_principal

ON = dt.date(2026, 6, 30)
MANY = 10_000  # measurements of each of two indicators: 20,000 for the partnership

# From the measurement import's tests: an officer's partnership with an indicator ("ours"),
# another's ("theirs"), users with API tokens; uploads as one of them; the command line.
world = test_measurement_import.world
upload = test_measurement_import.upload
run = test_measurement_import.run
fresh = test_measurement_import.fresh


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr(Settings, "today", lambda self: ON)
    return ON


def limited(app, settings, rows: int):  # type: ignore[no-untyped-def]
    """The app with an import limit of `rows`."""
    app.state.settings = settings.model_copy(update={"max_import_rows": rows})
    return app


def refusal(rows: int, limit: int) -> str:
    return (
        f"The file has {rows:,} rows; at most {limit:,} can be imported at once: split it into "
        f"files of {limit:,} rows or fewer"
    )


def daily(indicator_id: int, days: int, until: dt.date) -> list[dict]:
    """A measurement a day for `days` days up to `until`, rising and falling (rows to insert)."""
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return [
        {
            "indicator_id": indicator_id,
            "measured_date": until - dt.timedelta(days=n),
            "value": float(50 + (n * 7) % 23),
            "source": "bulk",
            "recorded_at": moment,
        }
        for n in range(days)
    ]


def insert_daily(session, indicator_ids: list[int], days: int = MANY) -> None:  # type: ignore[no-untyped-def]
    """A measurement a day of each indicator up to ON, inserted in bulk with SQL (no service,
    no audit), skipping any day it has one already."""
    for indicator_id in indicator_ids:
        taken = set(
            session.exec(
                select(Measurement.measured_date).where(Measurement.indicator_id == indicator_id)
            )
        )
        rows = [r for r in daily(indicator_id, days, ON) if r["measured_date"] not in taken]
        session.execute(insert(Measurement), rows)
    session.flush()


# Row limits -------------------------------------------------------------------------------------


def test_a_measurements_file_past_the_row_limit_is_refused_whole_over_the_api(
    app, settings, world, session
):
    limited(app, settings, 3)
    ours, before = world["ours"], count(session, Measurement)
    headers = {"Authorization": f"Bearer {world['tokens']['officer']}", "Content-Type": "text/csv"}
    client = TestClient(app)
    four = HEADER + "".join(f"{ours},2025-0{m}-01,{m},return\n\n" for m in range(1, 5))
    refused = client.post("/api/v1/measurements/import", content=four, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"{refusal(4, 3)}; nothing was imported"
    assert count(session, Measurement) == before
    three = HEADER + "".join(f"{ours},2025-0{m}-01,{m},return\n" for m in range(1, 4))
    done = client.post("/api/v1/measurements/import", content=three, headers=headers)
    assert (done.status_code, done.json()) == (200, {"imported": 3})


def test_the_partnership_page_refuses_it_whole_too(app, settings, world, session):
    browser, token = browser_of(limited(app, settings, 2), world, "officer")
    page = f"/partnerships/{world['board'].slug}"
    rows = "".join(f"{world['ours']},2025-0{m}-01,{m},return\n" for m in range(1, 4))
    sent = browser.post(
        f"{page}/measurements/import",
        data={"csrf_token": token},
        files={"file": ("m.csv", (HEADER + rows).encode(), "text/csv")},
    )
    assert sent.status_code == 422
    parse(sent.text)
    assert f"{refusal(3, 2)}; nothing was imported" in sent.text
    assert count(session, Measurement) == 0


def test_a_bodies_register_past_the_row_limit_is_refused_whole(session):
    header = "code,name,kind,nation,parent_code,website\n"
    rows = "".join(
        f"X{n:07d},Test body {n},local_authority,england,,https://example.org\n" for n in range(3)
    )
    before = count(session, Body)
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=(header + rows).encode(), max_rows=2)
    assert (refused.value.whole, refused.value.errors) == (refusal(3, 2), [])
    assert count(session, Body) == before


def test_the_command_line_refuses_a_file_past_the_limit(run, fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_MAX_IMPORT_ROWS", "2")
    get_settings.cache_clear()
    rows = "".join(f"{fresh['indicator']},2025-0{m}-01,{m},Q{m}\n" for m in range(1, 4))
    (tmp_path / "three.csv").write_text(HEADER + rows)
    result = run("import", "measurements", str(tmp_path / "three.csv"))
    assert result.exit_code == 1
    assert f"{refusal(3, 2)}; nothing was imported." in result.stderr
    assert test_measurement_import.stored(fresh["engine"]) == []


class Generated:
    """A CSV file of `rows` records made as it is read a line at a time; reading it whole, as
    the import once did, fails the test."""

    def __init__(self, rows: int):
        self.lines = iter([HEADER.encode()] + [b"1,2025-01-01,1.5,return\n"] * rows)

    def readline(self, size: int = -1) -> bytes:
        return next(self.lines, b"")

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the file was read whole")


def test_a_huge_file_is_counted_a_line_at_a_time_not_held():
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused) as refused:
            read_csv(Generated(200_000), HEADER.strip(), max_rows=5_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.whole == refusal(200_000, 5_000)
    # 5,000 records kept, as a list of lists, take a few MB; 200,000 would take a hundred.
    assert peak < 8_000_000


def test_an_upload_is_read_a_line_at_a_time_with_its_lines_numbered():
    data = "\ufeffa,b\r\n1,2\r\n\r\n3,4\r5,6\n".encode()
    table = read_csv(io.BytesIO(data), "a,b", max_rows=3)
    assert table.header == ["a", "b"]
    assert table.records == [(2, ["1", "2"]), (4, ["3", "4"]), (5, ["5", "6"])]
    bad = b"a,b\n1,2\n3,\xe9\n"
    with pytest.raises(ImportRefused) as refused:
        read_csv(bad, "a,b")
    assert [str(e) for e in refused.value.errors] == [
        "line 3: the file is not UTF-8 text (save it as CSV UTF-8)"
    ]


# Dates ------------------------------------------------------------------------------------------


def test_measurements_dated_before_2000_or_after_today_are_refused_line_by_line(
    upload, world, session
):
    ours, before = world["ours"], count(session, Measurement)
    after = ON + dt.timedelta(days=1)
    response = upload(
        "officer",
        HEADER + f"{ours},0001-01-01,1,slip\n{ours},1999-12-31,1,slip\n"
        f"{ours},2000-01-01,1,first reading\n{ours},{ON},1,today's\n{ours},{after},1,slip\n",
    )
    assert line_errors(response) == {
        "line 2": "date: the date is before 1 January 2000 (0001-01-01)",
        "line 3": "date: the date is before 1 January 2000 (1999-12-31)",
        "line 6": f"date: the date is in the future ({after})",
    }
    assert count(session, Measurement) == before


def test_the_service_takes_today_as_given(world, session):
    ours = world["ours"]
    late = HEADER + f"{ours},2026-07-01,1,July\n"
    with pytest.raises(ImportRefused) as refused:
        import_measurements(session=session, data=late.encode(), principal=None, today=ON)
    assert [e.line for e in refused.value.errors] == [2]
    later = dt.date(2026, 7, 1)
    assert import_measurements(session=session, data=late.encode(), principal=None, today=later)


@pytest.mark.parametrize(
    ("measured", "words"),
    [
        ("0001-01-01", "Input should be a date in the years 1900 to 2200"),
        ("1999-12-31", "the date is before 1 January 2000"),
        ("2026-07-01", "the date is in the future"),
    ],
)
def test_the_api_refuses_a_measurement_out_of_range(client, world, session, measured, words):
    url = f"/api/v1/indicators/{world['ours']}/measurements"
    headers = {"Authorization": f"Bearer {world['tokens']['officer']}"}
    body = {"measured_date": measured, "value": 1, "source": "x"}
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body.measured_date"
    assert words in response.json()["detail"]
    assert count(session, Measurement) == 0
    ok = client.post(url, json=body | {"measured_date": ON.isoformat()}, headers=headers)
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("31", "12", "1999", "The date measured must be 1 January 2000 or later"),
        ("1", "7", "2026", "The date measured must be today or in the past"),
        ("1", "1", "1", "The date measured must include a 4-digit year"),
        ("1", "5", "0001", "The year of the date measured must be between 1900 and 2200"),
    ],
)
def test_the_form_refuses_a_measurement_out_of_range(
    app, world, session, day, month, year, message
):
    browser, token = browser_of(app, world, "officer")
    sent = browser.post(
        f"/partnerships/{world['board'].slug}/measurements",
        data={
            "csrf_token": token,
            "indicator_id": str(world["ours"]),
            "measured_date-day": day,
            "measured_date-month": month,
            "measured_date-year": year,
            "value": "1",
            "source": "x",
        },
    )
    assert sent.status_code == 422
    parse(sent.text)
    assert message in sent.text
    assert count(session, Measurement) == 0


def test_other_typed_dates_in_year_one_are_refused_not_stored_or_a_500(client, world, session):
    admin = make_user(session, "admin")
    token, _ = create_token(session=session, user=admin, name="t", actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    board = world["board"]
    insert_daily(session, [world["ours"]], days=5)  # something to judge: year 1 overflowed it
    checks = [
        ("get", f"/api/v1/partnerships/{board.slug}?as_at=0001-01-01", None, "query.as_at"),
        ("get", "/api/v1/obligations?as_at=9999-12-31", None, "query.as_at"),
        ("patch", f"/api/v1/partnerships/{board.slug}", {"costs_as_at_date": "0001-01-01"}, None),
        ("patch", f"/api/v1/partnerships/{board.slug}", {"start_date": "0001-01-01"}, None),
        (
            "post",
            "/api/v1/bodies",
            {
                "code": "E06999999",
                "name": "Year one",
                "kind": "unitary_authority",
                "nation": "england",
                "start_date": "0001-01-01",
            },
            None,
        ),
        ("patch", f"/api/v1/indicators/{world['ours']}", {"target_date": "0001-01-01"}, None),
    ]
    for method, url, body, field in checks:
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert "in the years 1900 to 2200" in response.json()["detail"], url
        if field:
            assert response.json()["field"] == field
    session.refresh(board)
    assert (board.start_date, board.costs_as_at_date) == (None, None)
    assert session.exec(select(Body).where(Body.code == "E06999999")).first() is None


def test_a_register_with_a_year_one_date_names_the_line(session):
    header = "code,name,kind,nation,parent_code,website,start_date\n"
    row = "E06999998,Year one,unitary_authority,england,,,0001-04-01\n"
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=(header + row).encode())
    assert [str(e) for e in refused.value.errors] == [
        "line 2: start_date 0001-04-01: the year 1 is not between 1900 and 2200"
    ]


# Page sizes -------------------------------------------------------------------------------------


@pytest.fixture
def crowded(session, world):
    """The officer's partnership with a second indicator, each measured daily for MANY days."""
    first = session.get(Indicator, world["ours"])
    second = Indicator(
        outcome_id=first.outcome_id, name="Days in hospital", unit="days", direction="decrease"
    )
    session.add(second)
    session.flush()
    insert_daily(session, [first.id, second.id])
    return [first, second]


SVG = "{http://www.w3.org/2000/svg}"


def chart_of(page, chart_id: str):  # type: ignore[no-untyped-def]
    """The chart (an SVG element) with this id."""
    for chart in page.iter(f"{SVG}svg"):
        if chart.get("aria-labelledby", "").startswith(f"{chart_id}-title"):
            return chart
    raise AssertionError(f"no chart {chart_id}")


def table_rows(page, caption: str) -> int:  # type: ignore[no-untyped-def]
    """How many body rows the table with this caption has."""
    for table in page.iter("table"):
        found = table.find("caption")
        if found is not None and caption in "".join(found.itertext()):
            return len(table.findall("./tbody/tr"))
    raise AssertionError(f"no table captioned {caption!r}")


def test_a_partnership_with_20000_measurements_has_a_page_of_bounded_size(
    app, world, session, crowded
):
    browser, _ = browser_of(app, world, "officer")
    response = browser.get(f"/partnerships/{world['board'].slug}")
    assert response.status_code == 200
    # Every row shown would be some 5 MB; the page is what it is with a dozen of each (40 kB).
    assert len(response.content) < 100_000
    page = parse(response.text)
    for indicator in crowded:
        caption = f"The latest {SHOWN} of {MANY:,} measurements of {indicator.name}"
        assert table_rows(page, caption) == SHOWN
        chart = chart_of(page, f"indicator-{indicator.id}")
        assert len(chart.findall(f".//{SVG}circle")) <= MAX_DRAWN
        assert f"The latest {SHOWN} of {MANY:,} measurements" in "".join(chart.itertext())
        link = page.find(f".//*[@id='indicator-{indicator.id}-more']/a")
        assert link.get("href") == f"/indicators/{indicator.id}/measurements"


def test_every_measurement_is_a_page_at_a_time_newest_first(app, world, session, crowded):
    browser, _ = browser_of(app, world, "officer")
    url = f"/indicators/{crowded[0].id}/measurements"
    first = parse(browser.get(url).text)
    caption = f"Measurements of {crowded[0].name}, newest first: page 1 of {MANY // PAGE_SIZE}"
    assert table_rows(first, caption) == PAGE_SIZE
    assert "".join(first.find(".//tbody/tr/td").itertext()) == f"{ON.day} {ON:%B %Y}"
    past_the_end = browser.get(url, params={"page": MANY})
    assert past_the_end.status_code == 200
    last = f"page {MANY // PAGE_SIZE} of {MANY // PAGE_SIZE}"
    assert table_rows(parse(past_the_end.text), last) == PAGE_SIZE
    stranger = make_user(session, "officer", partnerships=[])
    outsider = TestClient(app)
    sign_in(outsider, stranger.email)
    assert outsider.get(url).status_code == 403


def test_the_api_indicator_holds_the_latest_and_its_trend_is_unchanged(client, world, crowded):
    indicator = crowded[0]
    headers = {"Authorization": f"Bearer {world['tokens']['inspector']}"}
    detail = client.get(f"/api/v1/indicators/{indicator.id}", headers=headers).json()
    assert detail["measurement_count"] == MANY
    dates = [m["measured_date"] for m in detail["measurements"]]
    latest = [(ON - dt.timedelta(days=n)).isoformat() for n in range(SHOWN)]
    assert dates == sorted(latest)
    everything = [(r["measured_date"], r["value"]) for r in daily(indicator.id, MANY, ON)]
    judged = judge_trend(indicator, everything, ON)
    assert (detail["trend"], detail["trend_method"]) == (judged.verdict.value, judged.method)


def test_the_report_holds_a_bounded_number_of_measurements_and_the_same_verdicts(
    demo_area, session, settings
):
    slug = "cios-safeguarding-adults-board"
    partnership = session.exec(select(Partnership).where(Partnership.slug == slug)).one()
    demo = session.exec(
        select(Indicator)
        .join(Outcome, Outcome.id == Indicator.outcome_id)
        .where(Outcome.partnership_id == partnership.id)
    ).first()
    second = Indicator(
        outcome_id=demo.outcome_id, name="Repeat enquiries", unit="%", direction="decrease"
    )
    session.add(second)
    session.flush()
    indicators = [demo, second]
    insert_daily(session, [i.id for i in indicators])
    as_at = ON - dt.timedelta(days=40)  # some measurements are after it, and are left out
    report = build_report(
        session=session,
        principal=admin_principal(),
        kind="partnership",
        key=slug,
        as_at=as_at,
        due_soon_days=settings.due_soon_days,
    )
    items = {i.ref: i for o in report.outcomes for i in o.indicators}
    assert set(items) >= {i.id for i in indicators}
    for indicator in indicators:
        item = items[indicator.id]
        values = [
            tuple(row)
            for row in session.exec(
                select(Measurement.measured_date, Measurement.value)
                .where(Measurement.indicator_id == indicator.id)
                .where(Measurement.measured_date <= as_at)
            )
        ]
        assert len(values) > MANY - 50
        assert (len(item.points), item.measured) == (SHOWN, len(values))
        assert item.points == sorted(values)[-SHOWN:]
        reading = read_indicator(indicator, values, as_at)
        assert item.status == reading.status.value
        assert reading.trend.points_used > 0
    # Every measurement of the report, as its data file: a dozen an indicator, not thousands.
    assert len(canonical_json(report)) < 50_000
    html = render_html(
        report=report,
        print_="0" * 64,
        generated_at=dt.datetime(2026, 6, 30, 9, tzinfo=dt.UTC),
        generated_by="test",
        head=None,
    )
    assert html.count("earlier measurements by") == len(indicators)
    assert len(html) < 200_000
