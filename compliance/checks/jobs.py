"""Scheduled work for the compliance engine."""

import datetime as dt

from sqlalchemy import Engine
from sqlmodel import Session

from compliance.checks.service import check_now
from compliance.config import Settings
from compliance.db import session_scope
from compliance.obligations.judged import keep_current


def nightly_check(*, engine: Engine, settings: Settings, on: dt.date) -> str:
    """Bring obligations and their periods up to date, then run every rule, in one transaction
    (so that the check judges exactly what the synchronisation left); then judge every open
    obligation for the day, so that the first dashboard of the morning reads kept states."""
    with session_scope(engine) as session:
        sync, summary = check_now(session=session, settings=settings, on=on, trigger="scheduler")
        run = summary.run
        said = (
            f"obligations: {sync.opened} opened, {sync.closed} closed; findings: "
            f"{run.findings_open} open, {run.findings_new} new, {run.findings_resolved} "
            f"resolved; {len(run.errors)} error(s)"
        )
    with Session(engine) as session:
        judged = judge_open_obligations(session, settings=settings, on=on)
    return f"{said}; {judged} obligation states judged"


def judge_open_obligations(session: Session, *, settings: Settings, on: dt.date) -> int:
    """Keep the state of every open obligation judged for a date; return how many were judged."""
    return keep_current(session, on=on, due_soon_days=settings.due_soon_days)
