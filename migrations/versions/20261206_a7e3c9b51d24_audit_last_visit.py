"""audit_last_visit, audit_visit_year: per technician, kept for the coverage page

"Audited in the last 12 months", "never audited" and the distribution of visits per technician
over 30,000 technicians are read from these tables instead of the reports and visits:
``audit_last_visit`` holds each technician's latest submitted report (one row per technician with
one), ``audit_visit_year`` each technician's visits in a calendar year (planned visits not
cancelled plus submitted reports that made no planned visit done). The portal keeps both up to
date when a report or a visit changes (portal/audits/coverage.py). Filled here from what is there.

Revision ID: a7e3c9b51d24
Revises: a7c3e95d1f20
Created: 2026-12-06 17:05:00
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = 'a7e3c9b51d24'
down_revision = 'a7c3e95d1f20'
branch_labels = None
depends_on = None


def _zone():
    try:
        from flask import current_app
        return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")
    except RuntimeError:  # outside the portal's process
        return ZoneInfo("Asia/Shanghai")


def upgrade():
    op.create_table(
        'audit_last_visit',
        sa.Column('technician_id', sa.Integer(), nullable=False),
        sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['technician_id'], ['user.id'], name=op.f('fk_audit_last_visit_technician_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('technician_id', name=op.f('pk_audit_last_visit')),
    )
    years = op.create_table(
        'audit_visit_year',
        sa.Column('technician_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['technician_id'], ['user.id'], name=op.f('fk_audit_visit_year_technician_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('technician_id', 'year', name=op.f('pk_audit_visit_year')),
    )
    op.execute("INSERT INTO audit_last_visit (technician_id, visited_at) "
               "SELECT technician_id, MAX(visited_at) FROM audit WHERE status = 'submitted' GROUP BY technician_id")
    bind = op.get_bind()
    zone = _zone()
    counts = {}
    for tid, period in bind.execute(sa.text("SELECT technician_id, period FROM audit_visit WHERE status <> 'cancelled'")):
        key = (tid, int(period[:4]))
        counts[key] = counts.get(key, 0) + 1
    for tid, visited_at in bind.execute(sa.text(
            "SELECT technician_id, visited_at FROM audit WHERE status = 'submitted' "
            "AND NOT EXISTS (SELECT 1 FROM audit_visit v WHERE v.audit_id = audit.id)")):
        if isinstance(visited_at, str):  # SQLite keeps naive UTC text
            visited_at = datetime.fromisoformat(visited_at)
        if visited_at.tzinfo is None:
            visited_at = visited_at.replace(tzinfo=ZoneInfo("UTC"))
        key = (tid, visited_at.astimezone(zone).year)
        counts[key] = counts.get(key, 0) + 1
    if counts:
        op.bulk_insert(years, [{"technician_id": t, "year": y, "visits": n} for (t, y), n in sorted(counts.items())])


def downgrade():
    op.drop_table('audit_visit_year')
    op.drop_table('audit_last_visit')
