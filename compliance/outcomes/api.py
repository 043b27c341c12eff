"""JSON routes for outcomes, their indicators and measurements, and partnerships' risks.

The same services and rules as the partnership page's forms: officers record within the
partnerships (and bodies' obligations) in their scope, inspectors read, admins do everything.
"""

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from compliance.access import Principal, require
from compliance.api import MAX_ID, FieldError, api_router, problem
from compliance.csvfiles import ImportRefused
from compliance.db import row_id, stored
from compliance.deps import ApiWriter, CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound, Refused
from compliance.models import Indicator, Obligation, Outcome, Partnership, Risk
from compliance.outcomes.imports import import_measurements
from compliance.outcomes.recent import latest_measurements, measurement_counts
from compliance.outcomes.schemas import (
    IndicatorChange,
    IndicatorDetail,
    IndicatorIn,
    IndicatorPublic,
    MeasurementImport,
    MeasurementIn,
    MeasurementPage,
    MeasurementPublic,
    OutcomeChange,
    OutcomeDetail,
    OutcomeIn,
    OutcomePage,
    OutcomePublic,
    RiskChange,
    RiskIn,
    RiskPage,
    RiskPublic,
)
from compliance.outcomes.serves import serves_of
from compliance.outcomes.service import (
    MEASUREMENTS_BY_DATE,
    OUTCOMES_BY_ID,
    RISKS_BY_ID,
    IndicatorCreate,
    IndicatorUpdate,
    MeasurementCreate,
    OutcomeCreate,
    OutcomeUpdate,
    RiskCreate,
    RiskUpdate,
    add_indicator,
    add_measurement,
    add_outcome,
    add_risk,
    get_indicator,
    get_outcome,
    get_risk,
    indicators_of,
    measurement_page,
    outcome_access,
    outcome_page,
    risk_page,
    update_indicator,
    update_outcome,
    update_risk,
)
from compliance.outcomes.trend import judge_trend
from compliance.outcomes.upload import CSV_REQUEST_BODY, csv_upload
from compliance.partnerships.service import get_partnership

router = api_router("outcomes")

Slug = Annotated[str, Path(max_length=80, examples=["cios-safeguarding-adults-board"])]
ObligationId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[42])]
OutcomeId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
IndicatorId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
RiskId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Limit = Annotated[int, Query(ge=1, le=500, description="How many items a page holds")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="The `next_cursor` of the page before")
]


# Who may do what -------------------------------------------------------------------------------


def _partnership(
    session: Session, principal: Principal, slug: str, *, write: bool = False
) -> Partnership:
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}", field="path.slug")
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    writes = principal.writes_partnership(partnership.id)
    require(writes or not write, "Only an officer for this partnership can change it")
    return partnership


def _obligation(
    session: Session, principal: Principal, obligation_id: int, *, write: bool = False
) -> Obligation:
    obligation = session.get(Obligation, obligation_id)
    if obligation is None:
        raise NotFound(f"No obligation with id {obligation_id}", field="path.obligation_id")
    require(principal.reads_obligation(obligation), "This obligation is not in your scope")
    writes = principal.writes_obligation(obligation)
    require(writes or not write, "Only an officer for this obligation can change it")
    return obligation


def _outcome(
    session: Session, principal: Principal, outcome_id: int, *, write: bool = False
) -> Outcome:
    outcome = get_outcome(session=session, outcome_id=outcome_id)
    if outcome is None:
        raise NotFound(f"No outcome with id {outcome_id}", field="path.outcome_id")
    reads, writes = outcome_access(session=session, principal=principal, outcome=outcome)
    require(reads, "This outcome is not in your scope")
    require(writes or not write, "Only an officer in this outcome's scope can change it")
    return outcome


def _indicator(
    session: Session, principal: Principal, indicator_id: int, *, write: bool = False
) -> Indicator:
    indicator = get_indicator(session=session, indicator_id=indicator_id)
    if indicator is None:
        raise NotFound(f"No indicator with id {indicator_id}", field="path.indicator_id")
    outcome = stored(session, Outcome, indicator.outcome_id)
    reads, writes = outcome_access(session=session, principal=principal, outcome=outcome)
    require(reads, "This indicator is not in your scope")
    require(writes or not write, "Only an officer in this indicator's scope can change it")
    return indicator


