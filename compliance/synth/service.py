"""Synthetic English registries for load tests and benchmarks, loaded in bulk.

Rows go in as executemany batches rather than object by object, so that 1,000 bodies load in
seconds; obligations and their periods come from the real sync_obligations, as they would for
an imported register. Codes start SYN- so that they can never clash with ONS or ODS codes.
"""

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.db import key_column, row_id
from compliance.errors import Refused
from compliance.evidence import files
from compliance.models import (
    Body,
    Deliverable,
    Duty,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    Indicator,
    Measurement,
    Obligation,
    Outcome,
    Partnership,
    PartnershipDuty,
    PartnershipMember,
    Period,
    Risk,
    User,
)
from compliance.obligations.service import sync_obligations

CODE_PREFIX = "SYN-"
NOTE = "Synthetic: generated for tests and benchmarks, not a real organisation."

# England's public bodies per 1,000 (rounded from the ONS, NHS and Home Office registers),
# with how a body of each kind is named.
KINDS = {
    "county_council": (21, "{} County Council"),
    "district_council": (164, "{} District Council"),
    "unitary_authority": (62, "{} Council"),
    "metropolitan_district": (36, "{} Metropolitan Borough Council"),
    "london_borough": (33, "London Borough of {}"),
    "integrated_care_board": (42, "NHS {} Integrated Care Board"),
    "nhs_trust": (80, "{} Hospitals NHS Trust"),
    "nhs_foundation_trust": (120, "{} NHS Foundation Trust"),
    "police_force": (39, "{} Police"),
    "police_and_crime_commissioner": (39, "{} Police and Crime Commissioner"),
    "probation_service": (40, "{} Probation Delivery Unit"),
    "fire_and_rescue_authority": (44, "{} Fire and Rescue Authority"),
    "youth_offending_team": (150, "{} Youth Justice Service"),
    "healthwatch": (65, "Healthwatch {}"),
    "voluntary_organisation": (65, "{} Council for Voluntary Service"),
}
UPPER_TIER = ("county_council", "unitary_authority", "metropolitan_district", "london_borough")
PLACE_STARTS = ("Ash", "Brack", "Cold", "Dun", "Elm", "Fern", "Glen", "Hart", "Ivy", "Kings")
PLACE_ENDS = ("ford", "ley", "ton", "bury", "field", "wick", "ham", "mouth", "borough", "stead")


@dataclass(frozen=True)
class Board:
    """A partnership every upper-tier council has, the duty it discharges and its aims."""

    tag: str
    name: str
    duty: str
    partners: list[str]
    # Outcome title: [[indicator name, unit, direction], ...]
    outcomes: dict[str, list[list[str]]]


