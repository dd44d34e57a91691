"""content: norm tags on lessons and questions, review state on cases and lessons

Revision ID: f3b8d1e6c045
Revises: e1a4c7d92b35
Created: 2026-12-06 10:40:00

learning_lesson.norms and assessment_question.norms: the facts.yaml norm keys a lesson teaches or a
question asks (JSON list, empty by default), read by `flask content trace` and /content/trace.
kb_case and learning_lesson gain reviewed_by / reviewed_on (front matter; who checked the
technical content and when), reviewed_on indexed for /content/review (oldest first).
"""
from alembic import op
import sqlalchemy as sa


revision = 'f3b8d1e6c045'
down_revision = 'e1a4c7d92b35'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('learning_lesson') as batch:
        batch.add_column(sa.Column('norms', sa.JSON(), server_default='[]', nullable=False))
        batch.add_column(sa.Column('reviewed_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('reviewed_on', sa.Date(), nullable=True))
        batch.create_index(batch.f('ix_learning_lesson_reviewed_on'), ['reviewed_on'], unique=False)
    with op.batch_alter_table('assessment_question') as batch:
        batch.add_column(sa.Column('norms', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('kb_case') as batch:
        batch.add_column(sa.Column('reviewed_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('reviewed_on', sa.Date(), nullable=True))
        batch.create_index(batch.f('ix_kb_case_reviewed_on'), ['reviewed_on'], unique=False)


def downgrade():
    with op.batch_alter_table('kb_case') as batch:
        batch.drop_index(batch.f('ix_kb_case_reviewed_on'))
        batch.drop_column('reviewed_on')
        batch.drop_column('reviewed_by')
    with op.batch_alter_table('assessment_question') as batch:
        batch.drop_column('norms')
    with op.batch_alter_table('learning_lesson') as batch:
        batch.drop_index(batch.f('ix_learning_lesson_reviewed_on'))
        batch.drop_column('reviewed_on')
        batch.drop_column('reviewed_by')
        batch.drop_column('norms')
