"""An obligation as judging reads it: its columns, read-only, with or without the ORM.

Judging takes any row with an obligation's columns (`ObligationFacts`): the ORM's `Obligation`
where a page has loaded one, or a plain `ObligationRow` where a listing reads hundreds a page.
Building and reading ORM objects was a fifth of the time of a whole API listing of 1,559
obligations; read as plain rows they are judged the same (docs/performance.md).
"""

import datetime as dt
from typing import Any, NamedTuple, Protocol

from sqlmodel import Session, col, select

from compliance.db import plain_rows
from compliance.models import Obligation


class ObligationFacts(Protocol):
    """What judging, the listings and the API read of an obligation."""

    @property
    def id(self) -> int | None: ...
    @property
    def key(self) -> str: ...
    @property
    def body_id(self) -> int | None: ...
    @property
    def partnership_id(self) -> int | None: ...
    @property
    def deliverable_id(self) -> int | None: ...
    @property
    def bid_id(self) -> int | None: ...
    @property
    def condition_id(self) -> int | None: ...
    @property
    def owner_id(self) -> int | None: ...
    @property
    def opened_date(self) -> dt.date: ...
    @property
    def closed_date(self) -> dt.date | None: ...
    @property
    def closed_reason(self) -> str | None: ...
    @property
    def not_applicable_reason(self) -> str | None: ...


class ObligationRow(NamedTuple):
    """An obligation's columns as read, without an ORM object behind them."""

    id: int
    key: str
    body_id: int | None
    partnership_id: int | None
    deliverable_id: int | None
    bid_id: int | None
    condition_id: int | None
    owner_id: int | None
    opened_date: dt.date
    closed_date: dt.date | None
    closed_reason: str | None
    not_applicable_reason: str | None


# The columns of an ObligationRow, in its order: a select of them reads from obligation, so the
# filters written for select(Obligation) narrow it as they narrow that.
ROW_COLUMNS = tuple(col(getattr(Obligation, name)) for name in ObligationRow._fields)


def obligation_rows(session: Session, query: Any) -> list[ObligationRow]:
    """The rows of a select of ROW_COLUMNS (`select_rows()`, narrowed), as ObligationRows."""
    return [ObligationRow(*row) for row in plain_rows(session, query)]


def select_rows() -> Any:
    """A select of every obligation's ROW_COLUMNS, to narrow and give to obligation_rows."""
    return select(*ROW_COLUMNS)
