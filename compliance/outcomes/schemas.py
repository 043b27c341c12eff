"""What the outcomes API takes and gives: request bodies (strict) and responses, with examples
from the Cornwall and Isles of Scilly demo area."""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.api import ApiInput, Date, Timestamp
from compliance.outcomes.service import SERVES_HELP, ServesKey

Title = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str | None, Field(max_length=5000)]
Number = Annotated[float, Field(allow_inf_nan=False)]

OUTCOME = {
    "id": 1,
    "partnership": "cios-safeguarding-adults-board",
    "obligation_id": None,
    "title": "Adults at risk are safer and get the outcomes they wanted from a safeguarding "
    "enquiry",
    "description": "Making Safeguarding Personal: people say what they want to happen, and the "
    "enquiry achieves it.",
    "serves": ["duty:safeguarding-adults-board"],
    "created_at": "2026-04-02T09:15:00Z",
}
INDICATOR = {
    "id": 1,
    "outcome_id": 1,
    "name": "Concluded s42 enquiries where the person's desired outcomes were fully or partly "
    "achieved",
    "unit": "%",
    "direction": "increase",
    "baseline_value": 89.0,
    "baseline_date": "2023-03-31",
    "target_value": 95.0,
    "target_date": "2027-03-31",
    "data_source": "Safeguarding Adults Collection",
}
MEASUREMENT = {
    "id": 3,
    "indicator_id": 1,
    "measured_date": "2026-03-31",
    "value": 93.0,
    "source": "SAC 2025-26",
    "recorded_at": "2026-06-12T14:03:00Z",
}
RISK = {
    "id": 1,
    "partnership": "cios-safeguarding-adults-board",
    "category": "cost",
    "title": "Board and sub-group meetings draw heavily on the small Council of the Isles of "
    "Scilly",
    "description": "Travel and senior time for a council of about 2,000 residents; attendance "
    "has fallen.",
    "likelihood": 4,
    "impact": 2,
    "mitigation": "Remote attendance by default; one combined agenda with the children's "
    "partnership.",
    "owner": "SAB business manager",
    "status": "open",
    "recorded_at": "2026-04-02T09:20:00Z",
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


def _without(example: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in example.items() if k not in names}


# Request bodies ---------------------------------------------------------------------------------


class OutcomeIn(ApiInput):
    """An intended outcome for the people who use services."""

    model_config = _examples(_without(OUTCOME, "id", "partnership", "obligation_id", "created_at"))

    title: Title
    description: LongText = None
    serves: list[ServesKey] = Field(default_factory=list, description=SERVES_HELP)


class IndicatorIn(ApiInput):
    """An indicator of an outcome: its unit, which way is better, baseline and target."""

    model_config = _examples(_without(INDICATOR, "id", "outcome_id"))

    name: Title
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    direction: Literal["increase", "decrease"] = Field(description="Which way is better")
    baseline_value: Number | None = None
    baseline_date: Date | None = None
    target_value: Number | None = None
    target_date: Date | None = None
    data_source: LongText = None


class MeasurementIn(ApiInput):
    """A dated value of an indicator, with where it came from; the date may not be in the
    future, and an indicator has one value a date."""

    model_config = _examples(
        {"measured_date": "2026-06-30", "value": 93.4, "source": "SAC quarter 1 2026-27"}
    )

    measured_date: Date
    value: Number
    source: Annotated[str, Field(min_length=1, max_length=500)]


class RiskIn(ApiInput):
    """A risk, cost or negative effect of a partnership, scored 1 to 5 for likelihood and
    impact."""

    model_config = _examples(_without(RISK, "id", "partnership", "status", "recorded_at"))

    category: Literal["risk", "cost", "negative"]
    title: Title
    description: LongText = None
    likelihood: Annotated[int, Field(ge=1, le=5)]
    impact: Annotated[int, Field(ge=1, le=5)]
    mitigation: LongText = None
    owner: Annotated[str | None, Field(max_length=200)] = None


class OutcomeChange(ApiInput):
    """The outcome's fields to change; a field left out stays as it is."""

    model_config = _examples(
        {"title": "Adults at risk say the enquiry achieved what they wanted it to"}
    )

    title: Title | None = Field(default=None, description="May be changed, not emptied")
    description: LongText = None
    serves: list[ServesKey] | None = Field(
        default=None, description=SERVES_HELP + " Given, it replaces what the outcome serves."
    )


class IndicatorChange(ApiInput):
    """The indicator's fields to change; a field left out stays as it is, null clears an
    optional one."""

    model_config = _examples({"target_value": 96.0, "target_date": "2028-03-31"})

    name: Title | None = Field(default=None, description="May be changed, not emptied")
    unit: Annotated[str | None, Field(min_length=1, max_length=40)] = Field(
        default=None, description="May be changed, not emptied"
    )
    direction: Literal["increase", "decrease"] | None = Field(
        default=None, description="Which way is better; may be changed, not emptied"
    )
    baseline_value: Number | None = None
    baseline_date: Date | None = None
    target_value: Number | None = None
    target_date: Date | None = None
    data_source: LongText = None


class RiskChange(ApiInput):
    """The risk's fields to change; a field left out stays as it is, null clears an optional
    one. A risk that no longer applies is closed, not deleted."""

    model_config = _examples({"likelihood": 3, "status": "closed"})

    category: Literal["risk", "cost", "negative"] | None = None
    title: Title | None = None
    description: LongText = None
    likelihood: Annotated[int | None, Field(ge=1, le=5)] = None
    impact: Annotated[int | None, Field(ge=1, le=5)] = None
    mitigation: LongText = None
    owner: Annotated[str | None, Field(max_length=200)] = None
    status: Literal["open", "materialised", "closed"] | None = Field(
        default=None, description="Materialised: it happened, a negative seen"
    )


# Responses --------------------------------------------------------------------------------------


class OutcomePublic(BaseModel):
    model_config = _examples(OUTCOME)

    id: int
    partnership: str | None = Field(description="The partnership's slug, if it is its outcome")
    obligation_id: int | None = Field(description="The obligation, if it is its outcome")
    title: str
    description: str | None
    serves: list[str] = Field(description=SERVES_HELP + " Empty for an obligation's own outcome.")
    created_at: Timestamp


class IndicatorPublic(BaseModel):
    model_config = _examples(INDICATOR)

    id: int
    outcome_id: int
    name: str
    unit: str
    direction: str
    baseline_value: float | None
    baseline_date: dt.date | None
    target_value: float | None
    target_date: dt.date | None
    data_source: str | None


class OutcomeDetail(OutcomePublic):
    model_config = _examples(OUTCOME | {"indicators": [INDICATOR]})

    indicators: list[IndicatorPublic]


class MeasurementPublic(BaseModel):
    model_config = _examples(MEASUREMENT)

    id: int
    indicator_id: int
    measured_date: dt.date
    value: float
    source: str | None
    recorded_at: Timestamp


class IndicatorDetail(IndicatorPublic):
    model_config = _examples(
        INDICATOR
        | {
            "trend": "improving",
            "trend_method": (
                "Theil–Sen slope over 3 measurements, 31 Mar 2024 – 31 Mar 2026: +1.25 % a "
                "year, a change of +2.5 % against a noise band of ±0.6 %; higher is better"
            ),
            "measurement_count": 1,
            "measurements": [MEASUREMENT],
        }
    )

    trend: Literal["improving", "no_change", "worsening", "too_few_measurements"] = Field(
        description="Which way the indicator is going as at today: a Theil-Sen slope over its "
        "measurements of the last three years (at most the latest 12), read against its "
        "direction and a noise band; fewer than three measurements are too few to judge"
    )
    trend_method: str = Field(description="The method, window and figures behind `trend`")
    measurement_count: int = Field(description="How many measurements the indicator has")
    measurements: list[MeasurementPublic] = Field(
        description="The latest 12 at most (every one a trend can be judged from), oldest "
        "first; all of them are GET /indicators/{id}/measurements, a page at a time"
    )


class RiskPublic(BaseModel):
    model_config = _examples(RISK)

    id: int
    partnership: str
    category: str
    title: str
    description: str | None
    likelihood: int
    impact: int
    mitigation: str | None
    owner: str | None
    status: str
    recorded_at: Timestamp


class OutcomePage(BaseModel):
    model_config = _examples({"items": [OUTCOME], "next_cursor": "WzNd"})

    items: list[OutcomePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end")


class MeasurementPage(BaseModel):
    model_config = _examples({"items": [MEASUREMENT], "next_cursor": "WyIyMDI2LTAzLTMxIl0"})

    items: list[MeasurementPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end")


class RiskPage(BaseModel):
    model_config = _examples({"items": [RISK], "next_cursor": "WzNd"})

    items: list[RiskPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end")


class MeasurementImport(BaseModel):
    model_config = _examples({"imported": 12})

    imported: int = Field(description="How many measurements were recorded")
