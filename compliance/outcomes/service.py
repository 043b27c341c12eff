"""Outcomes for the people who use services, their indicators and measurements; and risks."""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, select

from compliance.audit.service import record as audit
from compliance.audit.service import snapshot
from compliance.errors import NotFound, Refused
from compliance.models import Indicator, Measurement, Obligation, Outcome, Partnership, Risk, User

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


class OutcomeCreate(Strict):
    partnership_id: int | None = None
    obligation_id: int | None = None
    title: Text300
    description: LongText = None

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
    indicator_id: int
    measured_date: dt.date
    value: Annotated[float, Field(allow_inf_nan=False)]
    source: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _not_in_future(self) -> "MeasurementCreate":
        if self.measured_date > dt.date.today():
            raise ValueError("measured_date is in the future")
        return self


class RiskCreate(Strict):
    partnership_id: int
    category: RiskCategory
    title: Text300
    description: LongText = None
    likelihood: Annotated[int, Field(ge=1, le=5)]
    impact: Annotated[int, Field(ge=1, le=5)]
    mitigation: LongText = None
    owner: Annotated[str | None, Field(max_length=200)] = None


def _exists(session: Session, model: type, row_id: int | None, label: str) -> None:
    if row_id is not None and session.get(model, row_id) is None:
        raise NotFound(f"No {label} with id {row_id}")


def _add(session: Session, actor: User, row, entity_type: str):  # type: ignore[no-untyped-def]
    session.add(row)
    session.flush()
    audit(
        session=session,
        actor=actor.email,
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
    return _add(session, actor, Outcome(**data.model_dump()), "outcome")


def add_indicator(*, session: Session, actor: User, data: IndicatorCreate) -> Indicator:
    """Add an indicator that shows whether an outcome is being achieved."""
    _exists(session, Outcome, data.outcome_id, "outcome")
    return _add(session, actor, Indicator(**data.model_dump()), "indicator")


def add_measurement(*, session: Session, actor: User, data: MeasurementCreate) -> Measurement:
    """Record a dated value of an indicator."""
    _exists(session, Indicator, data.indicator_id, "indicator")
    clash = session.exec(
        select(Measurement).where(
            Measurement.indicator_id == data.indicator_id,
            Measurement.measured_date == data.measured_date,
        )
    ).first()
    if clash is not None:
        raise Refused(
            f"this indicator already has a measurement for {data.measured_date:%d %B %Y}",
            field="measured_date",
        )
    row = Measurement(**data.model_dump(), recorded_by_id=actor.id)
    return _add(session, actor, row, "measurement")


def add_risk(*, session: Session, actor: User, data: RiskCreate) -> Risk:
    """Record a risk, cost or negative effect of a partnership."""
    _exists(session, Partnership, data.partnership_id, "partnership")
    return _add(session, actor, Risk(**data.model_dump()), "risk")


def outcomes_of(*, session: Session, partnership_id: int) -> list[Outcome]:
    """A partnership's intended outcomes."""
    query = select(Outcome).where(Outcome.partnership_id == partnership_id)
    return list(session.exec(query.order_by(Outcome.id)))


def measurements_of(*, session: Session, indicator_id: int) -> list[Measurement]:
    """An indicator's measurements, oldest first."""
    query = select(Measurement).where(Measurement.indicator_id == indicator_id)
    return list(session.exec(query.order_by(Measurement.measured_date)))


def trend(indicator: Indicator, values: list[float]) -> int:
    """+1 if the latest value moved towards the target (or the better direction), -1 if away,
    0 if unchanged or if there is nothing to compare it with (a lone value is compared with
    the baseline)."""
    if len(values) == 1 and indicator.baseline_value is not None:
        values = [indicator.baseline_value, *values]
    if len(values) < 2 or values[-1] == values[-2]:
        return 0
    previous, latest = values[-2], values[-1]
    if indicator.target_value is not None:
        gap_before = abs(indicator.target_value - previous)
        gap_now = abs(indicator.target_value - latest)
        if gap_now != gap_before:
            return 1 if gap_now < gap_before else -1
    better = latest > previous if indicator.direction == "increase" else latest < previous
    return 1 if better else -1
