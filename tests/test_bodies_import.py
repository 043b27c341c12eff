"""The bodies register import: real-world CSV quirks accepted, every bad line named."""

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import select

from compliance.bodies.service import ImportRefused, import_bodies, parse_bodies_csv
from compliance.models import Body
from tests.factories import make_body

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "code,name,kind,nation,parent_code,website\n"


def codes(session):
    return {b.code: b for b in session.exec(select(Body))}


def test_real_register_of_councils_imports_cleanly_and_twice_changes_nothing(session):
    data = (FIXTURES / "uk_councils.csv").read_bytes()
    first = import_bodies(session=session, data=data)
    assert len(first.created) == 402
    bodies = codes(session)
    cornwall = bodies["E06000052"]
    assert (cornwall.kind, cornwall.nation) == ("unitary_authority", "england")
    district = next(b for b in bodies.values() if b.kind == "district_council")
    assert bodies_by_id(bodies)[district.parent_id].kind == "county_council"
    second = import_bodies(session=session, data=data)
    assert (second.created, second.updated, second.unchanged) == ([], [], 402)


def bodies_by_id(bodies):
    return {b.id: b for b in bodies.values()}


def test_bom_crlf_quotes_commas_trailing_blank_lines_and_forward_parents(session):
    text = (
        "\ufeffcode,name,kind,nation,parent_code,website,email\r\n"
        'E07000999,"Dale, Moor and ""Fen"" District",district_council,england,'
        "E10000999,www.example.org,\r\n"
        "E10000999,Shire County Council,county_council,england,,"
        "https://shire.example.org,info@shire.example.org\r\n"
        "\r\n\r\n"
    )
    report = import_bodies(session=session, data=text.encode("utf-8"))
    assert sorted(report.created) == ["E07000999", "E10000999"]
    bodies = codes(session)
    district = bodies["E07000999"]
    assert district.name == 'Dale, Moor and "Fen" District'
    assert district.parent_id == bodies["E10000999"].id
    assert district.website == "https://www.example.org"
    assert bodies["E10000999"].email == "info@shire.example.org"


def test_parent_may_already_be_in_the_registry(session):
    county = make_body(session, code="E10000998", name="Old County", kind="county_council")
    data = (HEADER + "E07000998,A District,district_council,england,E10000998,\n").encode()
    import_bodies(session=session, data=data)
    assert codes(session)["E07000998"].parent_id == county.id


def test_reimport_updates_changed_fields_in_place(session):
    import_bodies(
        session=session, data=(HEADER + "E06000901,Old Name,unitary_authority,england,,\n").encode()
    )
    report = import_bodies(
        session=session, data=(HEADER + "E06000901,New Name,unitary_authority,england,,\n").encode()
    )
    assert report.updated == ["E06000901"]
    assert codes(session)["E06000901"].name == "New Name"


BROKEN = (
    HEADER
    + "E06000801,Good Council,unitary_authority,england,,\n"  # line 2: fine
    + "E06000802,Bad Kind Council,county,england,,\n"  # line 3
    + ",No Code Council,unitary_authority,england,,\n"  # line 4
    + "E06000803,Too, Many, Fields,unitary_authority,england,,\n"  # line 5
    + "E06000804,Wrong Nation,unitary_authority,wales,,\n"  # line 6
    + "E06000801,Repeated Council,unitary_authority,england,,\n"  # line 7
    + "E07000805,Orphan District,district_council,england,E10000000,\n"  # line 8
    + "E06000806,Bad Site,unitary_authority,england,,not a url\n"  # line 9
    + "E07000807,Mismatched Kind,unitary_authority,england,,\n"  # line 10
)


def test_broken_register_names_every_bad_line_and_imports_nothing(session):
    before = set(codes(session))
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=BROKEN.encode())
    lines = [error.line for error in refused.value.errors]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10]
    messages = {error.line: error.message for error in refused.value.errors}
    assert "kind 'county' is not one of" in messages[3]
    assert "code is empty" in messages[4]
    assert "expected 6 fields, found 8" in messages[5]
    assert "is a code in england, not wales" in messages[6]
    assert "already appears on line 2" in messages[7]
    assert "E10000000 is neither in this file nor in the registry" in messages[8]
    assert "not a web address" in messages[9]
    assert "E07 code, which is for district_council" in messages[10]
    assert set(codes(session)) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("code,name,kind\nX,Y,Z\n", "missing column(s) nation, parent_code, website"),
        (HEADER.strip() + ",colour\n", "unknown column(s) colour"),
    ],
)
def test_header_problems_are_reported_on_line_1(text, expected):
    rows, errors = parse_bodies_csv(text)
    assert rows == []
    assert errors[0].line == 1
    assert expected in errors[0].message


def test_not_utf8_names_the_line(session):
    data = (HEADER + "E06000701,Caf\xe9 Council,unitary_authority,england,,\n").encode("latin-1")
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=data)
    assert str(refused.value.errors[0]).startswith("line 2: the file is not UTF-8")


