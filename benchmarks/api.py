"""Benchmark the bulk exports and the API's obligation listing on synthetic registries; append
the results to docs/performance.md.

    .venv/bin/python -m benchmarks.api [--sizes 100 1000] [--evidence 4] [--requests 30]

On the registries benchmarks.bench builds (SQLite in a temporary file, PostgreSQL in a fresh
database), for each size:
  - `compliance export` of the findings (none before a check: the floor), the obligations (CSV,
    XLSX) and the evidence, each in a child process: wall time, peak memory after the imports
    (see CHILD), statements, rows, file size. Exports read 500 rows per SELECT, so their peak
    memory should stay flat as the registry grows;
  - with an administrator's bearer token through TestClient: the API's CSV export of the
    obligations to its last byte; GET /api/v1/obligations?limit=50, the five pages after it by
    next_cursor, and ?body= the upper-tier council with most obligations: median, p95, CPU time
    and statements per request;
  - every open obligation listed through the API, page after page by next_cursor (each page
    read whole and its cursor taken from its JSON, as a client would), in pages of 500 and of
    50: median, p95, CPU time and statements per listing; and beside it the floor, one raw SQL
    query (through the driver, no ORM, no judgement, no JSON) of the rows a listing shows: the
    open obligations with their periods and the evidence linked to each.
"""

import argparse
import contextlib
import csv
import datetime as dt
import io
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import STDOUT

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from benchmarks import bench
from benchmarks.counted_cli import StatementCounter
from compliance.accounts.service import create_user
from compliance.accounts.tokens import create_token
from compliance.config import Settings
from compliance.db import session_scope
from compliance.main import create_app
from compliance.server import settle_heap

# Findings first: the registry has none before a check, so that export is the floor, the cost
# of the interpreter and the imports, against which the others' growth can be judged.
EXPORTS = [(kind, "csv") for kind in ("findings", "obligations", "evidence")]
EXPORTS.insert(2, ("obligations", "xlsx"))
# "Roughly flat": a tenfold registry may cost half as much again (the interpreter and imports
# are most of a small export's peak), not tenfold.
TARGET_MEMORY_RATIO = 1.5
WARM_UP = 3
EXPORT_REQUESTS = 3
PAGES = 5
# Every obligation listed: in pages of the API's largest limit and of its default; a listing is
# a few hundred milliseconds, so a third as many are timed as single requests.
LISTING_LIMITS = (500, 50)
LISTING_SHARE = 3
# Issue 16: every obligation of a 100-body registry (about 1,500) listed in pages of 500.
TARGET_LISTING_MS, TARGET_LISTING_BODIES = 150.0, 100
FLOOR = (
    "SELECT o.id, o.body_id, o.partnership_id, o.deliverable_id, o.condition_id, o.opened_date, "
    "o.closed_date, o.closed_reason, o.not_applicable_reason, p.id, p.period_start_date, "
    "p.period_end_date, p.due_date, l.evidence_id FROM obligation o "
    "JOIN occurrence p ON p.obligation_id = o.id "
    "LEFT JOIN evidence_link l ON l.occurrence_id = p.id "
    "WHERE o.closed_date IS NULL ORDER BY o.id, p.period_start_date, l.evidence_id"
)
ADMIN = {"name": "Benchmark", "role": "admin", "actor": "bench"}
# The export's child: `compliance export` with its statements counted (benchmarks.counted_cli),
# writing its own peak memory at exit. Not ru_maxrss from os.wait4, as benchmarks.bench reads it:
# Linux carries the parent's peak into a child at fork and exec, so it reads as at least the
# benchmark's own size (a 500 MB parent makes `python -c pass` report 511 MB). Nor VmHWM as it
# stands at exit: importing compliance.accounts.service hashes a dummy password with argon2id
# (64 MiB), which peaks at 125 MB and hides everything below. So: import, reset the high-water
# mark to the current RSS (clear_refs 5), export, read VmHWM.
CHILD = (
    "import atexit, os, runpy\n"
    "import compliance.cli, compliance.exports.service\n"
    "with open('/proc/self/clear_refs', 'w') as marks:\n"
    "    marks.write('5')\n"
    "def peak():\n"
    "    kb = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "    open(os.environ['BENCH_PEAK_FILE'], 'w').write(kb)\n"
    "atexit.register(peak)\n"
    "runpy.run_module('benchmarks.counted_cli', run_name='__main__')\n"
)


