"""The account page: who you are, your password, your personal API tokens (create, revoke), and
your email preferences (the digest, a pause, a delegate)."""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from compliance.access import Principal
from compliance.accounts.passwords import change_password, new_password_errors
from compliance.accounts.service import MIN_PASSWORD_LENGTH, PASSWORDS_OFF, scopes_of
from compliance.accounts.tokens import (
    DEFAULT_EXPIRES_DAYS,
    MAX_EXPIRES_DAYS,
    create_token,
    is_live,
    revoke_token,
    tokens_of,
)
from compliance.api import MAX_ID
from compliance.config import Settings
from compliance.db import row_id
from compliance.deps import (
    CurrentUser,
    FormUser,
    PostedForm,
    SessionDep,
    SettingsDep,
    page_router,
)
from compliance.errors import NotFound, Refused
from compliance.forms import date_from_parts, date_parts
from compliance.models import User
from compliance.reminders.models import EmailPreference
from compliance.reminders.preferences import (
    delegate_choices,
    is_away,
    preference_of,
    set_preferences,
)
from compliance.web import render, uk_date

router = page_router()
DAYS_ERROR = f"Enter a whole number of days from 1 to {MAX_EXPIRES_DAYS}"


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    user = principal.user
    codes, slugs = scopes_of(session=session, user_ids=[row_id(user)])[row_id(user)]
    tokens = tokens_of(session=session, user_id=row_id(user))
    values = {
        "bodies": codes,
        "partnerships": slugs,
        "tokens": [(t, is_live(t)) for t in tokens],
        "errors": {},
        "values": {"name": "", "expires_days": str(DEFAULT_EXPIRES_DAYS)},
        "created": None,
        "revoked": None,
        "password_changed": False,
        "passwords_on": True,
        "max_days": MAX_EXPIRES_DAYS,
    }
    response = render(request, "account.html", values | context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    revoked: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    password: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """Who you are, your API tokens, and the form to create one."""
    mine = {t.id: t for t in tokens_of(session=session, user_id=row_id(principal.user))}
    done = mine.get(revoked) if revoked else None
    ended = done if done and done.revoked_at else None
    return _page(
        request,
        session,
        principal,
        revoked=ended,
        password_changed=password == "changed",
        passwords_on=settings.password_allowed(principal.user.email),
    )


@router.post("/account/tokens", response_class=HTMLResponse)
def add_token(
    request: Request,
    session: SessionDep,
    principal: FormUser,
    name: Annotated[str, Form(max_length=1000)] = "",
    expires_days: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Create a token and show it this once; bad input is shown again with what to fix."""
    values = {"name": name, "expires_days": expires_days}
    days = int(expires_days) if expires_days.strip().isdecimal() else 0
    errors = {} if 1 <= days <= MAX_EXPIRES_DAYS else {"expires_days": DAYS_ERROR}
    if not name.strip() or len(name.strip()) > 100:
        errors = {"name": "Enter a name for the token, up to 100 characters"} | errors
    if errors:
        return _page(request, session, principal, status_code=422, errors=errors, values=values)
    try:
        # In a savepoint: a refusal at the database (a NUL in the name) undoes only this.
        with session.begin_nested():
            secret, token = create_token(
                session=session,
                user=principal.user,
                name=name,
                expires_days=days,
                actor=principal.user.email,
            )
    except Refused as exc:
        errors = {exc.field or "name": exc.message}
        return _page(request, session, principal, status_code=422, errors=errors, values=values)
    return _page(request, session, principal, created=(secret, token))


@router.post("/account/tokens/{token_id}/revoke")
def revoke(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, principal: FormUser
) -> RedirectResponse:
    """Stop one of your tokens working, at once."""
    revoke_token(
        session=session,
        user_id=row_id(principal.user),
        token_id=token_id,
        actor=principal.user.email,
    )
    return RedirectResponse(f"/account?revoked={token_id}", status_code=303)


@router.get("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def confirm_revoke(
    request: Request,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """Ask before a token stops working: a program using it will then be refused."""
    mine = {t.id: t for t in tokens_of(session=session, user_id=row_id(principal.user))}
    token = mine.get(token_id)
    if token is None or not is_live(token):
        raise NotFound(f"You have no live API token {token_id}")
    context = {
        "heading": f"Revoke the API token “{token.name}”?",
        "detail": f"Starting {token.prefix}, created {uk_date(token.created_at)}. Any program "
        "using it will be refused at once. You cannot undo this: create a new token instead.",
        "action": f"/account/tokens/{token.id}/revoke",
        "button": "Revoke the token",
        "back": "/account",
    }
    return render(request, "account_revoke.html", context)


def _password_page(
    request: Request, errors: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    context = {"errors": errors or {}, "min_length": MIN_PASSWORD_LENGTH}
    response = render(request, "account_password.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _passwords_on(settings: Settings, principal: Principal) -> None:
    # With passwords turned off a password set here could never be used to sign in.
    if not settings.password_allowed(principal.user.email):
        raise Refused(PASSWORDS_OFF, status=403)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, settings: SettingsDep, principal: CurrentUser) -> HTMLResponse:
    """The form to change your password (not while passwords are turned off for you)."""
    _passwords_on(settings, principal)
    return _password_page(request)


@router.post("/account/password", response_class=HTMLResponse)
def save_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    current_password: Annotated[str, Form(max_length=1000)] = "",
    new_password: Annotated[str, Form(max_length=1000)] = "",
    confirm_password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Change your password; your other sign-ins end, this one stays. Nothing typed is shown
    again: a password is never written into a page."""
    _passwords_on(settings, principal)
    wanted = {"current": current_password, "new": new_password, "confirm": confirm_password}
    errors = new_password_errors(**wanted)
    if errors:
        return _password_page(request, errors, status_code=422)
    limits = {
        "per_account": settings.sign_in_max_failures,
        "per_address": settings.sign_in_max_failures_per_address,
    }
    try:
        change_password(
            session=session,
            user=principal.user,
            current=current_password,
            new=new_password,
            address=request.client.host if request.client else "unknown",
            session_id=request.state.session_id,
            limits=limits,
        )
    except Refused as exc:
        return _password_page(request, {exc.field or "new_password": exc.message}, exc.status)
    return RedirectResponse("/account?password=changed", status_code=303)


# The email preferences form, field by field in the order the page asks.
PAUSE_LABELS = {
    "paused_from_date": "the first day of the pause",
    "paused_until_date": "the last day of the pause",
}
EMAIL_FIELDS = ("digest_only", "paused_from_date", "paused_until_date", "delegate_id")


def _preference_values(preference: EmailPreference | None) -> dict[str, str]:
    values = {
        "digest_only": "yes" if preference and preference.digest_only else "no",
        "delegate_id": str(preference.delegate_id or "") if preference else "",
    }
    for field in PAUSE_LABELS:
        parts = date_parts(getattr(preference, field) if preference else None)
        values |= {f"{field}-{part}": value for part, value in parts.items()}
    return values


def _email_page(
    request: Request,
    session: Session,
    principal: Principal,
    today: dt.date,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    user = principal.user
    preference = preference_of(session=session, user_id=row_id(user))
    chosen = preference.delegate_id if preference else None
    delegate = session.get(User, chosen) if chosen else None
    values = {
        "choices": delegate_choices(session=session, user=user),
        "away": is_away(preference, today),
        "delegate": delegate if delegate is not None and delegate.is_active else None,
        "errors": {},
        "values": _preference_values(preference),
        "saved": False,
        "example": today + dt.timedelta(days=14),
    }
    return render(request, "account_email.html", values | context, status_code=status_code)


@router.get("/account/email", response_class=HTMLResponse)
def email_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    saved: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """Your email preferences: the digest instead of single reminders, a pause, a delegate."""
    return _email_page(request, session, principal, settings.today(), saved=saved == "true")


def _read_preferences(
    form: Mapping[str, object], user: User, choices: list[User]
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the form asks for, and a plain-English message for each field that is wrong."""
    errors: dict[str, str] = {}
    digest = str(form.get("digest_only") or "no")
    if digest not in {"yes", "no"}:
        errors["digest_only"] = "Choose whether you want only the weekly digest"
    dates = {}
    for field, label in PAUSE_LABELS.items():
        dates[field], error = date_from_parts(form, field, label=label, required=False)
        if error:
            errors[field] = f"Enter a real date for {label}"
    start, end = dates["paused_from_date"], dates["paused_until_date"]
    if end and not start and "paused_from_date" not in errors:
        errors["paused_from_date"] = "Enter the date the pause starts, or leave both dates empty"
    if start and end and end < start:
        errors["paused_until_date"] = "The pause must end on or after the day it starts"
    chosen = str(form.get("delegate_id") or "").strip()
    delegate_id = int(chosen) if chosen.isdecimal() and len(chosen) < 12 else None
    if delegate_id == user.id:
        errors["delegate_id"] = "You cannot stand in for yourself: choose someone else, or nobody"
    elif chosen and delegate_id not in {c.id for c in choices}:
        errors["delegate_id"] = "Choose someone from the list, or nobody"
    wanted: dict[str, Any] = {"digest_only": digest == "yes", **dates, "delegate_id": delegate_id}

    return wanted, {field: errors[field] for field in EMAIL_FIELDS if field in errors}


@router.post("/account/email", response_class=HTMLResponse)
def save_email(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
) -> Response:
    """Save your email preferences; anything wrong comes back with what you typed."""
    user, today = principal.user, settings.today()
    choices = delegate_choices(session=session, user=user)
    wanted, errors = _read_preferences(posted, user, choices)
    if not errors:
        try:
            set_preferences(session=session, actor=user.email, user=user, **wanted)
        except Refused as exc:
            errors = {exc.field or "digest_only": exc.message.capitalize()}
    if errors:
        typed = {k: str(v) for k, v in posted.items() if k != "csrf_token" and isinstance(v, str)}
        context = {"errors": errors, "values": _preference_values(None) | typed}
        return _email_page(request, session, principal, today, status_code=422, **context)
    return RedirectResponse("/account/email?saved=true", status_code=303)
