"""A report over more holders than report_detail_holders is a summary, bounded in pages: the same
judgement and counts as the detailed report, a row per holder with the address of its own report,
and the most severe findings. Tried on the demo area's safeguarding duty (12 holders) with the
threshold lowered, against the same report in detail."""

import datetime as dt
import io
import json
import zipfile
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.access import Principal, principal_for
from compliance.evidence.service import EvidenceCreate, record
from compliance.models import Body, Deliverable, Duty, Obligation, Period, User
from compliance.reports.pdf import render_html, write_pdf
from compliance.reports.service import FINDINGS_SHOWN, build_report, fingerprint
from tests.conftest import make_user, sign_in
from tests.test_reports import pdf_text

DUTY = "children-act-2004-s11"
CORNWALL = "E06000052"
BASE = "https://tracker.example.org"


@pytest.fixture
def demo(demo_area, session, settings):
    session.flush()


def admin() -> Principal:
    return Principal(User(email="cli", name="Command line", role="admin"), *[frozenset()] * 3)


def duty_report(session, settings, principal=None, detail_holders=3):  # type: ignore[no-untyped-def]
    return build_report(
        session=session,
        principal=principal or admin(),
        kind="duty",
        key=DUTY,
        as_at=settings.today(),
        due_soon_days=settings.due_soon_days,
        detail_holders=detail_holders,
        base_url=BASE,
    )


def test_a_summary_counts_what_the_detailed_report_shows(session, settings, demo):
    summary = duty_report(session, settings)
    detailed = duty_report(session, settings, detail_holders=100)

    assert detailed.digest is None and detailed.obligations
    digest = summary.digest
    assert digest is not None and digest.detail_holders == 3
    assert summary.obligations == [] and summary.evidence == [] and summary.audit == []
    # The judgement and the counts are the detailed report's own.
    assert summary.summary == detailed.summary
    assert summary.judgement == detailed.judgement
    # A row per holder, each with the detailed report's obligations of that holder.
    by_holder = Counter(o.holder for o in detailed.obligations)
    assert {row.name: row.total for row in digest.holders} == dict(by_holder)
    assert sum(row.total for row in digest.holders) == detailed.summary.total
    # Every finding counted once, and the findings on obligations counted against their holder.
    findings = [f for o in detailed.obligations for f in o.findings] + detailed.other_findings
    assert digest.findings_total == len(findings)
    holder_of = {o.ref: o.holder for o in detailed.obligations}
    on_obligations = Counter(holder_of[f.obligation_ref] for f in findings if f.obligation_ref)
    for row in digest.holders:
        assert sum(row.findings.values()) >= on_obligations[row.name]
    assert sum(sum(row.findings.values()) for row in digest.holders) <= len(findings)
    # The most severe first, as many as FINDINGS_SHOWN.
    assert len(digest.findings) == min(FINDINGS_SHOWN, len(findings))
    assert digest.evidence == len(detailed.evidence)
    assert digest.outcomes == len(detailed.outcomes) and digest.risks == len(detailed.risks)
    assert digest.unverified_total == len(detailed.unverified)


def test_each_row_names_its_own_report_and_the_worst_come_first(session, settings, demo):
    digest = duty_report(session, settings).digest
    on = settings.today().isoformat()
    codes = dict(session.exec(select(Body.name, Body.code)).all())
    for row in digest.holders:
        assert row.kind == "body"
        assert row.key == codes[row.name]
        assert row.address == f"{BASE}/api/v1/bodies/{row.key}/report.pdf?as_at={on}"
    order = ["overdue", "evidence_expired", "assurance_gap", "due_soon", "met", "not_yet_due"]
    ranks = [order.index(row.process) for row in digest.holders if row.process in order]
    assert ranks == sorted(ranks)


def test_a_summary_holds_only_the_holders_an_officer_may_read(session, settings, demo):
    officer = make_user(session, "officer", bodies=[CORNWALL])
    principal = principal_for(session=session, user=officer)

    scoped = duty_report(session, settings, principal=principal, detail_holders=0)

    detailed = duty_report(session, settings, principal=principal, detail_holders=100)
    ids = dict(session.exec(select(Body.code, Body.id)).all())
    shown = {row.key for row in scoped.digest.holders}
    # Cornwall Council and the youth justice service beneath it; no other holder of the duty.
    assert shown == {CORNWALL, "CORNWALL-YJS"}
    assert all(principal.reads_body(ids[code]) for code in shown)
    assert {row.name for row in scoped.digest.holders} == {o.holder for o in detailed.obligations}


