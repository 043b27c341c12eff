"""Text PostgreSQL cannot store (the NUL character) is refused with a message on every route and
on both backends, never a server error."""

from tests.conftest import PASSWORD


def test_a_nul_in_a_search_box_is_refused_plainly(admin):
    page = admin.get("/bodies", params={"q": "Corn\x00wall"})
    assert page.status_code == 422 and "NUL character" in page.text
    api = admin.get("/api/v1/bodies", params={"q": "Corn\x00wall"})
    assert api.status_code == 422 and "NUL character" in api.json()["detail"]


def test_a_nul_in_the_sign_in_form_is_not_a_server_error(client):
    response = client.post(
        "/sign-in",
        data={"email": "x\x00@example.org", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code < 500
