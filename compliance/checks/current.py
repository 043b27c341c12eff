"""Findings kept current: a transaction that changes what a rule looks at re-evaluates the
findings of the holders it touched before it commits, so that no page, API response or
report shows a finding its data no longer supports. The scheduled check remains for the
passing of time (a date that passes overnight changes no row).

Every write path (pages, API, command line, scheduler) goes through a Session, so the
bookkeeping lives in two Session events rather than in each service. The models module
installs them as it loads; the models and the check are imported when first used.
"""

from sqlalchemy import event, inspect, or_
from sqlmodel import Session, col, select

# More changed rows of one kind than this, and a transaction's findings are judged whole.
WHOLE_PAST = 5_000


def hand_made(session: Session) -> None:
    """Stop re-evaluating findings in this session: for one that records findings by hand, as
    a test's world of made-up findings does, which the rules would otherwise put right."""
    session.info["findings_by_hand"] = True


def pending(session: Session) -> dict[str, set]:
    """What this transaction has changed and not yet re-evaluated, by kind of row."""
    return session.info.setdefault("findings_pending", {})


def _note(found: dict[str, set], row: object) -> None:
    from compliance.evaluations.models import EvaluationAnswer, EvaluationRound
    from compliance.models import (
        Bid,
        BidApplicant,
        Body,
        Deliverable,
        Duty,
        Evidence,
        EvidenceComment,
        EvidenceLink,
        FundingCondition,
        FundingStream,
        Indicator,
        Measurement,
        Obligation,
        Outcome,
        OutcomeServes,
        Partnership,
        PartnershipDuty,
        PartnershipMember,
        Period,
        User,
        UserScope,
    )

    def add(kind: str, value: int | None) -> None:
        if value is not None:
            found.setdefault(kind, set()).add(value)

    if isinstance(row, (Duty, Deliverable, FundingStream, FundingCondition)):
        add("everything", 1)
    elif isinstance(row, Body):
        add("body", row.id)
    elif isinstance(row, Partnership):
        add("partnership", row.id)
    elif isinstance(row, PartnershipMember):
        add("partnership", row.partnership_id)
        add("body", row.body_id)
    elif isinstance(row, PartnershipDuty):
        add("partnership", row.partnership_id)
        add("partnership_members", row.partnership_id)
    elif isinstance(row, Obligation):
        add("body", row.body_id)
        add("partnership", row.partnership_id)
    elif isinstance(row, Period):
        add("obligation", row.obligation_id)
    elif isinstance(row, EvidenceLink):
        add("occurrence", row.occurrence_id)
    elif isinstance(row, Evidence):
        add("evidence", row.id)
        add("evidence", row.supersedes_id)
    elif isinstance(row, EvidenceComment):
        add("evidence", row.evidence_id)
    elif isinstance(row, Outcome):
        add("partnership", row.partnership_id)
        add("obligation", row.obligation_id)
    elif isinstance(row, (Indicator, OutcomeServes)):
        add("outcome", row.outcome_id)
    elif isinstance(row, Measurement):
        add("indicator", row.indicator_id)
    elif isinstance(row, Bid):
        add("bid", row.id)
    elif isinstance(row, BidApplicant):
        add("bid", row.bid_id)
    elif isinstance(row, UserScope):  # who reminders reach (the rule no_reminder_contact)
        add("scoped_body", row.body_id)
        add("partnership", row.partnership_id)
    elif isinstance(row, User) and _changed(row, "role", "is_active"):
        add("user", row.id)
    elif isinstance(row, (EvaluationRound, EvaluationAnswer)):  # what people say: no finding
        add("voices", 1)


def _changed(row: object, *names: str) -> bool:
    attrs = inspect(row).attrs
    return any(attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: object) -> None:
    if session.info.get("findings_evaluating"):
        return
    found = pending(session)
    changed = [row for row in session.dirty if session.is_modified(row, include_collections=False)]
    for row in (*session.new, *changed, *session.deleted):
        _note(found, row)