@dataclass(frozen=True)
class Measure:
    """An export (wall time, peak memory, file size) or a request (median and p95)."""

    what: str
    rows: int
    ms: float
    statements: float
    p95_ms: float | None = None
    cpu_ms: float | None = None
    peak_mb: float | None = None
    size_bytes: int | None = None
    kind: str = "request"  # or "export"; "listing" (every obligation, by cursor); "floor"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and append a dated section to docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--evidence", type=int, default=4, help="evidence per obligation")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=bench.DOC)
    args = parser.parse_args(argv)
    on = dt.date.today()
    admin_url = None if args.no_postgres else bench.reachable_postgres()
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    results: dict[str, dict[int, list[Measure]]] = {}
    with tempfile.TemporaryDirectory(prefix="compliance-bench-api-") as work:
        for size in args.sizes:
            url = f"sqlite:///{Path(work) / f'bench-{size}.db'}"
            found = measure(url, "sqlite", size, args, on, Path(work))
            results.setdefault("sqlite", {})[size] = found
            if admin_url:
                with bench.postgres_database(admin_url) as url:
                    found = measure(url, "postgresql", size, args, on, Path(work))
                    results.setdefault("postgresql", {})[size] = found
    busy = f"- Load average (1 min): {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    section = report(results, [*bench.machine(admin_url), busy], args, on)
    bench.append(args.output, section)
    print(section)


