"""Course assignments at network size: who each assignment reaches, their own due date and when
they completed the course, kept in ``learning_assignment_member`` instead of walking every
technician on each request.

How the kept rows stay equal to the live rule (``services.assignment_targets``, ``due_for``,
``course_completed_at``; ``services.assignment_report_live`` is the reference):

* **In the same transaction as the change.** A listener on every flush of the ORM session
  (``keeper.connect``, called by ``create_app``) looks at what the flush writes:
  a new or changed assignment → that assignment's rows are rebuilt (one pass over its targets);
  a change to a technician (the user, their roles, their outlet, their lesson progress, or a
  row registered in ``USER_ROWS`` such as a quiz attempt) → that technician's rows across the
  assignments; a changed outlet or province → its technicians; a changed course, module or
  lesson → the assignments of that course. Rows are written with Core statements on the
  flush's own connection, so they commit or roll back with the change.
* **Readers** count and page these rows with SQL (``overdue_count``, ``overdue_page``,
  ``report_counts``), so a figure and the list it links to are the same query.

``keeper.rebuild_all`` rebuilds every assignment (``flask learning-members rebuild``, for rows a
script's own session wrote). The migration that adds the table fills it with the same rule.
"""

from __future__ import annotations

from datetime import date

from flask_babel import get_locale
from sqlalchemy import Float, and_, case, cast, func, literal, select
from sqlalchemy.orm import joinedload, lazyload

from ..auth.models import Outlet, Province, Region, User
from ..auth.services import in_place
from ..extensions import db
from .models import Assignment, AssignmentMember, CourseModule, Lesson, LessonProgress

T = AssignmentMember.__table__


# --- reading -------------------------------------------------------------------------------


def _overdue(today: date):
    """Not complete, past their own due date, and the assignment not withdrawn."""
    return and_(T.c.completed_at.is_(None), T.c.due_on < today,
                T.c.assignment_id.in_(select(Assignment.id).where(Assignment.withdrawn_at.is_(None))))


def overdue_people_query(assignment: Assignment, today: date, region_id: int | None = None,
                         province_id: int | None = None, outlet_id: int | None = None):
    """An assignment's overdue people, most days overdue first (then username), filtered by place:
    (user, their due date, lessons of the course done) — the lessons done counted by a
    correlated subquery over learning_progress, so a page is one query whatever its size."""
    lessons = (select(Lesson.id).join(CourseModule, CourseModule.id == Lesson.module_id)
               .where(CourseModule.course_id == assignment.course_id, Lesson.active))
    done = (select(func.count()).select_from(LessonProgress)
            .where(LessonProgress.user_id == User.id, LessonProgress.completed_at.is_not(None),
                   LessonProgress.lesson_id.in_(lessons)).correlate(User).scalar_subquery())
    query = (select(User, T.c.due_on, done).select_from(T).join(User, User.id == T.c.user_id)
             .where(T.c.assignment_id == assignment.id, _overdue(today)))
    query = in_place(query, region_id, province_id, outlet_id)
    return query.options(joinedload(User.outlet), lazyload(User.role_rows)).order_by(
        T.c.due_on, User.username, User.id)


def lessons_total(course_id: int) -> int:
    """The course's lessons a learner completes (``Course.lessons``: active, in a module)."""
    return db.session.scalar(select(func.count()).select_from(Lesson).join(
        CourseModule, CourseModule.id == Lesson.module_id).where(
        CourseModule.course_id == course_id, Lesson.active)) or 0


def overdue_count(today: date, assignment_id: int | None = None) -> int:
    query = select(func.count()).select_from(T).where(_overdue(today))
    if assignment_id is not None:
        query = query.where(T.c.assignment_id == assignment_id)
    return db.session.scalar(query) or 0


def overdue_page(today: date, offset: int, limit: int, assignment_id: int | None = None,
                 with_due: bool = False) -> list[tuple]:
    """Overdue (assignment, technician) pairs: by the assignment's due date, then username; with
    ``with_due`` (assignment, technician, their own due date), the technicians' outlets loaded in
    the same query (a page is one query, not one per row)."""
    query = (select(Assignment, User, T.c.due_on).join(T, T.c.assignment_id == Assignment.id)
             .join(User, User.id == T.c.user_id)
             .where(_overdue(today)).order_by(Assignment.due_date, Assignment.id, User.username, User.id)
             .offset(offset).limit(limit))
    if assignment_id is not None:
        query = query.where(T.c.assignment_id == assignment_id)
    if with_due:
        query = query.options(joinedload(User.outlet), lazyload(User.role_rows))
        return [(a, u, due) for a, u, due in db.session.execute(query)]
    return [(a, u) for a, u, _due in db.session.execute(query)]


class OverdueList:
    """The overdue pairs as a sequence read a page at a time: ``len`` is a COUNT, a slice is
    LIMIT/OFFSET of the same condition (so the figure is the list's length)."""

    def __init__(self, today: date, assignment_id: int | None = None, users_only: bool = False,
                 with_due: bool = False):
        self.today, self.assignment_id, self.users_only, self.with_due = today, assignment_id, users_only, with_due
        self._len: int | None = None

    def __len__(self) -> int:
        if self._len is None:
            self._len = overdue_count(self.today, self.assignment_id)
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("OverdueList is read by slices")
        start, stop, _step = index.indices(len(self))
        rows = overdue_page(self.today, start, max(0, stop - start), self.assignment_id, self.with_due)
        return [row[1] for row in rows] if self.users_only else rows

    def __iter__(self):
        return iter(self[0:len(self)])

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, tuple, OverdueList)) else NotImplemented

    __hash__ = None

    def __contains__(self, user) -> bool:
        query = select(func.count()).select_from(T).where(_overdue(self.today), T.c.user_id == user.id)
        if self.assignment_id is not None:
            query = query.where(T.c.assignment_id == self.assignment_id)
        return bool(db.session.scalar(query))


