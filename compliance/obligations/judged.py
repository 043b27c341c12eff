"""Each open obligation's judged state on a date (process status, outcome status, next due date),
kept in a table so that the dashboard's counts and the obligations list read it by index rather
than judging the whole registry on every request (at 4,000 bodies that took 30 seconds).

A kept state is exactly what view_obligations_for judged, with the date and due-soon window it
was judged for; a state for another date or window is not read but judged again. A commit that
changes what a judgement looks at deletes the states of the holders it touched (the ones whose
findings compliance.checks.current re-evaluates) and draws a new epoch token; a reader keeps what
it judged only if the token is the one it saw when it began reading, so that a judgement made from
data a commit has since changed is never kept. The nightly check judges the registry for the new
day. What a process remembers (that every open obligation has a current state; the judgement of
every live partnership) holds while the token is unchanged.
"""

import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from compliance.db import key_column
from compliance.exports.selection import holders_of
from compliance.memory import collector_paused
from compliance.models import Obligation
from compliance.obligations.tables import JudgedEpoch, ObligationState
from compliance.obligations.views import ObligationView, view_obligations_for

log = logging.getLogger(__name__)
BATCH = 500
# A reader whose every attempt was overtaken by commits shows what is kept, and says so in the log.
ATTEMPTS = 5
# Kept states written at once past which PostgreSQL is asked to measure the table again.
ANALYZE_AFTER = 1_000
# By database: the epoch token, date and window for which every open obligation was found to
# have a kept state (what keep_current need not ask again while the token is unchanged).
_complete: dict[str, tuple[str, dt.date, int]] = {}


def epoch(session: Session) -> str:
    """The token the last commit that changed what a judgement looks at drew."""
    return session.exec(select(JudgedEpoch.token).where(JudgedEpoch.id == 1)).first() or ""


