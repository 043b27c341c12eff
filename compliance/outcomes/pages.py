"""HTML pages that change an outcome, add or change an indicator, and change a risk: each its own
form, filled in with what is recorded, that comes back with plain-English errors until it saves
and then returns to the partnership page. Adding outcomes, measurements and risks is on the
partnership page itself (compliance/partnerships/pages.py)."""

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.api import RowId
from compliance.db import row_id, stored
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, page_router
from compliance.errors import NotFound, Refused
from compliance.forms import date_parts
from compliance.models import Indicator, Outcome, Partnership, Risk
from compliance.outcomes.forms import (
    CATEGORIES,
    DIRECTIONS,
    STATUSES,
    Answers,
    indicator_answers,
    outcome_answers,
    risk_answers,
    ticked,
)
from compliance.outcomes.recent import newest_first_page
from compliance.outcomes.serves import ServeChoice, serve_choices, serves_of
from compliance.outcomes.service import (
    IndicatorCreate,
    IndicatorUpdate,
    OutcomeUpdate,
    RiskUpdate,
    add_indicator,
    get_indicator,
    get_outcome,
    get_risk,
    outcome_access,
    update_indicator,
    update_outcome,
    update_risk,
)
from compliance.paging import page_number, page_span
from compliance.web import render

router = page_router()

CHANGE_REFUSED = "Only an officer for this partnership can change its outcomes and risks"


def element_ids(prefix: str, errors: Mapping[str, str]) -> dict[str, str]:
    """Errors by the id of their field on the page: `prefix-name`, a date by its own name."""
    return {
        (name if name.endswith("_date") else f"{prefix}-{name}"): message
        for name, message in errors.items()
    }


def form_values(posted: Mapping[str, Any]) -> dict[str, str]:
    """What was typed, to show again."""
    return {k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"}


def typed(row: Any, *names: str) -> dict[str, str]:
    """A recorded row as its form's answers: numbers as written, dates in three boxes."""
    values: dict[str, str] = {}
    for name in names:
        value = getattr(row, name)
        if name.endswith("_date"):
            values |= {f"{name}-{k}": v for k, v in date_parts(value).items()}
        elif isinstance(value, float):
            values[name] = f"{value:g}"
        else:
            values[name] = "" if value is None else str(value)
    return values


def invalid_errors(exc: ValidationError, prefix: str) -> dict[str, str]:
    """What the service's own models refused (the form's checks let it through: for example a
    date that became the future across midnight), by field, in a sentence."""
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][-1]) if error["loc"] else "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        found.setdefault(field, message[:1].upper() + message[1:])
    return element_ids(prefix, found)


def refused_errors(exc: Refused, prefix: str) -> dict[str, str]:
    """A refusal from the service as an error by the field it names."""
    message = exc.message[:1].upper() + exc.message[1:]
    return element_ids(prefix, {exc.field or "form": message})


# Who may change what ---------------------------------------------------------------------------


def _owner(session: Session, outcome: Outcome) -> dict[str, str]:
    """Where the outcome is shown: its partnership's page, or its obligation's."""
    if outcome.partnership_id is not None:
        partnership = stored(session, Partnership, outcome.partnership_id)
        return {"name": partnership.name, "href": f"/partnerships/{partnership.slug}"}
    return {"name": "the obligation", "href": f"/obligations/{outcome.obligation_id}"}


def _changeable_outcome(session: Session, principal: Principal, outcome_id: int) -> Outcome:
    outcome = get_outcome(session=session, outcome_id=outcome_id)
    if outcome is None:
        raise NotFound(f"No outcome with id {outcome_id}")
    reads, writes = outcome_access(session=session, principal=principal, outcome=outcome)
    require(reads, "This outcome is not in your scope")
    require(writes, CHANGE_REFUSED)
    return outcome


def _changeable_risk(session: Session, principal: Principal, risk_id: int) -> Risk:
    risk = get_risk(session=session, risk_id=risk_id)
    if risk is None:
        raise NotFound(f"No risk with id {risk_id}")
    require(principal.reads_partnership(risk.partnership_id), "This risk is not in your scope")
    require(principal.writes_partnership(risk.partnership_id), CHANGE_REFUSED)
    return risk


def _saved(owner: dict[str, str]) -> RedirectResponse:
    return RedirectResponse(owner["href"], status_code=303)


