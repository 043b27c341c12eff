"""Reading the outcome, indicator, measurement and risk forms of the pages: every answer checked
in the form's order, each problem a plain-English message by its field, as GOV.UK forms do.

Each reader returns the values for the service (blank answers as None) and the errors, field by
field in the order the form asks; the page shows the form again whenever there is an error.
"""

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from compliance.dates import EARLIEST_RECORD, spoken
from compliance.forms import date_from_parts, posted_text

NUMBER_EXAMPLE = "for example 95 or 12.5"


@dataclass
class Answers:
    """What a form held: values ready for the service, and errors by field in form order."""

    values: dict[str, object] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: object, error: str | None) -> None:
        self.values[name] = value
        if error:
            self.errors[name] = error


def text(
    form: Mapping[str, object], name: str, *, limit: int, missing: str | None, too_long: str
) -> tuple[str | None, str | None]:
    """A text answer: required when `missing` gives the message for a blank one."""
    value = posted_text(form, name)
    if not value:
        return None, missing
    if "\x00" in value:
        return value, "Remove the NUL character (U+0000): it cannot be stored"
    if len(value) > limit:
        return value, too_long
    return value, None


def number(
    form: Mapping[str, object], name: str, *, missing: str | None, wrong: str
) -> tuple[float | None, str | None]:
    """A number such as 95, 12.5, -3 or 1,250; required when `missing` gives a message."""
    value = posted_text(form, name).replace(",", "")
    if not value:
        return None, missing
    try:
        parsed = float(value)
    except ValueError:
        return None, wrong
    return (parsed, None) if math.isfinite(parsed) else (None, wrong)


def score(form: Mapping[str, object], name: str, *, message: str) -> tuple[int | None, str | None]:
    """A whole number from 1 to 5."""
    value = posted_text(form, name)
    if value not in {"1", "2", "3", "4", "5"}:
        return None, message
    return int(value), None


def choice(
    form: Mapping[str, object], name: str, options: Mapping[str, str] | set[str], *, message: str
) -> tuple[str | None, str | None]:
    """One of the options offered."""
    value = posted_text(form, name)
    return (value, None) if value in options else (None, message)


def record_date(
    form: Mapping[str, object], name: str, *, label: str, required: bool, today: dt.date
) -> tuple[dt.date | None, str | None]:
    """A date in three boxes of something that happened: from 1 January 2000 to today."""
    day, error = date_from_parts(form, name, label=label, required=required)
    if day is not None and day > today:
        return None, f"The {label} must be today or in the past"
    if day is not None and day < EARLIEST_RECORD:
        return None, f"The {label} must be {spoken(EARLIEST_RECORD)} or later"
    return day, error


# The forms ---------------------------------------------------------------------------------------


DIRECTIONS = {"increase": "Higher is better", "decrease": "Lower is better"}
CATEGORIES = {"risk": "Risk", "cost": "Cost", "negative": "Negative effect"}
STATUSES = {
    "open": "Open",
    "materialised": "Materialised: it happened",
    "closed": "Closed: it no longer applies",
}


def ticked(form: Mapping[str, object], name: str) -> list[str]:
    """The values of a group of checkboxes (none ticked: an empty list)."""
    values = form.getlist(name) if hasattr(form, "getlist") else []
    return [v for v in values if isinstance(v, str)]


def outcome_answers(form: Mapping[str, object], *, with_serves: bool = True) -> Answers:
    """The outcome form: what should be better, a description, and (for a partnership's
    outcome) what it serves; which of those it may serve is the service's to check."""
    answers = Answers()
    answers.add(
        "title",
        *text(
            form,
            "title",
            limit=300,
            missing="Enter a name for the outcome",
            too_long="Enter a name of 300 characters or fewer",
        ),
    )
    answers.add("description", *_long(form, "description", "description"))
    if with_serves:
        answers.add("serves", ticked(form, "serves"), None)
    return answers


def indicator_answers(form: Mapping[str, object]) -> Answers:
    """The indicator form: name, unit, which way is better, baseline, target and source."""
    answers = Answers()
    answers.add(
        "name",
        *text(
            form,
            "name",
            limit=300,
            missing="Enter a name for the indicator",
            too_long="Enter a name of 300 characters or fewer",
        ),
    )
    answers.add(
        "unit",
        *text(
            form,
            "unit",
            limit=40,
            missing="Enter the unit, for example % or days",
            too_long="Enter a unit of 40 characters or fewer",
        ),
    )
    answers.add(
        "direction",
        *choice(
            form,
            "direction",
            DIRECTIONS,
            message="Choose whether a higher or a lower value is better",
        ),
    )
    for end in ("baseline", "target"):
        wrong = f"Enter the {end} as a number, {NUMBER_EXAMPLE}"
        answers.add(f"{end}_value", *number(form, f"{end}_value", missing=None, wrong=wrong))
        day = date_from_parts(form, f"{end}_date", label=f"{end} date", required=False)
        answers.add(f"{end}_date", *day)
    answers.add("data_source", *_long(form, "data_source", "source"))
    return answers


def measurement_answers(
    form: Mapping[str, object], indicator_ids: set[int], today: dt.date
) -> Answers:
    """The measurement form: which indicator, the date, the value and where it comes from."""
    answers = Answers()
    chosen = posted_text(form, "indicator_id")
    known = chosen.isdigit() and int(chosen) in indicator_ids
    answers.add(
        "indicator_id",
        int(chosen) if known else None,
        None if known else "Choose the indicator you measured",
    )
    answers.add(
        "measured_date",
        *record_date(form, "measured_date", label="date measured", required=True, today=today),
    )
    answers.add(
        "value",
        *number(
            form,
            "value",
            missing=f"Enter the value measured, {NUMBER_EXAMPLE}",
            wrong=f"Enter a number, {NUMBER_EXAMPLE}",
        ),
    )
    answers.add(
        "source",
        *text(
            form,
            "source",
            limit=500,
            missing="Enter where the figure comes from, for example SAC 2025-26",
            too_long="Enter a source of 500 characters or fewer",
        ),
    )
    return answers


def risk_answers(form: Mapping[str, object], *, with_status: bool = False) -> Answers:
    """The risk form: its kind, title, description, scores, mitigation, owner (and status)."""
    answers = Answers()
    answers.add(
        "category",
        *choice(
            form,
            "category",
            CATEGORIES,
            message="Choose whether it is a risk, a cost or a negative effect",
        ),
    )
    answers.add(
        "title",
        *text(
            form,
            "title",
            limit=300,
            missing="Enter a title for the risk",
            too_long="Enter a title of 300 characters or fewer",
        ),
    )
    answers.add("description", *_long(form, "description", "description"))
    for name in ("likelihood", "impact"):
        message = f"Enter the {name} as a whole number from 1 to 5"
        answers.add(name, *score(form, name, message=message))
    answers.add("mitigation", *_long(form, "mitigation", "mitigation"))
    answers.add(
        "owner",
        *text(
            form,
            "owner",
            limit=200,
            missing=None,
            too_long="Enter an owner of 200 characters or fewer",
        ),
    )
    if with_status:
        message = "Choose whether the risk is open or closed"
        answers.add("status", *choice(form, "status", STATUSES, message=message))
    return answers


def _long(form: Mapping[str, object], name: str, label: str) -> tuple[str | None, str | None]:
    too_long = f"Enter a {label} of 5,000 characters or fewer"
    return text(form, name, limit=5000, missing=None, too_long=too_long)