def _scope(session: Session, found: dict[str, set]):
    """The holders whose findings the changes touch; None when the catalogue changed."""
    from compliance.bodies.service import with_descendants
    from compliance.checks.service import Scope
    from compliance.models import (
        EvidenceLink,
        Indicator,
        Obligation,
        Outcome,
        PartnershipMember,
        Period,
        UserScope,
    )

    # A transaction that touched this many rows of a kind (an import, a synthetic registry) is
    # judged whole: its scope would be most of the registry, and too many ids for one statement.
    if found.get("everything") or any(len(ids) > WHOLE_PAST for ids in found.values()):
        return None
    bodies, partnerships = set(found.get("body", ())), set(found.get("partnership", ()))
    # An officer's scope covers the bodies beneath those it names. (A scope replaced in bulk
    # is not seen here: the bodies it no longer covers are judged by the nightly check.)
    scoped = set(found.get("scoped_body", ()))
    users = found.get("user", set())
    if users:
        for body_id, partnership_id in session.exec(
            select(UserScope.body_id, UserScope.partnership_id).where(
                col(UserScope.user_id).in_(users)
            )
        ):
            scoped.add(body_id)
            partnerships.add(partnership_id)
    scoped.discard(None)
    bodies |= with_descendants(session=session, roots=scoped) if scoped else set()
    evidence = found.get("evidence", set())
    occurrences = set(found.get("occurrence", ()))
    if evidence:
        occurrences |= set(
            session.exec(
                select(EvidenceLink.occurrence_id).where(
                    col(EvidenceLink.evidence_id).in_(evidence)
                )
            )
        )
    obligations = set(found.get("obligation", ()))
    if occurrences:
        obligations |= set(
            session.exec(select(Period.obligation_id).where(col(Period.id).in_(occurrences)))
        )
    indicators = found.get("indicator", set())
    outcomes = set(found.get("outcome", ()))
    if indicators:
        outcomes |= set(
            session.exec(select(Indicator.outcome_id).where(col(Indicator.id).in_(indicators)))
        )
    if outcomes:
        for partnership_id, obligation_id in session.exec(
            select(Outcome.partnership_id, Outcome.obligation_id).where(
                col(Outcome.id).in_(outcomes)
            )
        ):
            if partnership_id is not None:
                partnerships.add(partnership_id)
            if obligation_id is not None:
                obligations.add(obligation_id)
    bids = found.get("bid", set())
    if obligations or bids:
        for body_id, partnership_id in session.exec(
            select(Obligation.body_id, Obligation.partnership_id).where(
                or_(col(Obligation.id).in_(obligations), col(Obligation.bid_id).in_(bids))
            )
        ):
            bodies.add(body_id)
            partnerships.add(partnership_id)
    # A body's kind or nation, or a partnership's duties, change what its partners are judged by.
    widen = set(found.get("partnership_members", ())) | partnerships
    bodies |= set(
        session.exec(
            select(PartnershipMember.body_id).where(
                col(PartnershipMember.partnership_id).in_(widen)
            )
        )
    )
    partnerships |= set(
        session.exec(
            select(PartnershipMember.partnership_id).where(
                col(PartnershipMember.body_id).in_(set(found.get("body", ())))
            )
        )
    )
    bodies.discard(None)
    partnerships.discard(None)
    return Scope(frozenset(bodies), frozenset(partnerships))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get("findings_evaluating"):
        return
    # before_commit runs before the commit's own flush: flush here, so that a change made
    # without one (an attribute set, then commit) is noted and judged like any other.
    session.flush()
    if not session.info.get("findings_pending"):
        return
    from compliance.checks.service import CHANGE, run_checks
    from compliance.config import get_settings
    from compliance.obligations.judged import forget

    session.info["findings_evaluating"] = True
    try:
        found = pending(session)
        if session.info.get("findings_by_hand"):
            found.clear()
            forget(session, body_ids=None, partnership_ids=())
            return
        voices = bool(found.pop("voices", None))
        scope = _scope(session, found)
        found.clear()
        # The kept states of obligations (the dashboard's counts) go with the findings.
        if scope is None:
            forget(session, body_ids=None, partnership_ids=())
        elif scope or voices:  # what people say changes the judgement, not an obligation
            forget(session, body_ids=scope.body_ids, partnership_ids=scope.partnership_ids)
        if scope is None or scope:
            settings = get_settings()
            run_checks(
                session=session,
                on=settings.today(),
                trigger=CHANGE,
                due_soon_days=settings.due_soon_days,
                query_answer_days=settings.query_answer_days,
                scope=scope,
            )
            session.flush()
    finally:
        session.info["findings_evaluating"] = False
