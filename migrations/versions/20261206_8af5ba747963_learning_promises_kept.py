"""learning: targeted lessons count only when done after assigned; one cohort per technician

Revision ID: 8af5ba747963
Revises: 822cf255b809
Created: 2026-12-06 01:20:00

A targeted assignment records the lessons marked done after it was made and when it was
complete. Rows already there are converted: a lesson counts for one only if it was marked done
after the assignment was made, so a remedial lesson "done" in onboarding is open again.

A technician is in one cohort at a time: one already in several stays in the newest (the one
their own page showed) and leaves the older ones (which counted them behind and reminded
their trainers every day).
"""
from alembic import op
import sqlalchemy as sa


revision = '8af5ba747963'
down_revision = '822cf255b809'
branch_labels = None
depends_on = None


def _convert_targeted(conn):
    targeted = sa.table('learning_targeted', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                        sa.column('lesson_id', sa.Integer), sa.column('module_id', sa.Integer),
                        sa.column('created_at', sa.DateTime(timezone=True)),
                        sa.column('lessons_done', sa.JSON), sa.column('completed_at', sa.DateTime(timezone=True)))
    lesson = sa.table('learning_lesson', sa.column('id', sa.Integer), sa.column('module_id', sa.Integer),
                      sa.column('active', sa.Boolean))
    progress = sa.table('learning_progress', sa.column('user_id', sa.Integer), sa.column('lesson_id', sa.Integer),
                        sa.column('completed_at', sa.DateTime(timezone=True)))
    for row in conn.execute(sa.select(targeted.c.id, targeted.c.user_id, targeted.c.lesson_id,
                                      targeted.c.module_id, targeted.c.created_at)).all():
        if row.lesson_id is not None:
            wanted = [row.lesson_id]
        elif row.module_id is not None:
            wanted = list(conn.execute(sa.select(lesson.c.id).where(lesson.c.module_id == row.module_id,
                                                                    lesson.c.active)).scalars())
        else:
            wanted = []
        done = {}
        if wanted:
            for lesson_id, completed in conn.execute(sa.select(progress.c.lesson_id, progress.c.completed_at).where(
                    progress.c.user_id == row.user_id, progress.c.lesson_id.in_(wanted),
                    progress.c.completed_at.is_not(None))).all():
                if completed >= row.created_at:
                    done[lesson_id] = completed
        complete = max(done.values()) if wanted and len(done) == len(wanted) else None
        conn.execute(targeted.update().where(targeted.c.id == row.id).values(
            lessons_done=sorted(done), completed_at=complete))


def _one_cohort_each(conn):
    member = sa.table('learning_cohort_member', sa.column('cohort_id', sa.Integer), sa.column('user_id', sa.Integer))
    cohort = sa.table('learning_cohort', sa.column('id', sa.Integer), sa.column('start_date', sa.Date))
    rows = conn.execute(sa.select(member.c.user_id, member.c.cohort_id)
                        .select_from(member.join(cohort, cohort.c.id == member.c.cohort_id))
                        .order_by(member.c.user_id, cohort.c.start_date.desc(), cohort.c.id.desc())).all()
    kept = set()
    for user_id, cohort_id in rows:
        if user_id in kept:
            conn.execute(member.delete().where(member.c.user_id == user_id, member.c.cohort_id == cohort_id))
        kept.add(user_id)


def upgrade():
    with op.batch_alter_table('learning_targeted', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lessons_done', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
    _convert_targeted(op.get_bind())
    _one_cohort_each(op.get_bind())
    with op.batch_alter_table('learning_cohort_member', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_learning_cohort_member_user', ['user_id'])


def downgrade():
    with op.batch_alter_table('learning_cohort_member', schema=None) as batch_op:
        batch_op.drop_constraint('uq_learning_cohort_member_user', type_='unique')
    with op.batch_alter_table('learning_targeted', schema=None) as batch_op:
        batch_op.drop_column('completed_at')
        batch_op.drop_column('lessons_done')
