"""JSON routes for evidence: record it (with a file, as multipart), correct it by a new version,
withdraw it, review it and answer queries, read it, download its file, and the review queue.

Every route calls the services the pages call, under the same permission rules. The routes are
plain `def`s, so FastAPI runs them in its thread pool: checking, hashing and fsyncing an upload
never blocks the event loop.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Form, Path, Query
from fastapi.responses import Response
from sqlmodel import Session, col, select

from compliance.access import Principal, evidence_access, require
from compliance.api import MAX_ID, api_router
from compliance.audit.service import record_download
from compliance.config import Settings
from compliance.db import key_column
from compliance.deps import ApiWriter, CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound, Refused
from compliance.evidence import files
from compliance.evidence.schemas import (
    AnswerInput,
    EvidencePublic,
    EvidenceUpload,
    ReviewInput,
    ReviewPage,
    ReviewPublic,
    VersionUpload,
    WithdrawalInput,
    evidence_public,
    queue_page,
    review_public,
)
from compliance.evidence.service import (
    NEWEST_FIRST,
    EvidenceCreate,
    ReviewVerdict,
    answer,
    links,
    new_version,
    parse,
    record,
    review,
    review_queue,
    withdraw,
)
from compliance.models import Evidence, EvidenceLink, Obligation, Period
from compliance.reminders.service import queue_answer_notice, queue_query_notice

router = api_router("evidence")

EvidenceId = Annotated[int, Path(ge=1, le=MAX_ID, description="The evidence's id", examples=[41])]
ObligationId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The obligation's id", examples=[212])
]
Multipart = Form(media_type="multipart/form-data")
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The stored file, as an attachment, with the type its content was "
        "checked to be when it was uploaded",
        "content": {media_type: {} for media_type in files.ALLOWED_TYPES},
    }
}


@contextmanager
def _named_in_body() -> Iterator[None]:
    """The services name a refused field as the page form does (`file`); the API says where it
    was sent (`body.file`)."""
    try:
        yield
    except NotFound:
        raise
    except Refused as exc:
        # EvidenceCreate's checks across fields begin their message with the field at fault.
        named = exc.field or exc.message.split(" ", 1)[0]
        top = named.split(".")[0]
        if top in EvidenceCreate.model_fields or top in {"file", "comment", "reason"}:
            exc.field = f"body.{named}"
        raise


def _evidence(
    session: Session, principal: Principal, evidence_id: int, *, write: bool = False
) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"No evidence with id {evidence_id}", field="path.evidence_id")
    reads, writes = evidence_access(session=session, principal=principal, evidence_id=evidence_id)
    require(writes if write else reads, "This evidence is not in your scope")
    return evidence


def _writable_periods(
    session: Session, principal: Principal, obligations: list[Obligation]
) -> set[int]:
    ids = [o.id for o in obligations if principal.writes_obligation(o)]
    query = select(key_column(Period)).where(col(Period.obligation_id).in_(ids))
    return set(session.exec(query).all()) if ids else set()


def _obligations_served(session: Session, evidence_id: int) -> list[Obligation]:
    query = (
        select(Obligation)
        .join(Period, col(Period.obligation_id) == Obligation.id)
        .join(EvidenceLink, col(EvidenceLink.occurrence_id) == Period.id)
        .where(EvidenceLink.evidence_id == evidence_id)
    )
    return list(session.exec(query).all())


def _check_periods(chosen: list[int], allowed: set[int]) -> None:
    stray = sorted(set(chosen) - allowed)
    if stray:
        raise Refused(
            f"period {stray[0]} is not one of this obligation's periods that you may record "
            "against",
            field="body.occurrence_ids",
            status=422,
        )


def _metadata(form: EvidenceUpload, occurrence_ids: list[int]) -> EvidenceCreate:
    """The service's model of an upload, refusing an address too long to keep."""
    with _named_in_body():
        data = parse(EvidenceCreate, form.metadata() | {"occurrence_ids": occurrence_ids})
    # Normalising can lengthen an address (an international domain becomes punycode).
    if data.url and len(str(data.url)) > 500:
        raise Refused(
            "url: the address is longer than 500 characters", field="body.url", status=422
        )
    return data


def _store(
    session: Session,
    settings: Settings,
    principal: Principal,
    form: EvidenceUpload,
    occurrence_ids: list[int],
    evidence_id: int | None = None,
) -> Evidence:
    """Record the upload, or correct evidence_id with it; nothing is stored if it is refused."""
    data = _metadata(form, occurrence_ids)
    with _named_in_body():
        content = form.file.file.read() if form.file else None
        common: dict[str, Any] = {
            "session": session,
            "data_dir": settings.data_dir,
            "max_bytes": settings.max_upload_bytes,
            "actor": principal.user,
            "data": data,
            "content": content,
            "file_name": form.file.filename.replace("\x00", "") if form.file else None,  # type: ignore[union-attr]  # a multipart file part has a name
        }
        if evidence_id is None:
            return record(**common)
        return new_version(**common, evidence_id=evidence_id)


