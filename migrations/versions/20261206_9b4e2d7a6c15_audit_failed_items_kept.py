"""audit_failed_item: the items each submitted report failed, one row each

The Pareto of failed items is counted by the database from these rows (rewritten whenever a
report is scored or amended) instead of reading every report's ``failed_items`` JSON. Filled
here from the submitted reports.

Revision ID: 9b4e2d7a6c15
Revises: 5e0a9c3d71b2
Created: 2026-12-06 05:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '9b4e2d7a6c15'
down_revision = '5e0a9c3d71b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_failed_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('audit_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('audit_id', 'item_id'),
    )
    with op.batch_alter_table('audit_failed_item') as batch:
        batch.create_index(batch.f('ix_audit_failed_item_item_id'), ['item_id'], unique=False)
    audit = sa.table('audit', sa.column('id', sa.Integer), sa.column('status', sa.String),
                     sa.column('failed_items', sa.JSON))
    failed = sa.table('audit_failed_item', sa.column('audit_id', sa.Integer), sa.column('item_id', sa.String))
    bind = op.get_bind()
    rows = []
    for audit_id, items in bind.execute(sa.select(audit.c.id, audit.c.failed_items)
                                        .where(audit.c.status == 'submitted')):
        rows.extend({'audit_id': audit_id, 'item_id': str(i)[:80]} for i in dict.fromkeys(items or []))
        if len(rows) >= 5000:
            bind.execute(failed.insert(), rows)
            rows = []
    if rows:
        bind.execute(failed.insert(), rows)


def downgrade():
    op.drop_table('audit_failed_item')
