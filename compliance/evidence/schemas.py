"""What the evidence API takes and gives: the multipart upload, the JSON inputs, and the evidence,
review and queue documents, each with an example from the Cornwall demo area.

Kept apart from the routes (compliance/evidence/api.py) only to keep each file short.
"""

import datetime as dt
from typing import Annotated, Literal

from fastapi import UploadFile
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.api import MAX_ID, PREFIX, ApiInput, Date, Timestamp
from compliance.db import key_column, row_id
from compliance.evidence.service import (
    EvidenceKind,
    ReviewVerdict,
    served,
    successor,
    thread,
)
from compliance.models import Evidence, EvidenceComment, User

# Form values arrive as text, so numbers, dates and kinds alone are parsed from it.
FormInt = Annotated[int, Field(strict=False, ge=1, le=MAX_ID)]
Kind = Annotated[EvidenceKind, Field(strict=False)]
STATUS = {None: "unreviewed", "accepted": "accepted", "queried": "queried", "answer": "answered"}


def _no_nul(text: str | None) -> str | None:
    # PostgreSQL cannot store the NUL character in text; refuse it rather than fail on it.
    if text is not None and "\x00" in text:
        raise PydanticCustomError("string_nul", "Text cannot contain the NUL character")
    return text


Text = Annotated[str, AfterValidator(_no_nul)]
ReviewStatus = Literal["unreviewed", "accepted", "queried", "answered"]

UPLOAD_EXAMPLE: JsonDict = {
    "kind": "published_report",
    "title": "Safeguarding Adults Board annual report 2024-25",
    "description": "Sent to the chief executives and leaders, the police and crime commissioner, "
    "Healthwatch and the Health and Wellbeing Boards.",
    "effective_date": "2025-09-18",
    "period_start_date": "2024-04-01",
    "period_end_date": "2025-03-31",
    "occurrence_ids": [1187],
}
REVIEW_EXAMPLE: JsonDict = {
    "id": 17,
    "evidence_id": 41,
    "kind": "queried",
    "comment": "The report is unsigned: is there a version approved by the Board?",
    "author": "Demo inspector",
    "created_at": "2026-10-05T09:14:03Z",
}
EVIDENCE_EXAMPLE: JsonDict = {k: v for k, v in UPLOAD_EXAMPLE.items() if k != "occurrence_ids"} | {
    "id": 41,
    "review_by_date": None,
    "url": None,
    "file_name": "sab-annual-report-2024-25.pdf",
    "media_type": "application/pdf",
    "size_bytes": 48213,
    "sha256": "cd1885b527da233d15432054f1265a141c525694250e727df0af69f0ed92beec",
    "file_url": "/api/v1/evidence/41/file",
    "recorded_by": "Kerensa Pascoe (demo governance officer, Cornwall Council)",
    "recorded_at": "2025-09-19T10:02:41Z",
    "obligation_ids": [212],
    "occurrence_ids": [1187],
    "supersedes_id": None,
    "superseded_by_id": None,
    "withdrawn_at": None,
    "withdrawn_reason": None,
    "withdrawn_by": None,
    "review_status": "queried",
    "reviews": [REVIEW_EXAMPLE],
}


class EvidenceUpload(ApiInput):
    """Evidence as multipart form fields, with the file (if any) in the `file` part. Repeat
    `occurrence_ids` for each period it serves. A link needs `url`; an attestation may be a
    statement in `description`; any other kind needs a file or a `url`."""

    model_config = ConfigDict(json_schema_extra={"examples": [UPLOAD_EXAMPLE]})

    kind: Kind
    title: Annotated[Text, Field(min_length=1, max_length=300)]
    description: Annotated[Text | None, Field(max_length=5000)] = None
    effective_date: Annotated[Date, Field(description="The date it speaks for, not the upload")]
    period_start_date: Date | None = None
    period_end_date: Date | None = None
    review_by_date: Date | None = None
    url: Annotated[Text | None, Field(max_length=500)] = None
    occurrence_ids: Annotated[list[FormInt], Field(min_length=1, max_length=200)]
    file: UploadFile | None = None

    def metadata(self) -> dict[str, object]:
        """The fields the service's EvidenceCreate takes, but the periods."""
        return self.model_dump(exclude={"file", "occurrence_ids"})


class VersionUpload(EvidenceUpload):
    """A corrected version, as multipart form fields; without `occurrence_ids` it serves the
    periods of the version it corrects."""

    occurrence_ids: Annotated[list[FormInt] | None, Field(min_length=1, max_length=200)] = None  # type: ignore[assignment]  # optional here; pydantic allows the override


class WithdrawalInput(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Uploaded against the wrong year"}]}
    )

    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class ReviewInput(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"verdict": "queried", "comment": REVIEW_EXAMPLE["comment"]}]
        }
    )

    # JSON carries the verdict as text.
    verdict: Annotated[ReviewVerdict, Field(strict=False)]
    comment: Annotated[Text | None, Field(max_length=5000, description="Required to query")] = None