@router.post(
    "/obligations/{obligation_id}/evidence", response_model=EvidencePublic, status_code=201
)
def record_evidence(
    obligation_id: ObligationId,
    form: Annotated[EvidenceUpload, Multipart],
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> EvidencePublic:
    """Record evidence against periods of this obligation, as multipart form fields with an
    optional file (checked by its content against the allowed types and the size limit)."""
    obligation = session.get(Obligation, obligation_id)
    if obligation is None:
        raise NotFound(f"No obligation with id {obligation_id}", field="path.obligation_id")
    require(principal.reads_obligation(obligation), "This obligation is not in your scope")
    require(
        principal.writes_obligation(obligation),
        "Only an officer for this body or partnership can record evidence",
    )
    _check_periods(form.occurrence_ids, _writable_periods(session, principal, [obligation]))
    evidence = _store(session, settings, principal, form, form.occurrence_ids)
    return evidence_public(session, evidence, principal)


@router.post("/evidence/{evidence_id}/versions", response_model=EvidencePublic, status_code=201)
def correct_evidence(
    evidence_id: EvidenceId,
    form: Annotated[VersionUpload, Multipart],
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> EvidencePublic:
    """Correct evidence by recording a new version that supersedes it; the old version is kept.
    Without `occurrence_ids` the new version serves the same periods as the old."""
    _evidence(session, principal, evidence_id, write=True)
    if form.occurrence_ids:
        served = _obligations_served(session, evidence_id)
        _check_periods(form.occurrence_ids, _writable_periods(session, principal, served))
    occurrence_ids = form.occurrence_ids or links(session=session, evidence_id=evidence_id)
    evidence = _store(session, settings, principal, form, occurrence_ids, evidence_id)
    return evidence_public(session, evidence, principal)


@router.post("/evidence/{evidence_id}/withdrawal", response_model=EvidencePublic)
def withdraw_evidence(
    evidence_id: EvidenceId, body: WithdrawalInput, session: SessionDep, principal: ApiWriter
) -> EvidencePublic:
    """Withdraw evidence, giving the reason; the record stays, marked withdrawn, and no longer
    counts towards any period."""
    _evidence(session, principal, evidence_id, write=True)
    with _named_in_body():
        evidence = withdraw(
            session=session, actor=principal.user, evidence_id=evidence_id, reason=body.reason
        )
    return evidence_public(session, evidence, principal)


@router.post("/evidence/{evidence_id}/reviews", response_model=ReviewPublic, status_code=201)
def review_evidence(
    evidence_id: EvidenceId,
    body: ReviewInput,
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> ReviewPublic:
    """An inspector (or admin) accepts evidence in their scope, or queries it with a comment;
    the officer who recorded it is emailed the query."""
    _evidence(session, principal, evidence_id)
    require(principal.is_inspector or principal.is_admin, "Only inspectors review evidence")
    with _named_in_body():
        made = review(
            session=session,
            actor=principal.user,
            evidence_id=evidence_id,
            verdict=body.verdict,
            comment=body.comment,
        )
    if body.verdict == ReviewVerdict.queried:
        # In the same transaction as the query, so the notice is never lost nor sent twice.
        queue_query_notice(session=session, settings=settings, comment=made)
    return review_public(session, made)


@router.post("/evidence/{evidence_id}/answers", response_model=ReviewPublic, status_code=201)
def answer_query(
    evidence_id: EvidenceId,
    body: AnswerInput,
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> ReviewPublic:
    """An officer answers the open query on evidence in their scope; the inspector who raised
    it is emailed the answer."""
    _evidence(session, principal, evidence_id, write=True)
    made = answer(session=session, actor=principal.user, evidence_id=evidence_id, body=body.answer)
    queue_answer_notice(session=session, settings=settings, comment=made)
    return review_public(session, made)


@router.get("/evidence/{evidence_id}", response_model=EvidencePublic)
def read_evidence(
    evidence_id: EvidenceId, session: SessionDep, principal: CurrentUser
) -> EvidencePublic:
    """One piece of evidence: what it is, its file's hash, the periods it serves, the versions
    before and after it, whether it was withdrawn, and its review thread."""
    return evidence_public(session, _evidence(session, principal, evidence_id), principal)


@router.get("/evidence/{evidence_id}/file", response_class=Response, responses=FILE_RESPONSE)
def download_evidence(
    evidence_id: EvidenceId, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> Response:
    """The evidence's stored file, as an attachment with the type its content was checked to
    be; checked against its SHA-256 before it is sent."""
    evidence = _evidence(session, principal, evidence_id)
    record_download(
        session=session,
        actor=principal.user.email,
        entity_type="evidence",
        entity_id=evidence.id,
        what={"file_name": evidence.file_name, "sha256": evidence.sha256},
    )
    return files.download(
        data_dir=settings.data_dir,
        sha256=evidence.sha256,
        file_name=evidence.file_name,
        media_type=evidence.media_type,
    )


@router.get("/reviews", response_model=ReviewPage)
def read_review_queue(
    session: SessionDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ReviewPage:
    """Evidence waiting in your scope, newest first: for inspectors and admins, evidence not yet
    reviewed or whose query was answered; for officers, evidence queried and awaiting an answer."""
    after = NEWEST_FIRST.read_cursor(cursor)
    everywhere = principal.is_admin
    rows = review_queue(
        session=session,
        for_reviewer=principal.is_inspector or principal.is_admin,
        body_ids=None if everywhere else set(principal.body_ids),
        partnership_ids=None if everywhere else set(principal.readable_partnership_ids),
        after=after,
        limit=limit + 1,
    )
    page, next_cursor = NEWEST_FIRST.cut(rows, limit)
    return queue_page(session, page, next_cursor, principal)
