"""Partnerships: their members, the duties they discharge, and the changes to both."""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.bodies.changes import FieldsRefused
from compliance.bodies.service import get_body
from compliance.catalogue.service import get_duty
from compliance.db import count_rows, row_id
from compliance.models import (
    Body,
    Duty,
    Partnership,
    PartnershipDuty,
    PartnershipMember,
    utcnow,
)
from compliance.paging import Keyset

FORMS = (
    "statutory_board",
    "pooled_budget",
    "lead_commissioning",
    "integrated_provision",
    "joint_committee",
    "information_sharing_agreement",
    "informal_network",
)


@dataclass(frozen=True)
class Member:
    body: Body
    membership: PartnershipMember


# Partnerships by name, then id: the pages and the API page through them by number.
BY_NAME = Keyset((col(Partnership.name), col(Partnership.id)))


def list_partnerships(
    *, session: Session, limit: int = 100, offset: int = 0, within: set[int] | None = None
) -> list[Partnership]:
    """Partnerships by name, a page at a time; `within` keeps to those ids (a user's scope)."""
    query = _within(select(Partnership), within)
    return list(session.exec(BY_NAME.numbered(query, start=offset, size=limit)))


def count_partnerships(*, session: Session, within: set[int] | None = None) -> int:
    """How many partnerships `list_partnerships` pages through."""
    return count_rows(session, _within(select(Partnership), within))


def _within(query, within: set[int] | None):
    return query if within is None else query.where(col(Partnership.id).in_(within))


def get_partnership(*, session: Session, slug: str) -> Partnership | None:
    """Return one partnership by its slug, or None."""
    return session.exec(select(Partnership).where(Partnership.slug == slug)).first()


def members_of(*, session: Session, partnership_id: int, on: dt.date | None = None) -> list[Member]:
    """Return the members (current on a date, or all when no date is given) with their bodies."""
    query = (
        select(Body, PartnershipMember)
        .join(PartnershipMember, col(PartnershipMember.body_id) == Body.id)
        .where(PartnershipMember.partnership_id == partnership_id)
        .order_by(Body.name)
    )
    rows = [Member(body, membership) for body, membership in session.exec(query)]
    if on is None:
        return rows
    return [m for m in rows if m.membership.end_date is None or m.membership.end_date > on]


def duties_of(*, session: Session, partnership_id: int) -> list[Duty]:
    """Return the duties a partnership discharges."""
    query = (
        select(Duty)
        .join(PartnershipDuty, col(PartnershipDuty.duty_id) == Duty.id)
        .where(PartnershipDuty.partnership_id == partnership_id)
        .order_by(Duty.act, Duty.slug)
    )
    return list(session.exec(query))


def partnerships_of_body(
    *, session: Session, body_id: int
) -> list[tuple[Partnership, PartnershipMember]]:
    """Return the partnerships a body belongs to, with its membership."""
    query = (
        select(Partnership, PartnershipMember)
        .join(PartnershipMember, col(PartnershipMember.partnership_id) == Partnership.id)
        .where(PartnershipMember.body_id == body_id)
        .order_by(Partnership.name)
    )
    return list(session.exec(query))


def join(
    *, session: Session, partnership: Partnership, body: Body, role: str, on: dt.date | None = None
) -> PartnershipMember:
    """Add a body to a partnership, or bring a former member back."""
    membership = session.exec(
        select(PartnershipMember).where(
            PartnershipMember.partnership_id == partnership.id,
            PartnershipMember.body_id == body.id,
        )
    ).first()
    if membership is None:
        membership = PartnershipMember(
            partnership_id=row_id(partnership), body_id=row_id(body), role=role, start_date=on
        )
        session.add(membership)
    else:
        membership.role, membership.end_date = role, None
    session.flush()
    return membership


def leave(*, session: Session, membership: PartnershipMember, on: dt.date) -> None:
    """Record that a body left a partnership; the membership is kept."""
    membership.end_date = on
    session.flush()


