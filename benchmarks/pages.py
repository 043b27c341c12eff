"""Benchmark the pages people open every day on national-scale registries; append the results to
docs/performance.md.

    .venv/bin/python -m benchmarks.pages [--sizes 1000 4000] [--evidence 1] [--requests 20]

On synthetic registries in fresh PostgreSQL databases (SQLite too with --sqlite), for each size:
  - `compliance check`'s work (obligations synchronised, every rule run) and the first judgement
    of the day (every open obligation's state judged and kept, as the nightly check does after
    it): wall time;
  - through TestClient, signed in with a password: an administrator's dashboard, obligations
    list (first page, a later page filtered to overdue, and one body's), findings page and
    review queue (every piece of evidence waiting in the registry, then one body's) and the
    suggestions its holder filter asks for as the admin types; an inspector's
    dashboard, review queue and findings page, scoped to the upper-tier council with most
    obligations; with the administrator's bearer token, the API's obligations filtered by a
    judged status, the findings, a change to a body and to a partnership, evidence recorded
    and reviewed: median, p95 and statements per request, and the response's size. The target
    is a p95 under 300 ms with statements that do not grow with the registry.
"""

import argparse
import datetime as dt
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from benchmarks import bench
from benchmarks.counted_cli import StatementCounter
from compliance.accounts.service import create_user
from compliance.accounts.tokens import create_token
from compliance.checks.jobs import judge_open_obligations
from compliance.checks.service import check_now
from compliance.config import Settings
from compliance.db import row_id, session_scope
from compliance.main import create_app
from compliance.models import Body, Obligation, Period, User
from compliance.server import settle_heap

TARGET_P95_MS = 300
WARM_UP = 2
ADMIN_PAGES = [
    "/",
    "/obligations",
    "/obligations?status=overdue&page=3",
    "/obligations?body=SYN-000001",
    "/findings",
    "/reviews",
    "/reviews?holder=SYN-000001",
    # What the holder filters' search box asks as the admin types (obligations/holders.py).
    "/holders?kind=holder&q=council",
]
INSPECTOR_PAGES = ["/", "/reviews", "/findings"]
# The API's listings filtered on a judged status: narrowed by the kept states, judged afresh.
API_CALLS = [
    "/api/v1/obligations?status=overdue&limit=50",
    "/api/v1/obligations?outcome_status=no_outcome_defined&limit=50",
    "/api/v1/findings?limit=50",
]
# Changes made through the API, as "METHOD path": renaming a body or a partnership brings its
# obligations up to date inside the request (Holders in obligations/service.py), and requests
# alternate between two names so that each is a change; evidence recorded for a period of the
# first body's, then each piece reviewed. {obligation} and {evidence} are filled in.
API_WRITES = [
    "PATCH /api/v1/bodies/SYN-000001",
    "PATCH /api/v1/partnerships/syn-000001-sab",
    "POST /api/v1/obligations/{obligation}/evidence",
    "POST /api/v1/evidence/{evidence}/reviews",
]


@dataclass(frozen=True)
class Timing:
    """A page as one role sees it: median and p95 milliseconds, statements, bytes."""

    who: str
    path: str
    median_ms: float
    p95_ms: float
    statements: float
    size: int


@dataclass(frozen=True)
class Registry:
    """What one size measured."""

    backend: str
    bodies: int
    obligations: int
    check_s: float
    judge_s: float
    timings: list[Timing]


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and append a dated section to docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--evidence", type=int, default=1, help="evidence per obligation")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true", help="SQLite as well")
    parser.add_argument("--output", type=Path, default=bench.DOC)
    args = parser.parse_args(argv)
    on = dt.date.today()
    admin_url = bench.reachable_postgres()
    load = os.getloadavg()[0]
    found: list[Registry] = []
    with tempfile.TemporaryDirectory(prefix="compliance-bench-pages-") as work:
        for size in args.sizes:
            if args.sqlite:
                url = f"sqlite:///{Path(work) / f'pages-{size}.db'}"
                found.append(measure(url, "sqlite", size, args, on, Path(work)))
            if admin_url:
                with bench.postgres_database(admin_url) as url:
                    found.append(measure(url, "postgresql", size, args, on, Path(work)))
    if not found:
        sys.exit("benchmarks.pages: no PostgreSQL reachable; run with --sqlite")
    busy = f"- Load average (1 min): {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    section = report(found, [*bench.machine(admin_url), busy], args, on)
    bench.append(args.output, section)
    print(section)


