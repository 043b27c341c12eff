"""HTML pages for partnerships: the list, one partnership with outcomes, charts and risks, and
the forms officers use to record outcomes, measurements and risks."""

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import select
from starlette.datastructures import FormData, UploadFile

from compliance.access import require
from compliance.charts import trend_chart
from compliance.csvfiles import ImportRefused
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.evidence.service import parse
from compliance.forms import date_from_parts
from compliance.models import Indicator, Measurement, Partnership, Risk
from compliance.obligations.views import status_rollup, view_obligations
from compliance.outcomes.imports import import_measurements
from compliance.outcomes.service import (
    IndicatorCreate,
    MeasurementCreate,
    OutcomeCreate,
    RiskCreate,
    add_indicator,
    add_measurement,
    add_outcome,
    add_risk,
    outcomes_of,
)
from compliance.partnerships.service import duties_of, get_partnership, members_of
from compliance.web import PageNumber, paginate, render

router = page_router()


@router.get("/partnerships", response_class=HTMLResponse)
def partnerships_page(
    request: Request, session: SessionDep, principal: CurrentUser, page: PageNumber = 1
) -> HTMLResponse:
    """The partnerships this user may see."""
    rows = [
        p
        for p in session.exec(select(Partnership).order_by(Partnership.name))
        if principal.reads_partnership(p.id)
    ]
    return render(request, "partnerships.html", paginate(rows, page))


def _partnership(session, principal, slug: str, *, write: bool = False) -> Partnership:  # type: ignore[no-untyped-def]
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    allowed = (
        principal.writes_partnership(partnership.id)
        if write
        else principal.reads_partnership(partnership.id)
    )
    require(
        allowed,
        "This partnership is not in your scope"
        if not write
        else "Only an officer for this partnership can change it",
    )
    return partnership


def _context(
    session, settings, principal, partnership: Partnership, errors=None, values=None
) -> dict:  # type: ignore[no-untyped-def]
    today = settings.today()
    outcomes = []
    for outcome in outcomes_of(session=session, partnership_id=partnership.id):
        indicators = []
        for indicator in session.exec(select(Indicator).where(Indicator.outcome_id == outcome.id)):
            points = [
                (m.measured_date, m.value)
                for m in session.exec(
                    select(Measurement)
                    .where(Measurement.indicator_id == indicator.id)
                    .order_by(Measurement.measured_date)
                )
            ]
            chart = trend_chart(
                chart_id=f"indicator-{indicator.id}",
                title=indicator.name,
                unit=indicator.unit,
                points=points,
                baseline=indicator.baseline_value,
                target=indicator.target_value,
            )
            indicators.append({"indicator": indicator, "points": points, "chart": chart})
        outcomes.append({"outcome": outcome, "indicators": indicators})
    views = view_obligations(
        session=session,
        on=today,
        due_soon_days=settings.due_soon_days,
        partnership_id=partnership.id,
    )
    return {
        "partnership": partnership,
        "members": members_of(session=session, partnership_id=partnership.id),
        "duties": duties_of(session=session, partnership_id=partnership.id),
        "outcomes": outcomes,
        "risks": session.exec(
            select(Risk).where(Risk.partnership_id == partnership.id).order_by(Risk.id)
        ).all(),
        "obligations": views,
        "rollup": status_rollup(views),
        "can_edit": principal.writes_partnership(partnership.id),
        "errors": errors or {},
        "values": values or {},
        "today": today,
    }


