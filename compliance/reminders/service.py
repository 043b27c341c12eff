"""Reminders: what is due on a date becomes outbox messages, each once, sent to the right person.

Before a due date a period gets one reminder per offset (30, 7 and 1 days unless its body says
otherwise); the day after, an overdue notice; from 7 days overdue, an escalation to the senior
responsible officer every week until evidence is recorded. Each is keyed by the period, its due
date and the stage, so running twice, two schedulers or a restart queue nothing new, and a
changed due date starts afresh. A day missed while nothing ran is caught up: the latest stage a
period has reached is queued if it was not already.

Overdue email chases what falls overdue while the reminders are watching, not a backlog: a period
more than CHASE_NEW_GAPS_DAYS overdue is chased only if an email about it (for that due date)
was already queued. So the first run of a new install, or after loading the demo's two years of
history, does not write to everyone about every old gap; those show among the findings and in
the weekly digest, while a period that fell overdue recently, or that was reminded of before it
fell due, is chased every week as usual.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlmodel import Session, col, select

from compliance import mailer
from compliance.access import principal_for
from compliance.config import Settings
from compliance.db import row_id, stored
from compliance.models import (
    Body,
    Deliverable,
    Duty,
    Evidence,
    EvidenceComment,
    EvidenceLink,
    FundingCondition,
    FundingStream,
    Obligation,
    OutboxMessage,
    Partnership,
    Period,
    User,
)
from compliance.obligations.status import PeriodRow, current_evidence, due_bases
from compliance.reminders.models import EmailPreference, ReminderSetting
from compliance.reminders.preferences import is_away, parse_days

log = logging.getLogger(__name__)
ESCALATE_AFTER_DAYS = 7
# A period first seen overdue by more than this (history imported, or tracked late) is not
# chased by email: four weeks takes in the first escalations, and a scheduler down for weeks.
CHASE_NEW_GAPS_DAYS = 28
CHASED_KINDS = ("reminder", "overdue", "escalation")
BATCH = 500


@dataclass(frozen=True)
class DueItem:
    """What an email says about one period of an obligation, with its links."""

    holder_label: str
    holder: str
    duty: str
    citation: str
    citation_url: str
    item: str
    period_start_date: dt.date
    period_end_date: dt.date
    due_date: dt.date
    obligation_url: str
    evidence_url: str
    obligation_id: int
    occurrence_id: int


@dataclass(frozen=True)
class Recipient:
    """Where one email goes; `fan_out` names the officer it is for when each officer of a body
    gets their own."""

    address: str
    user_id: int | None = None
    name: str | None = None
    on_behalf_of: str | None = None
    fan_out: int | None = None


@dataclass
class QueueReport:
    queued: dict[str, int] = field(default_factory=dict)
    already_queued: int = 0
    digest_only: int = 0
    no_address: int = 0
    errors: int = 0

    def __str__(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.queued.items()))
        parts = [f"{sum(self.queued.values())} queued" + (f" ({kinds})" if kinds else "")]
        parts.append(f"{self.already_queued} already queued")
        if self.digest_only:
            parts.append(f"{self.digest_only} left to the digest")
        if self.no_address:
            parts.append(f"{self.no_address} with nobody to send to")
        if self.errors:
            parts.append(f"{self.errors} could not be written (see the log)")
        return "; ".join(parts)


def reminder_stage(days_left: int, offsets: list[int]) -> int | None:
    """The reminder a period has reached: the smallest offset not below the days left."""
    reached = [d for d in offsets if d >= days_left]
    return min(reached) if reached else None


class Directory:
    """Who to write to about an obligation, worked out once per run."""

    def __init__(self, session: Session, settings: Settings, on: dt.date):
        self.session, self.settings, self.on = session, settings, on
        self.base_url = settings.base_url.rstrip("/")
        self.bodies = {s.body_id: s for s in session.exec(select(ReminderSetting))}
        self.preferences = {p.user_id: p for p in session.exec(select(EmailPreference))}
        # By body and by partnership; the latter keyed by None too, where a body's obligation
        # (which has no partnership) finds nobody.
        self._officers: tuple[dict[int, list[User]], dict[int | None, list[User]]] | None = None

    def holder_body(self, obligation: Obligation) -> Body | None:
        """The body itself, or a partnership's lead body."""
        if obligation.body_id is not None:
            return self.session.get(Body, obligation.body_id)
        partnership = self.session.get(Partnership, obligation.partnership_id)
        lead = partnership.lead_body_id if partnership else None
        return self.session.get(Body, lead) if lead else None

    def offsets(self, obligation: Obligation) -> list[int]:
        body = self.holder_body(obligation)
        own = self.bodies.get(row_id(body)) if body else None
        return parse_days(own.reminder_days if own else None) or parse_days(
            self.settings.reminder_days
        )

    def route(self, user: User | None, *, single_reminder: bool = False) -> Recipient | str | None:
        """Where a user's email goes: to them, or their delegate while they are away."""
        # "digest" when they chose the digest instead of single reminders; None when they are
        # away with nobody standing in, so that the caller falls back to the body's contact.
        if user is None or not user.is_active:
            return None
        preference = self.preferences.get(row_id(user))
        if single_reminder and preference is not None and preference.digest_only:
            return "digest"
        if not is_away(preference, self.on):
            return Recipient(user.email, user.id, user.name)
        delegate = (
            self.session.get(User, preference.delegate_id) if preference.delegate_id else None
        )
        if delegate is None or not delegate.is_active:
            return None
        return Recipient(delegate.email, delegate.id, delegate.name, on_behalf_of=user.name)

    def officers(self, obligation: Obligation) -> list[User]:
        """Active officers whose scope covers the obligation's holder."""
        if self._officers is None:
            by_body: dict[int, list[User]] = {}
            by_partnership: dict[int | None, list[User]] = {}

            query = select(User).where(col(User.role) == "officer", col(User.is_active).is_(True))
            for user in self.session.exec(query.order_by(col(User.id))):
                principal = principal_for(session=self.session, user=user)
                for body_id in principal.body_ids:
                    by_body.setdefault(body_id, []).append(user)
                for partnership_id in principal.partnership_ids:
                    by_partnership.setdefault(partnership_id, []).append(user)
            self._officers = by_body, by_partnership
        by_body, by_partnership = self._officers
        found = list(by_partnership.get(obligation.partnership_id, []))
        body = self.holder_body(obligation)
        found += [u for u in by_body.get(row_id(body), []) if u not in found] if body else []
        return found

    def contact(self, obligation: Obligation, *, single_reminder: bool = False) -> list:
        """The body's contact address; failing that, each officer for it."""
        body = self.holder_body(obligation)
        if body is not None and body.email:
            return [Recipient(body.email, name=body.name)]
        found = []
        for officer in self.officers(obligation):
            routed = self.route(officer, single_reminder=single_reminder)
            if isinstance(routed, Recipient):
                routed = replace(routed, fan_out=officer.id)
            found += [routed] if routed is not None else []
        return found

    def owner(self, obligation: Obligation, *, single_reminder: bool = False) -> list:
        """The obligation's owner (or their delegate), else its body's contact."""
        if obligation.owner_id is not None:
            routed = self.route(
                self.session.get(User, obligation.owner_id), single_reminder=single_reminder
            )
            if routed is not None:
                return [routed]
        return self.contact(obligation, single_reminder=single_reminder)

    def sro(self, obligation: Obligation) -> tuple[list, bool]:
        """The senior responsible officer, or the body's contact when none is recorded."""
        body = self.holder_body(obligation)
        own = self.bodies.get(row_id(body)) if body else None
        if own is not None and own.sro_email:
            return [Recipient(own.sro_email, name=own.sro_name)], False
        return self.contact(obligation), True

    def item(self, obligation: Obligation, occurrence: Period | PeriodRow) -> DueItem:
        """What an email says about a period."""
        get = partial(stored, self.session)
        if obligation.body_id is not None:
            holder_label, holder = "Body", get(Body, obligation.body_id).name
        else:
            holder_label, holder = "Partnership", get(Partnership, obligation.partnership_id).name
        if obligation.deliverable_id is not None:
            deliverable = get(Deliverable, obligation.deliverable_id)
            duty = get(Duty, deliverable.duty_id)
            source = (duty.title, f"{duty.act} {duty.sections}", duty.url, deliverable.title)
        else:
            condition = get(FundingCondition, obligation.condition_id)
            stream = get(FundingStream, condition.stream_id)
            citation = stream.legal_basis or stream.name
            source = (stream.name, citation, stream.url, condition.title)
        url = f"{self.base_url}/obligations/{obligation.id}"
        return DueItem(
            holder_label,
            holder,
            *source,
            occurrence.period_start_date,
            occurrence.period_end_date,
            occurrence.due_date,
            url,
            f"{url}/evidence/new",
            row_id(obligation),
            row_id(occurrence),
        )


