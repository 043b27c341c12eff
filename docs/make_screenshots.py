"""Save a PNG of each main page of the demo area to docs/screenshots/ (run by `make screenshots`).

It builds a throw-away SQLite database with the demo area, serves it on a free loopback port,
signs in as the demo governance officer and photographs the pages with Debian's Chromium.
"""

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright
from report_pages import save_report_pages  # docs/ is on the path when this script runs
from sqlmodel import Session, select

from compliance.catalogue.service import load_catalogue
from compliance.checks.service import run_checks
from compliance.config import Settings
from compliance.db import make_engine
from compliance.demo.service import DEMO_PASSWORD, load_demo
from compliance.main import create_app
from compliance.migrations import upgrade
from compliance.models import Body, Obligation

OUT = Path(__file__).parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"


OFFICER = "officer.cornwall@demo.example.org"
INSPECTOR = "inspector@demo.example.org"
ADMIN = "admin@demo.example.org"
DESKTOP, PHONE = 1280, 375


def screenshots(obligation: int) -> list[tuple[str, int, dict[str, str]]]:
    """Who signs in, at what width, and the pages they photograph (file name -> path)."""
    officer = {
        "dashboard": "/",
        "bodies": "/bodies",
        "body": "/bodies/E06000052",
        "obligation": f"/obligations/{obligation}",
        "record-evidence": f"/obligations/{obligation}/evidence/new",
        "partnership": "/partnerships/cios-safeguarding-adults-board",
        "duty": "/duties/children-act-2004-s16e",
        "findings": "/findings",
        "reports": "/reports",
        "account": "/account",
        "email-preferences": "/account/email",
        "calendar": "/account/calendar",
        "obligations-overdue": "/obligations?status=overdue",
        "evaluations": "/partnerships/cios-safeguarding-adults-board/evaluations",
        "value-for-cost": "/partnerships/cios-safeguarding-adults-board/value",
    }
    return [
        (OFFICER, DESKTOP, officer),
        (INSPECTOR, DESKTOP, {"review-queue": "/reviews"}),
        (
            ADMIN,
            DESKTOP,
            {
                "admin-users": "/admin/users",
                "admin-new-user": "/admin/users/new",
                "admin-checks": "/admin/checks",
                "admin-mail": "/admin/mail",
                "admin-new-partnership": "/partnerships/new",
            },
        ),
        # The same pages reflow on a phone: the menu folds, tables scroll in their own boxes.
        (OFFICER, PHONE, {"dashboard-phone": "/", "body-phone": "/bodies/E06000052"}),
    ]


def sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/sign-in")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/")


def main() -> int:
    data = Path(tempfile.mkdtemp(prefix="screenshots-"))
    url = f"sqlite:///{data / 'demo.db'}"
    settings = Settings(
        environment="test", secret_key="screenshots", database_url=url, data_dir=data
    )
    upgrade(url)
    with Session(make_engine(url)) as session:
        load_catalogue(session=session)
        load_demo(session=session, settings=settings)
        run_checks(
            session=session,
            on=settings.today(),
            trigger="screenshots",
            due_soon_days=30,
            query_answer_days=14,
        )
        cornwall = session.exec(select(Body).where(Body.code == "E06000052")).one()
        obligation = (
            session.exec(select(Obligation).where(Obligation.body_id == cornwall.id)).first().id
        )
        session.commit()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for who, width, shots in screenshots(obligation):
            page = browser.new_page(viewport={"width": width, "height": 900})
            sign_in(page, base, who)
            if who == OFFICER and width == DESKTOP:
                # One token made on the account page, so that its screenshot shows the list.
                page.goto(f"{base}/account")
                page.fill("#name", "Power BI refresh")
                page.fill("#expires_days", "90")
                page.click("button:has-text('Create token')")
            for name, path in shots.items():
                response = page.goto(base + path)
                # A missing or failing page is not saved as if it were the page.
                if not response.ok:
                    raise SystemExit(f"{path} answered {response.status}")
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
                print(f"docs/screenshots/{name}.png")
            page.close()
        browser.close()
    server.should_exit = True
    save_report_pages(settings=settings, out=OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