def _again(request: Request, name: str, context: dict, errors: dict) -> HTMLResponse:
    """The same form again, with what was typed and the errors (422)."""
    context = context | {"errors": errors, "nav_section": "/partnerships"}
    return render(request, name, context, status_code=422)


def _save(session: Session, answers: Answers, prefix: str, save) -> dict[str, str]:
    """Run `save` when the answers have no error; the errors by field id otherwise."""
    if answers.errors:
        return element_ids(prefix, answers.errors)
    try:
        save()
    except Refused as exc:
        session.rollback()
        return refused_errors(exc, prefix)
    except ValidationError as exc:
        session.rollback()
        return invalid_errors(exc, prefix)
    return {}


# Outcomes --------------------------------------------------------------------------------------


@router.get("/outcomes/{outcome_id}/edit", response_class=HTMLResponse)
def outcome_form(
    outcome_id: RowId, request: Request, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """The outcome's title and description, ready to change."""
    outcome = _changeable_outcome(session, principal, outcome_id)
    values = typed(outcome, "title", "description") | {
        "serves": serves_of(session=session, outcome=outcome)
    }
    context = {
        "outcome": outcome,
        "owner": _owner(session, outcome),
        "choices": _choices(session, outcome),
        "values": values,
        "errors": {},
        "nav_section": "/partnerships",
    }
    return render(request, "outcome_form.html", context)


def _choices(session: Session, outcome: Outcome) -> list[ServeChoice] | None:
    """What the outcome may serve; None for an obligation's own outcome."""
    if outcome.partnership_id is None:
        return None
    return serve_choices(session=session, partnership_id=outcome.partnership_id)


@router.post("/outcomes/{outcome_id}/edit", response_class=HTMLResponse)
def change_outcome(
    outcome_id: RowId,
    request: Request,
    session: SessionDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Save the changed outcome, or show the form again with what is wrong."""
    outcome = _changeable_outcome(session, principal, outcome_id)
    owner = _owner(session, outcome)
    answers = outcome_answers(posted, with_serves=outcome.partnership_id is not None)

    def save() -> None:
        data = OutcomeUpdate.model_validate(answers.values)
        update_outcome(session=session, actor=principal.user, outcome=outcome, data=data)

    errors = _save(session, answers, "outcome", save)
    if not errors:
        return _saved(owner)
    values = form_values(posted) | {"serves": ticked(posted, "serves")}
    context = {
        "outcome": outcome,
        "owner": owner,
        "choices": _choices(session, outcome),
        "values": values,
    }
    return _again(request, "outcome_form.html", context, errors)


# Indicators ------------------------------------------------------------------------------------

INDICATOR_FIELDS = (
    "name",
    "unit",
    "direction",
    "baseline_value",
    "baseline_date",
    "target_value",
    "target_date",
    "data_source",
)


def _indicator_context(session: Session, outcome: Outcome, indicator: Indicator | None) -> dict:
    action = (
        f"/indicators/{indicator.id}/edit"
        if indicator
        else f"/outcomes/{outcome.id}/indicators/new"
    )
    return {
        "outcome": outcome,
        "indicator": indicator,
        "owner": _owner(session, outcome),
        "action": action,
        "directions": DIRECTIONS,
    }


@router.get("/outcomes/{outcome_id}/indicators/new", response_class=HTMLResponse)
def new_indicator_form(
    outcome_id: RowId, request: Request, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """An empty indicator form for one outcome."""
    outcome = _changeable_outcome(session, principal, outcome_id)
    context = _indicator_context(session, outcome, None)
    context |= {"values": {}, "errors": {}, "nav_section": "/partnerships"}
    return render(request, "indicator_form.html", context)


@router.post("/outcomes/{outcome_id}/indicators/new", response_class=HTMLResponse)
def add_indicator_page(
    outcome_id: RowId,
    request: Request,
    session: SessionDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Add the indicator to the outcome, or show the form again with what is wrong."""
    outcome = _changeable_outcome(session, principal, outcome_id)
    answers = indicator_answers(posted)

    def save() -> None:
        data = IndicatorCreate.model_validate({"outcome_id": outcome.id, **answers.values})
        add_indicator(session=session, actor=principal.user, data=data)

    errors = _save(session, answers, "indicator", save)
    context = _indicator_context(session, outcome, None)
    if not errors:
        return _saved(context["owner"])
    context["values"] = form_values(posted)
    return _again(request, "indicator_form.html", context, errors)


def _changeable_indicator(
    session: Session, principal: Principal, indicator_id: int
) -> tuple[Indicator, Outcome]:
    indicator = get_indicator(session=session, indicator_id=indicator_id)
    if indicator is None:
        raise NotFound(f"No indicator with id {indicator_id}")
    return indicator, _changeable_outcome(session, principal, indicator.outcome_id)


@router.get("/indicators/{indicator_id}/edit", response_class=HTMLResponse)
def indicator_form(
    indicator_id: RowId, request: Request, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """The indicator's name, unit, direction, baseline, target and source, ready to change."""
    indicator, outcome = _changeable_indicator(session, principal, indicator_id)
    context = _indicator_context(session, outcome, indicator)
    values = typed(indicator, *INDICATOR_FIELDS)
    context |= {"values": values, "errors": {}, "nav_section": "/partnerships"}
    return render(request, "indicator_form.html", context)


@router.post("/indicators/{indicator_id}/edit", response_class=HTMLResponse)
def change_indicator(
    indicator_id: RowId,
    request: Request,
    session: SessionDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Save the changed indicator, or show the form again with what is wrong."""
    indicator, outcome = _changeable_indicator(session, principal, indicator_id)
    answers = indicator_answers(posted)

    def save() -> None:
        data = IndicatorUpdate.model_validate(answers.values)
        update_indicator(session=session, actor=principal.user, indicator=indicator, data=data)

    errors = _save(session, answers, "indicator", save)
    context = _indicator_context(session, outcome, indicator)
    if not errors:
        return _saved(context["owner"])
    context["values"] = form_values(posted)
    return _again(request, "indicator_form.html", context, errors)


@router.get("/indicators/{indicator_id}/measurements", response_class=HTMLResponse)
def measurements_page(
    indicator_id: RowId,
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    page: str = "",
) -> HTMLResponse:
    """Every measurement of an indicator, newest first, a page at a time (its partnership's page
    shows only the latest)."""
    indicator = get_indicator(session=session, indicator_id=indicator_id)
    outcome = get_outcome(session=session, outcome_id=indicator.outcome_id) if indicator else None
    if indicator is None or outcome is None:
        raise NotFound(f"No indicator with id {indicator_id}")
    reads, _ = outcome_access(session=session, principal=principal, outcome=outcome)
    require(reads, "This indicator is not in your scope")
    rows, number, total = newest_first_page(
        session=session, indicator_id=row_id(indicator), page=page_number(page)
    )
    context = {
        "indicator": indicator,
        "outcome": outcome,
        "owner": _owner(session, outcome),
        "rows": rows,
        "page": number,
        "pages": page_span(total, number)[1],
        "total": total,
        "nav_section": "/partnerships",
    }
    return render(request, "indicator_measurements.html", context)


# Risks -----------------------------------------------------------------------------------------

RISK_FIELDS = (
    "category",
    "title",
    "description",
    "likelihood",
    "impact",
    "mitigation",
    "owner",
    "status",
)


def _risk_context(session: Session, risk: Risk) -> dict:
    partnership = stored(session, Partnership, risk.partnership_id)
    return {
        "risk": risk,
        "owner": {"name": partnership.name, "href": f"/partnerships/{partnership.slug}"},
        "categories": CATEGORIES,
        "statuses": STATUSES,
    }


@router.get("/risks/{risk_id}/edit", response_class=HTMLResponse)
def risk_form(
    risk_id: RowId, request: Request, session: SessionDep, principal: CurrentUser
) -> HTMLResponse:
    """The risk's kind, title, scores, mitigation, owner and status, ready to change."""
    risk = _changeable_risk(session, principal, risk_id)
    context = _risk_context(session, risk)
    context |= {"values": typed(risk, *RISK_FIELDS), "errors": {}, "nav_section": "/partnerships"}
    return render(request, "risk_form.html", context)


@router.post("/risks/{risk_id}/edit", response_class=HTMLResponse)
def change_risk(
    risk_id: RowId,
    request: Request,
    session: SessionDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Save the changed risk, or show the form again with what is wrong."""
    risk = _changeable_risk(session, principal, risk_id)
    answers = risk_answers(posted, with_status=True)

    def save() -> None:
        data = RiskUpdate.model_validate(answers.values)
        update_risk(session=session, actor=principal.user, risk=risk, data=data)

    errors = _save(session, answers, "risk", save)
    context = _risk_context(session, risk)
    if not errors:
        return _saved(context["owner"])
    context["values"] = form_values(posted)
    return _again(request, "risk_form.html", context, errors)
