"""Staff pages of a partnership's evaluation rounds: the list with the trend and a form for a new
round; a round's page with each stage's results (only at or above its minimum number of
answers), invitations to the partners' staff, the shared link for people who use services, and
closing; and the form for answers given in a session. Officers in scope change them; inspectors
in scope read them."""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.api import MAX_ID
from compliance.db import row_id
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.evaluations.models import DEFAULT_MIN_ANSWERS, EvaluationRound
from compliance.evaluations.questions import (
    FORM,
    SCALE,
    STATEMENTS,
    read_people_answer,
    typed,
)
from compliance.evaluations.service import (
    MIN_ANSWERS_RANGE,
    RoundCreate,
    close_round,
    closed_on,
    create_round,
    enter_session_answer,
    invite,
    latest_results,
    parse_addresses,
    public_url,
    round_problems,
    round_results,
    round_state,
    rounds_of,
)
from compliance.forms import date_from_parts, date_parts
from compliance.models import Partnership
from compliance.outcomes.service import outcomes_of
from compliance.partnerships.service import get_partnership
from compliance.web import render

router = page_router()
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
WRITE_REFUSED = "Only an officer for this partnership can run its evaluation rounds"
BASE = "/partnerships/{slug}/evaluations"


def _partnership(session: Session, principal: Principal, slug: str, *, write: bool) -> Partnership:
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    if write:
        require(principal.writes_partnership(partnership.id), WRITE_REFUSED)
    return partnership


def _round(session: Session, partnership: Partnership, round_id: int) -> EvaluationRound:
    row = session.get(EvaluationRound, round_id)
    if row is None or row.partnership_id != partnership.id:
        raise NotFound(f"No evaluation round {round_id} of {partnership.name}")
    return row


