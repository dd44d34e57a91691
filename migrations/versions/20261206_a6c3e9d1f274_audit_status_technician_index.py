"""audits: an index on (status, technician_id) for the trainer reports' groups

Revision ID: a6c3e9d1f274
Revises: d9e2a7c4b168
Created: 2026-12-06 08:50:00

/audits/reports lists and counts its groups (technicians, outlets, provinces, regions) from the
technicians who have submitted reports: with this index that set is read from the index alone
(an index-only scan on PostgreSQL) instead of scanning every report's wide row. No data changes.
"""
from alembic import op


revision = 'a6c3e9d1f274'
down_revision = 'd9e2a7c4b168'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index('ix_audit_status_technician_id', ['status', 'technician_id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_status_technician_id')
