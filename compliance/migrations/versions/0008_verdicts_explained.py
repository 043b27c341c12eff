"""Verdicts a council can trust: a deliverable says which law sets its due date (none: a
convention of the catalogue), and a finding says where its date comes from, since when it has
held and what would clear it. `compliance init` then reloads the catalogue and re-runs the
check, so findings already stored are brought to the new rules; none is deleted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('due_set_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('since_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('remedy', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_column('remedy')
        batch_op.drop_column('since_date')
        batch_op.drop_column('basis')
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.drop_column('due_set_by')
