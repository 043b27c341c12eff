"""Evidence actions from the obligation page, file downloads, and the review queue."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from compliance.access import evidence_access, require
from compliance.deps import CurrentUser, FormUser, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound
from compliance.evidence import files
from compliance.evidence.service import ReviewVerdict, answer, review, withdraw
from compliance.models import Evidence, EvidenceComment, EvidenceLink, Occurrence
from compliance.reminders.service import queue_answer_notice, queue_query_notice
from compliance.web import PageNumber, paginate, render

router = page_router()


def _evidence(session, principal, evidence_id: int, *, write: bool = False) -> Evidence:  # type: ignore[no-untyped-def]
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"No evidence with id {evidence_id}")
    reads, writes = evidence_access(session=session, principal=principal, evidence_id=evidence_id)
    require(writes if write else reads, "This evidence is not in your scope")
    return evidence


def _back(session, evidence_id: int) -> RedirectResponse:  # type: ignore[no-untyped-def]
    obligation_id = session.exec(
        select(Occurrence.obligation_id)
        .join(EvidenceLink, EvidenceLink.occurrence_id == Occurrence.id)
        .where(EvidenceLink.evidence_id == evidence_id)
    ).first()
    return RedirectResponse(f"/obligations/{obligation_id}", status_code=303)


@router.get("/evidence/{evidence_id}")
def evidence_page(
    evidence_id: int, session: SessionDep, principal: CurrentUser
) -> RedirectResponse:
    """Evidence is shown on the page of the obligation it serves."""
    _evidence(session, principal, evidence_id)
    return _back(session, evidence_id)


@router.get("/evidence/{evidence_id}/file")
def download(
    evidence_id: int, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> Response:
    """The stored file, as an attachment with its checked type, to users in scope only."""
    evidence = _evidence(session, principal, evidence_id)
    return files.download(
        data_dir=settings.data_dir,
        sha256=evidence.sha256,
        file_name=evidence.file_name,
        media_type=evidence.media_type,
    )


@router.post("/evidence/{evidence_id}/review")
def review_evidence(
    evidence_id: int,
    session: SessionDep,
    principal: FormUser,
    settings: SettingsDep,
    verdict: Annotated[ReviewVerdict, Form()],
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> RedirectResponse:
    """An inspector accepts or queries evidence in their scope."""
    _evidence(session, principal, evidence_id)
    require(principal.is_inspector or principal.is_admin, "Only inspectors review evidence")
    made = review(
        session=session,
        actor=principal.user,
        evidence_id=evidence_id,
        verdict=verdict,
        comment=comment,
    )
    if verdict == ReviewVerdict.queried:
        # In the same transaction as the query, so the notice is never lost nor sent twice.
        queue_query_notice(session=session, settings=settings, comment=made)
    return _back(session, evidence_id)


@router.post("/evidence/{evidence_id}/answer")
def answer_query(
    evidence_id: int,
    session: SessionDep,
    principal: FormUser,
    settings: SettingsDep,
    body: Annotated[str, Form(max_length=5000)] = "",
) -> RedirectResponse:
    """An officer answers an inspector's query."""
    _evidence(session, principal, evidence_id, write=True)
    made = answer(session=session, actor=principal.user, evidence_id=evidence_id, body=body)
    queue_answer_notice(session=session, settings=settings, comment=made)
    return _back(session, evidence_id)


@router.post("/evidence/{evidence_id}/withdraw")
def withdraw_evidence(
    evidence_id: int,
    session: SessionDep,
    principal: FormUser,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """An officer withdraws evidence, giving the reason; the record stays."""
    _evidence(session, principal, evidence_id, write=True)
    withdraw(session=session, actor=principal.user, evidence_id=evidence_id, reason=reason)
    return _back(session, evidence_id)


@router.get("/reviews", response_class=HTMLResponse)
def review_queue(
    request: Request, session: SessionDep, principal: CurrentUser, page: PageNumber = 1
) -> HTMLResponse:
    """Evidence waiting: unreviewed or answered (for inspectors), queried (for officers)."""
    rows = session.exec(
        select(Evidence)
        .where(Evidence.withdrawn_at.is_(None))
        .order_by(Evidence.recorded_at.desc())
    ).all()
    superseded = {e.supersedes_id for e in rows if e.supersedes_id}
    last: dict[int, str] = {}
    for comment in session.exec(select(EvidenceComment).order_by(EvidenceComment.id)):
        last[comment.evidence_id] = comment.kind
    wanted = {"answer", None} if (principal.is_inspector or principal.is_admin) else {"queried"}
    waiting = [
        e
        for e in rows
        if e.id not in superseded
        and last.get(e.id) in wanted
        and evidence_access(session=session, principal=principal, evidence_id=e.id)[0]
    ]
    return render(request, "reviews.html", paginate(waiting, page) | {"last": last})