BOARDS = tuple(
    Board(**board)
    for board in yaml.safe_load("""
- tag: sab
  name: Safeguarding Adults Board
  duty: care-act-2014-s42-s45
  partners: [integrated_care_board, police_force, nhs_provider]
  outcomes:
    Adults at risk are safer and get the outcomes they wanted:
      - [Concluded s42 enquiries with desired outcomes achieved, "%", increase]
      - [Repeat safeguarding concerns within 12 months, "%", decrease]
    People in care homes are protected from avoidable harm:
      - [Care homes rated good or outstanding for safety, "%", increase]
      - ["Enquiries about care homes per 1,000 beds", "per 1,000", decrease]
- tag: scp
  name: Safeguarding Children Partnership
  duty: children-act-2004-s16e
  partners: [integrated_care_board, police_force, youth_offending_team]
  outcomes:
    Children protected by a plan are not harmed again:
      - [Re-referrals to children's social care within 12 months, "%", decrease]
      - [Second or subsequent child protection plans, "%", decrease]
    Children at risk of exploitation are found and helped early:
      - [Return home interviews held within 72 hours, "%", increase]
      - ["Missing episodes per 1,000 children", "per 1,000", decrease]
- tag: hwb
  name: Health and Wellbeing Board
  duty: hsca-2012-s194
  partners: [integrated_care_board, healthwatch, nhs_provider]
  outcomes:
    People live longer in good health:
      - [Healthy life expectancy at birth, years, increase]
      - [Smoking prevalence in adults, "%", decrease]
    People leave hospital without delay when they are ready:
      - [Discharges on the day the patient is ready, "%", increase]
      - [Average delay for patients ready to leave, days, decrease]
- tag: csp
  name: Community Safety Partnership
  duty: cda-1998-s5-s6
  partners: [police_force, fire_and_rescue_authority, probation_service,
             integrated_care_board, police_and_crime_commissioner]
  outcomes:
    Fewer people are victims of violence:
      - [Violence with injury, "per 1,000", decrease]
      - [Repeat victims of domestic abuse, "%", decrease]
    Young people are diverted from offending:
      - [First-time entrants to the youth justice system, "per 100,000", decrease]
      - [Proven reoffending by young people, "%", decrease]
""")
)
ROLES = {
    "council": "Local authority (lead)",
    "district_council": "District council (responsible authority)",
    "integrated_care_board": "Integrated care board",
    "police_force": "Chief officer of police",
    "nhs_provider": "NHS provider",
    "youth_offending_team": "Youth justice service",
    "healthwatch": "Local Healthwatch",
    "fire_and_rescue_authority": "Fire and rescue authority",
    "probation_service": "Probation service",
    "police_and_crime_commissioner": "Police and crime commissioner",
}
RISKS = (
    ("cost", "Senior time on boards and sub-groups exceeds what partners can spare"),
    ("risk", "Partners' data arrive too late for the annual report"),
    ("risk", "The independent chair's term ends without a successor"),
    ("negative", "Families are assessed several times by different partners"),
    ("cost", "An overspend on joint services falls on the council alone"),
    ("risk", "Attendance by health partners has fallen"),
)
UNIT_RANGES = {
    "%": (40.0, 90.0),
    "per 1,000": (5.0, 40.0),
    "per 100,000": (150.0, 400.0),
    "years": (58.0, 66.0),
    "days": (2.0, 10.0),
}
# Real registers are imperfect: a few boards lack a member, a few records are past review,
# a few are queried by inspectors. These rates keep every rule firing somewhere.
MEMBER_GAP_RATE = 0.03
PAST_REVIEW_RATE = 0.03
FUTURE_REVIEW_RATE = 0.40
FILE_RATE = 0.02
ATTESTATION_RATE = 0.03
QUERY_RATE = 0.01
ACCEPT_RATE = 0.02
ATTESTATION = "Signed statement by the responsible officer (synthetic)."
MINUTES = b"Minutes of the partnership board (synthetic test document).\nAll present.\n"


@dataclass
class _Load:
    """One load in progress: where it writes, its dice, and what it has made so far."""

    session: Session
    rng: random.Random
    on: dt.date
    ids: dict[str, list[int]] = field(default_factory=dict)
    # ("body", id) or ("partnership", id): the lower-case code or slug, for addresses.
    labels: dict[tuple[str, int], str] = field(default_factory=dict)
    places: dict[int, str] = field(default_factory=dict)
    districts: dict[int, list[int]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    officer: int = 0
    inspector: int = 0
    file: dict = field(default_factory=dict)

    def pool(self, kind: str) -> list[int]:
        if kind == "nhs_provider":
            return self.ids["nhs_trust"] + self.ids["nhs_foundation_trust"]
        return self.ids[kind]


def kind_counts(*, bodies: int) -> dict[str, int]:
    """How many bodies of each kind a registry of this size holds: England's mix, one at least."""
    if bodies < len(KINDS):
        raise Refused(f"a synthetic registry needs at least {len(KINDS)} bodies", field="bodies")
    spare = bodies - len(KINDS)
    shares = {kind: max(0.0, per * bodies / 1000 - 1) for kind, (per, _) in KINDS.items()}
    exact = {kind: share * spare / sum(shares.values()) for kind, share in shares.items()}
    counts = {kind: 1 + int(value) for kind, value in exact.items()}
    # The largest remainders take what rounding down left over; sorted() keeps ties in order.
    left = bodies - sum(counts.values())
    for kind in sorted(exact, key=lambda k: int(exact[k]) - exact[k])[:left]:
        counts[kind] += 1
    return counts


def synthesise(
    *,
    session: Session,
    data_dir: Path,
    bodies: int,
    evidence_per_obligation: int,
    seed: int = 1,
    on: dt.date,
) -> str:
    """Load a synthetic English registry as at a date, deterministically; return a summary."""
    counts = kind_counts(bodies=bodies)
    if evidence_per_obligation < 0:
        raise Refused("evidence_per_obligation cannot be negative", field="evidence_per_obligation")
    _refuse_second_load(session)
    duties = dict(session.exec(select(Duty.slug, key_column(Duty))).all())
    missing = [b.duty for b in BOARDS if b.duty not in duties]
    if missing:
        raise Refused(f"duty {missing[0]} is not in the catalogue: run `compliance init` first")
    load = _Load(session, random.Random(seed), on)
    _bodies(load, counts)
    boards = _partnerships(load, duties)
    _outcomes(load, boards)
    _risks(load, boards)
    track_from = dt.date(on.year - (1 if on.month >= 4 else 2), 4, 1)
    sync_obligations(session=session, on=on, track_from=track_from)
    _people_and_file(load, data_dir)
    _comments(load, _evidence(load, evidence_per_obligation))
    # Fresh statistics, as after any bulk load: without them PostgreSQL plans the evidence
    # queries for empty tables and scans all 50,000 rows on every request. (On SQLite, ANALYZE
    # led the planner to a far slower plan for the check's evidence query, so it is not run.)
    if session.connection().dialect.name == "postgresql":
        session.connection().exec_driver_sql("ANALYZE")
    c = load.counts
    audit(
        session=session,
        actor="system",
        action="synthetic.loaded",
        entity_type="registry",
        entity_id=f"seed:{seed}",
        after={"as_at_date": on, **dict(sorted(c.items()))},
    )
    return (
        f"Synthetic registry (seed {seed}, as at {on}): {c['bodies']} bodies, "
        f"{c['partnerships']} partnerships with {c['members']} members, {c['obligations']} "
        f"obligations over {c['periods']} periods, {c['evidence']} evidence records, "
        f"{c['comments']} review comments, {c['outcomes']} outcomes, {c['indicators']} "
        f"indicators, {c['measurements']} measurements, {c['risks']} risks."
    )


def _refuse_second_load(session: Session) -> None:
    query = select(func.count()).select_from(Body).where(Body.code.startswith(CODE_PREFIX))
    found = session.exec(query).one()
    if found:
        raise Refused(
            f"this database already holds a synthetic registry ({found} bodies coded "
            f"{CODE_PREFIX}...); load another one into an empty database"
        )


# Without render_nulls the ORM splits a batch wherever a row has a None the previous one did
# not, and splices the RETURNING rows back together: at 50,000 rows, minutes instead of seconds.
def _insert_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(statement.execution_options(render_nulls=True), rows))


