"""reminders and the mail outbox: user.email, reminder (the log, one-time form token), mail_outbox

A trainer's reminder is logged in ``reminder`` (its form token unique: sent once); e-mails wait in
``mail_outbox`` (one per user and event) until ``flask mail send`` sends them.

Revision ID: c8f2a1d4e6b3
Revises: a7c2e9f4b1d8
Created: 2026-12-06 11:10:00
"""
from alembic import op
import sqlalchemy as sa



revision = 'c8f2a1d4e6b3'
down_revision = 'a7c2e9f4b1d8'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN, never a batch copy: on SQLite a copy of "user" (foreign keys on)
    # would delete every row that cascades from it — notifications, attempts, records.
    op.add_column('user', sa.Column('email', sa.String(length=254), nullable=True))
    op.create_table(
        'reminder',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('sender_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('target', sa.JSON(), nullable=False),
        sa.Column('label', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('reached', sa.Integer(), nullable=False),
        sa.Column('mailed', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['sender_id'], ['user.id'], name='fk_reminder_sender_id_user', ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_reminder'),
        sa.UniqueConstraint('token', name='uq_reminder_token'),
    )
    with op.batch_alter_table('reminder') as batch:
        batch.create_index('ix_reminder_sender_id', ['sender_id'], unique=False)
    op.create_table(
        'mail_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('msg_id', sa.String(length=60), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name='fk_mail_outbox_user_id_user', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_mail_outbox'),
        sa.UniqueConstraint('user_id', 'key', name='uq_mail_outbox_user_id'),
    )
    with op.batch_alter_table('mail_outbox') as batch:
        batch.create_index('ix_mail_outbox_user_id', ['user_id'], unique=False)
        batch.create_index('ix_mail_outbox_sent_at', ['sent_at'], unique=False)


def downgrade():
    with op.batch_alter_table('mail_outbox') as batch:
        batch.drop_index('ix_mail_outbox_sent_at')
        batch.drop_index('ix_mail_outbox_user_id')
    op.drop_table('mail_outbox')
    with op.batch_alter_table('reminder') as batch:
        batch.drop_index('ix_reminder_sender_id')
    op.drop_table('reminder')
    op.drop_column('user', 'email')
