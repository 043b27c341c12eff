"""Reports made at once (the API, the command line, a summary's holders): found by their change
marker without building their data, else from the cache by their data's fingerprint, else
rendered now."""

import datetime as dt
import hashlib
import json
from pathlib import Path

from sqlmodel import Session

from compliance.access import Principal
from compliance.config import Settings
from compliance.errors import Refused
from compliance.obligations.judged import database_of
from compliance.reports.changes import data_token, unsaved
from compliance.reports.pack import make_pack
from compliance.reports.pdf import Made, make_pdf, recall, remember
from compliance.reports.service import Report, build_report, chain_head

EARLIEST_AS_AT = dt.date(2000, 1, 1)


def as_at_or_today(as_at: dt.date | None, settings: Settings) -> dt.date:
    """The as-at date asked for (never in the future), or today."""
    today = settings.today()
    if as_at is not None and as_at > today:
        raise Refused(
            "as_at: a report cannot be as at a date in the future", field="as_at", status=422
        )
    if as_at is not None and as_at < EARLIEST_AS_AT:
        # Nothing is tracked before then, and a year-1 date overflowed the date arithmetic.
        raise Refused(
            f"as_at: a report cannot be as at a date before {EARLIEST_AS_AT:%-d %B %Y}",
            field="as_at",
            status=422,
        )
    return as_at or today


def produce(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    kind: str,
    key: str,
    as_at: dt.date | None = None,
) -> Made:
    """A report's PDF: found by its change marker without building its data, else from the
    cache by its data's fingerprint, else rendered now."""
    on = as_at_or_today(as_at, settings)
    marker = marker_for(session, settings, principal, kind, key, on)
    made = recall(settings.data_dir, marker) if marker else None
    if made is not None:
        return made
    report = data_for(session, settings, principal, kind, key, on)
    made = make_pdf(
        report=report,
        data_dir=settings.data_dir,
        generated_by=principal.user.name,
        head=chain_head(session=session, as_at=on),
        timezone=settings.timezone,
        ceiling=settings.render_ceiling,
        workers=settings.report_render_workers,
    )
    if marker:
        remember(settings.data_dir, marker, made)
    return made


def data_for(session, settings, principal, kind, key, on) -> Report:
    """A report's data, built now as the settings say."""
    return build_report(
        session=session,
        principal=principal,
        kind=kind,
        key=key,
        as_at=on,
        due_soon_days=settings.due_soon_days,
        detail_holders=settings.report_detail_holders,
        base_url=settings.base_url.rstrip("/"),
    )


def marker_for(session, settings, principal, kind, key, on) -> str | None:
    """A report's change marker; None while the session holds unsaved changes."""
    # None while the session holds unsaved changes: a report built in it may show them.
    return None if unsaved(session) else report_marker(session, settings, principal, kind, key, on)


def report_marker(
    session: Session, settings: Settings, principal: Principal, kind: str, key: str, on: dt.date
) -> str:
    """What decides a report's data without building it: the report data token (drawn afresh
    by every commit that changes a row a report may read), the scope asked for and the date,
    what the principal may read, and the settings the data depends on.

    Stored against the token read before the data is built: a commit landing meanwhile draws
    a new token, so this marker is never asked for again (compliance.reports.changes)."""
    reader = (
        principal.user.role,
        sorted(principal.body_ids),
        sorted(principal.partnership_ids),
        sorted(principal.readable_partnership_ids),
    )
    asked = [
        data_token(session),
        database_of(session),
        kind,
        key,
        on.isoformat(),
        reader,
        settings.due_soon_days,
        settings.query_answer_days,
        settings.report_detail_holders,
        settings.base_url.rstrip("/"),
    ]
    return hashlib.sha256(json.dumps(asked).encode()).hexdigest()


def produce_pack(*, made: Made, settings: Settings) -> Path:
    """The evidence pack of a report already produced."""
    return make_pack(made=made, data_dir=settings.data_dir)
