"""kb: one current "did this fix it?" answer per technician and case; every answer kept

Every answer given so far is copied into kb_case_feedback_answer (the history); in
kb_case_feedback only each technician's latest answer per case stays, and a unique
constraint on (case_id, user_id) keeps it that way.

Revision ID: b7d2f0c93e15
Revises: a1c4e7f2b9d0
Created: 2026-12-06 01:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2f0c93e15'
down_revision = 'a1c4e7f2b9d0'
branch_labels = None
depends_on = None

COLUMNS = ('case_id', 'user_id', 'fixed', 'comment', 'created_at')
feedback_t = sa.table('kb_case_feedback', sa.column('id', sa.Integer),
                      *(sa.column(c) for c in COLUMNS))
answer_t = sa.table('kb_case_feedback_answer', sa.column('id', sa.Integer),
                    *(sa.column(c) for c in COLUMNS))


def upgrade():
    op.create_table('kb_case_feedback_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('fixed', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['kb_case.id'], name=op.f('fk_kb_case_feedback_answer_case_id_kb_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_kb_case_feedback_answer_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_case_feedback_answer'))
    )
    with op.batch_alter_table('kb_case_feedback_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_case_feedback_answer_case_id'), ['case_id'], unique=False)

    conn = op.get_bind()
    conn.execute(answer_t.insert().from_select(
        list(COLUMNS), sa.select(*(feedback_t.c[c] for c in COLUMNS)).order_by(feedback_t.c.id)))
    # Keep each technician's latest answer per case as the current one.
    latest, superseded = {}, []
    rows = conn.execute(sa.select(feedback_t.c.id, feedback_t.c.case_id, feedback_t.c.user_id)
                        .where(feedback_t.c.user_id.is_not(None))
                        .order_by(feedback_t.c.created_at, feedback_t.c.id)).all()
    for row_id, case_id, user_id in rows:
        previous = latest.get((case_id, user_id))
        if previous is not None:
            superseded.append(previous)
        latest[(case_id, user_id)] = row_id
    for start in range(0, len(superseded), 500):
        conn.execute(feedback_t.delete().where(feedback_t.c.id.in_(superseded[start:start + 500])))

    with op.batch_alter_table('kb_case_feedback', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_kb_case_feedback_case_id'), ['case_id', 'user_id'])


def downgrade():
    with op.batch_alter_table('kb_case_feedback', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_kb_case_feedback_case_id'), type_='unique')
    # Back to one row per answer given.
    conn = op.get_bind()
    conn.execute(feedback_t.delete())
    conn.execute(feedback_t.insert().from_select(
        list(COLUMNS), sa.select(*(answer_t.c[c] for c in COLUMNS)).order_by(answer_t.c.id)))
    with op.batch_alter_table('kb_case_feedback_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_case_feedback_answer_case_id'))

    op.drop_table('kb_case_feedback_answer')
