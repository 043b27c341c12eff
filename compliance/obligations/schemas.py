"""What the obligations API gives: obligations with their periods and both status dimensions,
a page at a time, with examples from the Cornwall and Isles of Scilly demo area."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict
from sqlmodel import Session, col, select

from compliance.db import any_of, key_column, row_id
from compliance.models import Body, Partnership
from compliance.obligations.views import ObligationView
from compliance.outcomes.judgement import RULE, Across, Verdict

PERIOD_EXAMPLE: JsonDict = {
    "occurrence_id": 1187,
    "period_start_date": "2025-04-01",
    "period_end_date": "2026-03-31",
    "due_date": "2026-03-31",
    "status": "met",
    "evidence_ids": [9],
}
OBLIGATION_EXAMPLE: JsonDict = {
    "id": 2,
    "body_code": "E06000052",
    "partnership_slug": None,
    "source": "Co-operate with relevant partners on adult care and support (Care Act 2014 s6)",
    "source_slug": "care-act-2014-s6",
    "source_url": "https://www.legislation.gov.uk/ukpga/2014/23/section/6",
    "item": "Annual assurance: co-operation arrangements in place and working",
    "item_slug": "care-act-s6-cooperation-assurance",
    "cadence": "continuous",
    "verified": True,
    "due_basis": "a convention of this catalogue; no statutory date",
    "standing": True,
    "status": "met",
    "outcome_status": "no_outcome_defined",
    "outcomes_served_by": [],
    "fully_met": False,
    "next_due_date": "2025-03-31",
    "opened_date": "2024-04-01",
    "closed_date": None,
    "closed_reason": None,
    "not_applicable_reason": None,
    "periods": [
        PERIOD_EXAMPLE
        | {"period_start_date": "2024-04-01", "period_end_date": "2025-03-31"}
        | {"due_date": "2025-03-31", "status": "assurance_gap", "evidence_ids": []},
        PERIOD_EXAMPLE,
    ],
}


class PeriodPublic(BaseModel):
    """One period of an obligation's cadence, its own status, and the evidence that serves it."""

    model_config = ConfigDict(json_schema_extra={"examples": [PERIOD_EXAMPLE]})

    occurrence_id: int = Field(description="Give it as `occurrence_ids` when recording evidence")
    period_start_date: dt.date
    period_end_date: dt.date
    due_date: dt.date
    status: str
    evidence_ids: list[int] = Field(description="Current evidence (not withdrawn or superseded)")


class ServedByPublic(BaseModel):
    """An outcome an obligation's outcome status was read from."""

    outcome_id: int
    title: str
    status: str
    partnership_slug: str | None = Field(description="Null for the obligation's own outcome")


class ObligationPublic(BaseModel):
    """An obligation of one body or one partnership, with both status dimensions on a date."""

    model_config = ConfigDict(json_schema_extra={"examples": [OBLIGATION_EXAMPLE]})

    id: int
    body_code: str | None = Field(description="The body that holds it, if a body does")
    partnership_slug: str | None = Field(description="The partnership that holds it, if one does")
    source: str
    source_slug: str
    source_url: str
    item: str
    item_slug: str
    cadence: str
    verified: bool
    due_basis: str = Field(
        description="Where the due dates come from: 'set by' the law or funding condition that "
        "fixes them, or a convention of this catalogue (a missed one is an assurance gap, never "
        "overdue)"
    )
    standing: bool = Field(
        description="A continuing, standing or per-case duty, judged by its latest assurance"
    )
    status: str = Field(
        description="overdue (a statutory or funding date passed without evidence), "
        "evidence_expired, assurance_gap, due_soon, met, not_yet_due, before_tracking or "
        "not_applicable"
    )
    outcome_status: str = Field(
        description="Outcomes for people on the date, from the outcomes linked to it only, "
        "worst first: no_outcome_defined (no outcome linked to it), "
        "not_measured (nothing in 12 months), worsening, too_few_measurements (fewer than 3 in "
        "3 years), no_change or improving; a trend is a Theil–Sen slope read against the "
        "indicator's polarity and a noise band"
    )
    outcomes_served_by: list[ServedByPublic] = Field(
        description="The outcomes the outcome status was read from: its own, and those of the "
        "partnerships behind it that name its duty, deliverable or funding condition as what "
        "they serve. Empty: no outcome is linked, and outcome_status is no_outcome_defined"
    )
    fully_met: bool
    next_due_date: dt.date | None
    opened_date: dt.date = Field(
        description="Tracked from: periods due before it are before_tracking and raise nothing"
    )
    closed_date: dt.date | None
    closed_reason: str | None
    not_applicable_reason: str | None
    periods: list[PeriodPublic]


