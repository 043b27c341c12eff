"""JSON routes for findings and check runs: what the rules found, and each run of the rules."""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from fastapi import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from compliance.access import Principal, require
from compliance.api import (
    MAX_ID,
    ApiInput,
    Date,
    Timestamp,
    api_router,
)
from compliance.bodies.service import get_body
from compliance.checks.findings import BY_ID, in_id_order, select_findings, within_of
from compliance.checks.rules import RULES, SEVERITIES, rule_words
from compliance.checks.service import NEWEST_RUNS, check_now, list_check_runs
from compliance.deps import ApiWriter, CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound, Refused
from compliance.models import CheckRun
from compliance.partnerships.service import get_partnership

router = api_router("findings")

FindingSeverity = StrEnum("FindingSeverity", {s: s for s in SEVERITIES})  # type: ignore[misc]  # members made from SEVERITIES
FindingRule = StrEnum("FindingRule", {r.__name__: r.__name__ for r, _ in RULES})  # type: ignore[misc]  # members made from RULES

Limit = Annotated[int, Query(ge=1, le=500, description="How many items a page holds")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="The `next_cursor` of the previous page")
]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[412])]


FINDING_EXAMPLE: JsonDict = {
    "id": 1873,
    "rule": "deliverable_overdue",
    "severity": "high",
    "message": "Cornwall and Isles of Scilly Safeguarding Adults Board: Annual report (Care Act "
    "2014 Sch 2 para 4) for 2025-26 was due on 30 September 2026 and has no evidence",
    "body_code": None,
    "partnership_slug": "cios-safeguarding-adults-board",
    "obligation_id": 96,
    "occurrence_id": 311,
    "evidence_id": None,
    "indicator_id": None,
    "rule_text": "A date the law sets has passed with no evidence (a convention's date never "
    "fires this).",
    "basis": "set by Care Act 2014 Sch 2 para 4",
    "since_date": "2026-09-30",
    "remedy": "Record evidence of Annual report for 01 Apr 2025 to 31 Mar 2026 on its "
    "obligation page, or mark the obligation not applicable with the reason.",
    "first_seen_at": "2026-10-01T02:00:04Z",
    "last_seen_at": "2026-11-26T02:00:03Z",
    "resolved_at": None,
    "first_run_id": 360,
    "last_run_id": 412,
}


class FindingState(StrEnum):
    open = "open"
    resolved = "resolved"
    all = "all"


class FindingPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FINDING_EXAMPLE]})

    id: int
    rule: str
    severity: str
    message: str
    body_code: str | None
    partnership_slug: str | None
    obligation_id: int | None
    occurrence_id: int | None
    evidence_id: int | None
    indicator_id: int | None
    rule_text: str = Field(description="The rule in plain words")
    basis: str | None = Field(
        description="Where the finding's date comes from: the law with its citation, or a "
        "convention of this catalogue"
    )
    since_date: dt.date | None = Field(description="Since when the finding has held")
    remedy: str | None = Field(description="What would clear it")
    first_seen_at: Timestamp
    last_seen_at: Timestamp
    resolved_at: Timestamp | None
    first_run_id: int
    last_run_id: int


class FindingPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [FINDING_EXAMPLE], "next_cursor": "WzE4NzNd"}]}
    )

    items: list[FindingPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


RUN_EXAMPLE: JsonDict = {
    "id": 412,
    "as_at_date": "2026-11-26",
    "trigger": "scheduler",
    "started_at": "2026-11-26T02:00:00Z",
    "finished_at": "2026-11-26T02:00:03Z",
    "status": "succeeded",
    "findings_open": 37,
    "findings_new": 2,
    "findings_resolved": 1,
    "error_count": 0,
    "errors": [],
}


class CheckRunPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RUN_EXAMPLE]})

    id: int
    as_at_date: dt.date
    trigger: str = Field(description="Who started it: scheduler, cli or api")
    started_at: Timestamp
    finished_at: Timestamp | None
    status: str = Field(description="running, succeeded or completed_with_errors")
    findings_open: int
    findings_new: int
    findings_resolved: int
    error_count: int
    errors: list[str] | None = Field(
        description="What failed, for administrators only (it may name records outside your "
        "scope); null for everyone else"
    )


class CheckRunPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [RUN_EXAMPLE], "next_cursor": None}]}
    )

    items: list[CheckRunPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class CheckRunResult(CheckRunPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                RUN_EXAMPLE
                | {
                    "trigger": "api",
                    "by_severity": {"high": 12, "medium": 21, "low": 4},
                    "by_rule": {"deliverable_overdue": 9, "indicator_not_measured": 11},
                }
            ]
        }
    )

    by_severity: dict[str, int]
    by_rule: dict[str, int]


class CheckRunCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"as_at": "2026-11-26"}]})

    as_at: Date | None = Field(
        default=None, description="Judge as at this date (default today), at most a year ahead"
    )


# A request without a body runs the checks as at today.
AS_AT_TODAY = CheckRunCreate()


def _scope(session: SessionDep, principal: Principal, body: str | None, partnership: str | None):
    body_id = partnership_id = None
    if body is not None:
        found = get_body(session=session, code=body)
        if found is None:
            raise Refused(f"No body with code {body!r}", field="query.body", status=422)
        require(principal.reads_body(found.id), "This body is not in your scope")
        body_id = found.id
    if partnership is not None:
        named = get_partnership(session=session, slug=partnership)
        if named is None:
            raise Refused(f"No partnership {partnership!r}", field="query.partnership", status=422)
        require(principal.reads_partnership(named.id), "This partnership is not in your scope")
        partnership_id = named.id
    return body_id, partnership_id


@router.get("/findings", response_model=FindingPage)
def read_findings(
    session: SessionDep,
    principal: CurrentUser,
    status: FindingState = FindingState.open,
    severity: FindingSeverity | None = None,
    rule: FindingRule | None = None,
    body: Annotated[str | None, Query(max_length=20, examples=["E06000052"])] = None,
    partnership: Annotated[str | None, Query(max_length=80, examples=["safer-cornwall"])] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FindingPage:
    """What the nightly checks found on the bodies and partnerships you can see (open ones unless
    you ask for resolved or all), oldest first; filter by severity, rule, body or partnership."""
    body_id, partnership_id = _scope(session, principal, body, partnership)
    found = select_findings(
        within=within_of(principal),
        state=status,
        severity=severity,
        rule=rule,
        body_id=body_id,
        partnership_id=partnership_id,
    )
    rows = in_id_order(
        session=session, query=found, after=BY_ID.read_cursor(cursor), limit=limit + 1
    )
    page, next_cursor = BY_ID.cut(rows, limit)
    items = [
        FindingPublic.model_validate(
            finding.model_dump()
            | {"body_code": code, "partnership_slug": slug, "rule_text": rule_words(finding.rule)}
        )
        for finding, code, slug in page
    ]
    return FindingPage(items=items, next_cursor=next_cursor)


def run_public(run: CheckRun, principal: Principal) -> dict:
    return run.model_dump() | {
        "error_count": len(run.errors),
        "errors": list(run.errors) if principal.is_admin else None,
    }


@router.get("/check-runs", response_model=CheckRunPage)
def read_check_runs(
    session: SessionDep, principal: CurrentUser, limit: Limit = 50, cursor: Cursor = None
) -> CheckRunPage:
    """Each run of the compliance rules, newest first: when it ran, as at what date, and how many
    findings it left open, found new and resolved."""
    after = NEWEST_RUNS.read_cursor(cursor)
    rows = list_check_runs(session=session, after=after, limit=limit + 1)
    page, next_cursor = NEWEST_RUNS.cut(rows, limit)
    items = [CheckRunPublic.model_validate(run_public(r, principal)) for r in page]
    return CheckRunPage(items=items, next_cursor=next_cursor)


@router.get("/check-runs/{run_id}", response_model=CheckRunPublic)
def read_check_run(run_id: RunId, session: SessionDep, principal: CurrentUser) -> CheckRunPublic:
    """One run of the compliance rules, with its counts of findings."""
    run = session.get(CheckRun, run_id)
    if run is None:
        raise NotFound(f"No check run {run_id}", field="path.run_id")
    return CheckRunPublic.model_validate(run_public(run, principal))


@router.post("/check-runs", response_model=CheckRunResult, status_code=201)
def create_check_run(
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
    run: Annotated[CheckRunCreate, Body()] = AS_AT_TODAY,
) -> CheckRunResult:
    """Run every compliance rule now (administrators only), as the nightly job and `compliance
    check` do: obligations are brought up to date first, then findings are opened and resolved."""
    require(principal.is_admin, "Only administrators can run the checks")
    today = settings.today()
    on = run.as_at or today
    if not dt.date(2000, 1, 1) <= on <= today + dt.timedelta(days=366):
        raise Refused(
            "Give a date from 2000-01-01 to a year from today", field="body.as_at", status=422
        )
    _, summary = check_now(session=session, settings=settings, on=on, trigger="api")
    return CheckRunResult.model_validate(
        run_public(summary.run, principal)
        | {"by_severity": summary.by_severity, "by_rule": summary.by_rule}
    )