def discharge(*, session: Session, partnership: Partnership, duty: Duty) -> None:
    """Record that a partnership discharges a duty (idempotent)."""
    if session.get(PartnershipDuty, (partnership.id, duty.id)) is None:
        session.add(PartnershipDuty(partnership_id=row_id(partnership), duty_id=row_id(duty)))
        session.flush()


# Changes through the API, each recorded in the audit trail --------------------------------

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EDITABLE = ("name", "form", "description", "lead_body_code", "start_date", "end_date")


def editable(*, session: Session, partnership: Partnership) -> dict[str, Any]:
    """A partnership's changeable details, with its lead body by code."""
    lead = session.get(Body, partnership.lead_body_id) if partnership.lead_body_id else None
    return {
        "name": partnership.name,
        "form": partnership.form,
        "description": partnership.description,
        "lead_body_code": lead and lead.code,
        "start_date": partnership.start_date,
        "end_date": partnership.end_date,
    }


def _problems(
    session: Session, wanted: dict[str, Any], given: set[str]
) -> tuple[list[tuple[str, str]], Body | None]:
    problems = []
    if "name" in given and not (wanted["name"] or "").strip():
        problems.append(("name", "name is empty"))
    if "form" in given and wanted["form"] not in FORMS:
        problems.append(("form", f"form {wanted['form']!r} is not one of: {', '.join(FORMS)}"))
    start, end = wanted["start_date"], wanted["end_date"]
    if start and end and end <= start and given & {"start_date", "end_date"}:
        problems.append(("end_date", f"end_date {end} is not after start_date {start}"))
    lead = None
    if wanted["lead_body_code"]:
        lead = get_body(session=session, code=wanted["lead_body_code"])
        if lead is None:
            code = wanted["lead_body_code"]
            problems.append(("lead_body_code", f"lead_body_code {code} is not in the registry"))
    return problems, lead


def _duties(session: Session, slugs: list[str], problems: list[tuple[str, str]]) -> list[Duty]:
    found = []
    for slug in dict.fromkeys(slugs):
        duty = get_duty(session=session, slug=slug)
        if duty is None or duty.retired_in_version:
            problems.append(("duties", f"duty {slug!r} is not in the catalogue"))
        else:
            found.append(duty)
    return found


def create_partnership(
    *,
    session: Session,
    actor: str,
    slug: str,
    name: str,
    form: str,
    description: str | None = None,
    lead_body_code: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    duties: Sequence[str] = (),
) -> Partnership:
    """Record a partnership and the duties it discharges; raise FieldsRefused naming each bad
    field."""
    wanted = {
        "name": name.strip(),
        "form": form,
        "description": (description or "").strip() or None,
        "lead_body_code": lead_body_code,
        "start_date": start_date,
        "end_date": end_date,
    }
    problems, lead = _problems(session, wanted, set(EDITABLE))
    if not SLUG_PATTERN.match(slug):
        problems.insert(0, ("slug", "slug is lower-case letters and digits joined by hyphens"))
    found = _duties(session, list(duties), problems)
    if problems:
        raise FieldsRefused(problems)
    wanted["lead_body_code"] = lead.code if lead else None
    if get_partnership(session=session, slug=slug) is not None:
        raise FieldsRefused([("slug", f"a partnership {slug} already exists")], status=409)
    partnership = Partnership(slug=slug, **_columns(wanted, lead))
    session.add(partnership)
    session.flush()
    for duty in found:
        discharge(session=session, partnership=partnership, duty=duty)
    after = wanted | {"duties": [d.slug for d in found]}
    audit(
        session=session,
        actor=actor,
        action="partnership.created",
        entity_type="partnership",
        entity_id=slug,
        after=after,
    )
    return partnership


def _columns(wanted: dict[str, Any], lead: Body | None) -> dict[str, Any]:
    columns = {k: v for k, v in wanted.items() if k != "lead_body_code"}
    return columns | {"lead_body_id": lead and lead.id}


