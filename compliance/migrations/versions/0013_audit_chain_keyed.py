"""The audit chain is keyed: each event's hash becomes an HMAC under a key derived from
COMPLIANCE_SECRET_KEY, so that rewriting an event and recomputing the hashes after it needs the
key, not only the code.

A chain written before this revision is re-hashed under the key only if it first verifies
intact as it was (plain SHA-256): a chain that was already tampered with is left as it is, so
that `compliance audit verify` still names the break rather than the upgrade hiding it. The
downgrade re-hashes a chain that verifies under the key back to plain SHA-256.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

from alembic import op
from sqlmodel import Session

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rehash(*, keyed: bool) -> None:
    from compliance.audit.service import ChainBroken, chain_key, rekey

    session = Session(bind=op.get_bind())
    try:
        if keyed:
            rekey(session=session, old_key=None, new_key=chain_key())
        else:
            rekey(session=session, old_key=chain_key(), new_key=None)
    except ChainBroken:
        pass  # left as it was: verify names the break
    session.flush()


def upgrade() -> None:
    _rehash(keyed=True)


def downgrade() -> None:
    _rehash(keyed=False)
