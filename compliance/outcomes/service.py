"""Outcomes for the people who use services, their indicators and measurements; and risks."""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.audit.service import record as audit
from compliance.audit.service import snapshot
from compliance.dates import EARLIEST_RECORD, record_problem, spoken
from compliance.db import key_column
from compliance.errors import NotFound, Refused
from compliance.models import Indicator, Measurement, Obligation, Outcome, Partnership, Risk, User
from compliance.outcomes.serves import set_serves
from compliance.paging import Keyset, read_page

Text300 = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str | None, Field(max_length=5000)]


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"


class RiskCategory(StrEnum):
    risk = "risk"
    cost = "cost"
    negative = "negative"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


ServesKey = Annotated[str, Field(min_length=1, max_length=300)]
# The API's orders of outcomes, risks and an indicator's measurements (one a date, at most).
OUTCOMES_BY_ID = Keyset((col(Outcome.id),))
RISKS_BY_ID = Keyset((col(Risk.id),))
MEASUREMENTS_BY_DATE = Keyset((col(Measurement.measured_date),))

SERVES_HELP = (
    "What a partnership's outcome is the point of: keys 'duty:SLUG', "
    "'deliverable:DUTY-SLUG/SLUG' or 'condition:STREAM-SLUG/SLUG' of the duties, deliverables "
    "and funding conditions of its partnership. An obligation's outcome status is read only "
    "from the outcomes that serve it."
)


class OutcomeCreate(Strict):
    partnership_id: int | None = None
    obligation_id: int | None = None
    title: Text300
    description: LongText = None
    serves: list[ServesKey] = Field(default_factory=list, description=SERVES_HELP)

    @model_validator(mode="after")
    def _one_subject(self) -> "OutcomeCreate":
        if (self.partnership_id is None) == (self.obligation_id is None):
            raise ValueError("an outcome belongs to one partnership or one obligation")
        return self


class IndicatorCreate(Strict):
    outcome_id: int
    name: Text300
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    direction: Direction
    baseline_value: float | None = None
    baseline_date: dt.date | None = None
    target_value: float | None = None
    target_date: dt.date | None = None
    data_source: LongText = None


class MeasurementCreate(Strict):
    """A dated value of an indicator. Its date is on or after 1 January 2000 (a year-1 date is
    a slip, never a reading); that it is not after today, add_measurement checks against the
    today it is given."""

    indicator_id: int
    measured_date: dt.date
    value: Annotated[float, Field(allow_inf_nan=False)]
    source: Annotated[str, Field(min_length=1, max_length=500)]

    @field_validator("measured_date")
    @classmethod
    def _not_before_records(cls, value: dt.date) -> dt.date:
        if value < EARLIEST_RECORD:
            raise ValueError(f"the date is before {spoken(EARLIEST_RECORD)}")
        return value


class RiskCreate(Strict):
    partnership_id: int
    category: RiskCategory
    title: Text300
    description: LongText = None
    likelihood: Annotated[int, Field(ge=1, le=5)]
    impact: Annotated[int, Field(ge=1, le=5)]
    mitigation: LongText = None
    owner: Annotated[str | None, Field(max_length=200)] = None


class RiskStatus(StrEnum):
    open = "open"
    # It happened: a negative seen, weighed by compliance/partnerships/value.py.
    materialised = "materialised"
    closed = "closed"


def _given(value: object) -> object:
    """A field that may be left out of a change, but not emptied."""
    if value is None:
        raise ValueError("cannot be null; leave it out to keep it as it is")
    return value


class OutcomeUpdate(Strict):
    """The outcome's fields to change; a field left out stays as it is."""

    title: Text300 | None = None
    description: LongText = None
    serves: list[ServesKey] | None = Field(
        default=None, description=SERVES_HELP + " Given, it replaces what the outcome serves."
    )

    _title_given = field_validator("title", "serves")(_given)


class IndicatorUpdate(Strict):
    """The indicator's fields to change; a field left out stays as it is, null clears it."""

    name: Text300 | None = None
    unit: Annotated[str | None, Field(min_length=1, max_length=40)] = None
    direction: Direction | None = None
    baseline_value: Annotated[float | None, Field(allow_inf_nan=False)] = None
    baseline_date: dt.date | None = None
    target_value: Annotated[float | None, Field(allow_inf_nan=False)] = None
    target_date: dt.date | None = None
    data_source: LongText = None

    _required_given = field_validator("name", "unit", "direction")(_given)


