"""audits: the audit programme — programmes, each period's draw, planned visits, hand-backs

Revision ID: d023f92ba62d
Revises: b7d41e9a3c52
Created: 2026-12-06 16:37:19

A programme (per audit form) says who may be drawn for a mystery visit and how often; each
period's draw is kept with its seed so it can be reproduced; each drawn technician gets one
planned visit with an auditor and a due date; an auditor's hand-back keeps its reason. New
tables only: nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa


revision = 'd023f92ba62d'
down_revision = 'b7d41e9a3c52'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('template_slug', sa.String(length=80), nullable=False),
    sa.Column('title_zh', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_audit_programme_updated_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_programme')),
    sa.UniqueConstraint('slug', name=op.f('uq_audit_programme_slug'))
    )
    with op.batch_alter_table('audit_programme', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_programme_template_slug'), ['template_slug'], unique=False)

    op.create_table('audit_draw',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('seed_given', sa.Boolean(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('eligible', sa.Integer(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('drawn', sa.Integer(), nullable=False),
    sa.Column('unassigned', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['user.id'], name=op.f('fk_audit_draw_drawn_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['programme_id'], ['audit_programme.id'], name=op.f('fk_audit_draw_programme_id_audit_programme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_draw')),
    sa.UniqueConstraint('programme_id', 'period', name=op.f('uq_audit_draw_programme_id'))
    )
    with op.batch_alter_table('audit_draw', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_draw_period'), ['period'], unique=False)

    op.create_table('audit_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=True),
    sa.Column('auditor_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_visit_audit_id_audit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['auditor_id'], ['user.id'], name=op.f('fk_audit_visit_auditor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['draw_id'], ['audit_draw.id'], name=op.f('fk_audit_visit_draw_id_audit_draw'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_audit_visit_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['programme_id'], ['audit_programme.id'], name=op.f('fk_audit_visit_programme_id_audit_programme'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technician_id'], ['user.id'], name=op.f('fk_audit_visit_technician_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_visit')),
    sa.UniqueConstraint('audit_id', name=op.f('uq_audit_visit_audit_id')),
    sa.UniqueConstraint('draw_id', 'technician_id', name=op.f('uq_audit_visit_draw_id'))
    )
    with op.batch_alter_table('audit_visit', schema=None) as batch_op:
        batch_op.create_index('ix_audit_visit_auditor_status_due', ['auditor_id', 'status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_visit_outlet_id'), ['outlet_id'], unique=False)
        batch_op.create_index('ix_audit_visit_period_status', ['period', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_visit_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('ix_audit_visit_technician_period', ['technician_id', 'period'], unique=False)

    op.create_table('audit_visit_handback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('auditor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reassigned_to_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['auditor_id'], ['user.id'], name=op.f('fk_audit_visit_handback_auditor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reassigned_to_id'], ['user.id'], name=op.f('fk_audit_visit_handback_reassigned_to_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['audit_visit.id'], name=op.f('fk_audit_visit_handback_visit_id_audit_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_visit_handback'))
    )
    with op.batch_alter_table('audit_visit_handback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_visit_handback_auditor_id'), ['auditor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_visit_handback_visit_id'), ['visit_id'], unique=False)



def downgrade():
    with op.batch_alter_table('audit_visit_handback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_visit_handback_visit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_visit_handback_auditor_id'))

    op.drop_table('audit_visit_handback')
    with op.batch_alter_table('audit_visit', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_visit_technician_period')
        batch_op.drop_index(batch_op.f('ix_audit_visit_programme_id'))
        batch_op.drop_index('ix_audit_visit_period_status')
        batch_op.drop_index(batch_op.f('ix_audit_visit_outlet_id'))
        batch_op.drop_index('ix_audit_visit_auditor_status_due')

    op.drop_table('audit_visit')
    with op.batch_alter_table('audit_draw', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_draw_period'))

    op.drop_table('audit_draw')
    with op.batch_alter_table('audit_programme', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_programme_template_slug'))

    op.drop_table('audit_programme')