def _key(base: str, recipient: Recipient) -> str:
    # One message per officer when several share a body (a delegate standing in for two gets
    # it twice); otherwise one per event, whoever it ends up with, so that a pause or a new
    # contact never sends the same reminder again.
    return f"{base}:user:{recipient.fan_out}" if recipient.fan_out else base


@dataclass(frozen=True)
class Due:
    kind: str
    key: str
    obligation: Obligation
    occurrence: Period
    days: int


def _open_periods(session: Session, until: dt.date, on: dt.date) -> list[tuple]:
    rows = session.exec(
        select(Period, Obligation)
        .join(Obligation, col(Obligation.id) == Period.obligation_id)
        .where(
            col(Obligation.closed_date).is_(None), col(Obligation.not_applicable_reason).is_(None)
        )
        .where(Period.due_date <= until)
        .order_by(col(Period.due_date), col(Period.id))
    ).all()
    evidenced: set[int] = set()
    for start in range(0, len(rows), BATCH):
        ids = [row_id(occurrence) for occurrence, _ in rows[start : start + BATCH]]
        evidenced.update(current_evidence(session=session, occurrence_ids=ids, on=on))
    return [(o, obligation) for o, obligation in rows if o.id not in evidenced]


def _told(session: Session, gaps: list[Due]) -> set[tuple[int, str]]:
    """The (period, due date) pairs of these gaps that some reminder, overdue notice or
    escalation was already queued for."""
    obligation_ids = sorted({row_id(gap.obligation) for gap in gaps})
    told: set[tuple[int, str]] = set()
    for start in range(0, len(obligation_ids), BATCH):
        keys = session.exec(
            select(OutboxMessage.idempotency_key).where(
                col(OutboxMessage.obligation_id).in_(obligation_ids[start : start + BATCH]),
                col(OutboxMessage.kind).in_(CHASED_KINDS),
            )
        )
        # Keys read kind:period:due[:stage][:user:id].
        told.update((int(k.split(":")[1]), k.split(":")[2]) for k in keys)
    return told


