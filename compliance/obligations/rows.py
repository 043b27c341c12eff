"""The obligations API's listing read as rows: the same judgement as
compliance.obligations.listing and views give, without an ORM object per obligation, period and
piece of evidence, each obligation as the plain dict ObligationPublic validates in one pass.

Listing 1,559 obligations through the API took about 0.5 s. The SQL was a few milliseconds and
the JSON a few percent; the rest was building some 58,000 ORM objects, rendering, checking and
sending thousands of bound ids, and testing every outcome against every obligation. Here only
the columns the listing shows are read, as rows; ids for IN are written into the statement;
outcomes are found by obligation and by partnership. A period's evidence is read with the joins
and conditions the views use (the statement has no ORDER BY, so the same plan lists its ids in
the order they always were), and every obligation is judged by the functions the pages and
reports use. tests/test_api_obligation_rows.py holds the two paths to the same bytes.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, bindparam
from sqlmodel import Session, select

from compliance.models import (
    Body,
    Deliverable,
    Duty,
    Evidence,
    EvidenceLink,
    FundingCondition,
    FundingStream,
    Obligation,
    Occurrence,
    Outcome,
    Partnership,
)
from compliance.obligations.listing import ObligationFilter, _kept_passing, filtered
from compliance.obligations.served import (
    ServedBy,
    _bid_partnerships,
    _slugs,
    _targets,
    outcome_levels,
    partnerships_behind,
)
from compliance.obligations.service import rule_key
from compliance.obligations.status import (
    CONVENTION,
    DueBasis,
    OccurrenceState,
    OutcomeStatus,
    PeriodFacts,
    condition_basis,
    deliverable_basis,
    judge_outcome,
    obligation_status,
    period_status,
)
from compliance.obligations.views import ObligationView

# What of an obligation the listing reads: its holder, its source, its dates and reasons.
OBLIGATION = (
    Obligation.id,
    Obligation.body_id,
    Obligation.partnership_id,
    Obligation.deliverable_id,
    Obligation.condition_id,
    Obligation.bid_id,
    Obligation.opened_date,
    Obligation.closed_date,
    Obligation.closed_reason,
    Obligation.not_applicable_reason,
)


def obligation_rows_page(
    *,
    session: Session,
    filters: ObligationFilter,
    on: dt.date,
    due_soon_days: int,
    after_id: int = 0,
    limit: int = 50,
    batch: int = 500,
    today: dt.date | None = None,
) -> tuple[list[ObligationView], bool]:
    """listing.obligation_page, its views holding rows: the same batches, narrowing by kept
    states on `today`, and fresh judgement of every obligation listed."""
    query = filtered(filters, select(*OBLIGATION)).order_by(Obligation.id)
    kept = filters.computed and on == today and not filters.include_closed
    if kept:
        query = query.where(Obligation.id.in_(_kept_passing(session, filters, on, due_soon_days)))
    size = batch if filters.computed and not kept else limit + 1
    found: list[ObligationView] = []
    while len(found) <= limit:
        rows = _read(session, query.where(Obligation.id > after_id).limit(size))
        if not rows:
            break
        views = row_views(session=session, rows=rows, on=on, due_soon_days=due_soon_days)
        found += [v for v in views if filters.matches(v)] if filters.computed else views
        if len(rows) < size:
            break
        after_id = rows[-1].id
    return found[:limit], len(found) > limit


def _ids(ids: Iterable[int]) -> Any:
    """Ids for IN, written into the SQL: a bound parameter each costs more to render, check
    and send (on PostgreSQL) than the database takes to run the statement. The plan is the same:
    either way it is made knowing the values."""
    return bindparam(None, list(ids), expanding=True, literal_execute=True)


def _read(session: Session, query: Any) -> list[Row]:
    """A select's rows, read on the session's connection past the ORM's result handling."""
    return session.connection().execute(query).all()


def row_views(
    *, session: Session, rows: list[Row], on: dt.date, due_soon_days: int
) -> list[ObligationView]:
    """views.view_obligations_for of obligation rows: the same views, rows in place of objects."""
    sources, basis_of, duty_of = _catalogue(session, rows)
    bases = {o.id: basis_of.get(rule_key(o), CONVENTION) for o in rows}
    periods = _periods(session, rows, bases, on, due_soon_days)
    outcomes = _outcomes(session, rows, on, duty_of)
    views = []
    for o in rows:
        facts = [
            PeriodFacts(p.occurrence.period_start_date, p.occurrence.due_date, p.status)
            for p in periods[o.id]
        ]
        basis = bases[o.id]
        status = obligation_status(
            facts, on=on, standing=basis.standing, not_applicable=bool(o.not_applicable_reason)
        )
        status_of, served = outcomes[o.id]
        views.append(
            ObligationView(
                o,  # type: ignore[arg-type]
                *sources[rule_key(o)],  # type: ignore[arg-type]
                status=status,
                periods=periods[o.id],
                outcome=status_of,
                served_by=served,
                basis=basis,
            )
        )
    return views


