"""Hostile names stay text: in the audit PDF's HTML and CSS, and in the evidence pack's
manifest.csv, where a cell starting with = + - @ (or a tab or carriage return) would run as a
spreadsheet formula."""

import csv
import datetime as dt
import io
import zipfile

from sqlmodel import select

from compliance.exports.formats import FORMULA_STARTS
from compliance.models import Obligation, Period, User
from compliance.obligations.service import sync_obligations
from compliance.reports.pack import MANIFEST_COLUMNS, make_pack
from compliance.reports.pdf import Made, render_html, write_pdf
from compliance.reports.service import fingerprint
from tests.factories import make_body, make_evidence, make_partnership
from tests.html import parse
from tests.test_reports import pdf_text, report

# The security review's name, then the classic ones: a script, an attribute breakout, the
# document title closed early, and a CSS string's own escape (\A is a new line) and quote.
BODY_NAME = 'Y</style><link rel=attachment href=report.css><style> "x" \\A </title><b>'
PARTNERSHIP_NAME = '<script>alert(1)</script>"><img src=x> \\" </title><style>@import "y"'
INJECTED = ("link", "img", "script", "style", "b", "meta")
GENERATED_AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
FORMULAS = (
    "+cmd|' /C calc'!A0",
    '=HYPERLINK("http://x.example","click")',
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
)


def hostile_scopes(session, settings):  # type: ignore[no-untyped-def]
    body = make_body(session, name=BODY_NAME)
    partnership = make_partnership(
        session, name=PARTNERSHIP_NAME, members=[body], start_date=dt.date(2020, 1, 1)
    )
    sync_obligations(session=session, on=settings.today())
    return body, partnership


def html_of(session, settings, kind: str, key: str) -> str:  # type: ignore[no-untyped-def]
    shown = report(session, settings, kind=kind, key=key)
    return render_html(
        report=shown,
        print_=fingerprint(shown),
        generated_at=GENERATED_AT,
        generated_by="Test",
        head=None,
    )


def elements(html: str) -> dict[str, int]:
    tree = parse(html)  # fails on malformed markup
    return {tag: len(list(tree.iter(tag))) for tag in INJECTED}


def test_hostile_names_are_text_in_the_pdf_html_and_css(session, settings):
    body, partnership = hostile_scopes(session, settings)
    scopes = {"body": (body.code, BODY_NAME), "partnership": (partnership.slug, PARTNERSHIP_NAME)}
    hostile = {kind: html_of(session, settings, kind, key) for kind, (key, _) in scopes.items()}
    body.name, partnership.name = "Clean Council", "Clean Board"
    session.flush()
    for kind, (key, name) in scopes.items():
        clean = html_of(session, settings, kind, key)
        assert elements(hostile[kind]) == elements(clean), kind
        tree = parse(hostile[kind])
        assert name in tree.find(".//title").text
        assert name in "".join(tree.find(".//h1").itertext())
        (style,) = tree.iter("style")
        assert "</" not in style.text and "<" not in style.text
        content, text = pdf_text(write_pdf(hostile[kind]))
        assert len(content.attachments) == 0, kind  # rel=attachment would embed a file
        # Page 2's running header is the CSS string: the name comes back whole, as text.
        assert name in content.pages[1].extract_text(), kind
        assert name in text


def test_the_manifest_neutralises_formulas_as_the_exports_do(session, settings, tmp_path):
    body = make_body(session)
    sync_obligations(session=session, on=settings.today())
    period = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(Obligation.body_id == body.id)
        .where(Period.period_start_date <= settings.today())
        .order_by(Period.id)
    ).first()
    officer = User(email="formula@council.example.org", name="=1+2", role="officer")
    session.add(officer)
    session.flush()
    for title in FORMULAS:
        make_evidence(
            session,
            occurrences=[period],
            kind="link",
            title=title,
            url="https://council.example.org/minutes",
            recorded_by_id=officer.id,
        )
    shown = report(session, settings, key=body.code)
    assert sorted(e.title for e in shown.evidence) == sorted(FORMULAS)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7 stand-in\n")
    made = Made(pdf, shown, fingerprint(shown), cached=True)
    archive = zipfile.ZipFile(make_pack(made=made, data_dir=tmp_path))
    rows = list(csv.reader(io.StringIO(archive.read("manifest.csv").decode(), newline="")))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    titles = [row[MANIFEST_COLUMNS.index("title")] for row in rows[1:]]
    assert {"'" + title for title in FORMULAS} <= set(titles)
    assert "'=1+2" in [row[MANIFEST_COLUMNS.index("recorded_by")] for row in rows[1:]]