def _typed(posted: Mapping[str, object]) -> dict[str, str]:
    return {k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"}


# The list of rounds, and a new one ------------------------------------------------------------


def _new_round_defaults(today: dt.date) -> dict[str, str]:
    closes = today + dt.timedelta(days=28)
    values = {f"opens_date-{k}": v for k, v in date_parts(today).items()}
    values |= {f"closes_date-{k}": v for k, v in date_parts(closes).items()}
    return values | {"min_answers": str(DEFAULT_MIN_ANSWERS)}


def _list(
    request: Request, session, settings, principal, partnership, values=None, errors=None
) -> HTMLResponse:
    today = settings.today()
    rows = rounds_of(session=session, partnership_id=partnership.id)
    context = {
        "partnership": partnership,
        "rounds": [(row, round_results(session=session, round_id=row_id(row))) for row in rows],
        "states": {row.id: round_state(row, today) for row in rows},
        "trend": latest_results(session=session, partnership_id=partnership.id, on=today).trend,
        "statements": STATEMENTS,
        "can_edit": principal.writes_partnership(partnership.id),
        "values": values or _new_round_defaults(today),
        "errors": errors or {},
        "nav_section": "/partnerships",
    }
    return render(request, "evaluation_rounds.html", context, status_code=422 if errors else 200)


@router.get(BASE, response_class=HTMLResponse)
def evaluations_page(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> HTMLResponse:
    """A partnership's evaluation rounds, their trend, and (for its officers) a new round."""
    partnership = _partnership(session, principal, slug, write=False)
    return _list(request, session, settings, principal, partnership)


def _round_answers(posted: Mapping[str, object], today: dt.date) -> tuple[RoundCreate, dict]:
    """A new round from the form, and its errors by field in the form's order."""
    title = str(posted.get("title") or "")
    opens, opens_error = date_from_parts(posted, "opens_date", label="opening date", required=True)
    closes, closes_error = date_from_parts(
        posted, "closes_date", label="closing date", required=True
    )
    minimum = str(posted.get("min_answers") or "").strip()
    low, high = MIN_ANSWERS_RANGE
    errors = {
        "opens_date": opens_error,
        "closes_date": closes_error,
        "min_answers": None if minimum.isdigit() else f"Enter a whole number from {low} to {high}",
    }
    # A date that could not be read stands in as today, so that the other fields are checked
    # too; its own message comes first.
    data = RoundCreate(
        title,
        opens or today,
        closes or max(opens or today, today),
        int(minimum[:6]) if minimum.isdigit() else DEFAULT_MIN_ANSWERS,
    )
    problems = round_problems(data, today)
    fields = ("title", "opens_date", "closes_date", "min_answers")
    ordered = {field: errors.get(field) or problems.get(field) for field in fields}
    return data, {field: message for field, message in ordered.items() if message}


@router.post(BASE, response_class=HTMLResponse)
def new_round(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Open a new round; its page follows."""
    partnership = _partnership(session, principal, slug, write=True)
    today = settings.today()
    data, errors = _round_answers(posted, today)
    if errors:
        return _list(request, session, settings, principal, partnership, _typed(posted), errors)
    row = create_round(
        session=session,
        actor=principal.user.email,
        partnership_id=row_id(partnership),
        data=data,
        today=today,
    )
    return RedirectResponse(f"{BASE.format(slug=slug)}/{row.id}", status_code=303)


# One round ------------------------------------------------------------------------------------


def _round_page(
    request: Request, session, settings, principal, partnership, row, **context
) -> HTMLResponse:
    can_edit = principal.writes_partnership(partnership.id)
    values = {
        "partnership": partnership,
        "round": row,
        "state": round_state(row, settings.today()),
        "closed_on": closed_on(row),
        "results": round_results(session=session, round_id=row.id),
        "public_url": public_url(settings=settings, row=row) if can_edit else None,
        "can_edit": can_edit,
        "base": BASE.format(slug=partnership.slug),
        "scale": SCALE,
        "banner": {},
        "values": {},
        "errors": {},
        "nav_section": "/partnerships",
    }
    status = 422 if context.get("errors") else 200
    response = render(request, "evaluation_round.html", values | context, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # it shows the round's shared link
    return response


@router.get(BASE + "/{round_id}", response_class=HTMLResponse)
def round_page(
    slug: str,
    round_id: RoundId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """A round: its results by stage, invitations, the shared link, and closing it."""
    partnership = _partnership(session, principal, slug, write=False)
    row = _round(session, partnership, round_id)
    query = request.query_params
    banner = {k: query[k] for k in ("invited", "already", "closed") if query.get(k, "").isdigit()}
    return _round_page(request, session, settings, principal, partnership, row, banner=banner)


@router.post(BASE + "/{round_id}/invitations", response_class=HTMLResponse)
def send_invitations(
    slug: str,
    round_id: RoundId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Invite the partners' staff: each address gets its own single-use link by email."""
    partnership = _partnership(session, principal, slug, write=True)
    row = _round(session, partnership, round_id)
    text = str(posted.get("addresses") or "")
    addresses, error = parse_addresses(text[:100_000])
    if not error:
        try:
            new, already = invite(
                session=session,
                settings=settings,
                actor=principal.user.email,
                row=row,
                addresses=addresses,
                today=settings.today(),
            )
        except Refused as exc:
            session.rollback()
            error = exc.message
    if error:
        return _round_page(
            request,
            session,
            settings,
            principal,
            partnership,
            row,
            values={"addresses": text},
            errors={"addresses": error},
        )
    target = f"{BASE.format(slug=slug)}/{row.id}?invited={new}&already={already}#partners"
    return RedirectResponse(target, status_code=303)


# Answers from a session -----------------------------------------------------------------------


def _session_page(request: Request, session, settings, partnership, row, **context) -> HTMLResponse:
    values = {
        "partnership": partnership,
        "round": row,
        "state": round_state(row, settings.today()),
        "closed_on": closed_on(row),
        "outcomes": outcomes_of(session=session, partnership_id=partnership.id),
        "results": round_results(session=session, round_id=row.id),
        "base": BASE.format(slug=partnership.slug),
        "q": FORM,
        "values": {},
        "errors": {},
        "saved": False,
        "nav_section": "/partnerships",
    }
    status = 422 if context.get("errors") else 200
    return render(request, "evaluation_session.html", values | context, status_code=status)


@router.get(BASE + "/{round_id}/session", response_class=HTMLResponse)
def session_form(
    slug: str,
    round_id: RoundId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """The people's questions, for one person's answers given in a session."""
    partnership = _partnership(session, principal, slug, write=True)
    row = _round(session, partnership, round_id)
    saved = request.query_params.get("saved") == "1"
    return _session_page(request, session, settings, partnership, row, saved=saved)


@router.post(BASE + "/{round_id}/session", response_class=HTMLResponse)
def enter_answers(
    slug: str,
    round_id: RoundId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Record one person's answers from a session; the form comes back empty for the next."""
    partnership = _partnership(session, principal, slug, write=True)
    row = _round(session, partnership, round_id)
    outcomes = outcomes_of(session=session, partnership_id=row_id(partnership))
    answer = read_people_answer(posted, bool(outcomes))
    errors = dict(answer.errors)
    if not errors:
        try:
            enter_session_answer(
                session=session,
                actor=principal.user.email,
                row=row,
                answer=answer,
                today=settings.today(),
            )
        except Refused as exc:
            session.rollback()
            errors = {exc.field or "form": exc.message}
    if errors:
        return _session_page(
            request, session, settings, partnership, row, values=typed(posted), errors=errors
        )
    return RedirectResponse(f"{BASE.format(slug=slug)}/{row.id}/session?saved=1", status_code=303)


# Closing a round ------------------------------------------------------------------------------


@router.get(BASE + "/{round_id}/close", response_class=HTMLResponse)
def confirm_close(
    slug: str,
    round_id: RoundId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
) -> HTMLResponse:
    """Ask before a round stops taking answers."""
    partnership = _partnership(session, principal, slug, write=True)
    row = _round(session, partnership, round_id)
    context = {
        "partnership": partnership,
        "round": row,
        "state": round_state(row, settings.today()),
        "base": BASE.format(slug=slug),
        "nav_section": "/partnerships",
    }
    return render(request, "evaluation_close.html", context)


@router.post(BASE + "/{round_id}/close")
def close(
    slug: str,
    round_id: RoundId,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
) -> RedirectResponse:
    """Stop the round taking answers, from today: invitations and the shared link stop working."""
    partnership = _partnership(session, principal, slug, write=True)
    row = _round(session, partnership, round_id)
    closed = close_round(
        session=session, actor=principal.user.email, row=row, today=settings.today()
    )
    return RedirectResponse(
        f"{BASE.format(slug=slug)}/{row.id}?closed={int(closed)}", status_code=303
    )
