"""learning: course assignments can be corrected — due date changes, withdrawal (with reason),
one person's own due date (extension); every change logged in learning_assignment_event

Revision ID: 4b8e2c7d1a90
Revises: a7c3e9f14b20
Created: 2026-12-06 11:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '4b8e2c7d1a90'
down_revision = 'a7c3e9f14b20'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, never a batch copy: on SQLite (foreign keys on) dropping the copied
    # learning_assignment would cascade-delete its members, extensions and events. So
    # withdrawn_by_id is a plain user id, without a foreign key (SQLite cannot add one in place).
    op.add_column('learning_assignment', sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('learning_assignment', sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
    op.add_column('learning_assignment', sa.Column('withdraw_reason', sa.Text(), server_default='', nullable=False))
    op.create_table(
        'learning_assignment_extension',
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('granted_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['learning_assignment.id'],
                                name=op.f('fk_learning_assignment_extension_assignment_id_learning_assignment'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_learning_assignment_extension_user_id_user'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['granted_by_id'], ['user.id'],
                                name=op.f('fk_learning_assignment_extension_granted_by_id_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('assignment_id', 'user_id', name=op.f('pk_learning_assignment_extension')),
    )
    op.create_index(op.f('ix_learning_assignment_extension_user_id'), 'learning_assignment_extension', ['user_id'])
    op.create_table(
        'learning_assignment_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('what', sa.Text(), nullable=False),
        sa.Column('what_msg_id', sa.String(length=60), server_default='', nullable=False),
        sa.Column('what_params', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('reason_msg_id', sa.String(length=60), server_default='', nullable=False),
        sa.Column('reason_params', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['learning_assignment.id'],
                                name=op.f('fk_learning_assignment_event_assignment_id_learning_assignment'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'],
                                name=op.f('fk_learning_assignment_event_actor_id_user'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_learning_assignment_event_user_id_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_assignment_event')),
    )
    op.create_index(op.f('ix_learning_assignment_event_assignment_id'), 'learning_assignment_event',
                    ['assignment_id'])


def downgrade():
    op.drop_index(op.f('ix_learning_assignment_event_assignment_id'), table_name='learning_assignment_event')
    op.drop_table('learning_assignment_event')
    op.drop_index(op.f('ix_learning_assignment_extension_user_id'), table_name='learning_assignment_extension')
    op.drop_table('learning_assignment_extension')
    op.drop_column('learning_assignment', 'withdraw_reason')
    op.drop_column('learning_assignment', 'withdrawn_by_id')
    op.drop_column('learning_assignment', 'withdrawn_at')
