"""The answer forms at a link, open to everyone: the partners' survey at each invitation's
private single-use link, and the people's check at the round's shared link. The token in the
path is the only credential. A form from another site is refused; a link used, closed or
altered gets a page saying so, and records nothing."""

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compliance.db import row_id
from compliance.deps import PostedForm, SessionDep, SettingsDep, page_router, public, same_origin
from compliance.errors import Refused
from compliance.evaluations.models import EvaluationRound
from compliance.evaluations.questions import (
    FORM,
    read_partner_answer,
    read_people_answer,
    typed,
)
from compliance.evaluations.service import (
    LinkRefused,
    answer_invitation,
    answer_link,
    open_invitation,
    open_link,
)
from compliance.models import Partnership
from compliance.outcomes.service import outcomes_of
from compliance.web import render, uk_date

router = page_router()
PUBLIC = [Depends(public)]
# Any length: the service tells an altered or overlong token from a real one, on the same page.
Token = Annotated[str, Path()]
ANSWERED = "/survey/answered"


def _private(response: HTMLResponse) -> HTMLResponse:
    # The address holds a secret: keep the page out of caches and search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: Request, exc: LinkRefused, *, posted: bool) -> HTMLResponse:
    context = {"heading": exc.heading, "detail": exc.message, "posted": posted}
    return _private(render(request, "evaluation_link.html", context, status_code=exc.status))


def _form(
    request: Request, session, template: str, row: EvaluationRound, token: str, **context
) -> HTMLResponse:
    partnership = session.get(Partnership, row.partnership_id)
    values = {
        "partnership": partnership,
        "round": row,
        "closes": uk_date(row.closes_date),
        "outcomes": outcomes_of(session=session, partnership_id=partnership.id),
        "token": token,
        "q": FORM,
        "values": {},
        "errors": {},
    }
    status = 422 if context.get("errors") else 200
    return _private(render(request, template, values | context, status_code=status))


def _check_origin(request: Request, settings) -> None:
    if not same_origin(request, settings):
        raise Refused("This form was sent from another site", status=403)


@router.get(ANSWERED, response_class=HTMLResponse, dependencies=PUBLIC)
def answered(request: Request) -> HTMLResponse:
    """Thank you: the answers are in."""
    return render(request, "evaluation_answered.html")


@router.get("/survey/{token}", response_class=HTMLResponse, dependencies=PUBLIC)
def survey(
    token: Token, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The partners' survey at an invitation's private link."""
    try:
        _, row = open_invitation(session=session, token=token, today=settings.today())
    except LinkRefused as exc:
        return _refused(request, exc, posted=False)
    return _form(request, session, "evaluation_survey.html", row, token)


@router.post("/survey/{token}", response_class=HTMLResponse, dependencies=PUBLIC)
def answer_survey(
    token: Token, request: Request, session: SessionDep, settings: SettingsDep, posted: PostedForm
):
    """Take a partner's answers once; the link is then used up."""
    _check_origin(request, settings)
    today = settings.today()
    try:
        _, row = open_invitation(session=session, token=token, today=today)
        outcome_ids = {
            row_id(o) for o in outcomes_of(session=session, partnership_id=row.partnership_id)
        }
        answer = read_partner_answer(posted, outcome_ids)
        if answer.errors:
            return _form(
                request,
                session,
                "evaluation_survey.html",
                row,
                token,
                values=typed(posted),
                errors=answer.errors,
            )
        answer_invitation(session=session, token=token, answer=answer, today=today)
    except LinkRefused as exc:
        session.rollback()
        return _refused(request, exc, posted=True)
    return RedirectResponse(ANSWERED, status_code=303)


@router.get("/have-your-say/{token}", response_class=HTMLResponse, dependencies=PUBLIC)
def have_your_say(
    token: Token, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The check with people who use services and carers, at the round's shared link."""
    try:
        row = open_link(session=session, token=token, today=settings.today())
    except LinkRefused as exc:
        return _refused(request, exc, posted=False)
    return _form(request, session, "evaluation_have_your_say.html", row, token)


@router.post("/have-your-say/{token}", response_class=HTMLResponse, dependencies=PUBLIC)
def answer_have_your_say(
    token: Token, request: Request, session: SessionDep, settings: SettingsDep, posted: PostedForm
):
    """Take one person's answers through the shared link."""
    _check_origin(request, settings)
    today = settings.today()
    try:
        row = open_link(session=session, token=token, today=today)
        outcomes = outcomes_of(session=session, partnership_id=row.partnership_id)
        answer = read_people_answer(posted, bool(outcomes))
        if answer.errors:
            return _form(
                request,
                session,
                "evaluation_have_your_say.html",
                row,
                token,
                values=typed(posted),
                errors=answer.errors,
            )
        answer_link(session=session, token=token, answer=answer, today=today)
    except LinkRefused as exc:
        session.rollback()
        return _refused(request, exc, posted=True)
    return RedirectResponse(ANSWERED, status_code=303)
