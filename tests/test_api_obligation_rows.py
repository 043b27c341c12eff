"""The API lists obligations from rows (compliance.obligations.rows), not from the ORM objects
the pages and reports judge: what it gives must be what those views give, to the byte, on any
date and through every filter, for open, closed and not-applicable obligations, withdrawn and
corrected evidence, and outcomes of the partnerships behind them."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from compliance.access import principal_for
from compliance.accounts.tokens import create_token
from compliance.api import encode_cursor
from compliance.demo.service import load_demo
from compliance.models import Body, Evidence, EvidenceLink, Obligation
from compliance.obligations.listing import ObligationFilter, obligation_page
from compliance.obligations.rows import OBLIGATION, obligation_dicts, row_views
from compliance.obligations.schemas import ObligationPage, obligation_items
from compliance.obligations.status import ProcessStatus
from compliance.obligations.views import view_obligations_for
from tests.conftest import make_user


@pytest.fixture
def varied(session, settings):
    """The demo, with a closed obligation, a not-applicable one, a withdrawn piece of evidence,
    a corrected one, and a period served by two."""
    load_demo(session=session, settings=settings)
    session.flush()
    first, second, *_ = session.exec(select(Obligation).order_by(Obligation.id)).all()
    first.closed_date, first.closed_reason = settings.today(), "Duty repealed"
    second.not_applicable_reason = "No children's services here"
    withdrawn, corrected, shared = session.exec(select(Evidence).order_by(Evidence.id).limit(3))
    withdrawn.withdrawn_at, withdrawn.withdrawn_reason = dt.datetime.now(dt.UTC), "Wrong file"
    correction = Evidence(
        kind="document",
        title="Corrected",
        effective_date=corrected.effective_date,
        review_by_date=corrected.review_by_date,
        supersedes_id=corrected.id,
    )
    also = Evidence(kind="document", title="Also", effective_date=shared.effective_date)
    session.add_all([correction, also])
    session.flush()
    for old, new in ((corrected, correction), (shared, also)):
        for link in session.exec(select(EvidenceLink).where(EvidenceLink.evidence_id == old.id)):
            session.add(EvidenceLink(evidence_id=new.id, occurrence_id=link.occurrence_id))
    session.flush()


def _orm_page(session, obligations, on, days) -> str:  # type: ignore[no-untyped-def]
    views = view_obligations_for(
        session=session, obligations=obligations, on=on, due_soon_days=days
    )
    return ObligationPage(
        items=obligation_items(session, views), next_cursor=None
    ).model_dump_json()


@pytest.mark.parametrize("days_on", [0, -500, 45, 400])
def test_rows_give_what_the_views_give_to_the_byte(session, settings, varied, days_on):
    on, days = settings.today() + dt.timedelta(days=days_on), settings.due_soon_days
    obligations = session.exec(select(Obligation).order_by(Obligation.id)).all()
    rows = session.exec(select(*OBLIGATION).order_by(Obligation.id)).all()
    views = row_views(session=session, rows=rows, on=on, due_soon_days=days)
    items = obligation_dicts(session, views)
    found = ObligationPage.model_validate({"items": items, "next_cursor": None})
    assert found.model_dump_json() == _orm_page(session, obligations, on, days)
    # What the comparison covered, so that it cannot pass by covering nothing.
    statuses = {item["status"] for item in items}
    assert {ProcessStatus.not_applicable} <= statuses and len(statuses) >= 3
    assert any(item["closed_date"] for item in items)
    assert any(item["outcomes_served_by"] for item in items)
    if days_on >= 0:  # the evidence added above is recorded today
        assert any(len(p["evidence_ids"]) > 1 for item in items for p in item["periods"])
    assert any(served["partnership_slug"] for i in items for served in i["outcomes_served_by"])


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 500},
        {"limit": 3, "include_closed": "true"},
        {"limit": 500, "status": "met"},
        {"limit": 4, "status": "not_yet_due", "as_at": "2026-01-15"},
        {"limit": 500, "outcome_status": "no_outcome_defined"},
        {"limit": 500, "due_before": "2027-03-31", "due_after": "2026-04-01"},
        {"limit": 5, "body": "E06000052"},
    ],
)
@pytest.mark.parametrize("who", ["admin", "officer"])
def test_the_api_lists_what_the_views_list(app, session, settings, varied, query, who):
    user = make_user(session, who, bodies=[] if who == "admin" else ["E06000052"])
    token, _ = create_token(session=session, user=user, name="t", actor="test")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    params, pages = dict(query), []
    while True:
        response = client.get("/api/v1/obligations", params=params)
        assert response.status_code == 200, response.text
        pages.append(response.content)
        if not (cursor := response.json()["next_cursor"]):
            break
        params["cursor"] = cursor
    assert pages == _expected_pages(session, settings, user, query)


def _expected_pages(session, settings, user, query) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The pages as the route gave them before it read rows: obligation_page's views, shown by
    obligation_items."""
    principal = principal_for(session=session, user=user)
    body = query.get("body")
    body_id = session.exec(select(Body.id).where(Body.code == body)).one() if body else None
    on = dt.date.fromisoformat(query["as_at"]) if "as_at" in query else settings.today()
    day = dt.date.fromisoformat
    filters = ObligationFilter(
        body_id=body_id,
        include_closed=query.get("include_closed") == "true",
        body_ids=None if principal.is_admin else principal.body_ids,
        partnership_ids=None if principal.is_admin else principal.readable_partnership_ids,
        status=query.get("status"),
        outcome=query.get("outcome_status"),
        due_after=day(query["due_after"]) if "due_after" in query else None,
        due_before=day(query["due_before"]) if "due_before" in query else None,
    )
    pages, after = [], 0
    while True:
        views, more = obligation_page(
            session=session,
            filters=filters,
            on=on,
            due_soon_days=settings.due_soon_days,
            after_id=after,
            limit=query["limit"],
            today=settings.today(),
        )
        cursor = encode_cursor(views[-1].obligation.id) if more else None
        page = ObligationPage(items=obligation_items(session, views), next_cursor=cursor)
        pages.append(page.model_dump_json().encode())
        if not more:
            return pages
        after = views[-1].obligation.id