class ObligationPage(BaseModel):
    """One page of obligations; pass `next_cursor` as `cursor` for the next (null: the last)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [OBLIGATION_EXAMPLE], "next_cursor": "WzJd"}]}
    )

    items: list[ObligationPublic]
    next_cursor: str | None


class ObligationDetailPublic(ObligationPublic):
    """An obligation with who holds it and what evidence the source asks for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                OBLIGATION_EXAMPLE
                | {
                    "holder_name": "Cornwall Council",
                    "due_note": "Assured each financial year",
                    "typical_evidence": ["Partnership agreements", "Board minutes"],
                }
            ]
        }
    )

    holder_name: str
    due_note: str | None
    typical_evidence: list[str]


def obligation_items(session: Session, views: list[ObligationView]) -> list[dict[str, Any]]:
    """Obligations as the API shows them (ObligationPublic's fields, in its order, as plain
    data), their holders' codes looked up together."""
    body_ids = {v.obligation.body_id for v in views if v.obligation.body_id}
    partnership_ids = {v.obligation.partnership_id for v in views if v.obligation.partnership_id}
    codes = (
        dict(
            session.exec(
                select(key_column(Body), Body.code).where(any_of(col(Body.id), body_ids))
            ).all()
        )
        if body_ids
        else {}
    )
    slugs = (
        dict(
            session.exec(
                select(key_column(Partnership), Partnership.slug).where(
                    any_of(col(Partnership.id), partnership_ids)
                )
            ).all()
        )
        if partnership_ids
        else {}
    )
    return [_public(v, codes, slugs) for v in views]


def _public(view: ObligationView, codes: dict, slugs: dict) -> dict[str, Any]:
    # Plain data, not models: every field comes typed from the judgement, and building a model
    # for each of thousands of obligations and periods was a fifth of a whole listing's time.
    # tests/test_api_registry.py compares what this gives with ObligationPublic, field by field.
    o = view.obligation
    return {
        "id": row_id(o),
        "body_code": codes.get(o.body_id),
        "partnership_slug": slugs.get(o.partnership_id),
        "source": view.source_title,
        "source_slug": view.source_slug,
        "source_url": view.source_url,
        "item": view.item_title,
        "item_slug": view.item_slug,
        "cadence": view.cadence,
        "verified": view.verified,
        "due_basis": view.basis.words,
        "standing": view.basis.standing,
        "status": view.status,
        "outcome_status": view.outcome,
        "outcomes_served_by": [
            {
                "outcome_id": s.outcome_id,
                "title": s.title,
                "status": s.status,
                "partnership_slug": s.partnership_slug,
            }
            for s in view.served_by
        ],
        "fully_met": view.fully_met,
        "next_due_date": view.next_due,
        "opened_date": o.opened_date,
        "closed_date": o.closed_date,
        "closed_reason": o.closed_reason,
        "not_applicable_reason": o.not_applicable_reason,
        "periods": [
            {
                "occurrence_id": p.occurrence.id,
                "period_start_date": p.occurrence.period_start_date,
                "period_end_date": p.occurrence.period_end_date,
                "due_date": p.occurrence.due_date,
                "status": p.status,
                "evidence_ids": list(p.evidence_ids),
            }
            for p in view.periods
        ],
    }


