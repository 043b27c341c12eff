"""Initial schema: the registry, the catalogue, obligations, evidence, outcomes, users, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:05:35.465025
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_event_hash'))
    )
    op.create_table('body',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('nation', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('website', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('successor_id', sa.Integer(), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['body.id'], name=op.f('fk_body_parent_id_body')),
    sa.ForeignKeyConstraint(['successor_id'], ['body.id'], name=op.f('fk_body_successor_id_body')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_body')),
    sa.UniqueConstraint('code', name=op.f('uq_body_code'))
    )
    with op.batch_alter_table('body', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_body_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_body_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_body_parent_id'), ['parent_id'], unique=False)

    op.create_table('duty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('act', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sections', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('jurisdiction', sa.JSON(), nullable=False),
    sa.Column('holder_kinds', sa.JSON(), nullable=False),
    sa.Column('holders_note', sa.Text(), nullable=True),
    sa.Column('partner_kinds', sa.JSON(), nullable=False),
    sa.Column('partners_note', sa.Text(), nullable=True),
    sa.Column('required_members', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('typical_evidence', sa.JSON(), nullable=False),
    sa.Column('inspection', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('unverified_note', sa.Text(), nullable=True),
    sa.Column('catalogue_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('retired_in_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty')),
    sa.UniqueConstraint('slug', name=op.f('uq_duty_slug'))
    )
    op.create_table('funding_stream',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('period_start_date', sa.Date(), nullable=False),
    sa.Column('period_end_date', sa.Date(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('applicant_kinds', sa.JSON(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('unverified_note', sa.Text(), nullable=True),
    sa.Column('catalogue_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('retired_in_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_stream')),
    sa.UniqueConstraint('slug', name=op.f('uq_funding_stream_slug'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('email', name=op.f('uq_user_email'))
    )
    op.create_table('deliverable',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('duty_id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('cadence', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('interval_years', sa.Integer(), nullable=True),
    sa.Column('year_start', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('due_relative_to', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('due_offset_days', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('held_by', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('holder_kinds', sa.JSON(), nullable=False),
    sa.Column('due_note', sa.Text(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('retired_in_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['duty_id'], ['duty.id'], name=op.f('fk_deliverable_duty_id_duty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliverable')),
    sa.UniqueConstraint('duty_id', 'slug', name=op.f('uq_deliverable_duty_id_slug'))
    )
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliverable_duty_id'), ['duty_id'], unique=False)

    op.create_table('evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('period_start_date', sa.Date(), nullable=True),
    sa.Column('period_end_date', sa.Date(), nullable=True),
    sa.Column('review_by_date', sa.Date(), nullable=True),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('media_type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_evidence_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['evidence.id'], name=op.f('fk_evidence_supersedes_id_evidence')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['user.id'], name=op.f('fk_evidence_withdrawn_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence'))
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_sha256'), ['sha256'], unique=False)

    op.create_table('funding_condition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('cadence', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('due_relative_to', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('due_offset_days', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('retired_in_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['stream_id'], ['funding_stream.id'], name=op.f('fk_funding_condition_stream_id_funding_stream')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_condition')),
    sa.UniqueConstraint('stream_id', 'slug', name=op.f('uq_funding_condition_stream_id_slug'))
    )
    with op.batch_alter_table('funding_condition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_condition_stream_id'), ['stream_id'], unique=False)

    op.create_table('partnership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('lead_body_id', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lead_body_id'], ['body.id'], name=op.f('fk_partnership_lead_body_id_body')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partnership')),
    sa.UniqueConstraint('slug', name=op.f('uq_partnership_slug'))
    )
    op.create_table('bid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('lead_body_id', sa.Integer(), nullable=False),
    sa.Column('partnership_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('submitted_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lead_body_id'], ['body.id'], name=op.f('fk_bid_lead_body_id_body')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_bid_partnership_id_partnership')),
    sa.ForeignKeyConstraint(['stream_id'], ['funding_stream.id'], name=op.f('fk_bid_stream_id_funding_stream')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid')),
    sa.UniqueConstraint('reference', name=op.f('uq_bid_reference'))
    )
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bid_stream_id'), ['stream_id'], unique=False)

    op.create_table('partnership_duty',
    sa.Column('partnership_id', sa.Integer(), nullable=False),
    sa.Column('duty_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['duty_id'], ['duty.id'], name=op.f('fk_partnership_duty_duty_id_duty')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_partnership_duty_partnership_id_partnership')),
    sa.PrimaryKeyConstraint('partnership_id', 'duty_id', name=op.f('pk_partnership_duty'))
    )
    with op.batch_alter_table('partnership_duty', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partnership_duty_duty_id'), ['duty_id'], unique=False)

    op.create_table('partnership_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partnership_id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_partnership_member_body_id_body')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_partnership_member_partnership_id_partnership')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partnership_member')),
    sa.UniqueConstraint('partnership_id', 'body_id', name=op.f('uq_partnership_member_partnership_id_body_id'))
    )
    with op.batch_alter_table('partnership_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partnership_member_body_id'), ['body_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_partnership_member_partnership_id'), ['partnership_id'], unique=False)

    op.create_table('risk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partnership_id', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('likelihood', sa.Integer(), nullable=False),
    sa.Column('impact', sa.Integer(), nullable=False),
    sa.Column('mitigation', sa.Text(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_risk_partnership_id_partnership')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk'))
    )
    with op.batch_alter_table('risk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_partnership_id'), ['partnership_id'], unique=False)

    op.create_table('user_scope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=True),
    sa.Column('partnership_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(body_id IS NULL) <> (partnership_id IS NULL)', name=op.f('ck_user_scope_one_target')),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_user_scope_body_id_body')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_user_scope_partnership_id_partnership')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_scope_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_scope'))
    )
    with op.batch_alter_table('user_scope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_scope_user_id'), ['user_id'], unique=False)

    op.create_table('bid_applicant',
    sa.Column('bid_id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_bid_applicant_bid_id_bid')),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_bid_applicant_body_id_body')),
    sa.PrimaryKeyConstraint('bid_id', 'body_id', name=op.f('pk_bid_applicant'))
    )
    with op.batch_alter_table('bid_applicant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bid_applicant_body_id'), ['body_id'], unique=False)

    op.create_table('obligation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=True),
    sa.Column('partnership_id', sa.Integer(), nullable=True),
    sa.Column('deliverable_id', sa.Integer(), nullable=True),
    sa.Column('bid_id', sa.Integer(), nullable=True),
    sa.Column('condition_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('opened_date', sa.Date(), nullable=False),
    sa.Column('closed_date', sa.Date(), nullable=True),
    sa.Column('closed_reason', sa.Text(), nullable=True),
    sa.Column('not_applicable_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(body_id IS NULL) <> (partnership_id IS NULL)', name=op.f('ck_obligation_one_holder')),
    sa.CheckConstraint('(condition_id IS NULL) = (bid_id IS NULL)', name=op.f('ck_obligation_condition_via_bid')),
    sa.CheckConstraint('(deliverable_id IS NULL) <> (condition_id IS NULL)', name=op.f('ck_obligation_one_source')),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_obligation_bid_id_bid')),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_obligation_body_id_body')),
    sa.ForeignKeyConstraint(['condition_id'], ['funding_condition.id'], name=op.f('fk_obligation_condition_id_funding_condition')),
    sa.ForeignKeyConstraint(['deliverable_id'], ['deliverable.id'], name=op.f('fk_obligation_deliverable_id_deliverable')),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_obligation_owner_id_user')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_obligation_partnership_id_partnership')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_obligation')),
    sa.UniqueConstraint('key', name=op.f('uq_obligation_key'))
    )
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_obligation_bid_id'), ['bid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_obligation_body_id'), ['body_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_obligation_deliverable_id'), ['deliverable_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_obligation_partnership_id'), ['partnership_id'], unique=False)

    op.create_table('occurrence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('period_start_date', sa.Date(), nullable=False),
    sa.Column('period_end_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], name=op.f('fk_occurrence_obligation_id_obligation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_occurrence')),
    sa.UniqueConstraint('obligation_id', 'period_start_date', name=op.f('uq_occurrence_obligation_id_period_start_date'))
    )
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occurrence_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_obligation_id'), ['obligation_id'], unique=False)

    op.create_table('outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partnership_id', sa.Integer(), nullable=True),
    sa.Column('obligation_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], name=op.f('fk_outcome_obligation_id_obligation')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_outcome_partnership_id_partnership')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome'))
    )
    with op.batch_alter_table('outcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_obligation_id'), ['obligation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_partnership_id'), ['partnership_id'], unique=False)

    op.create_table('evidence_link',
    sa.Column('evidence_id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_evidence_link_evidence_id_evidence')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_evidence_link_occurrence_id_occurrence')),
    sa.PrimaryKeyConstraint('evidence_id', 'occurrence_id', name=op.f('pk_evidence_link'))
    )
    with op.batch_alter_table('evidence_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_link_occurrence_id'), ['occurrence_id'], unique=False)

    op.create_table('indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('baseline_value', sa.Float(), nullable=True),
    sa.Column('baseline_date', sa.Date(), nullable=True),
    sa.Column('target_value', sa.Float(), nullable=True),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('data_source', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['outcome_id'], ['outcome.id'], name=op.f('fk_indicator_outcome_id_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator'))
    )
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_outcome_id'), ['outcome_id'], unique=False)

    op.create_table('measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('measured_date', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_measurement_indicator_id_indicator')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_measurement_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measurement')),
    sa.UniqueConstraint('indicator_id', 'measured_date', name=op.f('uq_measurement_indicator_id_measured_date'))
    )
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measurement_indicator_id'), ['indicator_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measurement_indicator_id'))

    op.drop_table('measurement')
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_outcome_id'))

    op.drop_table('indicator')
    with op.batch_alter_table('evidence_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_link_occurrence_id'))

    op.drop_table('evidence_link')
    with op.batch_alter_table('outcome', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_partnership_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_obligation_id'))

    op.drop_table('outcome')
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrence_obligation_id'))
        batch_op.drop_index(batch_op.f('ix_occurrence_due_date'))

    op.drop_table('occurrence')
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_obligation_partnership_id'))
        batch_op.drop_index(batch_op.f('ix_obligation_deliverable_id'))
        batch_op.drop_index(batch_op.f('ix_obligation_body_id'))
        batch_op.drop_index(batch_op.f('ix_obligation_bid_id'))

    op.drop_table('obligation')
    with op.batch_alter_table('bid_applicant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bid_applicant_body_id'))

    op.drop_table('bid_applicant')
    with op.batch_alter_table('user_scope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_scope_user_id'))

    op.drop_table('user_scope')
    with op.batch_alter_table('risk', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_partnership_id'))

    op.drop_table('risk')
    with op.batch_alter_table('partnership_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partnership_member_partnership_id'))
        batch_op.drop_index(batch_op.f('ix_partnership_member_body_id'))

    op.drop_table('partnership_member')
    with op.batch_alter_table('partnership_duty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partnership_duty_duty_id'))

    op.drop_table('partnership_duty')
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bid_stream_id'))

    op.drop_table('bid')
    op.drop_table('partnership')
    with op.batch_alter_table('funding_condition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funding_condition_stream_id'))

    op.drop_table('funding_condition')
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_sha256'))

    op.drop_table('evidence')
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliverable_duty_id'))

    op.drop_table('deliverable')
    op.drop_table('user')
    op.drop_table('funding_stream')
    op.drop_table('duty')
    with op.batch_alter_table('body', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_body_parent_id'))
        batch_op.drop_index(batch_op.f('ix_body_name'))
        batch_op.drop_index(batch_op.f('ix_body_kind'))

    op.drop_table('body')
    op.drop_table('audit_event')
