"""Each open obligation's judged state kept in a table (obligation_state), with the epoch that
tells a reader whether what it judged may be kept (obligation_state_epoch). Empty at first:
states are judged when first read, or by the nightly check.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "obligation_state",
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("judged_on", sa.Date(), nullable=False),
        sa.Column("due_soon_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("holder_name", sa.Text(), nullable=False),
        sa.Column("source_title", sa.Text(), nullable=False),
        sa.Column("item_title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligation.id"],
            name=op.f("fk_obligation_state_obligation_id_obligation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("obligation_id", name=op.f("pk_obligation_state")),
    )
    with op.batch_alter_table("obligation_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_obligation_state_outcome"), ["outcome"], unique=False
        )
        batch_op.create_index(
            "ix_obligation_state_status_next_due", ["status", "next_due"], unique=False
        )
    epoch = op.create_table(
        "obligation_state_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligation_state_epoch")),
    )
    op.bulk_insert(epoch, [{"id": 1, "token": ""}])


def downgrade() -> None:
    op.drop_table("obligation_state_epoch")
    with op.batch_alter_table("obligation_state", schema=None) as batch_op:
        batch_op.drop_index("ix_obligation_state_status_next_due")
        batch_op.drop_index(batch_op.f("ix_obligation_state_outcome"))
    op.drop_table("obligation_state")
