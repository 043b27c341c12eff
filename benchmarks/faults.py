"""Failure scenarios for "saved means saved"; the figures go into docs/reliability.md.

    .venv/bin/python -m benchmarks.faults [--only uploads renders schedulers smtp restart]
                                          [--no-postgres] [--output docs/reliability.md]

1. uploads: kill -9 of `compliance serve` during 100 concurrent 1 MB uploads (distinct content),
   on SQLite and on PostgreSQL; after a restart every upload answered 201 must have its row and
   its file; then `compliance evidence fsck`, and `--clean`, on what the kill left.
2. renders: kill -9 during `compliance report area`, during a body report rendered for the API,
   and during `compliance check` (SQLite and PostgreSQL): no partial PDF where a complete one is
   expected, `compliance audit verify` holds, and the command run again succeeds.
3. schedulers: two `compliance scheduler` processes on PostgreSQL ticking every 5 s, with the
   jobs' times set a few seconds ahead so that new slots fall due during the run, and the lock
   holder killed -9 between slots: each job runs once per slot (job_run, check_run), each email
   is delivered once (by Message-ID, to a local SMTP sink).
4. smtp: an SMTP server that fails a third of the messages (451, or the connection closed before
   it answers); `compliance remind` run until the outbox is drained: each message delivered once.
5. restart: a private PostgreSQL cluster (initdb in a temporary folder, port 5499), a server on
   it, 20 clients reading and writing for about 30 s, and PostgreSQL stopped and started again in
   the middle: answers by status; during the outage only 503 with Retry-After; recovery without
   restarting the server.

Every loop is bounded in count and time, every process runs in its own process group and is
killed at the end, and every temporary folder and database is removed.
"""

import argparse
import datetime as dt
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx

from benchmarks import harness
from benchmarks.harness import (
    CORNWALL,
    DEMO_PASSWORD,
    HOST,
    ICB,
    INSPECTOR,
    OFFICER,
    Processes,
    Site,
    classify,
    free_port,
    log,
    site,
    wait_ready,
)

TAG = "faults"
UPLOADS = 100
UPLOAD_BYTES = 1_000_000
TIMEZONE = "Europe/London"


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def say(message: str) -> None:
    log(TAG, message)


@dataclass
class Outcome:
    """A scenario's section of the document and the failures it saw, in words."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        verdict = (
            "**Verdict: failed.** " + " ".join(self.failures)
            if self.failures
            else "**Verdict: every target met.**"
        )
        body = [f"### {self.title}", "", f"Run of {harness.utc_stamp()}.", "", *self.lines, ""]
        body.append(verdict)
        if self.notes:
            body += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(body)


# Helpers ----------------------------------------------------------------------------------------


def api(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def writable_periods(base: str, token: str, body: str, limit: int = 200) -> list[tuple[int, int]]:
    """(obligation, period) pairs the token's officer may record evidence against: the periods
    of the body's own obligations, from GET /api/v1/obligations?body=."""
    found: list[tuple[int, int]] = []
    cursor = None
    for _ in range(20):
        params = {"body": body, "limit": 100} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(
            f"{base}/api/v1/obligations", params=params, headers=api(token), timeout=60
        )
        page.raise_for_status()
        document = page.json()
        for item in document["items"]:
            if item["body_code"] == body and item["periods"]:
                found += [(item["id"], p["occurrence_id"]) for p in item["periods"]]
        cursor = document.get("next_cursor")
        if not cursor or len(found) >= limit:
            break
    if not found:
        raise RuntimeError(f"no writable periods found for {body}")
    return found


def pdf_like(number: int, size: int, salt: str) -> bytes:
    """Distinct content that libmagic takes for a PDF: a header, random bytes, a trailer."""
    head = f"%PDF-1.4\n% reliability upload {number} {salt}\n".encode()
    tail = b"\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)) + tail


def upload(
    base: str,
    token: str,
    obligation: int,
    occurrence: int,
    content: bytes,
    title: str,
    timeout: float = 120,
) -> tuple[int | str, dict]:
    """POST one piece of evidence with its file; (status or failure in words, JSON or {})."""
    try:
        answer = httpx.post(
            f"{base}/api/v1/obligations/{obligation}/evidence",
            headers=api(token),
            data={
                "kind": "document",
                "title": title,
                "effective_date": (today() - dt.timedelta(days=1)).isoformat(),
                "occurrence_ids": str(occurrence),
            },
            files={"file": (f"{title}.pdf", content, "application/pdf")},
            timeout=timeout,
        )
    except httpx.TransportError as exc:
        return classify(exc), {}
    document: dict = {}
    with suppress(ValueError):
        document = answer.json()
    document["_retry_after"] = answer.headers.get("retry-after")
    return answer.status_code, document


def fsck(s: Site, *args: str) -> tuple[int, dict[str, int], str]:
    """Run `compliance evidence fsck`; its exit code, the kinds of line it printed, its text."""
    done = s.cli("evidence", "fsck", *args, check=False, timeout=300)
    out = done.stdout + done.stderr
    kinds = {
        "missing": len(re.findall(r"is missing\.", out)),
        "altered": len(re.findall(r"no longer matches", out)),
        "orphans": len(re.findall(r"^Orphan file", out, re.M)),
        "temporaries": len(re.findall(r"^Temporary file", out, re.M)),
        "young": len(re.findall(r"^Left alone", out, re.M)),
        "removed": len(re.findall(r"\(removed\)", out)),
        "unknown_command": int("No such command" in out),
    }
    return done.returncode, kinds, out


def fsck_words(kinds: dict[str, int]) -> str:
    return (
        f"{kinds['missing']} rows without their file, {kinds['altered']} altered, "
        f"{kinds['orphans']} orphan files, {kinds['temporaries']} temporaries, "
        f"{kinds['young']} left alone as young, {kinds['removed']} removed"
    )


def audit_verify(s: Site) -> tuple[bool, str]:
    done = s.cli("audit", "verify", check=False, timeout=300)
    last = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, (last[-1] if last else "")


def sqlite_integrity(s: Site) -> str:
    if s.backend != "sqlite":
        return "n/a"
    return ", ".join(str(row[0]) for row in s.query("PRAGMA integrity_check"))


def is_complete_pdf(path: Path) -> tuple[bool, str]:
    """Whether a file is a whole PDF: ends with %%EOF and pypdf reads every page."""
    try:
        from pypdf import PdfReader

        content = path.read_bytes()
        if not content.startswith(b"%PDF") or b"%%EOF" not in content[-1024:]:
            return False, f"{len(content)} bytes, no %%EOF at the end"
        pages = len(PdfReader(path).pages)
        return pages > 0, f"{len(content)} bytes, {pages} pages"
    except Exception as exc:  # noqa: BLE001 - any failure to read is "not complete"
        return False, f"unreadable: {exc!r}"[:200]


