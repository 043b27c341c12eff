"""A national registry has more obligations, evidence and findings than one statement may carry as
parameters (65,535 on PostgreSQL): `compliance synth --bodies 4000` failed in its first full
check. The check reads such sets by subquery, after reading, or in chunks; these tests make the
limits small enough to cross with the demo."""

import datetime as dt

from sqlalchemy import event
from sqlmodel import select

from compliance.checks import current, service
from compliance.checks.service import Scope, run_checks
from compliance.models import Evidence, EvidenceComment, Finding, User, utcnow
from tests import test_reports

demo = test_reports.demo


def check(session, settings):  # type: ignore[no-untyped-def]
    return run_checks(
        session=session,
        on=settings.today(),
        trigger="test",
        due_soon_days=settings.due_soon_days,
        query_answer_days=settings.query_answer_days,
    )


def test_findings_no_longer_found_are_resolved_in_chunks(session, settings, demo, monkeypatch):
    run = check(session, settings).run
    session.commit()
    stale = [
        Finding(
            key=f"retired_rule:{n}",
            rule="retired_rule",
            severity="low",
            message=f"old {n}",
            first_run_id=run.id,
            last_run_id=run.id,
        )
        for n in range(5)
    ]
    session.add_all(stale)
    session.flush()
    monkeypatch.setattr(service, "CHUNK", 2)  # three statements for five findings
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE FINDING SET RESOLVED_AT"):
            statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        summary = check(session, settings)
        session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 3
    assert summary.run.findings_resolved == 5
    left = session.exec(select(Finding).where(Finding.rule == "retired_rule")).all()
    assert all(f.resolved_at is not None for f in left)


def test_comments_of_more_evidence_than_a_statement_carries_are_read_whole(session, demo):
    evidence, other = session.exec(select(Evidence).order_by(Evidence.id).limit(2)).all()
    author = session.exec(select(User).order_by(User.id)).first()
    session.add(EvidenceComment(evidence_id=evidence.id, author_id=author.id, kind="query"))
    session.add(EvidenceComment(evidence_id=other.id, author_id=author.id, kind="accepted"))
    session.flush()
    cutoff = utcnow() + dt.timedelta(minutes=1)
    few = service._comments(session, cutoff, {evidence.id})
    many = service._comments(session, cutoff, {evidence.id} | set(range(-service.CHUNK - 1, 0)))
    assert [c.kind for c in few[evidence.id]] == [c.kind for c in many[evidence.id]] == ["query"]
    assert set(many) == set(few) == {evidence.id}  # only the evidence asked about
    others = service._comments(session, cutoff, set(range(-service.CHUNK - 1, 0)))
    assert others == {}


def test_a_transaction_that_touched_thousands_of_rows_is_judged_whole(session, monkeypatch):
    touched = {"evidence": set(range(1, 4))}
    assert isinstance(current._scope(session, {k: set(v) for k, v in touched.items()}), Scope)
    monkeypatch.setattr(current, "WHOLE_PAST", 2)
    assert current._scope(session, {k: set(v) for k, v in touched.items()}) is None