def log(message: str) -> None:
    print(f"[bench.api {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def measure(url: str, backend: str, bodies: int, args, on: dt.date, work: Path) -> list[Measure]:  # type: ignore[no-untyped-def]
    """Prepare one registry, then run the exports and time the requests on it."""
    data_dir = work / f"data-{backend}-{bodies}"
    log(f"{backend}, {bodies} bodies: migrating, loading the catalogue, synthesising")
    council, token = prepare(url, data_dir, bodies, args.evidence, on)
    found = []
    for kind, fmt in EXPORTS:
        log(f"{backend}, {bodies} bodies: compliance export {kind} --format {fmt}")
        found.append(run_export(url, data_dir, kind, fmt, on, work))
    log(f"{backend}, {bodies} bodies: timing the API")
    return found + time_api(url, data_dir, council, token, on, args.requests)


def prepare(url: str, data_dir: Path, bodies: int, evidence: int, on: dt.date) -> tuple[str, str]:
    """A migrated, synthesised registry; its largest upper-tier council and an admin's token."""
    engine = bench.synthetic_registry(url, data_dir, bodies, evidence, on)
    try:
        council, _ = bench.largest_council(engine)
        with session_scope(engine) as session:
            email, password = f"bench-{secrets.token_hex(4)}@example.org", secrets.token_hex(16)
            user = create_user(session=session, email=email, password=password, **ADMIN)
            token, _ = create_token(session=session, user=user, name="bench", actor="bench")
    finally:
        engine.dispose()
    return council, token


def run_export(url: str, data_dir: Path, kind: str, fmt: str, on: dt.date, work: Path) -> Measure:
    """`compliance export` in a child process, so that its peak memory is the export's own."""
    target, counted, peak = work / f"{kind}.{fmt}", work / "statements.txt", work / "peak.txt"
    env = os.environ | {
        "COMPLIANCE_DATABASE_URL": url,
        "COMPLIANCE_DATA_DIR": str(data_dir),
        "BENCH_STATEMENTS_FILE": str(counted),
        "BENCH_PEAK_FILE": str(peak),
    }
    command = [sys.executable, "-c", CHILD, "export", kind, "--format", fmt]
    command += ["--as-at", on.isoformat(), "-o", str(target)]
    output = work / "export.log"
    with output.open("w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=bench.ROOT, env=env, stdout=out, stderr=STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
    said = output.read_text()
    written = re.search(r"Exported (\d+) ", said)
    if os.waitstatus_to_exitcode(status) != 0 or written is None:
        raise RuntimeError(f"compliance export {kind} --format {fmt} failed:\n{said}")
    peak_mb = int(peak.read_text()) / 1024
    log(f"  peak {peak_mb:.0f} MB (VmHWM); wait4 ru_maxrss {usage.ru_maxrss / 1024:.0f} MB")
    size = target.stat().st_size
    target.unlink()  # a 1,000-body XLSX is megabytes; keep the temporary folder small
    what, statements = f"`compliance export {kind} --format {fmt}`", int(counted.read_text())
    return Measure(what, int(written[1]), elapsed * 1000, statements, None, None, peak_mb, size)


def time_api(
    url: str, data_dir: Path, council: str, token: str, on: dt.date, requests: int
) -> list[Measure]:
    """The CSV export to its last byte, then the listing: first page, pages by cursor, a body."""
    app = create_app(Settings(database_url=url, data_dir=data_dir))
    settle_heap()  # as each web process of `compliance serve` does
    counter = StatementCounter()
    event.listen(app.state.engine, "before_cursor_execute", counter)
    listing = f"/api/v1/obligations?limit=50&as_at={on.isoformat()}"
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app, headers=headers) as client:
        export = f"/api/v1/exports/obligations?format=csv&as_at={on.isoformat()}"
        found = [timed(client, counter, "GET " + export, [export], EXPORT_REQUESTS, warm_up=1)]
        found.append(timed(client, counter, f"GET {listing}", [listing], requests))
        pages = cursor_pages(client, listing)
        what = f"GET …&cursor= (pages 2 to {PAGES + 1}, in turn)"
        found.append(timed(client, counter, what, pages, requests))
        body = f"{listing}&body={council}"
        found.append(timed(client, counter, f"GET …&body={council}", [body], requests))
        listings = max(requests // LISTING_SHARE, 1)
        for limit in LISTING_LIMITS:
            found.append(timed_listing(client, counter, limit, on, listings))
    found.append(timed_floor(app.state.engine, requests))
    app.state.engine.dispose()
    return found


def timed_listing(client, counter, limit: int, on: dt.date, listings: int) -> Measure:  # type: ignore[no-untyped-def]
    """Every open obligation through the API, a page of `limit` at a time by next_cursor: median
    and 95th percentile milliseconds, CPU and statements per whole listing."""
    first = f"/api/v1/obligations?limit={limit}&as_at={on.isoformat()}"
    times, cpu, pages = [], [], 0
    for number in range(1 + listings):
        if number == 1:
            counter.count = 0
        started, used = time.perf_counter(), time.process_time()
        path, rows, pages = first, 0, 0
        while path:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
            page = response.json()
            rows, pages = rows + len(page["items"]), pages + 1
            path = page["next_cursor"] and f"{first}&cursor={page['next_cursor']}"
        if number >= 1:
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
    what = f"every obligation, {pages} pages of ≤ {limit} by cursor (whole listing)"
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    median = statistics.median(times)
    statements = counter.count / listings
    return Measure(what, rows, median, statements, p95, statistics.median(cpu), kind="listing")


def timed_floor(engine: Engine, requests: int) -> Measure:
    """The floor beside the listing: one raw SQL query of the rows it shows, through the driver
    (no ORM, no judgement, no JSON), read to the last row."""
    times, cpu, rows = [], [], 0
    connection = engine.raw_connection()
    try:
        for number in range(WARM_UP + requests):
            started, used = time.perf_counter(), time.process_time()
            with contextlib.closing(connection.cursor()) as cursor:
                cursor.execute(FLOOR)
                rows = len(cursor.fetchall())
            if number >= WARM_UP:
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
        connection.rollback()
    finally:
        connection.close()
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    what = "floor: one raw SQL query of those rows (obligation × period × evidence link)"
    median = statistics.median(times)
    return Measure(what, rows, median, 1, p95, statistics.median(cpu), kind="floor")


def cursor_pages(client: TestClient, first: str) -> list[str]:
    """The paths of the pages after the first, walked by next_cursor; each must follow on."""
    paths, path, last_id = [], first, 0
    for _ in range(PAGES + 1):
        page = client.get(path).json()
        ids = [item["id"] for item in page["items"]]
        if len(ids) != 50 or ids != sorted(ids) or ids[0] <= last_id or not page["next_cursor"]:
            raise RuntimeError(f"{path}: the pages do not follow on: {ids[:3]}…")
        last_id, path = ids[-1], f"{first}&cursor={page['next_cursor']}"
        paths.append(path)
    return paths[:PAGES]


def timed(client, counter, what: str, paths: list[str], requests: int, warm_up=WARM_UP) -> Measure:  # type: ignore[no-untyped-def]
    """Median and 95th percentile milliseconds, and statements, per request to the last byte."""
    times, cpu = [], []
    for number in range(warm_up + requests):
        if number == warm_up:
            counter.count = 0
        path = paths[number % len(paths)]
        started, used = time.perf_counter(), time.process_time()
        response = client.get(path)
        elapsed, used = time.perf_counter() - started, time.process_time() - used
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        if number >= warm_up:
            times.append(elapsed * 1000)
            cpu.append(used * 1000)
    if response.headers["content-type"].startswith("text/csv"):
        rows, size = len(list(csv.reader(io.StringIO(response.text)))) - 1, len(response.content)
        p95 = None  # of three runs: the median says it
    else:
        rows, size = len(response.json()["items"]), None
        p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    median, per_request = statistics.median(times), counter.count / requests
    return Measure(what, rows, median, per_request, p95, statistics.median(cpu), None, size)


def report(results: dict[str, dict[int, list[Measure]]], machine_lines, args, on) -> str:  # type: ignore[no-untyped-def]
    """A dated section: the machine, a table per backend, what the figures show, misses."""
    cpus = len(os.sched_getaffinity(0))
    lines = [f"## API and exports ({on}, {platform.node()}: {cpus} CPUs)", "", *machine_lines]
    lines.append(
        f"- Registry: synthetic (seed 1) as at {on}, {args.evidence} evidence per obligation; "
        f"exports in a child process each; requests through TestClient with a bearer token, "
        f"{args.requests} timed after {WARM_UP} warm-up ones (the API's CSV export: "
        f"{EXPORT_REQUESTS} after 1; a whole listing of every obligation: "
        f"{max(args.requests // LISTING_SHARE, 1)} after 1, each page's JSON parsed for its "
        f"cursor; the floor: {args.requests} raw queries after {WARM_UP}); CPU is this "
        "process's CPU time per request, the application's thread included (the "
        "database server's excluded), a check on wall times taken on a busy machine. Peak "
        "memory is the child's VmHWM reset after its imports (see `CHILD` in the script): the "
        "empty findings export is the floor"
    )
    for backend, by_size in results.items():
        lines += ["", f"### {backend}", "", *table(by_size)]
    misses = [m for backend, by_size in results.items() for m in missed(backend, by_size)]
    lines += ["", summary(results), "", "Targets missed:" if misses else "Every target met."]
    return "\n".join([*lines, *misses, ""])


def summary(results: dict[str, dict[int, list[Measure]]]) -> str:
    """What the figures show, in a sentence written from them."""
    parts = []
    for backend, by_size in results.items():
        small, large = min(by_size), max(by_size)
        pairs = zip(by_size[small], by_size[large], strict=True)
        rows = [b.rows / a.rows for a, b in pairs if a.peak_mb and a.rows]
        memory = [m.peak_mb for m in by_size[large] if m.peak_mb]
        floor = by_size[large][0].peak_mb  # the empty findings export
        pages = [m.ms for m in by_size[large] if m.kind == "request" and m.p95_ms is not None]
        listing = next(m for m in by_size[small] if m.kind == "listing")
        raw = next(m for m in by_size[small] if m.kind == "floor")
        parts.append(
            f"on {backend}, with {max(rows):.1f} times the rows at {large:,} bodies as at "
            f"{small:,}, the exports peaked at {min(memory):.0f} to {max(memory):.0f} MB (an "
            f"empty export: {floor:.0f} MB), a listing page took {min(pages):.1f} to "
            f"{max(pages):.1f} ms (median), and listing all {listing.rows:,} obligations at "
            f"{small:,} bodies took {listing.ms:.0f} ms (median; its floor, one raw query of "
            f"its rows: {raw.ms:.1f} ms)"
        )
    return "In short: " + "; ".join(parts) + "."


def table(by_size: dict[int, list[Measure]]) -> list[str]:
    """One row per operation; each cell gives every size in turn, smallest first."""
    sizes = sorted(by_size)
    scale = " / ".join(f"{s:,}" for s in sizes)
    header = (
        f"| Operation | Rows ({scale} bodies) | Time | Peak RSS (MB) | RSS ×  "
        "| File / body size | Statements |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for index, first in enumerate(by_size[sizes[0]]):
        row = [by_size[s][index] for s in sizes]
        peaks = [m.peak_mb for m in row]
        ratio = f"{peaks[-1] / peaks[0]:.2f}" if peaks[0] else ""
        cells = [
            first.what,
            " / ".join(f"{m.rows:,}" for m in row),
            " / ".join(_time(m) for m in row),
            " / ".join(f"{p:.0f}" for p in peaks) if peaks[0] else "",
            ratio,
            " / ".join(f"{m.size_bytes / 1e6:.2f} MB" for m in row) if first.size_bytes else "",
            " / ".join(f"{m.statements:g}" for m in row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _time(m: Measure) -> str:
    """Milliseconds, or seconds past one, with the 95th percentile and CPU where measured."""
    shown = f"{m.ms / 1000:.2f} s" if m.ms >= 1000 else f"{m.ms:.1f} ms"
    notes = [f"p95 {m.p95_ms:.1f}"] if m.p95_ms is not None else []
    notes += [f"CPU {m.cpu_ms:.1f}"] if m.cpu_ms is not None else []
    return f"{shown} ({'; '.join(notes)})" if notes else shown


def missed(backend: str, by_size: dict[int, list[Measure]]) -> list[str]:
    """The targets missed, in words: export memory, listing pages at 1,000 bodies, and every
    obligation listed in pages of 500 at 100 bodies."""
    small, large = min(by_size), max(by_size)
    found = []
    for before, after in zip(by_size[small], by_size[large], strict=True):
        ratio = after.peak_mb / before.peak_mb if after.peak_mb and before.peak_mb else 1.0
        if after.peak_mb and after.peak_mb > bench.TARGET_CHECK_MB:
            found.append(f"{after.what}: {after.peak_mb:.0f} MB > 1 GB")
        if ratio > TARGET_MEMORY_RATIO:
            found.append(f"{after.what}: memory ×{ratio:.2f} from {small:,} bodies to {large:,}")
        # The API's export has no p95 and no time target; the listing's pages have both.
        slow = after.kind == "request" and after.p95_ms is not None
        slow = slow and after.ms > bench.TARGET_REQUEST_MS
        if slow and large >= bench.TARGET_AT_BODIES:
            target = f"{bench.TARGET_REQUEST_MS:.0f} ms"
            found.append(f"{after.what}: median {after.ms:.1f} ms at {large:,} bodies > {target}")
    whole = [m for m in by_size.get(TARGET_LISTING_BODIES, []) if m.kind == "listing"]
    for m in whole[:1]:  # in pages of 500
        if m.ms > TARGET_LISTING_MS:
            target = f"{TARGET_LISTING_MS:.0f} ms at {TARGET_LISTING_BODIES:,} bodies"
            found.append(f"{m.what}: median {m.ms:.1f} ms > {target}")
    return [f"- {backend}: {line}" for line in found]


if __name__ == "__main__":
    main()