def serve(s: Site, log_name: str, *, scheduler: bool = False) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = s.serve(port, scheduler=scheduler, log_name=log_name)
    base = f"http://{HOST}:{port}"
    wait_ready(base, process)
    return process, base


def server_errors(s: Site, log_name: str) -> int:
    """Tracebacks the server wrote to its log."""
    path = s.work / log_name
    return path.read_text(errors="replace").count("Traceback") if path.exists() else 0


# 1. kill -9 during concurrent uploads -----------------------------------------------------------


def scenario_uploads(backends: dict[str, str | None]) -> Outcome:
    out = Outcome(
        "faults-uploads", "1. kill -9 of `compliance serve` during 100 concurrent 1 MB uploads"
    )
    out.lines += [
        f"On each backend, two bursts of {UPLOADS} API uploads (`POST /api/v1/obligations/{{id}}/"
        "evidence`, 1 MB each, distinct content, spread over Cornwall Council's periods), all "
        "released at the same instant:",
        "",
        f"- **without a kill**, to see how the server takes the burst (each client waits up to "
        f"{BURST_TIMEOUT:.0f} s); afterwards `/healthz` and `/readyz` are asked whether the "
        "server still answers;",
        "- **with a kill**, on a freshly started server: SIGKILL once a third of the uploads "
        f"have been answered (or after {KILL_AT_LATEST:.0f} s). The server is started again and "
        "every upload answered 201 is read back through the API (`GET /api/v1/evidence/{id}` "
        "and its file, compared by SHA-256) and looked up in the database. Then `compliance "
        "evidence fsck` runs as an operator would (default grace of 10 minutes), with "
        "`--grace-minutes 0` to see the kill's leftovers, with `--clean --grace-minutes 0`, "
        "and once more.",
        "",
        "Burst without a kill:",
        "",
        "| Backend | Answers | p50 / max latency of 201s (s) | Server afterwards |",
        "|---|---|---|---|",
    ]
    killed_rows = [
        "",
        "Burst with a kill (target: every upload answered 201 has its row and its file; fsck "
        "lists the kill's leftovers and `--clean` removes them):",
        "",
        "| Backend | Answered 201 before the kill | Other answers | No answer (connection cut) "
        "| 201s with row and file after the restart | Unanswered uploads saved anyway "
        "| fsck after the kill (grace 0) | fsck --clean | fsck afterwards |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for backend, admin_url in backends.items():
        say(f"uploads on {backend}")
        try:
            burst_row, kill_row = _uploads_on(backend, admin_url, out)
        except Exception as exc:  # noqa: BLE001 - the scenario itself broke: say so
            traceback.print_exc()
            out.failures.append(f"On {backend} the scenario did not complete: {exc!r}.")
            burst_row = f"| {backend} | – | – | – |"
            kill_row = f"| {backend} | – | – | – | – | – | – | – | – |"
        out.lines.append(burst_row)
        killed_rows.append(kill_row)
    out.lines += killed_rows
    return out


BURST_TIMEOUT = 30.0
KILL_AT_LATEST = 20.0


@dataclass
class Burst:
    results: list  # (status or failure, JSON, seconds from the start) per upload
    hashes: list[str]
    salt: str
    killed_at: float | None = None
    created_at_kill: int = 0

    def counts(self, numbers: list[int] | None = None) -> Counter:
        chosen = self.results if numbers is None else [self.results[n] for n in numbers]
        return Counter(str(r[0]) if r else "no result" for r in chosen)

    @property
    def created(self) -> list[int]:
        return [i for i, r in enumerate(self.results) if r and r[0] == 201]


def burst(
    base: str,
    token: str,
    periods: list[tuple[int, int]],
    *,
    timeout: float,
    server: subprocess.Popen | None = None,
) -> Burst:
    """UPLOADS uploads released together; with a server, kill -9 it once a third are answered."""
    salt = os.urandom(4).hex()
    contents = [pdf_like(i, UPLOAD_BYTES, salt) for i in range(UPLOADS)]
    found = Burst([None] * UPLOADS, [hashlib.sha256(c).hexdigest() for c in contents], salt)
    answered, created = [0], [0]
    lock = threading.Lock()
    gate = threading.Barrier(UPLOADS + 1, timeout=60)
    began = [0.0]

    def one(number: int) -> None:
        obligation, occurrence = periods[number % len(periods)]
        gate.wait()
        status, document = upload(
            base,
            token,
            obligation,
            occurrence,
            contents[number],
            f"Reliability upload {number} {salt}",
            timeout,
        )
        found.results[number] = (status, document, time.monotonic() - began[0])
        with lock:
            answered[0] += isinstance(status, int)
            created[0] += status == 201

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(UPLOADS)]
    for thread in threads:
        thread.start()
    began[0] = time.monotonic()
    gate.wait()
    if server is not None:
        while time.monotonic() - began[0] < KILL_AT_LATEST and answered[0] < UPLOADS // 3:
            time.sleep(0.005)
        found.killed_at = time.monotonic() - began[0]
        with lock:
            found.created_at_kill = created[0]
        Processes.kill9(server)
    for thread in threads:
        thread.join(timeout=timeout + 30)
    return found


def _still_answers(base: str) -> str:
    words = []
    for path in ("/healthz", "/readyz"):
        try:
            code = httpx.get(f"{base}{path}", timeout=5).status_code
            words.append(f"`{path}` {code}")
        except httpx.TransportError as exc:
            words.append(f"`{path}` {classify(exc)} after 5 s")
    return ", ".join(words)


def _words(counts: Counter | dict) -> str:
    return ", ".join(f"{v} × {k}" for k, v in sorted(counts.items(), key=lambda x: -x[1])) or "none"


