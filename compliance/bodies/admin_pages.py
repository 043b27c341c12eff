"""Administrators' pages that add a body to the registry and change one: the API's POST and PATCH
of /api/v1/bodies as GOV.UK forms, through the same service, every refusal said in plain English
by its field and the form shown again with what was typed."""

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from compliance.bodies.changes import FieldsRefused, create_body, editable, update_body
from compliance.bodies.kinds import BodyKind, Nation
from compliance.bodies.pages import _body_context, body_or_404
from compliance.bodies.service import field_problems
from compliance.deps import AdminUser, PostedForm, SessionDep, SettingsDep, check_form, page_router
from compliance.forms import date_from_parts, date_parts
from compliance.models import Body
from compliance.obligations.service import of_body, sync_obligations
from compliance.web import kind_label, render

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]

# Each form's questions in the order it asks them, which is the order of its error summary.
NEW_FIELDS = (
    "code",
    "name",
    "kind",
    "nation",
    "parent_code",
    "website",
    "email",
    "start_date",
    "end_date",
)
# A body's code, kind, nation and start are its identity: the service changes only these.
CHANGE_FIELDS = (
    "name",
    "parent_code",
    "website",
    "email",
    "end_date",
    "successor_code",
    "note",
)
# The API's limits on each field (compliance/bodies/api.py BodyCreate and BodyUpdate).
LIMITS = {
    "code": 20,
    "name": 200,
    "parent_code": 20,
    "website": 300,
    "email": 254,
    "successor_code": 20,
    "note": 5000,
}
NOUNS = {
    "code": "code",
    "name": "name",
    "parent_code": "code of the body it is part of",
    "website": "website address",
    "email": "email address",
    "successor_code": "code of the body that takes over",
    "note": "note",
}
MISSING = {
    "code": "Enter a code",
    "name": "Enter a name",
    "kind": "Choose a kind of body",
    "nation": "Choose a nation",
}
DATE_LABELS = {"start_date": "start date", "end_date": "end date"}
NATIONS = [(nation.value, kind_label(nation.value)) for nation in Nation]
CODE_EXAMPLE = "like E06000052 or CORNWALL-FRS"


def _text_error(name: str, value: str) -> str | None:
    if not value:
        return MISSING.get(name)
    if "\x00" in value:
        return f"The {NOUNS.get(name, name)} cannot contain the NUL character (U+0000)"
    if name == "kind" and value not in BodyKind.__members__:
        return "Choose a kind of body from the list"
    if name == "nation" and value not in Nation.__members__:
        return "Choose a nation from the list"
    limit = LIMITS.get(name)
    if limit and len(value) > limit:
        return f"Enter a {NOUNS[name]} of {limit:,} characters or fewer"
    return None


def _answers(typed: Mapping[str, str], fields: tuple[str, ...]) -> tuple[dict, dict[str, str]]:
    """The form's answers for the service (a blank one as None), and the problems it can see
    without the registry: what is missing, too long, not on the list, or not a real date."""
    values: dict[str, Any] = {}
    errors: dict[str, str | None] = {}
    for name in fields:
        if name in DATE_LABELS:
            label = DATE_LABELS[name]
            values[name], errors[name] = date_from_parts(typed, name, label=label, required=False)
        else:
            text = typed.get(name, "").strip()
            values[name], errors[name] = text or None, _text_error(name, text)
    return values, {name: message for name, message in errors.items() if message}


# The service's refusals, in the words of the form. Its wording is for API callers and import
# files ("kind is empty: give one of county_council, ..."); each is matched here by its field.
PLAIN = [
    ("code", r"already exists", "A body with the code {code} already exists"),
    (
        "code",
        r"is not a valid code",
        f"Enter a code of 2 to 20 letters, digits and hyphens, {CODE_EXAMPLE}",
    ),
    (
        "code",
        r"is an ONS \w+ code, which is for (?P<kinds>.+), not",
        "The code {code} is for a {kinds}: choose that kind, or check the code",
    ),
    (
        "code",
        r"is a code in (?P<place>\w+), not",
        "The code {code} is for a body in {place}: choose that nation, or check the code",
    ),
    (
        "kind",
        r"^there is no",
        "There is no {kind} in {nation}: choose another kind of body, or check the nation",
    ),
    ("kind", r"is not one of", "Choose a kind of body from the list"),
    ("nation", r"is not one of", "Choose a nation from the list"),
    (
        "website",
        r"is not a web address",
        "Enter a website address in the correct format, like www.example.gov.uk",
    ),
    (
        "email",
        r"is not valid",
        "Enter an email address in the correct format, like name@example.org",
    ),
    ("end_date", r"is not after", "The end date must be after the start date"),
    (
        "parent_code",
        r"(?P<found>\S+) is not in the registry",
        "There is no body with the code {found}",
    ),
    (
        "parent_code",
        r"is this body or beneath it",
        "A body cannot be part of itself, or of a body that is part of it",
    ),
    (
        "successor_code",
        r"(?P<found>\S+) is not in the registry",
        "There is no body with the code {found}",
    ),
    (
        "successor_code",
        r"cannot succeed itself",
        "A body cannot take over from itself: enter the code of another body",
    ),
]


def _kind_words(kind: str) -> str:
    """A kind of body as words inside a sentence: "integrated care board", "NHS trust"."""
    label = kind_label(kind)
    proper = label.partition(" ")[0] in {"NHS", "HSC", "Northern"}
    return label if proper else label[:1].lower() + label[1:]


