"""Scheduled work for reminders: the daily reminders and the Monday digest, each then sending
the outbox."""

import datetime as dt

from sqlalchemy import Engine

from compliance.config import Settings
from compliance.db import session_scope
from compliance.outbox import flush_outbox
from compliance.reminders.digest import queue_digests
from compliance.reminders.service import queue_due


def daily_reminders(*, engine: Engine, settings: Settings, on: dt.date) -> str:
    """Queue the reminders, overdue notices and escalations due on a date, then send the outbox."""
    # The periods are those the nightly check keeps up to date (it runs first and adds each
    # period months before it falls due), so this job writes nothing but outbox rows and two
    # runs at once are safe.
    with session_scope(engine) as session:
        report = queue_due(session=session, settings=settings, on=on)
    sent = flush_outbox(engine=engine, settings=settings)
    return f"reminders: {report}; outbox: {sent}"


def weekly_digest(*, engine: Engine, settings: Settings, on: dt.date) -> str:
    """Queue each user's digest for the week of `on`, then send the outbox."""
    with session_scope(engine) as session:
        report = queue_digests(session=session, settings=settings, on=on)
    sent = flush_outbox(engine=engine, settings=settings)
    return f"digests: {report}; outbox: {sent}"
