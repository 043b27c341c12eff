"""Schemathesis fuzzes every operation of the API as an admin, an officer, an inspector and
nobody, on a fresh database holding the demo area: no answer may be a server error, and every
answer must be one the OpenAPI document describes (status, content type, body).

COMPLIANCE_FUZZ_EXAMPLES sets the examples per operation (small and repeatable in `make test`;
`make fuzz` asks for many more, drawn at random).
"""

import os
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.exceptions import RequestValidationError
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from compliance.accounts.tokens import create_token
from compliance.api import NUL_MESSAGE
from compliance.config import Settings
from compliance.db import get_engine, session_scope
from compliance.main import create_app, invalid_request
from tests.conftest import DemoTemplate, copy_demo, drop_database, make_user

EXAMPLES = int(os.environ.get("COMPLIANCE_FUZZ_EXAMPLES", "8"))
# `make test` draws the same examples every run, so a red CI run can be reproduced.
RANDOM = os.environ.get("COMPLIANCE_FUZZ_RANDOM", "") == "1"
SCOPED = ["officer", "inspector"]


@pytest.fixture(scope="module")
def fuzz_settings(
    demo_template: DemoTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A database of its own holding the demo area (bodies, partnerships, evidence, outcomes),
    committed as the application commits, unlike the suite's rolled-back session."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    url = copy_demo(demo_template, data_dir)
    settings_ = Settings(
        environment="test", secret_key="fuzz-secret-key", database_url=url, data_dir=data_dir
    )
    yield settings_
    get_engine(settings_).dispose()
    if demo_template.backend != "sqlite":
        drop_database(url)


@pytest.fixture(scope="module")
def fuzz_app(fuzz_settings: Settings):  # type: ignore[no-untyped-def]
    """The application, marking the answers to requests that failed validation."""
    app = create_app(fuzz_settings)

    async def marked(request, exc):  # type: ignore[no-untyped-def]
        response = await invalid_request(request, exc)
        response.headers[SHAPE_REFUSED] = "true"
        return response

    app.add_exception_handler(RequestValidationError, marked)
    return app


def bearer(fuzz_settings: Settings, role: str) -> dict[str, str]:
    """A bearer token of a new user of one role (officers and inspectors see Cornwall). New for
    each operation: fuzzing the users' and tokens' own operations may well revoke a token,
    demote or deactivate its user."""
    with session_scope(get_engine(fuzz_settings)) as session:
        user = make_user(session, role, bodies=[] if role == "admin" else ["E06000052"])
        token, _ = create_token(session=session, user=user, name="fuzz", actor="test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_headers(fuzz_settings: Settings) -> dict[str, str]:
    return bearer(fuzz_settings, "admin")


@pytest.fixture(params=SCOPED)
def scoped_headers(request: pytest.FixtureRequest, fuzz_settings: Settings) -> dict[str, str]:
    return bearer(fuzz_settings, request.param)


# The schema is read at collection from an application with no database (the document needs
# none), so that each operation is a test of its own; the calls go to `fuzz_app`.
# (`schemathesis.pytest.from_fixture` would defer this, but does not run under pytest 9.2.)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(Settings(environment="test", secret_key="fuzz-schema", database_url="sqlite://")),
)


# A request the schema allows may still be refused by a rule the schema cannot state (a cursor
# the listing never gave out, a report as at a future date, evidence already withdrawn): the
# services raise Refused for those, a 400 or 422 problem. It must never fail the request's own
# validation, which would mean the document promises what the code refuses.
SHAPE_REFUSED = "X-Fuzz-Request-Invalid"
ACCEPTED = {401, 403, 404, 409, 429}


def schema_valid_data_accepted(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """Schemathesis's positive_data_acceptance, allowing the services' own refusals."""
    meta = case.meta
    status = response.status_code
    if meta is None or not meta.generation.mode.is_positive or not 400 <= status < 500:
        return
    problem = _problem(response)
    unknown = str(problem.get("detail", "")).startswith("Unknown query parameter")
    # JSON Schema lets a string hold a NUL; the API refuses one everywhere (PostgreSQL cannot
    # store it), which is a rule, even when a body's validation says so.
    nul = bool(problem.get("errors")) and all(
        e.get("message") == NUL_MESSAGE for e in problem["errors"]
    )
    shape = SHAPE_REFUSED in response.headers and not nul
    if status in ACCEPTED or (status in (400, 422) and not shape and not unknown):
        return
    raise AssertionError(f"Schema-valid request refused with {status}: {response.text[:500]}")


def _problem(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def test_the_fuzzed_document_is_the_served_one(fuzz_app) -> None:
    assert fuzz_app.openapi() == schema.raw_schema
    assert len(list(schema.get_all_operations())) >= 20


# Every built-in check runs, except positive_data_acceptance, which schema_valid_data_accepted
# replaces (above). use_after_free, ensure_resource_availability and object_level_authorization
# judge a sequence of calls, which only Schemathesis's stateful runner records; here they pass.
def call_and_check(case, app, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """No server error, and every answer the one the document describes."""
    case.call_and_validate(
        headers=headers,
        app=app,
        # Speed is the benchmarks' business; an evidence pack on a busy machine takes seconds.
        timeout=120,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_data_accepted],
    )


def drawing(examples: int, *, boundaries: bool = True) -> settings:
    """`examples` drawn per operation, and with `boundaries` first the document's own examples
    and Schemathesis's coverage phase: each parameter's boundary values, missing and of the wrong
    type, some tens to hundreds of calls an operation that `examples` does not bound (nine calls
    in ten of the fuzzing were these). They try the validation every role goes through alike, so
    `make test` runs them as the admin only; `make fuzz` (COMPLIANCE_FUZZ_RANDOM) for everyone."""
    # Hypothesis's health checks judge how fast and how well examples are drawn, not the API:
    # a PDF that takes seconds to render would trip them.
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        suppress_health_check=list(HealthCheck),
        phases=list(Phase) if boundaries or RANDOM else [p for p in Phase if p != Phase.explicit],
    )


REPORTS = r"/report\.pdf$"


# An admin reaches every line behind every operation: the examples, and every parameter's
# boundaries, go there first.
@schema.exclude(path_regex=REPORTS).parametrize()
@drawing(EXAMPLES)
def test_api(case, fuzz_app, admin_headers: dict[str, str]) -> None:
    call_and_check(case, fuzz_app, admin_headers)


# Officers and inspectors run the same code behind a check of their role and scope, where much
# of what they send stops (a 403 or 404): half the examples try each operation's refusals and
# what they may do (the boundaries, which every role's request meets before its role matters,
# are the admin's).
@schema.exclude(path_regex=REPORTS).parametrize()
@drawing(max(2, EXAMPLES // 2), boundaries=False)
def test_api_in_scope(case, fuzz_app, scoped_headers: dict[str, str]) -> None:
    call_and_check(case, fuzz_app, scoped_headers)


# Each report rendered is a PDF (or a ZIP of one and the evidence) of seconds; a quarter of the
# examples still try every parameter, and an unchanged report comes from the cache. The admin
# tries every parameter's boundaries too; officers and inspectors the examples drawn.
@schema.include(path_regex=REPORTS).parametrize()
@drawing(max(2, EXAMPLES // 4))
def test_reports(case, fuzz_app, admin_headers: dict[str, str]) -> None:
    call_and_check(case, fuzz_app, admin_headers)


@schema.include(path_regex=REPORTS).parametrize()
@drawing(max(2, EXAMPLES // 4), boundaries=False)
def test_reports_in_scope(case, fuzz_app, scoped_headers: dict[str, str]) -> None:
    call_and_check(case, fuzz_app, scoped_headers)


# Nobody signed in is refused by every operation but the few public ones, whatever it sends:
# a quarter of the examples try each operation's refusal (and the public ones' answers).
@schema.parametrize()
@drawing(max(2, EXAMPLES // 4), boundaries=False)
def test_anonymous(case, fuzz_app) -> None:
    call_and_check(case, fuzz_app, {})
