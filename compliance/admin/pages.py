"""Admin pages: users (add, see, change, deactivate), the bodies import, and the audit trail."""

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session
from starlette.datastructures import UploadFile

from compliance.access import evidence_access, require
from compliance.accounts.service import (
    MIN_PASSWORD_LENGTH,
    Role,
    count_users,
    create_user,
    get_user,
    last_sign_in,
    normalise_email,
    scope_entries,
    scopes_of,
    update_user,
    users_by_name,
)
from compliance.accounts.tokens import is_live, revoke_token, tokens_of
from compliance.api import MAX_ID
from compliance.audit.service import body_history, history, obligation_history
from compliance.bodies.service import ImportRefused, get_body, import_bodies
from compliance.config import Settings
from compliance.db import row_id
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
from compliance.forms import stored_text
from compliance.models import (
    Body,
    Obligation,
    User,
)
from compliance.obligations.service import of_body_codes, sync_obligations
from compliance.paging import PAGE_SIZE, page_number, page_span
from compliance.partnerships.service import get_partnership
from compliance.web import render, uk_date

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]

# Least power first, so that no one is made an administrator by a slip.
ROLES = [
    (
        Role.officer,
        "Officer",
        "Records evidence, outcomes and risks for their bodies and partnerships",
    ),
    (
        Role.inspector,
        "Inspector",
        "Sees their bodies and partnerships, and accepts or queries evidence",
    ),
    (Role.admin, "Administrator", "Sees and changes everything, and manages users"),
]
ROLE_NAMES = {role: name for role, name, _ in ROLES}
MAX_SCOPE_ITEMS = 500
LAST_ADMIN = {
    "is_active": "You cannot deactivate the only active administrator. "
    "Make another user an administrator first",
    "role": "You cannot change the role of the only active administrator. "
    "Make another user an administrator first",
}
# What the services call a field, as these forms name it.
FORM_FIELDS = {"body": "bodies", "partnership": "partnerships"}


def local_time(moment: dt.datetime | None, zone: str) -> str:
    """A moment as people here read it: 1 December 2026, 09:00."""
    if moment is None:
        return ""
    moment = moment.astimezone(ZoneInfo(zone))
    return f"{moment.day} {moment:%B %Y, %H:%M}"


def _words(text: str) -> list[str]:
    return text.replace(",", " ").split()


def _plainly(exc: Refused) -> tuple[str, str]:
    """A service's refusal as a form names the field, in a sentence that starts with a capital."""
    field = FORM_FIELDS.get(exc.field or "", exc.field or "name")
    if exc.status == 409 and field in LAST_ADMIN:
        return field, LAST_ADMIN[field]
    return field, exc.message[:1].upper() + exc.message[1:]


def _name_error(name: str) -> str | None:
    if not name:
        return "Enter a name"
    return "Enter a name of 200 characters or fewer" if len(name) > 200 else None


def _email_error(email: str) -> str | None:
    if not email:
        return "Enter an email address"
    if len(email) > 254:
        return "Enter an email address of 254 characters or fewer"
    try:
        normalise_email(email)
    except Refused:
        return "Enter an email address in the correct format, like name@example.org"
    return None


def _password_error(password: str) -> str | None:
    if not password:
        return "Enter a password"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Enter a password of at least {MIN_PASSWORD_LENGTH} characters"
    return "Enter a password of 1,000 characters or fewer" if len(password) > 1000 else None


def _unknown(words: list[str], exists, nouns: tuple[str, str], key: str) -> str | None:
    one, many = nouns
    if len(words) > MAX_SCOPE_ITEMS:
        return f"Enter {MAX_SCOPE_ITEMS} {many} or fewer"
    missing = [word for word in words if not exists(word)]
    if len(missing) == 1:
        return f"There is no {one} with the {key} {missing[0]}"
    return f"There are no {many} with the {key}s {', '.join(missing)}" if missing else None


def _scope_errors(session: Session, role: str, bodies: str, partnerships: str) -> dict[str, str]:
    """Every unknown code and slug at once; and an officer must have something in scope."""
    codes, slugs = _words(bodies), _words(partnerships)
    errors = {
        "bodies": _unknown(
            codes, lambda c: get_body(session=session, code=c), ("body", "bodies"), "code"
        ),
        "partnerships": _unknown(
            slugs,
            lambda s: get_partnership(session=session, slug=s),
            ("partnership", "partnerships"),
            "slug",
        ),
    }
    if role == Role.officer and not codes and not slugs:
        errors["bodies"] = "Select at least one body or partnership for an officer"
    return {field: message for field, message in errors.items() if message}


def _role_error(role: str) -> str | None:
    return None if role in Role.__members__ else "Select a role"


PASSWORD_NOT_TAKEN = (
    "Passwords are turned off here: leave the password empty, and they sign in with their work "
    "account"
)


