"""Sign-in with a work account (OpenID Connect): the link between a user and their account at a
provider (unique per provider and subject), and the provider a session was begun through.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_identity_link_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_link")),
        sa.UniqueConstraint(
            "provider", "subject", name=op.f("uq_identity_link_provider_subject")
        ),
    )
    with op.batch_alter_table("identity_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_link_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_column("provider")

    with op.batch_alter_table("identity_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_link_user_id"))

    op.drop_table("identity_link")