def test_parent_loops_are_refused(session):
    data = HEADER + "X-ONE,One,other,england,X-TWO,\nX-TWO,Two,other,england,X-ONE,\n"
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=data.encode())
    assert [e.line for e in refused.value.errors] == [2, 3]
    assert "loop" in refused.value.errors[0].message


def test_header_only_file_is_refused(session):
    with pytest.raises(ImportRefused, match="no bodies"):
        import_bodies(session=session, data=HEADER.encode())


def test_an_empty_kind_and_nation_are_read_from_the_ons_code(session):
    text = (
        HEADER + "E10000999,Shire County Council,,,,\n"
        "E07000998,Vale District Council,,,E10000999,\n"
        "W06000099,Cyngor Sir Enghraifft,,,,\n"
        "S12000099,Example Council,,scotland,,\n"
    )
    import_bodies(session=session, data=text.encode())
    bodies = codes(session)
    found = {c: (bodies[c].kind, bodies[c].nation) for c in ("E10000999", "E07000998", "W06000099")}
    assert found == {
        "E10000999": ("county_council", "england"),
        "E07000998": ("district_council", "england"),
        "W06000099": ("unitary_authority", "wales"),
    }
    assert bodies["S12000099"].kind == "unitary_authority"


def test_a_kind_the_code_contradicts_and_an_unreadable_empty_kind_are_refused(session):
    text = HEADER + "E07000997,Wrong Kind Council,county_council,,,\nQZZ,No Kind Board,,england,,\n"
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=text.encode())
    messages = {error.line: str(error) for error in refused.value.errors}
    assert "which is for district_council, not county_council" in messages[2]
    assert "kind is empty: give one of" in messages[3] and "E06-E10" in messages[3]
    assert "QZZ" not in codes(session) and "E07000997" not in codes(session)


def test_a_district_under_anything_but_a_county_council_is_refused(session):
    make_body(session, code="E06000998", kind="unitary_authority")
    text = (
        HEADER + "E07000996,Stray District Council,district_council,england,E06000998,\n"
        "E10000996,Good County Council,county_council,england,,\n"
        "E07000995,Good District Council,district_council,england,E10000996,\n"
        "E07000994,Nested District Council,district_council,england,E07000995,\n"
    )
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=text.encode())
    messages = {error.line: str(error) for error in refused.value.errors}
    assert set(messages) == {2, 5}
    assert "parent E06000998 is a unitary authority, not a county council" in messages[2]
    assert "parent E07000995 is a district council, not a county council" in messages[5]
    assert not {"E07000996", "E10000996", "E07000995"} & set(codes(session))


def test_a_body_that_ended_opens_nothing_and_names_its_successor(session):
    from compliance.models import Obligation
    from compliance.obligations.service import sync_obligations

    # Somerset's districts were abolished on 1 April 2023; Somerset Council succeeded them.
    text = (
        "code,name,kind,nation,parent_code,website,start_date,end_date,successor_code\n"
        "E10000999,Old Shire County Council,county_council,england,,,,2023-03-31,E06000998\n"
        "E07000993,Old Vale District Council,district_council,england,E10000999,,,2023-03-31,"
        "E06000998\n"
        "E06000998,New Shire Council,unitary_authority,england,,,2023-04-01,,\n"
    )
    import_bodies(session=session, data=text.encode())
    sync_obligations(session=session, on=dt.date(2026, 12, 1))
    bodies = codes(session)
    old, new = bodies["E10000999"], bodies["E06000998"]
    assert (old.end_date, old.successor_id) == (dt.date(2023, 3, 31), new.id)
    assert new.start_date == dt.date(2023, 4, 1) and new.successor_id is None
    held = lambda body: session.exec(select(Obligation).where(Obligation.body_id == body.id)).all()  # noqa: E731
    assert held(old) == [] and held(bodies["E07000993"]) == []
    assert held(new)


def test_impossible_lifetimes_are_refused_line_by_line(session):
    text = (
        "code,name,kind,nation,parent_code,website,start_date,end_date,successor_code\n"
        "E06000997,A Council,unitary_authority,england,,,2023-02-30,,\n"
        "E06000996,B Council,unitary_authority,england,,,2024-01-01,2023-01-01,\n"
        "E06000995,C Council,unitary_authority,england,,,,,E06000001\n"
        "E06000994,D Council,unitary_authority,england,,,,2023-03-31,E06000994\n"
        "E06000993,E Council,unitary_authority,england,,,,2023-03-31,E06000404\n"
    )
    with pytest.raises(ImportRefused) as refused:
        import_bodies(session=session, data=text.encode())
    messages = {error.line: str(error) for error in refused.value.errors}
    assert "start_date '2023-02-30' is not a real date" in messages[2]
    assert "end_date 2023-01-01 is before start_date 2024-01-01" in messages[3]
    assert "successor_code is given without end_date" in messages[4]
    assert "cannot be its own successor" in messages[5]
    assert "successor_code E06000404 is neither in this file nor in the registry" in messages[6]
    assert not {"E06000997", "E06000993"} & set(codes(session))
