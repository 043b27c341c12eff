"""Is it worth it? A partnership's costs, benefits and the negatives seen, weighed in a short
plain statement from what is recorded: a figure nobody recorded is said to be "not recorded",
never guessed.

The negatives are read, not typed: the risks recorded as materialised, and the outcomes the
judgement finds getting worse for people (compliance.outcomes.judgement). Partners are asked to
decide at least every three years whether the partnership should continue: a convention of this
tracker, not a statutory duty (the rule continuation_not_reviewed in compliance/checks/rules.py).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from compliance.models import Partnership, Risk
from compliance.obligations.status import OutcomeStatus
from compliance.outcomes.judgement import WORDS, Judgement, Verdict
from compliance.outcomes.trend import years_before

REVIEW_YEARS = 3
MATERIALISED = "materialised"


@dataclass(frozen=True)
class Costs:
    """What the partnership costs its partners a year, as at a date; None where not recorded."""

    staff_days: int | None = None
    pounds: int | None = None
    meetings: int | None = None
    as_at: dt.date | None = None


@dataclass(frozen=True)
class Weighing:
    """The statement sentence by sentence, with the counts it rests on."""

    sentences: tuple[str, ...]
    materialised: int
    worsening: int
    decision_overdue: bool

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _uk(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _costs(costs: Costs) -> str:
    figures = (
        ("staff days", costs.staff_days, lambda n: _count(n, "staff day", "staff days")),
        ("money", costs.pounds, lambda n: f"£{n:,}"),
        ("meetings", costs.meetings, lambda n: _count(n, "meeting", "meetings")),
    )
    shown = [words(value) for _, value, words in figures if value is not None]
    missing = [name for name, value, _ in figures if value is None]
    if not shown:
        return "Costs: not recorded."
    when = f" (as at {_uk(costs.as_at)})" if costs.as_at else ""
    rest = f"; {_listed(missing)} not recorded" if missing else ""
    return f"Costs {_listed(shown)} a year{when}{rest}."


def _negatives(materialised: int, worsening: int) -> str:
    seen = []
    if materialised:
        seen.append(_count(materialised, "risk", "risks") + " materialised")
    if worsening:
        seen.append(_count(worsening, "outcome", "outcomes") + " getting worse for people")
    if not seen:
        return "Negatives seen: none recorded (no risk materialised, no outcome getting worse)."
    return f"Negatives seen: {_listed(seen)}."


def decision_lapsed(decided: dt.date | None, started: dt.date | None, on: dt.date) -> bool:
    """Whether partners have not decided, in the REVIEW_YEARS before `on`, if the partnership
    should continue: their last decision is older, or there is none and the partnership began
    (or was first tracked) longer ago than that."""
    cutoff = years_before(on, REVIEW_YEARS)
    if decided is not None:
        return decided < cutoff
    return started is not None and started < cutoff


def _continuation(decided: dt.date | None, due: dt.date | None, on: dt.date) -> str:
    if decided is None:
        last = "No decision on whether it should continue is recorded"
    else:
        old = " (more than three years ago)" if decision_lapsed(decided, None, on) else ""
        last = f"Continuation last decided {_uk(decided)}{old}"
    if due is None:
        return f"{last}; next decision: not recorded."
    late = " — overdue" if due < on else ""
    return f"{last}; next decision due {_uk(due)}{late}."


def weigh(
    *,
    costs: Costs,
    benefits: str | None,
    materialised: int,
    worsening: int,
    verdict: Verdict,
    decided: dt.date | None,
    due: dt.date | None,
    on: dt.date,
) -> Weighing:
    """The short statement of what a partnership costs, gains and has seen go wrong, as at a
    date: its costs, the judgement of its outcomes, the negatives seen, whether its benefits are
    recorded, and when partners decided (and will next decide) whether it should continue."""
    sentences = (
        _costs(costs),
        f"Outcomes: {WORDS[verdict]}.",
        _negatives(materialised, worsening),
        "Benefits recorded: yes." if (benefits or "").strip() else "Benefits: not recorded.",
        _continuation(decided, due, on),
    )
    overdue = due is not None and due < on
    return Weighing(sentences, materialised, worsening, overdue)


# Reading the negatives ---------------------------------------------------------------------


def materialised_count(statuses: Iterable[str]) -> int:
    """How many of a partnership's risks are recorded as having materialised."""
    return sum(1 for status in statuses if status == MATERIALISED)


def worsening_count(judgement: Judgement) -> int:
    """How many of a partnership's outcomes the judgement finds getting worse for people."""
    return len({r.outcome_id for r in judgement.reasons if r.status == OutcomeStatus.worsening})


def costs_of(partnership: Partnership) -> Costs:
    """A partnership's recorded costs."""
    return Costs(
        partnership.staff_days_a_year,
        partnership.pounds_a_year,
        partnership.meetings_a_year,
        partnership.costs_as_at_date,
    )


def weigh_partnership(
    *, partnership: Partnership, risk_statuses: Iterable[str], judgement: Judgement, on: dt.date
) -> Weighing:
    """A partnership weighed from its record, the statuses of its risks and its judgement."""
    return weigh(
        costs=costs_of(partnership),
        benefits=partnership.benefits,
        materialised=materialised_count(risk_statuses),
        worsening=worsening_count(judgement),
        verdict=judgement.verdict,
        decided=partnership.continuation_decided_date,
        due=partnership.continuation_due_date,
        on=on,
    )


def weigh_on_page(
    partnership: Partnership, risks: Iterable[Risk], judgement: Judgement, on: dt.date
) -> Weighing:
    """The partnership page's "Is it worth it?" section, from what its context already holds:
    the partnership, its risks and its judgement."""
    statuses = [r.status for r in risks]
    return weigh_partnership(
        partnership=partnership, risk_statuses=statuses, judgement=judgement, on=on
    )
