"""Is it worth it? A partnership records why it exists in its form, the alternatives considered,
its costs a year (staff days, whole pounds, meetings, as at a date), its benefits, and when its
partners last decided, and will next decide, whether it should continue. Every column is
optional: nothing is assumed for a partnership that has not recorded them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXTS = ("rationale", "alternatives", "benefits")
NUMBERS = ("staff_days_a_year", "pounds_a_year", "meetings_a_year")
DATES = ("costs_as_at_date", "continuation_decided_date", "continuation_due_date")


def upgrade() -> None:
    with op.batch_alter_table("partnership", schema=None) as batch_op:
        for name in TEXTS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))
        for name in NUMBERS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
        for name in DATES:
            batch_op.add_column(sa.Column(name, sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partnership", schema=None) as batch_op:
        for name in reversed(TEXTS + NUMBERS + DATES):
            batch_op.drop_column(name)