# The judgement of what changes for people -----------------------------------------------------

REASON_EXAMPLE: JsonDict = {
    "partnership_slug": "cios-safeguarding-adults-board",
    "partnership": "Cornwall and Isles of Scilly Safeguarding Adults Board",
    "outcome_id": 1,
    "outcome": "Adults at risk are safer and get the outcomes they wanted",
    "indicator_id": 1,
    "indicator": "Concluded s42 enquiries where desired outcomes were achieved",
    "status": "improving",
    "method": "Theil–Sen slope over 3 measurements, 31 Mar 2024 – 31 Mar 2026: +1.25 % a year, "
    "a change of +2.5 % against a noise band of ±0.6 %; higher is better",
    "source": "indicator",
}
JUDGEMENT_EXAMPLE: JsonDict = {
    "verdict": "improving",
    "words": "Improving things for people",
    "rule": RULE,
    "counts": {"worsening": 0, "cannot_judge": 0, "no_change": 0, "improving": 1},
    "partnerships": [
        {
            "slug": "cios-safeguarding-adults-board",
            "name": "Cornwall and Isles of Scilly Safeguarding Adults Board",
            "verdict": "improving",
            "words": "Improving things for people",
        }
    ],
    "reasons": [REASON_EXAMPLE],
}


class JudgementReason(BaseModel):
    """One indicator of one outcome behind a judgement, with how it was judged."""

    model_config = ConfigDict(json_schema_extra={"examples": [REASON_EXAMPLE]})

    partnership_slug: str
    partnership: str
    outcome_id: int | None = Field(description="Null when the partnership records no outcome")
    outcome: str | None
    indicator_id: int | None = Field(description="Null when the outcome has no indicator")
    indicator: str | None
    status: str = Field(description="The outcome status of the indicator on the date")
    method: str = Field(description="The trend method and window, or why it cannot be judged")
    source: str = Field(
        description="indicator (an outcome's indicator, or its absence) or voices (the latest "
        "evaluation round's answers from people who use services; outcome and indicator_id null)"
    )


class PartnershipVerdict(BaseModel):
    slug: str
    name: str
    verdict: Verdict
    words: str


class JudgementPublic(BaseModel):
    """What changes for people, judged from the partnerships' outcomes, shown before process."""

    model_config = ConfigDict(json_schema_extra={"examples": [JUDGEMENT_EXAMPLE]})

    verdict: Verdict = Field(
        description="worsening ('Getting worse for people'), cannot_judge ('Cannot judge: no "
        "outcomes measured'), no_change ('No change yet') or improving ('Improving things for "
        "people')"
    )
    words: str
    rule: str = Field(description="How the judgement is reached")
    counts: dict[str, int] = Field(description="How many partnerships have each judgement")
    partnerships: list[PartnershipVerdict] = Field(description="Worst first")
    reasons: list[JudgementReason] = Field(description="Each partnership's reasons, worst first")


def judgement_public(judged: Across) -> JudgementPublic:
    """A judgement (of one partnership, or across several) as the API gives it."""
    return JudgementPublic(
        verdict=judged.verdict,
        words=judged.words,
        rule=RULE,
        counts=judged.counts,
        partnerships=[
            PartnershipVerdict(slug=p.slug, name=p.name, verdict=p.verdict, words=p.words)
            for p in judged.partnerships
        ],
        reasons=[
            JudgementReason(
                partnership_slug=p.slug,
                partnership=p.name,
                outcome_id=r.outcome_id,
                outcome=r.outcome,
                indicator_id=r.indicator_id,
                indicator=r.indicator,
                status=r.status,
                method=r.method,
                source=r.source,
            )
            for p in judged.partnerships
            for r in p.reasons
        ],
    )
