"""What a round's answers add up to: per statement the count of each answer, the median and the
share agreeing; the outcomes partners expect to change; and the words people wrote. Nothing is
given out for a stage below the round's minimum number of answers, and the words come sorted,
never in the order they arrived, so that no result can be traced to one person."""

import datetime as dt
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from compliance.db import key_column, row_id
from compliance.evaluations.models import EvaluationAnswer, EvaluationInvitation, EvaluationRound
from compliance.evaluations.questions import (
    AGREEING,
    PARTNERS,
    PEOPLE,
    QUESTIONS,
    RIGHT_OUTCOMES,
    SCALE,
    STAGES,
    STATEMENTS,
)
from compliance.models import Outcome


@dataclass(frozen=True)
class StatementResult:
    """How one statement was answered: the count for each point of the scale, 1 to 5."""

    key: str
    text: str
    counts: tuple[int, ...]
    median: float
    agreeing: float  # the share answering agree or strongly agree, 0 to 1

    @property
    def median_words(self) -> str:
        low, high = int(self.median // 1), int(-(-self.median // 1))
        if low == high:
            return SCALE[low]
        return f"between {SCALE[low].lower()} and {SCALE[high].lower()}"


@dataclass(frozen=True)
class StageResult:
    """One stage's answers: how many, the minimum to show them, and (once shown) the totals."""

    stage: str
    label: str
    answers: int
    minimum: int
    by_channel: dict[str, int]
    statements: tuple[StatementResult, ...] = ()
    right_outcomes: tuple[tuple[str, int], ...] = ()
    outcomes: tuple[tuple[str, int], ...] = ()
    texts: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def shown(self) -> bool:
        return self.answers >= self.minimum


@dataclass(frozen=True)
class RoundResults:
    """A round's two stages, and its invitations sent and used."""

    round: EvaluationRound
    partners: StageResult
    people: StageResult
    invited: int
    invitations_used: int


@dataclass(frozen=True)
class Headline:
    """A round in the trend: the share agreeing with each statement (None below the minimum),
    and the share of people saying the outcomes are the right ones."""

    round_id: int
    title: str
    opens_date: dt.date
    closes_date: dt.date
    partners_answers: int
    people_answers: int
    agreeing: dict[str, float | None]
    right_outcomes: float | None


@dataclass(frozen=True)
class PartnershipResults:
    """The latest round opened by a date, and every such round's headline, oldest first."""

    latest: RoundResults | None
    trend: tuple[Headline, ...]


def _statement(key: str, text: str, values: list[int]) -> StatementResult:
    counts = tuple(values.count(point) for point in SCALE)
    agreeing = sum(1 for v in values if v in AGREEING) / len(values)
    return StatementResult(key, text, counts, float(statistics.median(values)), agreeing)


def _outcome_titles(session: Session, partnership_id: int) -> dict[int, str]:
    query = select(key_column(Outcome), Outcome.title).where(
        Outcome.partnership_id == partnership_id
    )
    return dict(session.exec(query.order_by(col(Outcome.id))).all())


def _stage(session: Session, row: EvaluationRound, stage: str) -> StageResult:
    answers = list(
        session.exec(
            select(EvaluationAnswer).where(
                EvaluationAnswer.round_id == row.id, EvaluationAnswer.stage == stage
            )
        )
    )
    channels: dict[str, int] = {}
    for answer in answers:
        channels[answer.channel] = channels.get(answer.channel, 0) + 1
    empty = StageResult(stage, STAGES[stage], len(answers), row.min_answers, channels)
    if not empty.shown:
        return empty
    given = {
        s: [a.choices[s.key] for a in answers if s.key in a.choices] for s in STATEMENTS[stage]
    }
    statements = tuple(_statement(s.key, s.text, values) for s, values in given.items() if values)
    texts = tuple(
        (
            q.text,
            tuple(sorted((a.texts[q.key] for a in answers if q.key in a.texts), key=str.casefold)),
        )
        for q in QUESTIONS[stage]
    )
    return StageResult(
        stage,
        STAGES[stage],
        len(answers),
        row.min_answers,
        channels,
        statements=statements,
        right_outcomes=_right_outcomes(answers) if stage == PEOPLE else (),
        outcomes=_expected(session, row, answers) if stage == PARTNERS else (),
        texts=texts,
    )


def _right_outcomes(answers: list[EvaluationAnswer]) -> tuple[tuple[str, int], ...]:
    given = [a.choices.get("right_outcomes") for a in answers]
    if not any(given):
        return ()
    return tuple((label, given.count(value)) for value, label in RIGHT_OUTCOMES.items())


def _expected(
    session: Session, row: EvaluationRound, answers: list[EvaluationAnswer]
) -> tuple[tuple[str, int], ...]:
    titles = _outcome_titles(session, row.partnership_id)
    counts = dict.fromkeys(titles, 0)
    for answer in answers:
        for outcome_id in answer.outcome_ids:
            if outcome_id in counts:
                counts[outcome_id] += 1
    return tuple((titles[i], n) for i, n in counts.items())


def _invitations(session: Session, round_id: int) -> tuple[int, int]:
    used = func.coalesce(func.sum(case((col(EvaluationInvitation.used), 1), else_=0)), 0)

    query = select(func.count(), used).where(EvaluationInvitation.round_id == round_id)
    sent, taken = session.exec(query).one()
    return int(sent), int(taken)


def round_results(*, session: Session, round_id: int) -> RoundResults | None:
    """A round's results, each stage's totals given only at or above the round's minimum."""
    row = session.get(EvaluationRound, round_id)
    if row is None:
        return None
    invited, used = _invitations(session, row_id(row))
    return RoundResults(
        row, _stage(session, row, PARTNERS), _stage(session, row, PEOPLE), invited, used
    )


def _headline(results: RoundResults) -> Headline:
    agreeing: dict[str, float | None] = {}
    for stage in (results.partners, results.people):
        shares = {s.key: s.agreeing for s in stage.statements}
        agreeing |= {s.key: shares.get(s.key) for s in STATEMENTS[stage.stage]}
    counted = dict(results.people.right_outcomes)
    total = sum(counted.values())
    row = results.round
    return Headline(
        row_id(row),
        row.title,
        row.opens_date,
        row.closes_date,
        results.partners.answers,
        results.people.answers,
        agreeing,
        counted[RIGHT_OUTCOMES["yes"]] / total if total else None,
    )


def latest_results(*, session: Session, partnership_id: int, on: dt.date) -> PartnershipResults:
    """The partnership's rounds opened by a date: the latest one's results, and the trend.

    Answers carry no date (a date could tell who gave them), so a round's totals are those
    recorded now; `on` chooses the rounds, not the answers."""
    query = select(key_column(EvaluationRound)).where(
        EvaluationRound.partnership_id == partnership_id, EvaluationRound.opens_date <= on
    )
    ids = session.exec(
        query.order_by(col(EvaluationRound.opens_date), col(EvaluationRound.id))
    ).all()
    results = [round_results(session=session, round_id=i) for i in ids]
    return PartnershipResults(
        results[-1] if results else None,
        tuple(_headline(r) for r in results),  # type: ignore[arg-type]  # each id is a round just read
    )


@dataclass(frozen=True)
class PeopleVoice:
    """What people who use services and carers said in a partnership's latest round whose
    answers reached its minimum: how many, the median answer to "Things have got better for
    me", and the share of them saying the outcomes are not the right ones."""

    round_title: str
    opens_date: dt.date
    answers: int
    better_median: float
    better_agreeing: float
    wrong_outcomes: float

    @property
    def median_words(self) -> str:
        return StatementResult("better_for_me", "", (), self.better_median, 0.0).median_words


def people_voices(
    *, session: Session, partnership_ids: set[int], on: dt.date
) -> dict[int, PeopleVoice]:
    """Each partnership's latest round opened by the date whose people's answers reached the
    round's minimum, read in two queries (the partners' staff answers are not read: they are
    about how partners work together, not what changes for people)."""
    if not partnership_ids:
        return {}
    rounds = session.exec(
        select(EvaluationRound)
        .where(col(EvaluationRound.partnership_id).in_(partnership_ids))
        .where(EvaluationRound.opens_date <= on)
        .order_by(col(EvaluationRound.opens_date).desc(), col(EvaluationRound.id).desc())
    ).all()
    if not rounds:
        return {}
    answers: dict[int, list[Mapping[str, Any]]] = {}
    query = select(EvaluationAnswer.round_id, EvaluationAnswer.choices).where(
        col(EvaluationAnswer.round_id).in_([r.id for r in rounds]),
        col(EvaluationAnswer.stage) == PEOPLE,
    )
    for round_id, choices in session.exec(query):
        answers.setdefault(round_id, []).append(choices)
    found: dict[int, PeopleVoice] = {}
    for row in rounds:
        given = answers.get(row_id(row), [])
        if row.partnership_id in found or len(given) < row.min_answers:
            continue
        better = [c["better_for_me"] for c in given if isinstance(c.get("better_for_me"), int)]
        if not better:
            continue
        said = [c.get("right_outcomes") for c in given if c.get("right_outcomes")]
        found[row.partnership_id] = PeopleVoice(
            row.title,
            row.opens_date,
            len(given),
            float(statistics.median(better)),
            sum(1 for v in better if v in AGREEING) / len(better),
            said.count("no") / len(said) if said else 0.0,
        )
    return found