def _catalogue(session: Session, rows: list[Row]) -> tuple[dict, dict, dict[int, int]]:  # type: ignore[type-arg]
    """What views._sources, status.due_bases and served._duty_of read of the deliverables and
    funding conditions, by rule_key, read once: each one's source, its due basis, and (for a
    deliverable) its duty."""
    deliverable_ids = {o.deliverable_id for o in rows if o.deliverable_id}
    condition_ids = {o.condition_id for o in rows if o.condition_id}
    sources: dict[tuple[str, int], tuple] = {}  # type: ignore[type-arg]
    bases: dict[tuple[str, int], DueBasis] = {}
    duty_of: dict[int, int] = {}
    if deliverable_ids:
        query = select(Deliverable, Duty).join(Duty).where(Deliverable.id.in_(deliverable_ids))
        for d, duty in session.exec(query):
            sources[("deliverable", d.id)] = (
                f"{duty.title} ({duty.act} {duty.sections})",
                duty.slug,
                duty.url,
                d.title,
                d.slug,
                d.cadence,
                duty.verified and d.verified,
            )
            bases[("deliverable", d.id)] = deliverable_basis(d)
            duty_of[d.id] = d.duty_id
    if condition_ids:
        query = (
            select(FundingCondition, FundingStream)
            .join(FundingStream)
            .where(FundingCondition.id.in_(condition_ids))
        )
        for c, stream in session.exec(query):
            sources[("condition", c.id)] = (
                stream.name,
                stream.slug,
                stream.url,
                c.title,
                c.slug,
                c.cadence,
                stream.verified and c.verified,
            )
            bases[("condition", c.id)] = condition_basis(c, stream)
    return sources, bases, duty_of


def _periods(session, rows, bases, on, due_soon_days) -> dict[int, list[OccurrenceState]]:  # type: ignore[no-untyped-def]
    """status.obligation_states' periods: each with its current evidence and its status."""
    found: dict[int, list[OccurrenceState]] = {o.id: [] for o in rows}
    occurrences = _read(
        session,
        select(
            Occurrence.id,
            Occurrence.obligation_id,
            Occurrence.period_start_date,
            Occurrence.period_end_date,
            Occurrence.due_date,
        )
        .where(Occurrence.obligation_id.in_(_ids(found)))
        .order_by(Occurrence.period_start_date),
    )
    evidence = _current_evidence(session, [p.id for p in occurrences], on)
    held = {o.id: (bases[o.id].statutory, o.opened_date) for o in rows}
    for p in occurrences:
        ids, review_by = evidence.get(p.id, ((), ()))
        statutory, tracked_from = held[p.obligation_id]
        status = period_status(
            due=p.due_date,
            review_by=list(review_by),
            on=on,
            due_soon_days=due_soon_days,
            statutory=statutory,
            tracked_from=tracked_from,
        )
        found[p.obligation_id].append(OccurrenceState(p, status, tuple(ids)))  # type: ignore[arg-type]
    return found


def _current_evidence(
    session: Session, occurrence_ids: list[int], on: dt.date
) -> dict[int, tuple[list[int], list[dt.date | None]]]:
    """status.current_evidence as ids and review-by dates: evidence recorded by `on`, neither
    withdrawn then nor superseded, per occurrence, in the order that query reads it."""
    if not occurrence_ids:
        return {}
    end_of_day = dt.datetime.combine(on, dt.time.max, tzinfo=dt.UTC)
    # The statement status.current_evidence sends, ids bound as it binds them. It has no ORDER
    # BY, so its plan decides the order in which a period's evidence ids are listed, and on
    # PostgreSQL both the width of the row and ids written in instead of bound were seen to
    # change that plan: whole rows are read there. SQLite's plan (the link's index, then each
    # piece by key) does not depend on the columns read.
    whole = session.get_bind().dialect.name == "postgresql"
    columns = Evidence.__table__.columns if whole else (Evidence.id, Evidence.review_by_date)  # type: ignore[attr-defined]
    rows = _read(
        session,
        select(EvidenceLink.occurrence_id, *columns)
        .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
        .where(EvidenceLink.occurrence_id.in_(occurrence_ids))
        .where(Evidence.recorded_at <= end_of_day)
        .where((Evidence.withdrawn_at.is_(None)) | (Evidence.withdrawn_at > end_of_day)),
    )
    # Asked of every piece linked to these periods (a superset of the rows): the same answer
    # for the rows, with half as many ids written into the statement.
    linked = select(EvidenceLink.evidence_id).where(
        EvidenceLink.occurrence_id.in_(_ids(occurrence_ids))
    )
    superseded = set(
        session.connection()
        .execute(
            select(Evidence.supersedes_id).where(
                Evidence.supersedes_id.in_(linked), Evidence.recorded_at <= end_of_day
            )
        )
        .scalars()
    )
    found: dict[int, tuple[list[int], list[dt.date | None]]] = {}
    for row in rows:
        if row.id not in superseded:
            ids, dates = found.setdefault(row.occurrence_id, ([], []))
            ids.append(row.id)
            dates.append(row.review_by_date)
    return found


