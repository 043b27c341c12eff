"""The funding bids' pages: who may see a bid, its lead and joint applicants, its conditions."""

from fastapi.testclient import TestClient

from tests import test_list_pages
from tests.conftest import make_user, sign_in
from tests.html import parse

BID = "BCF-2025-26-CORNWALL"
# The demo area, and a cell's text, as the list pages' tests have them.
demo = test_list_pages.demo
text = test_list_pages.text


def signed_in(app, session, role: str, **scope: list[str]) -> TestClient:  # type: ignore[no-untyped-def]
    user = make_user(session, role, **scope)
    client = TestClient(app)
    sign_in(client, user.email)
    return client


def test_the_bids_list_names_each_bids_lead_and_stream(admin, demo):
    rows = parse(admin.get("/bids").text).findall(".//main//table/tbody/tr")
    assert [[text(cell) for cell in row.findall("td")] for row in rows] == [
        [
            "Cornwall Better Care Fund plan 2025-26",
            "Cornwall Council",
            "Better Care Fund 2025-26",
            "Submitted",
        ]
    ]
    assert rows[0].find("td[2]/a").get("href") == "/bodies/E06000052"


def test_a_bid_shows_its_joint_applicants_and_conditions(admin, demo):
    tree = parse(admin.get(f"/bids/{BID}").text)
    applicants = [text(li) for li in tree.findall(".//main//ul/li")]
    assert "Cornwall Council – Joint applicant (council)" in applicants
    assert any(a.endswith("– Joint applicant (integrated care board)") for a in applicants)
    assert len(tree.findall(".//main//table/tbody/tr")) > 0


def test_a_bid_is_seen_by_its_applicants_and_partnership_only(app, session, demo):
    applicant = signed_in(app, session, "officer", bodies=["E06000052"])
    assert applicant.get(f"/bids/{BID}").status_code == 200
    assert len(parse(applicant.get("/bids").text).findall(".//main//table/tbody/tr")) == 1
    outsider = signed_in(app, session, "officer", bodies=["RYF"])
    refused = outsider.get(f"/bids/{BID}")
    assert refused.status_code == 403 and "This bid is not in your scope" in refused.text
    assert "No funding bids in your scope." in outsider.get("/bids").text


def test_an_unknown_bid_is_not_found(admin, demo):
    response = admin.get("/bids/NO-SUCH-BID")
    assert response.status_code == 404 and "NO-SUCH-BID" in response.text
