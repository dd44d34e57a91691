"""assessment: per-person quiz overrides, manual marks on typed answers, and their log

Revision ID: a7c3e9d1b024
Revises: c8f2a1d4e6b3
Created: 2026-12-06 11:05:00

assessment_override: one technician's own rules on one quiz (extra attempts, cooldown lifted,
extra minutes, own due date), unique per (quiz, user). assessment_manual_mark: a trainer's mark on
one item of a graded attempt, unique per (attempt, position). assessment_event: who changed which
of these and when, as a message id + values. ix_assessment_attempt_quiz_submitted: the
report's list of every attempt, newest first.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e9d1b024'
down_revision = 'c8f2a1d4e6b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'assessment_override',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('extra_attempts', sa.Integer(), nullable=False),
        sa.Column('lift_cooldown', sa.Boolean(), nullable=False),
        sa.Column('extra_minutes', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('set_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['set_by_id'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('quiz_id', 'user_id'),
    )
    op.create_index('ix_assessment_override_user_id', 'assessment_override', ['user_id'], unique=False)
    op.create_table(
        'assessment_manual_mark',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('mark', sa.Double(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('marked_by_id', sa.Integer(), nullable=True),
        sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['assessment_attempt.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['marked_by_id'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('attempt_id', 'position'),
    )
    op.create_table(
        'assessment_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('msg_id', sa.String(length=60), server_default='', nullable=False),
        sa.Column('params', sa.JSON(), server_default='{}', nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['attempt_id'], ['assessment_attempt.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_assessment_event_quiz_user', 'assessment_event', ['quiz_id', 'user_id'], unique=False)
    op.create_index('ix_assessment_attempt_quiz_submitted', 'assessment_attempt', ['quiz_id', 'submitted_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_assessment_attempt_quiz_submitted', table_name='assessment_attempt')
    op.drop_index('ix_assessment_event_quiz_user', table_name='assessment_event')
    op.drop_table('assessment_event')
    op.drop_table('assessment_manual_mark')
    op.drop_index('ix_assessment_override_user_id', table_name='assessment_override')
    op.drop_table('assessment_override')
