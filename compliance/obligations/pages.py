"""The obligation page, and the form to record evidence against it (read and checked here for the
correction form too, so that both say the same in the same words)."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from compliance.access import Principal, require, writable_evidence
from compliance.api import RowId
from compliance.config import Settings
from compliance.db import save
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.evidence import files
from compliance.evidence.service import EARLIEST_DATE, EvidenceCreate, EvidenceKind, record
from compliance.forms import date_from_parts
from compliance.models import Evidence, Obligation
from compliance.obligations.views import obligation_detail
from compliance.web import render

router = page_router()
DATE_FIELDS = (
    ("effective_date", "date the evidence speaks for", True),
    ("period_start_date", "start of the period covered", False),
    ("period_end_date", "end of the period covered", False),
    ("review_by_date", "review-by date", False),
)
# A problem that belongs to no one field (the database busy, say) is shown at the form itself.
FORM = "evidence-form"
# The form's fields in the order it shows them: its errors are listed in this order.
FORM_ORDER = (
    "occurrence_ids",
    "kind",
    "title",
    "description",
    *(name for name, _, _ in DATE_FIELDS),
    "file",
    "url",
    FORM,
)
NOUNS = {"title": "title", "description": "description", "url": "web address"}
URL_MAX_LENGTH = Evidence.__table__.c.url.type.length  # type: ignore[attr-defined]  # SQLModel sets __table__ on a table class


def megabytes(size: int) -> str:
    """A size in bytes as the upload limit is given: 25 MB."""
    return f"{size / 1_000_000:g} MB"


def file_kinds() -> str:
    """The kinds of file accepted, in words, from the allow-list the upload is checked against."""
    kinds = []
    for label in files.ALLOWED_TYPES.values():
        kind = "image" if label.endswith(" image") else "text" if label == "plain text" else None
        kinds.append(kind or label.split()[0])
    unique = list(dict.fromkeys(kinds))
    return f"{', '.join(unique[:-1])} or {unique[-1]}"


def readable_detail(session, settings, principal, obligation_id: int):
    """An obligation the user may read, with everything its page shows."""
    obligation = session.get(Obligation, obligation_id)
    if obligation is None:
        raise NotFound(f"No obligation with id {obligation_id}")
    require(principal.reads_obligation(obligation), "This obligation is not in your scope")
    return obligation, obligation_detail(
        session=session,
        obligation_id=obligation_id,
        on=settings.today(),
        due_soon_days=settings.due_soon_days,
    )


def obligation_context(
    session: Session,
    settings: Settings,
    principal: Principal,
    obligation_id: RowId,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> dict:
    """What the obligation page shows; with errors and what was typed when a review or an
    answer sent from it is refused."""
    obligation, detail = readable_detail(session, settings, principal, obligation_id)
    shown = {entry.evidence.id for entries in detail.entries.values() for entry in entries}
    return {
        "detail": detail,
        "can_record": principal.writes_obligation(obligation),
        "writable": writable_evidence(session=session, principal=principal, evidence_ids=shown)
        if shown
        else set(),
        "today": settings.today(),
        "errors": errors or {},
        "values": values or {},
    }


@router.get("/obligations/{obligation_id}", response_class=HTMLResponse)
def obligation_page(
    obligation_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """The duty's citation, the deliverable, every period with its evidence and reviews."""
    context = obligation_context(session, settings, principal, obligation_id)
    return render(request, "obligation.html", context)


def form_context(
    settings: Settings, detail, raw=None, errors=None, chosen=(), file_name=None
) -> dict:
    """What the evidence form (and the correction form) shows around the values typed."""
    return {
        "detail": detail,
        "values": raw or {},
        "errors": ordered(errors or {}),
        "chosen": list(chosen),
        "kinds": list(EvidenceKind),
        "file_kinds": file_kinds(),
        "max_upload": megabytes(settings.max_upload_bytes),
        "file_name": file_name if errors else None,
    }


def ordered(errors: dict[str, str]) -> dict[str, str]:
    """Errors in the order of the form's fields."""
    rank = {name: i for i, name in enumerate(FORM_ORDER)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], len(rank))))


