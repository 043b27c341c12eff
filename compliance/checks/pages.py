"""The dashboard and the findings page."""

from collections.abc import Sequence
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from compliance.checks.findings import select_findings, within_of, worst_first
from compliance.checks.rules import RULES, SEVERITIES
from compliance.db import count_rows
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.obligations.kept import Kept
from compliance.obligations.list_pages import (
    UNMEASURED,
    URGENT,
    holder_links,
    view_holders,
)
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.outcomes.judgement import scope_judgement
from compliance.paging import PAGE_SIZE, page_number, page_span
from compliance.web import page_base, render

router = page_router()
# How many rows a short list on the dashboard shows before "See all".
SHORT_LIST = 25


def _status_link(
    statuses: Sequence[ProcessStatus] = (), outcomes: Sequence[OutcomeStatus] = ()
) -> str:
    """The obligations list in these states."""
    pairs = [("status", s.value) for s in statuses] + [("outcome", o.value) for o in outcomes]
    return "/obligations?" + urlencode(pairs)


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> HTMLResponse:
    """What is due or overdue for me, open findings, queries awaiting me, outcomes not measured;
    each count links to the whole list it counts."""
    today = settings.today()
    kept = Kept(
        session=session, principal=principal, on=today, due_soon_days=settings.due_soon_days
    )
    by_status = kept.by_status(URGENT)
    shown = kept.views(URGENT, limit=SHORT_LIST)
    holders = view_holders(session, shown)
    findings = select_findings(within=within_of(principal))
    queries = select_findings(within=within_of(principal), rule="query_unanswered")
    worst, first_queries = (
        worst_first(session=session, query=findings, limit=10),
        worst_first(session=session, query=queries, limit=10),
    )
    context = {
        "urgent": shown,
        "urgent_total": sum(by_status.values()),
        "urgent_link": _status_link(URGENT),
        "by_status": [(s, count, _status_link([s])) for s, count in by_status.items()],
        "holders": holders,
        "findings": worst,
        "findings_total": count_rows(session, findings),
        "finding_holders": holder_links(session, worst),
        "queries": first_queries,
        "queries_total": count_rows(session, queries),
        "query_holders": holder_links(session, first_queries),
        "unmeasured_total": kept.count(outcomes=UNMEASURED),
        "unmeasured_link": _status_link(outcomes=UNMEASURED),
        "today": today,
        "judgement": scope_judgement(session=session, principal=principal, on=today),
    }
    return render(request, "dashboard.html", context)


def _rule_names() -> list[str]:
    return [rule.__name__ for rule, _ in RULES]


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    severity: str = "",
    rule: str = "",
    page: str = "",
) -> HTMLResponse:
    """Open findings in scope, worst first, by severity and kind, a page at a time; a filter
    value not in its list is shown as an error by the filter, and not applied."""
    chosen = severity if severity in SEVERITIES else None
    kind = rule if rule in _rule_names() else None
    errors = {}
    if severity and not chosen:
        errors["severity"] = "Choose high, medium or low"
    if rule and not kind:
        errors["rule"] = "Choose a kind of finding from the list"
    found = select_findings(within=within_of(principal), severity=chosen, rule=kind)
    total = count_rows(session, found)
    number, pages = page_span(total, page_number(page), PAGE_SIZE)
    rows = worst_first(
        session=session, query=found, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    shown = {"rows": rows, "page": number, "pages": pages, "total": total}
    context = {
        **shown,
        "findings": rows,
        "finding_holders": holder_links(session, rows),
        "severity": chosen,
        "rule": kind,
        "rules": _rule_names(),
        "severities": SEVERITIES,
        "errors": errors,
        "base": page_base([("severity", chosen), ("rule", kind)]),
        "downloads": {fmt: f"/api/v1/exports/findings?format={fmt}" for fmt in ("csv", "xlsx")},
    }
    return render(request, "findings.html", context, status_code=422 if errors else 200)
