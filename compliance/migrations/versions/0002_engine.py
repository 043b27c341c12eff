"""The engine: review threads, declarations, check runs, findings, job runs; no chain forks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:09:40.026507
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('check_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_at_date', sa.Date(), nullable=False),
    sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('findings_open', sa.Integer(), nullable=False),
    sa.Column('findings_new', sa.Integer(), nullable=False),
    sa.Column('findings_resolved', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_run'))
    )
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    sa.UniqueConstraint('job', 'slot', name=op.f('uq_job_run_job_slot'))
    )
    op.create_table('evidence_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_evidence_comment_author_id_user')),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_evidence_comment_evidence_id_evidence')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_comment'))
    )
    with op.batch_alter_table('evidence_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_comment_evidence_id'), ['evidence_id'], unique=False)

    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=True),
    sa.Column('partnership_id', sa.Integer(), nullable=True),
    sa.Column('obligation_id', sa.Integer(), nullable=True),
    sa.Column('occurrence_id', sa.Integer(), nullable=True),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.Column('indicator_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_run_id', sa.Integer(), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_finding_body_id_body')),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_finding_evidence_id_evidence')),
    sa.ForeignKeyConstraint(['first_run_id'], ['check_run.id'], name=op.f('fk_finding_first_run_id_check_run')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_finding_indicator_id_indicator')),
    sa.ForeignKeyConstraint(['last_run_id'], ['check_run.id'], name=op.f('fk_finding_last_run_id_check_run')),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], name=op.f('fk_finding_obligation_id_obligation')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_finding_occurrence_id_occurrence')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnership.id'], name=op.f('fk_finding_partnership_id_partnership')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding'))
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_body_id'), ['body_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_obligation_id'), ['obligation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_partnership_id'), ['partnership_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_rule'), ['rule'], unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_event_prev_hash'), ['prev_hash'])

    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_compliant_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('declared_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_occurrence_declared_by_id_user'), 'user', ['declared_by_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_occurrence_declared_by_id_user'), type_='foreignkey')
        batch_op.drop_column('declared_by_id')
        batch_op.drop_column('declared_compliant_at')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_event_prev_hash'), type_='unique')

    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_rule'))
        batch_op.drop_index(batch_op.f('ix_finding_partnership_id'))
        batch_op.drop_index(batch_op.f('ix_finding_obligation_id'))
        batch_op.drop_index(batch_op.f('ix_finding_key'))
        batch_op.drop_index(batch_op.f('ix_finding_body_id'))

    op.drop_table('finding')
    with op.batch_alter_table('evidence_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_comment_evidence_id'))

    op.drop_table('evidence_comment')
    op.drop_table('job_run')
    op.drop_table('check_run')
