"""quiz attempts: the language each answer was given in (a technician may switch the interface
language mid-attempt; each answer is graded in the language it was shown in)

Revision ID: 822cf255b809
Revises: 15558c7f0a5a
Created: 2026-12-06 01:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '822cf255b809'
down_revision = '15558c7f0a5a'
branch_labels = None
depends_on = None


def upgrade():
    # Existing answers were all given in their attempt's language: NULL (no entry) means just
    # that (Attempt.answer_lang), so no row needs converting.
    with op.batch_alter_table('assessment_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_langs', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('assessment_attempt', schema=None) as batch_op:
        batch_op.drop_column('answer_langs')
