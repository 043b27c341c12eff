"""Fifty simulated users for a minute against `compliance serve` on each backend; the figures go
into docs/reliability.md.

    .venv/bin/python -m benchmarks.load [--users 50] [--seconds 60] [--no-postgres]
                                        [--output docs/reliability.md]

On a fresh SQLite site and a fresh PostgreSQL database (each `compliance init` + `compliance
demo`, plus the simulated users), `compliance serve --no-scheduler` on 127.0.0.1 and one thread
per user (httpx), each starting within the first 5 s and stopping at the end of the minute:

- page officers (40 %) sign in, then browse the dashboard, their body's page and its
  obligations, and every third round record evidence through the page form (GET the form for
  its CSRF token, POST it multipart with a 100 KB file);
- API officers (30 %) list and read their body's obligations with a personal token and every
  third round upload evidence through the API (100 KB);
- inspectors (30 %) sign in, browse the dashboard, the review queue and the bodies in their
  scope, and every third round download an audit PDF through the API with their session
  (alternately as at today, which changes as evidence is recorded and so is rendered again,
  and as at a fixed past date, which is served from the cache).

Each user waits 0.5 to 2 s between requests, as a person would. Counted: every answer by status
(errors: 4xx and 5xx, with 503s with Retry-After apart from other 5xx, and connection resets and
timeouts apart), and p50 and p95 latency per kind of page.
"""

import argparse
import datetime as dt
import os
import random
import re
import secrets
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx

from benchmarks import harness
from benchmarks.faults import api, pdf_like, serve, server_errors, writable_periods
from benchmarks.harness import CORNWALL, ICB, ICB_OFFICER, OFFICER, Processes, classify, log, site

TAG = "load"
THINK = (0.5, 2.0)
RAMP_SECONDS = 5.0
FILE_BYTES = 100_000
REQUEST_TIMEOUT = 120.0
OFFICER_SCOPES = {
    CORNWALL: (["E06000052", "CORNWALL-FRS"], ["cios-safeguarding-adults-board", "safer-cornwall"]),
    ICB: (["QT6"], ["cios-integrated-care-partnership", "cornwall-bcf-section-75"]),
}
INSPECTOR_BODIES = ["E06000052", "E06000053", "QT6"]
INSPECTOR_PARTNERSHIPS = ["cios-safeguarding-adults-board", "cios-integrated-care-partnership"]
TARGET_P95_MS = {"default": 1000.0}


def say(message: str) -> None:
    log(TAG, message)


@dataclass
class Hit:
    kind: str
    status: int | str
    ms: float
    retry_after: str | None
    backend: str


class Recorder:
    """Every answer of a run, with its kind, status and time."""

    def __init__(self, backend: str):
        self.backend = backend
        self.hits: list[Hit] = []
        self.lock = threading.Lock()

    def call(self, kind: str, method, url: str, **options):  # type: ignore[no-untyped-def]
        """Send a request (method(url, **options)) and record it; the response, or None if
        there was no answer."""
        started = time.perf_counter()
        try:
            response = method(url, **options)
        except httpx.TransportError as exc:
            ms = (time.perf_counter() - started) * 1000
            self._add(Hit(kind, classify(exc), ms, None, self.backend))
            return None
        ms = (time.perf_counter() - started) * 1000
        retry = response.headers.get("retry-after")
        self._add(Hit(kind, response.status_code, ms, retry, self.backend))
        return response

    def _add(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)


@dataclass
class User:
    email: str
    role: str  # page-officer, api-officer, inspector
    body: str
    token: str | None = None


def make_users(s: harness.Site, count: int, password: str) -> list[User]:
    """Officers and inspectors with the demo's scopes, and tokens for the API officers."""
    from compliance.accounts.service import create_user
    from compliance.accounts.tokens import create_token
    from compliance.db import make_engine, session_scope

    users: list[User] = []
    page_officers = round(count * 0.4)
    api_officers = round(count * 0.3)
    engine = make_engine(s.url)
    try:
        with session_scope(engine) as session:
            for number in range(count):
                if number < page_officers + api_officers:
                    role = "page-officer" if number < page_officers else "api-officer"
                    body = CORNWALL if number % 2 == 0 else ICB
                    bodies, partnerships = OFFICER_SCOPES[body]
                    kind = "officer"
                else:
                    role, body, kind = (
                        "inspector",
                        random.Random(number).choice(INSPECTOR_BODIES[::2]),
                        "inspector",
                    )
                    bodies, partnerships = INSPECTOR_BODIES, INSPECTOR_PARTNERSHIPS
                email = f"load-{number:02d}-{role}@demo.example.org"
                user = create_user(
                    session=session,
                    email=email,
                    name=f"Load user {number}",
                    role=kind,
                    password=password,
                    body_codes=bodies,
                    partnership_slugs=partnerships,
                    actor="load",
                )
                token = None
                if role == "api-officer":
                    token, _ = create_token(session=session, user=user, name="load", actor="load")
                users.append(User(email, role, body, token))
    finally:
        engine.dispose()
    return users


