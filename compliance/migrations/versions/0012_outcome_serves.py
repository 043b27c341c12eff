"""What each partnership outcome is the point of: a duty the partnership discharges, one
deliverable, or one funding condition. An obligation's outcome status is read from these links
only, no longer from every outcome of the partnerships behind it.

So that no status changes on upgrade, each existing partnership outcome is linked to every duty
its partnership discharges and every funding condition the partnership holds, which is what the
status engine read before; officers then narrow the links on the outcome's page.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_TARGET = (
    "CAST(duty_id IS NOT NULL AS INTEGER) + CAST(deliverable_id IS NOT NULL AS INTEGER)"
    " + CAST(condition_id IS NOT NULL AS INTEGER) = 1"
)


def upgrade() -> None:
    op.create_table(
        "outcome_serves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.Column("duty_id", sa.Integer(), nullable=True),
        sa.Column("deliverable_id", sa.Integer(), nullable=True),
        sa.Column("condition_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(ONE_TARGET, name=op.f("ck_outcome_serves_one_target")),
        sa.ForeignKeyConstraint(
            ["outcome_id"], ["outcome.id"], name=op.f("fk_outcome_serves_outcome_id_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["duty_id"], ["duty.id"], name=op.f("fk_outcome_serves_duty_id_duty")
        ),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverable.id"],
            name=op.f("fk_outcome_serves_deliverable_id_deliverable"),
        ),
        sa.ForeignKeyConstraint(
            ["condition_id"],
            ["funding_condition.id"],
            name=op.f("fk_outcome_serves_condition_id_funding_condition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_serves")),
    )
    with op.batch_alter_table("outcome_serves", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outcome_serves_outcome_id"), ["outcome_id"], unique=False
        )
    op.execute(
        "INSERT INTO outcome_serves (outcome_id, duty_id)"
        " SELECT o.id, pd.duty_id FROM outcome o"
        " JOIN partnership_duty pd ON pd.partnership_id = o.partnership_id"
    )
    op.execute(
        "INSERT INTO outcome_serves (outcome_id, condition_id)"
        " SELECT DISTINCT o.id, ob.condition_id FROM outcome o"
        " JOIN obligation ob ON ob.partnership_id = o.partnership_id"
        " WHERE ob.condition_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("outcome_serves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_serves_outcome_id"))
    op.drop_table("outcome_serves")