def test_the_summary_pdf_is_short_and_its_fingerprint_follows_the_data(session, settings, demo):
    summary = duty_report(session, settings)
    print_ = fingerprint(summary)
    html = render_html(
        report=summary,
        print_=print_,
        generated_at=dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC),
        generated_by="Test",
        head=None,
    )
    reader, text = pdf_text(write_pdf(html))
    text = " ".join(text.split())
    assert "This report is a summary" in text
    assert "more than the 3 a report shows in detail" in text
    for row in summary.digest.holders:
        assert row.key in text
    assert len(reader.pages) < len(summary.digest.holders)
    links = [
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots", [])
        if "/A" in annotation.get_object()
    ]
    assert summary.digest.holders[0].address in links

    # Evidence recorded for one holder's period changes its row, so the fingerprint.
    period = session.exec(
        select(Period)
        .join(Obligation, Obligation.id == Period.obligation_id)
        .join(Body, Body.id == Obligation.body_id)
        .where(Body.code == CORNWALL)
        .where(Obligation.id.in_([o.id for o in _duty_obligations(session)]))
        .where(Period.period_start_date <= settings.today())
        .order_by(Period.period_start_date.desc())
    ).first()
    record(
        session=session,
        data_dir=settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        actor=make_user(session, "officer", bodies=[CORNWALL]),
        data=EvidenceCreate(
            kind="document",
            title="Section 11 audit return",
            effective_date=settings.today(),
            occurrence_ids=[period.id],
        ),
        content=b"Section 11 audit.\n",
        file_name="s11.txt",
    )
    session.flush()
    assert fingerprint(duty_report(session, settings)) != print_


def _duty_obligations(session):  # type: ignore[no-untyped-def]
    return session.exec(
        select(Obligation)
        .join(Deliverable, Deliverable.id == Obligation.deliverable_id)
        .join(Duty, Duty.id == Deliverable.duty_id)
        .where(Duty.slug == DUTY)
    ).all()


def test_the_duty_report_route_answers_a_summary_past_the_setting(app, session, settings, demo):
    settings.report_detail_holders = 3
    settings.base_url = BASE + "/"
    user = make_user(session, "admin")
    client = TestClient(app)
    sign_in(client, user.email)

    response = client.get(f"/api/v1/duties/{DUTY}/report.pdf?pack=true")

    assert response.status_code == 200
    pack = zipfile.ZipFile(io.BytesIO(response.content))
    data = json.loads(pack.read("report-data.json"))
    assert data["digest"]["detail_holders"] == 3
    addresses = [row["address"] for row in data["digest"]["holders"]]
    assert all(a.startswith(f"{BASE}/api/v1/bodies/") for a in addresses)
    assert len(addresses) == 12
    # A holder's own report, at the address its row names, is the detail.
    own = client.get(addresses[0].removeprefix(BASE))
    assert own.status_code == 200 and own.headers["content-type"] == "application/pdf"


def test_a_body_or_partnership_report_is_always_in_detail(session, settings, demo):
    # The report each summary line links to: summarised, it would link to itself.
    for kind, key in (("body", CORNWALL), ("partnership", "cornwall-bcf-section-75")):
        own = build_report(
            session=session,
            principal=admin(),
            kind=kind,
            key=key,
            as_at=settings.today(),
            due_soon_days=settings.due_soon_days,
            detail_holders=1,
        )
        assert own.digest is None and own.obligations, kind
        if kind == "body":  # its own obligations and its partnerships': more than one holder
            assert len({o.holder for o in own.obligations}) > 1


def test_holders_whose_names_and_keys_begin_alike_each_keep_their_own_file(tmp_path):
    from compliance.reports.pack import HolderReport, _add_holder, _Archive
    from compliance.reports.pdf import Made

    def holder(key: str) -> HolderReport:
        pdf = tmp_path / f"{key}.pdf"
        pdf.write_bytes(f"%PDF {key}".encode())
        pdf.with_suffix(".json").write_text(key)
        made = Made(path=pdf, report=None, fingerprint=key, cached=True)  # type: ignore[arg-type]
        return HolderReport("partnership", key, "Safer Cornwall", f"/x/{key}", made)

    stream = io.BytesIO()
    archive = _Archive(stream, (2026, 3, 31, 0, 0, 0))
    first, second = "a" * 30 + "-first", "a" * 30 + "-second"
    listed = [_add_holder(archive, holder(first)), _add_holder(archive, holder(second))]
    archive.zip.close()
    files = [entry["file"] for entry in listed]
    assert files == [
        f"holders/safer-cornwall-{'a' * 30}.pdf",
        f"holders/safer-cornwall-{'a' * 30}-2.pdf",
    ]
    with zipfile.ZipFile(stream) as written:
        assert [written.read(name) for name in files] == [
            b"%PDF " + k.encode() for k in (first, second)
        ]
