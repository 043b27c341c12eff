"""What a partnership's outcome is the point of: the duties it discharges (every deliverable of
one), single deliverables, and the funding conditions it holds or bid for. An obligation's
outcome status is read from the outcomes that serve it (compliance.obligations.served).

Each thing is named by a key that reads in an API call as on a page: `duty:SLUG`,
`deliverable:DUTY-SLUG/SLUG` or `condition:STREAM-SLUG/SLUG`.
"""

from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.db import key_column, row_id
from compliance.errors import Refused
from compliance.models import (
    Bid,
    Deliverable,
    Duty,
    FundingCondition,
    FundingStream,
    Obligation,
    Outcome,
    OutcomeServes,
    PartnershipDuty,
)
from compliance.obligations.served import target_of


@dataclass(frozen=True)
class ServeChoice:
    """One thing an outcome may serve: its key, words for it, and which column it fills."""

    key: str
    label: str
    column: str  # "duty_id", "deliverable_id" or "condition_id"
    row_id: int


def serve_choices(*, session: Session, partnership_id: int) -> list[ServeChoice]:
    """What a partnership's outcome may serve, in the order a form lists them: each duty the
    partnership discharges and its deliverables, then the funding conditions it holds or bid
    for."""
    choices = []
    duties = session.exec(
        select(Duty)
        .join(PartnershipDuty, col(PartnershipDuty.duty_id) == Duty.id)
        .where(PartnershipDuty.partnership_id == partnership_id)
        .order_by(Duty.title)
    ).all()
    deliverables: dict[int, list[Deliverable]] = {}
    if duties:
        query = select(Deliverable).where(
            col(Deliverable.duty_id).in_([d.id for d in duties]),
            col(Deliverable.retired_in_version).is_(None),
        )
        for d in session.exec(query.order_by(col(Deliverable.id))):
            deliverables.setdefault(d.duty_id, []).append(d)
    for duty in duties:
        choices.append(
            ServeChoice(f"duty:{duty.slug}", f"{duty.title}: all of it", "duty_id", row_id(duty))
        )
        choices += [
            ServeChoice(
                f"deliverable:{duty.slug}/{d.slug}",
                f"{duty.title}: {d.title}",
                "deliverable_id",
                row_id(d),
            )
            for d in deliverables.get(row_id(duty), [])
        ]
    return choices + _condition_choices(session, partnership_id)


def _condition_choices(session: Session, partnership_id: int) -> list[ServeChoice]:
    bids = select(key_column(Bid)).where(Bid.partnership_id == partnership_id)
    held = select(Obligation.condition_id).where(
        col(Obligation.condition_id).is_not(None),
        or_(col(Obligation.partnership_id) == partnership_id, col(Obligation.bid_id).in_(bids)),
    )
    query = (
        select(FundingCondition, FundingStream)
        .join(FundingStream, col(FundingStream.id) == FundingCondition.stream_id)
        .where(col(FundingCondition.id).in_(held))
        .order_by(FundingStream.name, FundingCondition.title)
    )
    return [
        ServeChoice(
            f"condition:{stream.slug}/{c.slug}",
            f"{stream.name}: {c.title}",
            "condition_id",
            row_id(c),
        )
        for c, stream in session.exec(query)
    ]


def serves_of(*, session: Session, outcome: Outcome) -> list[str]:
    """The keys of what an outcome serves, in the order its partnership's form lists them."""
    if outcome.partnership_id is None:
        return []
    choices = serve_choices(session=session, partnership_id=outcome.partnership_id)
    served = serves_by_outcome(session=session, outcome_ids=[row_id(outcome)], choices=choices)
    return [c.key for c in served.get(row_id(outcome), [])]


def serves_by_outcome(
    *, session: Session, outcome_ids: list[int], choices: list[ServeChoice]
) -> dict[int, list[ServeChoice]]:
    """What each of a partnership's outcomes serves, from its choices, in their order."""
    if not outcome_ids:
        return {}
    links = session.exec(
        select(OutcomeServes).where(col(OutcomeServes.outcome_id).in_(outcome_ids))
    )
    chosen: dict[int, set[tuple[str, int]]] = {}
    for link in links:
        chosen.setdefault(link.outcome_id, set()).add(target_of(link))
    return {
        outcome_id: [c for c in choices if (c.column.removesuffix("_id"), c.row_id) in targets]
        for outcome_id, targets in chosen.items()
    }


def set_serves(*, session: Session, actor: str, outcome: Outcome, keys: list[str]) -> None:
    """Replace what a partnership's outcome serves with `keys`, audited before and after.
    Refused, changing nothing, for an obligation's own outcome (it serves its obligation) and
    for a key that is not one of the partnership's choices (each such key named)."""
    wanted = list(dict.fromkeys(keys))
    if outcome.partnership_id is None:
        if wanted:
            raise Refused(
                "an obligation's own outcome serves that obligation; only a partnership's "
                "outcome names what it serves",
                field="serves",
                status=422,
            )
        return
    choices = {
        c.key: c for c in serve_choices(session=session, partnership_id=outcome.partnership_id)
    }
    unknown = [k for k in wanted if k not in choices]
    if unknown:
        raise Refused(
            f"the partnership does not discharge or hold {', '.join(unknown)}: choose from its "
            "duties, their deliverables and its funding conditions",
            field="serves",
            status=422,
        )
    before = serves_of(session=session, outcome=outcome)
    if set(before) == set(wanted):
        return
    for link in session.exec(select(OutcomeServes).where(OutcomeServes.outcome_id == outcome.id)):
        session.delete(link)
    for key in wanted:
        choice = choices[key]
        session.add(OutcomeServes(outcome_id=row_id(outcome), **{choice.column: choice.row_id}))
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="outcome.serves_changed",
        entity_type="outcome",
        entity_id=outcome.id,
        before={"serves": before},
        after={"serves": [k for k in choices if k in wanted]},
    )