def _insert(session: Session, model: type, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(model).execution_options(render_nulls=True), rows)


def _bodies(load: _Load, counts: dict[str, int]) -> None:
    number = 0
    for kind, count in counts.items():
        counties = load.ids.get("county_council", [])
        rows: list[dict[str, Any]] = []
        places = []
        for i in range(count):
            number += 1
            place = load.rng.choice(PLACE_STARTS) + load.rng.choice(PLACE_ENDS)
            code = f"{CODE_PREFIX}{number:06d}"
            places.append(place)
            parent = counties[i * len(counties) // count] if kind == "district_council" else None
            rows.append(
                {
                    "code": code,
                    "name": KINDS[kind][1].format(place),
                    "kind": kind,
                    "nation": "england",
                    "parent_id": parent,
                    "website": f"https://example.org/{code.lower()}",
                    "note": NOTE,
                }
            )
        load.ids[kind] = _insert_ids(load.session, Body, rows)
        for body_id, row, place in zip(load.ids[kind], rows, places, strict=True):
            load.labels[("body", body_id)] = row["code"].lower()
            load.places[body_id] = place
            if row["parent_id"] is not None:
                load.districts.setdefault(row["parent_id"], []).append(body_id)
    load.counts["bodies"] = sum(counts.values())


def _partnerships(load: _Load, duties: dict[str, int]) -> list[tuple[int, Board]]:
    councils = [body_id for kind in UPPER_TIER for body_id in load.ids[kind]]
    rows: list[dict[str, Any]] = []
    plans = []
    for area, council in enumerate(councils):
        for board in BOARDS:
            rows.append(
                {
                    "slug": f"{load.labels[('body', council)]}-{board.tag}",
                    "name": f"{load.places[council]} {board.name}",
                    "form": "statutory_board",
                    "lead_body_id": council,
                    "start_date": dt.date(load.rng.randint(2013, 2020), 4, 1),
                }
            )
            plans.append((board, _members(load, board, council, area / len(councils))))
    ids = _insert_ids(load.session, Partnership, rows)
    members, links = [], []
    for partnership_id, row, (board, chosen) in zip(ids, rows, plans, strict=True):
        load.labels[("partnership", partnership_id)] = row["slug"]
        links.append({"partnership_id": partnership_id, "duty_id": duties[board.duty]})
        members += [
            {"partnership_id": partnership_id, "body_id": body_id, "role": role}
            for body_id, role in chosen.items()
        ]
    _insert(load.session, PartnershipMember, members)
    _insert(load.session, PartnershipDuty, links)
    load.counts.update(partnerships=len(ids), members=len(members))
    return [(partnership_id, board) for partnership_id, (board, _) in zip(ids, plans, strict=True)]


def _members(load: _Load, board: Board, council: int, where: float) -> dict[int, str]:
    chosen = {council: ROLES["council"]}
    for kind in board.partners:
        pool = load.pool(kind)
        # Neighbouring councils share an ICB, a force, a fire authority: contiguous blocks.
        chosen.setdefault(pool[int(where * len(pool))], ROLES[kind])
    if board.tag == "csp":
        for district in load.districts.get(council, []):
            chosen.setdefault(district, ROLES["district_council"])
    if load.rng.random() < MEMBER_GAP_RATE:
        del chosen[load.rng.choice(list(chosen)[1:])]
    return chosen


def _outcomes(load: _Load, boards: list[tuple[int, Board]]) -> None:
    rng, rows, specs = load.rng, [], []
    for partnership_id, board in boards:
        for title in rng.sample(sorted(board.outcomes), rng.randint(1, 2)):
            rows.append({"partnership_id": partnership_id, "title": title})
            specs.append(board.outcomes[title][: rng.randint(1, 2)])
    outcome_ids = _insert_ids(load.session, Outcome, rows)
    # Measured at the last three financial year ends, as annual returns are.
    last = load.on.year if load.on >= dt.date(load.on.year, 3, 31) else load.on.year - 1
    ends = [dt.date(year, 3, 31) for year in (last - 2, last - 1, last)]
    indicators: list[dict[str, Any]] = []

    for outcome_id, spec in zip(outcome_ids, specs, strict=True):
        for name, unit, direction in spec:
            baseline = round(rng.uniform(*UNIT_RANGES[unit]), 1)
            indicators.append(
                {
                    "outcome_id": outcome_id,
                    "name": name,
                    "unit": unit,
                    "direction": direction,
                    "baseline_value": baseline,
                    "baseline_date": dt.date(last - 3, 3, 31),
                    "target_value": round(baseline * (1.1 if direction == "increase" else 0.9), 1),
                    "target_date": dt.date(last + 2, 3, 31),
                    "data_source": "Synthetic figures",
                }
            )
    indicator_ids = _insert_ids(load.session, Indicator, indicators)
    measurements = []
    for indicator_id, indicator in zip(indicator_ids, indicators, strict=True):
        value = indicator["baseline_value"]
        for day in ends:
            value = round(value * (1 + rng.uniform(-0.06, 0.06)), 1)
            source = f"Synthetic return {day.year - 1}-{day:%y}"
            measurements.append(
                {
                    "indicator_id": indicator_id,
                    "measured_date": day,
                    "value": value,
                    "source": source,
                }
            )
    _insert(load.session, Measurement, measurements)
    load.counts.update(
        outcomes=len(outcome_ids), indicators=len(indicator_ids), measurements=len(measurements)
    )


def _risks(load: _Load, boards: list[tuple[int, Board]]) -> None:
    rng = load.rng
    rows = [
        {
            "partnership_id": partnership_id,
            "category": category,
            "title": title,
            "likelihood": rng.randint(1, 5),
            "impact": rng.randint(1, 5),
            "mitigation": "Reviewed at each board meeting (synthetic).",
            "owner": "Board business manager",
        }
        for partnership_id, _ in boards
        for category, title in rng.sample(RISKS, rng.randint(1, 2))
    ]
    _insert(load.session, Risk, rows)
    load.counts["risks"] = len(rows)


def _people_and_file(load: _Load, data_dir: Path) -> None:
    load.officer = _user(load.session, "officer@synthetic.example.org", "officer")
    load.inspector = _user(load.session, "inspector@synthetic.example.org", "inspector")
    # One stored document that the file evidence shares, as content-addressed storage keeps it.
    stored = files.check(MINUTES, max_bytes=len(MINUTES))
    files.store(data_dir=data_dir, checked=stored)
    load.file = {
        "sha256": stored.sha256,
        "file_name": "minutes.txt",
        "media_type": stored.media_type,
        "size_bytes": len(stored.content),
    }


def _user(session: Session, email: str, role: str) -> int:
    found = session.exec(select(key_column(User)).where(User.email == email)).first()
    if found is not None:
        return found
    user = User(email=email, name=f"Synthetic {role}", role=role)
    session.add(user)
    session.flush()
    return row_id(user)


def _holder(row: tuple) -> tuple[str, int]:
    return ("body", row[4]) if row[4] is not None else ("partnership", row[5])


def _evidence(load: _Load, per_obligation: int) -> list[tuple[int, dt.datetime]]:
    named = select(key_column(Deliverable), Deliverable.title, Deliverable.slug)
    deliverables = {row[0]: row[1:] for row in load.session.exec(named)}
    query = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() to 4 columns
            key_column(Period),
            col(Period.obligation_id),
            col(Period.period_start_date),
            col(Period.period_end_date),
            col(Obligation.body_id),
            col(Obligation.partnership_id),
            col(Obligation.deliverable_id),
        )
        .join(Obligation, Obligation.id == Period.obligation_id)
        .where(col(Obligation.closed_date).is_(None))
        .order_by(Period.obligation_id, Period.period_start_date)
    )
    grouped: dict[int, list[tuple]] = {}
    for row in load.session.exec(query):
        if _holder(row) in load.labels:
            grouped.setdefault(row[1], []).append(row)
    # Ordered by what they are, not by id, so that a seed gives the same registry on any backend.
    order = sorted(grouped.values(), key=lambda p: (load.labels[_holder(p[0])], p[0][6]))
    rows, targets = [], []
    for periods in order:
        # Evidence goes to the periods that have begun, oldest first, as records accumulate.
        begun = [p for p in periods if p[2] <= load.on] or periods[:1]
        title, slug = deliverables[periods[0][6]]
        path = f"{load.labels[_holder(periods[0])]}/{slug}"
        for i in range(per_obligation):
            period = begun[i % len(begun)]
            rows.append(_evidence_row(load, period, i + 1, title, path))
            targets.append(period[0])
    ids = _insert_ids(load.session, Evidence, rows)
    links = [{"evidence_id": e, "occurrence_id": o} for e, o in zip(ids, targets, strict=True)]
    _insert(load.session, EvidenceLink, links)
    load.counts.update(
        obligations=len(grouped), periods=sum(map(len, grouped.values())), evidence=len(ids)
    )
    return [(e, row["recorded_at"]) for e, row in zip(ids, rows, strict=True)]


