"""The judgement of a partnership by what changes for people, and of a body, an area or a
user's scope across its partnerships.

The rule, on an as-at date, from the indicators of a partnership's intended outcomes, each read
by compliance.obligations.status.read_indicator (its trend judged by compliance.outcomes.trend):

- An outcome is getting worse if any of its indicators is getting worse; else improving if
  every indicator of it that can be judged is improving; else no change. An indicator that is
  not measured in the last 12 months, or has fewer than 3 measurements in its window, cannot be
  judged; an outcome with no indicator that can be judged cannot be judged.
- A partnership is "Getting worse for people" if any of its outcomes is getting worse; else
  "Improving things for people" if every outcome that can be judged is improving; else "No
  change yet". With no outcome, or none that can be judged: "Cannot judge: no outcomes
  measured".
- Across partnerships (a body's, an area's, a user's): the same rule over the partnerships'
  judgements, with the count of each.

- The voice of people who use services and carers (a convention of ours, in the spirit of the
  Partnership Outcomes Evaluation Toolkit): the partnership's latest evaluation round opened by
  the date whose people's answers reached the round's minimum counts as one more judged thing
  beside the outcomes. A median answer of "agree" or more to "Things have got better for me" is
  improving; anything less is no change. The scale cannot say "worse", so people's answers
  alone never make a partnership "getting worse", but they stop it being "improving" on its
  indicators alone, and with no outcome measured they judge it. The partners' staff answers do
  not count here: they are about how partners work together (process).

How the partners work together (process: evidence, dates, members) is judged separately and
shown beneath the judgement, never above it.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.db import key_column, row_id, stored
from compliance.evaluations.results import PeopleVoice, people_voices
from compliance.models import Body, Indicator, Measurement, Outcome, Partnership
from compliance.obligations.judged import database_of, epoch
from compliance.obligations.status import (
    IndicatorReading,
    OutcomeStatus,
    judge_outcome,
    read_indicator,
)
from compliance.outcomes.trend import WINDOW_YEARS, years_before


class Verdict(StrEnum):
    """A judgement, from worst to best as lists show them."""

    worsening = "worsening"
    cannot_judge = "cannot_judge"
    no_change = "no_change"
    improving = "improving"


WORDS = {
    Verdict.improving: "Improving things for people",
    Verdict.no_change: "No change yet",
    Verdict.worsening: "Getting worse for people",
    Verdict.cannot_judge: "Cannot judge: no outcomes measured",
}
RULE = (
    "Any outcome getting worse makes the judgement 'getting worse'; otherwise every outcome that "
    "can be judged improving makes it 'improving'; otherwise 'no change yet'. An outcome can be "
    "judged with at least 3 measurements of an indicator in 3 years, one of them in the last 12 "
    "months. The latest evaluation round with enough answers from people who use services "
    "counts as one more: a median of 'agree' or more to 'Things have got better for me' is "
    "improving, less is no change (our convention)."
)
VOICE = "People who use services and carers: “Things have got better for me”"
JUDGED = {
    OutcomeStatus.worsening: Verdict.worsening,
    OutcomeStatus.no_change: Verdict.no_change,
    OutcomeStatus.improving: Verdict.improving,
}
RANK = {verdict: rank for rank, verdict in enumerate(Verdict)}
# Reasons that decide a judgement first (worst first), then those that could not be judged.
REASON_ORDER = [
    OutcomeStatus.worsening,
    OutcomeStatus.no_change,
    OutcomeStatus.improving,
    OutcomeStatus.too_few_measurements,
    OutcomeStatus.not_measured,
    OutcomeStatus.no_outcome_defined,
]


@dataclass(frozen=True)
class Reason:
    """One indicator of one outcome behind a judgement: its status and how it was judged."""

    outcome_id: int | None
    outcome: str | None
    indicator_id: int | None
    indicator: str | None
    status: OutcomeStatus
    method: str
    # "indicator" (an outcome's indicator, or its absence) or "voices" (an evaluation round).
    source: str = "indicator"


@dataclass(frozen=True)
class Judgement:
    """A partnership's judgement on a date, with its reasons, worst first."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    partnership_id: int | None = None
    name: str = ""
    slug: str = ""

    @property
    def words(self) -> str:
        return WORDS[self.verdict]

    def reason_for(self, indicator_id: int) -> Reason | None:
        """The reason given for one indicator, to print its status and method beside it."""
        return next((r for r in self.reasons if r.indicator_id == indicator_id), None)


@dataclass(frozen=True)
class Across:
    """The judgement across several partnerships, each with its own, worst first."""

    verdict: Verdict
    partnerships: tuple[Judgement, ...]

    @property
    def words(self) -> str:
        return WORDS[self.verdict]

    @property
    def counts(self) -> dict[str, int]:
        """How many partnerships have each judgement, worst first (every judgement named)."""
        found = [j.verdict for j in self.partnerships]
        return {verdict.value: found.count(verdict) for verdict in Verdict}