def _outcomes(
    session: Session, rows: list[Row], on: dt.date, duty_of: dict[int, int]
) -> dict[int, tuple[OutcomeStatus, tuple[ServedBy, ...]]]:
    """served.outcome_states: each obligation's outcome status and the outcomes it was read
    from, the outcomes found by the partnerships behind it and by its own id rather than by
    testing every outcome against every obligation."""
    obligations: list[Any] = rows
    behind = partnerships_behind(session, obligations, on)
    through_bid = _bid_partnerships(session, obligations)
    for o in rows:
        if o.bid_id in through_bid:
            behind[o.id] = [*behind.get(o.id, []), through_bid[o.bid_id]]
    wanted = {p for ids in behind.values() for p in ids}
    own_ids = [o.id for o in rows]
    found = _read(
        session,
        select(Outcome.id, Outcome.partnership_id, Outcome.obligation_id, Outcome.title)
        .where(Outcome.partnership_id.in_(wanted) | Outcome.obligation_id.in_(_ids(own_ids)))
        .order_by(Outcome.id),
    )
    targets = _targets(session, [o.id for o in found if o.partnership_id is not None])
    own, of_partnership = defaultdict(list), defaultdict(list)
    for position, outcome in enumerate(found):
        own[outcome.obligation_id].append(position)
        of_partnership[outcome.partnership_id].append((position, targets.get(outcome.id)))
    positions: dict[int, list[int]] = {}
    for o in rows:
        keys = {
            ("duty", duty_of.get(o.deliverable_id)),
            ("deliverable", o.deliverable_id),
            ("condition", o.condition_id),
        }
        matched = set(own.get(o.id, []))
        for partnership_id in set(behind.get(o.id, [])):
            for position, serves in of_partnership.get(partnership_id, []):
                if serves and keys & serves:
                    matched.add(position)
        positions[o.id] = sorted(matched)
    # Only the outcomes that serve one of these obligations are judged, and their holders named.
    serving = [found[p] for p in sorted({p for ps in positions.values() for p in ps})]
    levels = outcome_levels(session, [o.id for o in serving], on)
    slugs = _slugs(session, {o.partnership_id for o in serving if o.partnership_id is not None})
    served = {
        o.id: ServedBy(o.id, o.title, levels[o.id], slugs.get(o.partnership_id)) for o in serving
    }
    states = {}
    for o in rows:
        served_by = tuple(served[found[p].id] for p in positions[o.id])
        states[o.id] = (judge_outcome(s.status for s in served_by), served_by)
    return states


def obligation_dicts(session: Session, views: list[ObligationView]) -> list[dict[str, Any]]:
    """schemas.obligation_items as the dicts ObligationPublic validates, holders' codes and slugs
    looked up together."""
    body_ids = {v.obligation.body_id for v in views if v.obligation.body_id}
    partnership_ids = {v.obligation.partnership_id for v in views if v.obligation.partnership_id}
    codes = (
        dict(session.exec(select(Body.id, Body.code).where(Body.id.in_(body_ids))).all())
        if body_ids
        else {}
    )
    slugs = (
        dict(
            session.exec(
                select(Partnership.id, Partnership.slug).where(Partnership.id.in_(partnership_ids))
            ).all()
        )
        if partnership_ids
        else {}
    )
    return [_item(v, codes, slugs) for v in views]


def _item(view: ObligationView, codes: dict, slugs: dict) -> dict[str, Any]:  # type: ignore[type-arg]
    o = view.obligation
    return {
        "id": o.id,
        "body_code": codes.get(o.body_id),
        "partnership_slug": slugs.get(o.partnership_id),
        "source": view.source_title,
        "source_slug": view.source_slug,
        "source_url": view.source_url,
        "item": view.item_title,
        "item_slug": view.item_slug,
        "cadence": view.cadence,
        "verified": view.verified,
        "due_basis": view.basis.words,
        "standing": view.basis.standing,
        "status": view.status,
        "outcome_status": view.outcome,
        "outcomes_served_by": [
            {
                "outcome_id": s.outcome_id,
                "title": s.title,
                "status": s.status,
                "partnership_slug": s.partnership_slug,
            }
            for s in view.served_by
        ],
        "fully_met": view.fully_met,
        "next_due_date": view.next_due,
        "opened_date": o.opened_date,
        "closed_date": o.closed_date,
        "closed_reason": o.closed_reason,
        "not_applicable_reason": o.not_applicable_reason,
        "periods": [
            {
                "occurrence_id": p.occurrence.id,
                "period_start_date": p.occurrence.period_start_date,
                "period_end_date": p.occurrence.period_end_date,
                "due_date": p.occurrence.due_date,
                "status": p.status,
                "evidence_ids": list(p.evidence_ids),
            }
            for p in view.periods
        ],
    }
