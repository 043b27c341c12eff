"""The obligation page, and the form to record evidence against it."""

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData, UploadFile

from compliance.access import require
from compliance.db import save
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.evidence.service import EvidenceCreate, EvidenceKind, parse, record
from compliance.forms import date_from_parts
from compliance.models import Obligation
from compliance.obligations.views import obligation_detail
from compliance.web import render

router = page_router()
DATE_FIELDS = (
    ("effective_date", "date the evidence speaks for", True),
    ("period_start_date", "start of the period covered", False),
    ("period_end_date", "end of the period covered", False),
    ("review_by_date", "review-by date", False),
)


def _detail(session, settings, principal, obligation_id: int):  # type: ignore[no-untyped-def]
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


@router.get("/obligations/{obligation_id}", response_class=HTMLResponse)
def obligation_page(
    obligation_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """The duty's citation, the deliverable, every period with its evidence and reviews."""
    obligation, detail = _detail(session, settings, principal, obligation_id)
    context = {
        "detail": detail,
        "can_record": principal.writes_obligation(obligation),
        "today": settings.today(),
    }
    return render(request, "obligation.html", context)


def _form_context(detail, raw=None, errors=None, chosen=()):  # type: ignore[no-untyped-def]
    return {
        "detail": detail,
        "values": raw or {},
        "errors": errors or {},
        "chosen": list(chosen),
        "kinds": list(EvidenceKind),
    }


@router.get("/obligations/{obligation_id}/evidence/new", response_class=HTMLResponse)
def evidence_form(
    obligation_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """The form to record evidence against this obligation's periods."""
    obligation, detail = _detail(session, settings, principal, obligation_id)
    require(
        principal.writes_obligation(obligation),
        "Only an officer for this body or partnership can record evidence",
    )
    return render(request, "evidence_form.html", _form_context(detail))


def read_evidence_form(
    form: FormData,
) -> tuple[dict, dict[str, str], bytes | None, str | None, dict[str, str]]:
    """The submitted evidence form: values for the model, errors by field, and any file."""
    values: dict = {
        name: str(form.get(name, "")).strip() or None
        for name in ("kind", "title", "description", "url")
    }
    errors: dict[str, str] = {}
    for name, label, required in DATE_FIELDS:
        values[name], error = date_from_parts(form, name, label=label, required=required)
        if error:
            errors[name] = error
    values["occurrence_ids"] = [int(v) for v in form.getlist("occurrence_ids") if str(v).isdigit()]
    upload = form.get("file")
    content = name = None
    if isinstance(upload, UploadFile) and upload.filename:
        upload.file.seek(0)
        content, name = upload.file.read(), upload.filename
    raw = {key: value for key, value in form.items() if isinstance(value, str)}
    return values, errors, content, name, raw


def validate_evidence(values: dict, errors: dict[str, str]) -> EvidenceCreate | None:
    """The evidence to record, or None with the first problem added to errors."""
    if not values.get("title"):
        errors.setdefault("title", "Enter a title")
    if not values.get("kind"):
        errors.setdefault("kind", "Choose what kind of evidence this is")
    if not values["occurrence_ids"]:
        errors.setdefault("occurrence_ids", "Choose at least one period this evidence is for")
    if errors:
        return None
    try:
        return parse(EvidenceCreate, values)  # type: ignore[return-value]
    except Refused as exc:
        errors[(exc.field or "title").split(".")[0]] = exc.message
        return None


@router.post("/obligations/{obligation_id}/evidence", response_class=HTMLResponse)
def record_evidence(
    obligation_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    form: PostedForm,
):  # type: ignore[no-untyped-def]
    """Record evidence; on any problem show the form again with every error, nothing stored."""
    obligation, detail = _detail(session, settings, principal, obligation_id)
    require(
        principal.writes_obligation(obligation),
        "Only an officer for this body or partnership can record evidence",
    )
    values, errors, content, file_name, raw = read_evidence_form(form)
    allowed = {p.occurrence.id for p in detail.view.periods}
    if any(i not in allowed for i in values["occurrence_ids"]):
        errors["occurrence_ids"] = "Choose periods of this obligation"
    data = validate_evidence(values, errors)
    status = 422
    if data is not None:
        try:
            record(
                session=session,
                data_dir=settings.data_dir,
                max_bytes=settings.max_upload_bytes,
                actor=principal.user,
                data=data,
                content=content,
                file_name=file_name,
            )
            save(session)  # before answering "recorded": a failed commit shows the form again
            return RedirectResponse(f"/obligations/{obligation_id}?recorded=1", status_code=303)
        except Refused as exc:
            errors[exc.field or "file"] = exc.message
            status = exc.status if exc.status == 503 else status
    session.rollback()
    context = _form_context(detail, raw, errors, values["occurrence_ids"])
    return render(request, "evidence_form.html", context, status_code=status)