def _uploads_on(backend: str, admin_url: str | None, out: Outcome) -> tuple[str, str]:
    with site(backend, f"uploads-{backend}", admin_url=admin_url) as s:
        s.demo()
        token = s.token(OFFICER)

        # Without a kill: how the server takes the burst.
        server, base = serve(s, "serve-burst.log")
        periods = writable_periods(base, token, CORNWALL)
        plain = burst(base, token, periods, timeout=BURST_TIMEOUT)
        afterwards = _still_answers(base)
        Processes.stop(server, grace=10)
        times = sorted(r[2] for r in plain.results if r and r[0] == 201)
        statuses = plain.counts()
        unanswered = sum(v for k, v in statuses.items() if not k.isdigit())
        burst_row = (
            f"| {backend} | {_words(statuses)} | "
            f"{harness.percentile(times, 0.5):.1f} / {max(times, default=float('nan')):.1f} "
            f"| {afterwards} |"
        )
        if statuses.get("500"):
            out.failures.append(f"On {backend}, the burst drew {statuses['500']} × 500.")
        if unanswered:
            out.failures.append(
                f"On {backend}, {unanswered} of {UPLOADS} uploads had no answer within "
                f"{BURST_TIMEOUT:.0f} s (server afterwards: {afterwards})."
            )
        if statuses.get("503"):
            out.notes.append(
                f"{backend}: {statuses['503']} of the {UPLOADS} uploads of the burst were "
                "answered 503 (each with Retry-After: "
                f"{all(r[1].get('_retry_after') for r in plain.results if r and r[0] == 503)})."
            )

        # With a kill.
        server, base = serve(s, "serve-1.log")
        hit = burst(base, token, periods, timeout=BURST_TIMEOUT, server=server)
        say(
            f"{backend}: killed the server {hit.killed_at:.1f} s in, {hit.created_at_kill} "
            "uploads answered 201"
        )
        created = hit.created
        statuses = hit.counts()
        other = {k: v for k, v in statuses.items() if k.isdigit() and k != "201"}
        cut = {k: v for k, v in statuses.items() if not k.isdigit()}

        server2, base2 = serve(s, "serve-2.log")
        whole, broken = 0, []
        for number in created:
            evidence_id = hit.results[number][1]["id"]
            ok, why = _read_back(base2, token, evidence_id, hit.hashes[number])
            whole += ok
            if not ok:
                broken.append(f"evidence {evidence_id}: {why}")
        in_db = dict(
            s.query(
                "SELECT sha256, count(*) FROM evidence WHERE title LIKE :t GROUP BY sha256",
                t=f"Reliability upload % {hit.salt}",
            )
        )
        rows_for_201 = sum(1 for n in created if in_db.get(hit.hashes[n]))
        unanswered_saved = sum(
            1 for n in range(UPLOADS) if n not in created and in_db.get(hit.hashes[n])
        )
        Processes.stop(server2, grace=10)

        code0, k0, text0 = fsck(s)
        if k0["unknown_command"]:
            out.failures.append("`compliance evidence fsck` does not exist in this tree.")
        code1, k1, text1 = fsck(s, "--grace-minutes", "0")
        code2, k2, text2 = fsck(s, "--clean", "--grace-minutes", "0")
        code3, k3, text3 = fsck(s, "--grace-minutes", "0")
        tracebacks = sum(
            server_errors(s, n) for n in ("serve-burst.log", "serve-1.log", "serve-2.log")
        )

    if whole != len(created) or rows_for_201 != len(created):
        out.failures.append(
            f"On {backend}, {len(created) - whole} of {len(created)} uploads answered 201 "
            f"were not whole after the restart ({'; '.join(broken[:5])})."
        )
    if k1["missing"] or k1["altered"]:
        out.failures.append(f"On {backend}, fsck found {k1['missing']} rows without their file.")
    if code3 != 0 and not k3["unknown_command"]:
        out.failures.append(
            f"On {backend}, fsck still found problems after --clean (exit {code3})."
        )
    if other.get("500"):
        out.failures.append(f"On {backend}, the kill round drew {other['500']} × 500.")
    if tracebacks:
        out.notes.append(f"{backend}: the server logs hold {tracebacks} traceback(s).")
    out.notes.append(
        f"{backend}: killed {hit.killed_at:.1f} s after the uploads began; fsck exit codes "
        f"{code0} right after the restart with the default grace ({fsck_words(k0)}), {code1} "
        f"with grace 0, {code2} with --clean, {code3} afterwards."
    )
    kill_row = (
        f"| {backend} | {len(created)} of {UPLOADS} ({hit.created_at_kill} when the kill was "
        f"sent) | {_words(other)} | {_words(cut)} | {whole} of {len(created)} (rows: "
        f"{rows_for_201}) | {unanswered_saved} | exit {code1}: {fsck_words(k1)} "
        f"| exit {code2}: {k2['removed']} removed | exit {code3}: {fsck_words(k3)} |"
    )
    return burst_row, kill_row


def _is_transport(status: str) -> bool:
    return not status.isdigit() and status != "no result"


def _read_back(base: str, token: str, evidence_id: int, sha256: str) -> tuple[bool, str]:
    try:
        row = httpx.get(f"{base}/api/v1/evidence/{evidence_id}", headers=api(token), timeout=60)
        if row.status_code != 200 or row.json().get("sha256") != sha256:
            return False, f"row: {row.status_code}"
        got = httpx.get(
            f"{base}/api/v1/evidence/{evidence_id}/file", headers=api(token), timeout=60
        )
        if got.status_code != 200 or hashlib.sha256(got.content).hexdigest() != sha256:
            return False, f"file: {got.status_code}"
    except httpx.TransportError as exc:
        return False, classify(exc)
    return True, ""


# 2. kill -9 during a PDF render and during a check ----------------------------------------------

KILL_FRACTIONS = (0.3, 0.6, 0.85, 0.97)
SYNTH_BODIES = 400


def scenario_renders(backends: dict[str, str | None]) -> Outcome:
    out = Outcome("faults-renders", "2. kill -9 during a PDF render and during `compliance check`")
    out.lines += [
        "Each command is first run once without a kill to time it (T); then it is started again "
        f"and killed with SIGKILL at {', '.join(f'{f:.0%}' for f in KILL_FRACTIONS)} of T, each "
        "time as at a different date, so that every run has real work to do (a new report "
        "fingerprint, new findings). After each kill: the PDF asked for (`-o FILE`) must be "
        "absent or whole (ends with `%%EOF`, pypdf reads every page), every PDF in the report "
        "cache (`DATA_DIR/reports/`) must be whole, `compliance audit verify` must hold (and on "
        "SQLite `PRAGMA integrity_check` say ok); then the same command, run again, must succeed.",
        "",
    ]
    sqlite_only = {"sqlite": None}
    rows = [
        "| What | Backend | T (s) | Killed at (s) | After the kill: the -o file, or the check "
        "| Cache after the kill | audit verify | Run again |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, runner, on in (
        ("`compliance report area QT6 -o FILE`", _report_cli, sqlite_only),
        (
            "`GET /api/v1/bodies/E06000052/report.pdf` (server killed)",
            _report_api,
            {k: v for k, v in backends.items() if k == "postgresql"} or sqlite_only,
        ),
        ("`compliance check --at DATE` (demo + 400 synthetic bodies)", _check_cli, backends),
    ):
        for backend, admin_url in on.items():
            say(f"renders: {label} on {backend}")
            try:
                rows += runner(backend, admin_url, label, out)
            except Exception as exc:  # noqa: BLE001
                traceback.print_exc()
                out.failures.append(
                    f"{label} on {backend}: the scenario did not complete: {exc!r}."
                )
    out.lines += rows
    return out


