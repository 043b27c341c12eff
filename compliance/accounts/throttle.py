"""Sign-in throttling that parallel requests cannot get round.

Every attempt is recorded, as a failure, and committed before it is counted or its password is
checked. Each attempt then counts every attempt committed before its count, its own included, so
of any number sent at once the k-th to commit counts at least k: no more than `limit` can find
themselves within the limit, and the rest are refused without their password being checked
(when all commit before any counts, every one is refused). The same holds on SQLite and
PostgreSQL, whatever the transaction isolation, because nothing is counted that is not committed.

Two limits: failures of one account from one address (a few), and failures from one address
whatever the account (many more). Someone guessing from an address slows only that address and
the accounts they guess at; another person's right password from the same address still works
until the higher bar.
"""

import datetime as dt

from sqlalchemy import func
from sqlmodel import Session, col, select

from compliance.accounts.models import SignInAttempt
from compliance.errors import Refused
from compliance.models import utcnow

WINDOW = dt.timedelta(minutes=15)


def record_attempt(*, session: Session, email: str, address: str) -> SignInAttempt:
    """Record an attempt as failed, and commit it, before anything is checked; a success is
    marked as such afterwards with `succeeded`."""
    attempt = SignInAttempt(email=email, address=address, succeeded=False)
    session.add(attempt)
    try:
        session.commit()
    except Refused:
        # Text the database cannot hold (a NUL): the person is told, and the session is left
        # clean for the page that tells them.
        session.rollback()
        raise
    return attempt


def succeeded(attempt: SignInAttempt) -> None:
    """Mark an attempt whose password was right: it no longer counts as a failure."""
    attempt.succeeded = True


def is_throttled(
    *, session: Session, attempt: SignInAttempt, per_account: int, per_address: int
) -> bool:
    """Whether this recorded attempt goes past a limit: more than `per_account` failures of its
    account from its address, or more than `per_address` from its address, in the window."""
    since = utcnow() - WINDOW
    from_address = (
        SignInAttempt.address == attempt.address,
        col(SignInAttempt.succeeded).is_(False),
        SignInAttempt.attempted_at >= since,
    )
    pair = select(func.count()).where(*from_address, SignInAttempt.email == attempt.email)
    if session.exec(pair).one() > per_account:
        return True
    return session.exec(select(func.count()).where(*from_address)).one() > per_address