def _late(obligation: Obligation, occurrence: Period, days: int) -> Due:
    """The overdue notice, or this week's escalation, of a period `days` overdue."""
    due = occurrence.due_date.isoformat()
    if days < ESCALATE_AFTER_DAYS:
        return Due("overdue", f"overdue:{occurrence.id}:{due}", obligation, occurrence, days)
    week = (days - ESCALATE_AFTER_DAYS) // 7
    key = f"escalation:{occurrence.id}:{due}:{week}"
    return Due("escalation", key, obligation, occurrence, days)


def due_on(*, session: Session, directory: Directory, on: dt.date) -> list[Due]:
    """Every reminder, overdue notice and escalation that periods without evidence have reached.

    All are for dates the law or a funding condition sets only (a convention's date is left to
    the digest), and an old gap is chased only when it was already written about (see
    CHASE_NEW_GAPS_DAYS)."""
    own = [d for s in directory.bodies.values() for d in parse_days(s.reminder_days)]
    longest = max([0, *parse_days(directory.settings.reminder_days), *own])
    found: list[Due] = []
    old_gaps: list[Due] = []
    periods = _open_periods(session, on + dt.timedelta(days=longest), on)
    bases = due_bases(session=session, obligations={o.id: o for _, o in periods}.values())
    for occurrence, obligation in periods:
        if occurrence.due_date < obligation.opened_date:
            continue  # history from before the obligation was tracked: nobody is chased for it
        days_left, due = (occurrence.due_date - on).days, occurrence.due_date.isoformat()
        if not bases[obligation.id].statutory:
            # A convention's date is ours, not the law's: it comes in the weekly digest while
            # due, and once passed it is an assurance gap among the findings; no single
            # reminder, overdue notice or escalation is sent for it. (Each standing duty's
            # yearly review falls on 31 March: single reminders for them all would be dozens of
            # emails to one mailbox every March.)
            continue
        if days_left >= 0:
            stage = reminder_stage(days_left, directory.offsets(obligation))
            if stage is not None:
                key = f"reminder:{occurrence.id}:{due}:{stage}"
                found.append(Due("reminder", key, obligation, occurrence, days_left))
            continue
        late = _late(obligation, occurrence, -days_left)
        (old_gaps if -days_left > CHASE_NEW_GAPS_DAYS else found).append(late)
    told = _told(session, old_gaps)
    found += [d for d in old_gaps if (d.occurrence.id, d.occurrence.due_date.isoformat()) in told]
    return found


