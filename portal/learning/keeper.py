"""Keeps ``learning_assignment_member`` (see learning.members for what it holds and how it
stays equal to the live rule): the writers and the flush listener."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import has_app_context
from sqlalchemy import delete, event, inspect, select, update
from sqlalchemy.orm import Session

from ..auth.models import Outlet, Province, User, UserRole
from ..extensions import db
from . import services as svc
from .models import Assignment, AssignmentExtension, AssignmentMember, Course, CourseModule, Lesson, LessonProgress

T = AssignmentMember.__table__

# Rows of other modules that belong to one technician and may complete a course for them
# (model class → attribute naming the technician); create_app adds assessment's attempts.
USER_ROWS: dict[type, str] = {LessonProgress: "user_id", User: "id", UserRole: "user_id",
                              AssignmentExtension: "user_id"}  # one person's own due date
# Of those kinds, rows that complete nothing while the test holds, whether made, changed or
# deleted (create_app adds assessment's: an attempt still open, whose saved answers change at
# every answer an exam-taker gives, or a failed one, has no pass to complete a course with).
INERT: dict[type, Callable[[object], bool]] = {}
CHUNK = 2000  # ids per IN list (SQLite's limit on bound values)


# --- writing -------------------------------------------------------------------------------


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _completed(user_ids: list[int], course: Course) -> dict:
    done = {}
    for part in _chunks(user_ids):
        done.update(svc.course_completed_at(part, course))
    return done


def _apply(connection, assignment_id: int, wanted: dict[int, tuple], user_ids: Iterable[int] | None) -> None:
    """Make the rows of the assignment (only those of ``user_ids``, None: all) equal ``wanted``
    (user id → (due_on, completed_at))."""
    query = select(T.c.user_id, T.c.due_on, T.c.completed_at).where(T.c.assignment_id == assignment_id)
    have = {}
    if user_ids is None:
        have = {r.user_id: (r.due_on, r.completed_at) for r in connection.execute(query)}
    else:
        for part in _chunks(sorted(set(user_ids))):
            have.update({r.user_id: (r.due_on, r.completed_at)
                         for r in connection.execute(query.where(T.c.user_id.in_(part)))})
    gone = [uid for uid in have if uid not in wanted]
    for part in _chunks(gone):
        connection.execute(delete(T).where(T.c.assignment_id == assignment_id, T.c.user_id.in_(part)))
    new = [{"assignment_id": assignment_id, "user_id": uid, "due_on": due, "completed_at": done}
           for uid, (due, done) in wanted.items() if uid not in have]
    if new:
        connection.execute(T.insert(), new)
    for uid, (due, done) in wanted.items():
        if uid in have and have[uid] != (due, done):
            connection.execute(update(T).where(T.c.assignment_id == assignment_id, T.c.user_id == uid)
                               .values(due_on=due, completed_at=done))


def sync_assignment(connection, assignment: Assignment) -> None:
    """Rebuild one assignment's rows from its targets (made, or its course changed)."""
    users = svc.assignment_targets(assignment)
    done = _completed([u.id for u in users], assignment.course)
    extended = _extensions(connection, assignment.id)
    _apply(connection, assignment.id, {u.id: (svc.due_for(assignment, u, extended), done.get(u.id)) for u in users},
           None)


def sync_users(connection, user_ids: Iterable[int]) -> None:
    """Rebuild these technicians' rows across every assignment (they changed, or did something
    that may complete a course)."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    assignments = list(db.session.scalars(select(Assignment).order_by(Assignment.id)))
    if not assignments:
        return
    users = [u for part in _chunks(ids) for u in db.session.scalars(select(User).where(User.id.in_(part)))]
    for assignment in assignments:
        reached = [u for u in users if svc.reaches(assignment, u)]
        done = _completed([u.id for u in reached], assignment.course)
        extended = {}
        for part in _chunks([u.id for u in reached]):
            extended.update(_extensions(connection, assignment.id, part))
        _apply(connection, assignment.id,
               {u.id: (svc.due_for(assignment, u, extended), done.get(u.id)) for u in reached}, ids)


def rebuild_all() -> int:
    """Rebuild every assignment's rows (and commit). Returns how many assignments."""
    rows = list(db.session.scalars(select(Assignment).order_by(Assignment.id)))
    for assignment in rows:
        sync_assignment(db.session.connection(), assignment)
    db.session.commit()
    return len(rows)


