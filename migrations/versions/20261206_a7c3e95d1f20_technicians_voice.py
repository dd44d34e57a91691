"""voice: technicians' suggestions and complaints, and the trainers' answers

Revision ID: a7c3e95d1f20
Revises: d023f92ba62d
Created: 2026-12-06 17:05:00

A message's key is its random public id (no counter). An anonymous message has no sender,
the day only, and the outlet only when it had at least 5 active technicians. New tables only.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e95d1f20'
down_revision = 'd023f92ba62d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('voice_message',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('theme', sa.String(length=16), nullable=False),
    sa.Column('theme_tag', sa.String(length=16), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('named', sa.Boolean(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=True),
    sa.Column('province_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_voice_message_outlet_id_outlet'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['province_id'], ['province.id'], name=op.f('fk_voice_message_province_id_province'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_voice_message_region_id_region'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sender_id'], ['user.id'], name=op.f('fk_voice_message_sender_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_message')),
    sa.UniqueConstraint('receipt_hash', name=op.f('uq_voice_message_receipt_hash'))
    )
    op.create_index('ix_voice_message_sent_on', 'voice_message', ['sent_on'], unique=False)
    op.create_index('ix_voice_message_theme', 'voice_message', ['theme'], unique=False)
    op.create_index('ix_voice_message_status', 'voice_message', ['status'], unique=False)
    op.create_index(op.f('ix_voice_message_sender_id'), 'voice_message', ['sender_id'], unique=False)
    op.create_index(op.f('ix_voice_message_outlet_id'), 'voice_message', ['outlet_id'], unique=False)
    op.create_index(op.f('ix_voice_message_province_id'), 'voice_message', ['province_id'], unique=False)
    op.create_index(op.f('ix_voice_message_region_id'), 'voice_message', ['region_id'], unique=False)

    op.create_table('voice_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_voice_answer_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['voice_message.id'], name=op.f('fk_voice_answer_message_id_voice_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_answer'))
    )
    op.create_index(op.f('ix_voice_answer_message_id'), 'voice_answer', ['message_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_voice_answer_message_id'), table_name='voice_answer')
    op.drop_table('voice_answer')
    for name in ('region_id', 'province_id', 'outlet_id', 'sender_id'):
        op.drop_index(op.f(f'ix_voice_message_{name}'), table_name='voice_message')
    for name in ('status', 'theme', 'sent_on'):
        op.drop_index(f'ix_voice_message_{name}', table_name='voice_message')
    op.drop_table('voice_message')
