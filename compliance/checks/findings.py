"""Reading findings: the one answer to "which findings may this user see, worst first", for the
findings page, the dashboard, the API's listing and the weekly digest."""

from sqlalchemy import case, func, or_, true
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from compliance.access import Principal
from compliance.checks.rules import SEVERITIES
from compliance.db import count_rows
from compliance.models import Body, Finding, Partnership
from compliance.paging import Keyset, read_page

# The findings page's order, worst first then in the order found, and the API's, in id order.
WORST_FIRST = Keyset(
    (
        case({s: i for i, s in enumerate(SEVERITIES)}, value=Finding.severity, else_=9),
        col(Finding.id),
    )
)
BY_ID = Keyset((col(Finding.id),))

# (body ids, partnership ids) a reader may see; None for everything.
Within = tuple[frozenset[int], frozenset[int]] | None


def within_of(principal: Principal) -> Within:
    """What a user's reading of the findings is limited to: everything for an admin."""
    return None if principal.is_admin else (principal.body_ids, principal.readable_partnership_ids)


def select_findings(
    *,
    within: Within,
    state: str = "open",
    severity: str | None = None,
    rule: str | None = None,
    body_id: int | None = None,
    partnership_id: int | None = None,
) -> SelectOfScalar[Finding]:
    """A select of the findings `within` a reader's scope: a finding on a body is seen by
    those who see the body, else by those who see its partnership. `state` is open, resolved or
    all; the other filters apply where given."""
    query = select(Finding)
    if state == "open":
        query = query.where(col(Finding.resolved_at).is_(None))
    elif state == "resolved":
        query = query.where(col(Finding.resolved_at).is_not(None))
    for column, value in (
        (col(Finding.severity), severity),
        (col(Finding.rule), rule),
        (col(Finding.body_id), body_id),
        (col(Finding.partnership_id), partnership_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if within is not None:
        bodies, partnerships = within
        query = query.where(
            or_(
                col(Finding.body_id).in_(bodies),
                col(Finding.body_id).is_(None) & col(Finding.partnership_id).in_(partnerships),
            )
        )
    return query


def worst_first(
    *, session: Session, query: SelectOfScalar[Finding], offset: int = 0, limit: int | None = None
) -> list[Finding]:
    """The findings of a select from `offset`, worst first, then in the order found."""
    return list(session.exec(WORST_FIRST.numbered(query, start=offset, size=limit)))


def in_id_order(
    *,
    session: Session,
    query: SelectOfScalar[Finding],
    after: tuple[int] | None = None,
    limit: int = 50,
) -> list[tuple[Finding, str | None, str | None]]:
    """The findings of a select in id order after the key `after`, each with its body's code
    and its partnership's slug (the API's cursor pages)."""
    rows = (
        select(Finding, Body.code, Partnership.slug)
        .where(query.whereclause if query.whereclause is not None else true())
        .outerjoin(Body, col(Body.id) == Finding.body_id)
        .outerjoin(Partnership, col(Partnership.id) == Finding.partnership_id)
    )
    return read_page(session, rows, BY_ID, after=after, limit=limit)


def by_holder_name(
    *, session: Session, query: SelectOfScalar[Finding], limit: int
) -> tuple[list[Finding], int]:
    """The first `limit` findings of a select by the name of their body or partnership, and
    how many the select holds."""
    total = count_rows(session, query)
    rows = session.exec(
        query.outerjoin(Body, col(Body.id) == Finding.body_id)
        .outerjoin(Partnership, col(Partnership.id) == Finding.partnership_id)
        .order_by(func.coalesce(Body.name, Partnership.name), col(Finding.id))
        .limit(limit)
    ).all()
    return list(rows), total
