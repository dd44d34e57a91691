"""assessment: kept responses and their choices indexed by (quiz, technician)

Revision ID: b7e2a4c9d815
Revises: c2d8e4f6a913
Created: 2026-12-06 07:55:00

A report filtered by region, outlet or cohort aggregates the responses of that filter's
technicians: with this index each technician's responses to the quiz are read directly, instead
of every response of theirs to every quiz (or every response to the quiz). No data changes.
"""
from alembic import op


revision = 'b7e2a4c9d815'
down_revision = 'c2d8e4f6a913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_assessment_response_quiz_user', 'assessment_response', ['quiz_id', 'user_id'])
    op.create_index('ix_assessment_response_choice_quiz_user', 'assessment_response_choice', ['quiz_id', 'user_id'])


def downgrade():
    op.drop_index('ix_assessment_response_choice_quiz_user', table_name='assessment_response_choice')
    op.drop_index('ix_assessment_response_quiz_user', table_name='assessment_response')
