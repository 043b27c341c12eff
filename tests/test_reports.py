"""Audit PDFs and evidence packs: what they show, as at a date, cached, packed and guarded.

Rendering takes seconds, so the body report is rendered once and checked for everything there.
"""

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections import Counter

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import select

from compliance.access import Principal
from compliance.checks.service import run_checks
from compliance.demo.service import demo_story
from compliance.evidence.service import EvidenceCreate, record
from compliance.models import Body, Obligation, Period, User
from compliance.reports import api as reports_api
from compliance.reports import pages as reports_pages
from compliance.reports.pdf import PDF_DIR, LocalFetcher, render_html
from compliance.reports.service import build_report, fingerprint
from tests.conftest import make_user, sign_in

CORNWALL = "E06000052"


@pytest.fixture
def demo(demo_area, session, settings):
    session.flush()


@pytest.fixture
def app_with_reports(app):
    """The app with the report routes (main.py includes them; added here if it does not yet)."""
    paths = {getattr(route, "path", "") for route in app.routes}
    for module in (reports_api, reports_pages):
        if not {r.path for r in module.router.routes} <= paths:
            app.include_router(module.router)
    return app


def admin_principal() -> Principal:
    user = User(email="cli", name="Command line", role="admin")
    return Principal(user, frozenset(), frozenset(), frozenset())


def report(session, settings, kind="body", key=CORNWALL, as_at=None):  # type: ignore[no-untyped-def]
    return build_report(
        session=session,
        principal=admin_principal(),
        kind=kind,
        key=key,
        as_at=as_at or settings.today(),
        due_soon_days=settings.due_soon_days,
    )


def pdf_text(content: bytes) -> tuple[PdfReader, str]:
    """The PDF's reader (pypdf) and its text, page after page, as PDFium reads it: thirty times
    faster than pypdf's extraction (a 38-page body report in 0.08 s, not 2.6 s)."""
    document = pdfium.PdfDocument(content)
    try:
        pages = [document[index].get_textpage().get_text_range() for index in range(len(document))]
    finally:
        document.close()
    return PdfReader(io.BytesIO(content)), "\n".join(pages).replace("\r\n", "\n")


def test_body_report_over_the_api_shows_what_inspectors_check(
    app_with_reports, session, settings, demo
):
    admin = make_user(session, "admin")
    client = TestClient(app_with_reports)
    sign_in(client, admin.email)
    shown = report(session, settings)

    response = client.get(f"/api/v1/bodies/{CORNWALL}/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-report-fingerprint"] == fingerprint(shown)
    reader, text = pdf_text(response.content)
    assert "Care Act 2014" in text
    assert "https://www.legislation.gov.uk/" in text
    for item in shown.evidence:
        assert item.title.split(",")[0] in text
        assert item.sha256[:12] in text and item.sha256 in text
    assert "93 %" in text  # the Safeguarding Adults Board's latest figure
    pages = len(reader.pages)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert fingerprint(shown) in text
    assert reader.metadata.title.startswith("Audit report: Cornwall Council")
    assert admin.name in reader.metadata.author
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en-GB"
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    assert b'pdfuaid:part="1"' in root["/Metadata"].get_object().get_data()  # PDF/UA-1
    fonts = [
        font.get_object()
        for page in reader.pages[:2]
        for font in page["/Resources"]["/Font"].values()
    ]
    assert fonts and all("/FontFile2" in f["/FontDescriptor"] for f in _descendants(fonts))

    again = client.get(f"/api/v1/bodies/{CORNWALL}/report.pdf")
    assert again.headers["x-report-cached"] == "true"
    assert again.content == response.content

    pack = client.get(f"/api/v1/bodies/{CORNWALL}/report.pdf", params={"pack": "true"})
    assert pack.status_code == 200
    assert pack.headers["content-type"] == "application/zip"
    check_pack(pack.content, pdf=response.content, fingerprint=fingerprint(shown))


def _descendants(fonts):  # type: ignore[no-untyped-def]
    for font in fonts:
        if "/DescendantFonts" in font:
            yield from (d.get_object() for d in font["/DescendantFonts"])
        else:
            yield font


def check_pack(content: bytes, *, pdf: bytes, fingerprint: str) -> None:
    archive = zipfile.ZipFile(io.BytesIO(content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["fingerprint"] == fingerprint
    listed = {row["file"]: row for row in manifest["files"] if row["file"]}
    assert set(listed) == set(archive.namelist()) - {"manifest.json", "manifest.csv"}
    for name, row in listed.items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert len(data) == row["size_bytes"]
    assert hashlib.sha256(archive.read("report-data.json")).hexdigest() == fingerprint
    pdfs = [n for n in listed if n.endswith(".pdf") and not n.startswith("evidence/")]
    assert [archive.read(n) for n in pdfs] == [pdf]
    evidence = [n for n in listed if n.startswith("evidence/")]
    assert evidence and all(
        re.fullmatch(r"evidence/[a-z0-9-]+-[0-9a-f]{12}\.\w+", n) for n in evidence
    )
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert {r["file"]: r["sha256"] for r in rows if r["file"]} == {
        n: r["sha256"] for n, r in listed.items()
    }


def test_new_evidence_changes_the_fingerprint(session, settings, demo):
    before = fingerprint(report(session, settings))
    assert fingerprint(report(session, settings)) == before
    cornwall = session.exec(select(Body).where(Body.code == CORNWALL)).one()
    occurrence = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.body_id == cornwall.id)
    ).first()
    officer = make_user(session, "officer", bodies=[CORNWALL])
    data = EvidenceCreate(
        kind="minutes",
        title="Cabinet minutes approving the equality objectives",
        effective_date=settings.today(),
        occurrence_ids=[occurrence.id],
    )
    record(
        session=session,
        data_dir=settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        actor=officer,
        data=data,
        content=b"Minutes of the meeting.\n",
        file_name="minutes.txt",
    )
    after = report(session, settings)
    assert fingerprint(after) != before
    assert "Cabinet minutes approving the equality objectives" in [e.title for e in after.evidence]