class RiskUpdate(Strict):
    """The risk's fields to change; a field left out stays as it is, null clears it."""

    category: RiskCategory | None = None
    title: Text300 | None = None
    description: LongText = None
    likelihood: Annotated[int | None, Field(ge=1, le=5)] = None
    impact: Annotated[int | None, Field(ge=1, le=5)] = None
    mitigation: LongText = None
    owner: Annotated[str | None, Field(max_length=200)] = None
    status: RiskStatus | None = None

    _required_given = field_validator("category", "title", "likelihood", "impact", "status")(_given)


def _exists(session: Session, model: type, row_id: int | None, label: str) -> None:
    if row_id is not None and session.get(model, row_id) is None:
        raise NotFound(f"No {label} with id {row_id}")


def _add(session: Session, actor: str, row, entity_type: str):
    session.add(row)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action=f"{entity_type}.created",
        entity_type=entity_type,
        entity_id=row.id,
        after=snapshot(row),
    )
    return row


def add_outcome(*, session: Session, actor: User, data: OutcomeCreate) -> Outcome:
    """Record what a partnership or obligation is meant to achieve for service users."""
    _exists(session, Partnership, data.partnership_id, "partnership")
    _exists(session, Obligation, data.obligation_id, "obligation")
    outcome = _add(session, actor.email, Outcome(**data.model_dump(exclude={"serves"})), "outcome")
    set_serves(session=session, actor=actor.email, outcome=outcome, keys=data.serves)
    return outcome


def add_indicator(*, session: Session, actor: User, data: IndicatorCreate) -> Indicator:
    """Add an indicator that shows whether an outcome is being achieved."""
    _exists(session, Outcome, data.outcome_id, "outcome")
    return _add(session, actor.email, Indicator(**data.model_dump()), "indicator")


def add_measurement(
    *, session: Session, actor: User | str, data: MeasurementCreate, today: dt.date
) -> Measurement:
    """Record a dated value of an indicator, dated by `today` at the latest (today where the
    bodies are); `actor` is a user, or a system name such as "cli"."""
    _exists(session, Indicator, data.indicator_id, "indicator")
    problem = record_problem(data.measured_date, today=today)
    if problem:
        raise Refused(problem, field="measured_date", status=422)
    if _recorded(session, data.indicator_id, data.measured_date):
        raise _duplicate(data.measured_date)
    recorded_by_id, name = (None, actor) if isinstance(actor, str) else (actor.id, actor.email)
    row = Measurement(**data.model_dump(), recorded_by_id=recorded_by_id)
    try:
        # Two people recording the same date at once: the unique constraint decides, and the
        # loser gets the same refusal as if it had come second.
        with session.begin_nested():
            return _add(session, name, row, "measurement")
    except IntegrityError as exc:
        raise _duplicate(data.measured_date) from exc


def _recorded(session: Session, indicator_id: int, day: dt.date) -> bool:
    query = select(key_column(Measurement)).where(
        Measurement.indicator_id == indicator_id, Measurement.measured_date == day
    )
    return session.exec(query).first() is not None


def _duplicate(day: dt.date) -> Refused:
    return Refused(
        f"this indicator already has a measurement for {day:%d %B %Y}",
        field="measured_date",
        status=409,
    )


def add_risk(*, session: Session, actor: User, data: RiskCreate) -> Risk:
    """Record a risk, cost or negative effect of a partnership."""
    _exists(session, Partnership, data.partnership_id, "partnership")
    return _add(session, actor.email, Risk(**data.model_dump()), "risk")


def _update(session: Session, actor: str, row, data: BaseModel, entity_type: str, exclude=()):
    """Change the fields `data` was given, recording before and after of those that differ."""
    wanted = data.model_dump(mode="python", exclude_unset=True, exclude=set(exclude))
    changed = [name for name, value in wanted.items() if getattr(row, name) != value]
    if not changed:
        return row
    before = snapshot(row, *changed)
    for name in changed:
        setattr(row, name, wanted[name])
    session.add(row)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action=f"{entity_type}.updated",
        entity_type=entity_type,
        entity_id=row.id,
        before=before,
        after=snapshot(row, *changed),
    )
    return row


