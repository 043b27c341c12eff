"""Admin pages for the registry of partnerships: add one, change its details, its members and
the duties it discharges. Each calls the service the JSON API calls, and says in words what is
wrong with a form, on the same form."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from compliance.bodies.changes import FieldsRefused
from compliance.bodies.kinds import Nation
from compliance.bodies.service import get_body
from compliance.catalogue.service import list_duties
from compliance.db import row_id
from compliance.deps import AdminUser, PostedForm, SessionDep, SettingsDep, check_form, page_router
from compliance.errors import NotFound
from compliance.forms import date_from_parts, date_parts, stored_text
from compliance.models import Body, Duty, Partnership
from compliance.obligations.service import of_partnership, sync_obligations
from compliance.partnerships.service import (
    FORMS,
    SLUG_PATTERN,
    add_duty,
    admit_member,
    create_partnership,
    duties_of,
    editable,
    end_membership,
    get_partnership,
    members_of,
    membership,
    remove_duty,
    update_partnership,
)
from compliance.web import kind_label, render, uk_date

router = page_router()
FormCheck = Annotated[object, Depends(check_form)]
Slug = Annotated[str, Path(max_length=80)]
Code = Annotated[str, Path(max_length=20)]

# The form's fields in the order it shows them: its errors are listed in this order.
FIELDS = ("name", "slug", "form", "description", "lead_body_code", "start_date", "end_date")
# The API's limits (compliance/partnerships/api.py), as the pages say them.
LIMITS = {"name": 200, "slug": 80, "description": 5000, "lead_body_code": 20, "role": 200}
MAX_DUTIES = 50
# "new" is this page's own address, so no partnership can be reached at it.
RESERVED_SLUGS = {"new"}
SLUG_WORDS = (
    "The web address name must be lower-case letters and numbers joined by hyphens, "
    "like safer-cornwall"
)
NATION_ORDER = list(Nation)


def _typed(posted: FormData) -> dict[str, Any]:
    """What was typed, to show again, with the ticked duties as a list."""
    values: dict[str, Any] = {
        k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"
    }
    return values | {"duties": [d for d in posted.getlist("duties") if isinstance(d, str)]}


def _too_long(field: str, value: str, noun: str) -> str | None:
    limit = LIMITS[field]
    return f"Enter {noun} of {limit:,} characters or fewer" if len(value) > limit else None


def _ordered(errors: Mapping[str, str | None], fields: tuple[str, ...]) -> dict[str, str]:
    """The errors with a message, in the order of the form's fields."""
    order = {field: place for place, field in enumerate(fields)}
    found = [(field, message) for field, message in errors.items() if message]
    return dict(sorted(found, key=lambda item: order.get(item[0], len(order))))


def _worded(exc: FieldsRefused, words: Mapping[str, str]) -> dict[str, str]:
    """Each field the service refused, in the form's words where it has them."""
    return {
        field: words.get(field, message[:1].upper() + message[1:])
        for field, message in exc.problems
    }


def _partnership(session: Session, slug: str) -> Partnership:
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    return partnership


# The details form: add and change ---------------------------------------------------------------


def _name_error(name: str) -> str | None:
    return "Enter the partnership's name" if not name else _too_long("name", name, "a name")


def _slug_error(session: Session, slug: str) -> str | None:
    if not slug:
        return "Enter the web address name"
    if len(slug) > LIMITS["slug"]:
        return _too_long("slug", slug, "a web address name")
    if not SLUG_PATTERN.match(slug):
        return SLUG_WORDS
    if slug in RESERVED_SLUGS:
        return f"The web address name {slug} is kept for this service's own pages: choose another"
    if get_partnership(session=session, slug=slug) is not None:
        return f"There is already a partnership with the web address name {slug}"
    return None


def _lead_error(session: Session, code: str) -> str | None:
    if not code:
        return None
    if len(code) > LIMITS["lead_body_code"]:
        return _too_long("lead_body_code", code, "a body code")
    found = get_body(session=session, code=code)
    return None if found else f"There is no body with the code {code}"


