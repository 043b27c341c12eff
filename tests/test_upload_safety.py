"""Uploads that cannot carry a payload (issue 15, item 6): each file the security review got
accepted is refused, with a message naming why, and nothing is stored; a name keeps an extension
that fits its content and loses the characters that disguise it."""

import io
import zipfile

import pytest
from sqlmodel import func, select

from compliance.evidence import files
from compliance.evidence.safety import TEXT_TYPES, FileRefused, stored_name
from compliance.models import Evidence
from tests import files as sample
from tests.test_api_evidence import bearer, form, upload, world  # noqa: F401 - the fixture

LIMIT = 25_000_000
# 2 KB of minutes before anything else: libmagic takes the file for text (CSV, for its commas).
TEXT = b"Minutes of the board meeting held on 4 June, with apologies noted.\n" * 32


def refused(content: bytes, name: str = "upload.bin") -> str:
    with pytest.raises(FileRefused) as caught:
        files.check(content, max_bytes=LIMIT, file_name=name)
    return caught.value.message


@pytest.mark.parametrize("name", ["run.vbs", "run.js", "run.ps1", "run.cmd", "RUN.BAT", "a.hta"])
def test_names_that_run_when_opened_are_refused_whatever_the_content(name):
    assert "can run programs when opened" in refused(b"plain words\n", name)


def test_a_script_by_its_first_line_is_refused():
    assert "not accepted" in refused(b"#!/bin/sh\nrm -rf ~\n", "notes.txt")
    # One libmagic does not name as a script is still refused for its first line.
    assert "is a script" in refused(b"#!/usr/bin/env minutes-runner\n" + TEXT, "notes.txt")


@pytest.mark.parametrize(
    "markup",
    [
        b"<script>alert(document.cookie)</script>",
        b"<HTML><body onload=alert(1)>",
        sample.SVG,
        b"<iframe src=https://evil.example>",
        b"<a href='javascript:alert(1)'>x</a>",
    ],
)
def test_markup_anywhere_in_a_text_file_is_refused(markup):
    assert files.sniff(TEXT + markup) in TEXT_TYPES  # taken as text, as the review found
    assert "web page markup" in refused(TEXT + markup, "notes.txt")


def test_an_image_that_is_also_a_pdf_is_refused():
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + sample.PDF
    assert files.sniff(gif) == "image/gif"
    assert "both a GIF image and a PDF" in refused(gif, "chart.gif")


def _bomb(entries: int = 3, member_bytes: int = 120_000_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<r/>")
        for n in range(entries):
            # Written in pieces, so the test holds 1 MB at a time, not the expanded size.
            with archive.open(f"word/media/image{n}.bin", "w", force_zip64=True) as member:
                for _ in range(member_bytes // 1_000_000):
                    member.write(b"\0" * 1_000_000)
    return buffer.getvalue()


def test_an_office_file_that_expands_past_the_limit_is_refused():
    bomb = _bomb()
    assert len(bomb) < 2_000_000  # small on the wire, 360 MB expanded
    assert "would expand to 360 MB" in refused(bomb, "minutes.docx")


def test_an_office_file_with_too_many_parts_or_missing_its_manifest_is_refused():
    many = sample.zipped(
        [("[Content_Types].xml", "<Types/>")] + [(f"p{n}", "") for n in range(10_001)]
    )
    message = refused(many, "minutes.docx")
    assert "10,002 parts" in message or "not accepted" in message
    assert files.check(sample.docx(), max_bytes=LIMIT, file_name="minutes.docx")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("minutes.pdf", "minutes.pdf"),
        ("minutes.png", "minutes.pdf"),  # the extension follows the content
        ("minutes", "minutes.pdf"),
        ("board\u202efdp.txt", "boardfdp.pdf"),  # right-to-left override removed
        ("a\u2066b\u200f.pdf", "ab.pdf"),
        ("..\\..\\evil.pdf", "evil.pdf"),
        ("\u202e", "evidence.pdf"),
    ],
)
def test_the_kept_name_is_clean_and_fits_the_content(sent, kept):
    assert stored_name(sent, "application/pdf") == kept


def test_a_disguised_name_never_reaches_the_download_header():
    header = files.attachment("invoice\u202efdp.exe")
    assert "%E2%80%AE" not in header and "\u202e" not in header


def test_a_refused_upload_stores_nothing_and_says_why(client, world, session, settings):  # noqa: F811
    headers = bearer(session, world, "officer")
    before = session.exec(select(func.count()).select_from(Evidence)).one()
    stored = settings.data_dir / "evidence"
    files_before = sorted(stored.rglob("*"))
    response = upload(client, world, headers, form(world), ("run.vbs", b"MsgBox 1\n"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body.file"
    assert "can run programs when opened" in response.json()["detail"]
    assert session.exec(select(func.count()).select_from(Evidence)).one() == before
    assert sorted(stored.rglob("*")) == files_before


def test_an_accepted_upload_is_kept_under_a_name_that_fits(client, world, session):  # noqa: F811
    headers = bearer(session, world, "officer")
    response = upload(client, world, headers, form(world), ("minutes\u202e.png", sample.PDF))
    assert response.status_code == 201, response.text
    assert response.json()["file_name"] == "minutes.pdf"
