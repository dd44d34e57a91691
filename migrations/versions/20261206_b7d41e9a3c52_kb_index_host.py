"""kb: each host's place in the search index change log (kb_index_host), for retention

Revision ID: b7d41e9a3c52
Revises: 5d2f8a6c3e17
Created: 2026-12-06 13:40:00

One row per host (the id kept in its instance folder): the last change-log id its index applied
and when it said so. ``flask daily`` deletes the change-log rows every host seen within
PORTAL_KB_HOST_DAYS has applied (kb/retention.py). Empty at first: each host reports at the
first request a process serves and as it applies changes; rows of the last day are kept whatever
the hosts say, and a host the log was pruned past rebuilds its index.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d41e9a3c52'
down_revision = '5d2f8a6c3e17'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kb_index_host',
                    sa.Column('host', sa.String(length=40), nullable=False),
                    sa.Column('name', sa.String(length=300), nullable=False),
                    sa.Column('applied', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('host', name=op.f('pk_kb_index_host')))


def downgrade():
    op.drop_table('kb_index_host')
