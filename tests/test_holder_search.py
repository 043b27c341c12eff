"""The holder filters of a national registry: past a few hundred bodies and partnerships the
obligations list and the review queue write no options, and a box takes a name or a code, with
suggestions from /holders (compliance/obligations/holders.py). The demo has 23 holders, so these
tests lower the threshold rather than load thousands."""

from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

import compliance.obligations.holders as holders
from compliance.obligations.holders import find_holder
from tests.conftest import make_user, sign_in
from tests.html import parse

CORNWALL, POLICE = "E06000052", "E23000035"
ADULTS = "cios-safeguarding-adults-board"


@pytest.fixture
def demo(demo_area, session):
    session.flush()


@pytest.fixture
def national(monkeypatch):
    """Every user's holder filters are search boxes, as a national registry's admin's are."""
    monkeypatch.setattr(holders, "SEARCHED_PAST", 0)


@pytest.fixture
def officer(app, session):  # type: ignore[no-untyped-def]
    user = make_user(session, "officer", bodies=[CORNWALL], partnerships=[ADULTS])
    with TestClient(app) as client:
        sign_in(client, user.email)
        yield client


def rows(client: TestClient, path: str, **params: str) -> list[str]:
    response = client.get(path + "?" + urlencode(params))
    assert response.status_code == 200, response.text[:300]
    found = parse(response.text).findall(".//main//table/tbody/tr")
    return [" ".join("".join(row.itertext()).split()) for row in found]


def test_past_the_threshold_the_filters_write_no_options_but_boxes_that_ask_the_server(
    admin, demo, national
):
    page = parse(admin.get("/obligations").text)
    assert page.findall(".//select[@id='body']") == []
    for name, kind in [("body", "body"), ("partnership", "partnership")]:
        box = page.find(f".//input[@name='{name}']")
        assert box.get("data-suggest") == f"/holders?kind={kind}"
        assert box.get("autocomplete") == "off" and box.get("value") in (None, "")
    queue = parse(admin.get("/reviews").text)
    assert queue.findall(".//select[@id='holder']") == []
    assert queue.find(".//input[@name='holder']").get("data-suggest") == "/holders?kind=holder"


def test_below_the_threshold_the_filters_are_selects_as_they_were(admin, demo):
    page = parse(admin.get("/obligations").text)
    assert CORNWALL in [o.get("value") for o in page.findall(".//select[@id='body']/option")]
    assert page.findall(".//input[@name='body']") == []


def test_the_suggestions_are_the_holders_the_user_may_read_that_hold_the_text(admin, officer, demo):
    def suggested(client: TestClient, kind: str, q: str) -> list[str]:
        response = client.get("/holders", params={"kind": kind, "q": q})
        assert response.status_code == 200
        return response.json()

    everyone = suggested(admin, "body", "corn")
    assert "Cornwall Council (E06000052)" in everyone
    assert "Devon and Cornwall Police (E23000035)" in everyone
    assert everyone == sorted(everyone, key=str.lower)
    assert suggested(admin, "body", "e06000052") == ["Cornwall Council (E06000052)"]
    mine = suggested(officer, "body", "corn")
    assert "Cornwall Council (E06000052)" in mine
    assert "Devon and Cornwall Police (E23000035)" not in mine
    # The partnerships of their scope, and those their bodies belong to; not every one.
    theirs, all_ = suggested(officer, "partnership", "a"), suggested(admin, "partnership", "a")
    assert f"Cornwall and Isles of Scilly Safeguarding Adults Board ({ADULTS})" in theirs
    assert set(theirs) < set(all_)
    both = suggested(admin, "holder", "cornwall")
    assert "Cornwall Council (E06000052)" in both
    assert any(ADULTS in s for s in suggested(admin, "holder", "adults"))
    # Nothing to search, a kind no filter has, and LIKE's own characters taken as typed.
    for kind, q in [("body", ""), ("body", "  "), ("bid", "corn"), ("body", "%"), ("body", "_")]:
        assert suggested(admin, kind, q) == [], (kind, q)
    assert suggested(admin, "body", "a\x00b") == []
    anonymous = TestClient(admin.app).get("/holders", params={"q": "corn"}, follow_redirects=False)
    assert anonymous.status_code in (303, 401)


