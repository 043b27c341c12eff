"""Rendering a report to PDF with WeasyPrint, and the cache that serves an unchanged one again.

The HTML comes from templates/pdf/ through the one Jinja environment. WeasyPrint may fetch only
files inside that folder (the stylesheet): no network, no other file. The PDF is tagged PDF/UA-1
where WeasyPrint manages it, otherwise tagged; it names its title, author and language, and
embeds its fonts.

The cache holds the first PDF made for a fingerprint, so the same data is always the same file
(its cover says when it was first generated, and by whom). A render within a ceiling runs in a
child process of its own, so a process runs up to COMPLIANCE_REPORT_RENDER_WORKERS of them at
once (the number of cores by default), each on its own core; a render without a ceiling runs in
the process, one at a time, since WeasyPrint is single-threaded and in one process two renders
would only share one interpreter.
"""

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from pydantic import TypeAdapter
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from compliance.charts import trend_chart
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.outcomes.judgement import Verdict
from compliance.reports.ceiling import Ceiling, render_within
from compliance.reports.service import ChainHead, HolderRow, Report, canonical_json, fingerprint
from compliance.web import (
    JUDGEMENT_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    TEMPLATES_DIR,
    templates,
)

log = logging.getLogger(__name__)

PDF_DIR = TEMPLATES_DIR / "pdf"
PDF_OPTIONS = {"pdf_variant": "pdf/ua-1"}
FALLBACK_OPTIONS = {"pdf_tags": True}
RENDER_LOCK = threading.Lock()
# Renders within a ceiling run in child processes, so several at once use several cores: as many
# at once as COMPLIANCE_REPORT_RENDER_WORKERS allows, one at a time for the same file.
_slots_guard = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}
# One lock per stripe of report files: the same report asked for twice at once is rendered once
# (the second waits, then finds the first's file); a fixed number, so none is left behind.
_rendering = tuple(threading.Lock() for _ in range(64))


def render_slots(workers: int) -> threading.BoundedSemaphore:
    """The process's renders at once, `workers` of them (made once per size)."""
    with _slots_guard:
        return _slots.setdefault(workers, threading.BoundedSemaphore(workers))


def _rendering_once(path: Path) -> threading.Lock:
    return _rendering[int(hashlib.sha256(str(path).encode()).hexdigest(), 16) % len(_rendering)]


class LocalFetcher(URLFetcher):
    """Fetches files inside one folder and refuses every other address."""

    def __init__(self, root: Path):
        super().__init__(allowed_protocols={"file"}, timeout=5, allow_redirects=False)
        self._root = root.resolve()

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        path = Path(url2pathname(parts.path)).resolve() if parts.scheme == "file" else None
        if path is None or not path.is_relative_to(self._root):
            raise ValueError(f"the report may not fetch {url}")
        return super().fetch(url, headers)


@dataclass(frozen=True)
class Made:
    """A report's PDF on disk, with the data it shows."""

    path: Path
    report: Report
    fingerprint: str
    cached: bool


