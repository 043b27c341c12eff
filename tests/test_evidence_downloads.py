"""Downloads of stored evidence never fail with a server error: any file name, and a stored
file that has gone missing or been altered, are answered plainly."""

from tests import files as sample
from tests import test_api_evidence
from tests.conftest import sign_in
from tests.test_api_evidence import bearer, form, upload

world = test_api_evidence.world  # the demo area with users of each role, as a fixture


def _recorded(client, world, session, name: str) -> dict:  # type: ignore[no-untyped-def]
    headers = bearer(session, world, "officer")
    made = upload(client, world, headers, form(world), (name, sample.PDF))
    assert made.status_code == 201, made.text
    return made.json() | {"headers": headers}


def test_the_page_download_sends_a_name_outside_latin_1(client, world, session):
    made = _recorded(client, world, session, "cofnodion–bwrdd.pdf")
    sign_in(client, world["users"]["officer"].email)
    download = client.get(f"/evidence/{made['id']}/file")
    assert download.status_code == 200 and download.content == sample.PDF
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="cofnodion_bwrdd.pdf"')
    assert "filename*=UTF-8''cofnodion%E2%80%93bwrdd.pdf" in disposition


def test_a_missing_or_altered_file_is_a_409_not_a_500(client, world, session, settings):
    from compliance.evidence.files import stored_path

    made = _recorded(client, world, session, "minutes.pdf")
    path = stored_path(settings.data_dir, made["sha256"])
    path.write_bytes(sample.PDF + b"tampered")
    altered = client.get(made["file_url"], headers=made["headers"])
    assert altered.status_code == 409
    assert altered.headers["content-type"] == "application/problem+json"
    assert "restore it from a backup" in altered.json()["detail"]

    path.unlink()
    sign_in(client, world["users"]["officer"].email)
    page = client.get(f"/evidence/{made['id']}/file")
    assert page.status_code == 409 and "restore it from a backup" in page.text