def _recipients(directory: Directory, due: Due) -> tuple[list, bool]:
    if due.kind == "escalation":
        return directory.sro(due.obligation)
    return directory.owner(due.obligation, single_reminder=due.kind == "reminder"), False


def _email(directory: Directory, due: Due, recipient: Recipient, sro_missing: bool):
    item = directory.item(due.obligation, due.occurrence)
    base = directory.base_url
    if due.kind == "reminder":
        return mailer.reminder_email(
            base_url=base, item=item, recipient=recipient, days_left=due.days
        )
    if due.kind == "overdue":
        return mailer.overdue_email(
            base_url=base, item=item, recipient=recipient, days_overdue=due.days
        )
    return mailer.escalation_email(
        base_url=base,
        item=item,
        recipient=recipient,
        days_overdue=due.days,
        sro_missing=sro_missing,
    )


def queue_due(*, session: Session, settings: Settings, on: dt.date) -> QueueReport:
    """Queue what periods without evidence have reached on a date; each message only once."""
    directory = Directory(session, settings, on)
    report = QueueReport()
    planned = []
    for due in due_on(session=session, directory=directory, on=on):
        routed, sro_missing = _recipients(directory, due)
        recipients = [r for r in routed if isinstance(r, Recipient)]
        report.digest_only += len(routed) - len(recipients)
        report.no_address += not routed
        planned += [(due, r, sro_missing, _key(due.key, r)) for r in recipients]
    already = mailer.queued_keys(session=session, keys=[key for *_, key in planned])
    for due, recipient, sro_missing, key in planned:
        if key in already:
            report.already_queued += 1
            continue
        try:
            email = _email(directory, due, recipient, sro_missing)
        except Exception:  # one period that cannot be described must not stop the rest
            log.exception("could not write the %s email %s", due.kind, key)
            report.errors += 1
            continue
        new = mailer.enqueue(
            session=session,
            settings=settings,
            key=key,
            kind=due.kind,
            to_address=recipient.address,
            email=email,
            to_user_id=recipient.user_id,
            obligation_id=due.obligation.id,
            occurrence_id=due.occurrence.id,
        )
        report.queued[due.kind] = report.queued.get(due.kind, 0) + new
        report.already_queued += not new
    return report


# An inspector's query and its answer ----------------------------------------------------------