class AnswerInput(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"answer": "The signed version approved on 18 September is attached."}]
        }
    )

    answer: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class ReviewPublic(BaseModel):
    """A step of a review thread: an inspector's acceptance or query, or an officer's answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [REVIEW_EXAMPLE]})

    id: int
    evidence_id: int
    kind: Literal["accepted", "queried", "answer"]
    comment: str | None
    author: str
    created_at: Timestamp


class EvidencePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EVIDENCE_EXAMPLE]})

    id: int
    kind: EvidenceKind
    title: str
    description: str | None
    effective_date: dt.date
    period_start_date: dt.date | None
    period_end_date: dt.date | None
    review_by_date: dt.date | None
    url: str | None
    file_name: str | None
    media_type: str | None = Field(description="As checked from the content on upload")
    size_bytes: int | None
    sha256: str | None
    file_url: str | None
    recorded_by: str
    recorded_at: Timestamp
    obligation_ids: list[int]
    occurrence_ids: list[int]
    supersedes_id: int | None = Field(description="The version this one corrects")
    superseded_by_id: int | None = Field(description="The version that corrects this one")
    withdrawn_at: Timestamp | None
    withdrawn_reason: str | None
    withdrawn_by: str | None
    review_status: ReviewStatus
    reviews: list[ReviewPublic]


QUEUE_FIELDS = ("id", "kind", "title", "effective_date", "recorded_by", "recorded_at")


QUEUE_EXAMPLE: JsonDict = {k: EVIDENCE_EXAMPLE[k] for k in QUEUE_FIELDS} | {
    "obligation_ids": [212],
    "review_status": "answered",
}


class QueueItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [QUEUE_EXAMPLE]})

    id: int
    kind: EvidenceKind
    title: str
    effective_date: dt.date
    recorded_by: str
    recorded_at: Timestamp
    obligation_ids: list[int]
    review_status: ReviewStatus


class ReviewPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [QUEUE_EXAMPLE], "next_cursor": "WzQxXQ"}]}
    )

    items: list[QueueItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


def _names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    rows = session.exec(
        select(key_column(User), User.name).where(col(User.id).in_(ids - {None}))
    ).all()
    return dict(rows)


def evidence_public(session: Session, evidence: Evidence, principal: Principal) -> EvidencePublic:
    """Evidence as the API shows it to someone, with the links they may see, its versions and
    its review thread."""
    pairs = served(session=session, evidence_ids=[row_id(evidence)], principal=principal)[
        row_id(evidence)
    ]
    comments = thread(session=session, evidence_id=row_id(evidence))
    people = {evidence.recorded_by_id, evidence.withdrawn_by_id} | {c.author_id for c in comments}
    names = _names(session, people)
    newer = successor(session=session, evidence_id=row_id(evidence))
    return EvidencePublic(
        **evidence.model_dump(exclude={"recorded_by_id", "withdrawn_by_id"}),
        file_url=f"{PREFIX}/evidence/{evidence.id}/file" if evidence.sha256 else None,
        recorded_by=names.get(evidence.recorded_by_id, "unknown"),
        obligation_ids=sorted({obligation for obligation, _ in pairs}),
        occurrence_ids=sorted(occurrence for _, occurrence in pairs),
        superseded_by_id=newer.id if newer else None,
        withdrawn_by=names.get(evidence.withdrawn_by_id),
        review_status=STATUS[comments[-1].kind if comments else None],
        reviews=[_review(c, names) for c in comments],
    )


def _review(comment: EvidenceComment, names: dict[int | None, str]) -> ReviewPublic:
    return ReviewPublic(
        **comment.model_dump(include={"id", "evidence_id", "kind", "created_at"}),
        comment=comment.body,
        author=names.get(comment.author_id, "unknown"),
    )


def review_public(session: Session, comment: EvidenceComment) -> ReviewPublic:
    """A review step as the API shows it."""
    return _review(comment, _names(session, {comment.author_id}))


def queue_page(
    session: Session,
    rows: list[tuple[Evidence, str | None]],
    next_cursor: str | None,
    principal: Principal,
) -> ReviewPage:
    """A page of the review queue, looked up in a fixed number of queries."""
    pairs = served(session=session, evidence_ids=[row_id(e) for e, _ in rows], principal=principal)
    names = _names(session, {e.recorded_by_id for e, _ in rows})
    items = [
        QueueItem(
            **evidence.model_dump(include=set(QUEUE_FIELDS) - {"recorded_by"}),
            recorded_by=names.get(evidence.recorded_by_id, "unknown"),
            obligation_ids=sorted({obligation for obligation, _ in pairs[row_id(evidence)]}),
            review_status=STATUS[latest],
        )
        for evidence, latest in rows
    ]
    return ReviewPage(items=items, next_cursor=next_cursor)