# The rule -------------------------------------------------------------------------------------

IndicatorValues = tuple[Indicator, list[tuple[dt.date, float]]]
OutcomeIndicators = tuple[Outcome, list[IndicatorValues]]


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """The rule over several judged things: any worse, else all improving, else no change;
    nothing judged, cannot judge."""
    judged = [v for v in verdicts if v != Verdict.cannot_judge]
    if not judged:
        return Verdict.cannot_judge
    if Verdict.worsening in judged:
        return Verdict.worsening
    return Verdict.improving if all(v == Verdict.improving for v in judged) else Verdict.no_change


def method_line(reading: IndicatorReading) -> str:
    """How an indicator was judged, as pages and reports print it beside its status."""
    if reading.status != OutcomeStatus.not_measured:
        return reading.trend.method
    last = reading.trend.last_date
    to = f"{reading.trend.window_end:%-d %b %Y}"
    if last is None:
        return f"No measurement in the {WINDOW_YEARS} years to {to}"
    return f"Last measured {last:%-d %b %Y}; nothing in the 12 months to {to}"


def _reason(outcome: Outcome, indicator: Indicator, reading: IndicatorReading) -> Reason:
    return Reason(
        outcome.id,
        outcome.title,
        indicator.id,
        indicator.name,
        reading.status,
        method_line(reading),
    )


def judge_outcomes(outcomes: list[OutcomeIndicators], on: dt.date) -> tuple[Verdict, list[Reason]]:
    """The judgement of a set of outcomes by the rule in this module's docstring, with a reason
    for each indicator (and for each outcome that has none)."""
    verdicts, reasons = [], []
    for outcome, indicators in outcomes:
        readings = [(i, read_indicator(i, values, on)) for i, values in indicators]
        status = judge_outcome([r.status for _, r in readings])
        verdicts.append(JUDGED.get(status, Verdict.cannot_judge))
        reasons += [_reason(outcome, i, r) for i, r in readings]
        if not indicators:
            reasons.append(
                Reason(
                    outcome.id,
                    outcome.title,
                    None,
                    None,
                    OutcomeStatus.not_measured,
                    "No indicator measures this outcome",
                )
            )
    if not outcomes:
        reasons.append(
            Reason(
                None,
                None,
                None,
                None,
                OutcomeStatus.no_outcome_defined,
                "No intended outcome for the people who use services is recorded",
            )
        )
    reasons.sort(key=lambda r: REASON_ORDER.index(r.status))
    return combine(verdicts), reasons


def across(judgements: Iterable[Judgement]) -> Across:
    """The judgement across partnerships, each listed worst first, then by name."""
    found = sorted(judgements, key=lambda j: (RANK[j.verdict], j.name))
    return Across(combine(j.verdict for j in found), tuple(found))


# Loading what the rule needs ------------------------------------------------------------------


def _outcomes_of(
    session: Session, partnership_ids: set[int], on: dt.date
) -> dict[int, list[OutcomeIndicators]]:
    """Each partnership's outcomes with their indicators and the measurements in the window."""
    outcomes = (
        session.exec(
            select(Outcome)
            .where(col(Outcome.partnership_id).in_(partnership_ids))
            .order_by(col(Outcome.id))
        ).all()
        if partnership_ids
        else []
    )
    indicators = (
        session.exec(
            select(Indicator)
            .where(col(Indicator.outcome_id).in_([o.id for o in outcomes]))
            .order_by(col(Indicator.id))
        ).all()
        if outcomes
        else []
    )
    values: dict[int, list[tuple[dt.date, float]]] = {}
    if indicators:
        for indicator_id, day, value in session.exec(
            select(
                col(Measurement.indicator_id),
                col(Measurement.measured_date),
                col(Measurement.value),
            )
            .where(col(Measurement.indicator_id).in_([i.id for i in indicators]))
            .where(Measurement.measured_date <= on)
            .where(Measurement.measured_date >= years_before(on, WINDOW_YEARS))
            .order_by(col(Measurement.measured_date))
        ):
            values.setdefault(indicator_id, []).append((day, value))
    by_outcome: dict[int, list[IndicatorValues]] = {}
    for indicator in indicators:
        by_outcome.setdefault(indicator.outcome_id, []).append(
            (indicator, values.get(row_id(indicator), []))
        )
    found: dict[int, list[OutcomeIndicators]] = {}
    for outcome in outcomes:
        found.setdefault(outcome.partnership_id, []).append(  # type: ignore[arg-type]  # only partnerships' outcomes are read
            (outcome, by_outcome.get(row_id(outcome), []))
        )
    return found


