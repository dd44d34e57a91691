"""kb_terms: keyboard slips (致冷 for 制冷) loaded beside the synonym groups

Revision ID: 3f9c1a7d52e8
Revises: 8af5ba747963
Created: 2026-12-06 01:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '3f9c1a7d52e8'
down_revision = '8af5ba747963'
branch_labels = None
depends_on = None


def upgrade():
    # Rows already there get an empty list of slips; the next content load fills it in
    # (synonyms.yaml has changed, so its digest no longer matches).
    with op.batch_alter_table('kb_terms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variants', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))


def downgrade():
    with op.batch_alter_table('kb_terms', schema=None) as batch_op:
        batch_op.drop_column('variants')
