"""The dashboard and the findings page."""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import case, or_
from sqlmodel import col, select

from compliance.access import Principal
from compliance.checks.rules import RULES, SEVERITIES
from compliance.db import count_rows
from compliance.deps import CurrentUser, SessionDep, SettingsDep, page_router
from compliance.models import Finding
from compliance.obligations.list_pages import (
    UNMEASURED,
    URGENT,
    Kept,
    holder_links,
    page_base,
    page_number,
    view_holders,
)
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.outcomes.judgement import scope_judgement
from compliance.web import page_span, render

router = page_router()
PAGE_SIZE = 50
# How many rows a short list on the dashboard shows before "See all".
SHORT_LIST = 25


def open_in_scope(principal: Principal, severity: str | None = None, rule: str | None = None):
    """A select of the open findings this user may see (of one severity and kind, if given):
    a finding on a body by the body, else by its partnership, as the API's listing."""
    query = select(Finding).where(col(Finding.resolved_at).is_(None))
    if severity:
        query = query.where(Finding.severity == severity)
    if rule:
        query = query.where(Finding.rule == rule)
    if not principal.is_admin:
        query = query.where(
            or_(
                col(Finding.body_id).in_(principal.body_ids),
                col(Finding.body_id).is_(None)
                & col(Finding.partnership_id).in_(principal.readable_partnership_ids),
            )
        )
    return query


def worst_first(session, query, *, offset: int = 0, limit: int) -> list[Finding]:
    """`limit` findings of a select from `offset`, worst first, then in the order found."""
    rank = case({s: i for i, s in enumerate(SEVERITIES)}, value=Finding.severity, else_=9)
    return list(session.exec(query.order_by(rank, Finding.id).offset(offset).limit(limit)))


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
    findings = open_in_scope(principal)
    queries = open_in_scope(principal, rule="query_unanswered")
    worst, first_queries = (
        worst_first(session, findings, limit=10),
        worst_first(session, queries, limit=10),
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
    found = open_in_scope(principal, chosen, kind)
    total = count_rows(session, found)
    number, pages = page_span(total, page_number(page), PAGE_SIZE)
    rows = worst_first(session, found, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    shown: dict[str, Any] = {"rows": rows, "page": number, "pages": pages, "total": total}

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
