"""The API documentation (issue 15, item 9): off in production unless asked for; when on, Swagger
UI from this site's own pinned copy under the strict Content-Security-Policy, no CDN."""

import re

import pytest
from fastapi.testclient import TestClient

from compliance.config import Settings
from compliance.main import SECURITY_HEADERS, create_app

KEY = "a3f9c1e07b5d4e2a9c8b7f6e5d4c3b2a1f0e9d8c"


def client_for(settings: Settings, **changes) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(settings.model_copy(update=changes)))


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_production_serves_no_documentation_unless_asked(settings, path):
    production = client_for(settings, environment="production", secret_key=KEY)
    assert production.get(path).status_code == 404
    asked = client_for(settings, environment="production", secret_key=KEY, api_docs=True)
    assert asked.get(path).status_code == (404 if path == "/redoc" else 200)


def test_documentation_can_be_turned_off_in_development(settings):
    off = client_for(settings, environment="development", api_docs=False)
    assert off.get("/docs").status_code == off.get("/openapi.json").status_code == 404
    assert off.get("/healthz").status_code == 200  # the API itself still answers


def test_the_docs_page_loads_only_this_sites_files_under_the_strict_policy(settings):
    client = client_for(settings)
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    addresses = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert addresses and all(a.startswith("/static/swagger-ui/") for a in addresses), addresses
    assert "<script>" not in page.text  # no inline script for the policy to refuse
    for address in addresses:
        asset = client.get(address)
        assert asset.status_code == 200 and asset.content, address
    assert client.get("/openapi.json").json()["info"]["title"] == "Partnership duties tracker"
