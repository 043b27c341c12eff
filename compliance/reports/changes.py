"""The report cache's change marker: a random token drawn afresh by every commit that writes a
row a report could read, so that an unchanged token means the data of every report is unchanged
and a report already made can be served without building its data again.

Inclusive by default: every table counts but those a report never reads and that change when
people only read (their sessions, sign-in attempts, API tokens' last use, report jobs, the kept
obligation states and their epoch, the outbox, email and reminder settings, calendar tokens,
scheduled job runs), and audit events recording a download (a report leaves downloads out of its
audit trail). Rows written through the ORM (added, changed, deleted) and bulk statements run
through a Session (insert, update, delete of a mapped table) are both seen. A restore brings back
the token with the data it belongs to. Like the obligation states' epoch token, a random token
rather than a count: a rolled-back transaction never leaves a token that another one draws again.
The models module installs the listeners as it loads.
"""

import secrets

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, col

# The row of obligation_state_epoch that holds the report data token (row 1 is the judgement's).
REPORT_DATA = 2
UNREAD = frozenset(
    {
        "user_session",
        "sign_in_attempt",
        "api_token",
        "report_job",
        "obligation_state",
        "obligation_state_epoch",
        "outbox_message",
        "email_preference",
        "reminder_setting",
        "calendar_token",
        "job_run",
    }
)
CHANGED = "report_data_changed"


def data_token(session: Session) -> str:
    """The token the last commit that changed what a report may read drew ("" before any)."""
    from compliance.obligations.tables import JudgedEpoch

    query = select(col(JudgedEpoch.token)).where(col(JudgedEpoch.id) == REPORT_DATA)
    return session.execute(query).scalar_one_or_none() or ""


def unsaved(session: Session) -> bool:
    """Whether this session holds changes a report could read that are not yet committed (a
    report built in it may show them, so it is neither served from nor kept by the marker)."""
    return bool(session.info.get(CHANGED) or session.new or session.dirty or session.deleted)


def _counts(row: object) -> bool:
    from compliance.audit.service import DOWNLOAD
    from compliance.models import AuditEvent

    table = getattr(row, "__tablename__", None)
    if table in UNREAD:
        return False
    return not (isinstance(row, AuditEvent) and row.action == DOWNLOAD)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: object) -> None:
    if session.info.get(CHANGED):
        return
    changed = [row for row in session.dirty if session.is_modified(row, include_collections=False)]
    if any(_counts(row) for row in (*session.new, *changed, *session.deleted)):
        session.info[CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in UNREAD:
        state.session.info[CHANGED] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Flushed first, so that a change made without one (an attribute set, then commit) counts.
    # (A flag left by a rolled-back transaction draws one token more at the next commit: it is
    # not cleared on rollback, since a savepoint's would clear the changes made before it.)
    session.flush()
    if not session.info.pop(CHANGED, False):
        return
    from compliance.obligations.tables import JudgedEpoch

    token = secrets.token_hex(16)
    row = col(JudgedEpoch.id) == REPORT_DATA

    moved = session.execute(update(JudgedEpoch).where(row).values(token=token))
    if moved.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        session.execute(insert(JudgedEpoch).values(id=REPORT_DATA, token=token))
