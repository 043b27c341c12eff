"""The one Jinja environment that pages (and later PDFs and emails) render through."""

import datetime as dt
from pathlib import Path

from fastapi.templating import Jinja2Templates

from compliance.bodies.kinds import BodyKind
from compliance.obligations.status import OutcomeStatus, ProcessStatus

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

STATUS_LABELS = {
    ProcessStatus.overdue: "Overdue",
    ProcessStatus.evidence_expired: "Evidence expired",
    ProcessStatus.due_soon: "Due soon",
    ProcessStatus.met: "Evidence recorded",
    ProcessStatus.not_yet_due: "Not yet due",
    ProcessStatus.not_applicable: "Not applicable",
}


def uk_date(value: dt.date | None) -> str:
    """A date as people in the UK write it: 31 March 2026."""
    return f"{value.day} {value:%B %Y}" if value else "–"


def kind_label(kind: str) -> str:
    """A body kind in words."""
    return kind.replace("_", " ").capitalize().replace("Nhs", "NHS")


OUTCOME_LABELS = {
    OutcomeStatus.no_outcome_defined: "No outcome defined",
    OutcomeStatus.not_measured: "Not measured in the last year",
    OutcomeStatus.not_improving: "Not improving",
    OutcomeStatus.improving: "Improving",
}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["product_name"] = "Partnership duties tracker"
templates.env.globals["body_kinds"] = list(BodyKind)
templates.env.filters["kind_label"] = kind_label
templates.env.filters["uk_date"] = uk_date
templates.env.filters["status_label"] = lambda status: STATUS_LABELS[ProcessStatus(status)]
templates.env.filters["outcome_label"] = lambda status: OUTCOME_LABELS[OutcomeStatus(status)]
