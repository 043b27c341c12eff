"""Sign-in throttling: parallel attempts cannot pass the limit, and guessing from one address
cannot lock other people out (issue 15, item 4)."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

import compliance.accounts.service as accounts
from compliance.accounts.models import SignInAttempt
from compliance.accounts.service import SIGN_IN_FAILED, THROTTLED, authenticate
from compliance.db import UNAVAILABLE, make_engine, writer
from compliance.errors import Refused
from compliance.migrations import upgrade
from tests.conftest import PASSWORD, make_user

PARALLEL = 30
LIMIT = 5


class CountingPasswords:
    """The suite's password hasher, counting how many passwords are checked."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.checked = 0
        self.lock = threading.Lock()

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password: str, stored: str) -> bool:
        with self.lock:
            self.checked += 1
        return self.inner.verify(password, stored)


@pytest.fixture
def file_engine(fresh_url):  # type: ignore[no-untyped-def]
    """A migrated database in a file (on SQLite), with its own connections for each thread."""
    upgrade(fresh_url)
    engine = make_engine(fresh_url, pool_size=PARALLEL, busy_timeout_seconds=60)
    yield engine
    engine.dispose()


def _guess(bind, email: str, start: threading.Barrier) -> int:  # type: ignore[no-untyped-def]
    """One wrong guess, as the sign-in page makes it: the HTTP status it would be answered."""
    start.wait()
    with Session(bind, expire_on_commit=False) as session:
        try:
            authenticate(
                session=session,
                email=email,
                password="a wrong guess at the password",
                address="198.51.100.7",
                max_failures=LIMIT,
                max_failures_per_address=1000,
            )
        except Refused as exc:
            status = exc.status
        try:
            session.commit()
        except UNAVAILABLE:
            return 503  # the database was busy: "try again", nothing stored
    return status


# "deferred" reads without a lock, as every PostgreSQL transaction does at READ COMMITTED;
# "immediate" is how a page's POST begins on SQLite.
@pytest.mark.parametrize("begin", ["deferred", "immediate"])
def test_parallel_attempts_check_no_more_passwords_than_the_limit(file_engine, monkeypatch, begin):
    with Session(file_engine) as session:
        email = make_user(session, "admin").email
        session.commit()
    counting = CountingPasswords(accounts.PASSWORDS)
    monkeypatch.setattr(accounts, "PASSWORDS", counting)
    bind = writer(file_engine) if begin == "immediate" else file_engine
    start = threading.Barrier(PARALLEL)
    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(lambda _: _guess(bind, email, start), range(PARALLEL)))
    assert counting.checked <= LIMIT, f"{counting.checked} passwords checked, limit {LIMIT}"
    # Those that commit after the first LIMIT are refused unchecked; when all commit before any
    # counts (as on PostgreSQL, where nothing serialises them), every one is.
    assert set(answers) <= {401, 429} and answers.count(429) >= PARALLEL - LIMIT
    assert answers.count(401) <= LIMIT


def _attempt(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/sign-in", data={"email": email, "password": password}, follow_redirects=False
    )


def test_guessing_at_many_accounts_from_an_address_does_not_lock_out_the_admin(app, session):
    admin = make_user(session, "admin")
    shared = TestClient(app, client=("203.0.113.9", 50000))
    for _ in range(50):
        stranger = f"guess-{uuid.uuid4().hex[:8]}@example.org"
        assert _attempt(shared, stranger, "wrong").status_code == 401
    assert _attempt(shared, admin.email, PASSWORD).status_code == 303


def test_an_account_guessed_at_is_refused_from_that_address_only(app, session, settings):
    officer = make_user(session, "officer")
    guesser = TestClient(app, client=("203.0.113.10", 50000))
    for _ in range(settings.sign_in_max_failures):
        assert SIGN_IN_FAILED in _attempt(guesser, officer.email, "wrong").text
    refused = _attempt(guesser, officer.email, PASSWORD)
    assert refused.status_code == 429 and THROTTLED in refused.text
    elsewhere = TestClient(app, client=("198.51.100.20", 50000))
    assert _attempt(elsewhere, officer.email, PASSWORD).status_code == 303


def test_an_address_past_the_higher_bar_is_refused_for_every_account(app, session, settings):
    officer = make_user(session, "officer")
    address = "203.0.113.11"
    bar = settings.sign_in_max_failures_per_address
    session.add_all(
        SignInAttempt(email=f"guess-{n}@example.org", address=address, succeeded=False)
        for n in range(bar - 1)
    )
    session.flush()
    client = TestClient(app, client=(address, 50000))
    assert _attempt(client, "one-more@example.org", "wrong").status_code == 401  # the bar
    refused = _attempt(client, officer.email, PASSWORD)
    assert refused.status_code == 429 and THROTTLED in refused.text
    other = TestClient(app, client=("198.51.100.21", 50000))
    assert _attempt(other, officer.email, PASSWORD).status_code == 303


def test_the_limits_are_settings(monkeypatch):
    from compliance.config import Settings

    monkeypatch.setenv("COMPLIANCE_SIGN_IN_MAX_FAILURES", "3")
    monkeypatch.setenv("COMPLIANCE_SIGN_IN_MAX_FAILURES_PER_ADDRESS", "40")
    settings = Settings()
    assert (settings.sign_in_max_failures, settings.sign_in_max_failures_per_address) == (3, 40)
