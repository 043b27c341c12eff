"""PNGs of the first pages of the demo's Cornwall Council audit report, for `make screenshots`.

WeasyPrint makes the PDF; poppler's pdftoppm (Debian's poppler-utils) turns pages into PNGs.
Where pdftoppm is missing the pages are skipped with that reason.
"""

import shutil
import subprocess
from pathlib import Path

from sqlmodel import Session

from compliance.access import Principal
from compliance.config import Settings
from compliance.db import get_engine
from compliance.models import User
from compliance.reports.jobs import produce

PAGES = {1: "report-cover", 2: "report-summary", 3: "report-obligations"}


def save_report_pages(*, settings: Settings, out: Path, code: str = "E06000052") -> list[Path]:
    """Render a body's audit report and save its first pages as PNGs in `out`."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        print("pdftoppm not found (apt-get install poppler-utils): report pages not saved")
        return []
    admin = User(email="screenshots", name="Demo administrator", role="admin")
    principal = Principal(admin, frozenset(), frozenset(), frozenset())
    with Session(get_engine(settings)) as session:
        made = produce(
            session=session, settings=settings, principal=principal, kind="body", key=code
        )
    saved = []
    for number, name in PAGES.items():
        target = out / name
        command = [pdftoppm, "-png", "-r", "80", "-f", str(number), "-l", str(number)]
        subprocess.run([*command, "-singlefile", str(made.path), str(target)], check=True)
        saved.append(target.with_suffix(".png"))
    return saved
