"""The open obligations a user may read, as their kept states answer: what the dashboard counts
and the obligations list pages through, and which holders the list's filter offers."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.db import key_column
from compliance.models import Body, Obligation, Partnership
from compliance.obligations.judged import in_states, keep_current, sort_order
from compliance.obligations.listing import ObligationFilter, filtered
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.obligations.tables import ObligationState
from compliance.obligations.views import ObligationView, view_obligations_for
from compliance.paging import PAGE_SIZE, Keyset, page_span


class Kept:
    """The open obligations a user may read, narrowed by holder and duty, read from their kept
    states (compliance.obligations.judged), judged first where none is kept for the date: what
    the dashboard counts and the obligations list pages through, in a fixed number of queries
    however large the registry. The rows a page shows are judged afresh."""

    def __init__(
        self,
        *,
        session: Session,
        principal: Principal,
        on: dt.date,
        due_soon_days: int,
        body_id: int | None = None,
        partnership_id: int | None = None,
        duty_id: int | None = None,
    ):
        self.session, self.on, self.due_soon_days = session, on, due_soon_days
        self.filters = ObligationFilter(
            body_id=body_id,
            partnership_id=partnership_id,
            duty_id=duty_id,
            body_ids=None if principal.is_admin else principal.body_ids,
            partnership_ids=None if principal.is_admin else principal.readable_partnership_ids,
        )
        narrowed = not principal.is_admin or any(
            v is not None for v in (body_id, partnership_id, duty_id)
        )
        ids = filtered(self.filters, select(key_column(Obligation))) if narrowed else None
        keep_current(session, ids, on=on, due_soon_days=due_soon_days)

    def _select(
        self,
        columns: Sequence[Any],
        statuses: Sequence[ProcessStatus],
        outcomes: Sequence[OutcomeStatus],
    ):
        query = (
            select(*columns)
            .select_from(ObligationState)
            .join(Obligation, Obligation.id == ObligationState.obligation_id)
        )
        kept = in_states(self.on, self.due_soon_days, statuses=statuses, outcomes=outcomes)
        return filtered(self.filters, query).where(*kept)

    def count(
        self, statuses: Sequence[ProcessStatus] = (), outcomes: Sequence[OutcomeStatus] = ()
    ) -> int:
        """How many are in one of these process states and one of these outcome states (either
        left empty: any)."""
        query = self._select([func.count()], statuses, outcomes)
        return self.session.exec(query).one()

    def by_status(self, statuses: Sequence[ProcessStatus]) -> dict[ProcessStatus, int]:
        """How many are in each of these process states."""
        query = self._select([ObligationState.status, func.count()], statuses, ())
        found = dict(self.session.exec(query.group_by(ObligationState.status)).all())
        return {s: found.get(s.value, 0) for s in statuses}

    def views(
        self,
        statuses: Sequence[ProcessStatus] = (),
        outcomes: Sequence[OutcomeStatus] = (),
        *,
        offset: int = 0,
        limit: int,
    ) -> list[ObligationView]:
        """Those in these states, soonest due first (then by holder, source and item), judged
        afresh: `limit` of them from `offset`."""
        dialect = self.session.get_bind().dialect.name
        query = self._select([ObligationState.obligation_id], statuses, outcomes)
        order = Keyset(tuple(sort_order(dialect)))
        ids = list(self.session.exec(order.numbered(query, start=offset, size=limit)))
        rows = {
            o.id: o
            for o in self.session.exec(select(Obligation).where(col(Obligation.id).in_(ids)))
        }
        return view_obligations_for(
            session=self.session,
            obligations=[rows[i] for i in ids],
            on=self.on,
            due_soon_days=self.due_soon_days,
        )

    def page(
        self,
        number: int,
        statuses: Sequence[ProcessStatus] = (),
        outcomes: Sequence[OutcomeStatus] = (),
        size: int = PAGE_SIZE,
    ) -> dict[str, Any]:
        """One page, with its number and the count for the pagination links (as paging.numbered)."""
        total = self.count(statuses, outcomes)
        number, pages = page_span(total, number, size)
        rows = self.views(statuses, outcomes, offset=(number - 1) * size, limit=size)
        return {"rows": rows, "page": number, "pages": pages, "total": total}


def holder_options(*, session: Session, principal: Principal) -> tuple[list, list]:
    """The bodies (code, name) and partnerships (slug, name) holding open obligations this user
    may read, by name."""
    held = select(Obligation).where(col(Obligation.closed_date).is_(None))
    by_body = held.with_only_columns(col(Obligation.body_id)).where(
        col(Obligation.body_id).is_not(None)
    )
    by_partnership = held.with_only_columns(col(Obligation.partnership_id)).where(
        col(Obligation.body_id).is_(None)
    )
    # Rows of the two columns the filter's options show: at national scale, thousands of them.
    bodies = select(Body.code, Body.name).where(col(Body.id).in_(by_body))
    partnerships = select(Partnership.slug, Partnership.name).where(
        col(Partnership.id).in_(by_partnership)
    )
    if not principal.is_admin:
        bodies = bodies.where(col(Body.id).in_(principal.body_ids))
        partnerships = partnerships.where(
            col(Partnership.id).in_(principal.readable_partnership_ids)
        )
    return (
        list(session.exec(bodies.order_by(Body.name))),
        list(session.exec(partnerships.order_by(Partnership.name))),
    )