def _cache_state(s: Site) -> tuple[str, list[str]]:
    """Words on the report cache: whole PDFs, partial ones, leftover temporaries."""
    root = s.data_dir / "reports"
    pdfs = sorted(root.rglob("*.pdf")) if root.exists() else []
    temporaries = sorted(p for p in root.rglob(".incoming-*")) if root.exists() else []
    partial = [p.name for p in pdfs if not is_complete_pdf(p)[0]]
    words = f"{len(pdfs) - len(partial)} whole, {len(partial)} partial PDF(s)"
    if temporaries:
        words += f", {len(temporaries)} temporary file(s) left"
    return words, partial


def _target_state(path: Path) -> tuple[str, bool]:
    if not path.exists():
        return "absent", True
    ok, why = is_complete_pdf(path)
    return ("whole" if ok else "**partial**") + f" ({why})", ok


def _after_kill_checks(s: Site, out: Outcome, label: str) -> tuple[str, str]:
    cache, partial = _cache_state(s)
    if partial:
        out.failures.append(f"{label} on {s.backend}: partial PDF(s) in the cache: {partial}.")
    held, last = audit_verify(s)
    integrity = sqlite_integrity(s)
    if not held:
        out.failures.append(f"{label} on {s.backend}: audit verify failed after a kill: {last}")
    if s.backend == "sqlite" and integrity != "ok":
        out.failures.append(f"{label} on sqlite: integrity_check says {integrity}.")
    verify = ("holds" if held else f"**fails**: {last}") + (
        f"; integrity {integrity}" if s.backend == "sqlite" else ""
    )
    return cache, verify


def _timed_kill(s: Site, args: list[str], after: float, log_name: str) -> float:
    process = s.start(*args, log_name=log_name)
    started = time.monotonic()
    while time.monotonic() - started < after and process.poll() is None:
        time.sleep(0.01)
    at = time.monotonic() - started
    if process.poll() is not None:
        return -at  # it finished before the kill
    Processes.kill9(process)
    return at


def _report_cli(backend: str, admin_url: str | None, label: str, out: Outcome) -> list[str]:
    rows = []
    with site(backend, f"render-{backend}", admin_url=admin_url) as s:
        s.demo()
        base_date = today()
        began = time.monotonic()
        s.cli(
            "report",
            "area",
            ICB,
            "--as-at",
            (base_date - dt.timedelta(days=30)).isoformat(),
            "-o",
            str(s.work / "baseline.pdf"),
        )
        took = time.monotonic() - began
        for number, fraction in enumerate(KILL_FRACTIONS, start=1):
            on = (base_date - dt.timedelta(days=30 + number)).isoformat()
            target = s.work / f"area-{number}.pdf"
            args = ["report", "area", ICB, "--as-at", on, "-o", str(target)]
            at = _timed_kill(s, args, fraction * took, f"report-{number}.log")
            state, ok = _target_state(target)
            if not ok:
                out.failures.append(f"{label}: a partial PDF was left at the -o path after a kill.")
            cache, verify = _after_kill_checks(s, out, label)
            again = s.cli(*args, check=False, timeout=300)
            whole, why = is_complete_pdf(target) if target.exists() else (False, "absent")
            if again.returncode != 0 or not whole:
                out.failures.append(
                    f"{label}: run again after a kill: exit {again.returncode}, {why}."
                )
            rows.append(
                f"| {label} | {backend} | {took:.1f} | {_at(at)} | {state} | {cache} | {verify} "
                f"| exit {again.returncode}, {'whole' if whole else why} |"
            )
    return rows


def _at(at: float) -> str:
    return f"{at:.2f}" if at >= 0 else f"not killed: it finished in {-at:.2f} s"


def _report_api(backend: str, admin_url: str | None, label: str, out: Outcome) -> list[str]:
    rows = []
    with site(backend, f"render-api-{backend}", admin_url=admin_url) as s:
        s.demo()
        token = s.token(INSPECTOR)
        server, base = serve(s, "serve-0.log")
        base_date = today()

        def fetch(base_: str, on: str, timeout: float = 120) -> httpx.Response:
            return httpx.get(
                f"{base_}/api/v1/bodies/{CORNWALL}/report.pdf",
                params={"as_at": on},
                headers=api(token),
                timeout=timeout,
            )

        began = time.monotonic()
        first = fetch(base, (base_date - dt.timedelta(days=60)).isoformat())
        took = time.monotonic() - began
        if first.status_code != 200:
            raise RuntimeError(f"baseline report: {first.status_code} {first.text[:200]}")
        for number, fraction in enumerate(KILL_FRACTIONS[1:3], start=1):
            on = (base_date - dt.timedelta(days=60 + number)).isoformat()
            answer: list = []
            thread = threading.Thread(
                target=lambda b=base, d=on, got=answer: got.append(_try(lambda: fetch(b, d))),
                daemon=True,
            )
            began = time.monotonic()
            thread.start()
            while time.monotonic() - began < fraction * took and thread.is_alive():
                time.sleep(0.01)
            at = time.monotonic() - began if thread.is_alive() else -(time.monotonic() - began)
            Processes.kill9(server)
            thread.join(timeout=30)
            got = answer[0] if answer else "no result"
            state = got if isinstance(got, str) else f"answered {got.status_code} before the kill"
            cache, verify = _after_kill_checks(s, out, label)
            server, base = serve(s, f"serve-{number}.log")
            again = _try(lambda b=base, d=on: fetch(b, d))
            if isinstance(again, str) or again.status_code != 200:
                words = again if isinstance(again, str) else f"{again.status_code}"
                out.failures.append(f"{label}: asked again after a kill: {words}.")
                result = words
            else:
                path = s.work / f"again-{number}.pdf"
                path.write_bytes(again.content)
                whole, why = is_complete_pdf(path)
                result = f"200, {'whole' if whole else why}"
                if not whole:
                    out.failures.append(f"{label}: the report served after a kill is {why}.")
            rows.append(
                f"| {label} | {backend} | {took:.1f} | {_at(at)} | client saw: {state} | {cache} "
                f"| {verify} | {result} |"
            )
        Processes.stop(server)
    return rows