def run_backend(backend: str, admin_url: str | None, users_n: int, seconds: float) -> dict:
    """Serve a fresh site and run the simulated users against it; the figures."""
    with site(backend, f"load-{backend}", admin_url=admin_url) as s:
        s.demo()
        password = secrets.token_urlsafe(16)
        users = make_users(s, users_n, password)
        helper_tokens = {CORNWALL: s.token(OFFICER), ICB: s.token(ICB_OFFICER)}
        server, base = serve(s, "serve.log")
        periods = {
            body: writable_periods(base, token, body) for body, token in helper_tokens.items()
        }
        evidence_before = s.query("SELECT count(*) FROM evidence")[0][0]
        recorder = Recorder(backend)
        began = time.monotonic()
        deadline = began + seconds
        errors: list[str] = []

        def run_user(number: int, user: User) -> None:
            rng = random.Random(number)
            time.sleep(RAMP_SECONDS * number / max(1, len(users)))
            try:
                with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
                    mine = periods.get(user.body, [])
                    simulate(client, user, rng, recorder, deadline, mine, password)
            except Exception as exc:  # noqa: BLE001 - a broken simulated user is reported
                errors.append(f"{user.email}: {exc!r}")

        threads = [
            threading.Thread(target=run_user, args=(i, u), daemon=True) for i, u in enumerate(users)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 10)
        elapsed = time.monotonic() - began
        stuck = sum(thread.is_alive() for thread in threads)
        alive = server.poll() is None
        readyz = recorder.call("readyz (after)", httpx.get, f"{base}/readyz", timeout=10)
        Processes.stop(server, grace=10)
        evidence_after = s.query("SELECT count(*) FROM evidence")[0][0]
        tracebacks = server_errors(s, "serve.log")
        log_text = (s.work / "serve.log").read_text(errors="replace")
    recorded = sum(
        1 for h in recorder.hits if h.kind.startswith("record evidence") and h.status in (201, 303)
    )
    return {
        "backend": backend,
        "hits": [h for h in recorder.hits if h.kind != "readyz (after)"],
        "elapsed": elapsed,
        "stuck": stuck,
        "alive": alive,
        "readyz": readyz.status_code if readyz is not None else "no answer",
        "tracebacks": tracebacks,
        "log_heads": _log_heads(log_text),
        "recorded": recorded,
        "rows": evidence_after - evidence_before,
        "user_errors": errors,
        "users": Counter(u.role for u in users),
    }


def _log_heads(text: str) -> Counter:
    """The exception lines ending the tracebacks in the server's log, counted."""
    heads: Counter = Counter()
    for block in text.split("Traceback (most recent call last):")[1:]:
        lines = [
            line for line in block.splitlines() if line and not line.startswith((" ", "INFO:"))
        ]
        if lines:
            heads[lines[0][:140]] += 1
    return heads


