"""audits: one report per visit (technician, work order, visit time); consequences undone after an amendment

Reports filed again for the same visit (the API accepted repeats) keep their rows, but their work
order gets the suffix " (#ID, repeat of #FIRST)" so the visit is reported once; their consequences stay
on them for trainers to review.

Revision ID: a7d3c2e19b40
Revises: b7d2f0c93e15
Created: 2026-12-06 01:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7d3c2e19b40'
down_revision = 'b7d2f0c93e15'
branch_labels = None
depends_on = None


def _mark_repeats():
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, technician_id, work_order, visited_at FROM audit ORDER BY id")).fetchall()
    first = {}
    for row in rows:
        key = (row.technician_id, row.work_order, str(row.visited_at))
        if key not in first:
            first[key] = row.id
            continue
        suffix = f" (#{row.id}, repeat of #{first[key]})"
        conn.execute(sa.text("UPDATE audit SET work_order = :wo WHERE id = :id"),
                     {"wo": row.work_order[:60 - len(suffix)] + suffix, "id": row.id})


def upgrade():
    _mark_repeats()
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_technician_id'),
                                          ['technician_id', 'work_order', 'visited_at'])
    with op.batch_alter_table('audit_consequence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=12), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_audit_consequence_resolved_by_id_user'), 'user',
                                    ['resolved_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('audit_consequence', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_consequence_resolved_by_id_user'), type_='foreignkey')
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolved_by_id')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolution')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_technician_id'), type_='unique')
