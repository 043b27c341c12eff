"""A real OpenID provider for the sign-in tests: tests/oidc_provider/server.mjs (the npm package
`oidc-provider`, installed by `make install`) run by Node.js on 127.0.0.1, started by the test
and stopped after it; and a person signing in there, driven over HTTP."""

import html
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.chromium_site import free_port

HERE = Path(__file__).resolve().parent / "oidc_provider"
ROOT = HERE.parents[1]
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None or not (ROOT / "node_modules" / "oidc-provider").exists(),
    reason="Node.js and the npm package oidc-provider are needed (make install installs it)",
)
CLIENT_SECRET = "tracker-test-secret"
TEST_CALLBACK = "http://testserver/sign-in/oidc/test/callback"


def start_provider(redirects: list[str]) -> Iterator[str]:
    """Run the provider on a free port at the test's clock until the generator is closed;
    yields its issuer once its discovery document answers."""
    port = free_port()
    command = [str(NODE), str(HERE / "server.mjs"), "--port", str(port)]
    command += ["--clock", str(int(time.time()))]  # the test's clock (time-machine's)
    for redirect in redirects:
        command += ["--redirect", redirect]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if process.poll() is not None:
                raise RuntimeError(f"the provider stopped: {process.stdout.read().decode()}")
            try:
                if httpx2.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the provider did not start in 10 seconds")
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def oidc_issuer() -> Iterator[str]:
    """The issuer URL of a provider started for this test, for the test client's callback."""
    yield from start_provider([TEST_CALLBACK])


def log_in_at_provider(authorize_url: str, login: str) -> str:
    """Sign in at the provider's own login form as `login` (any password does); returns the
    address it sends the browser back to, the callback with its code and state."""
    with httpx2.Client() as browser:
        url = authorize_url
        for _ in range(10):
            response = browser.get(url)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                if not url.startswith("http://127.0.0.1"):
                    return url
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert form, response.text
            posted = browser.post(
                urljoin(url, html.unescape(form.group(1))),
                data={"prompt": "login", "login": login, "password": "any"},
            )
            assert posted.status_code in (302, 303), posted.text
            url = urljoin(url, posted.headers["location"])
            if not url.startswith("http://127.0.0.1"):
                return url
    raise AssertionError("the provider never sent the browser back")


def signing_key() -> RSAKey:
    """The provider's own signing key (fixed, for the tests)."""
    return RSAKey.import_key(json.loads((HERE / "signing-key.json").read_text()))


def mint_id_token(**claims: object) -> str:
    """An ID token signed with the provider's key, holding exactly these claims."""
    header = {"alg": "RS256", "kid": "test-signing-key"}
    return jwt.encode(header, claims, signing_key())