def test_a_holder_is_found_by_its_code_its_page_a_suggestion_or_a_name_only_it_has(session, demo):
    def found(text: str, kinds=("body", "partnership")):  # type: ignore[no-untyped-def]
        holder = find_holder(session=session, text=text, kinds=kinds)
        return holder and (holder.key, holder.href)

    cornwall = (CORNWALL, f"/bodies/{CORNWALL}")
    for typed in [CORNWALL, "e06000052 ", f"/bodies/{CORNWALL}", "Cornwall Council (E06000052)"]:
        assert found(typed) == cornwall, typed
    assert found("cornwall council") == cornwall
    assert found(f"Any words at all ({CORNWALL})") == cornwall  # the code in brackets decides
    assert found(ADULTS) == found(ADULTS.upper()) == (ADULTS, f"/partnerships/{ADULTS}")
    assert found(f"/partnerships/{ADULTS}", kinds=("body",)) is None
    assert found(CORNWALL, kinds=("partnership",)) is None
    for typed in ["", "Cornwall", "Nobody at all", "x" * 201, "a\x00b"]:
        assert found(typed) is None, typed


def test_a_name_two_holders_share_finds_neither(session, demo):
    from compliance.bodies.service import get_body

    get_body(session=session, code=POLICE).name = "Cornwall Council"
    session.flush()
    assert find_holder(session=session, text="Cornwall Council", kinds=("body",)) is None
    chosen = find_holder(session=session, text="Cornwall Council (E23000035)", kinds=("body",))
    assert chosen is not None and chosen.body_id is not None and chosen.key == POLICE


def test_a_typed_holder_lists_what_its_code_lists(admin, officer, demo, national):
    by_code = rows(admin, "/obligations", body=CORNWALL)
    assert by_code
    for typed in ["Cornwall Council (E06000052)", "cornwall council"]:
        assert rows(admin, "/obligations", body=typed) == by_code, typed
    page = parse(admin.get("/obligations", params={"body": "cornwall council"}).text)
    assert page.find(".//input[@name='body']").get("value") == "Cornwall Council (E06000052)"
    # The pages after the first, and the download, name the holder by its code.
    assert f"body={CORNWALL}" in page.find(".//main//a[@download]").get("href")
    by_slug = rows(admin, "/obligations", partnership=ADULTS)
    labelled = f"Cornwall and Isles of Scilly Safeguarding Adults Board ({ADULTS})"
    assert by_slug and rows(admin, "/obligations", partnership=labelled) == by_slug
    unknown = admin.get("/obligations", params={"body": "Nobody at all"})
    assert unknown.status_code == 422
    said = "No body has that name or code: type part of it and choose a suggestion"
    assert [
        a.text for a in parse(unknown.text).findall(".//div[@class='govuk-error-summary']//li/a")
    ] == [said]
    box = parse(unknown.text).find(".//input[@name='body']")
    assert box.get("value") == "Nobody at all"
    assert "govuk-input--error" in box.get("class")
    outside = officer.get("/obligations", params={"body": "Devon and Cornwall Police (E23000035)"})
    assert outside.status_code == 403


def test_the_review_queue_finds_a_typed_holder_without_listing_every_holder(
    admin, officer, demo, national
):
    everything = rows(admin, "/reviews")
    by_page = rows(admin, "/reviews", holder=f"/partnerships/{ADULTS}")
    assert by_page and len(by_page) < len(everything)
    labelled = f"Cornwall and Isles of Scilly Safeguarding Adults Board ({ADULTS})"
    for typed in [labelled, ADULTS]:
        assert rows(admin, "/reviews", holder=typed) == by_page, typed
    page = parse(admin.get("/reviews", params={"holder": ADULTS}).text)
    assert page.find(".//input[@name='holder']").get("value") == labelled
    by_body = rows(admin, "/reviews", holder=CORNWALL)
    assert by_body and all("Cornwall Council" in row for row in by_body)
    for client, typed in [(admin, "Nobody at all"), (officer, POLICE)]:
        refused = client.get("/reviews", params={"holder": typed})
        assert refused.status_code == 422, typed
        assert "No body or partnership you can see has that name or code" in refused.text


def test_the_review_queues_select_takes_a_typed_code_as_the_option_it_names(admin, demo):
    # What the type-ahead sends when a code is typed rather than a name chosen (static/app.js).
    by_option = rows(admin, "/reviews", holder=f"/bodies/{CORNWALL}")
    assert by_option and rows(admin, "/reviews", holder=CORNWALL) == by_option
    page = parse(admin.get("/reviews", params={"holder": CORNWALL}).text)
    chosen = page.findall(".//select[@id='holder']/option[@selected]")
    assert [o.get("value") for o in chosen] == [f"/bodies/{CORNWALL}"]
