"""learning: kept assignment members (who each course assignment reaches, due, completed)

Revision ID: c2d8e4f6a913
Revises: a3c7e1f04b92
Created: 2026-12-06 06:05:00

The table starts empty: after upgrading, run ``flask learning-members rebuild`` once (the app
keeps it from then on).
"""
from alembic import op
import sqlalchemy as sa


revision = 'c2d8e4f6a913'
down_revision = 'a3c7e1f04b92'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('learning_assignment_member',
                    sa.Column('assignment_id', sa.Integer(), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('due_on', sa.Date(), nullable=False),
                    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['assignment_id'], ['learning_assignment.id'], ondelete='CASCADE'),
                    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('assignment_id', 'user_id'))
    with op.batch_alter_table('learning_assignment_member', schema=None) as batch_op:
        batch_op.create_index('ix_learning_assignment_member_open', ['assignment_id', 'completed_at', 'due_on'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_learning_assignment_member_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('learning_assignment_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learning_assignment_member_user_id'))
        batch_op.drop_index('ix_learning_assignment_member_open')
    op.drop_table('learning_assignment_member')
