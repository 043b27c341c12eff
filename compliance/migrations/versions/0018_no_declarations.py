"""A period is no longer declared compliant: nothing ever set the declaration (no page, API or
command did), so the rule that flagged one without evidence could not fire. Evidence is how a
period is met.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_occurrence_declared_by_id_user"), type_="foreignkey")
        batch_op.drop_column("declared_by_id")
        batch_op.drop_column("declared_compliant_at")


def downgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("declared_compliant_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("declared_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_occurrence_declared_by_id_user"), "user", ["declared_by_id"], ["id"]
        )