def _try(call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except httpx.TransportError as exc:
        return classify(exc)


def _check_cli(backend: str, admin_url: str | None, label: str, out: Outcome) -> list[str]:
    rows = []
    with site(backend, f"check-{backend}", admin_url=admin_url) as s:
        s.demo()
        s.cli("synth", "--bodies", str(SYNTH_BODIES), "--evidence-per-obligation", "1")
        base_date = today()
        began = time.monotonic()
        s.cli("check", "--at", (base_date - dt.timedelta(days=90)).isoformat())
        took = time.monotonic() - began
        for number, fraction in enumerate(KILL_FRACTIONS, start=1):
            on = (base_date - dt.timedelta(days=90 - 7 * number)).isoformat()
            args = ["check", "--at", on]
            at = _timed_kill(s, args, fraction * took, f"check-{number}.log")
            cache, verify = _after_kill_checks(s, out, label)
            running = s.query("SELECT count(*) FROM check_run WHERE status = 'running'")[0][0]
            # Whether the killed run had committed (the kill came after its one transaction).
            committed = s.query(
                "SELECT count(*) FROM check_run WHERE as_at_date = :d", d=dt.date.fromisoformat(on)
            )[0][0]
            again = s.cli(*args, check=False, timeout=300)
            if again.returncode != 0:
                out.failures.append(
                    f"{label} on {backend}: run again after a kill: exit "
                    f"{again.returncode}: {again.stderr[-300:]}"
                )
            if running:
                out.failures.append(f"{label} on {backend}: {running} check run(s) left 'running'.")
            rows.append(
                f"| {label} | {backend} | {took:.1f} | {_at(at)} | its run "
                f"{'had committed' if committed else 'left nothing (rolled back)'} "
                f"| check runs left running: {running} | {verify} | exit {again.returncode}: "
                f"{(again.stdout.splitlines() or [''])[0][:60]}… |"
            )
        held, last = audit_verify(s)
        if not held:
            out.failures.append(f"{label} on {backend}: audit verify fails at the end: {last}")
    return rows


# An SMTP server on 127.0.0.1: a sink that counts deliveries by Message-ID, flaky on request ---


class SmtpSink:
    """aiosmtpd's Controller with a handler that records each accepted message's Message-ID.

    With `flaky`, a third of the connections are dropped after EHLO (before any message), one
    message in six is answered `451` and one in 25 has its connection closed instead of an
    answer: none of these is delivered, so the sender must try again, and only once."""

    def __init__(self, *, flaky: bool = False, seed: int = 11):
        from aiosmtpd.controller import Controller

        self.flaky = flaky
        self.random = random.Random(seed)
        self.delivered: Counter[str] = Counter()
        self.connections = 0
        self.dropped_connections = 0
        self.refused_451 = 0
        self.dropped_in_data = 0
        self.port = free_port()
        self.controller = Controller(self, hostname=HOST, port=self.port)

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with suppress(Exception):
            self.controller.stop()

    @property
    def env(self) -> dict[str, str]:
        return {
            "COMPLIANCE_SMTP_HOST": HOST,
            "COMPLIANCE_SMTP_PORT": str(self.port),
            "COMPLIANCE_SMTP_SECURITY": "none",
            "COMPLIANCE_SMTP_TIMEOUT_SECONDS": "10",
        }

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]  # noqa: N802
        self.connections += 1
        if self.flaky and self.connections % 3 == 0:
            self.dropped_connections += 1
            server.transport.abort()
            return []
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        from email import message_from_bytes

        raw = envelope.original_content or envelope.content
        message_id = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode())[
            "Message-ID"
        ]
        if self.flaky:
            draw = self.random.random()
            if draw < 1 / 6:
                self.refused_451 += 1
                return "451 4.3.0 Try again later (reliability test)"
            if draw < 1 / 6 + 1 / 25:
                self.dropped_in_data += 1
                server.transport.abort()
                return "421 4.3.0 Closing (reliability test)"
        self.delivered[str(message_id)] += 1
        return "250 OK"


def outbox_ids(s: Site) -> dict[str, str]:
    """Each outbox message's Message-ID and status."""
    return dict(s.query("SELECT message_id, status FROM outbox_message"))


def delivery_words(sink: SmtpSink, outbox: dict[str, str]) -> tuple[int, int, int, int]:
    """(messages in the outbox, delivered once, delivered more than once, never delivered)."""
    once = sum(1 for m in outbox if sink.delivered.get(m) == 1)
    twice = sum(1 for m in outbox if sink.delivered.get(m, 0) > 1)
    never = sum(1 for m in outbox if not sink.delivered.get(m))
    return len(outbox), once, twice, never


# 3. Two schedulers on PostgreSQL --------------------------------------------------------------


