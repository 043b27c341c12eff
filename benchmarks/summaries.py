"""Benchmark duty and area reports summarised (past COMPLIANCE_REPORT_DETAIL_HOLDERS); write to
the doc.

    .venv/bin/python -m benchmarks.summaries [--sizes 1000 4000] [--no-append]
    .venv/bin/python -m benchmarks.summaries --given "4,000 bodies" postgresql+psycopg://... DIR

On PostgreSQL (a database of its own per size, dropped after), a synthetic registry of each size
(seed 1); the duty binding the most bodies there, and the largest area (the integrated care
board whose footprint holds the most bodies). Each report is measured in a child process of its
own, so that its peak memory (VmHWM, written before the cached runs) is the report's:
  - cold: build the summary's data, fingerprint it, render and store the PDF (cache empty);
  - floor: WeasyPrint alone on the same HTML with the same options;
  - cached: `produce` again, served from the cache by its change marker without building the
    data (median of five);
  - for the duty, its full evidence pack's holders' reports, one at a time and side by side.
With --given (repeatable), existing databases (for example made by `compliance synth`) are measured
instead, each under its label.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks import bench
from benchmarks.harness import machine, utc_stamp

ROOT = Path(__file__).resolve().parents[1]
TARGET_COLD_S = 15.0
TARGET_PAGES = 60
TARGET_PEAK_MB = 400.0
TARGET_CACHED_MS = 200.0
TARGET_SPEED_UP = 1.7
# The holders whose own reports are rendered one at a time, then side by side (--holders).
HOLDERS_RENDERED = 8
KINDS = ("duty", "area")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument(
        "--given",
        nargs=3,
        action="append",
        metavar=("LABEL", "URL", "DATA_DIR"),
        help="measure this existing database instead (repeatable)",
    )
    parser.add_argument(
        "--holders",
        type=int,
        default=HOLDERS_RENDERED,
        help="how many of the summary's holders the full evidence pack renders (0: all)",
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    if args.child_out:
        measure_child(args.url, args.data_dir, args.child_out, args.holders, args.kind)
        return
    results = []
    if args.given:
        results += [
            run(url, Path(folder), label, args.holders, kind)
            for label, url, folder in args.given
            for kind in KINDS
        ]
    else:
        admin_url = bench.reachable_postgres()
        if admin_url is None:
            raise SystemExit("PostgreSQL is needed: the targets are measured on it")
        on = dt.date.today()
        with tempfile.TemporaryDirectory(prefix="bench-summaries-") as work:
            for size in args.sizes:
                with bench.postgres_database(admin_url) as url:
                    data_dir = Path(work) / f"data-{size}"
                    bench.log(f"{size} bodies: synthesising")
                    bench.synthetic_registry(url, data_dir, size, 1, on).dispose()
                    for kind in KINDS:
                        results.append(run(url, data_dir, f"{size:,} bodies", args.holders, kind))
    section = markdown(results, admin_url=bench.reachable_postgres())
    print(section)
    if not args.no_append:
        bench.append(bench.DOC, section)


def run(url: str, data_dir: Path, label: str, holders: int, kind: str) -> dict:
    """Measure one kind of report in a child process; its results with its peak memory."""
    out = data_dir / f"summary-{kind}-result.json"
    peak = data_dir / f"summary-{kind}-peak.txt"
    command = [
        sys.executable,
        "-m",
        "benchmarks.summaries",
        f"--url={url}",
        f"--data-dir={data_dir}",
        f"--child-out={out}",
        f"--holders={holders}",
        f"--kind={kind}",
    ]
    env = os.environ | {"BENCH_PEAK_FILE": str(peak)}
    if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:
        raise RuntimeError(f"measuring the {kind} summary of {label} failed")
    return json.loads(out.read_text()) | {"label": label, "peak_mb": int(peak.read_text()) / 1024}


def largest_duty(session) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    """The duty binding the most holders: its slug, its words and how many it binds."""
    from sqlalchemy import func
    from sqlmodel import select

    from compliance.models import Deliverable, Duty, Obligation

    holders = func.count(
        func.distinct(func.coalesce(Obligation.body_id, -Obligation.partnership_id))
    )
    slug, bound = session.exec(
        select(Duty.slug, holders)
        .join(Deliverable, Deliverable.duty_id == Duty.id)
        .join(Obligation, Obligation.deliverable_id == Deliverable.id)
        .where(Obligation.closed_date.is_(None))
        .group_by(Duty.slug)
        .order_by(holders.desc(), Duty.slug)
    ).first()
    return slug, slug, bound


def largest_area(session, on: dt.date) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    """The integrated care board whose area holds the most bodies: its code, its words and how
    many bodies (the area report's holders are these bodies and their partnerships)."""
    from sqlmodel import select

    from compliance.models import Body
    from compliance.reports.scope import area_bodies

    boards = session.exec(select(Body).where(Body.kind == "integrated_care_board")).all()
    sizes = {board.code: len(area_bodies(session=session, body=board, on=on)) for board in boards}
    code = max(sorted(sizes), key=lambda c: sizes[c])
    return code, f"area of {code}", sizes[code]


def measure_child(url: str, data_dir: Path, out: Path, rendered: int, kind: str) -> None:
    """In the child: warm WeasyPrint up, then time cold, floor and cached."""
    from pypdf import PdfReader
    from sqlmodel import Session
    from weasyprint import HTML

    from benchmarks.counted_cli import write_peak
    from compliance.access import Principal
    from compliance.config import Settings
    from compliance.db import make_engine
    from compliance.models import User
    from compliance.reports.pdf import render_html, write_floor
    from compliance.reports.produce import produce
    from compliance.reports.service import build_report, chain_head, fingerprint

    HTML(string="<p>warm up</p>").write_pdf()
    settings = Settings(environment="test", secret_key="bench", database_url=url, data_dir=data_dir)
    principal = Principal(
        User(email="bench", name="Benchmark", role="admin"), frozenset(), frozenset(), frozenset()
    )
    engine = make_engine(url)
    with Session(engine) as session:
        if kind == "duty":
            key, words, bound = largest_duty(session)
        else:
            key, words, bound = largest_area(session, settings.today())
        produced = {"session": session, "settings": settings, "principal": principal}
        cold, made = _timed(produce, kind=kind, key=key, **produced)
        data_s, report = _timed(
            build_report,
            session=session,
            principal=principal,
            kind=kind,
            key=key,
            as_at=settings.today(),
            due_soon_days=settings.due_soon_days,
            detail_holders=settings.report_detail_holders,
            base_url=settings.base_url,
        )
        html = render_html(
            report=report,
            print_=fingerprint(report),
            generated_at=dt.datetime.now(ZoneInfo(settings.timezone)),
            generated_by="Benchmark",
            head=chain_head(session=session, as_at=report.as_at),
        )
        floor, _ = _timed(write_floor, html)
        write_peak(os.environ["BENCH_PEAK_FILE"])
        cached = [_timed(produce, kind=kind, key=key, **produced)[0] for _ in range(5)]
    digest = made.report.digest
    holders = (digest.holders[:rendered] if rendered else digest.holders) if digest else []
    side_by_side = {}
    if kind == "duty" and digest is not None:
        packed = replace(made.report, digest=replace(digest, holders=holders))
        side_by_side = {
            workers: holder_reports(engine, settings, principal, packed, workers)
            for workers in (1, settings.report_render_workers)
        }
    engine.dispose()
    result = {
        "kind": kind,
        "report": words,
        "holders": bound,
        "summary": made.report.digest is not None,
        "obligations": made.report.summary.total,
        "pages": len(PdfReader(made.path).pages),
        "pdf_kb": made.path.stat().st_size / 1024,
        "cold_s": cold,
        "data_s": data_s,
        "floor_s": floor,
        "cached_ms": statistics.median(cached) * 1000,
        "holders_rendered": len(holders),
        "one_worker_s": side_by_side.get(1),
        "workers": settings.report_render_workers,
        "workers_s": side_by_side.get(settings.report_render_workers),
    }
    out.write_text(json.dumps(result))


def holder_reports(engine, settings, principal, report, workers: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds to render a full evidence pack's holders' reports, cold (a cache of their own),
    through the background job's own path with `workers` renders at once."""
    from compliance.reports import jobs

    folder = Path(tempfile.mkdtemp(prefix=f"holders-{workers}-", dir=settings.data_dir))
    mine = settings.model_copy(update={"data_dir": folder, "report_render_workers": workers})
    task = jobs.Task(engine, "benchmark", report, None, mine, principal, None, None, True)
    started = time.perf_counter()
    made = jobs.holder_reports(task, 10)
    elapsed = time.perf_counter() - started
    if any(holder.made is None for holder in made):
        raise RuntimeError("a holder's report was not made: " + str([h.problem for h in made]))
    return elapsed


def _timed(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def markdown(results: list[dict], admin_url: str | None) -> str:
    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    lines = [
        f"## Duty and area report summaries ({utc_stamp()})",
        "",
        *machine({"postgresql": admin_url}),
        "",
        "`python -m benchmarks.summaries`: the duty binding the most bodies in a synthetic "
        "registry (seed 1) on PostgreSQL, and the area of the integrated care board whose "
        "footprint holds the most bodies (its holders: those bodies), each as a summary (more "
        "holders than COMPLIANCE_REPORT_DETAIL_HOLDERS) and each in a child process of its own.",
        "",
        "| Registry | Report | Holders | Obligations | Pages | Cold | Of which data | WeasyPrint "
        "alone (floor) | Peak memory | Cached |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} | {r['report']} | {r['holders']:,} | {r['obligations']:,} | "
            f"{r['pages']} ({mark(r['pages'] < TARGET_PAGES)}) | "
            f"{r['cold_s']:.1f} s ({mark(r['cold_s'] < TARGET_COLD_S)}) | {r['data_s']:.1f} s | "
            f"{r['floor_s']:.1f} s | {r['peak_mb']:.0f} MB ({mark(r['peak_mb'] < TARGET_PEAK_MB)}) "
            f"| {r['cached_ms']:,.0f} ms ({mark(r['cached_ms'] < TARGET_CACHED_MS)}) |"
        )
    lines += [
        "",
        "The full evidence pack's holders' reports (each summary's first holders, or all of "
        "them with --holders 0), cold, through the background job's own path, rendered one at a "
        "time and then with COMPLIANCE_REPORT_RENDER_WORKERS at once:",
        "",
        "| Registry | Reports | One at a time | Side by side | Workers | Speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in results if r["kind"] == "duty" and r["workers_s"]):
        speed_up = r["one_worker_s"] / r["workers_s"]
        lines.append(
            f"| {r['label']} | {r['holders_rendered']} | {r['one_worker_s']:.1f} s | "
            f"{r['workers_s']:.1f} s | {r['workers']} | {speed_up:.2f}x "
            f"({mark(speed_up >= TARGET_SPEED_UP)} {TARGET_SPEED_UP}x) |"
        )
    lines += [
        "",
        f"Targets (issue 16): cold < {TARGET_COLD_S:.0f} s, < {TARGET_PAGES} pages, peak < "
        f"{TARGET_PEAK_MB:.0f} MB; any cached report < {TARGET_CACHED_MS:.0f} ms (found by its "
        "change marker, the data not built).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