def log(message: str) -> None:
    print(f"[bench.pages {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def measure(url: str, backend: str, bodies: int, args, on: dt.date, work: Path) -> Registry:  # type: ignore[no-untyped-def]
    """Build one registry, check it, judge it, then time the pages."""
    data_dir = work / f"data-{backend}-{bodies}"
    settings = Settings(database_url=url, data_dir=data_dir)
    log(f"{backend}, {bodies} bodies: migrating, loading the catalogue, synthesising")
    engine = bench.synthetic_registry(url, data_dir, bodies, args.evidence, on)
    try:
        council, _ = bench.largest_council(engine)
        log(f"{backend}, {bodies} bodies: the check, then the first judgement of the day")
        started = time.perf_counter()
        with session_scope(engine) as session:
            check_now(session=session, settings=settings, on=on, trigger="bench")
        check_s = time.perf_counter() - started
        started = time.perf_counter()
        with Session(engine) as session:
            judged = judge_open_obligations(session, settings=settings, on=on)
        judge_s = time.perf_counter() - started
        users = {}
        with session_scope(engine) as session:
            for role, scope in (("admin", []), ("inspector", [council])):
                email, password = (
                    f"{role}-{secrets.token_hex(4)}@example.org",
                    secrets.token_hex(16),
                )
                create_user(
                    session=session,
                    email=email,
                    name=f"Benchmark {role}",
                    role=role,
                    password=password,
                    body_codes=scope,
                    actor="bench",
                )
                users[role] = (email, password)
            admin = session.exec(select(User).where(User.email == users["admin"][0])).one()
            users["token"], _ = create_token(
                session=session, user=admin, name="bench", actor="bench"
            )
    finally:
        engine.dispose()
    log(f"{backend}, {bodies} bodies: {judged} states judged in {judge_s:.1f} s; timing pages")
    timings = time_pages(settings, users, args.requests)
    return Registry(backend, bodies, judged, check_s, judge_s, timings)


def time_pages(settings: Settings, users: dict, requests: int) -> list[Timing]:  # type: ignore[type-arg]
    """Each role's pages, signed in through the sign-in form."""
    app = create_app(settings)
    settle_heap()  # as each web process of `compliance serve` does
    counter = StatementCounter()
    event.listen(app.state.engine, "before_cursor_execute", counter)
    found = []
    for who, paths in (("admin", ADMIN_PAGES), ("inspector", INSPECTOR_PAGES)):
        email, password = users[who]
        with TestClient(app) as client:
            form = {"email": email, "password": password, "next": "/"}
            signed_in = client.post("/sign-in", data=form, follow_redirects=False)
            if signed_in.status_code != 303:
                raise RuntimeError(f"{who} could not sign in: {signed_in.status_code}")
            for path in paths:
                found.append(timed(client, counter, who, path, requests))
    with TestClient(app, headers={"Authorization": f"Bearer {users['token']}"}) as client:
        for path in API_CALLS:
            found.append(timed(client, counter, "admin (API)", path, requests))
        writes = Writes(client, first_period(app.state.engine))
        for write in API_WRITES:
            found.append(timed(client, counter, "admin (API)", write, requests, writes.send))
    app.state.engine.dispose()
    return found


def first_period(engine: Engine) -> tuple[int, int]:
    """An open obligation of the first synthetic body's, and one of its periods."""
    with Session(engine) as session:
        period = session.exec(
            select(Period)
            .join(Obligation)
            .join(Body, col(Body.id) == Obligation.body_id)
            .where(Body.code == "SYN-000001", col(Obligation.closed_date).is_(None))
            .order_by(col(Period.id))
        ).first()
        if period is None:
            raise RuntimeError("SYN-000001 has no open period")
        return period.obligation_id, row_id(period)


class Writes:
    """Sends API_WRITES' requests: the evidence each recording made is reviewed in turn."""

    def __init__(self, client: TestClient, period: tuple[int, int]) -> None:
        self.client, (self.obligation, self.period) = client, period
        self.recorded: list[int] = []

    def send(self, write: str, number: int) -> Any:  # the test client's response
        method, _, path = write.partition(" ")
        if "{evidence}" in path:
            path = path.format(evidence=self.recorded[number])
            return self.client.post(path, json={"verdict": "accepted"})
        if "{obligation}" in path:
            fields = {
                "kind": "attestation",
                "title": f"Benchmark statement {number}",
                "description": "The board met and agreed its plan.",
                "effective_date": "2026-11-01",
                "occurrence_ids": [str(self.period)],
            }
            response = self.client.post(path.format(obligation=self.obligation), data=fields)
            self.recorded.append(response.json().get("id", 0))
            return response
        return self.client.request(method, path, json={"name": f"Benchmark holder {number % 2}"})


def timed(
    client: TestClient,
    counter: StatementCounter,
    who: str,
    path: str,
    requests: int,
    send: Callable[[str, int], Any] | None = None,
) -> Timing:
    """Median and 95th percentile milliseconds, and statements, per request to the last byte:
    a GET of the path, or what `send` makes of it."""
    times = []
    for number in range(WARM_UP + requests):
        if number == WARM_UP:
            counter.count = 0
        started = time.perf_counter()
        response = send(path, number) if send else client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code not in {200, 201}:
            raise RuntimeError(f"{path} as {who}: {response.status_code} {response.text[:300]}")
        if number >= WARM_UP:
            times.append(elapsed * 1000)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    median = statistics.median(times)
    return Timing(who, path, median, p95, counter.count / requests, len(response.content))


def report(found: list[Registry], machine_lines: list[str], args, on: dt.date) -> str:  # type: ignore[no-untyped-def]
    """A dated section: the machine, one table per registry, the misses against the target."""
    cpus = len(os.sched_getaffinity(0))
    lines = [f"## Pages at national scale ({on}, {platform.node()}: {cpus} CPUs)", ""]
    lines += [*machine_lines]
    lines.append(
        f"- Registry: synthetic (seed 1) as at {on}, {args.evidence} evidence per obligation; "
        f"{args.requests} requests per page after {WARM_UP} to warm up; `make bench` "
        "(`python -m benchmarks.pages`)."
    )
    lines.append(
        "- The dashboard and the obligations list read each obligation's kept state "
        "(compliance/obligations/judged.py): the first judgement of the day is timed apart; "
        "the nightly check makes it before anyone signs in."
    )
    misses = []
    for registry in found:
        lines += [
            "",
            f"### {registry.backend}, {registry.bodies:,} bodies, {registry.obligations:,} open "
            "obligations",
            "",
            f"The check (synchronise, every rule): {registry.check_s:.1f} s. The first judgement "
            f"of the day: {registry.judge_s:.1f} s.",
            "",
            "| Who | Page | Median ms | p95 ms | Statements | KB |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for t in registry.timings:
            lines.append(
                f"| {t.who} | `{t.path}` | {t.median_ms:.0f} | {t.p95_ms:.0f} | "
                f"{t.statements:.0f} | {t.size / 1024:.0f} |"
            )
            if t.p95_ms >= TARGET_P95_MS:
                misses.append(
                    f"{registry.backend} at {registry.bodies:,} bodies: {t.who} `{t.path}` "
                    f"p95 {t.p95_ms:.0f} ms"
                )
    lines += ["", f"Missed (p95 of {TARGET_P95_MS} ms or more): " + ("; ".join(misses) or "none")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