def update_partnership(
    *, session: Session, partnership: Partnership, changes: dict[str, Any], actor: str
) -> Partnership:
    """Change a partnership's details (only those given); raise FieldsRefused naming each bad
    field."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise FieldsRefused([(name, f"{name} cannot be changed") for name in unknown])
    before = editable(session=session, partnership=partnership)
    given = dict(changes)
    if isinstance(given.get("description"), str):
        given["description"] = given["description"].strip() or None
    if isinstance(given.get("name"), str):
        given["name"] = given["name"].strip()
    wanted = before | given
    problems, lead = _problems(session, wanted, set(changes))
    if problems:
        raise FieldsRefused(problems)
    if lead:
        wanted["lead_body_code"] = lead.code
    changed = [name for name in EDITABLE if wanted[name] != before[name]]
    if not changed:
        return partnership
    for column, value in _columns(wanted, lead).items():
        setattr(partnership, column, value)
    partnership.updated_at = utcnow()
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="partnership.updated",
        entity_type="partnership",
        entity_id=partnership.slug,
        before={name: before[name] for name in changed},
        after={name: wanted[name] for name in changed},
    )
    return partnership


# Is it worth it? Why it exists, what it costs and gains, and when partners decide whether it
# should continue; the form of compliance/partnerships/value_pages.py and the API's PATCH.

VALUE_FIELDS = (
    "rationale",
    "alternatives",
    "staff_days_a_year",
    "pounds_a_year",
    "meetings_a_year",
    "costs_as_at_date",
    "benefits",
    "continuation_decided_date",
    "continuation_due_date",
)
VALUE_TEXTS = ("rationale", "alternatives", "benefits")
# Upper bounds that keep a figure inside a 32-bit column and catch a slip of the keyboard.
VALUE_LIMITS = {
    "staff_days_a_year": 1_000_000,
    "pounds_a_year": 2_000_000_000,
    "meetings_a_year": 10_000,
}
TEXT_LIMIT = 5000


def value_of(*, partnership: Partnership) -> dict[str, Any]:
    """A partnership's record of why it exists, its costs and benefits, and its decisions on
    whether it should continue."""
    return {name: getattr(partnership, name) for name in VALUE_FIELDS}


def _value_problems(
    wanted: dict[str, Any], given: set[str], today: dt.date
) -> list[tuple[str, str]]:
    problems = [
        (name, f"{name} is longer than {TEXT_LIMIT} characters")
        for name in VALUE_TEXTS
        if name in given and len(wanted[name] or "") > TEXT_LIMIT
    ]
    for name, limit in VALUE_LIMITS.items():
        value = wanted[name]
        whole = isinstance(value, int) and not isinstance(value, bool)
        if name in given and value is not None and not (whole and 0 <= value <= limit):
            problems.append((name, f"{name} is a whole number from 0 to {limit}"))
    decided, due = wanted["continuation_decided_date"], wanted["continuation_due_date"]
    if "continuation_decided_date" in given and decided and decided > today:
        problems.append(("continuation_decided_date", f"{decided} is after today, {today}"))
    if (
        decided
        and due
        and due <= decided
        and given & {"continuation_decided_date", "continuation_due_date"}
    ):
        message = f"continuation_due_date {due} is not after continuation_decided_date {decided}"
        problems.append(("continuation_due_date", message))
    return problems


def set_value(
    *,
    session: Session,
    partnership: Partnership,
    changes: dict[str, Any],
    actor: str,
    today: dt.date,
) -> Partnership:
    """Record why a partnership exists in its form, the alternatives considered, its costs a
    year and benefits, and when partners last decided (and will next decide) whether it should
    continue: only the fields given, blank text as none; the change audited with before and
    after; raise FieldsRefused naming each bad field."""
    unknown = sorted(set(changes) - set(VALUE_FIELDS))
    if unknown:
        raise FieldsRefused([(name, f"{name} cannot be changed") for name in unknown])
    before = value_of(partnership=partnership)
    given = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in changes.items()}
    wanted = before | given
    problems = _value_problems(wanted, set(changes), today)
    if problems:
        raise FieldsRefused(problems)
    changed = [name for name in VALUE_FIELDS if wanted[name] != before[name]]
    if not changed:
        return partnership
    for name in changed:
        setattr(partnership, name, wanted[name])
    partnership.updated_at = utcnow()
    session.add(partnership)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="partnership.value_updated",
        entity_type="partnership",
        entity_id=partnership.slug,
        before={name: before[name] for name in changed},
        after={name: wanted[name] for name in changed},
    )
    return partnership


def membership(
    *, session: Session, partnership: Partnership, body: Body
) -> PartnershipMember | None:
    """A body's membership of a partnership, current or past, or None."""
    query = select(PartnershipMember).where(
        PartnershipMember.partnership_id == partnership.id, PartnershipMember.body_id == body.id
    )
    return session.exec(query).first()


