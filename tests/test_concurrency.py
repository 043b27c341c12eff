"""Ordinary concurrency, on SQLite and PostgreSQL: `compliance serve` on the demo area takes ten
1 MB uploads and twenty-five sign-ins at once, with only four worker threads, so that every thread
waits on a lock (SQLite's writer, the audit chain's) while the request holding it must still
finish. Each is saved or told to retry (503 with Retry-After); none is a 500, a reset connection
or a hang, and every file has its row and every row its file."""

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

# Its claim is about two cores: run after the parallel suite, alone (see the Makefile).
pytestmark = pytest.mark.alone

UPLOADS = 10
SIGN_INS = 25


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "compliance.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def served(fresh_url: str, tmp_path: Path) -> Iterator[dict]:
    """The demo area on a fresh database, served by `compliance serve` with four threads."""
    folder = tmp_path
    env = os.environ | {
        "COMPLIANCE_DATABASE_URL": fresh_url,
        "COMPLIANCE_DATA_DIR": str(folder / "data"),
        "COMPLIANCE_ENVIRONMENT": "development",
        "COMPLIANCE_WORKER_THREADS": "4",
    }
    logins = sorted(set(re.findall(r"[\w.]+@demo\.example\.org", _cli(env, "demo"))))
    officer = "officer.cornwall@demo.example.org"
    token = _cli(env, "token", "create", "--email", officer, "--name", "load").strip()
    base = f"http://127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "compliance.cli", "serve", "--port", base.rsplit(":", 1)[1]]
    log = (folder / "server.log").open("w")
    process = subprocess.Popen([*command, "--no-scheduler"], env=env, stdout=log, stderr=log)
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        yield {"base": base, "token": token, "logins": logins, "folder": folder, "env": env}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _period(served: dict) -> tuple[int, int]:
    page = httpx.get(
        f"{served['base']}/api/v1/obligations",
        params={"body": "E06000052", "limit": 1},
        headers={"Authorization": f"Bearer {served['token']}"},
        timeout=30,
    ).json()
    item = page["items"][0]
    return item["id"], item["periods"][0]["occurrence_id"]


def _upload(served: dict, obligation: int, occurrence: int, number: int) -> tuple[int, str]:
    content = "".join(f"upload {number}, line {i}\n" for i in range(60_000)).encode()[:1_000_000]
    try:
        answer = httpx.post(
            f"{served['base']}/api/v1/obligations/{obligation}/evidence",
            headers={"Authorization": f"Bearer {served['token']}"},
            data={
                "kind": "document",
                "title": f"Partnership board minutes {number}",
                "effective_date": "2026-11-20",
                "occurrence_ids": str(occurrence),
            },
            files={"file": (f"minutes-{number}.txt", content, "text/plain")},
            timeout=60,
        )
    except httpx.TransportError as exc:
        return 0, f"connection failed: {exc!r}"
    if answer.status_code == 201:
        assert answer.json()["sha256"] == hashlib.sha256(content).hexdigest()
    return answer.status_code, answer.headers.get("retry-after", "")


def _sign_in(served: dict, number: int) -> tuple[int, str]:
    email = served["logins"][number % len(served["logins"])]
    try:
        answer = httpx.post(
            f"{served['base']}/sign-in",
            data={"email": email, "password": "demo-password-2026", "next": "/"},
            timeout=60,
        )
    except httpx.TransportError as exc:
        return 0, f"connection failed: {exc!r}"
    return answer.status_code, answer.headers.get("retry-after", "")


def test_ten_uploads_and_twenty_five_sign_ins_at_once(served):
    obligation, occurrence = _period(served)
    with ThreadPoolExecutor(max_workers=UPLOADS + SIGN_INS) as pool:
        uploads = [pool.submit(_upload, served, obligation, occurrence, n) for n in range(UPLOADS)]
        sign_ins = [pool.submit(_sign_in, served, n) for n in range(SIGN_INS)]
        upload_answers = [f.result() for f in uploads]
        sign_in_answers = [f.result() for f in sign_ins]
    statuses = Counter(status for status, _ in upload_answers + sign_in_answers)
    # Saved or signed in (201, 303), or told plainly to try again: nothing else.
    assert set(statuses) <= {201, 303, 503}, (upload_answers, sign_in_answers)
    assert all(retry.isdigit() for status, retry in upload_answers if status == 503)
    assert all(retry.isdigit() for status, retry in sign_in_answers if status == 503)
    # On two cores within the default busy timeout, every one of them gets through.
    log = [
        ln for ln in (served["folder"] / "server.log").read_text().splitlines() if "INFO" not in ln
    ]
    assert statuses == Counter({201: UPLOADS, 303: SIGN_INS}), (statuses, log[-20:])

    fsck = subprocess.run(
        [sys.executable, "-m", "compliance.cli", "evidence", "fsck"],
        env=served["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    stored = [p for p in Path(served["folder"], "data", "evidence").rglob("*") if p.is_file()]
    assert not [p for p in stored if p.name.startswith(".incoming-")]