@lru_cache
def layout_version() -> str:
    """A hash of the report's templates (every file of templates/pdf/) and of this module,
    which fills them in: a changed layout (or a fix to how values are escaped) never serves an
    old file."""
    digest = hashlib.sha256()
    for path in (*sorted(PDF_DIR.iterdir()), Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_path(data_dir: Path, report: Report, print_: str) -> Path:
    """DATA_DIR/reports/layout-<hash>/<fingerprint>-<scope>.pdf"""
    return data_dir / "reports" / f"layout-{layout_version()}" / f"{print_}-{report.label}.pdf"


def marker_path(data_dir: Path, marker: str) -> Path:
    """DATA_DIR/reports/layout-<hash>/markers/<marker>.json: which PDF a marker found."""
    return data_dir / "reports" / f"layout-{layout_version()}" / "markers" / f"{marker}.json"


def remember(data_dir: Path, marker: str, made: "Made") -> None:
    """Note that, while the marker holds, this PDF (and its data beside it) is the report."""
    found = {"pdf": made.path.name, "fingerprint": made.fingerprint}
    store_once(marker_path(data_dir, marker), json.dumps(found).encode())


def recall(data_dir: Path, marker: str) -> "Made | None":
    """The PDF and data a marker found, if the cache still holds them as they were."""
    try:
        found = json.loads(marker_path(data_dir, marker).read_bytes())
        path = marker_path(data_dir, marker).parent.parent / found["pdf"]
        data = path.with_suffix(".json").read_bytes()
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    if not path.exists() or hashlib.sha256(data).hexdigest() != found["fingerprint"]:
        log.warning("report cache: %s is missing or changed", path.name)
        return None
    return Made(path, report_from_json(data), found["fingerprint"], cached=True)


@cache
def _reports() -> TypeAdapter[Report]:
    return TypeAdapter(Report)


def report_from_json(data: bytes) -> Report:
    """A report's data as stored beside its PDF (its canonical JSON)."""
    return _reports().validate_json(data)


def css_string(value: str) -> str:
    """A value as a quoted CSS string, safe inside a <style> element.

    Every character but letters, digits and spaces becomes a CSS escape, so that no quote,
    backslash or new line ends the string and no "</style" ends the element. The space after
    each escape ends it (CSS reads that one space as part of the escape, not as text).
    """
    escaped = "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in value)
    return f'"{escaped}"'


# A summary's table of holders is preformatted text in a fixed-width font: WeasyPrint lays out
# thousands of lines of text in a third of the time it takes for as many table rows or flex rows,
# which keeps a summary of 4,000 bodies to seconds. LINE_WIDTH characters fit the page's width.
LINE_WIDTH = 132
GAP = "  "


def holder_lines(rows: list[HolderRow]) -> Markup:
    """The summary's row per holder as aligned lines of text: the name (wrapped, and a link to
    the holder's own report), code, obligations, fully met, process, outcomes or judgement, and
    open findings by severity. The statuses are words without their colours: the lines come
    worst first, and two coloured runs a line took WeasyPrint half its time on a summary of
    4,000 bodies (12.0 s, 6.2 s without)."""
    cells = [
        (
            row,
            [
                row.key,
                f"{row.total:,}",
                f"{row.fully_met:,}",
                STATUS_LABELS[ProcessStatus(row.process)] if row.total else "–",
                _outcome_words(row),
                " / ".join(str(n) for n in row.findings.values()),
            ],
        )
        for row in rows
    ]
    heads = ["Code", "Obligations", "Fully met", "Process", "Outcomes", "Findings"]
    widths = [max([len(h), *(len(c[i]) for _, c in cells)]) for i, h in enumerate(heads)]
    name_width = max(24, LINE_WIDTH - sum(widths) - len(GAP) * len(widths))
    right = {1, 2, 5}

    def line(name: str, values: list[str]) -> str:
        padded = [
            v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return name + GAP + str(escape(GAP.join(padded)))

    out = [line(escape("Body or partnership".ljust(name_width)), heads)]
    out.append("-" * min(LINE_WIDTH, name_width + sum(widths) + len(GAP) * len(widths)))
    for row, values in cells:
        wrapped = textwrap.wrap(row.name, name_width) or [""]
        link = f'<a href="{escape(row.address)}">{escape(wrapped[0])}</a>'
        out.append(line(link + " " * (name_width - len(wrapped[0])), values))
        out += [escape(more) for more in wrapped[1:]]
    return Markup("\n".join(out))


def _outcome_words(row: HolderRow) -> str:
    if row.verdict:
        return JUDGEMENT_LABELS[Verdict(row.verdict)]
    return OUTCOME_LABELS[OutcomeStatus(row.outcome)] if row.total else "–"


def render_html(
    *,
    report: Report,
    print_: str,
    generated_at: dt.datetime,
    generated_by: str,
    head: ChainHead | None,
) -> str:
    """The report as HTML, through the application's Jinja environment."""
    page_css = (
        f"@page {{ @top-left {{ content: {css_string(report.name)} }} "
        f"@top-right {{ content: {css_string('As at ' + report.as_at.isoformat())} }} "
        f"@bottom-left {{ content: {css_string('Data fingerprint ' + print_[:16])} }} }}"
    )
    charts = {
        i.ref: trend_chart(
            chart_id=f"indicator-chart-{i.ref}",
            title=i.name,
            unit=i.unit,
            points=i.points,
            baseline=i.baseline,
            target=i.target,
            method=i.method,
            total=i.measured,
        )
        for o in report.outcomes
        for i in o.indicators
    }
    product = templates.env.globals["product_name"]
    return templates.env.get_template("pdf/report.html").render(
        r=report,
        fingerprint=print_,
        title=f"Audit report: {report.name}, as at {report.as_at:%d %B %Y}",
        author=f"{generated_by} ({product})",
        generated_at=generated_at,
        generated_at_text=f"{generated_at:%d %B %Y at %H:%M} ({generated_at.tzname()})",
        generated_by=generated_by,
        head=head,
        charts=charts,
        page_css=Markup(page_css),
        evidence={e.ref: e for e in report.evidence},
        outcomes={o.ref: o for o in report.outcomes},
        risks={k.ref: k for k in report.risks},
        holder_lines=holder_lines(report.digest.holders) if report.digest else "",
    )


def write_pdf(html: str, *, on_stage: Callable[[str], None] | None = None) -> bytes:
    """HTML to a tagged PDF (PDF/UA-1 if WeasyPrint manages it), fetching nothing outside
    the report templates' folder."""
    stage = on_stage or (lambda _: None)
    page = HTML(string=html, base_url=f"{PDF_DIR}/", url_fetcher=LocalFetcher(PDF_DIR))
    for options in (PDF_OPTIONS, FALLBACK_OPTIONS):
        try:
            stage("laying out pages")
            document = page.render(**options)
            stage(f"writing {len(document.pages)} pages")
            return document.write_pdf(**options)
        except Exception:
            if options is FALLBACK_OPTIONS:
                raise
            # WeasyPrint's PDF/UA support fails on some tables (its issue #2761); tags stay on.
            log.warning("PDF/UA-1 rendering failed; rendering with tags only", exc_info=True)
    raise AssertionError("unreachable")


def write_floor(html: str) -> bytes:
    """WeasyPrint alone on the same HTML and options: the floor the benchmark compares with."""
    return HTML(string=html, base_url=f"{PDF_DIR}/").write_pdf(**PDF_OPTIONS)


def store_once(path: Path, content: bytes | Callable[[BinaryIO], None]) -> None:
    """Write a file into the cache unless one is already there: these bytes, or what the
    function writes to the stream it is given."""
    # Written under a temporary name, then linked into place: if another process got there
    # first, its file stands and this one is dropped, so the first PDF made is the one kept.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as stream:
            if callable(content):
                content(stream)
            else:
                stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def make_pdf(
    *,
    report: Report,
    data_dir: Path,
    generated_by: str,
    head: ChainHead | None,
    timezone: str = "Europe/London",
    on_stage: Callable[[str], None] | None = None,
    ceiling: Ceiling | None = None,
    workers: int = 1,
) -> Made:
    """The report's PDF: from the cache if its data has not changed, else rendered now (within
    `ceiling`, in a child process, when given: RenderCeiling past it; up to `workers` such
    renders at once in this process, the others waiting their turn; without a ceiling, in this
    process, one at a time).

    `head` is the audit chain head to print on the cover if the PDF is rendered now.
    """
    print_ = fingerprint(report)
    path = cache_path(data_dir, report, print_)
    # The data beside the PDF: what its evidence pack holds, and what a cache hit that does not
    # build the data again (by its change marker, or a finished background job) serves.
    data = path.with_suffix(".json")
    if path.exists():
        if not data.exists():
            store_once(data, canonical_json(report))
        return Made(path, report, print_, cached=True)
    turn = RENDER_LOCK if ceiling is None else render_slots(workers)
    with _rendering_once(path), turn:
        if path.exists():
            return Made(path, report, print_, cached=True)
        started = time.perf_counter()
        html = render_html(
            report=report,
            print_=print_,
            generated_at=dt.datetime.now(ZoneInfo(timezone)),
            generated_by=generated_by,
            head=head,
        )
        if ceiling is None:
            content = write_pdf(html, on_stage=on_stage)
        else:
            content = render_within(html, ceiling=ceiling, on_stage=on_stage)
        store_once(data, canonical_json(report))
        store_once(path, content)
    log.info("rendered %s in %.2f s", path.name, time.perf_counter() - started)
    return Made(path, report, print_, cached=False)
