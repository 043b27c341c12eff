"""The Cornwall and Isles of Scilly demo area, loaded from seed_data/demo/ (idempotent)."""

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from compliance.accounts.service import hash_password
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty
from compliance.config import Settings
from compliance.evidence.service import EvidenceCreate, record
from compliance.models import (
    Bid,
    BidApplicant,
    Body,
    Deliverable,
    Evidence,
    FundingCondition,
    FundingStream,
    Indicator,
    Measurement,
    Obligation,
    Occurrence,
    Outcome,
    Partnership,
    Risk,
    User,
    UserScope,
)
from compliance.obligations.service import backfill, sync_obligations
from compliance.partnerships.service import discharge, get_partnership, join

DEMO_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "demo" / "cornwall.yaml"


class DemoError(Exception):
    """The demo file refers to something that does not exist."""


def load_demo(*, session: Session, settings: Settings, path: Path = DEMO_FILE) -> str:
    """Load the demo area; running it again adds nothing. Returns a summary."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    users = {u["email"]: _user(session, u) for u in data["users"]}
    for item in data["bodies"]:
        _body(session, item)
    session.flush()
    _successors(session, data["bodies"])
    for item in data["partnerships"]:
        _partnership(session, item, users)
    for item in data["bids"]:
        _bid(session, item)
    for item in data["users"]:
        _scopes(session, users[item["email"]], item)
    track_from = dt.date.fromisoformat(str(data["track_from"]))
    sync_obligations(session=session, on=settings.today(), track_from=track_from)
    # The demo tells two years of history, for its own bodies and partnerships only.
    backfill(
        session=session,
        track_from=track_from,
        until=settings.today(),
        body_ids={_require_body(session, item["code"]).id for item in data["bodies"]},
        partnership_ids={
            get_partnership(session=session, slug=p["slug"]).id for p in data["partnerships"]
        },
    )
    for exemption in data.get("not_applicable", []):
        _not_applicable(session, exemption)
    added = sum(_evidence(session, settings, item, users) for item in data["evidence"])
    return (
        f"Demo area loaded: {len(data['bodies'])} bodies, "
        f"{len(data['partnerships'])} partnerships, "
        f"{len(data['bids'])} bid(s), {added} new evidence record(s).\n"
        f"Demo sign-ins (password {DEMO_PASSWORD}): "
        + ", ".join(f"{u['email']} ({u['role']})" for u in data["users"])
    )


def _first(session: Session, model: type, **where: Any) -> Any:
    query = select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return session.exec(query).first()


DEMO_PASSWORD = "demo-password-2026"


def _user(session: Session, item: dict) -> User:
    user = _first(session, User, email=item["email"])
    if user is None:
        user = User(email=item["email"], name=item["name"], role=item["role"])
        session.add(user)
        session.flush()
    if user.password_hash is None:
        # Demo sign-ins only: a known password, printed by `compliance demo`.
        user.password_hash = hash_password(DEMO_PASSWORD)
    return user


def _body(session: Session, item: dict) -> Body:
    body = get_body(session=session, code=item["code"])
    fields = {k: v for k, v in item.items() if k not in {"parent_code", "successor_code"}}
    if body is None:
        body = Body(**fields)
        session.add(body)
    else:
        for name, value in fields.items():
            setattr(body, name, value)
    session.flush()
    if item.get("parent_code"):
        body.parent_id = _require_body(session, item["parent_code"]).id
    return body


def _successors(session: Session, items: list[dict]) -> None:
    for item in items:
        if item.get("successor_code"):
            body = _require_body(session, item["code"])
            body.successor_id = _require_body(session, item["successor_code"]).id


def _require_body(session: Session, code: str) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise DemoError(f"no body with code {code}")
    return body


def _partnership(session: Session, item: dict, users: dict[str, User]) -> Partnership:
    partnership = get_partnership(session=session, slug=item["slug"])
    if partnership is None:
        partnership = Partnership(slug=item["slug"], name=item["name"], form=item["form"])
        session.add(partnership)
    partnership.name, partnership.form = item["name"], item["form"]
    partnership.description = item.get("description")
    partnership.start_date = item.get("start_date")
    partnership.lead_body_id = _require_body(session, item["lead"]).id
    session.flush()
    for member in item["members"]:
        join(
            session=session,
            partnership=partnership,
            body=_require_body(session, member["code"]),
            role=member["role"],
        )
    for slug in item["duties"]:
        duty = get_duty(session=session, slug=slug)
        if duty is None:
            raise DemoError(f"partnership {item['slug']}: no duty {slug} in the catalogue")
        discharge(session=session, partnership=partnership, duty=duty)
    for outcome in item.get("outcomes", []):
        _outcome(session, partnership, outcome, users)
    for risk in item.get("risks", []):
        if _first(session, Risk, partnership_id=partnership.id, title=risk["title"]) is None:
            session.add(Risk(partnership_id=partnership.id, **risk))
    session.flush()
    return partnership


def _outcome(
    session: Session, partnership: Partnership, item: dict, users: dict[str, User]
) -> None:
    outcome = _first(session, Outcome, partnership_id=partnership.id, title=item["title"])
    if outcome is None:
        outcome = Outcome(
            partnership_id=partnership.id, title=item["title"], description=item.get("description")
        )
        session.add(outcome)
        session.flush()
    for spec in item["indicators"]:
        fields = {k: v for k, v in spec.items() if k != "measurements"}
        indicator = _first(session, Indicator, outcome_id=outcome.id, name=spec["name"])
        if indicator is None:
            indicator = Indicator(outcome_id=outcome.id, **fields)
            session.add(indicator)
            session.flush()
        for m in spec["measurements"]:
            if (
                _first(session, Measurement, indicator_id=indicator.id, measured_date=m["date"])
                is None
            ):
                recorder = users.get(m.get("recorded_by", ""))
                session.add(
                    Measurement(
                        indicator_id=indicator.id,
                        measured_date=m["date"],
                        value=m["value"],
                        source=m["source"],
                        recorded_by_id=recorder and recorder.id,
                    )
                )
    session.flush()


def _bid(session: Session, item: dict) -> Bid:
    stream = _first(session, FundingStream, slug=item["stream"])
    if stream is None:
        raise DemoError(f"bid {item['reference']}: no funding stream {item['stream']}")
    bid = _first(session, Bid, reference=item["reference"])
    if bid is None:
        lead = _require_body(session, item["lead"])
        bid = Bid(
            reference=item["reference"],
            title=item["title"],
            stream_id=stream.id,
            lead_body_id=lead.id,
            submitted_date=item.get("submitted_date"),
        )
        if item.get("partnership"):
            bid.partnership_id = get_partnership(session=session, slug=item["partnership"]).id
        session.add(bid)
        session.flush()
    for applicant in item["applicants"]:
        body = _require_body(session, applicant["code"])
        if session.get(BidApplicant, (bid.id, body.id)) is None:
            session.add(BidApplicant(bid_id=bid.id, body_id=body.id, role=applicant["role"]))
    session.flush()
    return bid


def _scopes(session: Session, user: User, item: dict) -> None:
    for code in item.get("bodies", []):
        body = _require_body(session, code)
        if _first(session, UserScope, user_id=user.id, body_id=body.id) is None:
            session.add(UserScope(user_id=user.id, body_id=body.id))
    for slug in item.get("partnerships", []):
        partnership = get_partnership(session=session, slug=slug)
        if _first(session, UserScope, user_id=user.id, partnership_id=partnership.id) is None:
            session.add(UserScope(user_id=user.id, partnership_id=partnership.id))
    session.flush()


def _evidence(session: Session, settings: Settings, item: dict, users: dict[str, User]) -> int:
    if _first(session, Evidence, title=item["title"], effective_date=item["effective_date"]):
        return 0
    data = EvidenceCreate(
        kind=item["kind"],
        title=item["title"],
        description=item.get("description"),
        effective_date=item["effective_date"],
        period_start_date=item.get("period_start"),
        period_end_date=item.get("period_end"),
        review_by_date=item.get("review_by"),
        url=item.get("url"),
        occurrence_ids=[_occurrence(session, target).id for target in item["serves"]],
    )
    content = item["text"].encode("utf-8") if "text" in item else None
    record(
        session=session,
        data_dir=settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        actor=users[item["recorded_by"]],
        data=data,
        content=content,
        file_name=item.get("file_name"),
        # The demo tells a history: each record was made on the day it speaks for.
        recorded_at=dt.datetime.combine(item["effective_date"], dt.time(12), tzinfo=dt.UTC),
    )
    return 1


def _not_applicable(session: Session, target: dict) -> None:
    obligation = _first(session, Obligation, key=_obligation_key(session, target))
    if obligation is None:
        raise DemoError(f"no obligation for {target}")
    obligation.not_applicable_reason = target["reason"]


def _occurrence(session: Session, target: dict) -> Occurrence:
    key = _obligation_key(session, target)
    obligation = _first(session, Obligation, key=key)
    if obligation is None:
        raise DemoError(f"no obligation {key} for evidence target {target}")
    start = target["period_start"]
    occurrence = _first(session, Occurrence, obligation_id=obligation.id, period_start_date=start)
    if occurrence is None:
        raise DemoError(f"obligation {key} has no period starting {start}")
    return occurrence


def _obligation_key(session: Session, target: dict) -> str:
    if "bid" in target:
        bid = _first(session, Bid, reference=target["bid"])
        stream = session.get(FundingStream, bid.stream_id)
        condition = _first(session, FundingCondition, stream_id=stream.id, slug=target["condition"])
        return f"bid:{bid.id}:condition:{condition.id}"
    duty = get_duty(session=session, slug=target["duty"])
    deliverable = _first(session, Deliverable, duty_id=duty.id, slug=target["deliverable"])
    if deliverable is None:
        raise DemoError(f"duty {target['duty']} has no deliverable {target['deliverable']}")
    if "partnership" in target:
        partnership = get_partnership(session=session, slug=target["partnership"])
        return f"partnership:{partnership.id}:deliverable:{deliverable.id}"
    return f"body:{_require_body(session, target['body']).id}:deliverable:{deliverable.id}"
