"""Evaluation rounds of a partnership: invitations to the partners' staff (only each token's
SHA-256 kept), and answers stored with their round and stage only, never who gave them.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("opens_date", sa.Date(), nullable=False),
        sa.Column("closes_date", sa.Date(), nullable=False),
        sa.Column("min_answers", sa.Integer(), nullable=False),
        sa.Column("max_link_answers", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.Column("public_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_evaluation_round_partnership_id_partnership"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_round")),
        sa.UniqueConstraint("public_token", name=op.f("uq_evaluation_round_public_token")),
    )
    with op.batch_alter_table("evaluation_round", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_round_partnership_id"), ["partnership_id"], unique=False
        )

    op.create_table(
        "evaluation_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("outcome_ids", sa.JSON(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["evaluation_round.id"],
            name=op.f("fk_evaluation_answer_round_id_evaluation_round"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answer")),
    )
    with op.batch_alter_table("evaluation_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_answer_round_id"), ["round_id"], unique=False
        )

    op.create_table(
        "evaluation_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["evaluation_round.id"],
            name=op.f("fk_evaluation_invitation_round_id_evaluation_round"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_invitation")),
        sa.UniqueConstraint(
            "round_id", "email", name=op.f("uq_evaluation_invitation_round_id_email")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_evaluation_invitation_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("evaluation_invitation")
    with op.batch_alter_table("evaluation_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_answer_round_id"))
    op.drop_table("evaluation_answer")
    with op.batch_alter_table("evaluation_round", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_round_partnership_id"))
    op.drop_table("evaluation_round")
