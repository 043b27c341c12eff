"""Bounded work (issue 15, item 5): no import larger than COMPLIANCE_MAX_IMPORT_ROWS is taken,
and no measurement dated before 1990 or after today, whoever sends it; nothing is stored."""

from fastapi.testclient import TestClient

from compliance.bodies.service import import_bodies
from compliance.csvfiles import ImportRefused
from compliance.models import Body, Measurement
from tests import test_measurement_import
from tests.test_measurement_import import HEADER, count, line_errors

world = test_measurement_import.world  # an officer's partnership with an indicator, as a fixture
upload = test_measurement_import.upload


def test_a_measurements_file_past_the_row_limit_is_refused_whole(
    app,
    settings,
    world,
    session,
):
    app.state.settings = settings.model_copy(update={"max_import_rows": 3})
    ours, before = world["ours"], count(session, Measurement)
    rows = "".join(f"{ours},2025-0{m}-01,{m},return\n" for m in range(1, 5))
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {world['tokens']['officer']}", "Content-Type": "text/csv"}
    response = client.post("/api/v1/measurements/import", content=HEADER + rows, headers=headers)
    errors = line_errors(response)
    assert errors == {
        "line 5": "the file has more than 3 rows; at most 3 can be imported at once "
        "(COMPLIANCE_MAX_IMPORT_ROWS): split it into smaller files"
    }
    assert count(session, Measurement) == before
    three = HEADER + "".join(f"{ours},2025-0{m}-01,{m},return\n" for m in range(1, 4))
    done = client.post("/api/v1/measurements/import", content=three, headers=headers)
    assert done.status_code == 200 and done.json() == {"imported": 3}


def test_a_bodies_register_past_the_row_limit_is_refused_whole(session):
    header = "code,name,kind,nation,parent_code,website\n"
    rows = "".join(
        f"X{n:07d},Test body {n},local_authority,england,,https://example.org\n" for n in range(3)
    )
    before = count(session, Body)
    try:
        import_bodies(session=session, data=(header + rows).encode(), max_rows=2)
    except ImportRefused as refused:
        assert [str(e) for e in refused.errors][-1].startswith(
            "line 4: the file has more than 2 rows"
        )
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("a register past the limit was imported")
    assert count(session, Body) == before


def test_measurements_dated_before_1990_or_in_the_future_are_refused_by_line(
    upload,
    world,
    session,
):
    ours, before = world["ours"], count(session, Measurement)
    response = upload(
        "officer",
        HEADER + f"{ours},0001-01-01,1,slip\n{ours},1989-12-31,1,slip\n"
        f"{ours},1990-01-01,1,first reading\n{ours},2999-01-01,1,slip\n",
    )
    assert line_errors(response) == {
        "line 2": "date: the date is before 1 January 1990",
        "line 3": "date: the date is before 1 January 1990",
        "line 5": "date: the date is in the future",
    }
    assert count(session, Measurement) == before
