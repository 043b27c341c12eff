"""Admin pages: users, the bodies import, and the audit trail of any record."""

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import select
from starlette.datastructures import UploadFile

from compliance.access import evidence_access, require
from compliance.accounts.service import Role, create_user
from compliance.audit.service import history
from compliance.bodies.service import ImportRefused, import_bodies
from compliance.deps import (
    AdminUser,
    CurrentUser,
    PostedForm,
    SessionDep,
    SettingsDep,
    check_form,
    page_router,
)
from compliance.errors import NotFound, Refused
from compliance.models import AuditEvent, Body, EvidenceLink, Obligation, Occurrence, User
from compliance.obligations.service import sync_obligations
from compliance.web import PageNumber, paginate, render

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: SessionDep, principal: AdminUser, page: PageNumber = 1
) -> HTMLResponse:
    """Every user, a page at a time, and the form to add one."""
    users = list(session.exec(select(User).order_by(User.email)))
    context = paginate(users, page) | {"roles": list(Role), "errors": {}, "values": {}}
    return render(request, "admin_users.html", context)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: SessionDep,
    principal: AdminUser,
    _form: FormCheck,
    email: Annotated[str, Form(max_length=254)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    bodies: Annotated[str, Form(max_length=5000)] = "",
    partnerships: Annotated[str, Form(max_length=5000)] = "",
):  # type: ignore[no-untyped-def]
    """Add a user with a role and a scope."""
    codes = [c for c in bodies.replace(",", " ").split() if c]
    slugs = [s for s in partnerships.replace(",", " ").split() if s]
    try:
        create_user(
            session=session,
            email=email,
            name=name,
            role=role,
            password=password,
            body_codes=codes,
            partnership_slugs=slugs,
            actor=principal.user.email,
        )
    except Refused as exc:
        session.rollback()
        users = list(session.exec(select(User).order_by(User.email)))
        values = {
            "email": email,
            "name": name,
            "role": role,
            "bodies": bodies,
            "partnerships": partnerships,
        }
        context = paginate(users, 1) | {
            "roles": list(Role),
            "errors": {exc.field or "email": exc.message},
            "values": values,
        }
        return render(request, "admin_users.html", context, status_code=422)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/import", response_class=HTMLResponse)
def import_page(request: Request, principal: AdminUser) -> HTMLResponse:
    """The form to import a register of bodies."""
    return render(request, "admin_import.html", {"errors": [], "report": None})


@router.post("/admin/import", response_class=HTMLResponse)
def import_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
) -> HTMLResponse:
    """Import bodies all or nothing; every bad line is listed and nothing changes."""
    upload = posted.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(
            request,
            "admin_import.html",
            {"errors": ["Choose a CSV file to import"], "report": None},
            status_code=422,
        )
    try:
        report = import_bodies(session=session, data=upload.file.read(), actor=principal.user.email)
        sync_obligations(session=session, on=settings.today())
    except ImportRefused as exc:
        session.rollback()
        return render(
            request,
            "admin_import.html",
            {"errors": [str(e) for e in exc.errors], "report": None},
            status_code=422,
        )
    return render(request, "admin_import.html", {"errors": [], "report": report})


def _obligation_events(session, obligation_id: int) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    occurrence_ids = session.exec(
        select(Occurrence.id).where(Occurrence.obligation_id == obligation_id)
    ).all()
    evidence_ids = (
        session.exec(
            select(EvidenceLink.evidence_id).where(EvidenceLink.occurrence_id.in_(occurrence_ids))
        ).all()
        if occurrence_ids
        else []
    )
    query = select(AuditEvent).where(
        (
            (AuditEvent.entity_type == "evidence")
            & AuditEvent.entity_id.in_([str(i) for i in evidence_ids])
        )
        | (
            (AuditEvent.entity_type == "occurrence")
            & AuditEvent.entity_id.in_([str(i) for i in occurrence_ids])
        )
    )
    return list(session.exec(query.order_by(AuditEvent.id)))


def _body_events(session, body: Body) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "bodies.imported").order_by(AuditEvent.id)
    ).all()
    return [
        e
        for e in events
        if body.code in (e.after or {}).get("created", [])
        or body.code in (e.after or {}).get("updated", {})
    ]


@router.get("/audit/{entity_type}/{entity_id}", response_class=HTMLResponse)
def audit_page(
    entity_type: str, entity_id: int, request: Request, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """The audit trail of one record."""
    if entity_type == "obligation":
        obligation = session.get(Obligation, entity_id)
        require(
            obligation is not None and principal.reads_obligation(obligation),
            "This record is not in your scope",
        )
        events = _obligation_events(session, entity_id)
    elif entity_type == "body":
        body = session.get(Body, entity_id)
        require(
            body is not None and principal.reads_body(entity_id), "This record is not in your scope"
        )
        events = _body_events(session, body)
    elif entity_type == "partnership":
        require(principal.reads_partnership(entity_id), "This record is not in your scope")
        events = history(session=session, entity_type="partnership", entity_id=entity_id)
    elif entity_type == "evidence":
        require(
            evidence_access(session=session, principal=principal, evidence_id=entity_id)[0],
            "This record is not in your scope",
        )
        events = history(session=session, entity_type="evidence", entity_id=entity_id)
    elif entity_type in {"user", "check_run", "outcome", "indicator", "measurement", "risk"}:
        require(principal.is_admin, "Only administrators can see this audit trail")
        events = history(session=session, entity_type=entity_type, entity_id=entity_id)
    else:
        raise NotFound(f"No audit trail for {entity_type!r}")
    return render(
        request,
        "audit.html",
        {"events": events, "entity_type": entity_type, "entity_id": entity_id},
    )
