"""The holder filters of the obligations list and the review queue at national scale.

A user who may read a few hundred bodies and partnerships chooses one from a select (a
type-ahead past ten options, static/app.js). Past that, the page writes no options at all (a
national registry's 4,000 bodies and 2,400 partnerships were 470 KB of every obligations page):
the filter is a text box that takes a name or a code, and that asks `/holders` for suggestions
as the user types. Without JavaScript the box still takes a code, a name, or a suggestion's
words as typed.
"""

import re
from typing import NamedTuple

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from compliance.access import Principal
from compliance.models import Body, Partnership

# Bodies and partnerships readable, past which a holder filter is a search box, not a select.
SEARCHED_PAST = 300
SUGGESTIONS = 12
HOLDER_KINDS = ("body", "partnership")
# What a suggestion says: the name, then the code or slug that tells two of one name apart.
_LABELLED = re.compile(r"^(?P<name>.*) \((?P<key>[^()]+)\)$")


class Holder(NamedTuple):
    """A body (its code) or a partnership (its slug), as a filter names it."""

    body_id: int | None
    partnership_id: int | None
    key: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key})"

    @property
    def href(self) -> str:
        kind = "bodies" if self.body_id is not None else "partnerships"
        return f"/{kind}/{self.key}"


def searched(session: Session, principal: Principal) -> bool:
    """Whether this user's holder filters are search boxes: they may read too many bodies and
    partnerships for a select."""
    if principal.is_admin:
        bodies = session.exec(select(func.count()).select_from(Body)).one()
        partnerships = session.exec(select(func.count()).select_from(Partnership)).one()
        return bodies + partnerships > SEARCHED_PAST
    return len(principal.body_ids) + len(principal.readable_partnership_ids) > SEARCHED_PAST


def _bodies(principal: Principal) -> Select[int | None, str, str]:
    """The bodies this user may read: id, code, name."""
    query = select(col(Body.id), Body.code, Body.name)
    return query if principal.is_admin else query.where(col(Body.id).in_(principal.body_ids))


def _partnerships(principal: Principal) -> Select[int | None, str, str]:
    """The partnerships this user may read: id, slug, name."""
    query = select(col(Partnership.id), Partnership.slug, Partnership.name)
    if principal.is_admin:
        return query
    return query.where(col(Partnership.id).in_(principal.readable_partnership_ids))


def suggest(
    *, session: Session, principal: Principal, text: str, kinds: tuple[str, ...]
) -> list[str]:
    """The bodies and partnerships in scope whose name or code holds the text, by name: the
    first few, each as "name (code)"."""
    wanted = text.strip().lower()
    if not wanted or "\x00" in wanted or len(wanted) > 200:
        return []
    pattern = "%" + wanted.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    found: list[Holder] = []
    if "body" in kinds:
        query = _bodies(principal).where(
            or_(
                func.lower(Body.name).like(pattern, escape="\\"),
                func.lower(Body.code).like(pattern, escape="\\"),
            )
        )
        rows = session.exec(query.order_by(Body.name, Body.code).limit(SUGGESTIONS)).all()
        found += [Holder(id, None, code, name) for id, code, name in rows]
    if "partnership" in kinds:
        query = _partnerships(principal).where(
            or_(
                func.lower(Partnership.name).like(pattern, escape="\\"),
                func.lower(Partnership.slug).like(pattern, escape="\\"),
            )
        )
        rows = session.exec(query.order_by(Partnership.name).limit(SUGGESTIONS)).all()
        found += [Holder(None, id, slug, name) for id, slug, name in rows]
    return [h.label for h in sorted(found, key=lambda h: (h.name.lower(), h.key))][:SUGGESTIONS]


def find_holder(*, session: Session, text: str, kinds: tuple[str, ...]) -> Holder | None:
    """The body or partnership a filter's text names, or None: its page's address (what a
    select of holders sends), its code or slug, a suggestion's words, or a name that only one
    of them has. Whether the user may read it is the caller's to ask."""
    typed = text.strip()
    if not typed or "\x00" in typed or len(typed) > 200:
        return None
    key = typed
    if typed.startswith(("/bodies/", "/partnerships/")):
        key = typed.rpartition("/")[2]
    elif labelled := _LABELLED.match(typed):
        key = labelled["key"]
    for kind in kinds:
        if kind == "body":
            code = key.upper()  # as get_body reads a code
            query = select(col(Body.id), Body.code, Body.name).where(
                or_(col(Body.code) == code, func.lower(Body.name) == typed.lower())
            )
        else:
            code = key.lower()  # slugs are lower case (partnerships.service.SLUG_PATTERN)
            query = select(col(Partnership.id), Partnership.slug, Partnership.name).where(
                or_(col(Partnership.slug) == code, func.lower(Partnership.name) == typed.lower())
            )
        found = session.exec(query.limit(3)).all()
        # The code first; a name alone only when one holder has it.
        chosen = [row for row in found if row[1] == code][:1] or (found if len(found) == 1 else [])
        if chosen:
            id, code, name = chosen[0]
            body = kind == "body"
            return Holder(id if body else None, None if body else id, code, name)
    return None