def _plain(field: str, message: str, values: Mapping[str, Any]) -> str:
    """One refusal of the service, as the form says it."""
    if field in MISSING and "is empty" in message:
        return MISSING[field]
    if field in LIMITS and "is longer than" in message:
        return f"Enter a {NOUNS[field]} of {LIMITS[field]:,} characters or fewer"
    for name, pattern, text in PLAIN:
        found = re.search(pattern, message) if name == field else None
        if found:
            groups = found.groupdict()
            return text.format(
                code=(values.get("code") or "").upper(),
                kind=_kind_words(values.get("kind") or ""),
                nation=kind_label(values.get("nation") or ""),
                kinds=" or ".join(_kind_words(k) for k in groups.get("kinds", "").split(" or ")),
                place=kind_label(groups.get("place", "")),
                found=groups.get("found", ""),
            )
    return message[:1].upper() + message[1:].replace("_", " ")


def _refusals(
    problems: list[tuple[str, str]], values: Mapping[str, Any], fields: tuple[str, ...]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for field, message in problems:
        found.setdefault(field if field in fields else fields[0], _plain(field, message, values))
    return found


def _in_order(errors: Mapping[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    return {name: errors[name] for name in fields if name in errors}


def _typed(posted: Mapping[str, Any]) -> dict[str, str]:
    """What was typed, to show again."""
    return {k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"}


def _form(
    request: Request,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    body: Body | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {"body": body, "values": values, "errors": errors, "nations": NATIONS}
    return render(request, "body_form.html", context, status_code=status)


@router.get("/bodies/new", response_class=HTMLResponse)
def new_body_page(request: Request, principal: AdminUser) -> HTMLResponse:
    """The form to add a body to the registry."""
    return _form(request, values={}, errors={})


def _new_body_errors(values: Mapping[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """With a problem the form sees itself, the registry's other checks of the same fields, so
    that every problem is listed at once."""
    fields = ("code", "name", "kind", "nation", "website", "email")
    checked = {name: values.get(name) or "" for name in fields}
    problems = [(f, m) for f, m in field_problems(checked) if f not in errors]
    return errors | _refusals(problems, values, NEW_FIELDS)


@router.post("/bodies/new", response_class=HTMLResponse)
def add_body(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form_check: FormCheck,
    posted: PostedForm,
) -> Response:
    """Add a body, checked as the API and a register import check it; its obligations open."""
    typed = _typed(posted)
    values, errors = _answers(typed, NEW_FIELDS)
    if errors:
        errors = _new_body_errors(values, errors)
    else:
        try:
            body = create_body(session=session, actor=principal.user.email, **values)
        except FieldsRefused as exc:
            errors = _refusals(exc.problems, values, NEW_FIELDS)
    if errors:
        return _form(request, values=typed, errors=_in_order(errors, NEW_FIELDS), status=400)
    sync_obligations(session=session, on=settings.today(), holders=of_body(body))
    return RedirectResponse(f"/bodies/{body.code}/saved?change=added", status_code=303)


def _prefilled(session: Session, body: Body) -> dict[str, str]:
    """A body's changeable details as the form shows them."""
    details = editable(session=session, body=body)
    values = {name: "" if details[name] is None else str(details[name]) for name in CHANGE_FIELDS}
    del values["end_date"]
    return values | {f"end_date-{k}": v for k, v in date_parts(details["end_date"]).items()}


@router.get("/bodies/{code}/edit", response_class=HTMLResponse)
def edit_body_page(
    code: str, request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """The form to change a body's details, filled in with what is recorded."""
    body = body_or_404(session, code)
    return _form(request, values=_prefilled(session, body), errors={}, body=body)


def _changes(session: Session, body: Body, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the form changed, as the API's PATCH sends only what it changes: a detail
    already recorded is not the person's to answer for."""
    before = editable(session=session, body=body)

    def differs(name: str) -> bool:
        new, old = values[name], before[name]
        if name.endswith("_code") and new and old:
            return new.upper() != old
        return new != old

    return {name: values[name] for name in CHANGE_FIELDS if differs(name)}


@router.post("/bodies/{code}/edit", response_class=HTMLResponse)
def change_body(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form_check: FormCheck,
    posted: PostedForm,
) -> Response:
    """Change a body's details (a field the form did not send stays as it is); an end date on
    or before today closes its obligations."""
    body = body_or_404(session, code)
    typed = _prefilled(session, body) | _typed(posted)
    values, errors = _answers(typed, CHANGE_FIELDS)
    changes = {} if errors else _changes(session, body, values)
    if changes:
        try:
            update_body(session=session, body=body, changes=changes, actor=principal.user.email)
        except FieldsRefused as exc:
            errors = _refusals(exc.problems, values, CHANGE_FIELDS)
    if errors:
        ordered = _in_order(errors, CHANGE_FIELDS)
        return _form(request, values=typed, errors=ordered, body=body, status=400)
    if not changes:  # saved as it was: nothing recorded, and the page says so
        return RedirectResponse(f"/bodies/{body.code}/saved?change=unchanged", status_code=303)
    sync_obligations(session=session, on=settings.today(), holders=of_body(body))
    return RedirectResponse(f"/bodies/{body.code}/saved?change=changed", status_code=303)


@router.get("/bodies/{code}/saved", response_class=HTMLResponse)
def saved_page(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    change: Literal["added", "changed", "unchanged"] = "changed",
) -> HTMLResponse:
    """The body's page, saying that it was added or changed, or that nothing was."""
    context = _body_context(session, settings, principal, code, "", "")
    return render(request, "body_saved.html", context | {"change": change})
