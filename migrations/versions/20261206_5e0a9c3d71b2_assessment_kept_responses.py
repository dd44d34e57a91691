"""assessment_response, assessment_response_choice: each graded attempt's responses, kept

The item analysis and the results are aggregated by the database from these rows (written when
an attempt is graded, in the same transaction) instead of reading every attempt's JSON on each
request. Attempts graded before this revision are filled by
``flask --app portal quizzes keep-responses`` (idempotent).

Revision ID: 5e0a9c3d71b2
Revises: e5b19c0d7a42
Created: 2026-12-06 05:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '5e0a9c3d71b2'
down_revision = 'e5b19c0d7a42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'assessment_response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('attempt_number', sa.Integer(), nullable=False),
        sa.Column('attempt_score', sa.Double(), nullable=False),
        sa.Column('score', sa.Double(), nullable=False),
        sa.Column('blank', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['assessment_attempt.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('attempt_id', 'position'),
    )
    with op.batch_alter_table('assessment_response') as batch:
        batch.create_index('ix_assessment_response_quiz_question', ['quiz_id', 'question_id'], unique=False)
        batch.create_index(batch.f('ix_assessment_response_user_id'), ['user_id'], unique=False)
    op.create_table(
        'assessment_response_choice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['response_id'], ['assessment_response.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('assessment_response_choice') as batch:
        batch.create_index('ix_assessment_response_choice_quiz_question', ['quiz_id', 'question_id'], unique=False)
        batch.create_index(batch.f('ix_assessment_response_choice_response_id'), ['response_id'], unique=False)
        batch.create_index(batch.f('ix_assessment_response_choice_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('assessment_response_choice')
    op.drop_table('assessment_response')
