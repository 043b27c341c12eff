"""Benchmark a full check and a body's obligations on synthetic registries; append the results
to docs/performance.md.

    .venv/bin/python -m benchmarks.bench [--sizes 100 1000] [--evidence 4] [--requests 30]

For each size, on SQLite (a temporary file) and on PostgreSQL (a fresh database on the server at
COMPLIANCE_BENCH_DATABASE_URL, or postgresql+psycopg://postgres@127.0.0.1:5432/ when that
answers; dropped afterwards): migrate, load the catalogue, synthesise, then
  - run `compliance check --at DATE` in a child process (sync_obligations + run_checks, as the
    nightly job does): wall time, the child's peak resident memory (its own VmHWM, which it
    writes at exit: benchmarks.counted_cli.write_peak says why not ru_maxrss from os.wait4),
    and the statements it sent;
  - request GET /api/v1/bodies/{code}/obligations for the upper-tier council with the most
    obligations through FastAPI's TestClient: median and 95th percentile time, statements.
"""

import argparse
import datetime as dt
import os
import platform
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from benchmarks.counted_cli import StatementCounter
from benchmarks.harness import postgres_database
from compliance.catalogue.service import load_catalogue
from compliance.config import Settings
from compliance.db import make_engine, session_scope
from compliance.main import create_app
from compliance.migrations import upgrade
from compliance.models import Body, Evidence, Obligation, Period
from compliance.server import settle_heap
from compliance.synth.service import CODE_PREFIX, UPPER_TIER, synthesise

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_CHECK_SECONDS = 10.0
TARGET_CHECK_MB = 1024.0
TARGET_REQUEST_MS = 50.0
TARGET_AT_BODIES = 1000
# Issue 16: a national registry's check, from the command, in under 6 s (`--sizes 4000`).
TARGET_NATIONAL_CHECK_SECONDS, TARGET_NATIONAL_BODIES = 6.0, 4000
WARM_UP = 3


@dataclass(frozen=True)
class Result:
    backend: str
    bodies: int
    obligations: int
    periods: int
    evidence: int
    load_s: float
    check_s: float
    check_mb: float
    check_statements: int
    findings: str
    council: str
    council_obligations: int
    median_ms: float
    p95_ms: float
    request_statements: float

    def misses(self) -> list[str]:
        """The targets this result misses, in words."""
        found = []
        seconds = (
            TARGET_NATIONAL_CHECK_SECONDS
            if self.bodies >= TARGET_NATIONAL_BODIES
            else TARGET_CHECK_SECONDS
        )
        if self.bodies >= TARGET_AT_BODIES and self.check_s > seconds:
            found.append(f"check {self.check_s:.1f} s > {seconds:.0f} s")
        if self.bodies >= TARGET_AT_BODIES and self.check_mb > TARGET_CHECK_MB:
            found.append(f"check {self.check_mb:.0f} MB > {TARGET_CHECK_MB:.0f} MB")
        if self.median_ms > TARGET_REQUEST_MS:
            found.append(f"endpoint median {self.median_ms:.1f} ms > {TARGET_REQUEST_MS:.0f} ms")
        return found


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and append a dated section to docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--evidence", type=int, default=4, help="evidence per obligation")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=DOC)
    args = parser.parse_args(argv)
    on = dt.date.today()
    admin_url = None if args.no_postgres else reachable_postgres()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="compliance-bench-") as work:
        for size in args.sizes:
            url = f"sqlite:///{Path(work) / f'bench-{size}.db'}"
            results.append(measure(url, "sqlite", size, args, on, Path(work)))
            if admin_url:
                with postgres_database(admin_url, prefix="compliance_bench") as url:
                    results.append(measure(url, "postgresql", size, args, on, Path(work)))
    section = report(results, machine(admin_url), args, on)
    append(args.output, section)
    print(section)


