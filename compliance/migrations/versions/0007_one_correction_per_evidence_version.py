"""One correction per evidence version: the supersedes_id index becomes unique, so that two
corrections of the same version made at the same moment cannot both land.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:33:54.376411
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_supersedes_id'))
        batch_op.create_index(batch_op.f('ix_evidence_supersedes_id'), ['supersedes_id'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_supersedes_id'))
        batch_op.create_index(batch_op.f('ix_evidence_supersedes_id'), ['supersedes_id'], unique=False)

