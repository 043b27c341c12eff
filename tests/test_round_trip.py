"""docs/api-round-trip.sh, run with curl against a real server on the demo area: what the README
shows a council's developer must work as written."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "docs" / "api-round-trip.sh"
OFFICER = "officer.cornwall@demo.example.org"

pytestmark = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")),
    reason="the round-trip script needs curl and jq (apt-get install curl jq)",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _compliance(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "compliance.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo area served by `compliance serve` on a free port, on a fresh SQLite file."""
    folder = tmp_path_factory.mktemp("round-trip")
    env = os.environ | {
        "COMPLIANCE_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "COMPLIANCE_DATA_DIR": str(folder / "data"),
        "COMPLIANCE_ENVIRONMENT": "development",
    }
    _compliance(env, "demo")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "compliance.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                with urlopen(f"{base}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (URLError, ConnectionError):
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start: " + (process.stderr.read() or ""))
        yield base, env
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_documented_round_trip_runs_as_written(server, tmp_path):
    base, env = server
    token = _compliance(env, "token", "create", "--email", OFFICER, "--name", "round trip")
    script_env = os.environ | {
        "BASE_URL": base,
        "TOKEN": token.stdout.strip(),
        "OUT": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=script_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = tmp_path / "audit-report-E06000052.pdf"
    assert report.read_bytes().startswith(b"%PDF-")
    assert "Evidence recorded" in done.stdout
    assert "Process:" in done.stdout and "Outcome:" in done.stdout


def test_the_round_trip_stops_with_the_problem_when_the_token_is_wrong(server, tmp_path):
    base, _ = server
    script_env = os.environ | {"BASE_URL": base, "TOKEN": "cpt_wrong", "OUT": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=script_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "unknown, expired or revoked" in done.stdout + done.stderr
    assert not list(tmp_path.iterdir())
