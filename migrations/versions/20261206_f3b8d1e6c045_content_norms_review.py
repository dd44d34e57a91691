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


# Plain ALTER TABLE, no batch copy: on SQLite a batch migration recreates the table, and dropping
# kb_case / learning_lesson / assessment_question with foreign keys enforced would delete the rows
# that refer to them (revisions, feedback, progress, responses). SQLite has ADD and DROP COLUMN.
COLUMNS = (
    ('learning_lesson', sa.Column('norms', sa.JSON(), server_default='[]', nullable=False)),
    ('learning_lesson', sa.Column('reviewed_by', sa.String(length=100), nullable=True)),
    ('learning_lesson', sa.Column('reviewed_on', sa.Date(), nullable=True)),
    ('assessment_question', sa.Column('norms', sa.JSON(), server_default='[]', nullable=False)),
    ('kb_case', sa.Column('reviewed_by', sa.String(length=100), nullable=True)),
    ('kb_case', sa.Column('reviewed_on', sa.Date(), nullable=True)),
)
INDEXES = (('ix_learning_lesson_reviewed_on', 'learning_lesson'), ('ix_kb_case_reviewed_on', 'kb_case'))


def upgrade():
    for table, column in COLUMNS:
        op.add_column(table, column)
    for name, table in INDEXES:
        op.create_index(name, table, ['reviewed_on'], unique=False)


def downgrade():
    for name, table in INDEXES:
        op.drop_index(name, table_name=table)
    for table, column in reversed(COLUMNS):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column.name}')
