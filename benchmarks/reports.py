"""Benchmark the audit PDFs: cold, cached, and WeasyPrint's own floor; append to the doc.

    .venv/bin/python -m benchmarks.reports [--bodies 1000] [--requests 20] [--no-append]

Two body reports, on SQLite in a temporary folder: the demo area's Cornwall Council
(E06000052) and the body with the most obligations in a synthetic registry of `--bodies`
bodies. Each is measured in a child process of its own, so that its peak memory is the report's:
the child's own VmHWM, written before the cached run (benchmarks.counted_cli.write_peak says
why not ru_maxrss from os.wait4, and why the imports are counted). In the child, WeasyPrint first
renders a one-line page (a server has warmed up by its second report; that start-up is not the
report's time), then:
  - cold: build the report's data, fingerprint it, render and store the PDF (cache empty);
  - cached: GET /api/v1/bodies/{code}/report.pdf through FastAPI's TestClient as a signed-in
    administrator, the file served from the cache (median of --requests);
  - floor: WeasyPrint alone rendering the same HTML with the same options, once before and once
    after the cold run, the lower of the two;
  - overhead: cold over floor, the application's share (data, template, cache write).
"""

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
TARGET_COLD_S = 3.0
TARGET_COLD_MB = 400.0
TARGET_CACHED_MS = 100.0
TARGET_OVERHEAD = 0.25


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("child", help="measure one report (run by the parent)")
    child.add_argument("--url", required=True)
    child.add_argument("--data-dir", type=Path, required=True)
    child.add_argument("--code", required=True)
    child.add_argument("--requests", type=int, default=20)
    child.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bodies", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "child":
        measure_child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as work:
        results = [
            run(prepare_demo(Path(work) / "demo"), "E06000052", "Demo: Cornwall Council", args),
            run(*prepare_synthetic(Path(work) / "synth", args.bodies), args),
        ]
    section = markdown(results)
    print(section)
    if not args.no_append:
        with DOC.open("a", encoding="utf-8") as doc:
            doc.write("\n" + section)


def prepare_demo(folder: Path) -> tuple[str, Path]:
    """A migrated SQLite database with the catalogue and the demo area."""
    from sqlmodel import Session

    from compliance.catalogue.service import load_catalogue
    from compliance.config import Settings
    from compliance.db import make_engine
    from compliance.demo.service import load_demo
    from compliance.migrations import upgrade

    folder.mkdir(parents=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_catalogue(session=session)
        settings = Settings(
            environment="test", secret_key="bench", database_url=url, data_dir=folder
        )
        load_demo(session=session, settings=settings)
        session.commit()
    engine.dispose()
    return url, folder


def prepare_synthetic(folder: Path, bodies: int) -> tuple[tuple[str, Path], str, str]:
    """A synthetic registry; its body with the most obligations."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from compliance.catalogue.service import load_catalogue
    from compliance.db import make_engine, session_scope
    from compliance.migrations import upgrade
    from compliance.models import Body, Obligation
    from compliance.synth.service import CODE_PREFIX, synthesise

    folder.mkdir(parents=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_catalogue(session=session)
        session.commit()
    with session_scope(engine) as session:
        synthesise(
            session=session,
            data_dir=folder,
            bodies=bodies,
            evidence_per_obligation=4,
            on=dt.date.today(),
        )
    query = (
        select(Body.code, Body.name, func.count(Obligation.id))
        .join(Obligation, Obligation.body_id == Body.id)
        .where(Body.code.startswith(CODE_PREFIX), Obligation.closed_date.is_(None))
        .group_by(Body.code, Body.name)
        .order_by(func.count(Obligation.id).desc(), Body.code)
    )
    with Session(engine) as session:
        code, name, _ = session.exec(query).first()
    engine.dispose()
    return (url, folder), code, f"Synthetic {bodies} bodies: {name}"


def run(prepared: tuple[str, Path], code: str, label: str, args) -> dict:  # type: ignore[no-untyped-def]
    """Measure one report in a child process; its results with the child's peak memory."""
    url, folder = prepared
    out = folder / "result.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.reports",
        "child",
        f"--url={url}",
        f"--data-dir={folder}",
        f"--code={code}",
        f"--requests={args.requests}",
        f"--out={out}",
    ]
    peak = folder / "peak.txt"
    child = subprocess.Popen(command, cwd=ROOT, env=os.environ | {"BENCH_PEAK_FILE": str(peak)})
    if child.wait() != 0:
        raise RuntimeError(f"measuring {code} failed")
    peak_mb = int(peak.read_text()) / 1024
    return json.loads(out.read_text()) | {"label": label, "peak_mb": peak_mb}


