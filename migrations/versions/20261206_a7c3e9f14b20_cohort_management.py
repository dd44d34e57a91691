"""learning: cohort management (archive, event log) and technician search indexes

Revision ID: a7c3e9f14b20
Revises: b4c8e2a17f93
Created: 2026-12-06 11:10:00

learning_cohort.archived_at: set when a trainer archives a cohort (it leaves the active lists,
stays readable, and can be restored: the column is cleared).
learning_cohort_event: who changed what in a cohort (renamed, start date moved, members added or
removed, trainer added, archived, restored), stored as a message id + values (portal/messages.py).
Search by name/username (auth.services.name_search) is a prefix range in byte order: two
indexes, user.username and user.name, in the "C" collation on PostgreSQL (SQLite's default
collation is already byte order).
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e9f14b20'
down_revision = 'b4c8e2a17f93'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('learning_cohort', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'learning_cohort_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('cohort_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('msg_id', sa.String(length=60), nullable=False),
        sa.Column('params', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['cohort_id'], ['learning_cohort.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_learning_cohort_event_cohort', 'learning_cohort_event', ['cohort_id', 'id'])
    collate = ' COLLATE "C"' if op.get_bind().dialect.name == 'postgresql' else ''
    op.execute(f'CREATE INDEX ix_user_username_c ON "user" (username{collate})')
    op.execute(f'CREATE INDEX ix_user_name_c ON "user" (name{collate})')


def downgrade():
    op.drop_index('ix_user_name_c', table_name='user')
    op.drop_index('ix_user_username_c', table_name='user')
    op.drop_index('ix_learning_cohort_event_cohort', table_name='learning_cohort_event')
    op.drop_table('learning_cohort_event')
    op.drop_column('learning_cohort', 'archived_at')
