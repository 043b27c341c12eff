"""Paging a listing: the one way the pages and the API do it.

A listing is a select in the order of a `Keyset`: columns ending in one no two rows share, read
oldest or newest first. The API, and the history of check runs in the pages, page by key: a
page is the rows after the key of the last row of the page before, carried in an opaque cursor,
so a row added or removed meanwhile makes no other row skip or show twice. The list pages people
read page by number instead ("page 3 of 12", with links to jump to the last), which a key cannot
give: `Keyset.numbered` reads the same order from a start, and `numbered` cuts a list the page
had to judge in Python (what a duty's page or the bids may show) the same way.
"""

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import literal, tuple_
from sqlmodel import Session

from compliance.errors import Refused

# The largest id a listing's cursor or an address may carry: past it a key names nothing (and
# SQLite could not even be asked), so it is refused, never a server error.
MAX_ID = 2**31 - 1
CURSOR_REFUSED = "The cursor is not one this listing gave out; start again without it"

# The rows of a list page, and the furthest page an address may ask for.
PAGE_SIZE = 50
MAX_PAGE = 100_000

# A select of sqlmodel's, of one entity or several (its types vary in their number of columns).
Q = TypeVar("Q", bound=Any)
R = TypeVar("R")


def encode_cursor(*key: Any) -> str:
    """An opaque cursor that continues a listing after the row with this sort key."""
    text = json.dumps(list(key), default=str, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The sort key a cursor carries, or Refused naming the cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != size:
        raise _refused()
    return key


def _refused() -> Refused:
    return Refused(CURSOR_REFUSED, field="query.cursor", status=422)


def _key_part(value: Any, kind: type) -> Any:
    """One part of a cursor's key as its column holds it; Refused unless it is one (a forged
    cursor must not reach the database)."""
    if kind is int:
        if type(value) is not int or not 0 <= value <= MAX_ID:
            raise _refused()
        return value
    if not isinstance(value, str) or len(value) > 1000 or "\x00" in value:
        raise _refused()
    if kind in (dt.date, dt.datetime):
        try:
            return kind.fromisoformat(value)
        except ValueError as exc:
            raise _refused() from exc
    return value


@dataclass(frozen=True)
class Keyset:
    """The order of a listing: `columns` ending in one no two rows share, newest (greatest)
    first or oldest first. To page by key (`after`, `read_cursor`) they must be plain columns
    that are never null; `numbered` takes any expressions (the obligations list's order puts
    the undated last)."""

    columns: tuple[Any, ...]
    newest_first: bool = False

    def ordered(self, query: Q) -> Q:
        """The select in this order."""
        return query.order_by(*(c.desc() if self.newest_first else c for c in self.columns))

    def after(self, query: Q, key: Sequence[Any] | None) -> Q:
        """The select's rows that come after the row with this key (all of them for None), in
        this order."""
        if key is not None:
            if len(self.columns) == 1:
                (column,), (value,) = self.columns, key
                seen: Any = column
            else:
                seen = tuple_(*self.columns)
                value = tuple_(
                    *(literal(v, c.type) for c, v in zip(self.columns, key, strict=True))
                )
            query = query.where(seen < value if self.newest_first else seen > value)
        return self.ordered(query)

    def numbered(self, query: Q, *, start: int, size: int | None) -> Q:
        """`size` of the select's rows (all for None) from the `start`-th (from 0), in this
        order: for the list pages, which page by number."""
        return self.ordered(query).offset(start).limit(size)

    def key_of(self, row: Any) -> tuple[Any, ...]:
        """A row's key; of its first entity, for a row of several (a finding with its body's
        code)."""
        return tuple(
            getattr(row if hasattr(row, column.key) else row[0], column.key)
            for column in self.columns
        )

    def cursor(self, row: Any) -> str:
        """The cursor that continues the listing after this row."""
        return encode_cursor(*self.key_of(row))

    def read_cursor(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The key a cursor of this listing carries, None without one; Refused naming the cursor
        if it is not one this listing gives out."""
        if cursor is None:
            return None
        parts = decode_cursor(cursor, len(self.columns))
        kinds = [column.type.python_type for column in self.columns]
        return tuple(_key_part(part, kind) for part, kind in zip(parts, kinds, strict=True))

    def cut(self, rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
        """A page: `limit` rows of the `limit + 1` read, and the cursor that continues after the
        last of them if there were more."""
        page = list(rows[:limit])
        more = len(rows) > limit
        return page, self.cursor(page[-1]) if more else None


def read_page(
    session: Session, query: Q, keyset: Keyset, *, after: Sequence[Any] | None, limit: int
) -> list[Any]:
    """Up to `limit` rows of the select after the key (from the first for None), in the order of
    the keyset: ask for one more than a page to tell whether another follows."""
    return list(session.exec(keyset.after(query, after).limit(limit)).all())


def page_number(raw: str | None) -> int:
    """A page number as typed in the address: anything but a whole number is the first page."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_PAGE)):
        return 1
    return min(max(int(text), 1), MAX_PAGE)


def page_span(total: int, page: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    """Which page of `total` rows to show (the last, for one past it) and how many there are."""
    pages = max(1, -(-total // size))
    return min(max(page, 1), pages), pages


def numbered(rows: list[R], page: int, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of a list already judged, with the page number and count for the pagination
    links, as the pages that read theirs from the database by `Keyset.numbered` give them."""
    page, pages = page_span(len(rows), page, size)
    return {
        "rows": rows[(page - 1) * size : page * size],
        "page": page,
        "pages": pages,
        "total": len(rows),
    }
