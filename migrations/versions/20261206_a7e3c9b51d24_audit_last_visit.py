"""audit_last_visit: each technician's latest submitted report, kept for the coverage page

"Audited in the last 12 months" and "never audited" over 30,000 technicians are read from this
table (one row per technician with a submitted report) instead of the reports; the portal keeps it
up to date when a report is submitted, moved or deleted (portal/audits/coverage.py). Filled here
from the reports already there.

Revision ID: a7e3c9b51d24
Revises: d023f92ba62d
Created: 2026-12-06 17:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7e3c9b51d24'
down_revision = 'd023f92ba62d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_last_visit',
        sa.Column('technician_id', sa.Integer(), nullable=False),
        sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['technician_id'], ['user.id'], name=op.f('fk_audit_last_visit_technician_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('technician_id', name=op.f('pk_audit_last_visit')),
    )
    op.execute("INSERT INTO audit_last_visit (technician_id, visited_at) "
               "SELECT technician_id, MAX(visited_at) FROM audit WHERE status = 'submitted' GROUP BY technician_id")


def downgrade():
    op.drop_table('audit_last_visit')
