"""The dashboard and the findings page."""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from compliance.access import Principal
from compliance.checks.rules import SEVERITIES
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.models import Finding, Obligation
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.web import render

router = page_router()
PAGE_SIZE = 50


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


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> HTMLResponse:
    """What is due or overdue for me, open findings, queries awaiting me, outcomes not measured."""
    from compliance.obligations.views import view_obligations_for

    obligations = [
        o
        for o in session.exec(select(Obligation).where(Obligation.closed_date.is_(None)))
        if principal.reads_obligation(o)
    ]
    today = settings.today()
    views = view_obligations_for(
        session=session, obligations=obligations, on=today, due_soon_days=settings.due_soon_days
    )
    urgent = sorted(
        (
            v
            for v in views
            if v.status
            in (ProcessStatus.overdue, ProcessStatus.due_soon, ProcessStatus.evidence_expired)
        ),
        key=lambda v: v.next_due or today,
    )
    unmeasured = [
        v
        for v in views
        if v.outcome in (OutcomeStatus.not_measured, OutcomeStatus.no_outcome_defined)
    ]
    findings = findings_for(session, principal)
    queries = [f for f in findings if f.rule == "query_unanswered"]
    context = {
        "urgent": urgent[:25],
        "urgent_total": len(urgent),
        "findings": findings[:10],
        "findings_total": len(findings),
        "queries": queries,
        "unmeasured_total": len(unmeasured),
        "today": today,
    }
    return render(request, "dashboard.html", context)


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    severity: Annotated[str | None, Query(pattern="^(high|medium|low)$")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Open findings in scope, worst first, paginated."""
    rows = findings_for(session, principal, severity)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(
        request,
        "findings.html",
        {"findings": shown, "total": len(rows), "page": page, "pages": pages, "severity": severity},
    )
