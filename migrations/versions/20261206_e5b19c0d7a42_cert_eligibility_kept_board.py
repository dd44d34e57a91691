"""cert_eligibility: the eligibility board's figures, kept per technician and tier

One row per (technician, tier): held, eligible, requirements unmet, when decided; marked
stale by every change that can alter it and decided again by the page and `flask daily`
(portal/certification/board.py). Starts empty: a missing row is stale.

Revision ID: e5b19c0d7a42
Revises: c4f1a8e23d57
Created: 2026-12-06 05:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b19c0d7a42'
down_revision = 'c4f1a8e23d57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cert_eligibility',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('tier_id', sa.Integer(), nullable=False),
        sa.Column('held', sa.Boolean(), nullable=False),
        sa.Column('eligible', sa.Boolean(), nullable=False),
        sa.Column('unmet', sa.Integer(), nullable=False),
        sa.Column('stale', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('computed_on', sa.Date(), nullable=True),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tier_id'], ['cert_tier.id'], name=op.f('fk_cert_eligibility_tier_id_cert_tier'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_cert_eligibility_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'tier_id', name=op.f('pk_cert_eligibility')),
    )
    with op.batch_alter_table('cert_eligibility') as batch:
        batch.create_index('ix_cert_eligibility_tier_eligible', ['tier_id', 'eligible'], unique=False)
        batch.create_index('ix_cert_eligibility_stale', ['stale'], unique=False)
        batch.create_index('ix_cert_eligibility_computed_on', ['computed_on'], unique=False)
        batch.create_index('ix_cert_eligibility_computed_at', ['computed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('cert_eligibility') as batch:
        batch.drop_index('ix_cert_eligibility_computed_at')
        batch.drop_index('ix_cert_eligibility_computed_on')
        batch.drop_index('ix_cert_eligibility_stale')
        batch.drop_index('ix_cert_eligibility_tier_eligible')
    op.drop_table('cert_eligibility')
