"""Evidence packs: a ZIP of the report, every evidence file it shows, and a manifest of hashes.

An inspector can check each file on their own: its SHA-256 is in manifest.csv and
manifest.json, in the file's name (its first 12 characters), and in the PDF's evidence index.
report-data.json is the data the report shows; its SHA-256 is the fingerprint on the cover.
The pack is built from the cached PDF with fixed timestamps, so an unchanged report gives the
same pack, byte for byte.

A summary's full pack (made in the background, compliance.reports.jobs) also holds each body's
and partnership's own report, the detail the summary leaves out: holders/<name>-<key>.pdf with
its data beside it (holders/<name>-<key>-data.json, whose SHA-256 is that report's fingerprint).
"""

import hashlib
import json
import mimetypes
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from compliance.evidence import files
from compliance.exports.formats import csv_lines
from compliance.reports.parts import EvidenceItem
from compliance.reports.pdf import Made, store_once
from compliance.reports.service import canonical_json

MANIFEST_COLUMNS = (
    "file",
    "sha256",
    "size_bytes",
    "evidence_ref",
    "title",
    "kind",
    "effective_date",
    "recorded_by",
    "recorded_at",
    "media_type",
    "url",
    "problem",
)


def slugify(text: str, limit: int = 60) -> str:
    """Lower-case words joined by hyphens, safe as a file name on any system."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "evidence"


def evidence_file_name(item: EvidenceItem) -> str:
    """<slugified title>-<first 12 of the SHA-256>.<extension>"""
    suffix = Path(item.file_name or "").suffix.lower().lstrip(".")
    if not re.fullmatch(r"[a-z0-9]{1,8}", suffix):
        suffix = (mimetypes.guess_extension(item.media_type or "") or ".bin").lstrip(".")
    return f"{slugify(item.title)}-{item.sha256[:12]}.{suffix}"  # type: ignore[index]  # only evidence with a file is named


class _Archive:
    """A ZIP written to a stream with fixed timestamps, listing every file it holds."""

    def __init__(self, stream: BinaryIO, stamp: tuple[int, int, int, int, int, int]):
        self.zip = zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED)
        self.stamp = stamp
        self.rows: list[dict] = []
        self.names: set[str] = set()

    def write(self, name: str, content: bytes) -> None:
        self.names.add(name)
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, content)

    def add(self, name: str, content: bytes, **row: object) -> None:
        self.write(name, content)
        sha256 = hashlib.sha256(content).hexdigest()
        self.rows.append({"file": name, "sha256": sha256, "size_bytes": len(content)} | row)


@dataclass(frozen=True)
class HolderReport:
    """A body's or partnership's own report in a full pack: made, or why it could not be."""

    kind: str
    key: str
    name: str
    address: str
    made: Made | None
    problem: str | None = None


def make_pack(*, made: Made, data_dir: Path, holders: Sequence[HolderReport] = ()) -> Path:
    """The evidence pack of a report, beside its PDF in the cache; built once. With holders'
    reports, a full pack, named by what they are too (each holder's data may change while the
    summary's does not)."""
    path = made.path.with_suffix(".zip")
    if holders:
        listed = "\n".join(
            f"{h.kind}:{h.key}:{h.made.fingerprint if h.made else h.problem}" for h in holders
        )
        token = hashlib.sha256(listed.encode()).hexdigest()[:16]
        path = made.path.with_name(f"{made.path.stem}-full-{token}.zip")
    if not path.exists():
        # Written straight to the cache, a file at a time: a full pack of thousands of holders'
        # reports is never held in memory whole.
        store_once(path, partial(write_pack, made=made, data_dir=data_dir, holders=holders))
    return path


def write_pack(
    stream: BinaryIO, *, made: Made, data_dir: Path, holders: Sequence[HolderReport] = ()
) -> None:
    """The ZIP: the PDF, report-data.json, evidence/..., holders/... (a full pack),
    manifest.csv and manifest.json."""
    report = made.report
    archive = _Archive(
        stream, (max(report.as_at.year, 1980), report.as_at.month, report.as_at.day, 0, 0, 0)
    )
    pdf_name = f"audit-report-{report.label}-{report.as_at.isoformat()}.pdf"
    archive.add(pdf_name, made.path.read_bytes(), title=f"Audit report: {report.name}")
    archive.add("report-data.json", canonical_json(report), title="The data the report shows")
    for item in report.evidence:
        _add_evidence(archive, item, data_dir)
    listed = [_add_holder(archive, holder) for holder in holders]
    rows = [{column: row.get(column) for column in MANIFEST_COLUMNS} for row in archive.rows]
    manifest = {
        "scope": {"kind": report.kind, "key": report.key, "name": report.name},
        "as_at": report.as_at.isoformat(),
        "fingerprint": made.fingerprint,
        "files": rows,
    } | ({"holders": listed} if holders else {})
    archive.write("manifest.json", json.dumps(manifest, indent=2).encode() + b"\n")
    archive.write("manifest.csv", _csv(rows))
    archive.zip.close()


def _add_evidence(archive: _Archive, item: EvidenceItem, data_dir: Path) -> None:
    row = {
        "evidence_ref": item.ref,
        "title": item.title,
        "kind": item.kind,
        "effective_date": item.effective_date.isoformat(),
        "recorded_by": item.recorded_by,
        "recorded_at": item.recorded_at.isoformat(),
        "media_type": item.media_type,
        "url": item.url,
    }
    if not item.sha256:
        archive.rows.append({"file": "", "sha256": "", "problem": "no file"} | row)
        return
    name = f"evidence/{evidence_file_name(item)}"
    if any(r["file"] == name for r in archive.rows):
        name = name.replace(f"-{item.sha256[:12]}.", f"-{item.sha256[:12]}-e{item.ref}.")
    try:
        content = files.read(data_dir=data_dir, sha256=item.sha256)
    except files.StoredFileDamaged:
        # Listed with the problem rather than left out, so the gap is plain to the inspector.
        problem = "the stored file is missing or does not match its SHA-256"
        archive.rows.append({"file": "", "sha256": item.sha256, "problem": problem} | row)
        return
    archive.add(name, content, **row)


def _add_holder(archive: _Archive, holder: HolderReport) -> dict[str, object]:
    """A holder's own report and its data, or the reason it is missing, listed either way."""
    stem = f"holders/{slugify(holder.name)}-{slugify(holder.key, 30)}"
    # Two holders of the same name whose keys begin alike would share a file: number the later.
    stem = next(
        f"{stem}{suffix}"
        for suffix in ("", *(f"-{n}" for n in range(2, len(archive.names) + 3)))
        if f"{stem}{suffix}.pdf" not in archive.names
    )
    row = {"kind": "holder report", "title": f"Audit report: {holder.name}", "url": holder.address}
    listed: dict[str, object] = {
        "kind": holder.kind,
        "key": holder.key,
        "name": holder.name,
        "url": holder.address,
    }
    if holder.made is None:
        archive.rows.append({"file": "", "sha256": "", "problem": holder.problem} | row)
        return listed | {"file": None, "fingerprint": None, "problem": holder.problem}
    archive.add(f"{stem}.pdf", holder.made.path.read_bytes(), **row)
    data = holder.made.path.with_suffix(".json").read_bytes()
    title = f"The data of the report on {holder.name}"
    archive.add(f"{stem}-data.json", data, **(row | {"kind": "holder report data", "title": title}))
    return listed | {"file": f"{stem}.pdf", "fingerprint": holder.made.fingerprint, "problem": None}


def _csv(rows: list[dict]) -> bytes:
    # Through the exports' writer: a title such as "=HYPERLINK(...)" must not run as a formula
    # in the inspector's spreadsheet.
    lines = [MANIFEST_COLUMNS, *([row[c] for c in MANIFEST_COLUMNS] for row in rows)]
    return csv_lines(lines).encode("utf-8")