def partnership_judgements(
    *, session: Session, partnership_ids: Iterable[int], on: dt.date
) -> dict[int, Judgement]:
    """Each partnership's judgement on a date, in a fixed number of queries."""
    ids = set(partnership_ids)
    if not ids:
        return {}
    partnerships = session.exec(select(Partnership).where(col(Partnership.id).in_(ids))).all()
    outcomes = _outcomes_of(session, ids, on)
    voices = people_voices(session=session, partnership_ids=ids, on=on)
    judged: dict[int, Judgement] = {}
    for p in partnerships:
        verdict, reasons = judge_outcomes(outcomes.get(row_id(p), []), on)
        if row_id(p) in voices:
            heard = voice_reason(voices[row_id(p)])
            verdict = combine([verdict, JUDGED[heard.status]])
            reasons = sorted([*reasons, heard], key=lambda r: REASON_ORDER.index(r.status))
        judged[row_id(p)] = Judgement(verdict, tuple(reasons), p.id, p.name, p.slug)
    return judged


def voice_reason(voice: PeopleVoice) -> Reason:
    """What people said in an evaluation round, as a reason of the judgement."""
    better = voice.better_median >= 4
    method = (
        f"Evaluation round “{voice.round_title}” opened {voice.opens_date:%-d %b %Y}: "
        f"{voice.answers} answers, median {voice.median_words.lower()}, "
        f"{voice.better_agreeing:.0%} agree"
    )
    if voice.wrong_outcomes > 0.5:
        method += f"; {voice.wrong_outcomes:.0%} say these are not the right outcomes"
    status = OutcomeStatus.improving if better else OutcomeStatus.no_change
    return Reason(None, None, None, VOICE, status, method, source="voices")


def partnership_judgement(*, session: Session, partnership_id: int, on: dt.date) -> Judgement:
    """One partnership's judgement on a date."""
    return partnership_judgements(session=session, partnership_ids=[partnership_id], on=on)[
        partnership_id
    ]


def judgement_across(*, session: Session, partnership_ids: Iterable[int], on: dt.date) -> Across:
    """The judgement across some partnerships on a date."""
    judged = partnership_judgements(session=session, partnership_ids=partnership_ids, on=on)
    return across(judged.values())


def _readable(ids: set[int], principal: Principal | None) -> set[int]:
    return ids if principal is None else {p for p in ids if principal.reads_partnership(p)}


def body_judgement(
    *, session: Session, body_id: int, on: dt.date, principal: Principal | None = None
) -> Across:
    """A body's judgement: across the partnerships it belonged to on the date (those the
    principal may read, when one is given)."""
    from compliance.reports.scope import member_partnerships

    ids = _readable(member_partnerships(session, {body_id}, on), principal)
    return judgement_across(session=session, partnership_ids=ids, on=on)


def area_judgement(
    *, session: Session, body_id: int, on: dt.date, principal: Principal | None = None
) -> Across:
    """An area's judgement: across the partnerships of the body and every body beneath it (for
    an integrated care board, of its footprint), as its report takes them in."""
    from compliance.reports.scope import area_bodies, member_partnerships

    bodies = area_bodies(session=session, body=stored(session, Body, body_id), on=on)

    ids = _readable(member_partnerships(session, bodies, on), principal)
    return judgement_across(session=session, partnership_ids=ids, on=on)


def live_partnerships(*, session: Session, on: dt.date) -> set[int]:
    """The partnerships that had started by the date and not ended."""
    query = select(key_column(Partnership)).where(
        and_(
            or_(col(Partnership.start_date).is_(None), col(Partnership.start_date) <= on),
            or_(col(Partnership.end_date).is_(None), col(Partnership.end_date) > on),
        )
    )
    return set(session.exec(query).all())


# By database: every live partnership's judgement on a date, with the epoch token it was made
# under (compliance.obligations.judged): a commit that changes what a judgement reads (outcomes,
# indicators, measurements, partnerships and their members, evaluation rounds and answers) draws
# a new token, and the next dashboard judges again.
_live: dict[str, tuple[str, dt.date, dict[int, Judgement]]] = {}


def scope_judgement(*, session: Session, principal: Principal, on: dt.date) -> Across:
    """The judgement across the live partnerships a user may read (every one, for an admin)."""
    database, seen = database_of(session), epoch(session)
    remembered = _live.get(database)
    if remembered is None or remembered[:2] != (seen, on):
        ids = live_partnerships(session=session, on=on)
        remembered = (seen, on, partnership_judgements(session=session, partnership_ids=ids, on=on))
        _live[database] = remembered
    judged = remembered[2]
    return across(j for p, j in judged.items() if principal.reads_partnership(p))
