"""The review queue's services: what SQL counts, pages and offers in the filter is what the
evidence's own records say is waiting, worked out here in Python, one piece at a time."""

import datetime as dt

import pytest
from sqlmodel import select

from compliance.evidence.service import count_queue, queue_holders, review_queue
from compliance.models import (
    Body,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    Obligation,
    Partnership,
    Period,
)
from tests.conftest import make_user
from tests.factories import make_evidence

# Threads that leave evidence waiting for a reviewer (never reviewed, or answered since it was
# queried), waiting for an officer (queried), or settled (accepted).
THREADS = [
    [],
    ["queried"],
    ["queried", "answer"],
    ["queried", "answer", "queried"],
    ["accepted"],
    ["queried", "answer", "accepted"],
    ["accepted", "queried", "answer"],
]


@pytest.fixture
def queue(demo_area, session):  # type: ignore[no-untyped-def]
    """The demo's evidence, and beside it evidence with every kind of thread, withdrawn,
    corrected, and shared between a body's obligation and a partnership's."""
    author = make_user(session, "inspector")
    body_period = session.exec(
        select(Period).join(Obligation).where(Obligation.body_id.is_not(None)).order_by(Period.id)
    ).first()
    shared_period = session.exec(
        select(Period)
        .join(Obligation)
        .where(Obligation.partnership_id.is_not(None))
        .order_by(Period.id)
    ).first()
    made = []
    for occurrences in ([body_period], [body_period, shared_period]):
        for thread in THREADS:
            evidence = make_evidence(session, occurrences=occurrences)
            for kind in thread:
                session.add(
                    EvidenceComment(evidence_id=evidence.id, author_id=author.id, kind=kind)
                )
            made.append(evidence)
    session.flush()
    made[0].withdrawn_at = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    make_evidence(session, occurrences=[shared_period], supersedes_id=made[1].id)
    session.flush()
    return body_period, shared_period


def _expected(session, for_reviewer: bool, state: str | None) -> dict[int, str | None]:  # type: ignore[no-untyped-def]
    """Each piece of evidence waiting, by id, with the kind of its newest review step."""
    corrected = {e.supersedes_id for e in session.exec(select(Evidence)).all()}
    latest: dict[int, str] = {}
    for comment in session.exec(select(EvidenceComment).order_by(EvidenceComment.id)).all():
        latest[comment.evidence_id] = comment.kind
    wanted = {"unreviewed": {None}, "answered": {"answer"}, None: {None, "answer"}}
    kinds = wanted[state] if for_reviewer else {"queried"}
    return {
        e.id: latest.get(e.id)
        for e in session.exec(select(Evidence)).all()
        if e.withdrawn_at is None and e.id not in corrected and latest.get(e.id) in kinds
    }


def _holders(session) -> dict[int, set[tuple[int | None, int | None]]]:  # type: ignore[no-untyped-def]
    """The bodies and partnerships each piece of evidence serves, by evidence id."""
    rows = session.exec(
        select(EvidenceLink.evidence_id, Obligation.body_id, Obligation.partnership_id)
        .join(Period, Period.id == EvidenceLink.occurrence_id)
        .join(Obligation, Obligation.id == Period.obligation_id)
    ).all()
    found: dict[int, set[tuple[int | None, int | None]]] = {}
    for evidence_id, body_id, partnership_id in rows:
        found.setdefault(evidence_id, set()).add((body_id, partnership_id))
    return found


@pytest.mark.parametrize(
    ("for_reviewer", "state"),
    [(True, None), (True, "unreviewed"), (True, "answered"), (False, None)],
)
def test_the_queue_counts_pages_and_offers_what_the_records_say_is_waiting(
    session, queue, for_reviewer, state
):
    expected = _expected(session, for_reviewer, state)
    serving = _holders(session)
    assert len(expected) >= 3
    everywhere = {"session": session, "for_reviewer": for_reviewer}
    body, partnership = (session.get(Obligation, period.obligation_id) for period in queue)
    scopes = {
        "admin": (None, None),
        "one body": ({body.body_id}, set()),
        "a partnership": (set(), {partnership.partnership_id}),
    }
    for body_ids, partnership_ids in scopes.values():
        asked = everywhere | {"body_ids": body_ids, "partnership_ids": partnership_ids}
        in_scope = {
            e: kind
            for e, kind in expected.items()
            if body_ids is None
            or any(b in body_ids or (b is None and p in partnership_ids) for b, p in serving[e])
        }
        offered = queue_holders(**asked)
        # Each holder once, named as its page names it; those of any state, filtered by scope.
        if state is None:
            held = {h for e in in_scope for h in serving[e]}
            if body_ids is not None:
                held = {(b, p) for b, p in held if b in body_ids or p in partnership_ids}
            assert {(h.body_id, h.partnership_id) for h in offered} == held
            assert len(offered) == len(held)
        for h in offered:
            named = session.get(Body if h.body_id else Partnership, h.body_id or h.partnership_id)
            assert (h.name, h.code) == (named.name, getattr(named, "code", None) or named.slug)
        for holder in [None, *((h.body_id, h.partnership_id) for h in offered)]:
            wanted = {
                e: kind for e, kind in in_scope.items() if holder is None or holder in serving[e]
            }
            found = review_queue(**asked, state=state, holder=holder, limit=10_000)
            assert [(e.id, kind) for e, kind in found] == sorted(wanted.items(), reverse=True)
            assert count_queue(**asked, state=state, holder=holder) == len(wanted)
