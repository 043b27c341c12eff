"""HTML pages for partnerships: the list, one partnership with outcomes, charts and risks, and
the forms officers use to record outcomes, measurements and risks."""

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from compliance.access import require
from compliance.charts import trend_chart
from compliance.csvfiles import ImportRefused
from compliance.db import row_id
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.evaluations.results import latest_results
from compliance.forms import date_parts
from compliance.models import Partnership
from compliance.obligations.views import status_rollup, view_obligations
from compliance.outcomes.forms import (
    CATEGORIES,
    measurement_answers,
    outcome_answers,
    risk_answers,
    ticked,
)
from compliance.outcomes.imports import import_measurements
from compliance.outcomes.judgement import partnership_judgement
from compliance.outcomes.pages import element_ids, form_values, invalid_errors, refused_errors
from compliance.outcomes.recent import latest_measurements, measurement_counts
from compliance.outcomes.serves import serve_choices, serves_by_outcome
from compliance.outcomes.service import (
    MeasurementCreate,
    OutcomeCreate,
    RiskCreate,
    add_measurement,
    add_outcome,
    add_risk,
    indicator_ids_of,
    indicators_of,
    outcomes_of,
    risks_of,
)
from compliance.paging import PAGE_SIZE, page_number, page_span
from compliance.partnerships.service import (
    count_partnerships,
    duties_of,
    get_partnership,
    list_partnerships,
    members_of,
)
from compliance.partnerships.value import weigh_on_page
from compliance.reports.pages import report_address, report_as_at
from compliance.web import render

router = page_router()


@router.get("/partnerships", response_class=HTMLResponse)
def partnerships_page(
    request: Request, session: SessionDep, principal: CurrentUser, page: str = ""
) -> HTMLResponse:
    """The partnerships this user may see, by name, a page at a time (as the API lists them)."""
    within = None if principal.is_admin else set(principal.readable_partnership_ids)
    total = count_partnerships(session=session, within=within)
    number, pages = page_span(total, page_number(page))
    rows = list_partnerships(
        session=session, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, within=within
    )
    context = {"rows": rows, "page": number, "pages": pages, "total": total}
    return render(request, "partnerships.html", context)


def _partnership(session, principal, slug: str, *, write: bool = False) -> Partnership:
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


def _indicators(session, outcome_id: int) -> list[dict]:
    """An outcome's indicators, each with its latest measurements (at most SHOWN: the rest are
    a link away, a page at a time), how many it has, and a trend chart of those shown."""
    indicators = indicators_of(session=session, outcome_id=outcome_id)
    ids = [row_id(i) for i in indicators]
    latest = latest_measurements(session=session, indicator_ids=ids)
    counts = measurement_counts(session=session, indicator_ids=ids)
    shown = []
    for indicator in indicators:
        measurements = latest[row_id(indicator)]
        chart = trend_chart(
            chart_id=f"indicator-{indicator.id}",
            title=indicator.name,
            unit=indicator.unit,
            points=[(m.measured_date, m.value) for m in measurements],
            baseline=indicator.baseline_value,
            target=indicator.target_value,
            total=counts[row_id(indicator)],
        )
        shown.append(
            {
                "indicator": indicator,
                "measurements": measurements,
                "count": counts[row_id(indicator)],
                "chart": chart,
            }
        )
    return shown


def _context(
    session, settings, principal, partnership: Partnership, errors=None, values=None, form=None
) -> dict:
    """The page; after a form with errors, `form` names it and `values` holds what was typed."""
    today = settings.today()
    found = outcomes_of(session=session, partnership_id=row_id(partnership))
    choices = serve_choices(session=session, partnership_id=row_id(partnership))
    serves = serves_by_outcome(
        session=session, outcome_ids=[row_id(o) for o in found], choices=choices
    )
    outcomes = [
        {
            "outcome": outcome,
            "indicators": _indicators(session, row_id(outcome)),
            "serves": serves.get(row_id(outcome), []),
        }
        for outcome in found
    ]
    views = view_obligations(
        session=session,
        on=today,
        due_soon_days=settings.due_soon_days,
        partnership_id=partnership.id,
    )
    today_parts = {f"as_at-{k}": v for k, v in date_parts(today).items()}
    risks = risks_of(session=session, partnership_id=row_id(partnership))
    judgement = partnership_judgement(session=session, partnership_id=row_id(partnership), on=today)
    return {
        "partnership": partnership,
        "members": members_of(session=session, partnership_id=row_id(partnership)),
        "duties": duties_of(session=session, partnership_id=row_id(partnership)),
        "outcomes": outcomes,
        "serve_choices": choices,
        "risks": risks,
        "categories": CATEGORIES,
        "obligations": views,
        "rollup": status_rollup(views),
        "can_edit": principal.writes_partnership(partnership.id),
        "errors": errors or {},
        "form": form,
        "values": values or {},
        "report_values": (values or {}) if form == "report" else today_parts,
        "today": today,
        "judgement": judgement,
        "voices": latest_results(session=session, partnership_id=row_id(partnership), on=today),
        "weighed": weigh_on_page(partnership, risks, judgement, today),
    }


