"""On PostgreSQL, the obligations list's order as an index on the kept states, so that a page of
the list at national scale walks the index and stops after its rows instead of sorting every
open obligation (80 ms at 4,000 bodies; 1 ms with it). The expressions are those of
compliance.obligations.judged.sort_order, text in code-point order (the "C" collation). An index
on expressions: the models cannot declare it (SQLite has no such collation), and autogenerate
leaves it be (compliance.migrations.MIGRATION_ONLY_INDEXES). SQLite, the embedded default for a
single area, sorts its few thousand states without one (and cannot reflect such an index).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_obligation_state_list_order"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    columns = [
        "(next_due IS NULL)",
        "next_due",
        *(f'{name} COLLATE "C"' for name in ("holder_name", "source_title", "item_title")),
        "obligation_id",
    ]
    op.create_index(NAME, "obligation_state", [sa.text(c) for c in columns], unique=False)


def downgrade() -> None:
    if _postgresql():
        op.drop_index(NAME, table_name="obligation_state")
