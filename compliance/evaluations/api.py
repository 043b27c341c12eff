"""JSON routes for evaluation rounds: a partnership's latest round, each stage's totals given
only at or above the round's minimum number of answers, and the trend across its rounds. The
same service as the pages (round_results, latest_results)."""

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from compliance.access import require
from compliance.api import Date, api_router
from compliance.db import row_id
from compliance.deps import CurrentUser, SessionDep, SettingsDep
from compliance.errors import NotFound
from compliance.evaluations.results import RoundResults, StageResult, latest_results
from compliance.evaluations.service import round_state
from compliance.partnerships.service import get_partnership

router = api_router("evaluations")

STAGE_EXAMPLE: JsonDict = {
    "answers": 6,
    "minimum": 5,
    "shown": True,
    "statements": [
        {
            "key": "trust",
            "text": "Partners trust each other",
            "counts": [0, 1, 1, 3, 1],
            "median": 4.0,
            "agreeing": 0.667,
        }
    ],
    "right_outcomes": [{"answer": "Yes", "count": 4}, {"answer": "Partly", "count": 2}],
    "expected_outcomes": [{"title": "Adults at risk feel safer", "count": 5}],
    "texts": [{"question": "What matters most to you?", "answers": ["Staying at home"]}],
}
HEADLINE_EXAMPLE: JsonDict = {
    "round_id": 3,
    "title": "Spring 2027 evaluation",
    "opens_date": "2027-03-01",
    "closes_date": "2027-03-31",
    "partners_answers": 6,
    "people_answers": 3,
    "agreeing": {"trust": 0.667, "better_for_me": None},
    "right_outcomes": None,
}


class Count(BaseModel):
    answer: str
    count: int


class OutcomeCount(BaseModel):
    title: str
    count: int = Field(description="How many partners expect this outcome to change")


class StatementPublic(BaseModel):
    key: str
    text: str
    counts: list[int] = Field(
        description="How many chose 1 (strongly disagree) to 5 (strongly agree)"
    )
    median: float
    agreeing: float = Field(description="The share agreeing or strongly agreeing, 0 to 1")


class TextsPublic(BaseModel):
    question: str
    answers: list[str] = Field(description="In alphabetical order, never the order given")


class StagePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [STAGE_EXAMPLE]})

    answers: int
    minimum: int
    shown: bool = Field(
        description="Whether the stage has its minimum number of answers; "
        "below it, every total is left out"
    )
    statements: list[StatementPublic]
    right_outcomes: list[Count]
    expected_outcomes: list[OutcomeCount]
    texts: list[TextsPublic]


class RoundPublic(BaseModel):
    id: int
    title: str
    opens_date: dt.date
    closes_date: dt.date
    state: str = Field(description="not_open, open or closed")
    min_answers: int
    invited: int
    invitations_used: int
    partners: StagePublic = Field(description="Partners' staff: how well they work together")
    people: StagePublic = Field(description="People who use services and carers")


class HeadlinePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [HEADLINE_EXAMPLE]})

    round_id: int
    title: str
    opens_date: dt.date
    closes_date: dt.date
    partners_answers: int
    people_answers: int
    agreeing: dict[str, float | None] = Field(
        description="The share agreeing with each statement; null below the minimum"
    )
    right_outcomes: float | None = Field(description="The share saying the outcomes are right")


class EvaluationsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partnership": "cios-safeguarding-adults-board",
                    "latest": None,
                    "trend": [HEADLINE_EXAMPLE],
                }
            ]
        }
    )

    partnership: str
    latest: RoundPublic | None
    trend: list[HeadlinePublic] = Field(description="Every round opened by the date, oldest first")


def _stage(stage: StageResult) -> StagePublic:
    return StagePublic(
        answers=stage.answers,
        minimum=stage.minimum,
        shown=stage.shown,
        statements=[
            StatementPublic(
                key=s.key, text=s.text, counts=list(s.counts), median=s.median, agreeing=s.agreeing
            )
            for s in stage.statements
        ],
        right_outcomes=[Count(answer=a, count=n) for a, n in stage.right_outcomes],
        expected_outcomes=[OutcomeCount(title=t, count=n) for t, n in stage.outcomes],
        texts=[TextsPublic(question=q, answers=list(a)) for q, a in stage.texts],
    )


def _round(results: RoundResults, on: dt.date) -> RoundPublic:
    row = results.round
    return RoundPublic(
        id=row.id,
        title=row.title,
        opens_date=row.opens_date,
        closes_date=row.closes_date,
        state=round_state(row, on),
        min_answers=row.min_answers,
        invited=results.invited,
        invitations_used=results.invitations_used,
        partners=_stage(results.partners),
        people=_stage(results.people),
    )


@router.get("/partnerships/{slug}/evaluations", response_model=EvaluationsPublic)
def read_evaluations(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    as_at: Annotated[Date | None, Query(description="Rounds opened by this date (today)")] = None,
) -> EvaluationsPublic:
    """The voice of partners and of people who use services: the latest evaluation round's
    results by stage (totals only at or above the round's minimum number of answers), and the
    share agreeing with each statement, round by round."""
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise NotFound(f"No partnership with slug {slug!r}")
    require(principal.reads_partnership(partnership.id), "This partnership is not in your scope")
    on = as_at or settings.today()
    found = latest_results(session=session, partnership_id=row_id(partnership), on=on)
    return EvaluationsPublic(
        partnership=partnership.slug,
        latest=_round(found.latest, on) if found.latest else None,
        trend=[HeadlinePublic.model_validate(h, from_attributes=True) for h in found.trend],
    )
