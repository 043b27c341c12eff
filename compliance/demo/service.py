"""The Cornwall and Isles of Scilly demo area, loaded from seed_data/demo/ (idempotent)."""

import copy
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from compliance.accounts.service import hash_password
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty, parse_yaml
from compliance.config import Settings
from compliance.db import row_id, stored
from compliance.evaluations.models import EvaluationRound
from compliance.evaluations.questions import read_people_answer
from compliance.evaluations.service import (
    DEFAULT_MIN_ANSWERS,
    RoundCreate,
    create_round,
    enter_session_answer,
)
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
    Outcome,
    Partnership,
    Period,
    Risk,
    User,
    UserScope,
)
from compliance.obligations.service import backfill, sync_obligations
from compliance.outcomes.serves import set_serves
from compliance.partnerships.service import VALUE_FIELDS, discharge, get_partnership, join
from compliance.reminders.models import ReminderSetting
from compliance.reminders.preferences import set_body_reminders

DEMO_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "demo" / "cornwall.yaml"


class DemoError(Exception):
    """The demo file refers to something that does not exist."""


def load_demo(*, session: Session, settings: Settings, path: Path = DEMO_FILE) -> str:
    """Load the demo area as its story stands today; running it again in the same financial
    year adds nothing. Returns a summary.

    The file's dates are written for its `written_for` day; loaded in another financial year,
    every date (and every year named in an evidence or measurement text) moves by the whole
    years between, so that each record keeps its period and the area always has two to three
    years of history. Bids and records serving only bids keep their written dates. Nothing
    dated after today is loaded. See the file's header.
    """
    written = parse_yaml(path.read_text(encoding="utf-8"))
    story = Story.of(written, today=settings.today())
    data = story.retell(written)
    users = {u["email"]: _user(session, u) for u in data["users"]}
    for item in data["bodies"]:
        _body(session, item)
    session.flush()
    _successors(session, data["bodies"])
    _contacts(session, data.get("contacts", {}))
    for item in data["partnerships"]:
        _partnership(session, item, users, settings.today())
    for item in data["bids"]:
        _bid(session, item)
    for item in data["users"]:
        _scopes(session, users[item["email"]], item)
    track_from = data["track_from"]
    sync_obligations(session=session, on=settings.today(), track_from=track_from)
    # The demo tells two years of history, for its own bodies and partnerships only.
    backfill(
        session=session,
        track_from=track_from,
        until=settings.today(),
        body_ids={row_id(_require_body(session, item["code"])) for item in data["bodies"]},
        partnership_ids={
            row_id(_require_partnership(session, p["slug"])) for p in data["partnerships"]
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


def demo_story(*, today: dt.date, path: Path = DEMO_FILE) -> "Story":
    """The demo's story as `load_demo` tells it on `today`: its `date` and `text` move what the
    file says to what was loaded."""
    return Story.of(parse_yaml(path.read_text(encoding="utf-8")), today=today)


def financial_year(day: dt.date) -> int:
    """The year in which the April-to-March year holding a day starts."""
    return day.year if day.month >= 4 else day.year - 1


def move(day: dt.date, years: int) -> dt.date:
    """The same day some whole years later (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# A year in a text, a financial year such as 2024-25 or a span such as 2024-27, or a date.
_YEARS = re.compile(r"(?<!\d)(20\d\d)(?:-(\d\d)(-\d\d)?)?(?!\d)")


@dataclass(frozen=True)
class Story:
    """The demo's story, written for one day, told in the financial year of another."""

    years: int
    today: dt.date
    # Years named in texts that move with the story; older ones are Acts and regulations.
    first_year: int
    last_year: int

    @classmethod
    def of(cls, written: dict, *, today: dt.date) -> "Story":
        """The story of a demo file, told on `today`."""
        written_for = _date(written["written_for"])
        years = financial_year(today) - financial_year(written_for)
        first = _date(written["track_from"]).year - 2
        return cls(years, today, first, written_for.year + 1)

    def date(self, written: Any) -> dt.date:
        """A written date, moved with the story."""
        return move(_date(written), self.years)

    def text(self, written: str) -> str:
        """A text whose years in the story move with it ("2024-25" becomes "2025-26")."""

        def moved(match: re.Match) -> str:
            year, second, rest = int(match[1]), match[2], match[3]
            if not self.first_year <= year <= self.last_year:
                return match[0]
            if rest:  # a date, 2025-10-02
                return f"{year + self.years}-{second}{rest}"
            if second:  # a span of years, 2024-25
                return f"{year + self.years}-{(int(second) + self.years) % 100:02d}"
            return str(year + self.years)

        return _YEARS.sub(moved, written)

    def retell(self, written: dict) -> dict:
        """The demo file's data with its dates and texts moved and its future left out."""
        data = copy.deepcopy(written)
        data["track_from"] = self.date(data["track_from"])
        for partnership in data["partnerships"]:
            for evaluation in partnership.get("evaluations", []):
                for name in ("opens", "closes"):
                    evaluation[name] = self.date(evaluation[name])
                evaluation["title"] = self.text(evaluation["title"])
            value = partnership.get("value") or {}
            for name in ("costs_as_at_date", "continuation_decided_date", "continuation_due_date"):
                if value.get(name):
                    value[name] = self.date(value[name])
            for outcome in partnership.get("outcomes", []):
                for indicator in outcome["indicators"]:
                    self._indicator(indicator)
        retold = (self._evidence(item) for item in data["evidence"])
        data["evidence"] = [item for item in retold if item["effective_date"] <= self.today]
        return data

    def _indicator(self, indicator: dict) -> None:
        for name in ("baseline_date", "target_date"):
            if indicator.get(name):
                indicator[name] = self.date(indicator[name])
        measured = [
            m | {"date": self.date(m["date"]), "source": self.text(m["source"])}
            for m in indicator["measurements"]
        ]
        indicator["measurements"] = [m for m in measured if m["date"] <= self.today]

    def _evidence(self, item: dict) -> dict:
        duties = [target for target in item["serves"] if "bid" not in target]
        if not duties or self.years == 0:
            return item  # only bids, which keep their dates (or the story as written)
        moved = {
            name: self.date(item[name])
            for name in ("effective_date", "period_start", "period_end", "review_by")
            if item.get(name)
        }
        texts = {
            name: self.text(item[name])
            for name in ("title", "description", "text", "file_name")
            if item.get(name)
        }
        serves = [t | {"period_start": self.date(t["period_start"])} for t in duties]
        return item | moved | texts | {"serves": serves}


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _first(session: Session, model: type, **where: Any) -> Any:
    query: Any = select(model)
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


def _contacts(session: Session, contacts: dict[str, dict]) -> None:
    """Each body's contact mailbox and its senior responsible officer."""
    for code, contact in contacts.items():
        body = _require_body(session, code)
        body.email = contact["email"]
        setting = session.get(ReminderSetting, body.id)
        wanted = (contact["sro_name"], contact["sro_email"])
        if setting is None or (setting.sro_name, setting.sro_email) != wanted:
            set_body_reminders(
                session=session,
                actor="demo",
                body_id=row_id(body),
                reminder_days=setting.reminder_days if setting else None,
                sro_name=contact["sro_name"],
                sro_email=contact["sro_email"],
            )
    session.flush()


def _require_body(session: Session, code: str) -> Body:
    body = get_body(session=session, code=code)
    if body is None:
        raise DemoError(f"no body with code {code}")
    return body


def _require_partnership(session: Session, slug: str) -> Partnership:
    partnership = get_partnership(session=session, slug=slug)
    if partnership is None:
        raise DemoError(f"no partnership {slug}")
    return partnership


def _partnership(
    session: Session, item: dict, users: dict[str, User], today: dt.date
) -> Partnership:
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
    # Why it exists, what it costs and gains, and when partners decide whether it continues.
    for name, value in (item.get("value") or {}).items():
        if name not in VALUE_FIELDS:
            raise DemoError(f"partnership {item['slug']}: no value field {name}")
        setattr(partnership, name, value)
    for evaluation in item.get("evaluations", []):
        _evaluation(session, partnership, evaluation, today)
    for risk in item.get("risks", []):
        if _first(session, Risk, partnership_id=partnership.id, title=risk["title"]) is None:
            session.add(Risk(partnership_id=row_id(partnership), **risk))
    session.flush()
    return partnership


def _evaluation(session: Session, partnership: Partnership, item: dict, today: dt.date) -> None:
    """An evaluation round with the answers people gave at sessions (illustrative), read
    through the same form reader and service as the pages; loaded once."""
    if _first(session, EvaluationRound, partnership_id=partnership.id, title=item["title"]):
        return
    data = RoundCreate(
        title=item["title"],
        opens_date=item["opens"],
        closes_date=item["closes"],
        min_answers=item.get("min_answers", DEFAULT_MIN_ANSWERS),
    )
    row = create_round(
        session=session, actor="demo", partnership_id=row_id(partnership), data=data, today=today
    )
    for number, form in enumerate(item.get("session_answers", []), start=1):
        answer = read_people_answer({k: str(v) for k, v in form.items()}, has_outcomes=True)
        if answer.errors:
            raise DemoError(f"evaluation {item['title']}: answer {number}: {answer.errors}")
        enter_session_answer(session=session, actor="demo", row=row, answer=answer, today=today)


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
    # What the outcome is the point of (compliance/outcomes/serves.py): its duty's obligations
    # read their outcome status from it.
    set_serves(session=session, actor="demo", outcome=outcome, keys=item.get("serves", []))
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
                        recorded_by_id=recorder.id if recorder else None,
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
            lead_body_id=row_id(lead),
            submitted_date=item.get("submitted_date"),
        )
        if item.get("partnership"):
            bid.partnership_id = row_id(_require_partnership(session, item["partnership"]))
        session.add(bid)
        session.flush()
    for applicant in item["applicants"]:
        body = _require_body(session, applicant["code"])
        if session.get(BidApplicant, (bid.id, body.id)) is None:
            session.add(BidApplicant(bid_id=bid.id, body_id=row_id(body), role=applicant["role"]))
    session.flush()
    return bid


def _scopes(session: Session, user: User, item: dict) -> None:
    for code in item.get("bodies", []):
        body = _require_body(session, code)
        if _first(session, UserScope, user_id=user.id, body_id=body.id) is None:
            session.add(UserScope(user_id=row_id(user), body_id=body.id))
    for slug in item.get("partnerships", []):
        partnership = _require_partnership(session, slug)
        if _first(session, UserScope, user_id=user.id, partnership_id=partnership.id) is None:
            session.add(UserScope(user_id=row_id(user), partnership_id=partnership.id))
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


def _occurrence(session: Session, target: dict) -> Period:
    key = _obligation_key(session, target)
    obligation = _first(session, Obligation, key=key)
    if obligation is None:
        raise DemoError(f"no obligation {key} for evidence target {target}")
    start = target["period_start"]
    occurrence = _first(session, Period, obligation_id=obligation.id, period_start_date=start)
    if occurrence is None:
        raise DemoError(f"obligation {key} has no period starting {start}")
    return occurrence


def _obligation_key(session: Session, target: dict) -> str:
    if "bid" in target:
        bid = _first(session, Bid, reference=target["bid"])
        stream = stored(session, FundingStream, bid.stream_id)
        condition = _first(session, FundingCondition, stream_id=stream.id, slug=target["condition"])
        return f"bid:{bid.id}:condition:{condition.id}"
    duty = get_duty(session=session, slug=target["duty"])
    if duty is None:
        raise DemoError(f"no duty {target['duty']}")
    deliverable = _first(session, Deliverable, duty_id=duty.id, slug=target["deliverable"])
    if deliverable is None:
        raise DemoError(f"duty {target['duty']} has no deliverable {target['deliverable']}")
    if "partnership" in target:
        partnership = _require_partnership(session, target["partnership"])
        return f"partnership:{partnership.id}:deliverable:{deliverable.id}"

    return f"body:{_require_body(session, target['body']).id}:deliverable:{deliverable.id}"
