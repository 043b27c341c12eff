"""Full evidence packs in the background: a report job may also put every holder's own report
into the pack (full_pack), and a finished one names that pack in the report cache (pack_path).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("full_pack", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("pack_path", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_column("pack_path")
        batch_op.drop_column("full_pack")