def scenario_schedulers(backends: dict[str, str | None]) -> Outcome:
    out = Outcome("faults-schedulers", "3. Two schedulers on PostgreSQL, ticking every 5 s")
    admin_url = backends.get("postgresql")
    if not admin_url:
        out.failures.append("PostgreSQL was not reachable: not measured.")
        return out
    zone = ZoneInfo(TIMEZONE)
    now = dt.datetime.now(zone)
    slot = (now + dt.timedelta(seconds=25)).replace(second=0, microsecond=0) + dt.timedelta(
        minutes=1
    )
    at = f"{slot:%H:%M}"
    out.lines += [
        "Two `compliance scheduler` processes start together on one PostgreSQL database "
        "(`COMPLIANCE_SCHEDULER_TICK_SECONDS=5`), with `COMPLIANCE_CHECK_TIME`, "
        f"`COMPLIANCE_REMINDER_TIME` and `COMPLIANCE_DIGEST_TIME` all set to {at} (local), a "
        "minute or so ahead, and a local SMTP sink counting deliveries by Message-ID. Their "
        "first tick catches up the slots missed before (yesterday's check and reminders, last "
        "Monday's digest); once that is done the scheduler holding the advisory lock is killed "
        "with SIGKILL and a third one started, so two run again; today's slots fall due at "
        f"{at}; a few more ticks follow. Then the database is counted.",
        "",
    ]
    with site("postgresql", "schedulers", admin_url=admin_url) as s, SmtpSink() as sink:
        s.demo()
        s.extra_env |= sink.env | {
            "COMPLIANCE_SCHEDULER_TICK_SECONDS": "5",
            "COMPLIANCE_CHECK_TIME": at,
            "COMPLIANCE_REMINDER_TIME": at,
            "COMPLIANCE_DIGEST_TIME": at,
            "COMPLIANCE_TIMEZONE": TIMEZONE,
        }
        names = ["scheduler-a.log", "scheduler-b.log"]
        procs = {name: s.start("scheduler", log_name=name) for name in names}
        expected_first = 3  # yesterday's check and reminders, and last Monday's digest
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            done = s.query("SELECT count(*) FROM job_run WHERE finished_at IS NOT NULL")[0][0]
            if done >= expected_first:
                break
            time.sleep(1)
        holder = _holder(s, names)
        if holder:
            Processes.kill9(procs[holder])
            say(f"schedulers: killed {holder}, the lock holder")
        procs["scheduler-c.log"] = s.start("scheduler", log_name="scheduler-c.log")
        names.append("scheduler-c.log")
        # Today's slots, then a few more ticks to see that nothing runs twice.
        wait_until = slot.timestamp() + 60
        while time.time() < wait_until:
            done = s.query(
                "SELECT count(*) FROM job_run WHERE slot LIKE :d AND finished_at IS NOT NULL",
                d=f"{slot:%Y-%m-%dT%H:%M}%",
            )[0][0]
            if done >= 2 and time.time() > slot.timestamp() + 20:
                break
            time.sleep(1)
        for process in procs.values():
            Processes.stop(process, grace=10)
        runs = s.query("SELECT job, slot, status, detail FROM job_run ORDER BY job, slot")
        per_slot = Counter((job, slot_) for job, slot_, _, _ in runs)
        checks = s.query(
            "SELECT as_at_date, count(*) FROM check_run WHERE trigger = 'scheduler' "
            "GROUP BY as_at_date ORDER BY as_at_date"
        )
        outbox = outbox_ids(s)
        queued_twice = s.query(
            "SELECT count(*) - count(DISTINCT idempotency_key) FROM outbox_message"
        )[0][0]
        logs = {name: (s.work / name).read_text(errors="replace") for name in names}
    workers = [n for n, text_ in logs.items() if re.search(r"nightly_check \d{4}-", text_)]
    tracebacks = {n: t.count("Traceback") for n, t in logs.items() if "Traceback" in t}
    total, once, twice, never = delivery_words(sink, outbox)
    duplicates = sum(c - 1 for c in per_slot.values() if c > 1)
    check_dupes = sum(c - 1 for _, c in checks if c > 1)
    nightly = sum(1 for job, *_ in runs if job == "nightly_check")
    out.lines += [
        "| Job | Slot | Status | Runs of the slot (target 1) |",
        "|---|---|---|---|",
        *[
            f"| {job} | {slot_} | {status} | {per_slot[(job, slot_)]} |"
            for job, slot_, status, _ in runs
        ],
        "",
        "| Count | Measured | Target |",
        "|---|---|---|",
        f"| Slots run more than once (job_run) | {duplicates} | 0 |",
        f"| Check runs by the scheduler, per as-at date | "
        f"{', '.join(f'{d}: {c}' for d, c in checks) or 'none'} (nightly_check slots run: "
        f"{nightly}) | one per nightly_check slot |",
        f"| Emails queued twice (same idempotency key) | {queued_twice} | 0 |",
        f"| Emails in the outbox / delivered once / more than once / never | {total} / {once} / "
        f"{twice} / {never} | all once |",
        f"| Schedulers that ran jobs (from their logs) | {', '.join(workers) or 'none'} | one at a "
        "time; the survivor or the new one after the kill |",
    ]
    if duplicates or check_dupes or queued_twice:
        out.failures.append(
            f"{duplicates} slot(s) and {check_dupes} check run(s) ran twice, "
            f"{queued_twice} email(s) queued twice."
        )
    if twice:
        out.failures.append(f"{twice} email(s) were delivered more than once.")
    if never:
        out.failures.append(f"{never} email(s) in the outbox were never delivered.")
    if len(runs) < 5:
        out.failures.append(f"Only {len(runs)} slots ran (expected 5: three caught up, two today).")
    if any(status != "succeeded" for _, _, status, _ in runs):
        out.failures.append(
            "Some slots did not succeed: "
            + "; ".join(f"{j} {sl}: {st} {d}" for j, sl, st, d in runs if st != "succeeded")
        )
    if tracebacks:
        out.notes.append(f"Tracebacks in the schedulers' logs: {tracebacks}.")
    if not holder:
        out.notes.append("No scheduler was seen holding the lock before the kill; none was killed.")
    else:
        out.notes.append(f"Killed the lock holder ({holder}) after the catch-up.")
    return out


def _holder(s: Site, names: list[str]) -> str | None:
    """The scheduler whose log shows it ran the jobs."""
    for name in names:
        if re.search(r"nightly_check \d{4}-", (s.work / name).read_text(errors="replace")):
            return name
    return None


# 4. A flaky SMTP server -----------------------------------------------------------------------

ROUNDS = 40
SHIFT_HOURS = 13
# `compliance remind` with its clock moved forward, so that the retries (10 minutes to 12 hours
# away) are due at the next round without waiting for them.
TRAVEL = """
import datetime as dt, os, sys
import time_machine
shift = dt.timedelta(hours=float(os.environ["RELIABILITY_CLOCK_SHIFT_HOURS"]))
time_machine.travel(dt.datetime.now(dt.UTC) + shift, tick=True).start()
from compliance.cli import main
sys.argv = ["compliance", *sys.argv[1:]]
main()
"""