def _risk(session: Session, principal: Principal, risk_id: int, *, write: bool = False) -> Risk:
    risk = get_risk(session=session, risk_id=risk_id)
    if risk is None:
        raise NotFound(f"No risk with id {risk_id}", field="path.risk_id")
    require(principal.reads_partnership(risk.partnership_id), "This risk is not in your scope")
    writes = principal.writes_partnership(risk.partnership_id)
    require(writes or not write, "Only an officer for this risk's partnership can change it")
    return risk


# Inputs and pages ------------------------------------------------------------------------------


def _to_service(model: type[BaseModel], **values: Any) -> Any:
    """The service's own validation of what the request body held."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(["body", *(str(part) for part in error["loc"])])
        message = error["msg"].removeprefix("Value error, ")
        raise Refused(f"{field}: {message}", field=field, status=422) from exc


def _outcome_public(session: Session, outcome: Outcome) -> OutcomePublic:
    partnership = outcome.partnership_id and session.get(Partnership, outcome.partnership_id)
    return OutcomePublic(
        id=outcome.id,
        partnership=partnership.slug if partnership else None,
        obligation_id=outcome.obligation_id,
        title=outcome.title,
        description=outcome.description,
        serves=serves_of(session=session, outcome=outcome),
        created_at=outcome.created_at,
    )


def _risk_public(risk: Risk, slug: str) -> RiskPublic:
    return RiskPublic(**risk.model_dump(exclude={"partnership_id"}), partnership=slug)


def _outcomes(session: Session, limit: int, cursor: str | None, **subject: int) -> OutcomePage:
    after = OUTCOMES_BY_ID.read_cursor(cursor)
    rows = outcome_page(session=session, after=after, limit=limit + 1, **subject)
    rows, next_cursor = OUTCOMES_BY_ID.cut(rows, limit)
    items = [_outcome_public(session, o) for o in rows]
    return OutcomePage(items=items, next_cursor=next_cursor)


# Outcomes --------------------------------------------------------------------------------------


@router.get("/partnerships/{slug}/outcomes", response_model=OutcomePage)
def read_partnership_outcomes(
    slug: Slug,
    session: SessionDep,
    principal: CurrentUser,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OutcomePage:
    """A partnership's intended outcomes for the people who use services, oldest first."""
    partnership = _partnership(session, principal, slug)
    return _outcomes(session, limit, cursor, partnership_id=row_id(partnership))


@router.post("/partnerships/{slug}/outcomes", response_model=OutcomePublic, status_code=201)
def create_partnership_outcome(
    slug: Slug, body: OutcomeIn, session: SessionDep, principal: ApiWriter
) -> OutcomePublic:
    """Record what a partnership is meant to achieve for the people who use services."""
    partnership = _partnership(session, principal, slug, write=True)
    data = _to_service(OutcomeCreate, partnership_id=partnership.id, **body.model_dump())
    outcome = add_outcome(session=session, actor=principal.user, data=data)
    return _outcome_public(session, outcome)