def _details(session: Session, posted: FormData) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The details as the service takes them, and every problem with them in words."""
    start, start_error = date_from_parts(posted, "start_date", label="start date", required=False)
    end, end_error = date_from_parts(posted, "end_date", label="end date", required=False)
    if start and end and end <= start:
        end_error = "The end date must be after the start date"
    answers: dict[str, Any] = {
        "name": stored_text(posted, "name"),
        "form": stored_text(posted, "form"),
        "description": stored_text(posted, "description") or None,
        "lead_body_code": stored_text(posted, "lead_body_code").upper() or None,
        "start_date": start,
        "end_date": end,
    }
    errors = {
        "name": _name_error(answers["name"]),
        "form": None if answers["form"] in FORMS else "Select the form of the partnership",
        "description": _too_long("description", answers["description"] or "", "a description"),
        "lead_body_code": _lead_error(session, stored_text(posted, "lead_body_code")),
        "start_date": start_error,
        "end_date": end_error,
    }
    return answers, errors


def _chosen_duties(session: Session, slugs: list[str]) -> tuple[list[str], str | None]:
    offered = {duty.slug for duty in list_duties(session=session)}
    chosen = list(dict.fromkeys(slugs))
    if any(slug not in offered for slug in chosen):
        return chosen, "Select duties from the list"
    too_many = len(chosen) > MAX_DUTIES
    return chosen, f"Select {MAX_DUTIES} duties or fewer" if too_many else None


def _in_words(exc: FieldsRefused, answers: Mapping[str, Any]) -> dict[str, str]:
    """The service's refusal, field by field, as the form says it."""
    words = {
        "name": "Enter the partnership's name",
        "slug": f"There is already a partnership with the web address name {answers.get('slug')}"
        if exc.status == 409
        else SLUG_WORDS,
        "form": "Select the form of the partnership",
        "lead_body_code": f"There is no body with the code {answers.get('lead_body_code')}",
        "end_date": "The end date must be after the start date",
        "duties": "Select duties from the list",
    }
    return _ordered(_worded(exc, words), (*FIELDS, "duties"))


def _nation_groups(duties: list[Duty]) -> list[tuple[str, list[Duty]]]:
    """The duties by the nations where they apply, England first."""
    groups: dict[tuple[str, ...], list[Duty]] = {}
    for duty in duties:
        nations = tuple(sorted(duty.jurisdiction, key=_nation_place))
        groups.setdefault(nations, []).append(duty)
    ordered = sorted(groups.items(), key=lambda item: [_nation_place(n) for n in item[0]])
    return [(_nations_in_words(nations), members) for nations, members in ordered]


def _nation_place(nation: str) -> int:
    return NATION_ORDER.index(nation) if nation in NATION_ORDER else len(NATION_ORDER)  # type: ignore[arg-type]  # index() only of a nation in the list


def _nations_in_words(nations: tuple[str, ...]) -> str:
    names = [kind_label(n) for n in nations] or ["Anywhere"]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _form_page(
    request: Request, session: Session, partnership: Partnership | None, values, errors, status=200
) -> HTMLResponse:
    context = {
        "partnership": partnership,
        "forms": [(form, kind_label(form)) for form in FORMS],
        "groups": _nation_groups(list_duties(session=session)),
        "max_duties": MAX_DUTIES,
        "values": values,
        "errors": errors,
    }
    return render(request, "partnership_form.html", context, status_code=status)