@router.get("/partnerships/{slug}", response_class=HTMLResponse)
def partnership_page(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> HTMLResponse:
    """Members and roles, form, duties, intended outcomes with trend charts, risks, obligations."""
    partnership = _partnership(session, principal, slug)
    return render(request, "partnership.html", _context(session, settings, principal, partnership))


@router.get("/partnerships/{slug}/report", response_class=HTMLResponse)
def partnership_report(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentUser
):
    """Send the audit PDF (or the evidence pack) as at the date chosen on the page."""
    partnership = _partnership(session, principal, slug)
    query = dict(request.query_params)
    day, error = report_as_at(query, settings)
    if error:
        context = _context(
            session, settings, principal, partnership, {"as_at": error}, query, "report"
        )
        return render(request, "partnership.html", context, status_code=422)
    address = report_address(f"partnerships/{slug}", day, query.get("download") == "pack")
    return RedirectResponse(address, status_code=303)


def _submit(
    request: Request, session, settings, principal, slug: str, posted: FormData, *, form, read, save
):
    """Run one of the page's forms: `read` turns what was posted into answers, `save` records
    them; on any problem the page comes back with what was typed and every error by its field."""
    partnership = _partnership(session, principal, slug, write=True)
    answers = read(partnership)
    errors = element_ids(form, answers.errors)
    if not errors:
        try:
            save(partnership, answers.values)
        except Refused as exc:
            session.rollback()
            errors = refused_errors(exc, form)
        except ValidationError as exc:
            session.rollback()
            errors = invalid_errors(exc, form)
    if not errors:
        anchor = "risks" if form == "risk" else "outcomes"
        return RedirectResponse(f"/partnerships/{slug}#{anchor}", status_code=303)
    typed = form_values(posted) | {"serves": ticked(posted, "serves")}
    context = _context(session, settings, principal, partnership, errors, typed, form)
    return render(request, "partnership.html", context, status_code=422)


@router.post("/partnerships/{slug}/outcomes", response_class=HTMLResponse)
def new_outcome(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Record an intended outcome for the people who use services."""

    def save(partnership, values):
        data = OutcomeCreate.model_validate({"partnership_id": partnership.id, **values})
        add_outcome(session=session, actor=principal.user, data=data)

    return _submit(
        request,
        session,
        settings,
        principal,
        slug,
        posted,
        form="outcome",
        read=lambda partnership: outcome_answers(posted),
        save=save,
    )


@router.post("/partnerships/{slug}/measurements", response_class=HTMLResponse)
def new_measurement(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Record a dated measurement of one of the partnership's indicators."""

    def read(partnership):
        indicator_ids = indicator_ids_of(session=session, partnership_id=partnership.id)
        return measurement_answers(posted, indicator_ids, settings.today())

    def save(partnership, values):
        data = MeasurementCreate.model_validate(values)
        add_measurement(session=session, actor=principal.user, data=data, today=settings.today())

    return _submit(
        request,
        session,
        settings,
        principal,
        slug,
        posted,
        form="measurement",
        read=read,
        save=save,
    )


@router.post("/partnerships/{slug}/risks", response_class=HTMLResponse)
def new_risk(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Record a risk, cost or negative effect of the partnership."""

    def save(partnership, values):
        data = RiskCreate.model_validate({"partnership_id": partnership.id, **values})
        add_risk(session=session, actor=principal.user, data=data)

    return _submit(
        request,
        session,
        settings,
        principal,
        slug,
        posted,
        form="risk",
        read=lambda partnership: risk_answers(posted),
        save=save,
    )


@router.post("/partnerships/{slug}/measurements/import", response_class=HTMLResponse)
def import_measurements_page(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    posted: PostedForm,
):
    """Import a CSV file of measurements, all or nothing; on a bad file, list every bad line."""
    partnership = _partnership(session, principal, slug, write=True)
    upload = posted.get("file")
    limit = settings.max_upload_bytes
    data = upload.file.read(limit + 1) if isinstance(upload, UploadFile) else b""
    try:
        if not data or len(data) > limit:
            problem = (
                "Choose a CSV file of measurements"
                if not data
                else f"The file must be smaller than {limit / 1_000_000:g} MB"
            )
            raise Refused(problem, field="measurements-file", status=422)
        import_measurements(
            session=session,
            data=data,
            principal=principal,
            today=settings.today(),
            max_rows=settings.max_import_rows,
        )
    except (ImportRefused, Refused) as exc:
        lines = [str(e) for e in exc.errors] if isinstance(exc, ImportRefused) else []
        message = _import_refusal(exc, lines)
        errors = {"measurements-file": message}
        context = _context(session, settings, principal, partnership, errors, form="import")
        return render(request, "partnership.html", context | {"import_errors": lines}, 422)
    return RedirectResponse(f"/partnerships/{slug}", status_code=303)


def _import_refusal(exc: Exception, lines: list[str]) -> str:
    """What the import form says first: why the whole file was refused, or how many lines."""
    if isinstance(exc, ImportRefused) and exc.whole:
        return f"{exc.whole}; nothing was imported"
    return f"{len(lines)} bad line(s); nothing was imported" if lines else str(exc)
