"""assessment: quizzes created and edited in the browser

Revision ID: a7c2e9f4b1d8
Revises: f3b8d1e6c045
Created: 2026-12-06 11:10:00

assessment_quiz gains source (file | browser), edited_in_browser_at and edited_by_id (`content load`
keeps a quiz edited in the browser and reports a changed file as a conflict);
assessment_attempt.settings keeps the pass mark and review mode an attempt started under;
assessment_quiz_event logs who created or changed a quiz in the browser, when and what.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c2e9f4b1d8'
down_revision = 'f3b8d1e6c045'
branch_labels = None
depends_on = None


# Plain ADD COLUMN (no batch copy: recreating assessment_quiz on SQLite with foreign keys enforced
# would delete the attempts that refer to it). edited_by_id has no foreign key (SQLite cannot add
# one to an existing table): the quiz's events name who edited it, with one.
def upgrade():
    op.add_column('assessment_quiz', sa.Column('source', sa.String(length=10), server_default='file',
                                               nullable=False))
    op.add_column('assessment_quiz', sa.Column('edited_in_browser_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('assessment_quiz', sa.Column('edited_by_id', sa.Integer(), nullable=True))
    op.add_column('assessment_attempt', sa.Column('settings', sa.JSON(), nullable=True))
    op.create_table(
        'assessment_quiz_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('msg_id', sa.String(length=60), server_default='', nullable=False),
        sa.Column('params', sa.JSON(), server_default='{}', nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_assessment_quiz_event_quiz_id', 'assessment_quiz_event', ['quiz_id'], unique=False)


def downgrade():
    op.drop_index('ix_assessment_quiz_event_quiz_id', table_name='assessment_quiz_event')
    op.drop_table('assessment_quiz_event')
    op.drop_column('assessment_attempt', 'settings')
    op.drop_column('assessment_quiz', 'edited_by_id')
    op.drop_column('assessment_quiz', 'edited_in_browser_at')
    op.drop_column('assessment_quiz', 'source')