def log(message: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def synthetic_registry(url: str, data_dir: Path, bodies: int, evidence: int, on: dt.date) -> Engine:
    """An engine on a migrated database holding the catalogue and a synthetic registry (seed 1)
    of this many bodies; the caller disposes of it."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_catalogue(session=session)
        session.commit()
    with session_scope(engine) as session:
        synthesise(
            session=session,
            data_dir=data_dir,
            bodies=bodies,
            evidence_per_obligation=evidence,
            on=on,
        )
    return engine


def reachable_postgres() -> str | None:
    """The server to create databases on, if one answers."""
    url = os.environ.get("COMPLIANCE_BENCH_DATABASE_URL") or LOCAL_POSTGRES
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return url
    except Exception as exc:  # any failure means: benchmark SQLite only, and say so
        log(f"PostgreSQL not reachable at {make_url(url).render_as_string()}: {exc!r}")
        return None
    finally:
        engine.dispose()


def measure(url: str, backend: str, bodies: int, args, on: dt.date, work: Path) -> Result:  # type: ignore[no-untyped-def]
    """Prepare one registry, then time the check and the endpoint on it."""
    data_dir = work / f"data-{backend}-{bodies}"
    log(f"{backend}, {bodies} bodies: migrating and loading the catalogue")
    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            load_catalogue(session=session)
            session.commit()
        log(f"{backend}, {bodies} bodies: synthesising")
        started = time.perf_counter()
        with session_scope(engine) as session:
            synthesise(
                session=session,
                data_dir=data_dir,
                bodies=bodies,
                evidence_per_obligation=args.evidence,
                on=on,
            )
        load_s = time.perf_counter() - started
        sizes = table_sizes(engine)
        council, council_obligations = largest_council(engine)
        cookie = admin_cookie(engine)
    finally:
        engine.dispose()
    log(f"{backend}, {bodies} bodies: loaded in {load_s:.1f} s; running the check")
    check_s, check_mb, check_statements, findings = run_check(url, data_dir, on, work)
    log(f"{backend}, {bodies} bodies: check {check_s:.1f} s; timing {council}")
    median_ms, p95_ms, per_request = time_requests(url, data_dir, council, on, args, cookie)
    return Result(
        backend,
        bodies,
        *sizes,
        load_s,
        check_s,
        check_mb,
        check_statements,
        findings,
        council,
        council_obligations,
        median_ms,
        p95_ms,
        per_request,
    )


def table_sizes(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Obligation, Period, Evidence)
        )


def largest_council(engine: Engine) -> tuple[str, int]:
    """The synthetic upper-tier council with the most open obligations."""
    query = (
        select(Body.code, func.count(Obligation.id))
        .join(Obligation, Obligation.body_id == Body.id)
        .where(Body.kind.in_(UPPER_TIER), Body.code.startswith(CODE_PREFIX))
        .where(Obligation.closed_date.is_(None))
        .group_by(Body.code)
        .order_by(func.count(Obligation.id).desc(), Body.code)
    )
    with Session(engine) as session:
        code, count = session.exec(query).first()
    return code, count


def admin_cookie(engine: Engine) -> tuple[str, str] | None:
    """A signed-in administrator's session cookie, where the application has sign-in."""
    try:
        from compliance.accounts.service import create_user, start_session
        from compliance.deps import SESSION_COOKIE
    except ImportError:
        return None
    with session_scope(engine) as session:
        user = create_user(
            session=session,
            email=f"bench-{secrets.token_hex(4)}@example.org",
            name="Benchmark",
            role="admin",
            password=secrets.token_urlsafe(24),
            actor="bench",
        )
        token, _ = start_session(session=session, user=user, address=None, user_agent="bench")
    return SESSION_COOKIE, token


def run_check(url: str, data_dir: Path, on: dt.date, work: Path) -> tuple[float, float, int, str]:
    """Run the check in a child process; its wall time, peak memory (MB), statements, summary."""
    counted, peak, output = work / "statements.txt", work / "peak.txt", work / "check.log"
    env = os.environ | {
        "COMPLIANCE_DATABASE_URL": url,
        "COMPLIANCE_DATA_DIR": str(data_dir),
        "BENCH_STATEMENTS_FILE": str(counted),
        "BENCH_PEAK_FILE": str(peak),
    }
    command = [sys.executable, "-m", "benchmarks.counted_cli", "check", "--at", on.isoformat()]
    with output.open("w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        # Not os.wait4's ru_maxrss: that includes this process's size (see write_peak).
        child.wait()
        elapsed = time.perf_counter() - started
    text_out = output.read_text()
    if child.returncode != 0:
        raise RuntimeError(f"compliance check failed ({child.returncode}):\n{text_out}")
    peak_mb = int(peak.read_text()) / 1024
    return elapsed, peak_mb, int(counted.read_text()), text_out.splitlines()[0]


def time_requests(  # type: ignore[no-untyped-def]
    url: str, data_dir: Path, code: str, on: dt.date, args, cookie: tuple[str, str] | None
) -> tuple[float, float, float]:
    """Median and 95th percentile milliseconds, and statements, per request."""
    app = create_app(Settings(database_url=url, data_dir=data_dir))
    settle_heap()  # as each web process of `compliance serve` does
    counter = StatementCounter()
    event.listen(app.state.engine, "before_cursor_execute", counter)
    path = f"/api/v1/bodies/{code}/obligations?as_at={on.isoformat()}"
    times = []
    with TestClient(app) as client:
        if cookie:
            client.cookies.set(*cookie)
        for number in range(WARM_UP + args.requests):
            if number == WARM_UP:
                counter.count = 0
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or not response.json():
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
            if number >= WARM_UP:
                times.append(elapsed * 1000)
    app.state.engine.dispose()
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    return statistics.median(times), p95, counter.count / args.requests


def machine(admin_url: str | None) -> list[str]:
    """The machine, interpreter and database versions, as lines of the report."""
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = next((line.split(":", 1)[1].strip() for line in meminfo if "MemTotal" in line), "?")
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"- Machine: `{uname}`",
        f"- CPUs: {len(os.sched_getaffinity(0))} usable of {os.cpu_count()} (`nproc`); "
        f"memory: {memory}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]
    if admin_url:
        engine = create_engine(admin_url)
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        lines.append(f"- PostgreSQL server {version}, host {make_url(admin_url).host}")
    else:
        lines.append("- PostgreSQL: not reachable, not measured")
    return lines


def report(results: list[Result], machine_lines: list[str], args, on: dt.date) -> str:  # type: ignore[no-untyped-def]
    """A dated Markdown section with the machine, a table of results and the targets missed."""
    header = (
        "| Backend | Bodies | Obligations | Periods | Evidence | Load (s) | Check (s) "
        "| Check peak RSS (MB) | Statements per check | Endpoint median (ms) | p95 (ms) "
        "| Statements per request | Council (obligations) |"
    )
    rows = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in results:
        rows.append(
            f"| {r.backend} | {r.bodies:,} | {r.obligations:,} | {r.periods:,} | {r.evidence:,} "
            f"| {r.load_s:.1f} | {r.check_s:.2f} | {r.check_mb:.0f} | {r.check_statements} "
            f"| {r.median_ms:.1f} | {r.p95_ms:.1f} | {r.request_statements:.1f} "
            f"| {r.council} ({r.council_obligations}) |"
        )
    misses = [f"- {r.backend}, {r.bodies:,} bodies: {m}" for r in results for m in r.misses()]
    when = dt.datetime.now(dt.UTC)
    return "\n".join(
        [
            f"## Run of {when:%Y-%m-%d %H:%M} UTC",
            "",
            *machine_lines,
            f"- Registry: synthetic (seed 1) as at {on}, {args.evidence} evidence per "
            f"obligation; {args.requests} timed requests after {WARM_UP} warm-up ones",
            "",
            *rows,
            "",
            "Check summaries: "
            + "; ".join(
                f"{r.backend} {r.bodies:,}: {r.findings.split(': ', 1)[-1]}" for r in results
            ),
            "",
            "Targets missed:" if misses else "Every target met.",
            *misses,
            "",
        ]
    )


def append(path: Path, section: str) -> None:
    """Add a section to the performance record, creating it with its introduction if new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(
            "# Performance\n\nEach `make bench` run appends a dated section below.\n\n",
            encoding="utf-8",
        )
    with path.open("a", encoding="utf-8") as stream:
        stream.write("\n" + section)


if __name__ == "__main__":
    main()
