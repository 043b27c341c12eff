"""The dashboard and the findings page."""

from collections.abc import Sequence
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from compliance.access import Principal
from compliance.checks.rules import RULES, SEVERITIES
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.models import Finding
from compliance.obligations.list_pages import (
    UNMEASURED,
    URGENT,
    by_next_due,
    holder_links,
    in_states,
    obligations_in_scope,
    page_base,
    page_number,
    view_holders,
)
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.outcomes.judgement import scope_judgement
from compliance.web import paginate, render

router = page_router()
PAGE_SIZE = 50
# How many rows a short list on the dashboard shows before "See all".
SHORT_LIST = 25


def _visible(principal: Principal, finding: Finding) -> bool:
    if principal.is_admin:
        return True
    if finding.body_id is not None:
        return principal.reads_body(finding.body_id)
    if finding.partnership_id is not None:
        return principal.reads_partnership(finding.partnership_id)
    return False


def findings_for(
    session, principal: Principal, severity: str | None = None, rule: str | None = None
) -> list[Finding]:  # type: ignore[no-untyped-def]
    """Open findings this user may see, worst first."""
    query = select(Finding).where(Finding.resolved_at.is_(None))
    if severity:
        query = query.where(Finding.severity == severity)
    if rule:
        query = query.where(Finding.rule == rule)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    rows = [f for f in session.exec(query.order_by(Finding.id)) if _visible(principal, f)]
    return sorted(rows, key=lambda f: (rank.get(f.severity, 9), f.id))


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
    views = obligations_in_scope(
        session=session, principal=principal, on=today, due_soon_days=settings.due_soon_days
    )
    urgent = [v for v in views if in_states(v, URGENT, ())]
    unmeasured = [v for v in views if in_states(v, (), UNMEASURED)]
    by_status = {s: [v for v in urgent if v.status == s] for s in URGENT}
    holders = view_holders(session, urgent)
    shown = by_next_due(urgent, holders)[:SHORT_LIST]
    findings = findings_for(session, principal)
    queries = [f for f in findings if f.rule == "query_unanswered"]
    context = {
        "urgent": shown,
        "urgent_total": len(urgent),
        "urgent_link": _status_link(URGENT),
        "by_status": [(s, len(rows), _status_link([s])) for s, rows in by_status.items()],
        "holders": holders,
        "findings": findings[:10],
        "findings_total": len(findings),
        "finding_holders": holder_links(session, findings[:10]),
        "queries": queries[:10],
        "queries_total": len(queries),
        "query_holders": holder_links(session, queries[:10]),
        "unmeasured_total": len(unmeasured),
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
    rows = findings_for(session, principal, chosen, kind)
    shown = paginate(rows, page_number(page), PAGE_SIZE)
    context = {
        **shown,
        "findings": shown["rows"],
        "finding_holders": holder_links(session, shown["rows"]),
        "severity": chosen,
        "rule": kind,
        "rules": _rule_names(),
        "severities": SEVERITIES,
        "errors": errors,
        "base": page_base([("severity", chosen), ("rule", kind)]),
        "downloads": {fmt: f"/api/v1/exports/findings?format={fmt}" for fmt in ("csv", "xlsx")},
    }
    return render(request, "findings.html", context, status_code=422 if errors else 200)