def test_a_report_judges_its_own_date_by_the_rules_whether_or_not_a_check_ran(
    session, settings, demo
):
    now = report(session, settings)
    # Every obligation whose status says something is wrong carries the finding that says why.
    for o in now.obligations:
        rules = {f.rule for f in o.findings}
        if o.status == "assurance_gap":
            assert "assurance_gap" in rules, o.item_title
        if o.status == "overdue":
            assert rules & {"deliverable_overdue", "funding_condition_unmet"}, o.item_title
    gaps = [f for o in now.obligations for f in o.findings if f.rule == "assurance_gap"]
    assert gaps and all(
        f.severity == "low" and f.basis == "a convention of this catalogue; no statutory date"
        for f in gaps
    )
    high = [f for o in now.obligations for f in o.findings if f.severity == "high"]
    assert all(f.basis and not f.basis.startswith("a convention") for f in high)
    assert all(f.remedy for o in now.obligations for f in o.findings)
    counted = Counter(f.severity for f in [*(f for o in now.obligations for f in o.findings),
                                           *now.other_findings])  # fmt: skip
    assert now.summary.findings == {s: counted.get(s, 0) for s in ("high", "medium", "low")}
    run_checks(
        session=session,
        on=settings.today(),
        trigger="test",
        due_soon_days=settings.due_soon_days,
        query_answer_days=settings.query_answer_days,
    )
    checked = report(session, settings)
    # A check adds when each finding was first seen; it changes none of the verdicts.
    assert checked.summary == now.summary
    assert [(f.rule, f.message) for o in checked.obligations for f in o.findings] == [
        (f.rule, f.message) for o in now.obligations for f in o.findings
    ]


def test_as_at_report_leaves_out_evidence_recorded_later(session, settings, demo):
    story = demo_story(today=settings.today())  # the demo's dates, moved to the year loaded in
    as_at = story.date(dt.date(2025, 6, 1))
    now = report(session, settings)
    then = report(session, settings, as_at=as_at)
    assert then.as_at == as_at
    # The demo's evidence is recorded on the day it speaks for.
    assert all(e.recorded_at.date() <= as_at for e in then.evidence)
    later = {e.title for e in now.evidence if e.recorded_at.date() > as_at}
    assert story.text("Safeguarding Adults Board annual report 2024-25") in later
    html = render_html(
        report=then,
        print_=fingerprint(then),
        generated_at=dt.datetime.now(dt.UTC),
        generated_by="Test",
        head=None,
    )
    assert not [title for title in later if title in html]
    assert [e.title for e in then.evidence if e.title in html] == [e.title for e in then.evidence]
    measured = [p for o in then.outcomes for i in o.indicators for p in i.points]
    assert measured and max(day for day, _ in measured) <= as_at
    assert fingerprint(then) != fingerprint(now)


def test_only_users_in_scope_may_download(app_with_reports, session, demo):
    officer = make_user(session, "officer", bodies=["QOX"])
    client = TestClient(app_with_reports)
    assert client.get(f"/api/v1/bodies/{CORNWALL}/report.pdf").status_code == 401
    sign_in(client, officer.email)
    for path in (
        f"/api/v1/bodies/{CORNWALL}/report.pdf",
        f"/api/v1/areas/{CORNWALL}/report.pdf",
        "/api/v1/partnerships/cios-safeguarding-adults-board/report.pdf",
    ):
        assert client.get(path).status_code == 403, path
    assert client.get("/api/v1/bodies/NOPE/report.pdf").status_code == 404
    assert client.get("/api/v1/duties/no-such-duty/report.pdf").status_code == 404
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    response = client.get("/api/v1/bodies/QOX/report.pdf", params={"as_at": future})
    assert response.status_code == 422


def test_duty_report_shows_only_obligations_in_scope(session, settings, demo):
    officer = make_user(session, "officer", bodies=["QOX"])
    from compliance.access import principal_for

    scoped = build_report(
        session=session,
        principal=principal_for(session=session, user=officer),
        kind="duty",
        key="care-act-2014-s42-s45",
        as_at=settings.today(),
        due_soon_days=settings.due_soon_days,
    )
    everyone = report(session, settings, kind="duty", key="care-act-2014-s42-s45")
    holders = {o.holder for o in scoped.obligations}
    assert holders <= {
        "NHS Bath and North East Somerset, Swindon and Wiltshire Integrated Care Board"
    }
    assert len(everyone.obligations) > len(scoped.obligations)


def test_pdf_fetches_nothing_outside_its_templates(tmp_path):
    fetcher = LocalFetcher(PDF_DIR)
    response = fetcher.fetch((PDF_DIR / "report.css").as_uri())
    assert b"@page" in response.read()
    response.close()
    outside = tmp_path / "secret.css"
    outside.write_text("body { color: red }")
    for url in (outside.as_uri(), "file:///etc/passwd", "http://127.0.0.1:9/x.png", "data:,x"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