@router.get("/obligations/{obligation_id}/evidence/new", response_class=HTMLResponse)
def evidence_form(
    obligation_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """The form to record evidence against this obligation's periods."""
    obligation, detail = readable_detail(session, settings, principal, obligation_id)
    require(
        principal.writes_obligation(obligation),
        "Only an officer for this body or partnership can record evidence",
    )
    return render(request, "evidence_form.html", form_context(settings, detail))


@dataclass
class EvidenceForm:
    """A submitted evidence form: the values for the service, every problem by field, what was
    typed (to show again), and the file."""

    values: dict
    raw: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    file_name: str | None = None


def read_evidence_form(form: FormData, *, max_bytes: int) -> EvidenceForm:
    """The submitted evidence form, with the problems of its dates and of its file."""
    values: dict = {
        name: str(form.get(name, "")).strip() or None
        for name in ("kind", "title", "description", "url")
    }
    raw = {key: value for key, value in form.items() if isinstance(value, str)}
    read = EvidenceForm(values, raw)
    for name, label, required in DATE_FIELDS:
        values[name], error = date_from_parts(form, name, label=label, required=required)
        if error:
            read.errors[name] = error
    values["occurrence_ids"] = [
        int(v) for v in form.getlist("occurrence_ids") if isinstance(v, str) and v.isdigit()
    ]
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        upload.file.seek(0)
        # One byte past the limit is enough to know it is over (UploadLimit in main.py cuts an
        # oversize file from a page to just that).
        read.content, read.file_name = upload.file.read(max_bytes + 1), upload.filename
        _check_file(read, max_bytes)
    return read


def _check_file(read: EvidenceForm, max_bytes: int) -> None:
    content = read.content or b""
    if not content:
        read.errors["file"] = "The selected file is empty"
    elif len(content) > max_bytes:
        read.errors["file"] = f"The file must be smaller than {megabytes(max_bytes)}"
    elif files.sniff(content) not in files.ALLOWED_TYPES:
        read.errors["file"] = f"The file must be a {file_kinds()} file"


def _plain(name: str, error: Mapping[str, Any]) -> str:
    """A validation error of the evidence model in plain English."""
    limit = (error.get("ctx") or {}).get("max_length")
    noun = NOUNS.get(name, name.replace("_", " "))
    if name == "kind":
        return "Choose what kind of evidence this is"
    if name == "occurrence_ids":
        return "Choose at least one period this evidence is for"
    if name == "url":
        return "Enter the web address in the right form, like https://www.example.org/report"
    if limit is not None:
        return f"Enter a {noun} of {limit} characters or fewer"
    return f"Enter a {noun}"


def _date_problems(values: dict, today: dt.date) -> dict[str, str]:
    """The checks EvidenceCreate makes across the dates, in words, all at once."""
    effective, start, end = (
        values.get(n) for n in ("effective_date", "period_start_date", "period_end_date")
    )
    review_by, problems = values.get("review_by_date"), {}
    if effective and effective < EARLIEST_DATE:
        problems["effective_date"] = (
            f"The date the evidence speaks for must be {EARLIEST_DATE.day} {EARLIEST_DATE:%B %Y}"
            " or later"
        )
    elif effective and effective > today + dt.timedelta(days=366):
        problems["effective_date"] = (
            "The date the evidence speaks for must be within a year from today"
        )
    if start and end and end < start:
        problems["period_end_date"] = "The end of the period covered must be on or after its start"
    if effective and review_by and review_by < effective:
        problems["review_by_date"] = (
            "The review-by date must be on or after the date the evidence speaks for"
        )
    return problems


def _source_problems(values: dict, content: bytes | None) -> dict[str, str]:
    """The checks the service makes of where the evidence is (file, address or statement)."""
    kind, url = values.get("kind"), values.get("url")
    if kind == EvidenceKind.link and content is not None:
        return {"file": "A link is recorded by its web address, without a file"}
    if kind == EvidenceKind.link and not url:
        return {"url": "Enter the web address where the evidence is published"}
    if kind == EvidenceKind.attestation and not (content or url or values.get("description")):
        return {"description": "Enter the statement, or upload a file or give its web address"}
    if kind and content is None and not url and kind != EvidenceKind.attestation:
        return {"file": "Upload a file, or enter the web address where the evidence is published"}
    return {}


def validate_evidence(read: EvidenceForm, today: dt.date) -> EvidenceCreate | None:
    """The evidence to record, or None with every problem added to the form's errors."""
    errors, values = read.errors, read.values
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            errors[name] = f"The {NOUNS.get(name, name)} cannot contain the NUL character (U+0000)"
    if len(values.get("url") or "") > URL_MAX_LENGTH:
        errors["url"] = f"Enter a web address of {URL_MAX_LENGTH} characters or fewer"
    for name, message in (
        _date_problems(values, today) | _source_problems(values, read.content)
    ).items():
        errors.setdefault(name, message)
    try:
        data = EvidenceCreate.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else FORM
            message = error["msg"].removeprefix("Value error, ")
            errors.setdefault(name, _plain(name, error) if name != FORM else capitalised(message))
        return None
    if data.url and len(str(data.url)) > URL_MAX_LENGTH:  # normalising can lengthen it
        errors.setdefault("url", f"Enter a web address of {URL_MAX_LENGTH} characters or fewer")
    return None if errors else data


def refusal_field(exc: Refused) -> str:
    """Where on the evidence form a refusal of the service is shown."""
    name = (exc.field or "").split(".")[0]
    return name if name in FORM_ORDER else FORM


def capitalised(message: str) -> str:
    """A service's refusal (written to follow a field's name) as a sentence."""
    return message[:1].upper() + message[1:]


@router.post("/obligations/{obligation_id}/evidence", response_class=HTMLResponse)
def record_evidence(
    obligation_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    form: PostedForm,
):
    """Record evidence; on any problem show the form again with every error, nothing stored."""
    obligation, detail = readable_detail(session, settings, principal, obligation_id)
    require(
        principal.writes_obligation(obligation),
        "Only an officer for this body or partnership can record evidence",
    )
    read = read_evidence_form(form, max_bytes=settings.max_upload_bytes)
    allowed = {p.occurrence.id for p in detail.view.periods}
    if any(i not in allowed for i in read.values["occurrence_ids"]):
        read.errors["occurrence_ids"] = "Choose periods of this obligation"
    data = validate_evidence(read, settings.today())
    status = 422
    if data is not None:
        try:
            record(
                session=session,
                data_dir=settings.data_dir,
                max_bytes=settings.max_upload_bytes,
                actor=principal.user,
                data=data,
                content=read.content,
                file_name=read.file_name,
            )
            save(session)  # before answering "recorded": a failed commit shows the form again
            return RedirectResponse(f"/obligations/{obligation_id}?recorded=1", status_code=303)
        except Refused as exc:
            read.errors[refusal_field(exc)] = capitalised(exc.message)
            status = exc.status if exc.status == 503 else status
    session.rollback()
    chosen = read.values["occurrence_ids"]
    context = form_context(settings, detail, read.raw, read.errors, chosen, read.file_name)
    return render(request, "evidence_form.html", context, status_code=status)