def _evidence_row(load: _Load, period: tuple, number: int, title: str, path: str) -> dict:
    rng, on, start, end = load.rng, load.on, period[2], period[3]
    back = dt.timedelta(days=rng.randint(0, 60))
    effective = max(start, min(end, on) - back) if start <= on else on - back
    recorded = min(effective + dt.timedelta(days=rng.randint(0, 14)), on)
    review_by, roll = None, rng.random()
    if roll < PAST_REVIEW_RATE and effective < on:
        review_by = effective + dt.timedelta(days=rng.randint(0, (on - effective).days - 1))
    elif roll < PAST_REVIEW_RATE + FUTURE_REVIEW_RATE:
        review_by = on + dt.timedelta(days=rng.randint(30, 400))
    row = {
        "kind": "link",
        "title": f"{title}, {start:%d %b %Y} to {end:%d %b %Y} ({number})",
        "description": None,
        "effective_date": effective,
        "period_start_date": start,
        "period_end_date": end,
        "review_by_date": review_by,
        "url": None,
        "recorded_by_id": load.officer,
        "recorded_at": dt.datetime.combine(
            recorded, dt.time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=dt.UTC
        ),
    } | dict.fromkeys(load.file)
    roll = rng.random()
    if roll < FILE_RATE:
        row |= {"kind": "minutes"} | load.file
    elif roll < FILE_RATE + ATTESTATION_RATE:
        row |= {"kind": "attestation", "description": ATTESTATION}
    else:
        row["url"] = f"https://example.org/synthetic/{path}/{start:%Y-%m}/{number}"
    return row


def _comments(load: _Load, recorded: list[tuple[int, dt.datetime]]) -> None:
    rng, rows = load.rng, []
    latest = dt.datetime.combine(load.on, dt.time(18), tzinfo=dt.UTC)
    for evidence_id, recorded_at in recorded:
        roll = rng.random()
        if roll >= QUERY_RATE + ACCEPT_RATE:
            continue
        at = min(recorded_at + dt.timedelta(days=rng.randint(2, 40)), latest)
        comment = {"evidence_id": evidence_id, "author_id": load.inspector, "created_at": at}
        if roll < ACCEPT_RATE:
            rows.append(comment | {"kind": "accepted", "body": None})
            continue
        rows.append(comment | {"kind": "queried", "body": "Which meeting approved this?"})
        # Half the queries are answered; the rest wait, some long enough to become findings.
        if rng.random() < 0.5:
            answered = min(at + dt.timedelta(days=rng.randint(1, 10)), latest)
            answer = {"kind": "answer", "body": "The board meeting minuted on that date."}
            rows.append(comment | answer | {"author_id": load.officer, "created_at": answered})
    _insert(load.session, EvidenceComment, rows)
    load.counts["comments"] = len(rows)
