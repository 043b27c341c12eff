"""The report cache's change marker: a second row of obligation_state_epoch, whose token every
commit that writes a row a report could read draws afresh (compliance.reports.changes).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EPOCH = sa.table("obligation_state_epoch", sa.column("id", sa.Integer), sa.column("token"))


def upgrade() -> None:
    op.bulk_insert(EPOCH, [{"id": 2, "token": ""}])


def downgrade() -> None:
    op.execute(EPOCH.delete().where(EPOCH.c.id == 2))
