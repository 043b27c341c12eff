"""Creating and changing one body, with the checks each line of a register import gets.

Obligations follow at the next synchronisation: the caller runs `sync_obligations` after a
change, as the import does, so that ending a body closes its obligations with the reason.
"""

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from compliance.audit.service import record as audit
from compliance.bodies.service import field_problems, get_body, normalise_website, with_descendants
from compliance.db import row_id
from compliance.errors import Refused
from compliance.models import Body, utcnow

# What an API caller may change about a body; its code, kind and nation are its identity.
EDITABLE = ("name", "website", "email", "parent_code", "end_date", "successor_code", "note")
NOTE_LIMIT = 5000


class FieldsRefused(Refused):
    """Input that cannot be taken, every problem listed as (field, message); nothing changed."""

    def __init__(self, problems: list[tuple[str, str]], *, status: int = 422):
        super().__init__("; ".join(m for _, m in problems), field=problems[0][0], status=status)
        self.problems = problems


def create_body(
    *,
    session: Session,
    actor: str,
    code: str,
    name: str,
    kind: str,
    nation: str,
    parent_code: str | None = None,
    website: str | None = None,
    email: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
) -> Body:
    """Add one body to the registry, checked as an import checks a line; raise FieldsRefused."""
    values = {
        "code": code.strip(),
        "name": name.strip(),
        "kind": kind,
        "nation": nation,
        "website": (website or "").strip(),
        "email": (email or "").strip(),
    }
    problems = field_problems(values) + _date_problems(start_date, end_date)
    parent = _lookup(session, "parent_code", parent_code, problems)
    if problems:
        raise FieldsRefused(problems)
    code = values["code"].upper()
    if get_body(session=session, code=code) is not None:
        raise FieldsRefused([("code", f"a body with code {code} already exists")], status=409)
    body = Body(
        code=code,
        name=values["name"],
        kind=kind,
        nation=nation,
        parent_id=parent.id if parent else None,
        website=normalise_website(values["website"]),
        email=values["email"] or None,
        start_date=start_date,
        end_date=end_date,
    )
    try:
        # In a savepoint: a second request adding the same code at the same moment loses at the
        # unique constraint and is told so, rather than failing the whole transaction.
        with session.begin_nested():
            session.add(body)
    except IntegrityError as exc:
        raise FieldsRefused(
            [("code", f"a body with code {code} already exists")], status=409
        ) from exc
    after = editable(session=session, body=body) | {"kind": kind, "nation": nation}
    audit(
        session=session,
        actor=actor,
        action="body.created",
        entity_type="body",
        entity_id=code,
        after=after | {"start_date": start_date},
    )
    return body


def editable(*, session: Session, body: Body) -> dict[str, Any]:
    """A body's changeable details, with its parent and successor by code."""
    parent = session.get(Body, body.parent_id) if body.parent_id else None
    successor = session.get(Body, body.successor_id) if body.successor_id else None
    return {
        "name": body.name,
        "website": body.website,
        "email": body.email,
        "parent_code": parent and parent.code,
        "end_date": body.end_date,
        "successor_code": successor and successor.code,
        "note": body.note,
    }


def update_body(*, session: Session, body: Body, changes: dict[str, Any], actor: str) -> Body:
    """Change a body's details (only the fields given); raise FieldsRefused naming each bad one."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise FieldsRefused([(name, f"{name} cannot be changed") for name in unknown])
    before = editable(session=session, body=body)
    wanted = before | _normalised(changes)
    problems = _change_problems(body, wanted, set(changes))
    parent = _lookup(session, "parent_code", wanted["parent_code"], problems)
    successor = _lookup(session, "successor_code", wanted["successor_code"], problems)
    if parent is not None and parent.id in with_descendants(session=session, roots={row_id(body)}):
        problems.append(("parent_code", f"{parent.code} is this body or beneath it"))
    if successor is not None and successor.id == body.id:
        problems.append(("successor_code", "a body cannot succeed itself"))
    if problems:
        raise FieldsRefused(problems)
    changed = [name for name in EDITABLE if wanted[name] != before[name]]
    if not changed:
        return body
    body.name, body.website, body.email = wanted["name"], wanted["website"], wanted["email"]
    body.end_date, body.note = wanted["end_date"], wanted["note"]
    body.parent_id = parent.id if parent else None
    body.successor_id = successor.id if successor else None
    body.updated_at = utcnow()
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="body.updated",
        entity_type="body",
        entity_id=body.code,
        before={name: before[name] for name in changed},
        after={name: wanted[name] for name in changed},
    )
    return body


def _normalised(changes: dict[str, Any]) -> dict[str, Any]:
    found = dict(changes)
    for name in ("name", "email", "note", "parent_code", "successor_code"):
        if isinstance(found.get(name), str):
            found[name] = found[name].strip() or None
    for name in ("parent_code", "successor_code"):
        if found.get(name):
            found[name] = found[name].upper()
    if "website" in found:
        found["website"] = normalise_website((found["website"] or "").strip())
    return found


def _change_problems(body: Body, wanted: dict[str, Any], given: set[str]) -> list[tuple[str, str]]:
    values = {
        "code": body.code,
        "name": wanted["name"] or "",
        "kind": body.kind,
        "nation": body.nation,
        "website": wanted["website"] or "",
        "email": wanted["email"] or "",
    }
    # A field already stored is not the caller's to answer for; only what they send is checked.
    problems = [(name, message) for name, message in field_problems(values) if name in given]
    if "note" in given and wanted["note"] and len(wanted["note"]) > NOTE_LIMIT:
        problems.append(("note", f"note is longer than {NOTE_LIMIT} characters"))
    if "end_date" in given:
        problems += _date_problems(body.start_date, wanted["end_date"])
    return problems


def _date_problems(start: dt.date | None, end: dt.date | None) -> list[tuple[str, str]]:
    if start and end and end <= start:
        return [("end_date", f"end_date {end} is not after start_date {start}")]
    return []


def _lookup(
    session: Session, field: str, code: str | None, problems: list[tuple[str, str]]
) -> Body | None:
    if not code:
        return None
    found = get_body(session=session, code=code)
    if found is None:
        problems.append((field, f"{field} {code.strip().upper()} is not in the registry"))
    return found
