"""The one Jinja environment that pages, PDFs and emails render through."""

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from compliance.bodies.kinds import BodyKind
from compliance.obligations.status import OutcomeStatus, ProcessStatus
from compliance.outcomes.judgement import RULE as JUDGEMENT_RULE
from compliance.outcomes.judgement import WORDS, Verdict

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "build" / "static"

STATUS_LABELS = {
    ProcessStatus.overdue: "Overdue (statutory date)",
    ProcessStatus.evidence_expired: "Evidence expired",
    ProcessStatus.assurance_gap: "No recent assurance",
    ProcessStatus.due_soon: "Due soon",
    ProcessStatus.met: "Evidence recorded",
    ProcessStatus.not_yet_due: "Not yet due",
    ProcessStatus.before_tracking: "Before tracking",
    ProcessStatus.not_applicable: "Not applicable",
}
STATUS_COLOURS = {
    "overdue": "red",
    "evidence_expired": "orange",
    "assurance_gap": "blue",
    "due_soon": "yellow",
    "met": "green",
    "not_yet_due": "grey",
    "before_tracking": "grey",
    "not_applicable": "grey",
    "improving": "green",
    "no_change": "light-blue",
    "too_few_measurements": "grey",
    "worsening": "red",
    "not_measured": "yellow",
    "no_outcome_defined": "red",
    "cannot_judge": "grey",
    "high": "red",
    "medium": "orange",
    "low": "grey",
}
OUTCOME_LABELS = {
    OutcomeStatus.no_outcome_defined: "No outcome linked",
    OutcomeStatus.not_measured: "Not measured in the last year",
    OutcomeStatus.worsening: "Getting worse for people",
    OutcomeStatus.too_few_measurements: "Too few measurements to judge",
    OutcomeStatus.no_change: "No change yet",
    OutcomeStatus.improving: "Improving",
}
JUDGEMENT_LABELS = WORDS


def uk_date(value: dt.date | dt.datetime | None) -> str:
    """A date as people in the UK write it: 31 March 2026."""
    return f"{value.day} {value:%B %Y}" if value else "–"


# Words a snake_case name writes in lower case that English writes otherwise.
KIND_WORDS = (
    ("Nhs", "NHS"),
    ("nhs", "NHS"),
    ("Ni", "Northern Ireland"),
    ("Hsc", "HSC"),
    ("hsc", "HSC"),
    ("ireland", "Ireland"),
    ("wales", "Wales"),
    ("scotland", "Scotland"),
    ("england", "England"),
)


def kind_label(kind: str) -> str:
    """A body kind (or any snake_case word) in words."""
    words = kind.replace("_", " ").capitalize()
    for plain, proper in KIND_WORDS:
        words = re.sub(rf"\b{plain}\b", proper, words)
    return words


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.loader = ChoiceLoader(
    [
        FileSystemLoader(str(TEMPLATES_DIR)),
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja", "templates")}),
    ]
)


def _no_nul(value: object) -> object:
    # HTML may not contain the NUL character; a refused form shows what was typed back, and a
    # NUL in it would break the page for the person trying to correct it.
    if isinstance(value, str) and "\x00" in value:
        cleaned = value.replace("\x00", "\ufffd")
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


templates.env.finalize = _no_nul
templates.env.globals["product_name"] = "Partnership duties tracker"
templates.env.globals["body_kinds"] = list(BodyKind)
templates.env.globals["process_statuses"] = list(ProcessStatus)
templates.env.globals["outcome_statuses"] = list(OutcomeStatus)


def _rule_words(rule: str) -> str:
    from compliance.checks.rules import rule_words

    return rule_words(rule)


templates.env.filters["rule_words"] = _rule_words
templates.env.globals["judgement_rule"] = JUDGEMENT_RULE


def select_options(
    rows: Iterable[Any], value: str | int, text: str | int, chosen: str | None, first: str
) -> Markup:
    """The options of a GOV.UK select: `first` with no value, then one per row (its `value` and
    `text` attributes, or items by index), the one whose value is `chosen` selected, as
    govukSelect writes them. Written here rather than by the macro, which calls another macro
    for each option: the 4,000 bodies and 2,400 partnerships of a national registry took a
    third of a second to render, half the obligations page's time. Escaped value by value into
    f-strings: Markup.format parses its template again for each option (44 ms for the 5,900
    holders of the review queue's filter, now 7 ms)."""
    get_value = itemgetter(value) if isinstance(value, int) else attrgetter(value)
    get_text = itemgetter(text) if isinstance(text, int) else attrgetter(text)
    parts = [f'<option value="">{escape(first)}</option>']
    for row in rows:
        shown = get_value(row)
        selected = " selected" if shown == chosen else ""
        parts.append(f'<option value="{escape(shown)}"{selected}>{escape(get_text(row))}</option>')
    return Markup("\n".join(parts))


def with_options(field: str, options: Markup) -> Markup:
    """A select rendered by govukSelect with no items, its options put inside it."""
    before, _, after = str(field).rpartition("</select>")
    return Markup(before) + options + Markup("</select>" + after)


templates.env.globals["select_options"] = select_options
templates.env.filters["with_options"] = with_options
templates.env.filters["kind_label"] = kind_label
templates.env.filters["uk_date"] = uk_date
templates.env.filters["status_label"] = lambda status: STATUS_LABELS[ProcessStatus(status)]
templates.env.filters["outcome_label"] = lambda status: OUTCOME_LABELS[OutcomeStatus(status)]
templates.env.filters["judgement_label"] = lambda verdict: JUDGEMENT_LABELS[Verdict(verdict)]
templates.env.filters["colour"] = lambda status: STATUS_COLOURS.get(str(status), "grey")


def page_base(pairs: Sequence[tuple[str, Any]]) -> str:
    """The start of a pagination link that keeps every filter set (empty ones left out)."""
    kept = [(key, str(value)) for key, value in pairs if value not in (None, "")]
    return f"?{urlencode(kept)}&" if kept else "?"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """A page, with who is signed in and their form token in its context."""
    values = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)
