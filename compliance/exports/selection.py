"""What an export holds, and how it reads the database: a keyset, one batch per SELECT.

Scope is applied in SQL, as Principal.reads_obligation judges it: a row held by a body is read
through that body, a row held by a partnership through the partnership.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.db import key_column
from compliance.models import Body, Partnership

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Selection:
    """Which rows an export holds: a user's scope (None: everything), optionally one body's or
    one partnership's rows, with statuses as at a date."""

    on: dt.date
    due_soon_days: int
    principal: Principal | None = None
    body_id: int | None = None
    partnership_id: int | None = None


def holder_filter(
    selection: Selection, body_column: Any, partnership_column: Any
) -> list[ColumnElement[bool]]:
    """Conditions on a row held by a body or a partnership, as Principal.reads_obligation
    judges it: by its body when it has one, else by its partnership."""
    found: list[ColumnElement[bool]] = []
    principal = selection.principal
    if principal is not None and not principal.is_admin:
        readable = sorted(principal.readable_partnership_ids)
        found.append(
            or_(
                body_column.in_(sorted(principal.body_ids)),
                and_(body_column.is_(None), partnership_column.in_(readable)),
            )
        )
    if selection.body_id is not None:
        found.append(body_column == selection.body_id)
    if selection.partnership_id is not None:
        found.append(partnership_column == selection.partnership_id)
    return found


def keyset(session: Session, query: Any, key: Any, batch: int) -> Iterator[list[Any]]:
    """The rows of a query in ascending key order, one SELECT per batch (never OFFSET)."""
    after = None
    while True:
        page = query if after is None else query.where(key > after)
        rows = session.exec(page.order_by(key).limit(batch)).all()
        if rows:
            yield rows
        if len(rows) < batch:
            return
        after = getattr(rows[-1], key.key)


def holders_of(session: Session, rows: list[Any]) -> tuple[dict[int, Row], dict[int, Row]]:
    """The code and name of the bodies, and the slug and name of the partnerships, of rows."""
    body_ids = {r.body_id for r in rows if r.body_id is not None}
    partnership_ids = {r.partnership_id for r in rows if r.partnership_id is not None}
    bodies = session.exec(
        select(key_column(Body), Body.code, Body.name).where(col(Body.id).in_(body_ids))
    )
    partnerships = session.exec(
        select(key_column(Partnership), Partnership.slug, Partnership.name).where(
            col(Partnership.id).in_(partnership_ids)
        )
    )
    return {i: (c, n) for i, c, n in bodies}, {i: (s, n) for i, s, n in partnerships}