def simulate(
    client: httpx.Client,
    user: User,
    rng: random.Random,
    rec: Recorder,
    deadline: float,
    periods: list[tuple[int, int]],
    password: str,
) -> None:
    """One user's minute."""

    def think() -> None:
        time.sleep(min(rng.uniform(*THINK), max(0.0, deadline - time.monotonic())))

    if user.role != "api-officer":
        sign_in = {"email": user.email, "password": password, "next": "/"}
        response = rec.call("sign-in", client.post, "/sign-in", data=sign_in)
        if response is None or response.status_code != 303:
            return  # the sign-in failure is counted; this user can do nothing more
    obligations = sorted({o for o, _ in periods}) or [0]
    salt = os.urandom(3).hex()
    rounds = 0
    while time.monotonic() < deadline and rounds < 500:
        rounds += 1
        if user.role == "page-officer":
            rec.call("dashboard", client.get, "/")
            think()
            rec.call("body page", client.get, f"/bodies/{user.body}")
            think()
            obligation = rng.choice(obligations)
            rec.call("obligation page", client.get, f"/obligations/{obligation}")
            think()
            if rounds % 3 == 0 and time.monotonic() < deadline:
                record_by_page(client, rec, rng, obligation, periods, salt, rounds)
                think()
        elif user.role == "api-officer":
            headers = api(user.token or "")
            listing = {"body": user.body, "limit": 20}
            rec.call(
                "API obligations list",
                client.get,
                "/api/v1/obligations",
                params=listing,
                headers=headers,
            )
            think()
            obligation, occurrence = rng.choice(periods)
            rec.call(
                "API obligation", client.get, f"/api/v1/obligations/{obligation}", headers=headers
            )
            think()
            if rounds % 3 == 0 and time.monotonic() < deadline:
                fields = {
                    "kind": "document",
                    "title": f"Load API upload {rounds} {salt}",
                    "effective_date": _yesterday().isoformat(),
                    "occurrence_ids": str(occurrence),
                }
                content = pdf_like(rounds, FILE_BYTES, salt + user.email)
                rec.call(
                    "record evidence (API)",
                    client.post,
                    f"/api/v1/obligations/{obligation}/evidence",
                    headers=headers,
                    data=fields,
                    files={"file": ("minutes.pdf", content, "application/pdf")},
                )
                think()
        else:
            rec.call("dashboard", client.get, "/")
            think()
            rec.call("review queue", client.get, "/reviews")
            think()
            rec.call("body page", client.get, f"/bodies/{rng.choice(INSPECTOR_BODIES)}")
            think()
            if rounds % 3 == 0 and time.monotonic() < deadline:
                fresh = (rounds // 3) % 2 == 1
                as_at = _today() if fresh else dt.date(_today().year - 1, 3, 31)
                kind = "report PDF (as at today)" if fresh else "report PDF (fixed past date)"
                rec.call(
                    kind,
                    client.get,
                    f"/api/v1/bodies/{user.body}/report.pdf",
                    params={"as_at": as_at.isoformat()},
                )
                think()


def record_by_page(
    client: httpx.Client,
    rec: Recorder,
    rng: random.Random,
    obligation: int,
    periods: list[tuple[int, int]],
    salt: str,
    number: int,
) -> None:
    form = rec.call("evidence form", client.get, f"/obligations/{obligation}/evidence/new")
    if form is None or form.status_code != 200:
        return
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if not found:
        return
    occurrences = [p for o, p in periods if o == obligation]
    when = _yesterday()
    data = {
        "csrf_token": found.group(1),
        "kind": "minutes",
        "title": f"Load page upload {number} {salt}",
        "occurrence_ids": str(rng.choice(occurrences)),
        "effective_date-day": str(when.day),
        "effective_date-month": str(when.month),
        "effective_date-year": str(when.year),
    }
    content = pdf_like(number, FILE_BYTES, salt + "page")
    rec.call(
        "record evidence (page)",
        client.post,
        f"/obligations/{obligation}/evidence",
        data=data,
        files={"file": ("minutes.pdf", content, "application/pdf")},
    )


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/London")).date()


def _yesterday() -> dt.date:
    return _today() - dt.timedelta(days=1)


# The report -------------------------------------------------------------------------------------

OK = {200, 201, 303}


def is_error(status: int | str) -> bool:
    return not (isinstance(status, int) and status in OK)


def section(
    results: list[dict], users: int, seconds: float, postgres: str | None, load_at_start: float
) -> tuple[str, list[str]]:
    failures: list[str] = []
    lines = [
        f"## Load (`make load`), run of {harness.utc_stamp()}",
        "",
        *harness.machine({"shared server": postgres}, load_at_start),
        "",
        f"{users} simulated users for {seconds:.0f} s on each backend against `compliance serve "
        "--no-scheduler` (one process) on 127.0.0.1, the load generator on the same machine. "
        f"Users: {dict(results[0]['users']) if results else '–'}; each starts within the first "
        f"{RAMP_SECONDS:.0f} s and waits {THINK[0]}–{THINK[1]} s between requests. Page officers "
        "record evidence through the form (CSRF token, multipart, 100 KB), API officers through "
        "`POST /api/v1/obligations/{id}/evidence`, inspectors download body audit PDFs through "
        "`GET /api/v1/bodies/{code}/report.pdf` (as at today: rendered again whenever evidence "
        "changed; as at a fixed past date: rendered once, then from the cache).",
        "",
        "Answers (target: no errors; a 503 with Retry-After is an error, but a clear one):",
        "",
        "| Backend | Requests | Per second | OK (200/201/303) | Errors by status | 503 with "
        "Retry-After | 500 | Connection resets / timeouts | Evidence answered saved / rows added |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        hits = r["hits"]
        statuses = Counter(str(h.status) for h in hits)
        errors = {k: v for k, v in statuses.items() if is_error(int(k) if k.isdigit() else k)}
        by_status = {k: v for k, v in errors.items() if k.isdigit()}
        transport = {k: v for k, v in errors.items() if not k.isdigit()}
        retry_503 = sum(1 for h in hits if h.status == 503 and h.retry_after)
        fives = statuses.get("500", 0)
        ok = sum(v for k, v in statuses.items() if k.isdigit() and int(k) in OK)
        lines.append(
            f"| {r['backend']} | {len(hits)} | {len(hits) / r['elapsed']:.1f} | {ok} "
            f"| {_words(by_status)} | {retry_503} | {fives} | {_words(transport)} "
            f"| {r['recorded']} / {r['rows']} |"
        )
        if errors:
            failures.append(f"{r['backend']}: {sum(errors.values())} errors ({_words(errors)}).")
        if r["recorded"] != r["rows"]:
            failures.append(
                f"{r['backend']}: {r['recorded']} uploads answered as saved but "
                f"{r['rows']} evidence rows added."
            )
        if not r["alive"] or r["stuck"]:
            failures.append(
                f"{r['backend']}: server alive {r['alive']}, {r['stuck']} users still "
                "waiting at the end."
            )
    lines += [
        "",
        "Latency by kind of request, in milliseconds (all answers, errors included):",
        "",
        "| Kind | " + " | ".join(f"{r['backend']} n | p50 | p95 | errors" for r in results) + " |",
        "|---|" + "---|---|---|---|" * len(results),
    ]
    kinds = sorted({h.kind for r in results for h in r["hits"]})
    for kind in kinds:
        cells = []
        for r in results:
            chosen = [h for h in r["hits"] if h.kind == kind]
            times = sorted(h.ms for h in chosen)
            bad = sum(1 for h in chosen if is_error(h.status))
            cells.append(
                f"{len(chosen)} | {harness.percentile(times, 0.5):.0f} | "
                f"{harness.percentile(times, 0.95):.0f} | {bad}"
            )
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    notes = []
    for r in results:
        if r["tracebacks"]:
            heads = "; ".join(
                f"{count} × `{head}`" for head, count in r["log_heads"].most_common(4)
            )
            notes.append(
                f"{r['backend']}: the server's log holds {r['tracebacks']} traceback(s): {heads}."
            )
        if r["user_errors"]:
            notes.append(f"{r['backend']}: simulated users that broke: {r['user_errors'][:3]}.")
        notes.append(
            f"{r['backend']}: `/readyz` after the run: {r['readyz']}; run took "
            f"{r['elapsed']:.0f} s."
        )
    lines += [
        "",
        "**Verdict: failed.** " + " ".join(failures)
        if failures
        else "**Verdict: every target met.**",
    ]
    lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines), failures


def _words(counts: dict) -> str:
    return ", ".join(f"{v} × {k}" for k, v in sorted(counts.items(), key=lambda x: -x[1])) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=harness.DOC)
    args = parser.parse_args(argv)
    shared = None if args.no_postgres else harness.reachable_postgres()
    backends = {"sqlite": None} | ({"postgresql": shared} if shared else {})
    results = []
    load_at_start = os.getloadavg()[0]
    for backend, admin_url in backends.items():
        say(f"{args.users} users for {args.seconds:.0f} s on {backend}")
        try:
            results.append(run_backend(backend, admin_url, args.users, args.seconds))
        except Exception:  # noqa: BLE001 - reported in the document
            traceback.print_exc()
            results.append(
                {
                    "backend": backend,
                    "hits": [],
                    "elapsed": 1,
                    "stuck": 0,
                    "alive": False,
                    "readyz": "-",
                    "tracebacks": 0,
                    "log_heads": Counter(),
                    "recorded": 0,
                    "rows": 0,
                    "user_errors": ["the run did not complete (see its output)"],
                    "users": Counter(),
                }
            )
    text, failures = section(results, args.users, args.seconds, shared, load_at_start)
    harness.write_section("load", text, path=args.output)
    say("; ".join(failures) or "every target met")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
