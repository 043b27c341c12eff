"""Sign-in with a work account in a real browser (Debian's Chromium): from the sign-in page's
button, through the real provider's login form, back signed in and linked; sign-out offering
the provider's; and axe-core finds no accessibility violation on the new pages."""

import pytest
from sqlmodel import Session, select

from compliance.accounts.models import IdentityLink
from compliance.config import OidcProvider, Settings
from compliance.db import make_engine
from compliance.migrations import upgrade
from tests.chromium_site import free_port, needs_chromium, served
from tests.conftest import PASSWORD, make_user
from tests.oidc_site import CLIENT_SECRET, needs_node, start_provider
from tests.test_browser import axe_violations

pytestmark = [needs_chromium, needs_node]
ALICE = "alice.officer@example.gov.uk"


@pytest.fixture
def oidc_site(tmp_path):  # type: ignore[no-untyped-def]
    """The application on 127.0.0.1 with the test provider configured, and the provider."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = start_provider([f"{base}/sign-in/oidc/test/callback"])
    issuer = next(provider)
    url = f"sqlite:///{tmp_path / 'site.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        alice = make_user(session, "officer", email=ALICE)
        admin = make_user(session, "admin")
        session.commit()
        ids = {"alice": alice.id, "admin": admin.email}
    settings = Settings(
        environment="test",
        secret_key="browser-test",
        database_url=url,
        data_dir=tmp_path,
        oidc_providers=[
            OidcProvider(
                name="test",
                label="Test ID",
                issuer=issuer,
                client_id="tracker",
                client_secret=CLIENT_SECRET,
            )
        ],
    )
    with served(settings, port):
        yield {"base": base, "engine": engine, **ids}
    provider.close()
    engine.dispose()


def test_a_person_signs_in_with_their_work_account_and_is_linked(browser, oidc_site):
    base = oidc_site["base"]
    page = browser.new_context().new_page()
    page.goto(f"{base}/sign-in")
    assert axe_violations(page) == []
    page.click("text=Sign in with Test ID")
    # The provider's own login form (its development form takes any password).
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "any password")
    page.click("button:has-text('Sign-in')")
    page.wait_for_url(f"{base}/")
    assert page.is_visible("button:has-text('Sign out')")
    with Session(oidc_site["engine"]) as session:
        link = session.exec(select(IdentityLink)).one()
        assert (link.user_id, link.subject) == (oidc_site["alice"], "alice")
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{base}/sign-in?signed_out=test")
    assert page.is_visible("text=Sign out of Test ID too")
    assert axe_violations(page) == []
    # The provider's sign-out page, reached from the link.
    page.click("text=Sign out of Test ID too")
    page.wait_for_load_state()
    assert page.url.startswith(oidc_site["base"].rsplit(":", 1)[0])
    assert "/session/end" in page.url


def test_a_refusal_and_the_admins_list_are_accessible(browser, oidc_site):
    base = oidc_site["base"]
    page = browser.new_context().new_page()
    page.goto(f"{base}/sign-in")
    page.click("text=Sign in with Test ID")
    page.fill("input[name=login]", "stranger")
    page.fill("input[name=password]", "any password")
    page.click("button:has-text('Sign-in')")
    page.wait_for_url(f"{base}/sign-in/oidc/test/callback*")
    assert page.is_visible("h1:has-text('You have not been signed in')")
    assert page.is_visible("text=There is no account here for stranger@example.org")
    assert axe_violations(page) == []
    admin = browser.new_context().new_page()
    admin.goto(f"{base}/sign-in")
    admin.fill("#email", oidc_site["admin"])
    admin.fill("#password", PASSWORD)
    admin.click("form button:has-text('Sign in')")
    admin.wait_for_url(f"{base}/")
    admin.goto(f"{base}/admin/work-accounts")
    assert admin.is_visible("h1:has-text('Work accounts')")
    assert axe_violations(admin) == []
