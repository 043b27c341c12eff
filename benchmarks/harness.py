"""What benchmarks.faults and benchmarks.load share: throw-away sites (a data folder and a
database, SQLite or a fresh PostgreSQL database), `compliance` commands and servers run as child
processes in their own process groups (so that kill -9 takes the whole group, and nothing is left
running), HTTP helpers, the machine's description, and docs/reliability.md, in which each
scenario owns a section between markers and replaces only that one.

Everything talks to 127.0.0.1 only, and every wait is bounded.
"""

import datetime as dt
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
SHARED_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEMO_PASSWORD = "demo-password-2026"
ADMIN = "admin@demo.example.org"
OFFICER = "officer.cornwall@demo.example.org"
ICB_OFFICER = "officer.icb@demo.example.org"
INSPECTOR = "inspector@demo.example.org"
CORNWALL = "E06000052"
ICB = "QT6"
HOST = "127.0.0.1"
COMMAND = [sys.executable, "-m", "compliance.cli"]


def log(tag: str, message: str) -> None:
    print(f"[{tag} {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def free_port(preferred: int | None = None) -> int:
    """A free TCP port on 127.0.0.1 (the preferred one if it is free)."""
    if preferred:
        with socket.socket() as probe:
            try:
                probe.bind((HOST, preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    """The fraction-th quantile (0.5 the median), nearest-rank inclusive; nan for none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


# Processes ------------------------------------------------------------------------------------


class Processes:
    """Every child process a scenario starts, each in a new session (its own process group), so
    that kill -9 reaches everything it started and cleanup leaves nothing behind."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], *, env: dict, log_path: Path, cwd: Path | None = None):  # type: ignore[no-untyped-def]
        stream = log_path.open("ab")
        try:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=cwd or ROOT,
                stdout=stream,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            stream.close()
        self.started.append(process)
        return process

    @staticmethod
    def kill9(process: subprocess.Popen) -> None:
        """SIGKILL to the process's whole group, then reap it."""
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)

    @staticmethod
    def stop(process: subprocess.Popen, grace: float = 15) -> None:
        """SIGTERM to the group, and SIGKILL if it has not ended within the grace period."""
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                Processes.kill9(process)
        # Anything the group left behind (it was its own session) goes too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in self.started:
            self.stop(process, grace=5)
        self.started.clear()


# Sites: a data folder and a database ------------------------------------------------------------


@dataclass
class Site:
    """A throw-away installation: its database, its data folder, the environment for commands."""

    name: str
    backend: str
    url: str
    data_dir: Path
    work: Path
    procs: Processes
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("COMPLIANCE_")}
        return (
            keep
            | {
                "COMPLIANCE_DATABASE_URL": self.url,
                "COMPLIANCE_DATA_DIR": str(self.data_dir),
                "COMPLIANCE_ENVIRONMENT": "development",
                "PYTHONUNBUFFERED": "1",
            }
            | self.extra_env
        )

    def cli(
        self,
        *args: str,
        timeout: float = 300,
        check: bool = True,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*COMMAND, *args],
            env=env or self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"compliance {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done

    def start(self, *args: str, log_name: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.procs.start(
            [*COMMAND, *args], env=env or self.env, log_path=self.work / log_name, cwd=self.work
        )

    def demo(self) -> str:
        """init, then the demo area; the demo's output (its sign-ins)."""
        self.cli("init")
        return self.cli("demo").stdout

    def token(self, email: str, name: str = "reliability") -> str:
        return self.cli("token", "create", "--email", email, "--name", name).stdout.strip()

    def serve(self, port: int, *, scheduler: bool = False, log_name: str = "serve.log"):  # type: ignore[no-untyped-def]
        args = ["serve", "--host", HOST, "--port", str(port)]
        return self.start(*args, *([] if scheduler else ["--no-scheduler"]), log_name=log_name)

    def query(self, sql: str, **params: object) -> list[tuple]:
        """Rows of a query, on a connection of its own (no pool left behind)."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()


@contextmanager
def postgres_database(admin_url: str, prefix: str = "compliance_rel") -> Iterator[str]:
    """A fresh database on the server, dropped afterwards whatever happens."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def site(backend: str, name: str, *, admin_url: str | None = None) -> Iterator[Site]:
    """A fresh site in a temporary folder: SQLite in it, or a new database on admin_url's
    server. Every process started for it is stopped, the database dropped and the folder
    removed afterwards, whatever happens."""
    work = Path(tempfile.mkdtemp(prefix=f"compliance-rel-{name}-"))
    procs = Processes()
    try:
        if backend == "sqlite":
            yield Site(
                name, backend, f"sqlite:///{work / 'compliance.db'}", work / "data", work, procs
            )
        else:
            with postgres_database(admin_url or SHARED_POSTGRES) as url:
                try:
                    yield Site(name, backend, url, work / "data", work, procs)
                finally:
                    procs.stop_all()  # before the database is dropped
    finally:
        procs.stop_all()
        if os.environ.get("RELIABILITY_KEEP") == "1":  # for looking into a failed run
            log("harness", f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def reachable_postgres(url: str = SHARED_POSTGRES) -> str | None:
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return url
    except Exception as exc:  # noqa: BLE001 - any failure: PostgreSQL is not measured
        log("harness", f"PostgreSQL not reachable at {url}: {exc!r}")
        return None
    finally:
        engine.dispose()


def wait_ready(base: str, process: subprocess.Popen | None = None, timeout: float = 90) -> float:
    """Wait until GET /readyz answers 200; the seconds it took. Raises if it never does."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        with suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=3).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"{base} was not ready within {timeout:.0f} s")


def classify(exc: BaseException) -> str:
    """A transport failure in words a reader can count by."""
    name = type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout ({name})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection reset/closed"
    return f"{name}: {cause!r}" if cause else name


# The machine ------------------------------------------------------------------------------------


def machine(postgres_urls: dict[str, str | None], load_at_start: float | None = None) -> list[str]:
    """The machine, OS, interpreter and database versions, as Markdown list lines."""
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = next((line.split(":", 1)[1].strip() for line in meminfo if "MemTotal" in line), "?")
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    os_name = "?"
    with suppress(OSError):
        release = Path("/etc/os-release").read_text()
        found = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', release, re.M)
        os_name = found.group(1) if found else "?"
    lines = [
        f"- CPUs: {len(os.sched_getaffinity(0))} usable (`nproc`) of {os.cpu_count()}, "
        f"{model.group(1).strip() if model else '?'}; memory {memory}",
        f"- OS: {os_name}, kernel {platform.release()} ({platform.machine()})",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]
    for label, url in postgres_urls.items():
        if not url:
            lines.append(f"- PostgreSQL ({label}): not reachable, not measured")
            continue
        try:
            engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                version = connection.execute(text("SHOW server_version")).scalar_one()
            engine.dispose()
            parsed = make_url(url)
            lines.append(f"- PostgreSQL {version} ({label}, {parsed.host}:{parsed.port or 5432})")
        except Exception as exc:  # noqa: BLE001
            lines.append(f"- PostgreSQL ({label}): version not read ({type(exc).__name__})")
    load = os.getloadavg()
    start = f"{load_at_start:.1f} at the start, " if load_at_start is not None else ""
    lines.append(
        f"- Load average (1 min): {start}{load[0]:.1f} at the end (5 min: {load[1]:.1f}); the "
        "machine may be shared with other work, which this says"
    )
    return lines


def utc_stamp() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"


# docs/reliability.md ----------------------------------------------------------------------------

INTRO = """# Reliability: faults and load

`make faults` and `make load` write the figures below (`benchmarks/faults.py`,
`benchmarks/load.py`, with `benchmarks/harness.py`). Each scenario runs on a fresh data folder and
a fresh database (SQLite in a temporary folder, or a new database on the PostgreSQL server at
127.0.0.1:5432, dropped afterwards), loaded with `compliance init` and `compliance demo`, and
replaces only its own section between the `<!-- BEGIN ... -->` and `<!-- END ... -->` markers;
the rest of this file is written by hand. Every figure is as measured, with its target beside it.

"""


def _markers(key: str) -> tuple[str, str]:
    return (
        f"<!-- BEGIN {key} (written by the benchmark; replaced at each run) -->",
        f"<!-- END {key} -->",
    )


def write_section(key: str, body: str, *, after: str | None = None, path: Path = DOC) -> None:
    """Replace the section `key` of the document with `body`, or add it (after the section
    `after`, if that exists, otherwise at the end)."""
    begin, end = _markers(key)
    text_ = path.read_text(encoding="utf-8") if path.exists() else INTRO
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text_):
        text_ = pattern.sub(lambda _m: block, text_, count=1)
    else:
        anchor = _markers(after)[1] if after else None
        if anchor and anchor in text_:
            text_ = text_.replace(anchor, f"{anchor}\n\n{block}", 1)
        else:
            text_ = text_.rstrip() + f"\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_.rstrip() + "\n", encoding="utf-8")


def verdict(ok: bool | None) -> str:
    return {True: "**met**", False: "**missed**", None: "not measured"}[ok]
