"""Who may come in with a work account: users linked to their accounts at OpenID providers.

A person is found by the provider's subject. The first time, they are linked to the user with
their email address, if the provider has verified it; no account is made unless the provider is
set to make them, and then with the role and scope its groups claim is mapped to (or none, left
inactive until an administrator gives them one). A deactivated user never comes in. Every
refusal is on the audit trail, and nothing else is stored for it.
"""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from compliance.accounts.models import IdentityLink
from compliance.accounts.service import Role, create_user, last_sign_in, normalise_email
from compliance.accounts.throttle import is_throttled, record_attempt
from compliance.audit.service import record as audit
from compliance.audit.service import snapshot
from compliance.config import OidcGrant, OidcProvider
from compliance.db import row_id
from compliance.errors import Refused
from compliance.models import User, utcnow
from compliance.paging import Keyset

DEACTIVATED = "This account has been deactivated. Ask your administrator if you need access"
WAITING = (
    "Your account has been made and is waiting for an administrator to give you access. "
    "Ask your administrator"
)
ROLE_POWER = {Role.inspector: 0, Role.officer: 1, Role.admin: 2}


class NotLetIn(Refused):
    """A person the provider vouched for whom this service does not let in; `reason` is for
    the audit trail."""

    def __init__(
        self,
        reason: str,
        message: str,
        person: "Person",
        user_id: int | None = None,
        status: int = 403,
    ) -> None:
        super().__init__(message, status=status)
        self.reason, self.person, self.user_id = reason, person, user_id


@dataclass(frozen=True)
class Person:
    """What a provider says of the person signing in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str
    groups: list[str]


def person_from(provider: OidcProvider, claims: dict) -> Person:
    """The claims that matter, read with the provider's settings."""
    subject = str(claims.get(provider.subject_claim) or "")[:255]
    email = claims.get(provider.email_claim)
    verified = provider.email_verified or claims.get("email_verified") in (True, "true")
    groups = claims.get(provider.groups_claim) or []
    return Person(
        subject=subject,
        email=str(email).strip().lower()[:254] if email else None,
        email_verified=bool(email) and verified,
        name=str(claims.get("name") or email or subject)[:200],
        groups=[str(g) for g in groups] if isinstance(groups, list) else [str(groups)],
    )


def sign_in(*, session: Session, provider: OidcProvider, person: Person, address: str) -> User:
    """The user this person is, linked on their first sign-in; NotLetIn (recorded on the audit
    trail) if they may not come in."""
    if not person.subject:
        raise _refuse(person, "no_subject", _no_subject(provider))
    link = _link_of(session, provider.name, person.subject)
    if link is not None:
        user = session.get(User, link.user_id)
        assert user is not None, "a link's user is kept while the link is"
    else:
        user = _match_or_create(session, provider, person)
        link = _link(session, provider, person, user)
    if not user.is_active:
        waiting = last_sign_in(session=session, user_id=row_id(user)) is None
        reason, message = ("waiting", WAITING) if waiting else ("deactivated", DEACTIVATED)
        raise _refuse(person, reason, message, user)
    link.last_sign_in_at = utcnow()
    audit(
        session=session,
        actor=user.email,
        action="user.signed_in",
        entity_type="user",
        entity_id=user.id,
        after={"address": address[:100], "provider": provider.name},
    )
    return user


def _no_subject(provider: OidcProvider) -> str:
    return f"{provider.label} did not say who you are, so you have not been signed in"


def _link_of(session: Session, provider: str, subject: str) -> IdentityLink | None:
    query = select(IdentityLink).where(
        IdentityLink.provider == provider, IdentityLink.subject == subject
    )
    return session.exec(query).first()


def _match_or_create(session: Session, provider: OidcProvider, person: Person) -> User:
    user = None
    if person.email and person.email_verified:
        user = session.exec(select(User).where(User.email == person.email)).first()
    if user is not None:
        if not user.is_active:
            raise _refuse(person, "deactivated", DEACTIVATED, user)
        if _linked_elsewhere(session, provider.name, row_id(user)):
            message = (
                f"Your email address belongs to an account here that is linked to another "
                f"{provider.label} account. Ask your administrator to unlink it first"
            )
            raise _refuse(person, "linked_elsewhere", message, user)
        return user
    if person.email and not person.email_verified:
        message = (
            f"{provider.label} has not confirmed your email address, so it cannot be matched "
            "to an account here. Ask your administrator"
        )
        raise _refuse(person, "email_not_verified", message)
    if not provider.create_users or not person.email:
        message = (
            f"There is no account here for {person.email or 'you'}. Ask your administrator to "
            "add you, then sign in again"
        )
        raise _refuse(person, "unknown_user", message)
    return _create(session, provider, person)