@router.get("/partnerships/new", response_class=HTMLResponse)
def new_partnership_page(
    request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """The form to add a partnership and the duties it discharges."""
    return _form_page(request, session, None, {"duties": []}, {})


@router.post("/partnerships/new", response_class=HTMLResponse)
def add_partnership(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
):
    """Add a partnership as the API does; its obligations open at once."""
    answers, errors = _details(session, posted)
    answers["slug"] = stored_text(posted, "slug")
    answers["duties"], errors["duties"] = _chosen_duties(session, posted.getlist("duties"))  # type: ignore[arg-type]  # a file among them is no offered slug: refused

    errors["slug"] = _slug_error(session, answers["slug"])
    found = _ordered(errors, (*FIELDS, "duties"))
    if not found:
        try:
            partnership = create_partnership(session=session, actor=principal.user.email, **answers)
        except FieldsRefused as exc:
            session.rollback()
            found = _in_words(exc, answers)
    if found:
        return _form_page(request, session, None, _typed(posted), found, status=400)
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return RedirectResponse(f"/partnerships/{partnership.slug}", status_code=303)


def _current_values(session: Session, partnership: Partnership) -> dict[str, str]:
    """The partnership's details as its form shows them: dates in three boxes."""
    values: dict[str, str] = {}
    for name, value in editable(session=session, partnership=partnership).items():
        if name.endswith("_date"):
            values |= {f"{name}-{part}": text for part, text in date_parts(value).items()}
        else:
            values[name] = value or ""
    return values


@router.get("/partnerships/{slug}/edit", response_class=HTMLResponse)
def edit_partnership_page(
    slug: Slug, request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """The form to change a partnership's details, filled in with them."""
    partnership = _partnership(session, slug)
    return _form_page(request, session, partnership, _current_values(session, partnership), {})


@router.post("/partnerships/{slug}/edit", response_class=HTMLResponse)
def change_partnership(
    slug: Slug,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
):
    """Change only the details that differ; an end date on or before today closes the
    partnership's obligations, as the API's change does."""
    partnership = _partnership(session, slug)
    answers, errors = _details(session, posted)
    found = _ordered(errors, FIELDS)
    if not found:
        before = editable(session=session, partnership=partnership)
        changes = {name: value for name, value in answers.items() if value != before[name]}
        try:
            update_partnership(
                session=session,
                partnership=partnership,
                changes=changes,
                actor=principal.user.email,
            )
        except FieldsRefused as exc:
            session.rollback()
            found = _in_words(exc, answers)
    if found:
        return _form_page(request, session, partnership, _typed(posted), found, status=400)
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    return RedirectResponse(f"/partnerships/{partnership.slug}", status_code=303)


# Members ----------------------------------------------------------------------------------------

MEMBER_FIELDS = ("body_code", "role", "start_date")


def _members_page(
    request: Request, session: Session, partnership: Partnership, values, errors, status=200
) -> HTMLResponse:
    members = members_of(session=session, partnership_id=row_id(partnership))
    done = None
    for member in members:
        code = member.body.code
        if request.query_params.get("joined") == code and member.membership.end_date is None:
            done = f"{member.body.name} is now a member"
        elif request.query_params.get("left") == code and member.membership.end_date:
            ends = uk_date(member.membership.end_date)
            done = f"The membership of {member.body.name} ends on {ends}"
    context = {
        "partnership": partnership,
        "members": members,
        "done": done,
        "values": values,
        "errors": errors,
    }
    return render(request, "partnership_members.html", context, status_code=status)


@router.get("/partnerships/{slug}/members", response_class=HTMLResponse)
def members_page(
    slug: Slug, request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """The members, past and present, with the form to add one."""
    partnership = _partnership(session, slug)
    return _members_page(request, session, partnership, {}, {})


def _member_errors(session: Session, posted: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    code, role = stored_text(posted, "body_code"), stored_text(posted, "role")
    start, start_error = date_from_parts(
        posted, "start_date", label="date it joins", required=False
    )
    errors = {
        "body_code": "Enter the code of the body" if not code else _lead_error(session, code),
        "role": "Enter the body's role in the partnership"
        if not role
        else _too_long("role", role, "a role"),
        "start_date": start_error,
    }
    answers = {"body_code": code.upper(), "role": role, "start_date": start}
    return answers, _ordered(errors, MEMBER_FIELDS)


def _member_refusal(session: Session, exc: FieldsRefused, code: str) -> dict[str, str]:
    body = get_body(session=session, code=code)
    words = {
        "body_code": f"{body.name} ({body.code}) is already a member"
        if body and exc.status == 409
        else f"There is no body with the code {code}",
        "role": "Enter the body's role in the partnership",
    }
    return _ordered(_worded(exc, words), MEMBER_FIELDS)


@router.post("/partnerships/{slug}/members", response_class=HTMLResponse)
def add_member(
    slug: Slug,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
):
    """Add a body to the partnership, or bring a former member back, as the API does."""
    partnership = _partnership(session, slug)
    answers, errors = _member_errors(session, posted)
    if not errors:
        try:
            admit_member(
                session=session, partnership=partnership, actor=principal.user.email, **answers
            )
        except FieldsRefused as exc:
            session.rollback()
            errors = _member_refusal(session, exc, answers["body_code"])
    if errors:
        return _members_page(request, session, partnership, _typed(posted), errors, status=400)
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    address = f"/partnerships/{partnership.slug}/members?joined={answers['body_code']}"
    return RedirectResponse(address, status_code=303)


def _member(session: Session, partnership: Partnership, code: str):
    body = get_body(session=session, code=code)
    member = body and membership(session=session, partnership=partnership, body=body)
    if not member:
        raise NotFound(f"{code} is not a member of {partnership.name}")
    return body, member


def _end_page(
    request: Request, partnership: Partnership, body: Body, member, values, errors, status=200
) -> HTMLResponse:
    context = {
        "partnership": partnership,
        "body": body,
        "member": member,
        "values": values,
        "errors": errors,
    }
    return render(request, "partnership_member_end.html", context, status_code=status)


@router.get("/partnerships/{slug}/members/{code}/end", response_class=HTMLResponse)
def end_member_page(
    slug: Slug,
    code: Code,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
):
    """Ask when the member leaves (today unless changed) before recording it."""
    partnership = _partnership(session, slug)
    body, member = _member(session, partnership, code)
    if member.end_date is not None:
        return RedirectResponse(f"/partnerships/{partnership.slug}/members", status_code=303)
    today = {f"end_date-{part}": text for part, text in date_parts(settings.today()).items()}
    return _end_page(request, partnership, body, member, today, {})


@router.post("/partnerships/{slug}/members/{code}/end", response_class=HTMLResponse)
def end_member(
    slug: Slug,
    code: Code,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
):
    """Record that the member leaves on the date given; the membership stays on record."""
    partnership = _partnership(session, slug)
    body, member = _member(session, partnership, code)
    end, error = date_from_parts(posted, "end_date", label="date it leaves", required=True)
    if end is not None:
        try:
            end_membership(
                session=session,
                partnership=partnership,
                member=member,
                body=body,
                end_date=end,
                actor=principal.user.email,
            )
        except FieldsRefused as exc:
            session.rollback()
            error = (
                f"{body.name} left on {uk_date(member.end_date)}"
                if exc.status == 409
                else f"The date it leaves must be after it joined on {uk_date(member.start_date)}"
            )
    if error:
        errors = {"end_date": error}
        return _end_page(request, partnership, body, member, _typed(posted), errors, status=400)
    sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    address = f"/partnerships/{partnership.slug}/members?left={body.code}"
    return RedirectResponse(address, status_code=303)


# Duties -----------------------------------------------------------------------------------------


def _offered(session: Session, current: list[Duty]) -> list[Duty]:
    """The catalogue's duties, and any retired one the partnership still discharges, so that
    it can be taken off."""
    duties = list_duties(session=session)
    shown = {duty.id for duty in duties}
    return duties + [duty for duty in current if duty.id not in shown]


def _duties_page(
    request: Request, session: Session, partnership: Partnership, ticked, errors, changed=None
) -> HTMLResponse:
    current = duties_of(session=session, partnership_id=row_id(partnership))
    context = {
        "partnership": partnership,
        "groups": _nation_groups(_offered(session, current)),
        "ticked": ticked,
        "errors": errors,
        "changed": changed,
    }
    return render(request, "partnership_duties.html", context, status_code=400 if errors else 200)


@router.get("/partnerships/{slug}/duties", response_class=HTMLResponse)
def duties_page(
    slug: Slug, request: Request, session: SessionDep, principal: AdminUser
) -> HTMLResponse:
    """Every duty of the catalogue, those the partnership discharges ticked."""
    partnership = _partnership(session, slug)
    current = duties_of(session=session, partnership_id=row_id(partnership))
    return _duties_page(request, session, partnership, [d.slug for d in current], {})


@router.post("/partnerships/{slug}/duties", response_class=HTMLResponse)
def save_duties(
    slug: Slug,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminUser,
    _form: FormCheck,
    posted: PostedForm,
) -> HTMLResponse:
    """Add the duties newly ticked and remove those unticked, as the API's PUT and DELETE do,
    and say what changed."""
    partnership = _partnership(session, slug)
    current = duties_of(session=session, partnership_id=row_id(partnership))
    offered = {duty.slug: duty for duty in _offered(session, current)}
    wanted = list(dict.fromkeys(s for s in posted.getlist("duties") if isinstance(s, str)))
    if any(slug not in offered for slug in wanted):
        errors = {"duties": "Select duties from the list"}
        return _duties_page(request, session, partnership, wanted, errors)
    had = {duty.slug for duty in current}
    actor = principal.user.email
    added = [offered[s] for s in wanted if s not in had]
    removed = [duty for duty in current if duty.slug not in wanted]
    for duty in added:
        add_duty(session=session, partnership=partnership, duty=duty, actor=actor)
    for duty in removed:
        remove_duty(session=session, partnership=partnership, duty=duty, actor=actor)
    if added or removed:
        sync_obligations(session=session, on=settings.today(), holders=of_partnership(partnership))
    changed = {"added": added, "removed": removed}
    return _duties_page(request, session, partnership, wanted, {}, changed)
