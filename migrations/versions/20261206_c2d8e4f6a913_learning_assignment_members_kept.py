"""learning: kept assignment members (who each course assignment reaches, due, completed)

Revision ID: c2d8e4f6a913
Revises: a3c7e1f04b92
Created: 2026-12-06 06:05:00

The table is filled here, by one INSERT…SELECT following the rule ``flask learning-members
rebuild`` applies (learning.services.assignment_targets, due_for, course_completed_at), so an
upgraded database is right without a manual step; the app keeps it from then on.
``tests/test_assignment_members.py`` checks ``fill`` against the kept rows.
"""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = 'c2d8e4f6a913'
down_revision = 'a3c7e1f04b92'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('learning_assignment_member',
                    sa.Column('assignment_id', sa.Integer(), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('due_on', sa.Date(), nullable=False),
                    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['assignment_id'], ['learning_assignment.id'], ondelete='CASCADE'),
                    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('assignment_id', 'user_id'))
    with op.batch_alter_table('learning_assignment_member', schema=None) as batch_op:
        batch_op.create_index('ix_learning_assignment_member_open', ['assignment_id', 'completed_at', 'due_on'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_learning_assignment_member_user_id'), ['user_id'], unique=False)
    fill(op.get_bind(), _timezone())


def _timezone() -> str:
    """The portal's time zone (a day is a local day), as the running app has it."""
    try:
        from flask import current_app
        return current_app.config["BABEL_DEFAULT_TIMEZONE"]
    except (ImportError, KeyError, RuntimeError):
        return "Asia/Shanghai"


# Who an assignment reaches: an active technician; of the region (through their outlet's
# province) for a region assignment; whose outlet services the line (no outlet, or an outlet
# listing none, services every line) for a product-line assignment.
_PRODUCT_PG = ("(o.id IS NULL OR json_typeof(o.products) IS DISTINCT FROM 'array' "
               "OR json_array_length(o.products) = 0 OR o.products::jsonb ? a.product)")
_PRODUCT_SQLITE = ("(o.id IS NULL OR json_type(o.products) IS NOT 'array' OR json_array_length(o.products) = 0 "
                   "OR EXISTS (SELECT 1 FROM json_each(o.products) AS each_line WHERE each_line.value = a.product))")

# A person's due date (schedule.personal_due over the local days the assignment and the account
# were made, and the person's first working day): PostgreSQL computes it; on SQLite (no time
# zones) a function registered on the connection does, with the same rule.
_DUE_PG = """CASE
  WHEN coalesce(u.start_date, (u.created_at AT TIME ZONE :tz)::date) IS NULL
    OR coalesce(u.start_date, (u.created_at AT TIME ZONE :tz)::date)
       <= coalesce((a.created_at AT TIME ZONE :tz)::date, a.due_date) THEN a.due_date
  ELSE greatest(a.due_date, coalesce(u.start_date, (u.created_at AT TIME ZONE :tz)::date)
                + greatest(a.due_date - coalesce((a.created_at AT TIME ZONE :tz)::date, a.due_date), 14))
END"""
_DUE_SQLITE = "portal_personal_due(a.due_date, a.created_at, u.start_date, u.created_at)"

# When the person completed the course: every active lesson of its modules marked done (the last
# of them) and, when the course names a quiz, its first pass (the later of the two).
_FILL = """
INSERT INTO learning_assignment_member (assignment_id, user_id, due_on, completed_at)
SELECT a.id, u.id, {due},
       CASE WHEN done.n >= totals.n AND (coalesce(c.quiz, '') = '' OR passes.first_pass IS NOT NULL)
            THEN CASE WHEN passes.first_pass IS NOT NULL AND passes.first_pass > done.last_done
                      THEN passes.first_pass ELSE done.last_done END
       END
FROM learning_assignment AS a
JOIN learning_course AS c ON c.id = a.course_id
JOIN "user" AS u ON u.active AND EXISTS (SELECT 1 FROM user_role AS r WHERE r.user_id = u.id AND r.role = 'technician')
LEFT JOIN outlet AS o ON o.id = u.outlet_id
LEFT JOIN province AS pr ON pr.id = o.province_id
LEFT JOIN (SELECT m.course_id, count(*) AS n FROM learning_lesson AS l
           JOIN learning_module AS m ON m.id = l.module_id WHERE l.active GROUP BY m.course_id) AS totals
       ON totals.course_id = c.id
LEFT JOIN (SELECT m.course_id, p.user_id, count(*) AS n, max(p.completed_at) AS last_done
           FROM learning_progress AS p JOIN learning_lesson AS l ON l.id = p.lesson_id
           JOIN learning_module AS m ON m.id = l.module_id
           WHERE l.active AND p.completed_at IS NOT NULL GROUP BY m.course_id, p.user_id) AS done
       ON done.course_id = c.id AND done.user_id = u.id
LEFT JOIN (SELECT q.slug, t.user_id, min(t.submitted_at) AS first_pass
           FROM assessment_attempt AS t JOIN assessment_quiz AS q ON q.id = t.quiz_id
           WHERE t.passed GROUP BY q.slug, t.user_id) AS passes
       ON passes.slug = c.quiz AND passes.user_id = u.id
WHERE (a.scope <> 'region' OR a.region_id IS NULL OR pr.region_id = a.region_id)
  AND (a.scope <> 'product' OR coalesce(a.product, '') = '' OR {product})
"""


def _local_day(value, zone: ZoneInfo) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone).date()


def _personal_due(zone: ZoneInfo):
    def due(due_date, assignment_created, start_date, user_created):
        """learning.schedule.personal_due, joined_day and services.due_for, for SQLite."""
        common = date.fromisoformat(due_date)
        assigned_on = _local_day(assignment_created, zone) or common
        joined = date.fromisoformat(start_date) if start_date else _local_day(user_created, zone)
        if joined is None or joined <= assigned_on:
            return common.isoformat()
        span = max((common - assigned_on).days, 14)
        return max(common, joined + timedelta(days=span)).isoformat()
    return due


def fill(bind, tz: str) -> None:
    """Every assignment's members as the rebuild makes them (the table is empty beforehand)."""
    if bind.dialect.name == "sqlite":
        bind.connection.dbapi_connection.create_function("portal_personal_due", 4, _personal_due(ZoneInfo(tz)))
        bind.execute(sa.text(_FILL.format(due=_DUE_SQLITE, product=_PRODUCT_SQLITE)))
    else:
        bind.execute(sa.text(_FILL.format(due=_DUE_PG, product=_PRODUCT_PG)), {"tz": tz})


def downgrade():
    with op.batch_alter_table('learning_assignment_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learning_assignment_member_user_id'))
        batch_op.drop_index('ix_learning_assignment_member_open')
    op.drop_table('learning_assignment_member')