def scenario_smtp(backends: dict[str, str | None]) -> Outcome:
    out = Outcome("faults-smtp", "4. An SMTP server that drops a third of its connections")
    out.lines += [
        "A local SMTP server (aiosmtpd) drops every third connection right after EHLO, answers "
        "`451` to one message in six and closes the connection instead of answering one in 25. "
        "`compliance remind --at TODAY --digest` (with `COMPLIANCE_SMTP_SECURITY=none`) runs "
        "again and "
        f"again, at most {ROUNDS} times, until the outbox holds nothing queued or sending. So "
        "that the retries (10 minutes to 12 hours later) are due without waiting, round k runs "
        f"with its clock moved k × {SHIFT_HOURS} hours ahead (time-machine, in that process "
        "only); the reminders are queued for today's date every time (`--at`), so the same "
        "messages stay due. Deliveries are counted by Message-ID at the server.",
        "",
        "| Backend | Rounds | Emails in the outbox | Delivered once | More than once (target 0) "
        "| Never delivered (target 0) | Dead | Failures the server caused (dropped connections, "
        "451s, closed in DATA) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, admin_url in backends.items():
        say(f"smtp on {backend}")
        try:
            out.lines.append(_smtp_on(backend, admin_url, out))
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            out.failures.append(f"On {backend} the scenario did not complete: {exc!r}.")
    return out


def _smtp_on(backend: str, admin_url: str | None, out: Outcome) -> str:
    with site(backend, f"smtp-{backend}", admin_url=admin_url) as s, SmtpSink(flaky=True) as sink:
        s.demo()
        s.extra_env |= sink.env
        on = today().isoformat()
        rounds, outputs = 0, []
        deadline = time.monotonic() + 150
        for number in range(ROUNDS):
            if time.monotonic() > deadline:
                break
            env = s.env | {"RELIABILITY_CLOCK_SHIFT_HOURS": str(number * SHIFT_HOURS)}
            done = subprocess.run(
                [sys.executable, "-c", TRAVEL, "remind", "--at", on, "--digest"],
                env=env,
                cwd=s.work,
                capture_output=True,
                text=True,
                timeout=120,
            )
            rounds += 1
            outputs.append(done.stdout + done.stderr)
            if done.returncode != 0:
                out.failures.append(
                    f"On {backend}, `compliance remind` exited {done.returncode}: "
                    f"{(done.stdout + done.stderr)[-300:]}"
                )
                break
            pending = s.query(
                "SELECT count(*) FROM outbox_message WHERE status IN ('queued', 'sending')"
            )[0][0]
            if pending == 0:
                break
        outbox = outbox_ids(s)
        statuses = Counter(outbox.values())
    total, once, twice, never = delivery_words(sink, outbox)
    if twice:
        out.failures.append(f"On {backend}, {twice} email(s) were delivered more than once.")
    if never:
        out.failures.append(
            f"On {backend}, {never} of {total} emails were never delivered "
            f"(outbox: {dict(statuses)})."
        )
    if total == 0:
        out.failures.append(f"On {backend}, `compliance remind` queued nothing to send.")
    out.notes.append(
        f"{backend}: outbox at the end: {dict(statuses)}; first round said: "
        f"{' '.join(outputs[0].split())[:200] if outputs else '–'}"
    )
    return (
        f"| {backend} | {rounds} | {total} | {once} | {twice} | {never} "
        f"| {statuses.get('dead', 0)} "
        f"| {sink.dropped_connections} of {sink.connections} connections, {sink.refused_451} × "
        f"451, {sink.dropped_in_data} closed in DATA |"
    )


# 5. The private PostgreSQL restarted under load ------------------------------------------------

CLIENTS = 20
LOAD_SECONDS = 30.0
RESTART_AT = 10.0
DOWN_SECONDS = 3.0


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a temporary folder (initdb, trust, 127.0.0.1 only),
    run as the postgres OS user; stopped and removed afterwards whatever happens."""

    def __init__(self, preferred_port: int = 5499):
        import glob
        import pwd

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = Path(found[-1]).parent
        self.user = pwd.getpwnam("postgres")
        self.port = free_port(preferred_port)
        self.folder = Path(tempfile.mkdtemp(prefix="compliance-rel-pg-"))
        self.data = self.folder / "data"
        self.admin_url = f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def _as_postgres(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
        )

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories={self.folder}"
        )
        return self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            *args,
        )

    def __enter__(self) -> "PrivatePostgres":
        try:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
            done = self._as_postgres(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
            done = self.pg_ctl("start")
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._as_postgres(
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                )
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():  # pg_ctl could not stop it: our own postmaster, by its id
                with suppress(ValueError, ProcessLookupError, OSError):
                    os.kill(int(pid_file.read_text().split()[0]), 9)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def version(self) -> str:
        return self._as_postgres(str(self.bin / "postgres"), "--version").stdout.strip()


@dataclass
class Answer:
    began: float
    ended: float
    kind: str
    status: int | str
    retry_after: str | None


def scenario_restart(backends: dict[str, str | None]) -> Outcome:
    out = Outcome("faults-restart", "5. PostgreSQL restarted under load")
    say("restart: starting a private PostgreSQL cluster")
    with PrivatePostgres() as pg, site("postgresql", "restart", admin_url=pg.admin_url) as s:
        out.lines += [
            f"A private cluster ({pg.version()}, initdb in a temporary folder, port {pg.port}, "
            f"127.0.0.1 only) holds the demo area; `compliance serve` runs on it. {CLIENTS} "
            f"clients read and write for {LOAD_SECONDS:.0f} s (API listings, status roll-ups, "
            "evidence reads, body pages with a session cookie, and 20 KB evidence uploads by "
            f"token), and a poller asks `/readyz` every 0.5 s. At {RESTART_AT:.0f} s PostgreSQL "
            f"is stopped (`pg_ctl stop -m fast`), left down {DOWN_SECONDS:.0f} s and started "
            "again; the server is not touched. Requests are put in the outage if they began "
            "between the stop and 1 s after the start.",
            "",
        ]
        s.demo()
        token = s.token(OFFICER)
        server, base = serve(s, "serve.log")
        periods = writable_periods(base, token, CORNWALL)
        evidence_ids = [r[0] for r in s.query("SELECT id FROM evidence ORDER BY id LIMIT 10")]
        cookies = []
        for _ in range(4):
            with httpx.Client(base_url=base, timeout=60) as client:
                client.post(
                    "/sign-in", data={"email": OFFICER, "password": DEMO_PASSWORD, "next": "/"}
                )
                cookies.append(dict(client.cookies))
        answers: list[Answer] = []
        ready: list[tuple[float, int | str]] = []
        lock = threading.Lock()
        began = time.monotonic()
        stop_at = began + LOAD_SECONDS
        salt = os.urandom(4).hex()

        def client_loop(number: int) -> None:
            rng = random.Random(number)
            with httpx.Client(
                base_url=base, timeout=30, cookies=cookies[number % len(cookies)]
            ) as client:
                count = 0
                while time.monotonic() < stop_at and count < 2000:
                    count += 1
                    draw = rng.random()
                    t0 = time.monotonic() - began
                    try:
                        if draw < 0.25:
                            kind = "api list"
                            r = client.get(
                                "/api/v1/obligations",
                                params={"body": CORNWALL, "limit": 20},
                                headers=api(token),
                            )
                        elif draw < 0.45:
                            kind = "api status"
                            r = client.get(f"/api/v1/bodies/{CORNWALL}/status", headers=api(token))
                        elif draw < 0.6:
                            kind = "api evidence"
                            r = client.get(
                                f"/api/v1/evidence/{rng.choice(evidence_ids)}", headers=api(token)
                            )
                        elif draw < 0.8:
                            kind = "page"
                            r = client.get(f"/bodies/{CORNWALL}")
                        else:
                            kind = "upload"
                            obligation, occurrence = rng.choice(periods)
                            r = client.post(
                                f"/api/v1/obligations/{obligation}/evidence",
                                headers=api(token),
                                data={
                                    "kind": "document",
                                    "title": f"Restart upload {number}-{count} {salt}",
                                    "effective_date": (today() - dt.timedelta(days=1)).isoformat(),
                                    "occurrence_ids": str(occurrence),
                                },
                                files={
                                    "file": (
                                        "f.pdf",
                                        pdf_like(count, 20_000, salt),
                                        "application/pdf",
                                    )
                                },
                            )
                        status: int | str = r.status_code
                        retry = r.headers.get("retry-after")
                    except httpx.TransportError as exc:
                        status, retry = classify(exc), None
                    with lock:
                        answers.append(Answer(t0, time.monotonic() - began, kind, status, retry))
                    time.sleep(rng.uniform(0.05, 0.2))

        def poll_ready() -> None:
            while time.monotonic() < stop_at + 5:
                t0 = time.monotonic() - began
                try:
                    code: int | str = httpx.get(f"{base}/readyz", timeout=5).status_code
                except httpx.TransportError as exc:
                    code = classify(exc)
                ready.append((t0, code))
                time.sleep(0.5)

        threads = [
            threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(CLIENTS)
        ]
        threads.append(threading.Thread(target=poll_ready, daemon=True))
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, began + RESTART_AT - time.monotonic()))
        down_from = time.monotonic() - began
        stopped = pg.pg_ctl("-m", "fast", "stop")
        time.sleep(DOWN_SECONDS)
        started = pg.pg_ctl("start")
        up_at = time.monotonic() - began
        if stopped.returncode or started.returncode:
            out.failures.append(f"pg_ctl stop/start failed: {stopped.stderr}{started.stderr}")
        for thread in threads:
            thread.join(timeout=LOAD_SECONDS + 60)
        saved = s.query(
            "SELECT count(*) FROM evidence WHERE title LIKE :t", t=f"Restart upload % {salt}"
        )[0][0]
        alive = server.poll() is None
        Processes.stop(server, grace=10)
        tracebacks = server_errors(s, "serve.log")
        log_text = (s.work / "serve.log").read_text(errors="replace")

    def phase(a: Answer) -> str:
        if a.began < down_from:
            return "before" if a.ended < down_from else "outage"
        return "outage" if a.began <= up_at + 1 else "after"

    table: dict[str, Counter] = defaultdict(Counter)
    for a in answers:
        label = str(a.status)
        if a.status == 503:
            label = "503 with Retry-After" if a.retry_after else "503 without Retry-After"
        table[phase(a)][label] += 1
    created = sum(1 for a in answers if a.status == 201)
    back_ok = [
        a for a in answers if a.began >= up_at and isinstance(a.status, int) and a.status < 400
    ]
    first_ok = min((a.ended for a in back_ok), default=None)
    after_errors = sum(
        1
        for a in answers
        if phase(a) == "after" and not (isinstance(a.status, int) and a.status < 400)
    )
    late_errors = [
        a
        for a in answers
        if a.began > up_at + 5 and not (isinstance(a.status, int) and a.status < 400)
    ]
    fives = sum(c for t in table.values() for k, c in t.items() if k == "500")
    bare_503 = sum(t.get("503 without Retry-After", 0) for t in table.values())
    ready_after = next((t for t, c in ready if t > up_at and c == 200), None)
    ready_down = [c for t, c in ready if down_from <= t <= up_at]
    labels = sorted({k for t in table.values() for k in t})
    ready_words = f"{ready_after - up_at:.1f} s after the start" if ready_after else "never"
    out.lines += [
        f"PostgreSQL was stopped at {down_from:.1f} s and running again at {up_at:.1f} s.",
        "",
        "| Phase | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
        *[
            f"| {p} | " + " | ".join(str(table[p].get(k, 0)) for k in labels) + " |"
            for p in ("before", "outage", "after")
        ],
        "",
        "| Check | Measured | Target |",
        "|---|---|---|",
        f"| 500 answers | {fives} | 0 |",
        f"| 503 answers without Retry-After | {bare_503} | 0 |",
        f"| First successful answer after PostgreSQL was back | "
        f"{f'{first_ok - up_at:.1f} s after' if first_ok else 'none'} | within a few seconds |",
        "| Errors among requests begun more than 5 s after PostgreSQL was back "
        f"| {len(late_errors)} | 0 |",
        f"| `/readyz` during the outage | {dict(Counter(map(str, ready_down)))} | 503 |",
        f"| `/readyz` 200 again | {ready_words} | soon after the start |",
        f"| Server process still running at the end, never restarted | {alive} | True |",
        f"| Uploads answered 201 / rows found afterwards | {created} / {saved} | equal |",
    ]
    if fives:
        out.failures.append(f"{fives} answer(s) were 500.")
    if bare_503:
        out.failures.append(f"{bare_503} answer(s) were 503 without Retry-After.")
    if late_errors:
        out.failures.append(
            f"{len(late_errors)} request(s) begun more than 5 s after the restart "
            f"failed: {dict(Counter(str(a.status) for a in late_errors))}."
        )
    if not first_ok:
        out.failures.append("No request succeeded after PostgreSQL came back.")
    if created != saved:
        out.failures.append(f"{created} uploads were answered 201 but {saved} rows were found.")
    if not alive:
        out.failures.append("The server process died.")
    transport = sum(c for t in table.values() for k, c in t.items() if not k[:3].isdigit())
    if transport:
        out.failures.append(
            f"{transport} request(s) got no HTTP answer at all (connection errors "
            "to the server, which was never stopped)."
        )
    if tracebacks:
        out.notes.append(
            f"The server's log holds {tracebacks} traceback(s); first lines: "
            + "; ".join(_traceback_heads(log_text)[:3])
        )
    out.notes.append(
        f"Errors among requests begun from 1 s after PostgreSQL was started again: {after_errors}."
    )
    return out


def _traceback_heads(text_: str) -> list[str]:
    """The exception line at the end of each traceback in a log."""
    heads = []
    for block in text_.split("Traceback (most recent call last):")[1:]:
        lines = [line for line in block.splitlines() if line and not line.startswith(" ")]
        if lines:
            heads.append(f"`{lines[0][:160]}`")
    return heads


# main -------------------------------------------------------------------------------------------

SCENARIOS = {
    "uploads": scenario_uploads,
    "renders": scenario_renders,
    "schedulers": scenario_schedulers,
    "smtp": scenario_smtp,
    "restart": scenario_restart,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=harness.DOC)
    args = parser.parse_args(argv)
    shared = None if args.no_postgres else harness.reachable_postgres()
    backends = {"sqlite": None} | ({"postgresql": shared} if shared else {})
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    failures = 0
    previous = "faults-machine"
    # The machine's section first, so that the scenarios' sections follow it in the file.
    harness.write_section(previous, "## Faults (`make faults`)\n\n(running)", path=args.output)
    for name in args.only:
        began = time.monotonic()
        try:
            outcome = SCENARIOS[name](backends)
        except Exception as exc:  # noqa: BLE001 - a broken scenario is reported, not hidden
            traceback.print_exc()
            outcome = Outcome(f"faults-{name}", f"{name}")
            outcome.failures.append(f"The scenario did not complete: {exc!r}.")
        outcome.lines.append("")
        outcome.lines.append(f"Scenario time: {time.monotonic() - began:.0f} s.")
        failures += len(outcome.failures)
        harness.write_section(outcome.key, outcome.markdown(), after=previous, path=args.output)
        previous = outcome.key
        say(f"{name}: {'; '.join(outcome.failures) or 'every target met'}")
    lines = [
        f"## Faults (`make faults`), run of {harness.utc_stamp()}",
        "",
        *harness.machine({"shared server": shared}, load_at_start),
        f"- Scenarios run: {', '.join(args.only)}; {time.monotonic() - started:.0f} s in all",
    ]
    harness.write_section("faults-machine", "\n".join(lines), path=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
