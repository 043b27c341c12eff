"""The page where officers for a partnership, and administrators, record whether it is worth it:
why it exists in its form, the alternatives considered, its costs a year and its benefits, and
when its partners last decided, and will next decide, whether it should continue. It saves
through set_value, as the API's PATCH does. Inspectors read the same on the partnership page.
"""

import datetime as dt
import re
from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.bodies.changes import FieldsRefused
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound
from compliance.forms import date_from_parts
from compliance.models import Partnership
from compliance.outcomes.forms import Answers, text
from compliance.outcomes.pages import form_values, typed
from compliance.partnerships.service import (
    VALUE_FIELDS,
    VALUE_LIMITS,
    get_partnership,
    set_value,
)
from compliance.web import render

router = page_router()

CHANGE_REFUSED = "Only an officer for this partnership can change whether it is worth it"
WHOLE = re.compile(r"-?[0-9]+")
TEXTS = {
    "rationale": "a reason",
    "alternatives": "alternatives",
    "benefits": "benefits",
}
# name: (what a wrong answer should be, for example; below zero; too big)
NUMBERS = {
    "staff_days_a_year": (
        "Enter a whole number of staff days, for example 40",
        "Staff days must be 0 or more",
        f"Enter {VALUE_LIMITS['staff_days_a_year']:,} staff days or fewer",
    ),
    "pounds_a_year": (
        "Enter the money a year in whole pounds, for example 45000",
        "Money a year must be £0 or more",
        f"Enter £{VALUE_LIMITS['pounds_a_year']:,} or less",
    ),
    "meetings_a_year": (
        "Enter a whole number of meetings, for example 10",
        "Meetings must be 0 or more",
        f"Enter {VALUE_LIMITS['meetings_a_year']:,} meetings or fewer",
    ),
}
DATES = {
    "costs_as_at_date": "the costs",
    "continuation_decided_date": "the last decision",
    "continuation_due_date": "the next decision",
}


def whole_number(form: Mapping[str, object], name: str) -> tuple[int | None, str | None]:
    """A whole number of 0 or more, written as 40, 1,250 or £45,000; blank is none."""
    raw = form.get(name)
    value = (raw if isinstance(raw, str) else "").strip().replace(",", "").removeprefix("£")
    wrong, negative, too_big = NUMBERS[name]
    if not value:
        return None, None
    if not WHOLE.fullmatch(value):
        return None, wrong
    number = int(value)
    if number < 0:
        return None, negative
    return (number, None) if number <= VALUE_LIMITS[name] else (None, too_big)


def _date(
    form: Mapping[str, object], name: str, today: dt.date
) -> tuple[dt.date | None, str | None]:
    day, error = date_from_parts(form, name, label=DATES[name], required=False)
    if error:
        return None, f"Enter a real date for {DATES[name]}, for example 3 3 2023"
    if name == "continuation_decided_date" and day and day > today:
        return None, "The last decision must be today or in the past"
    return day, None


def value_answers(form: Mapping[str, object], today: dt.date) -> Answers:
    """The form's answers in its order, every blank one as none, each problem by its field."""
    answers = Answers()
    for name in VALUE_FIELDS:
        if name in TEXTS:
            too_long = f"Enter {TEXTS[name]} of 5,000 characters or fewer"
            answers.add(name, *text(form, name, limit=5000, missing=None, too_long=too_long))
        elif name in NUMBERS:
            answers.add(name, *whole_number(form, name))
        else:
            answers.add(name, *_date(form, name, today))
    decided, due = (
        answers.values["continuation_decided_date"],
        answers.values["continuation_due_date"],
    )
    if decided and due and due <= decided:  # type: ignore[operator]  # both dates, from _date(), when set
        answers.errors["continuation_due_date"] = "The next decision must be after the last one"
    return answers


def _changeable(session: Session, principal: Principal, slug: str) -> Partnership:
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    require(principal.writes_partnership(partnership.id), CHANGE_REFUSED)
    return partnership


def _page(
    request: Request, partnership: Partnership, values: dict, errors: dict, status: int = 200
) -> HTMLResponse:
    context = {
        "partnership": partnership,
        "values": values,
        "errors": errors,
        "nav_section": "/partnerships",
    }
    return render(request, "partnership_value.html", context, status_code=status)


@router.get("/partnerships/{slug}/value", response_class=HTMLResponse)
def value_form(
    slug: str, request: Request, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """Why the partnership exists, its costs and benefits, and its continuation decisions,
    ready to change."""
    partnership = _changeable(session, principal, slug)
    return _page(request, partnership, typed(partnership, *VALUE_FIELDS), {})


@router.post("/partnerships/{slug}/value", response_class=HTMLResponse)
def save_value(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Save the record, or show the form again with what was typed and what is wrong."""
    partnership = _changeable(session, principal, slug)
    answers = value_answers(posted, settings.today())
    errors = dict(answers.errors)
    if not errors:
        try:
            set_value(
                session=session,
                partnership=partnership,
                changes=answers.values,
                actor=principal.user.email,
                today=settings.today(),
            )
        except FieldsRefused as exc:
            session.rollback()
            errors = {field: message[:1].upper() + message[1:] for field, message in exc.problems}
    if not errors:
        return RedirectResponse(f"/partnerships/{slug}#value", status_code=303)
    return _page(request, partnership, form_values(posted), errors, status=422)