def _new_user_errors(
    session: Session, values: dict[str, str], password: str, takes_password: bool
) -> dict[str, str]:
    """Every problem with the add-a-user form, in the form's order. With passwords turned off
    (but for the break-glass administrator) the password is left empty."""
    errors = {
        "name": _name_error(values["name"]),
        "email": _email_error(values["email"]),
        "role": _role_error(values["role"]),
    }
    errors |= _scope_errors(session, values["role"], values["bodies"], values["partnerships"])
    if takes_password:
        errors["password"] = _password_error(password)
    elif password:
        errors["password"] = PASSWORD_NOT_TAKEN
    return {field: message for field, message in errors.items() if message}


def _user_rows(session: Session, users: list[User]) -> dict[int, list[tuple[str, str]]]:
    """Each user's scope as (name, link) pairs, bodies first."""
    found = scope_entries(session=session, user_ids=[row_id(u) for u in users])
    return {
        user_id: [
            (f"{e.name} ({e.code})", f"/bodies/{e.code}")
            if e.code
            else (e.name, f"/partnerships/{e.slug}")
            for e in entries
        ]
        for user_id, entries in found.items()
    }


def _scope_text(session: Session, user: User) -> dict[str, str]:
    codes, slugs = scopes_of(session=session, user_ids=[row_id(user)])[row_id(user)]
    return {"bodies": " ".join(codes), "partnerships": " ".join(slugs)}


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: SessionDep, principal: AdminUser, page: str = ""
) -> HTMLResponse:
    """Every user, a page at a time, each with their role, scope and whether they are active."""
    total = count_users(session=session)
    number, pages = page_span(total, page_number(page))
    users = users_by_name(session=session, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {"rows": users, "page": number, "pages": pages, "total": total}
    context |= {"scopes": _user_rows(session, users), "role_names": ROLE_NAMES}
    return render(request, "admin_users.html", context)


def _new_user_page(
    request: Request,
    settings: Settings,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, object] = {"roles": ROLES, "values": values, "errors": errors}
    context["passwords_on"] = settings.local_passwords
    return render(request, "admin_user_new.html", context, status_code=status)


@router.get("/admin/users/new", response_class=HTMLResponse)
def new_user_page(request: Request, settings: SettingsDep, principal: AdminUser) -> HTMLResponse:
    """The form to add a user: no role is chosen until the administrator chooses one."""
    return _new_user_page(request, settings, {}, {})


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
):
    """Add a user with a role and a scope; every problem is listed on the same form."""
    values = {
        f: stored_text(posted, f) for f in ("name", "email", "role", "bodies", "partnerships")
    }
    given = posted.get("password")
    password = given if isinstance(given, str) else ""
    takes_password = settings.password_allowed(values["email"])
    errors = _new_user_errors(session, values, password, takes_password)
    if not errors:
        try:
            user = create_user(
                session=session,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                password=password if takes_password else None,
                body_codes=_words(values["bodies"]),
                partnership_slugs=_words(values["partnerships"]),
                actor=principal.user.email,
            )
        except Refused as exc:
            session.rollback()
            errors = dict([_plainly(exc)])
    if errors:
        return _new_user_page(request, settings, values, errors, status=400)
    return RedirectResponse(f"/admin/users/{user.id}", status_code=303)


def _user(session: Session, user_id: int) -> User:
    user = get_user(session=session, user_id=user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}")
    return user


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    revoked: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """One user: name, email, role, scope, whether they can sign in, and when they last did;
    and their API tokens, as the API lists them."""
    user = _user(session, user_id)
    tokens = tokens_of(session=session, user_id=row_id(user))
    done = next((t for t in tokens if t.id == revoked and t.revoked_at), None)
    context = {
        "user": user,
        "scope": _user_rows(session, [user])[row_id(user)],
        "role_names": ROLE_NAMES,
        "last_sign_in": local_time(
            last_sign_in(session=session, user_id=row_id(user)), settings.timezone
        ),
        "tokens": [(t, is_live(t)) for t in tokens],
        "revoked": done,
    }
    return render(request, "admin_user.html", context)


