"""Index evidence.supersedes_id: every check asks whether each piece of evidence is superseded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 08:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_supersedes_id"), ["supersedes_id"], unique=False)  # noqa: E501


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_supersedes_id"))