# --- the listener -----------------------------------------------------------------------------

_SCHEMA_SEEN: set[str] = set()


def _has_table(connection, name: str = T.name) -> bool:
    key = f"{connection.engine.url.render_as_string(hide_password=True)} {name}"
    if key not in _SCHEMA_SEEN and inspect(connection).has_table(name):
        _SCHEMA_SEEN.add(key)
    return key in _SCHEMA_SEEN


def _extensions(connection, assignment_id: int, user_ids=None) -> dict:
    """People's own due dates (none on a schema older than the table: a rebuild between migrations)."""
    if not _has_table(connection, AssignmentExtension.__tablename__):
        return {}
    return svc.extensions_of(assignment_id, user_ids)


# For a changed (not new or deleted) row of these kinds, only these attributes matter (a sign-in
# that stamps the user, or a lesson's text edited, changes nobody's membership or completion).
RELEVANT = {User: ("active", "outlet_id", "start_date", "created_at"), Outlet: ("province_id", "products"),
            Province: ("region_id",), Course: ("quiz",), CourseModule: ("active", "course_id"),
            Lesson: ("active", "course_id", "module_id"), Assignment: ("course_id", "scope", "region_id", "product",
                                                                       "due_date", "created_at")}


def _matters(obj) -> bool:
    names = RELEVANT.get(type(obj))
    if names is None:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _after_flush(session: Session, _context) -> None:
    if not has_app_context() or session is not db.session():
        # A session of its own (a script writing outside the portal): its writes are not kept
        # here; run `flask learning-members rebuild` after it.
        return
    changed = [o for o in session.dirty if session.is_modified(o, include_collections=False) and _matters(o)]
    touched = [o for o in (*session.new, *changed, *session.deleted)
               if not (type(o) in INERT and INERT[type(o)](o))]
    if not touched:
        return
    users: set[int] = set()
    assignments: set[int] = set()
    courses: set[int] = set()
    outlets: set[int] = set()
    provinces: set[int] = set()
    for obj in touched:
        attr = USER_ROWS.get(type(obj))
        if attr is not None:
            if getattr(obj, attr, None) is not None:
                users.add(getattr(obj, attr))
        elif isinstance(obj, Assignment) and obj not in session.deleted:
            assignments.add(obj.id)
        elif isinstance(obj, Course):
            courses.add(obj.id)
        elif isinstance(obj, (CourseModule, Lesson)):
            courses.add(obj.course_id)
        elif isinstance(obj, Outlet):
            outlets.add(obj.id)
        elif isinstance(obj, Province):
            provinces.add(obj.id)
    if not (users or assignments or courses or outlets or provinces):
        return
    connection = session.connection()
    if not _has_table(connection):
        return
    if courses:
        assignments |= set(session.scalars(select(Assignment.id).where(Assignment.course_id.in_(courses))))
    for assignment_id in sorted(assignments):
        sync_assignment(connection, session.get(Assignment, assignment_id))
    if provinces:
        outlets |= set(session.scalars(select(Outlet.id).where(Outlet.province_id.in_(provinces))))
    for part in _chunks(sorted(outlets)):
        users |= set(session.scalars(select(User.id).where(User.outlet_id.in_(part))))
        # Who was in the outlet before the change is in the kept rows of its reached people.
    if users:
        sync_users(connection, users)


def connect() -> None:
    """Listen to every flush (once per process; ``create_app`` calls this)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