@router.get("/partnerships/{slug}", response_class=HTMLResponse)
def partnership_page(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> HTMLResponse:
    """Members and roles, form, duties, intended outcomes with trend charts, risks, obligations."""
    partnership = _partnership(session, principal, slug)
    return render(request, "partnership.html", _context(session, settings, principal, partnership))


def _submit(
    request: Request, session, settings, principal, slug: str, posted: FormData, build
) -> HTMLResponse | RedirectResponse:  # type: ignore[no-untyped-def]
    """Run one of the partnership forms; on a problem show the page again with the error."""
    partnership = _partnership(session, principal, slug, write=True)
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    try:
        build(partnership, form)
    except Refused as exc:
        session.rollback()
        errors = {exc.field or "form": exc.message}
        context = _context(session, settings, principal, partnership, errors, form)
        return render(
            request,
            "partnership.html",
            context,
            status_code=exc.status if exc.status != 400 else 422,
        )
    return RedirectResponse(f"/partnerships/{slug}", status_code=303)


def _blank_to_none(form: dict, *names: str) -> dict:
    return {n: (form.get(n) or "").strip() or None for n in names}


@router.post("/partnerships/{slug}/outcomes", response_class=HTMLResponse)
def new_outcome(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):  # type: ignore[no-untyped-def]
    """Record an intended outcome for the people who use services."""

    def build(partnership, form):  # type: ignore[no-untyped-def]
        data = parse(
            OutcomeCreate,
            {"partnership_id": partnership.id, **_blank_to_none(form, "title", "description")},
        )
        add_outcome(session=session, actor=principal.user, data=data)

    return _submit(request, session, settings, principal, slug, posted, build)


@router.post("/partnerships/{slug}/indicators", response_class=HTMLResponse)
def new_indicator(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):  # type: ignore[no-untyped-def]
    """Add an indicator to one of the partnership's outcomes."""

    def build(partnership, form):  # type: ignore[no-untyped-def]
        outcome_ids = {o.id for o in outcomes_of(session=session, partnership_id=partnership.id)}
        values = _blank_to_none(
            form,
            "outcome_id",
            "name",
            "unit",
            "direction",
            "baseline_value",
            "target_value",
            "data_source",
        )
        if (
            not (values["outcome_id"] or "").isdigit()
            or int(values["outcome_id"]) not in outcome_ids
        ):
            raise Refused("Choose one of this partnership's outcomes", field="outcome_id")
        add_indicator(session=session, actor=principal.user, data=parse(IndicatorCreate, values))

    return _submit(request, session, settings, principal, slug, posted, build)


@router.post("/partnerships/{slug}/measurements", response_class=HTMLResponse)
def new_measurement(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):  # type: ignore[no-untyped-def]
    """Record a dated measurement of one of the partnership's indicators."""

    def build(partnership, form):  # type: ignore[no-untyped-def]
        outcome_ids = {o.id for o in outcomes_of(session=session, partnership_id=partnership.id)}
        indicator = (
            session.get(Indicator, int(form["indicator_id"]))
            if (form.get("indicator_id") or "").isdigit()
            else None
        )
        if indicator is None or indicator.outcome_id not in outcome_ids:
            raise Refused("Choose one of this partnership's indicators", field="indicator_id")
        day, error = date_from_parts(form, "measured_date", label="date measured", required=True)
        if error:
            raise Refused(error, field="measured_date", status=422)
        values = {
            "indicator_id": indicator.id,
            "measured_date": day,
            **_blank_to_none(form, "value", "source"),
        }
        add_measurement(
            session=session, actor=principal.user, data=parse(MeasurementCreate, values)
        )

    return _submit(request, session, settings, principal, slug, posted, build)


@router.post("/partnerships/{slug}/risks", response_class=HTMLResponse)
def new_risk(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):  # type: ignore[no-untyped-def]
    """Record a risk, cost or negative effect of the partnership."""

    def build(partnership, form):  # type: ignore[no-untyped-def]
        values = {
            "partnership_id": partnership.id,
            **_blank_to_none(
                form,
                "category",
                "title",
                "description",
                "likelihood",
                "impact",
                "mitigation",
                "owner",
            ),
        }
        add_risk(session=session, actor=principal.user, data=parse(RiskCreate, values))

    return _submit(request, session, settings, principal, slug, posted, build)


@router.post("/partnerships/{slug}/measurements/import", response_class=HTMLResponse)
def import_measurements_page(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):  # type: ignore[no-untyped-def]
    """Import a CSV file of measurements, all or nothing; on a bad file, list every bad line."""
    partnership = _partnership(session, principal, slug, write=True)
    upload = posted.get("file")
    limit = settings.max_upload_bytes
    data = upload.file.read(limit + 1) if isinstance(upload, UploadFile) else b""
    try:
        if not data or len(data) > limit:
            problem = "Choose a CSV file" if not data else f"The file is over {limit:,} bytes"
            raise Refused(problem, field="measurements-file", status=422)
        import_measurements(session=session, data=data, principal=principal)
    except (ImportRefused, Refused) as exc:
        lines = [str(e) for e in exc.errors] if isinstance(exc, ImportRefused) else []
        message = f"{len(lines)} bad line(s); nothing was imported" if lines else str(exc)
        context = _context(
            session, settings, principal, partnership, {"measurements-file": message}
        )
        return render(request, "partnership.html", context | {"import_errors": lines}, 422)
    return RedirectResponse(f"/partnerships/{slug}", status_code=303)
