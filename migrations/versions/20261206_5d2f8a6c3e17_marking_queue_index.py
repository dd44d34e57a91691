"""assessment: a partial index for the marking queue — the responses the key marked 0 (not
blank), by quiz, question and id, carrying user, attempt and position, so the queue and its count
are read from the index alone at network size (20 million responses)

Revision ID: 5d2f8a6c3e17
Revises: 4b8e2c7d1a90
Created: 2026-12-06 14:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '5d2f8a6c3e17'
down_revision = '4b8e2c7d1a90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_assessment_response_unmatched', 'assessment_response', ['quiz_id', 'question_id', 'id'],
                    postgresql_include=['user_id', 'attempt_id', 'position'],
                    postgresql_where=sa.text('score = 0 AND blank IS false'),
                    sqlite_where=sa.text('score = 0 AND blank IS 0'))


def downgrade():
    op.drop_index('ix_assessment_response_unmatched', table_name='assessment_response')
