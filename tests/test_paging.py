"""compliance.paging, the one way the pages and the API page a listing: by key after a cursor,
or by number; on both backends, with names that tie and a row added between two pages."""

import datetime as dt

import pytest
from sqlmodel import col, select

from compliance.errors import Refused
from compliance.models import Body, Measurement
from compliance.paging import (
    CURSOR_REFUSED,
    MAX_ID,
    Keyset,
    decode_cursor,
    encode_cursor,
    numbered,
    page_number,
    read_page,
)

BY_NAME = Keyset((col(Body.name), col(Body.code)))
NEWEST_FIRST = Keyset((col(Body.id),), newest_first=True)


def add_bodies(session, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    for number, name in enumerate(names):
        session.add(Body(code=f"PG{number:04d}", name=name, kind="other", nation="england"))
    session.flush()


def walk(session, query, keyset: Keyset, limit: int) -> list:  # type: ignore[no-untyped-def]
    """Every row of a listing, a page at a time, following each page's cursor."""
    seen, cursor = [], None
    while True:
        rows = read_page(session, query, keyset, after=keyset.read_cursor(cursor), limit=limit + 1)
        page, cursor = keyset.cut(rows, limit)
        seen += page
        if cursor is None:
            return seen


def test_a_listing_by_two_columns_walks_every_row_once_in_order_where_names_tie(session):
    add_bodies(session, ["Beta", "Alpha", "Beta", "Alpha", "Gamma", "Beta", "Alpha"])
    query = select(Body).where(col(Body.code).startswith("PG"))
    walked = [(b.name, b.code) for b in walk(session, query, BY_NAME, limit=2)]
    assert walked == sorted(walked)
    assert len(walked) == len(set(walked)) == 7


def test_newest_first_pages_down_from_the_greatest_key(session):
    add_bodies(session, [f"Body {n}" for n in range(5)])
    query = select(Body).where(col(Body.code).startswith("PG"))
    ids = [b.id for b in walk(session, query, NEWEST_FIRST, limit=2)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5


def test_a_row_added_between_two_pages_neither_repeats_nor_hides_a_row_already_there(session):
    add_bodies(session, ["Carol", "Dave", "Eve", "Frank"])
    query = select(Body).where(col(Body.code).startswith("PG"))
    rows = read_page(session, query, BY_NAME, after=None, limit=3)
    first, cursor = BY_NAME.cut(rows, 2)
    assert [b.name for b in first] == ["Carol", "Dave"]
    # Someone adds a body that sorts before the page already read: by number the next page
    # would show Dave again; by key it starts after him.
    session.add(Body(code="PG9999", name="Alice", kind="other", nation="england"))
    session.flush()
    rest = read_page(session, query, BY_NAME, after=BY_NAME.read_cursor(cursor), limit=10)
    assert [b.name for b in rest] == ["Eve", "Frank"]


def test_numbered_reads_the_same_order_from_a_start(session):
    add_bodies(session, ["Beta", "Alpha", "Beta", "Alpha"])
    query = select(Body).where(col(Body.code).startswith("PG"))
    second = session.exec(BY_NAME.numbered(query, start=2, size=2)).all()
    assert [(b.name, b.code) for b in second] == [("Beta", "PG0000"), ("Beta", "PG0002")]


def test_a_cursor_carries_a_date_key_and_a_row_of_several_entities_keys_by_the_first():
    by_date = Keyset((col(Measurement.measured_date),))
    measurement = Measurement(indicator_id=1, measured_date=dt.date(2026, 3, 31), value=1)
    cursor = by_date.cursor(measurement)
    assert by_date.read_cursor(cursor) == (dt.date(2026, 3, 31),)
    body = Body(id=7, code="X", name="X", kind="other", nation="england")
    assert NEWEST_FIRST.key_of((body, "code", None)) == (7,)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        encode_cursor(),
        encode_cursor(1, 2),
        encode_cursor("7"),
        encode_cursor(True),
        encode_cursor(-1),
        encode_cursor(MAX_ID + 1),
        encode_cursor(1.5),
        encode_cursor(None),
    ],
)
def test_a_forged_id_cursor_is_refused_naming_the_cursor(cursor):
    with pytest.raises(Refused) as refused:
        NEWEST_FIRST.read_cursor(cursor)
    assert (str(refused.value), refused.value.field, refused.value.status) == (
        CURSOR_REFUSED,
        "query.cursor",
        422,
    )


@pytest.mark.parametrize(
    "key", [[1, "PG0001"], ["Alpha", 1], ["Alpha", "x" * 1001], ["Alpha", "a\x00b"]]
)
def test_a_forged_text_or_date_cursor_is_refused(key):
    with pytest.raises(Refused):
        BY_NAME.read_cursor(encode_cursor(*key))
    with pytest.raises(Refused):
        Keyset((col(Measurement.measured_date),)).read_cursor(encode_cursor("2026-02-30"))


def test_a_cursor_decodes_to_the_key_it_was_given():
    assert decode_cursor(encode_cursor("Alpha", 3), 2) == ["Alpha", 3]
    assert BY_NAME.read_cursor(None) is None


def test_a_list_judged_in_python_is_numbered_as_the_pages_from_the_database_are():
    rows = list(range(120))
    assert numbered(rows, 3) == {"rows": rows[100:], "page": 3, "pages": 3, "total": 120}
    assert numbered(rows, 9)["page"] == 3
    assert numbered([], 1) == {"rows": [], "page": 1, "pages": 1, "total": 0}
    assert [page_number(raw) for raw in ("2", "", "x", "0", "²", "9" * 9)] == [2, 1, 1, 1, 1, 1]