@router.get("/admin/users/{user_id}/tokens/{token_id}/revoke", response_class=HTMLResponse)
def confirm_token_revoke(
    user_id: UserId, token_id: TokenId, request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """Ask before one of a user's tokens stops working: a program using it is then refused."""
    user = _user(session, user_id)
    token = next(
        (t for t in tokens_of(session=session, user_id=row_id(user)) if t.id == token_id), None
    )
    if token is None or not is_live(token):
        raise NotFound(f"{user.name} has no live API token {token_id}")
    context = {
        "heading": f"Revoke the API token “{token.name}”?",
        "detail": f"It belongs to {user.name} ({user.email}): starting {token.prefix}, created "
        f"{uk_date(token.created_at)}. Any program using it will be refused at once. You cannot "
        "undo this: they can create a new token on their account page.",
        "action": f"/admin/users/{user.id}/tokens/{token.id}/revoke",
        "button": "Revoke the token",
        "back": f"/admin/users/{user.id}",
    }
    return render(request, "admin_token_revoke.html", context)


@router.post("/admin/users/{user_id}/tokens/{token_id}/revoke")
def revoke_user_token(
    user_id: UserId, token_id: TokenId, session: SessionDep, principal: AdminUser, _form: FormCheck
) -> RedirectResponse:
    """Stop one of a user's tokens working, at once, as the API's DELETE does."""
    user = _user(session, user_id)
    revoke_token(
        session=session, user_id=row_id(user), token_id=token_id, actor=principal.user.email
    )
    return RedirectResponse(f"/admin/users/{user.id}?revoked={token_id}", status_code=303)


def _edit_page(
    request: Request, user: User, values: dict[str, str], errors: dict[str, str], status: int = 200
):
    context = {"user": user, "roles": ROLES, "values": values, "errors": errors}
    return render(request, "admin_user_edit.html", context, status_code=status)


def _current(session: Session, user: User) -> dict[str, str]:
    state = {"name": user.name, "role": user.role, "is_active": "yes" if user.is_active else "no"}
    return state | _scope_text(session, user)


@router.get("/admin/users/{user_id}/edit", response_class=HTMLResponse)
def edit_user_page(
    user_id: UserId, request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """The form to change a user's name, role, scope and whether they can sign in."""
    user = _user(session, user_id)
    return _edit_page(request, user, _current(session, user), {})


@router.get("/admin/users/{user_id}/deactivate", response_class=HTMLResponse)
def deactivate_page(user_id: UserId, request: Request, session: SessionDep, principal: AdminUser):
    """Ask before a user loses access."""
    user = _user(session, user_id)
    if not user.is_active:
        return RedirectResponse(f"/admin/users/{user.id}", status_code=303)
    return render(request, "admin_user_deactivate.html", {"user": user, "pending": {}})


EDITABLE = ("name", "role", "bodies", "partnerships", "is_active")


def _edit_errors(session: Session, values: dict[str, str]) -> dict[str, str]:
    """Every problem with the change, in the form's order."""
    errors = {"name": _name_error(values["name"]), "role": _role_error(values["role"])}
    errors |= _scope_errors(session, values["role"], values["bodies"], values["partnerships"])
    if values["is_active"] not in ("yes", "no"):
        errors["is_active"] = "Select whether this user can sign in"
    return {field: message for field, message in errors.items() if message}


@router.post("/admin/users/{user_id}/edit", response_class=HTMLResponse)
def edit_user(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
):
    """Change what the form sent (a field not sent stays as it is); taking away access is asked
    about first, on a page of its own."""
    user = _user(session, user_id)
    sent = {f: stored_text(posted, f) for f in EDITABLE if f in posted}
    values = _current(session, user) | sent
    errors = _edit_errors(session, values)
    if errors:
        return _edit_page(request, user, values, errors, status=400)
    if values["is_active"] == "no" and user.is_active and stored_text(posted, "confirm") != "yes":
        return render(request, "admin_user_deactivate.html", {"user": user, "pending": sent})
    try:
        update_user(
            session=session,
            user=user,
            actor=principal.user.email,
            name=values["name"],
            role=values["role"],
            is_active=values["is_active"] == "yes",
            body_codes=_words(values["bodies"]),
            partnership_slugs=_words(values["partnerships"]),
        )
    except Refused as exc:
        session.rollback()
        return _edit_page(request, user, values, dict([_plainly(exc)]), status=exc.status)
    return RedirectResponse(f"/admin/users/{user.id}", status_code=303)


def _import_page(request: Request, errors: list[str], report=None, status: int = 200):
    return render(
        request, "admin_import.html", {"errors": errors, "report": report}, status_code=status
    )


@router.get("/admin/import", response_class=HTMLResponse)
def import_page(request: Request, principal: AdminUser) -> HTMLResponse:
    """The form to import a register of bodies."""
    return _import_page(request, [])


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
        return _import_page(request, ["Select a CSV file"], status=400)
    # A file over the limit reaches here cut to one byte past it (main.UploadLimit): a cut
    # register must never be imported as if it were whole.
    data = upload.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        limit = f"{settings.max_upload_bytes / 1e6:g} MB"
        return _import_page(request, [f"The file must be smaller than {limit}"], status=400)
    try:
        report = import_bodies(
            session=session,
            data=data,
            actor=principal.user.email,
            max_rows=settings.max_import_rows,
        )
        imported = of_body_codes(session, report.created + report.updated)
        sync_obligations(session=session, on=settings.today(), holders=imported)
    except ImportRefused as exc:
        session.rollback()
        lines = [f"Line {e.line}: {e.message}" for e in exc.errors]
        return _import_page(request, [exc.whole] if exc.whole else lines, status=400)
    return _import_page(request, [], report)


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
        events = obligation_history(session=session, obligation_id=entity_id)
    elif entity_type == "body":
        body = session.get(Body, entity_id)
        require(
            body is not None and principal.reads_body(entity_id), "This record is not in your scope"
        )
        assert body is not None, "require() refused a missing body"
        events = body_history(session=session, body=body)
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