def measure_child(args) -> None:  # type: ignore[no-untyped-def]
    """In the child: warm WeasyPrint up, then time cold, cached and the floor."""
    from pypdf import PdfReader
    from sqlmodel import Session
    from weasyprint import HTML

    from benchmarks.counted_cli import write_peak
    from compliance.access import Principal
    from compliance.config import Settings
    from compliance.main import create_app
    from compliance.models import User
    from compliance.reports.pdf import render_html, write_floor
    from compliance.reports.produce import produce
    from compliance.reports.service import build_report, chain_head, fingerprint
    from compliance.server import settle_heap

    HTML(string="<p>warm up</p>").write_pdf()
    settings = Settings(
        environment="test", secret_key="bench", database_url=args.url, data_dir=args.data_dir
    )
    app = create_app(settings)
    settle_heap()  # as each web process of `compliance serve` does
    if not any(getattr(r, "path", "").endswith("/report.pdf") for r in app.routes):
        from compliance.reports import api  # until main.py includes the router

        app.include_router(api.router)
    principal = Principal(
        User(email="bench", name="Benchmark", role="admin"),
        frozenset(),
        frozenset(),
        frozenset(),
    )
    with Session(app.state.engine) as session:
        report = build_report(
            session=session,
            principal=principal,
            kind="body",
            key=args.code,
            as_at=settings.today(),
            due_soon_days=settings.due_soon_days,
        )
        html = render_html(
            report=report,
            print_=fingerprint(report),
            generated_at=dt.datetime.now(ZoneInfo(settings.timezone)),
            generated_by="Benchmark",
            head=chain_head(session=session, as_at=report.as_at),
        )
        floors = [_timed(write_floor, html)[0]]
        cold, made = _timed(
            produce,
            session=session,
            settings=settings,
            principal=principal,
            kind="body",
            key=args.code,
        )
    floor, pdf = _timed(write_floor, html)
    # The lower of two floors, one either side of the cold run: the overhead is not flattered.
    floor = min(floor, *floors)
    # The peak now, not at exit: signing the benchmark's administrator in for the cached run
    # hashes a password (argon2id, 64 MiB), which would add 64 MB that are not the report's.
    write_peak(os.environ["BENCH_PEAK_FILE"])
    cached = time_cached(app, args.code, args.requests)
    result = {
        "code": args.code,
        "obligations": len(made.report.obligations),
        "evidence": len(made.report.evidence),
        "pages": len(PdfReader(made.path).pages),
        "pdf_kb": made.path.stat().st_size / 1024,
        "cold_s": cold,
        "cached_ms": statistics.median(cached),
        "floor_s": floor,
        "floor_kb": len(pdf) / 1024,
    }
    args.out.write_text(json.dumps(result))


def _timed(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def time_cached(app, code: str, requests: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds per GET of the report, served from the cache, as a signed-in admin."""
    from fastapi.testclient import TestClient

    from compliance.accounts.service import create_user, start_session
    from compliance.db import session_scope
    from compliance.deps import SESSION_COOKIE

    with session_scope(app.state.engine) as session:
        user = create_user(
            session=session,
            email=f"bench-{secrets.token_hex(4)}@example.org",
            name="Benchmark",
            role="admin",
            password=secrets.token_urlsafe(24),
            actor="bench",
        )
        token, _ = start_session(session=session, user=user, address=None, user_agent="bench")
    times = []
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, token)
        for _ in range(requests + 2):
            started = time.perf_counter()
            response = client.get(f"/api/v1/bodies/{code}/report.pdf")
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or response.headers.get("x-report-cached") != "true":
                raise RuntimeError(
                    f"report of {code}: {response.status_code} {response.text[:200]}"
                )
    return times[2:]


def markdown(results: list[dict]) -> str:
    """A dated section of docs/performance.md."""
    lines = [
        f"## Audit reports, {dt.date.today():%d %B %Y}",
        "",
        f"Targets: cold under {TARGET_COLD_S:.0f} s and {TARGET_COLD_MB:.0f} MB for the demo body "
        f"report; a cached download under {TARGET_CACHED_MS:.0f} ms; the application's overhead "
        f"over WeasyPrint's own time under {TARGET_OVERHEAD:.0%}. `{os.cpu_count()}` CPUs.",
        "",
        "| Report | Obligations | Evidence | Pages | Cold | Cached (median) | Peak memory "
        "| WeasyPrint alone | Overhead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        overhead = r["cold_s"] / r["floor_s"] - 1
        lines.append(
            f"| {r['label']} ({r['code']}) | {r['obligations']} | {r['evidence']} | {r['pages']} "
            f"| {r['cold_s']:.2f} s | {r['cached_ms']:.0f} ms | {r['peak_mb']:.0f} MB "
            f"| {r['floor_s']:.2f} s | {overhead:+.0%} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
