"""Scheduled work for the compliance engine."""

import datetime as dt

from sqlalchemy import Engine

from compliance.checks.service import check_now
from compliance.config import Settings
from compliance.db import session_scope


def nightly_check(*, engine: Engine, settings: Settings, on: dt.date) -> str:
    """Bring obligations and their periods up to date, then run every rule, in one transaction
    (so that the check judges exactly what the synchronisation left)."""
    with session_scope(engine) as session:
        sync, summary = check_now(session=session, settings=settings, on=on, trigger="scheduler")
        run = summary.run
        return (
            f"obligations: {sync.opened} opened, {sync.closed} closed; findings: "
            f"{run.findings_open} open, {run.findings_new} new, {run.findings_resolved} resolved; "
            f"{len(run.errors)} error(s)"
        )
