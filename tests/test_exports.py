"""Bulk exports: CSV and XLSX round trips, spreadsheet safety, scope, bad input, the command
line, and proof that the registers are read from the database a batch at a time."""

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from sqlalchemy import event, func
from sqlmodel import select

from compliance.access import evidence_access, principal_for
from compliance.checks.service import run_checks
from compliance.exports import formats
from compliance.exports.service import REGISTERS, Selection, export_csv, write_export
from compliance.models import Body, Evidence, Finding, Obligation, Period
from compliance.obligations.views import view_obligations
from compliance.synth.service import synthesise
from tests.conftest import make_user, sign_in
from tests.factories import make_evidence

ON = dt.date(2026, 11, 26)
URL = "/api/v1/exports"
BOM = "\ufeff"


@pytest.fixture
def demo(demo_area, session, settings):
    run_checks(session=session, on=ON, trigger="test", due_soon_days=30, query_answer_days=14)
    session.flush()


def signed_in(app, session, role, **scope):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    user = make_user(session, role, **scope)
    client = TestClient(app)
    sign_in(client, user.email)
    return client, user


def read_csv(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BOM), newline="")))


def read_xlsx(content: bytes) -> tuple[openpyxl.worksheet.worksheet.Worksheet, list[dict]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
    return sheet, [dict(zip(header, row, strict=True)) for row in rows]


def test_obligations_as_csv_with_both_status_dimensions(admin, demo, session):
    response = admin.get(f"{URL}/obligations", params={"as_at": ON.isoformat()})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="obligations-2026-11-26.csv"'
    text = response.content.decode()
    assert text.count("\r\n") == text.count("\n")  # CRLF, and no bare LF
    rows = read_csv(response.content)
    assert list(rows[0]) == [c.name for c in REGISTERS["obligations"][0]]
    assert len(rows) == session.exec(select(func.count()).select_from(Obligation)).one()
    # Statuses as the pages compute them, for a known demo obligation.
    cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
    views = view_obligations(session=session, on=ON, due_soon_days=30, body_id=cornwall.id)
    sab = next(v for v in views if v.source_slug == "care-act-2014-s42-s45")
    row = next(r for r in rows if r["obligation_id"] == str(sab.obligation.id))
    assert (row["body_code"], row["body_name"]) == ("E06000052", "Cornwall Council")
    assert row["outcome_status"] == sab.outcome.value  # as the pages compute it
    assert row["process_status"] == sab.status.value
    assert row["fully_met"] == ("true" if sab.fully_met else "false")
    assert row["legal_citation"].startswith("Care Act 2014 s")
    assert row["url"].startswith("https://www.legislation.gov.uk/")
    assert row["opened_date"] == sab.obligation.opened_date.isoformat()
    if sab.next_due:
        assert row["next_due_date"] == sab.next_due.isoformat()
    ambulance = [r for r in rows if r["body_code"] == "RYF"]
    assert [r["process_status"] for r in ambulance].count("not_applicable") == 1
    assert any(r["not_applicable_reason"] for r in ambulance)
    held_by_partnerships = [r for r in rows if r["holder_type"] == "partnership"]
    assert held_by_partnerships and all(r["partnership_slug"] for r in held_by_partnerships)


def test_obligations_as_xlsx_match_the_csv(admin, demo):
    params = {"as_at": ON.isoformat()}
    from_csv = read_csv(admin.get(f"{URL}/obligations", params=params).content)
    response = admin.get(f"{URL}/obligations", params=params | {"format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["content-type"] == formats.XLSX_MEDIA_TYPE
    assert 'filename="obligations-2026-11-26.xlsx"' in response.headers["content-disposition"]
    sheet, rows = read_xlsx(response.content)
    assert sheet.title == "obligations"
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.column_dimensions["D"].width > 20
    assert len(rows) == len(from_csv)
    for got, expected in zip(rows, from_csv, strict=True):
        assert got["obligation_id"] == int(expected["obligation_id"])
        assert (got["process_status"], got["outcome_status"]) == (
            expected["process_status"],
            expected["outcome_status"],
        )
        assert got["fully_met"] is (expected["fully_met"] == "true")
        # Dates are real dates (read back as midnight datetimes), not text.
        assert got["opened_date"].date().isoformat() == expected["opened_date"]


def test_cells_that_would_run_as_formulas_are_neutralised(admin, demo, session):
    occurrence = session.exec(select(Period).order_by(Period.id)).first()
    titles = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-3", "@SUM(A1)", "\tTab"]
    made = [make_evidence(session, occurrences=[occurrence], title=t) for t in titles]
    csv_rows = {r["evidence_id"]: r for r in read_csv(admin.get(f"{URL}/evidence").content)}
    for evidence in made:
        assert csv_rows[str(evidence.id)]["title"] == "'" + evidence.title
    response = admin.get(f"{URL}/evidence", params={"format": "xlsx"})
    sheet, rows = read_xlsx(response.content)
    ids = {e.id: e.title for e in made}
    cells = [row for row in sheet.iter_rows(min_row=2) if row[0].value in ids]
    assert len(cells) == len(made)
    for row in cells:
        title = row[1]
        assert (title.data_type, title.value) == ("s", ids[row[0].value])


def test_evidence_register_columns(admin, demo, session):
    rows = read_csv(admin.get(f"{URL}/evidence").content)
    assert len(rows) == session.exec(select(func.count()).select_from(Evidence)).one()
    with_file = next(r for r in rows if r["sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", with_file["sha256"])
    assert with_file["recorded_by"].endswith("@demo.example.org")
    assert dt.datetime.fromisoformat(with_file["recorded_at"]).tzinfo is not None
    assert all(r["obligation_ids"] for r in rows)
    linked = session.get(Evidence, int(with_file["evidence_id"]))
    assert with_file["title"] == linked.title


def test_an_officer_exports_only_their_scope(app, demo, session):
    client, user = signed_in(app, session, "officer", bodies=["E06000053"])
    principal = principal_for(session=session, user=user)
    obligations = read_csv(client.get(f"{URL}/obligations").content)
    expected = {o.id for o in session.exec(select(Obligation)) if principal.reads_obligation(o)}
    assert expected and {int(r["obligation_id"]) for r in obligations} == expected
    assert {r["body_code"] for r in obligations} <= {"E06000053", ""}
    evidence = read_csv(client.get(f"{URL}/evidence").content)
    readable = {
        e.id
        for e in session.exec(select(Evidence))
        if evidence_access(session=session, principal=principal, evidence_id=e.id)[0]
    }
    assert readable and {int(r["evidence_id"]) for r in evidence} == readable
    assert all(int(i) in expected for r in evidence for i in r["obligation_ids"].split("; "))
    findings = read_csv(client.get(f"{URL}/findings").content)
    everything = session.exec(select(Finding)).all()
    seen = {
        f.id
        for f in everything
        if (f.body_id is not None and principal.reads_body(f.body_id))
        or (f.body_id is None and principal.reads_partnership(f.partnership_id))
    }
    assert len(everything) > len(seen) > 0
    assert {int(r["finding_id"]) for r in findings} == seen
    refused = client.get(f"{URL}/obligations", params={"body": "E06000052"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


def test_filters_by_body_and_partnership(admin, demo):
    rows = read_csv(admin.get(f"{URL}/obligations", params={"body": "E06000052"}).content)
    assert rows and {r["body_code"] for r in rows} == {"E06000052"}
    slug = "cios-safeguarding-adults-board"
    response = admin.get(f"{URL}/findings", params={"partnership": slug, "as_at": "2026-11-26"})
    assert f'filename="findings-{slug}-2026-11-26.csv"' in response.headers["content-disposition"]
    assert {r["partnership_slug"] for r in read_csv(response.content)} <= {slug}


def test_an_inspector_may_export_and_nobody_else_may(app, client, demo, session):
    inspector, _ = signed_in(app, session, "inspector", bodies=["E06000052"])
    assert inspector.get(f"{URL}/evidence", params={"format": "xlsx"}).status_code == 200
    anonymous = client.get(f"{URL}/obligations")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/nope", {}, 422, "path.kind"),
        ("/obligations", {"format": "pdf"}, 422, "query.format"),
        ("/obligations", {"as_at": "2026-13-01"}, 422, "query.as_at"),
        ("/obligations", {"as_at": "0"}, 422, "query.as_at"),
        ("/obligations", {"limit": "5"}, 422, "query.limit"),
        ("/obligations", {"body": "X" * 21}, 422, "query.body"),
        ("/obligations", {"body": "NOPE"}, 404, "query.body"),
        ("/evidence", {"partnership": "no-such-board"}, 404, "query.partnership"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(admin, path, params, status, field):
    response = admin.get(URL + path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


def test_the_registers_are_read_a_batch_at_a_time(session, tmp_path):
    synthesise(session=session, data_dir=tmp_path, bodies=120, evidence_per_obligation=1, on=ON)
    total = session.exec(select(func.count()).select_from(Obligation)).one()
    assert total > 1500
    reads: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if re.search(r"FROM obligation\b.*\bLIMIT\b", statement, re.S):
            reads.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", seen)
    try:
        selection = Selection(on=ON, due_soon_days=30)
        chunks = export_csv(session=session, kind="obligations", selection=selection, batch=200)
        next(chunks)  # the header: nothing read yet
        assert reads == []
        first = next(chunks)
        assert len(reads) == 1 and first.count(b"\r\n") == 200
        sizes = [first.count(b"\r\n")] + [chunk.count(b"\r\n") for chunk in chunks]
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert sum(sizes) == total
    assert max(sizes) == 200 and len(sizes) == -(-total // 200)
    assert len(reads) in (len(sizes), len(sizes) + 1)  # the last, empty read when it is exact
    # A keyset (after the last id), never an OFFSET that rereads what went before.
    assert all(re.search(r"WHERE obligation\.id > ", statement) for statement in reads[1:])


def test_a_long_xlsx_export_continues_on_a_new_sheet(session, monkeypatch, demo):
    monkeypatch.setattr(formats, "XLSX_MAX_ROWS", 40)
    out = io.BytesIO()
    selection = Selection(on=ON, due_soon_days=30)
    written = write_export(
        session=session, kind="obligations", fmt="xlsx", selection=selection, out=out, batch=25
    )
    sheets = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets
    assert len(sheets) == -(-written // 39) > 1
    assert sum(sheet.max_row - 1 for sheet in sheets) == written
    assert [sheet.title for sheet in sheets[:2]] == ["obligations", "obligations (2)"]
    assert all(sheet["A1"].value == "obligation_id" for sheet in sheets)


# The command line ------------------------------------------------------------------------------


def test_the_command_line_exports_every_register(run, tmp_path):
    assert run("demo").exit_code == 0
    to_stdout = run("export", "obligations", "--as-at", "2026-11-26")
    assert to_stdout.exit_code == 0, to_stdout.output
    rows = read_csv(to_stdout.stdout_bytes)
    assert len(rows) > 50 and {"E06000052", "E06000053"} <= {r["body_code"] for r in rows}
    assert f"Exported {len(rows)} obligations rows" in to_stdout.stderr
    workbook = tmp_path / "evidence.xlsx"
    written = run("export", "evidence", "--format", "xlsx", "-o", str(workbook))
    assert written.exit_code == 0, written.output
    _, evidence = read_xlsx(workbook.read_bytes())
    assert evidence and f"Exported {len(evidence)} evidence rows to {workbook}" in written.stdout
    findings = tmp_path / "findings.csv"
    assert run("export", "findings", "-o", str(findings)).exit_code == 0
    assert findings.read_bytes().startswith(BOM.encode() + b"finding_id,rule,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "'nope' is not a register: use one of obligations, evidence, findings"),
        (["evidence", "--format", "pdf"], "'pdf' is not a format: use csv or xlsx"),
        (["evidence", "--format", "xlsx"], "An XLSX export needs a file to write"),
        (["evidence", "--as-at", "26/11/2026"], "is not a date: give it as YYYY-MM-DD"),
    ],
)
def test_the_command_line_refuses_bad_arguments(run, args, message):
    result = run("export", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_the_command_line_says_when_it_cannot_write(run, tmp_path):
    assert run("init").exit_code == 0
    result = run("export", "findings", "-o", str(tmp_path / "absent" / "findings.csv"))
    assert result.exit_code == 1
    assert "Cannot write" in result.stderr
