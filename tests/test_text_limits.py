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


def test_a_nul_in_the_new_page_forms_is_never_a_server_error(admin, session):
    """On PostgreSQL a NUL reaching the database is an error: each page form stops it first."""
    from tests.conftest import csrf_of
    from tests.factories import make_body, make_partnership

    body = make_body(session, code="E06000052", name="Cornwall Council")
    partnership = make_partnership(session, slug="nul-board", members=[body])
    token = csrf_of(admin, "/bodies")
    answers = [
        (f"/partnerships/{partnership.slug}/outcomes", {"title": "Safer\x00 lives"}),
        (f"/partnerships/{partnership.slug}/risks", {"title": "Cost\x00", "category": "cost"}),
        ("/admin/users", {"name": "A\x00B", "email": "nul@example.org", "role": "inspector"}),
        (f"/partnerships/{partnership.slug}/edit", {"name": "Board\x00"}),
    ]
    for path, data in answers:
        response = admin.post(path, data={"csrf_token": token} | data, follow_redirects=False)
        assert response.status_code < 500, (path, response.status_code)
    outcome = admin.post(
        f"/partnerships/{partnership.slug}/outcomes",
        data={"csrf_token": token, "title": "Safer\x00 lives"},
    )
    assert "Remove the NUL character" in outcome.text


def test_an_id_past_any_row_in_a_page_address_is_not_found_not_a_server_error(admin):
    huge = 10**20
    for path in (
        f"/outcomes/{huge}/edit",
        f"/indicators/{huge}/edit",
        f"/risks/{huge}/edit",
        f"/evidence/{huge}/correct",
        f"/evidence/{huge}/withdraw",
        f"/obligations/{huge}",
    ):
        response = admin.get(path)
        assert response.status_code == 404, (path, response.status_code)