@router.get("/obligations/{obligation_id}/outcomes", response_model=OutcomePage)
def read_obligation_outcomes(
    obligation_id: ObligationId,
    session: SessionDep,
    principal: CurrentUser,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OutcomePage:
    """The outcomes one obligation of a body or partnership is meant to achieve, oldest first."""
    obligation = _obligation(session, principal, obligation_id)
    return _outcomes(session, limit, cursor, obligation_id=row_id(obligation))


@router.post("/obligations/{obligation_id}/outcomes", response_model=OutcomePublic, status_code=201)
def create_obligation_outcome(
    obligation_id: ObligationId, body: OutcomeIn, session: SessionDep, principal: ApiWriter
) -> OutcomePublic:
    """Record what meeting one obligation is meant to achieve for the people who use services."""
    obligation = _obligation(session, principal, obligation_id, write=True)
    data = _to_service(OutcomeCreate, obligation_id=obligation.id, **body.model_dump())
    outcome = add_outcome(session=session, actor=principal.user, data=data)
    return _outcome_public(session, outcome)


@router.get("/outcomes/{outcome_id}", response_model=OutcomeDetail)
def read_outcome(
    outcome_id: OutcomeId, session: SessionDep, principal: CurrentUser
) -> OutcomeDetail:
    """One intended outcome with the indicators that show whether it is being achieved."""
    outcome = _outcome(session, principal, outcome_id)
    indicators = [
        IndicatorPublic.model_validate(i, from_attributes=True)
        for i in indicators_of(session=session, outcome_id=row_id(outcome))
    ]
    return OutcomeDetail(**_outcome_public(session, outcome).model_dump(), indicators=indicators)


@router.patch("/outcomes/{outcome_id}", response_model=OutcomePublic)
def change_outcome(
    outcome_id: OutcomeId, body: OutcomeChange, session: SessionDep, principal: ApiWriter
) -> OutcomePublic:
    """Change an outcome's title, description or what it serves; a field left out stays as it
    is. The change is recorded in the audit trail with what it replaced."""
    outcome = _outcome(session, principal, outcome_id, write=True)
    data = _to_service(OutcomeUpdate, **body.model_dump(exclude_unset=True))
    update_outcome(session=session, actor=principal.user, outcome=outcome, data=data)
    return _outcome_public(session, outcome)


# Indicators and measurements ---------------------------------------------------------------------


@router.post("/outcomes/{outcome_id}/indicators", response_model=IndicatorPublic, status_code=201)
def create_indicator(
    outcome_id: OutcomeId, body: IndicatorIn, session: SessionDep, principal: ApiWriter
) -> IndicatorPublic:
    """Add an indicator to an outcome: its unit, which way is better, baseline and target."""
    outcome = _outcome(session, principal, outcome_id, write=True)
    data = _to_service(IndicatorCreate, outcome_id=outcome.id, **body.model_dump())
    indicator = add_indicator(session=session, actor=principal.user, data=data)
    return IndicatorPublic.model_validate(indicator, from_attributes=True)


@router.get("/indicators/{indicator_id}", response_model=IndicatorDetail)
def read_indicator(
    indicator_id: IndicatorId, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> IndicatorDetail:
    """One indicator with its latest measurements (at most 12, oldest first: every one its
    trend can be judged from), how many it has, and which way it is moving. All of them are
    `GET /indicators/{id}/measurements`, a page at a time."""
    indicator = _indicator(session, principal, indicator_id)
    today = settings.today()
    # The latest dated by today are all the trend can use (at most 12 in its window).
    judged_from = latest_measurements(session=session, indicator_ids=[row_id(indicator)], on=today)
    points = [(m.measured_date, m.value) for m in judged_from[row_id(indicator)]]
    judged = judge_trend(indicator, points, today)
    rows = latest_measurements(session=session, indicator_ids=[row_id(indicator)])[
        row_id(indicator)
    ]
    return IndicatorDetail(
        **IndicatorPublic.model_validate(indicator, from_attributes=True).model_dump(),
        trend=judged.verdict.value,
        trend_method=judged.method,
        measurement_count=measurement_counts(session=session, indicator_ids=[row_id(indicator)])[
            row_id(indicator)
        ],
        measurements=[MeasurementPublic.model_validate(m, from_attributes=True) for m in rows],
    )


@router.patch("/indicators/{indicator_id}", response_model=IndicatorPublic)
def change_indicator(
    indicator_id: IndicatorId, body: IndicatorChange, session: SessionDep, principal: ApiWriter
) -> IndicatorPublic:
    """Change an indicator's name, unit, direction, baseline, target or source; a field left out
    stays as it is, null clears an optional one. Its measurements are kept."""
    indicator = _indicator(session, principal, indicator_id, write=True)
    data = _to_service(IndicatorUpdate, **body.model_dump(exclude_unset=True))
    update_indicator(session=session, actor=principal.user, indicator=indicator, data=data)
    return IndicatorPublic.model_validate(indicator, from_attributes=True)


@router.get("/indicators/{indicator_id}/measurements", response_model=MeasurementPage)
def read_measurements(
    indicator_id: IndicatorId,
    session: SessionDep,
    principal: CurrentUser,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MeasurementPage:
    """An indicator's measurements, oldest first, a page at a time."""
    indicator = _indicator(session, principal, indicator_id)
    after = MEASUREMENTS_BY_DATE.read_cursor(cursor)
    rows = measurement_page(
        session=session, indicator_id=row_id(indicator), after=after, limit=limit + 1
    )
    rows, next_cursor = MEASUREMENTS_BY_DATE.cut(rows, limit)
    items = [MeasurementPublic.model_validate(m, from_attributes=True) for m in rows]
    return MeasurementPage(items=items, next_cursor=next_cursor)


@router.post(
    "/indicators/{indicator_id}/measurements", response_model=MeasurementPublic, status_code=201
)
def create_measurement(
    indicator_id: IndicatorId,
    body: MeasurementIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
) -> MeasurementPublic:
    """Record a dated value of an indicator, dated from 1 January 2000 to today. An indicator
    has one value a date: a second value for the same date is refused (409) naming
    `body.measured_date`."""
    indicator = _indicator(session, principal, indicator_id, write=True)
    data = _to_service(MeasurementCreate, indicator_id=indicator.id, **body.model_dump())
    measurement = add_measurement(
        session=session, actor=principal.user, data=data, today=settings.today()
    )
    return MeasurementPublic.model_validate(measurement, from_attributes=True)


@router.post(
    "/measurements/import", response_model=MeasurementImport, openapi_extra=CSV_REQUEST_BODY
)
def import_measurements_csv(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiWriter,
    data: Annotated[bytes, Depends(csv_upload)],
) -> MeasurementImport | JSONResponse:
    """Import measurements from a CSV file with the header `indicator,date,value,source`
    (UTF-8). All or nothing: if any line is bad, every bad line is listed in `errors` and nothing
    is recorded."""
    require(not principal.is_inspector, "Inspectors read measurements but do not record them")
    try:
        count = import_measurements(
            session=session,
            data=data,
            principal=principal,
            today=settings.today(),
            max_rows=settings.max_import_rows,
        )
    except ImportRefused as exc:
        errors = [FieldError(field=f"line {e.line}", message=e.message) for e in exc.errors]
        refused = exc.whole or f"{len(errors)} bad line(s) in the file"
        return problem(request, 422, f"{refused}; nothing was imported", errors=errors)
    return MeasurementImport(imported=count)


# Risks -----------------------------------------------------------------------------------------


@router.get("/partnerships/{slug}/risks", response_model=RiskPage)
def read_risks(
    slug: Slug,
    session: SessionDep,
    principal: CurrentUser,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RiskPage:
    """The risks, costs and negative effects recorded against a partnership, oldest first."""
    partnership = _partnership(session, principal, slug)
    after = RISKS_BY_ID.read_cursor(cursor)
    rows = risk_page(
        session=session, partnership_id=row_id(partnership), after=after, limit=limit + 1
    )
    rows, next_cursor = RISKS_BY_ID.cut(rows, limit)
    return RiskPage(items=[_risk_public(r, slug) for r in rows], next_cursor=next_cursor)


@router.post("/partnerships/{slug}/risks", response_model=RiskPublic, status_code=201)
def create_risk(slug: Slug, body: RiskIn, session: SessionDep, principal: ApiWriter) -> RiskPublic:
    """Record a risk, cost or negative effect of a partnership, such as the time it takes from a
    small partner, with its likelihood, impact (1 to 5) and mitigation."""
    partnership = _partnership(session, principal, slug, write=True)
    data = _to_service(RiskCreate, partnership_id=partnership.id, **body.model_dump())
    risk = add_risk(session=session, actor=principal.user, data=data)
    return _risk_public(risk, partnership.slug)


@router.patch("/risks/{risk_id}", response_model=RiskPublic)
def change_risk(
    risk_id: RiskId, body: RiskChange, session: SessionDep, principal: ApiWriter
) -> RiskPublic:
    """Change a risk, cost or negative effect: its scores, mitigation, owner, or its status
    (`closed` when it no longer applies); a field left out stays as it is."""
    risk = _risk(session, principal, risk_id, write=True)
    data = _to_service(RiskUpdate, **body.model_dump(exclude_unset=True))
    update_risk(session=session, actor=principal.user, risk=risk, data=data)
    partnership = stored(session, Partnership, risk.partnership_id)
    return _risk_public(risk, partnership.slug)