def counts(assignment_id: int, today: date) -> tuple[int, int, int]:
    """(assigned, complete, overdue) of one assignment."""
    row = db.session.execute(select(
        func.count(), func.count(T.c.completed_at),
        func.coalesce(func.sum(_late(today)), 0))
        .where(T.c.assignment_id == assignment_id)).one()
    return row[0], row[1], int(row[2])


def by_outlet(assignment_id: int, today: date) -> list[tuple[int | None, int, int, int]]:
    """(outlet id or None, assigned, complete, overdue) per outlet, one grouped query."""
    late = _late(today)
    query = (select(User.outlet_id, func.count(), func.count(T.c.completed_at), func.coalesce(func.sum(late), 0))
             .select_from(T).join(User, User.id == T.c.user_id).where(T.c.assignment_id == assignment_id)
             .group_by(User.outlet_id))
    return [(o, n, c, int(l)) for o, n, c, l in db.session.execute(query)]


def _late(today: date):
    return case((_overdue(today), 1), else_=0)


def shown_name(model):
    """``model.name`` (``auth.models.Bilingual``: the reader's language, else the other) as SQL;
    "—" when there is no row (an outer join found none)."""
    locale = get_locale()
    first, second = ((model.name_en, model.name_zh) if locale is not None and locale.language == "en"
                     else (model.name_zh, model.name_en))
    return case((model.id.is_(None), literal("—")), else_=func.coalesce(func.nullif(first, ""), second))


def _line_order(n, done, late, name, *tie):
    """Most overdue first, then the smallest share complete, then by name (``AreaLine`` order)."""
    return (late.desc(), cast(done, Float) / n, name, *tie)


def province_lines(assignment_id: int, today: date) -> list[tuple[str, str, int, int, int]]:
    """(region name, province name, assigned, complete, overdue) per province ("—": technicians
    without an outlet), one grouped query: a few dozen rows whatever the network's size (the
    lines by region are their sums)."""
    n, done = func.count(), func.count(T.c.completed_at)
    query = (select(shown_name(Region), shown_name(Province), n, done, func.coalesce(func.sum(_late(today)), 0))
             .select_from(T).join(User, User.id == T.c.user_id).outerjoin(Outlet, Outlet.id == User.outlet_id)
             .outerjoin(Province, Province.id == Outlet.province_id).outerjoin(Region, Region.id == Province.region_id)
             .where(T.c.assignment_id == assignment_id)
             .group_by(Province.id, Province.name_zh, Province.name_en, Region.id, Region.name_zh, Region.name_en))
    return [(region, province, a, c, int(d)) for region, province, a, c, d in db.session.execute(query)]


def outlet_lines_query(assignment_id: int, today: date):
    """(outlet id or None, name, assigned, complete, overdue) per outlet, in the report's order
    (ties by outlet id): a select to page with LIMIT/OFFSET."""
    name = shown_name(Outlet)
    n, done, late = func.count(), func.count(T.c.completed_at), func.coalesce(func.sum(_late(today)), 0)
    return (select(User.outlet_id, name, n, done, late).select_from(T)
            .join(User, User.id == T.c.user_id).outerjoin(Outlet, Outlet.id == User.outlet_id)
            .where(T.c.assignment_id == assignment_id).group_by(User.outlet_id, Outlet.id, Outlet.name_zh, Outlet.name_en)
            .order_by(*_line_order(n, done, late, name, func.coalesce(User.outlet_id, 0))))


def outlet_count(assignment_id: int) -> int:
    """How many outlet lines the report has (technicians without an outlet: one line)."""
    return db.session.scalar(select(func.count()).select_from(
        select(User.outlet_id).select_from(T).join(User, User.id == T.c.user_id)
        .where(T.c.assignment_id == assignment_id).group_by(User.outlet_id).subquery())) or 0


def export_query(assignment_id: int):
    """Every technician the assignment reaches, by username, for the download: (username, name,
    outlet code, outlet name, due_on, completed_at)."""
    return (select(User.username, User.name, Outlet.code, shown_name(Outlet), T.c.due_on, T.c.completed_at)
            .select_from(T).join(User, User.id == T.c.user_id).outerjoin(Outlet, Outlet.id == User.outlet_id)
            .where(T.c.assignment_id == assignment_id).order_by(User.username, User.id))


def member_states(assignment_id: int, today: date) -> dict[int, tuple[bool, bool]]:
    """user id → (complete, overdue), for the download."""
    return {uid: (done is not None, done is None and due < today) for uid, due, done in db.session.execute(
        select(T.c.user_id, T.c.due_on, T.c.completed_at).where(T.c.assignment_id == assignment_id))}


def due_of(assignment_id: int, user_id: int) -> date | None:
    return db.session.scalar(select(T.c.due_on).where(T.c.assignment_id == assignment_id, T.c.user_id == user_id))
