"""Listing obligations a page at a time: filtered in SQL where it can be, judged on their
computed status where it must be, in batches so that memory stays bounded."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from compliance.db import key_column
from compliance.models import Deliverable, Obligation, Period
from compliance.obligations.judged import in_states, keep_current
from compliance.obligations.rows import obligation_rows, select_rows
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.tables import ObligationState
from compliance.obligations.views import ObligationView, view_obligations_for
from compliance.paging import Keyset


@dataclass(frozen=True)
class ObligationFilter:
    """Which obligations a listing shows. Most narrow the query; `status`, `outcome` and the
    due window (on the next due date) are judged on each obligation's status on the date."""

    body_id: int | None = None
    partnership_id: int | None = None
    duty_id: int | None = None
    include_closed: bool = False
    # A reader's scope: obligations of these bodies, or of these partnerships; None is all.
    body_ids: frozenset[int] | None = None
    partnership_ids: frozenset[int] | None = None
    status: ProcessStatus | None = None
    outcome: OutcomeStatus | None = None
    due_after: dt.date | None = None
    due_before: dt.date | None = None

    @property
    def computed(self) -> bool:
        return any(
            v is not None for v in (self.status, self.outcome, self.due_after, self.due_before)
        )

    def matches(self, view: ObligationView) -> bool:
        if self.due_after is not None or self.due_before is not None:
            due = view.next_due
            if self.due_after is not None and (due is None or due < self.due_after):
                return False
            if self.due_before is not None and (due is None or due > self.due_before):
                return False
        return (self.status is None or view.status == self.status) and (
            self.outcome is None or view.outcome == self.outcome
        )


def filtered(filters: ObligationFilter, query: Any = None):
    """A select of obligations (or of `query`, which reads from obligation) narrowed by the
    filters SQL can apply."""
    query = select(Obligation) if query is None else query
    if filters.body_id is not None:
        query = query.where(Obligation.body_id == filters.body_id)
    if filters.partnership_id is not None:
        query = query.where(Obligation.partnership_id == filters.partnership_id)
    if filters.duty_id is not None:
        duty_deliverables = select(key_column(Deliverable)).where(
            Deliverable.duty_id == filters.duty_id
        )
        query = query.where(col(Obligation.deliverable_id).in_(duty_deliverables))
    if not filters.include_closed:
        query = query.where(col(Obligation.closed_date).is_(None))
    if filters.body_ids is not None:
        query = query.where(
            col(Obligation.body_id).in_(filters.body_ids)
            | (
                col(Obligation.body_id).is_(None)
                & col(Obligation.partnership_id).in_(filters.partnership_ids or frozenset())
            )
        )
    if filters.due_after is not None or filters.due_before is not None:
        # The next due date is one of the periods' due dates, so a period due in the window is
        # needed (not enough: the exact test is made on the computed status).
        window = select(key_column(Period)).where(Period.obligation_id == Obligation.id)
        if filters.due_after is not None:
            window = window.where(Period.due_date >= filters.due_after)
        if filters.due_before is not None:
            window = window.where(Period.due_date <= filters.due_before)
        query = query.where(window.exists())
    return query


def _kept_passing(session: Session, filters: ObligationFilter, on: dt.date, due_soon_days: int):
    """A select of the ids of open obligations whose state kept for the date passes the
    filter's status, outcome and due window (states judged first where none is kept)."""
    keep_current(
        session,
        filtered(filters, select(key_column(Obligation))),
        on=on,
        due_soon_days=due_soon_days,
    )
    return select(ObligationState.obligation_id).where(
        *in_states(
            on,
            due_soon_days,
            statuses=[filters.status] if filters.status else (),
            outcomes=[filters.outcome] if filters.outcome else (),
            due_after=filters.due_after,
            due_before=filters.due_before,
        )
    )


# The API's order of obligations, as they were added.
BY_ID = Keyset((col(Obligation.id),))


def obligation_page(
    *,
    session: Session,
    filters: ObligationFilter,
    on: dt.date,
    due_soon_days: int,
    after: tuple[int] | None = None,
    limit: int = 50,
    batch: int = 500,
    today: dt.date | None = None,
) -> tuple[list[ObligationView], bool]:
    """One page of obligations in id order after the key `after`, and whether more follow.

    Rows are read (as plain rows: compliance.obligations.rows) and judged a batch at a time, so
    memory stays bounded however many a status filter has to pass over before the page is full.
    On `today` (in a session that has written nothing), open obligations are first narrowed to
    those whose kept state passes the filter (compliance.obligations.judged); each is still
    judged afresh before it is listed.
    """
    query = filtered(filters, select_rows())
    kept = filters.computed and on == today and not filters.include_closed
    if kept:
        query = query.where(
            col(Obligation.id).in_(_kept_passing(session, filters, on, due_soon_days))
        )
    # Narrowed by kept states, nearly every row read passes: read no more than a page needs.
    size = batch if filters.computed and not kept else limit + 1
    found: list[ObligationView] = []
    while len(found) <= limit:
        rows = obligation_rows(session, BY_ID.after(query, after).limit(size))
        if not rows:
            break
        views = view_obligations_for(
            session=session, obligations=rows, on=on, due_soon_days=due_soon_days
        )
        found += [v for v in views if filters.matches(v)]
        if len(rows) < size:
            break
        after = BY_ID.key_of(rows[-1])
    return found[:limit], len(found) > limit
