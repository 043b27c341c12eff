"""Reminders: the email outbox, email preferences, bodies' reminder settings, calendar tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 07:33:39.137239
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('body_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(user_id IS NULL) <> (body_id IS NULL)', name=op.f('ck_calendar_token_one_owner')),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_calendar_token_body_id_body')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_calendar_token_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_token_token_hash'))
    )
    with op.batch_alter_table('calendar_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_token_body_id'), ['body_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_token_user_id'), ['user_id'], unique=False)

    op.create_table('email_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('digest_only', sa.Boolean(), nullable=False),
    sa.Column('paused_from_date', sa.Date(), nullable=True),
    sa.Column('paused_until_date', sa.Date(), nullable=True),
    sa.Column('delegate_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['user.id'], name=op.f('fk_email_preference_delegate_id_user')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_email_preference_user_id_user')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_email_preference'))
    )
    op.create_table('reminder_setting',
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('reminder_days', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('sro_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('sro_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_reminder_setting_body_id_body')),
    sa.PrimaryKeyConstraint('body_id', name=op.f('pk_reminder_setting'))
    )
    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('to_address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('to_user_id', sa.Integer(), nullable=True),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('obligation_id', sa.Integer(), nullable=True),
    sa.Column('occurrence_id', sa.Integer(), nullable=True),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_outbox_message_evidence_id_evidence')),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], name=op.f('fk_outbox_message_obligation_id_obligation')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_outbox_message_occurrence_id_occurrence')),
    sa.ForeignKeyConstraint(['to_user_id'], ['user.id'], name=op.f('fk_outbox_message_to_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_message_idempotency_key')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_message_id'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_obligation_id'), ['obligation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_message_obligation_id'))
        batch_op.drop_index('ix_outbox_message_due')

    op.drop_table('outbox_message')
    op.drop_table('reminder_setting')
    op.drop_table('email_preference')
    with op.batch_alter_table('calendar_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_token_user_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_token_body_id'))

    op.drop_table('calendar_token')