def _served(session: Session, evidence_id: int) -> tuple[Obligation, Period] | None:
    row = session.exec(
        select(Obligation, Period)
        .join(Period, col(Period.obligation_id) == Obligation.id)
        .join(EvidenceLink, col(EvidenceLink.occurrence_id) == Period.id)
        .where(EvidenceLink.evidence_id == evidence_id)
        .order_by(col(Period.due_date), col(Period.id))
    ).first()
    return (row[0], row[1]) if row else None


def _queue_notice(
    session: Session, settings: Settings, comment: EvidenceComment, kind: str, to: User | None
) -> int:
    directory = Directory(session, settings, settings.today())
    evidence = stored(session, Evidence, comment.evidence_id)
    served = _served(session, row_id(evidence))
    if served is None:
        return 0
    obligation, occurrence = served
    # Only a single reminder can be routed to the digest, so this is a Recipient or None.
    routed = directory.route(to)
    recipients = [routed] if isinstance(routed, Recipient) else []
    if not recipients and kind == "query":  # the officer is unknown, or away with no delegate
        recipients = directory.contact(obligation)
    author = stored(session, User, comment.author_id)
    item = directory.item(obligation, occurrence)
    queued = 0
    for recipient in recipients:
        common: dict[str, Any] = {
            "base_url": directory.base_url,
            "item": item,
            "recipient": recipient,
        }
        email = (
            mailer.query_email(
                **common, evidence=evidence, question=comment.body or "", inspector=author.name
            )
            if kind == "query"
            else mailer.answer_email(
                **common, evidence=evidence, answer=comment.body or "", officer=author.name
            )
        )
        queued += mailer.enqueue(
            session=session,
            settings=settings,
            key=_key(f"{kind}:{comment.id}", recipient),
            kind=kind,
            to_address=recipient.address,
            email=email,
            to_user_id=recipient.user_id,
            obligation_id=obligation.id,
            occurrence_id=occurrence.id,
            evidence_id=evidence.id,
        )
    return queued


def queue_query_notice(*, session: Session, settings: Settings, comment: EvidenceComment) -> int:
    """Tell the officer who recorded the evidence (or the body's contact) of a query."""
    evidence = stored(session, Evidence, comment.evidence_id)
    officer = session.get(User, evidence.recorded_by_id) if evidence.recorded_by_id else None

    return _queue_notice(session, settings, comment, "query", officer)


def queue_answer_notice(*, session: Session, settings: Settings, comment: EvidenceComment) -> int:
    """Tell the inspector who raised the query that the officer has answered it."""
    query = session.exec(
        select(EvidenceComment)
        .where(
            EvidenceComment.evidence_id == comment.evidence_id,
            EvidenceComment.kind == "queried",
            col(EvidenceComment.id) < comment.id,
        )
        .order_by(col(EvidenceComment.id).desc())
    ).first()
    inspector = session.get(User, query.author_id) if query else None
    return _queue_notice(session, settings, comment, "answer", inspector)


def addressees_and_holders(
    *, session: Session, messages: list[OutboxMessage]
) -> tuple[dict[int, str], dict[int, str]]:
    """The names of the people messages were to, by user id, and the names of the body or
    partnership holding the obligations they were about, by obligation id."""
    user_ids = {m.to_user_id for m in messages if m.to_user_id}
    names = dict(session.exec(select(User.id, User.name).where(col(User.id).in_(user_ids))).all())
    obligation_ids = {m.obligation_id for m in messages if m.obligation_id}
    holders = {
        obligation_id: body or partnership
        for obligation_id, body, partnership in session.exec(
            select(Obligation.id, Body.name, Partnership.name)
            .outerjoin(Body, col(Body.id) == Obligation.body_id)
            .outerjoin(Partnership, col(Partnership.id) == Obligation.partnership_id)
            .where(col(Obligation.id).in_(obligation_ids))
        )
    }
    return names, holders  # type: ignore[return-value]  # the keys were looked up, so not None