def database_of(session: Session) -> str:
    """The database a session reads, as what a process remembers is keyed by."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def forget(
    session: Session, *, body_ids: Iterable[int] | None, partnership_ids: Iterable[int]
) -> None:
    """In a transaction that changed what judgements look at, before it commits: draw a new
    epoch token, then delete the kept states of these holders' obligations (every state, for
    None; none, for no holders).

    The token changes first: on PostgreSQL its row stays locked until the commit, so a reader
    that would keep states judged before this commit waits for it, and then keeps nothing."""
    token = secrets.token_hex(16)
    moved = session.execute(update(JudgedEpoch).where(col(JudgedEpoch.id) == 1).values(token=token))
    if moved.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        session.execute(insert(JudgedEpoch).values(id=1, token=token))
    if body_ids is None:
        session.execute(delete(ObligationState))
        return
    held = select(key_column(Obligation)).where(
        or_(
            col(Obligation.body_id).in_(set(body_ids)),
            col(Obligation.partnership_id).in_(set(partnership_ids)),
        )
    )
    session.execute(delete(ObligationState).where(col(ObligationState.obligation_id).in_(held)))


def current(on: dt.date, due_soon_days: int):
    """A kept state judged for this date and window."""
    return (ObligationState.judged_on == on) & (ObligationState.due_soon_days == due_soon_days)


def in_states(
    on: dt.date,
    due_soon_days: int,
    *,
    statuses: Iterable[str] = (),
    outcomes: Iterable[str] = (),
    due_after: dt.date | None = None,
    due_before: dt.date | None = None,
) -> list:
    """The conditions on kept states, judged for this date and window, in one of these process
    states and one of these outcome states (either empty: any), next due within the window."""
    conditions = [current(on, due_soon_days)]
    if statuses := [str(s) for s in statuses]:
        conditions.append(col(ObligationState.status).in_(statuses))
    if outcomes := [str(o) for o in outcomes]:
        conditions.append(col(ObligationState.outcome).in_(outcomes))
    if due_after is not None:
        conditions.append(col(ObligationState.next_due) >= due_after)
    if due_before is not None:
        conditions.append(col(ObligationState.next_due) <= due_before)
    return conditions


@collector_paused()
def keep_current(session: Session, ids: Any = None, *, on: dt.date, due_soon_days: int) -> int:
    """Judge and keep every open obligation (or every one `ids`, a select of Obligation.id,
    names) that has no state kept for this date and window; return how many were judged.

    Once every open obligation is found to have one, the process remembers it until the epoch
    token changes, and asks again only then. Each batch is kept in a commit of its own: call this
    in a session that has written nothing (a page's reading session, or one of its own). The
    garbage collector waits meanwhile (see compliance.memory): the day's first judgement of a
    national registry took 23-27 s with it running, 18-21 s without."""
    if session.new or session.dirty or session.deleted or session.info.get("findings_pending"):
        raise RuntimeError("keep_current needs a session that has written nothing")
    database, judged = database_of(session), 0
    for _ in range(ATTEMPTS):
        seen = epoch(session)
        if _complete.get(database) == (seen, on, due_soon_days):
            return judged
        wanted = (
            select(key_column(Obligation)).where(col(Obligation.closed_date).is_(None))
            if ids is None
            else ids
        )
        missing = list(
            session.exec(
                wanted.outerjoin(
                    ObligationState, col(ObligationState.obligation_id) == Obligation.id
                )
                .where(
                    or_(col(ObligationState.obligation_id).is_(None), ~current(on, due_soon_days))
                )
                .order_by(col(Obligation.id))
            )
        )
        if not missing:
            if ids is None:
                _complete[database] = (seen, on, due_soon_days)
            _refresh_statistics(session, judged)
            return judged
        for start in range(0, len(missing), BATCH):
            judged += _judge_and_keep(session, missing[start : start + BATCH], on, due_soon_days)
    log.warning("obligation states: every attempt to keep them was overtaken by commits")
    _refresh_statistics(session, judged)
    return judged


def _refresh_statistics(session: Session, judged: int) -> None:
    """After keeping many states at once (the day's first judgement, or the nightly check's),
    have PostgreSQL measure the table again, as after any bulk load. Until autovacuum does, the
    planner believes the table as it last measured it: after the first judgement, nearly empty,
    and it then joined 63,000 states to their obligations one by one (75 ms for a count that
    takes 38 ms with a hash join). SQLite plans without such statistics."""
    if judged >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {ObligationState.__tablename__}"))
        session.commit()


def _judge_and_keep(session: Session, ids: list[int], on: dt.date, due_soon_days: int) -> int:
    seen = epoch(session)
    rows = list(
        session.exec(
            select(Obligation).where(col(Obligation.id).in_(ids)).order_by(col(Obligation.id))
        )
    )
    views = view_obligations_for(
        session=session, obligations=rows, on=on, due_soon_days=due_soon_days
    )
    states = [
        _state(v, holder, on, due_soon_days)
        for v, holder in zip(views, _holder_names(session, rows), strict=True)
    ]
    try:
        # The token is compared and locked in the statement that would change it: a commit that
        # drew a new one since it was seen, or is drawing one now, means keep nothing.
        unmoved = session.execute(
            update(JudgedEpoch)
            .where(col(JudgedEpoch.id) == 1, col(JudgedEpoch.token) == seen)
            .values(token=seen)
        )
        if unmoved.rowcount != 1 or not states:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
            session.rollback()
            return 0
        session.execute(_upsert(session, states))
        session.commit()
    except OperationalError:
        # SQLite: a commit landed after this transaction began reading (its snapshot is stale).
        session.rollback()
        return 0
    return len(states)


def _holder_names(session: Session, rows: list[Obligation]) -> list[str]:
    bodies, partnerships = holders_of(session, rows)
    return [
        bodies[o.body_id][1]
        if o.body_id in bodies
        else partnerships.get(o.partnership_id, ("", ""))[1]  # type: ignore[arg-type]  # get(None) finds nothing, as meant
        for o in rows
    ]


def _state(view: ObligationView, holder: str, on: dt.date, due_soon_days: int) -> dict[str, Any]:
    return {
        "obligation_id": view.obligation.id,
        "judged_on": on,
        "due_soon_days": due_soon_days,
        "status": view.status.value,
        "outcome": view.outcome.value,
        "next_due": view.next_due,
        "holder_name": holder,
        "source_title": view.source_title,
        "item_title": view.item_title,
    }


def _upsert(session: Session, states: list[dict[str, Any]]):
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(ObligationState).values(
        states
    )
    kept = {name: statement.excluded[name] for name in states[0] if name != "obligation_id"}
    return statement.on_conflict_do_update(index_elements=["obligation_id"], set_=kept)


def sort_order(dialect: str) -> list:
    """The obligations list's order: soonest due first (none due last), then by holder, source
    and item in code-point order (as Python sorts text), then by id."""

    def text(column):
        return column.collate("C") if dialect == "postgresql" else column

    return [
        col(ObligationState.next_due).is_(None),
        ObligationState.next_due,
        text(ObligationState.holder_name),
        text(ObligationState.source_title),
        text(ObligationState.item_title),
        ObligationState.obligation_id,
    ]