def update_outcome(
    *, session: Session, actor: User, outcome: Outcome, data: OutcomeUpdate
) -> Outcome:
    """Change what an outcome says it is meant to achieve, and what it serves."""
    if data.serves is not None:
        set_serves(session=session, actor=actor.email, outcome=outcome, keys=data.serves)
    return _update(session, actor.email, outcome, data, "outcome", exclude={"serves"})


def update_indicator(
    *, session: Session, actor: User, indicator: Indicator, data: IndicatorUpdate
) -> Indicator:
    """Change an indicator's name, unit, direction, baseline, target or source."""
    return _update(session, actor.email, indicator, data, "indicator")


def update_risk(*, session: Session, actor: User, risk: Risk, data: RiskUpdate) -> Risk:
    """Change a risk's description, scores, mitigation, owner or status."""
    return _update(session, actor.email, risk, data, "risk")


def get_risk(*, session: Session, risk_id: int) -> Risk | None:
    """Return one risk, or None."""
    return session.get(Risk, risk_id)


def outcomes_of(*, session: Session, partnership_id: int) -> list[Outcome]:
    """A partnership's intended outcomes."""
    query = select(Outcome).where(Outcome.partnership_id == partnership_id)
    return list(session.exec(query.order_by(col(Outcome.id))))


def outcome_access(
    *, session: Session, principal: Principal, outcome: Outcome
) -> tuple[bool, bool]:
    """Whether a user may read, and may change, an outcome with its indicators and
    measurements: through the partnership or the obligation it belongs to."""
    if outcome.partnership_id is not None:
        return (
            principal.reads_partnership(outcome.partnership_id),
            principal.writes_partnership(outcome.partnership_id),
        )
    obligation = session.get(Obligation, outcome.obligation_id)
    if obligation is None:
        return False, False
    return principal.reads_obligation(obligation), principal.writes_obligation(obligation)


def get_outcome(*, session: Session, outcome_id: int) -> Outcome | None:
    """Return one outcome, or None."""
    return session.get(Outcome, outcome_id)


def get_indicator(*, session: Session, indicator_id: int) -> Indicator | None:
    """Return one indicator, or None."""
    return session.get(Indicator, indicator_id)


def indicators_of(*, session: Session, outcome_id: int) -> list[Indicator]:
    """An outcome's indicators, in the order they were added."""
    query = select(Indicator).where(Indicator.outcome_id == outcome_id)
    return list(session.exec(query.order_by(col(Indicator.id))))


def outcome_page(
    *,
    session: Session,
    partnership_id: int | None = None,
    obligation_id: int | None = None,
    after: tuple[int] | None = None,
    limit: int,
) -> list[Outcome]:
    """A partnership's or an obligation's outcomes in id order, `limit` of them after the key
    `after`."""
    query = select(Outcome).where(
        Outcome.partnership_id == partnership_id
        if partnership_id is not None
        else Outcome.obligation_id == obligation_id
    )
    return read_page(session, query, OUTCOMES_BY_ID, after=after, limit=limit)


def measurement_page(
    *, session: Session, indicator_id: int, after: tuple[dt.date] | None = None, limit: int
) -> list[Measurement]:
    """An indicator's measurements, oldest first, `limit` of them after the key (the date)
    `after`."""
    query = select(Measurement).where(Measurement.indicator_id == indicator_id)
    return read_page(session, query, MEASUREMENTS_BY_DATE, after=after, limit=limit)


def risks_of(*, session: Session, partnership_id: int) -> list[Risk]:
    """A partnership's risks, costs and negatives, in the order they were recorded."""
    query = select(Risk).where(Risk.partnership_id == partnership_id)
    return list(session.exec(query.order_by(col(Risk.id))))


def indicator_ids_of(*, session: Session, partnership_id: int) -> set[int]:
    """The ids of the indicators of a partnership's outcomes."""
    query = (
        select(key_column(Indicator))
        .join(Outcome, col(Outcome.id) == Indicator.outcome_id)
        .where(Outcome.partnership_id == partnership_id)
    )
    return set(session.exec(query))


def risk_page(
    *, session: Session, partnership_id: int, after: tuple[int] | None = None, limit: int
) -> list[Risk]:
    """A partnership's risks, costs and negatives in id order, `limit` of them after the key
    `after`."""
    query = select(Risk).where(Risk.partnership_id == partnership_id)
    return read_page(session, query, RISKS_BY_ID, after=after, limit=limit)