def _linked_elsewhere(session: Session, provider: str, user_id: int) -> bool:
    query = select(IdentityLink.id).where(
        IdentityLink.provider == provider, IdentityLink.user_id == user_id
    )
    return session.exec(query).first() is not None


def _create(session: Session, provider: OidcProvider, person: Person) -> User:
    grants = [provider.grants[g] for g in person.groups if g in provider.grants]
    grant = _combined(grants)
    assert person.email is not None, "an account is made only for a verified email"
    user = create_user(
        session=session,
        email=normalise_email(person.email),
        name=person.name,
        role=grant.role if grant else Role.officer,
        password=None,
        body_codes=grant.bodies if grant else (),
        partnership_slugs=grant.partnerships if grant else (),
        actor=f"oidc:{provider.name}",
    )
    if grant is None:
        # No group gives a role: the account waits, inactive, for an administrator.
        user.is_active = False
    return user


def _combined(grants: list[OidcGrant]) -> OidcGrant | None:
    """The most powerful role among the groups matched, with every scope they name."""
    if not grants:
        return None
    role = max((g.role for g in grants), key=lambda r: ROLE_POWER[Role(r)])
    bodies = list(dict.fromkeys(code for g in grants for code in g.bodies))
    partnerships = list(dict.fromkeys(slug for g in grants for slug in g.partnerships))
    return OidcGrant(role=role, bodies=bodies, partnerships=partnerships)


def _link(session: Session, provider: OidcProvider, person: Person, user: User) -> IdentityLink:
    link = IdentityLink(
        user_id=row_id(user),
        provider=provider.name,
        subject=person.subject,
        email=person.email or "",
    )
    session.add(link)
    session.flush()
    audit(
        session=session,
        actor=user.email,
        action="user.identity_linked",
        entity_type="user",
        entity_id=user.id,
        after=snapshot(link, "provider", "subject", "email"),
    )
    return link


def _refuse(person: Person, reason: str, message: str, user: User | None = None) -> NotLetIn:
    # Recorded on the audit trail by the page that shows the refusal (record_refusal).
    return NotLetIn(reason, message, person, user.id if user else None)


def record_refusal(
    *,
    session: Session,
    provider: str,
    reason: str,
    address: str,
    per_address: int,
    email: str | None = None,
    subject: str | None = None,
    user_id: int | None = None,
) -> None:
    """A refused sign-in with a provider, on the audit trail (and nothing else stored), unless
    its address has been refused more than `per_address` times in the throttle's window: then
    it is only counted, as a flood of wrong passwords is, so that anyone sending made-up
    answers to the callback cannot swell the trail. The count is the password sign-in's own
    (accounts.throttle): failures from an address add up whichever way they came."""
    attempt = record_attempt(session=session, email=f"oidc:{provider}", address=address)
    limits = {"per_account": per_address, "per_address": per_address}
    if is_throttled(session=session, attempt=attempt, **limits):
        return
    audit(
        session=session,
        actor=(email or f"oidc:{provider}")[:254],
        action="user.sign_in_refused",
        entity_type="user",
        entity_id=user_id if user_id is not None else "unknown",
        after={"address": address[:100], "provider": provider, "reason": reason}
        | ({"subject": subject} if subject else {}),
    )


@dataclass(frozen=True)
class LinkRow:
    """A link as the admin's list shows it."""

    id: int
    user_id: int
    user_name: str
    user_email: str
    provider: str
    subject: str
    email: str
    linked_at: dt.datetime
    last_sign_in_at: dt.datetime | None


# The admin's list of work accounts: by the user's name, then provider.
LINKS_BY_NAME = Keyset((col(User.name), col(IdentityLink.provider), col(IdentityLink.id)))


def links(*, session: Session, offset: int = 0, limit: int = 50) -> list[LinkRow]:
    """Every link, by user name then provider, a page at a time."""
    query = select(IdentityLink, User).join(User, col(User.id) == IdentityLink.user_id)
    query = LINKS_BY_NAME.numbered(query, start=offset, size=limit)
    return [
        LinkRow(
            row_id(link),
            row_id(user),
            user.name,
            user.email,
            link.provider,
            link.subject,
            link.email,
            link.linked_at,
            link.last_sign_in_at,
        )
        for link, user in session.exec(query)
    ]


def count_links(*, session: Session) -> int:
    """How many links there are."""
    return session.exec(select(func.count()).select_from(IdentityLink)).one()


def get_link(*, session: Session, link_id: int) -> IdentityLink | None:
    """Return one link, or None."""
    return session.get(IdentityLink, link_id)


def unlink(*, session: Session, link: IdentityLink, actor: str) -> None:
    """Remove a link: that provider account no longer signs in as the user (until linked
    again by verified email at its next sign-in)."""
    before = snapshot(link, "user_id", "provider", "subject", "email")
    session.delete(link)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="user.identity_unlinked",
        entity_type="user",
        entity_id=link.user_id,
        before=before,
    )