def admit_member(
    *,
    session: Session,
    partnership: Partnership,
    body_code: str,
    role: str,
    start_date: dt.date | None,
    actor: str,
) -> PartnershipMember:
    """Add a body to a partnership, or bring a former member back from `start_date`."""
    body = get_body(session=session, code=body_code)
    problems = [] if role.strip() else [("role", "role is empty")]
    if body is None:
        problems.insert(0, ("body_code", f"body_code {body_code} is not in the registry"))
    if problems:
        raise FieldsRefused(problems)
    assert body is not None, "a body not in the registry is among the problems"
    current = membership(session=session, partnership=partnership, body=body)

    if current is not None and current.end_date is None:
        raise FieldsRefused([("body_code", f"{body.code} is already a member")], status=409)
    member = join(
        session=session, partnership=partnership, body=body, role=role.strip(), on=start_date
    )
    member.start_date = start_date or member.start_date
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="partnership_member.joined",
        entity_type="partnership_member",
        entity_id=f"{partnership.slug}/{body.code}",
        after={"role": member.role, "start_date": member.start_date, "returning": bool(current)},
    )
    return member


def end_membership(
    *,
    session: Session,
    partnership: Partnership,
    member: PartnershipMember,
    body: Body,
    end_date: dt.date,
    actor: str,
) -> PartnershipMember:
    """Record that a member leaves a partnership on a date; the membership is kept."""
    if member.end_date is not None:
        raise FieldsRefused([("end_date", f"{body.code} left on {member.end_date}")], status=409)
    if member.start_date and end_date <= member.start_date:
        message = f"end_date {end_date} is not after start_date {member.start_date}"
        raise FieldsRefused([("end_date", message)])
    leave(session=session, membership=member, on=end_date)
    audit(
        session=session,
        actor=actor,
        action="partnership_member.left",
        entity_type="partnership_member",
        entity_id=f"{partnership.slug}/{body.code}",
        after={"end_date": end_date},
    )
    return member


def add_duty(*, session: Session, partnership: Partnership, duty: Duty, actor: str) -> bool:
    """Record that a partnership discharges a duty; False when it already did."""
    if session.get(PartnershipDuty, (partnership.id, duty.id)) is not None:
        return False
    discharge(session=session, partnership=partnership, duty=duty)
    _duty_event(session, partnership, duty, "partnership_duty.added", actor)
    return True


def remove_duty(*, session: Session, partnership: Partnership, duty: Duty, actor: str) -> bool:
    """Record that a partnership no longer discharges a duty; False when it did not."""
    link = session.get(PartnershipDuty, (partnership.id, duty.id))
    if link is None:
        return False
    session.delete(link)
    session.flush()
    _duty_event(session, partnership, duty, "partnership_duty.removed", actor)
    return True


def _duty_event(
    session: Session, partnership: Partnership, duty: Duty, action: str, actor: str
) -> None:
    audit(
        session=session,
        actor=actor,
        action=action,
        entity_type="partnership",
        entity_id=partnership.slug,
        after={"duty": duty.slug},
    )
