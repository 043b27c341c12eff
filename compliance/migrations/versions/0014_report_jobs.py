"""Background report jobs in the database, so that every web process can follow a job and a
finished one survives a restart. Jobs used to live in one process's memory: there are none to
carry over.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status IN ('queued', 'running', 'done', 'failed')"


def upgrade() -> None:
    op.create_table(
        "report_job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("as_at_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stage", sa.String(length=60), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pdf_path", sa.String(length=300), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(STATUSES, name=op.f("ck_report_job_status")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_report_job_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job")),
    )
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_job_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_job_user_id"))
    op.drop_table("report_job")
