"""What learners and trainers do with courses: progress, cohorts, sign-offs, assignments.

Functions take and return model objects and plain values; views stay thin. Nothing here
commits unless its name says it changes something (then it commits once, at the end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_date as format_day
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..auth.models import Outlet, Province, User, UserRole
from ..auth.services import log_event
from ..dbtypes import utcnow
from ..extensions import db
from ..messages import Message, both, msg
from ..notifications import notify
from . import members
from .models import (
    Assignment,
    AssignmentEvent,
    AssignmentExtension,
    Cohort,
    CohortMember,
    CohortTrainer,
    Course,
    CourseModule,
    Holiday,
    Lesson,
    LessonProgress,
    PracticalTask,
    SignOff,
    TargetedAssignment,
)
from .schedule import (
    Calendar,
    LearnerRow,
    behind_first,
    is_overdue,
    joined_day,
    learner_row,
    overdue_first,
    personal_due,
)

# Assessment uses learning's cohorts, so learning does not import assessment: it reads quiz
# results through these two, which create_app fills from assessment.services —
# "find" (quiz slug → Quiz or None) and "passed" (user ids, quiz slug → {user id: first passing attempt}).
QUIZZES: dict[str, Callable] = {}


class LearningError(ValueError):
    """A request that cannot be carried out; the message says why (translated)."""


# --- calendar ---------------------------------------------------------------------------------


def calendar() -> Calendar:
    rows = db.session.scalars(select(Holiday)).all()
    return Calendar(holidays=frozenset(h.day for h in rows if not h.working),
                    workdays=frozenset(h.day for h in rows if h.working))


# --- progress ---------------------------------------------------------------------------------


def _progress_rows(user_id: int, lesson_ids) -> dict[int, LessonProgress]:
    if not lesson_ids:
        return {}
    return {p.lesson_id: p for p in db.session.scalars(select(LessonProgress).where(
        LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(list(lesson_ids))))}


def record_visit(user: User, lesson: Lesson) -> LessonProgress:
    """The learner opened the lesson: where they resume from next time."""
    row = db.session.scalar(select(LessonProgress).where(LessonProgress.user_id == user.id,
                                                         LessonProgress.lesson_id == lesson.id))
    if row is None:
        row = LessonProgress(user_id=user.id, lesson_id=lesson.id)
        db.session.add(row)
    row.last_seen_at = utcnow()
    db.session.commit()
    return row


def set_done(user: User, lesson: Lesson, done: bool = True) -> LessonProgress:
    """Marking a lesson done is explicit (and can be undone by the learner)."""
    row = db.session.scalar(select(LessonProgress).where(LessonProgress.user_id == user.id,
                                                         LessonProgress.lesson_id == lesson.id))
    if row is None:
        row = LessonProgress(user_id=user.id, lesson_id=lesson.id)
        db.session.add(row)
    now = utcnow()
    row.last_seen_at = now
    row.completed_at = (row.completed_at or now) if done else None
    _count_for_targeted(user, lesson, done, now)
    db.session.commit()
    return row


def open_targeted(user: User, lesson: Lesson, lock: bool = False) -> list[TargetedAssignment]:
    """The targeted assignments of this user, not yet complete, that include the lesson."""
    covers = TargetedAssignment.lesson_id == lesson.id
    if lesson.module_id is not None:
        covers = covers | (TargetedAssignment.module_id == lesson.module_id)
    query = select(TargetedAssignment).where(TargetedAssignment.user_id == user.id,
                                             TargetedAssignment.completed_at.is_(None), covers)
    if lock:
        query = query.with_for_update()
    return list(db.session.scalars(query.order_by(TargetedAssignment.id)))


def targeted_lesson_open(user: User, lesson: Lesson) -> bool:
    """Whether a targeted assignment still waits for this lesson to be (re)done."""
    return any(lesson.id not in (row.lessons_done or []) for row in open_targeted(user, lesson))


def _count_for_targeted(user: User, lesson: Lesson, done: bool, now: datetime) -> None:
    """A lesson marked done counts for the user's open targeted assignments that include it
    (they were made before this moment); unmarking takes it back until they are complete."""
    for row in open_targeted(user, lesson, lock=True):
        ids = [i for i in (row.lessons_done or []) if i != lesson.id] + ([lesson.id] if done else [])
        row.lessons_done = ids
        wanted = {l.id for l in row.lessons()}
        if done and wanted and wanted <= set(ids):
            row.completed_at = now


@dataclass
class ModuleProgress:
    module: CourseModule
    lessons: list[tuple[Lesson, LessonProgress | None]]
    tasks: list[tuple[PracticalTask, SignOff | None]]  # the latest sign-off of each task
    date: date | None = None  # the scheduled day, in a cohort

    @property
    def done(self) -> int:
        return sum(1 for _l, p in self.lessons if p is not None and p.completed_at is not None)

    @property
    def total(self) -> int:
        return len(self.lessons)

    @property
    def tasks_passed(self) -> int:
        return sum(1 for _t, s in self.tasks if s is not None and s.passed)

    @property
    def percent(self) -> int:
        total = self.total + len(self.tasks)
        return round(100 * (self.done + self.tasks_passed) / total) if total else 100


@dataclass
class CourseProgress:
    course: Course
    modules: list[ModuleProgress] = field(default_factory=list)
    resume: Lesson | None = None  # where to carry on
    quiz: object | None = None  # the course quiz (assessment Quiz), if it has one
    quiz_passed: object | None = None  # the learner's first passing attempt at it

    @property
    def done(self) -> int:
        return sum(m.done for m in self.modules)

    @property
    def total(self) -> int:
        return sum(m.total for m in self.modules)

    @property
    def percent(self) -> int:
        total = self.total + sum(len(m.tasks) for m in self.modules)
        passed = self.done + sum(m.tasks_passed for m in self.modules)
        return round(100 * passed / total) if total else 100

    @property
    def lessons_complete(self) -> bool:
        return self.total > 0 and self.done == self.total

    @property
    def complete(self) -> bool:
        """Every lesson done and, when the course has a quiz, the quiz passed."""
        return self.lessons_complete and (not self.course.quiz or self.quiz_passed is not None)


def latest_signoffs(user_id: int, task_ids) -> dict[int, SignOff]:
    latest: dict[int, SignOff] = {}
    if not task_ids:
        return latest
    for row in db.session.scalars(select(SignOff).where(SignOff.user_id == user_id,
                                                        SignOff.task_id.in_(list(task_ids)))
                                  .order_by(SignOff.attempt)):
        latest[row.task_id] = row
    return latest


def course_progress(user: User, course: Course, start: date | None = None) -> CourseProgress:
    """Per module (day): lessons done and tasks passed; and the lesson to resume at: the
    first, in the programme's order, not done."""
    lessons = course.lessons()
    progress = _progress_rows(user.id, [l.id for l in lessons])
    signoffs = latest_signoffs(user.id, [t.id for t in course.tasks()])
    modules = [m for m in course.modules if m.active]
    days = calendar().working_days(start, len(modules)) if start else []
    result = CourseProgress(course=course)
    for index, module in enumerate(modules):
        result.modules.append(ModuleProgress(
            module=module,
            lessons=[(l, progress.get(l.id)) for l in module.lessons if l.active],
            tasks=[(t, signoffs.get(t.id)) for t in module.tasks if t.active],
            date=days[index] if index < len(days) else None))
    if course.quiz:
        result.quiz = QUIZZES["find"](course.quiz)
        result.quiz_passed = QUIZZES["passed"]([user.id], course.quiz).get(user.id)
    # Carry on at the first lesson of the programme, in order, not done yet (a lesson opened
    # later, ahead of the schedule, does not pull the learner past an unfinished one).
    result.resume = next((l for l in lessons if l.id not in progress
                          or progress[l.id].completed_at is None), None)
    return result


def lesson_neighbours(lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    ordered = lesson.course.lessons()
    index = next((i for i, l in enumerate(ordered) if l.id == lesson.id), None)
    if index is None:
        return None, None
    return (ordered[index - 1] if index > 0 else None,
            ordered[index + 1] if index + 1 < len(ordered) else None)


def lessons_teaching(case_key: str) -> list[Lesson]:
    """Active lessons that list the fault case (its key) among what they teach."""
    rows = db.session.scalars(select(Lesson).join(Course).where(Lesson.active, Course.active)).all()
    return [l for l in rows if case_key in (l.cases or [])]


# --- cohorts ----------------------------------------------------------------------------------


def onboarding_courses() -> list[Course]:
    return list(db.session.scalars(select(Course).where(Course.active, Course.kind == "onboarding")
                                   .order_by(Course.slug)))


class CohortConflict(LearningError):
    """Members already in another cohort: ``conflicts`` lists (member, their cohort)."""

    def __init__(self, message: str, conflicts: list[tuple[User, Cohort]]):
        super().__init__(message)
        self.conflicts = conflicts


def current_cohorts(members: list[User]) -> list[tuple[User, Cohort]]:
    """The cohort each of these technicians is in now, if any."""
    ids = {m.id: m for m in members}
    if not ids:
        return []
    rows = db.session.execute(select(CohortMember.user_id, Cohort).join(Cohort, Cohort.id == CohortMember.cohort_id)
                              .where(CohortMember.user_id.in_(list(ids))).order_by(CohortMember.user_id)).all()
    return [(ids[uid], cohort) for uid, cohort in rows]


def _detail(text: str) -> str:
    """A name inside an account event's "key=value;key=value" detail."""
    return text.replace(";", ",").replace("=", "-")


def create_cohort(name: str, course: Course, start_date: date, trainers: list[User],
                  members: list[User], created_by: User | None, move: bool = False) -> Cohort:
    """A cohort may start empty (members are then added with learning.cohorts). A technician is
    in one cohort at a time. Members already in one are refused unless
    ``move`` says the trainer confirmed moving them: they leave their old cohort (its matrix
    and reminders no longer count them) and the move is logged on their account."""

    if not name.strip():
        raise LearningError(_("Give the cohort a name."))
    if not trainers:
        raise LearningError(_("Add at least one trainer."))
    if any(not m.has_role("technician") for m in members):
        raise LearningError(_("Members must be technicians."))
    if any(not t.has_role("trainer") for t in trainers):
        raise LearningError(_("Trainers must have the trainer role."))
    conflicts = current_cohorts(members)
    if conflicts and not move:
        raise CohortConflict(_("Already in a cohort: %(who)s. Confirm the move to take them out of it.",
                               who=", ".join(f"{m.display_name} ({c.name})" for m, c in conflicts)), conflicts)
    cohort = Cohort(name=name.strip()[:120], course_id=course.id, start_date=start_date,
                    created_by_id=created_by.id if created_by else None)
    db.session.add(cohort)
    db.session.flush()
    for member, old in conflicts:
        db.session.execute(CohortMember.__table__.delete().where(CohortMember.cohort_id == old.id,
                                                                 CohortMember.user_id == member.id))
        log_event(member, "cohort_moved", actor=created_by,
                  detail=f"from={_detail(old.name)} #{old.id};to={_detail(cohort.name)} #{cohort.id}")
    db.session.add_all([CohortTrainer(cohort_id=cohort.id, user_id=t.id) for t in trainers])
    db.session.add_all([CohortMember(cohort_id=cohort.id, user_id=m.id) for m in members])
    try:
        db.session.commit()
    except IntegrityError:
        # Someone put one of them in another cohort meanwhile: nothing is saved; look again.
        db.session.rollback()
        raise LearningError(_("One of these technicians was just put in another cohort: check and try again."))
    for old in {c.id: c for _m, c in conflicts}.values():
        db.session.expire(old, ["members"])
    return cohort


def cohort_days(cohort: Cohort) -> list[tuple[CourseModule, date]]:
    modules = [m for m in cohort.course.modules if m.active]
    return list(zip(modules, calendar().working_days(cohort.start_date, len(modules))))


def cohort_matrix(cohort: Cohort, today: date) -> list[LearnerRow]:
    """Members × days, each day done / in progress / behind / upcoming; who is behind first."""
    # The programme's days with their lessons and tasks in three queries (held in a name: the
    # identity map keeps only what something refers to).
    _modules = db.session.scalars(select(CourseModule).where(CourseModule.course_id == cohort.course_id)
                                  .options(selectinload(CourseModule.lessons), selectinload(CourseModule.tasks))).all()
    days = cohort_days(cohort)
    lesson_ids = [l.id for m, _d in days for l in m.lessons if l.active]
    task_ids = [t.id for m, _d in days for t in m.tasks if t.active]
    member_ids = [m.id for m in cohort.members]
    opened: dict[int, set] = {}  # per member: lessons opened or done
    done: dict[int, set] = {}
    if member_ids and lesson_ids:
        for user_id, lesson_id, completed_at in db.session.execute(
                select(LessonProgress.user_id, LessonProgress.lesson_id, LessonProgress.completed_at).where(
                    LessonProgress.user_id.in_(member_ids), LessonProgress.lesson_id.in_(lesson_ids))):
            opened.setdefault(user_id, set()).add(lesson_id)
            if completed_at is not None:
                done.setdefault(user_id, set()).add(lesson_id)
    tasks_passed: dict[int, set] = {}
    if member_ids and task_ids:
        for user_id, task_id in db.session.execute(select(SignOff.user_id, SignOff.task_id).where(
                SignOff.user_id.in_(member_ids), SignOff.task_id.in_(task_ids), SignOff.passed)):
            tasks_passed.setdefault(user_id, set()).add(task_id)
    plan = [(day, [l.id for l in module.lessons if l.active], [t.id for t in module.tasks if t.active])
            for module, day in days]
    return behind_first([learner_row(m, plan, done.get(m.id, set()), opened.get(m.id, set()),
                                     tasks_passed.get(m.id, set()), today) for m in cohort.members])


TASK_PASSED, TASK_FAILED, TASK_NOT_TRIED = "passed", "failed", "not_tried"


def cohort_task_states(cohort: Cohort) -> dict[tuple[int, int], str]:
    """(member id, task id) → passed (an attempt passed), failed (attempted, none passed) or
    not_tried, for every member and every active practical task of the programme."""
    tasks = [t.id for t in cohort.course.tasks()]
    members = [m.id for m in cohort.members]
    states = {(m, t): TASK_NOT_TRIED for m in members for t in tasks}
    if not (tasks and members):
        return states
    for user_id, task_id, passed in db.session.execute(select(SignOff.user_id, SignOff.task_id, SignOff.passed).where(
            SignOff.user_id.in_(members), SignOff.task_id.in_(tasks))):
        if passed:
            states[(user_id, task_id)] = TASK_PASSED
        elif states[(user_id, task_id)] != TASK_PASSED:
            states[(user_id, task_id)] = TASK_FAILED
    return states


def cohorts_of(user: User) -> list[Cohort]:
    """The cohorts a technician belongs to, newest first."""
    return list(db.session.scalars(select(Cohort).join(CohortMember).where(CohortMember.user_id == user.id)
                                   .order_by(Cohort.start_date.desc())))


def behind_count(cohort: Cohort, today: date) -> int:
    """How many members are behind schedule, from the matrix (the reference for cohort_figures)."""
    return sum(1 for row in cohort_matrix(cohort, today) if row.behind)


def cohort_figures(cohorts: list[Cohort], today: date) -> dict[int, tuple[int, int]]:
    """cohort id → (members, members behind schedule) for a page of cohorts, with grouped
    queries (members per cohort; lessons done and tasks passed per member and programme day)
    instead of a matrix per cohort: equal to ``len(cohort.members)`` and ``behind_count``.

    A member is behind when a day before ``today`` is not done: fewer of its active lessons
    marked done, or of its active practical tasks passed, than it has (schedule.day_status)."""
    if not cohorts:
        return {}
    ids = [c.id for c in cohorts]
    sizes = dict(db.session.execute(select(CohortMember.cohort_id, func.count()).where(
        CohortMember.cohort_id.in_(ids)).group_by(CohortMember.cohort_id)).all())
    days = calendar()
    # The programmes' days with their lessons and tasks, in three queries whatever their number.
    # (Held in a name: the session's identity map keeps only objects something refers to.)
    _modules = db.session.scalars(select(CourseModule).where(CourseModule.course_id.in_({c.course_id for c in cohorts}))
                                  .options(selectinload(CourseModule.lessons), selectinload(CourseModule.tasks))).all()
    needs: dict[int, dict[int, tuple[int, int]]] = {}  # cohort → past day's module → (lessons, tasks)
    for cohort in cohorts:
        modules = [m for m in cohort.course.modules if m.active]
        past = [m for m, day in zip(modules, days.working_days(cohort.start_date, len(modules))) if day < today]
        needs[cohort.id] = {m.id: (sum(1 for l in m.lessons if l.active), sum(1 for t in m.tasks if t.active))
                            for m in past}
        needs[cohort.id] = {m: n for m, n in needs[cohort.id].items() if n != (0, 0)}
    modules = sorted({m for wanted in needs.values() for m in wanted})
    got: dict[tuple[int, int, int], list[int]] = {}  # (cohort, member, module) → [lessons done, tasks passed]
    if modules:
        lessons = (select(CohortMember.cohort_id, LessonProgress.user_id, Lesson.module_id,
                          func.count())  # one progress row per (user, lesson)
                   .join(LessonProgress, LessonProgress.user_id == CohortMember.user_id)
                   .join(Lesson, Lesson.id == LessonProgress.lesson_id)
                   .where(CohortMember.cohort_id.in_(ids), Lesson.module_id.in_(modules), Lesson.active,
                          LessonProgress.completed_at.is_not(None))
                   .group_by(CohortMember.cohort_id, LessonProgress.user_id, Lesson.module_id))
        tasks = (select(CohortMember.cohort_id, SignOff.user_id, PracticalTask.module_id,
                        func.count(func.distinct(PracticalTask.id)))
                 .join(SignOff, SignOff.user_id == CohortMember.user_id)
                 .join(PracticalTask, PracticalTask.id == SignOff.task_id)
                 .where(CohortMember.cohort_id.in_(ids), PracticalTask.module_id.in_(modules), PracticalTask.active,
                        SignOff.passed)
                 .group_by(CohortMember.cohort_id, SignOff.user_id, PracticalTask.module_id))
        for column, query in ((0, lessons), (1, tasks)):
            for cohort_id, user_id, module_id, n in db.session.execute(query):
                got.setdefault((cohort_id, user_id, module_id), [0, 0])[column] = n
    on_time: dict[int, set[int]] = {}  # cohort → members with every past day done
    members_seen: dict[int, set[int]] = {}
    for cohort_id, user_id, module_id in got:
        members_seen.setdefault(cohort_id, set()).add(user_id)
    for cohort_id, wanted in needs.items():
        on_time[cohort_id] = {user_id for user_id in members_seen.get(cohort_id, set())
                              if all(got.get((cohort_id, user_id, m), (0, 0))[0] >= lessons_needed
                                     and got.get((cohort_id, user_id, m), (0, 0))[1] >= tasks_needed
                                     for m, (lessons_needed, tasks_needed) in wanted.items())}
    return {c.id: (sizes.get(c.id, 0), 0 if not needs[c.id] else sizes.get(c.id, 0) - len(on_time[c.id]))
            for c in cohorts}


# --- practical sign-off -----------------------------------------------------------------------


def signoff_refusal(trainer: User, technician: User, cohorts: list[Cohort]) -> str | None:
    """Who may sign off whom (pure): why ``trainer`` may not sign off ``technician``, a member of
    ``cohorts``; None if they may.

    Signing off is a trainer's judgement of work they watched, so it takes the trainer role;
    the administrator role alone does not (an administrator who is also a trainer signs off as
    a trainer). A technician in a cohort is signed off by that cohort's trainers only; one in
    no cohort (training after onboarding) by any trainer. Nobody signs themselves off."""
    if not technician.has_role("technician"):
        return _("Only technicians are signed off.")
    if not trainer.has_role("trainer"):
        return _("Only trainers sign off practical tasks.")
    if trainer.id == technician.id:
        return _("Nobody signs off their own practical task.")
    runners = {t.id: t for cohort in cohorts for t in cohort.trainers}
    if cohorts and trainer.id not in runners:
        return _("%(name)s is in a cohort you do not run: only its trainers (%(trainers)s) sign "
                 "them off.", name=technician.display_name,
                 trainers=", ".join(t.display_name for t in runners.values()) or "-")
    return None


def may_sign_off(trainer: User, technician: User) -> str | None:
    """signoff_refusal() for the technician's cohorts as they are now."""
    return signoff_refusal(trainer, technician, cohorts_of(technician))


def record_signoff(task: PracticalTask, technician: User, trainer: User,
                   results: list[tuple[bool, str]], comment: str = "") -> SignOff:
    """One attempt, judged item by item: passed only if every item passed; every failed item
    says why (its comment). Attempts are kept; a failed task can be attempted again."""

    refusal = may_sign_off(trainer, technician)
    if refusal:
        raise LearningError(refusal)
    if len(results) != len(task.checklist):
        raise LearningError(_("Judge every item of the checklist."))
    unexplained = [n for n, (ok, text) in enumerate(results, start=1) if not ok and not (text or "").strip()]
    if unexplained:
        raise LearningError(ngettext("Say why item %(items)s failed: a failed item needs a comment.",
                                     "Say why items %(items)s failed: each failed item needs a comment.",
                                     len(unexplained), items=", ".join(str(n) for n in unexplained)))
    previous = db.session.scalar(select(func.max(SignOff.attempt)).where(
        SignOff.user_id == technician.id, SignOff.task_id == task.id)) or 0
    signoff = SignOff(
        user_id=technician.id, task_id=task.id, trainer_id=trainer.id, attempt=previous + 1,
        passed=all(ok for ok, _c in results), comment=comment.strip()[:2000],
        items=[{"zh": item.get("zh", ""), "en": item.get("en", ""), "passed": bool(ok),
                "comment": (text or "").strip()[:500]}
               for item, (ok, text) in zip(task.checklist, results)])
    db.session.add(signoff)
    db.session.commit()
    return signoff


def signoff_history(task: PracticalTask, technician: User) -> list[SignOff]:
    return list(db.session.scalars(select(SignOff).where(SignOff.user_id == technician.id,
                                                         SignOff.task_id == task.id)
                                   .order_by(SignOff.attempt.desc())))


# --- course assignments -----------------------------------------------------------------------


def active_technicians():
    """A select of the active technicians."""
    return (select(User).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "technician", User.active))


def assignment_targets(assignment: Assignment) -> list[User]:
    """Who the assignment is for: all active technicians, those of a region, or those whose
    outlet services the product line."""
    query = active_technicians()
    if assignment.scope == "region" and assignment.region_id is not None:
        query = (query.join(Outlet, Outlet.id == User.outlet_id).join(Province, Province.id == Outlet.province_id)
                 .where(Province.region_id == assignment.region_id))
    users = list(db.session.scalars(query.order_by(User.username)).unique())
    if assignment.scope == "product" and assignment.product:
        # An outlet lists the lines it services (none listed: every line); a technician
        # without an outlet services every line.
        users = [u for u in users if u.outlet is None or not u.outlet.products
                 or assignment.product in u.outlet.products]
    return users


def reaches(assignment: Assignment, user: User) -> bool:
    """Whether the assignment is for this user (the same rule as assignment_targets, for one
    user, without loading every technician)."""
    if not (user.active and user.has_role("technician")):
        return False
    outlet = user.outlet
    if assignment.scope == "region" and assignment.region_id is not None:
        return outlet is not None and outlet.province.region_id == assignment.region_id
    if assignment.scope == "product" and assignment.product:
        return outlet is None or not outlet.products or assignment.product in outlet.products
    return True


class DuplicateAssignment(LearningError):
    """The course is already assigned to some of these technicians: ``existing`` is that assignment."""

    def __init__(self, message: str, existing: Assignment):
        super().__init__(message)
        self.existing = existing


def create_assignment(course: Course, scope: str, due_date: date, created_by: User | None,
                      region=None, product: str | None = None, today: date | None = None) -> Assignment:
    """Assign a course. Refused: a due date before ``today`` (when given: the portal's pages
    always give it), and the same course to the same technicians twice — an assignment of the
    course that already reaches any of them (or has the same target) is named in the error."""

    if scope not in ("all", "region", "product"):
        raise LearningError(_("Assign to all technicians, a region or a product line."))
    if scope == "region" and region is None:
        raise LearningError(_("Choose the region."))
    if scope == "product" and not product:
        raise LearningError(_("Choose the product line."))
    if today is not None and due_date < today:
        raise LearningError(_("The due date %(day)s has passed: choose today or a later day.",
                              day=due_date.isoformat()))
    assignment = Assignment(course_id=course.id, scope=scope, due_date=due_date,
                            region_id=region.id if (scope == "region" and region) else None,
                            product=product if scope == "product" else None,
                            created_by_id=created_by.id if created_by else None)
    # The course row is locked while its assignments are compared: two trainers assigning the
    # same course at once are taken one after the other.
    db.session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
    existing = overlapping_assignment(assignment)
    if existing is not None:
        db.session.rollback()
        raise DuplicateAssignment(_("This course is already assigned to some of these technicians (due %(day)s): "
                                    "nobody is given one course twice.", day=existing.due_date.isoformat()),
                                  existing)
    db.session.add(assignment)
    db.session.commit()
    return assignment


def _same_target(a: Assignment, b: Assignment) -> bool:
    return (a.scope, a.region_id, a.product) == (b.scope, b.region_id, b.product)


def overlapping_assignment(assignment: Assignment) -> Assignment | None:
    """An assignment of the same course with the same target, or reaching any of the same
    technicians: one person is never given (and counted for) one course twice."""
    others = list(db.session.scalars(select(Assignment).where(
        Assignment.course_id == assignment.course_id, Assignment.id != (assignment.id or 0),
        Assignment.withdrawn_at.is_(None))
        .order_by(Assignment.id)))
    if not others:
        return None
    same = next((a for a in others if _same_target(a, assignment)), None)
    if same is not None:
        return same
    mine = {u.id for u in assignment_targets(assignment)}
    return next((a for a in others if mine & {u.id for u in assignment_targets(a)}), None)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def joined_on(user: User) -> date | None:
    """The day a person joined: their first working day, else the day their account was made."""
    return joined_day(user.start_date, _local_day(user.created_at) if user.created_at else None)


def extensions_of(assignment_id: int, user_ids=None) -> dict[int, date]:
    """user id → their own due date (an extension) for the assignment; ``user_ids`` None: all."""
    query = select(AssignmentExtension.user_id, AssignmentExtension.due_on).where(
        AssignmentExtension.assignment_id == assignment_id)
    if user_ids is not None:
        ids = list(user_ids)
        if not ids:
            return {}
        query = query.where(AssignmentExtension.user_id.in_(ids))
    return dict(db.session.execute(query).all())


def due_for(assignment: Assignment, user: User, extensions: dict[int, date] | None = None) -> date:
    """The assignment's due date for this person: later for someone who joined after it was made,
    and the later of that and their own extension, if they have one (``extensions``: the
    assignment's, from ``extensions_of``, when many people are asked about; None: looked up)."""
    assigned_on = _local_day(assignment.created_at) if assignment.created_at else None
    due = personal_due(assignment.due_date, assigned_on, joined_on(user))
    if extensions is None:
        extensions = extensions_of(assignment.id, [user.id]) if assignment.id is not None else {}
    extended = extensions.get(user.id)
    return max(due, extended) if extended is not None else due


def course_completed_at(user_ids: list[int], course: Course) -> dict[int, datetime]:
    """When each user completed the course: the later of their last lesson marked done and,
    when the course has a quiz, their first pass. Users who have not completed it are absent."""
    lesson_ids = [l.id for l in course.lessons()]
    if not lesson_ids or not user_ids:
        return {}
    rows = db.session.execute(
        select(LessonProgress.user_id, func.count(), func.max(LessonProgress.completed_at)).where(
            LessonProgress.user_id.in_(user_ids), LessonProgress.lesson_id.in_(lesson_ids),
            LessonProgress.completed_at.is_not(None)).group_by(LessonProgress.user_id)).all()
    done = {uid: last for uid, count, last in rows if count >= len(lesson_ids)}
    if course.quiz:
        passed = QUIZZES["passed"](list(done), course.quiz)
        done = {uid: max(last, passed[uid].submitted_at) for uid, last in done.items() if uid in passed}
    return done


def course_complete_for(user_ids: list[int], course: Course) -> dict[int, bool]:
    """Whether each user completed the course: every lesson done and its quiz passed."""
    done = course_completed_at(user_ids, course)
    return {uid: uid in done for uid in user_ids}


@dataclass
class AreaLine:
    name: str
    assigned: int = 0
    complete: int = 0
    overdue: int = 0
    id: int | None = None  # the outlet's, on an outlet line (None: technicians without an outlet)

    @property
    def percent(self) -> int:
        return round(100 * self.complete / self.assigned) if self.assigned else 0


def line_order(line: AreaLine) -> tuple:
    """Most overdue first, then the smallest share complete, then by name (and outlet id): the
    order members.outlet_lines_query gives in SQL."""
    return (-line.overdue, line.complete / line.assigned if line.assigned else 0.0, line.name, line.id or 0)


@dataclass
class AssignmentReport:
    assignment: Assignment
    regions: list[AreaLine]
    provinces: list[AreaLine]
    outlets: list[AreaLine]  # or OutletLines: len and slices, read a page at a time from SQL
    overdue: list[User]  # or members.OverdueList: len and slices, read from the kept rows
    assigned: int
    complete: int


class OutletLines:
    """An assignment's lines by outlet as a sequence read a page at a time: ``len`` counts the
    outlets, a slice is the grouped query's ORDER BY … LIMIT/OFFSET (8,000 outlets are never
    all loaded to be sorted)."""

    def __init__(self, assignment_id: int, today: date):
        self.assignment_id, self.today = assignment_id, today
        self._len: int | None = None

    def __len__(self) -> int:
        if self._len is None:
            self._len = members.outlet_count(self.assignment_id)
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("OutletLines is read by slices")
        start, stop, _step = index.indices(len(self))
        query = members.outlet_lines_query(self.assignment_id, self.today).offset(start).limit(max(0, stop - start))
        return [AreaLine(name=name, assigned=n, complete=done, overdue=int(late), id=outlet_id)
                for outlet_id, name, n, done, late in db.session.execute(query)]

    def __iter__(self):
        return iter(self[0:len(self)])

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, tuple, OutletLines)) else NotImplemented

    __hash__ = None


def _area_lines(assignment_id: int, today: date) -> tuple[list[AreaLine], list[AreaLine]]:
    """The lines by region and by province (each by name, as the live report groups them)."""
    lines: dict[str, dict[str, AreaLine]] = {"region": {}, "province": {}}
    for region, province, n, done, late in members.province_lines(assignment_id, today):
        for level, name in (("region", region), ("province", province)):
            line = lines[level].setdefault(name, AreaLine(name=name))
            line.assigned, line.complete, line.overdue = line.assigned + n, line.complete + done, line.overdue + late
    return (sorted(lines["region"].values(), key=line_order), sorted(lines["province"].values(), key=line_order))


def assignment_report(assignment: Assignment, today: date, areas: bool = True) -> AssignmentReport:
    """The report from the kept rows (learning.members): counts are grouped queries; the lines by
    outlet and the overdue technicians are read a page at a time. Equal to
    ``assignment_report_live``. ``areas=False``: without the lines by region, province and outlet
    (the assignments list)."""
    assigned, complete, _late = members.counts(assignment.id, today)
    regions, provinces = _area_lines(assignment.id, today) if areas else ([], [])
    return AssignmentReport(
        assignment=assignment, regions=regions, provinces=provinces,
        outlets=OutletLines(assignment.id, today) if areas else [],
        overdue=members.OverdueList(today, assignment.id, users_only=True), assigned=assigned, complete=complete)


def assignment_report_live(assignment: Assignment, today: date) -> AssignmentReport:
    """The reference: every target walked in Python (tests compare the kept report with it)."""
    users = assignment_targets(assignment)
    done = course_complete_for([u.id for u in users], assignment.course)
    extended = extensions_of(assignment.id)
    late = {u.id: not assignment.withdrawn and is_overdue(due_for(assignment, u, extended), today, done[u.id])
            for u in users}
    areas = {"region": {}, "province": {}, "outlet": {}}
    for user in users:
        outlet = user.outlet
        province = outlet.province if outlet else None
        region = province.region if province else None
        names = {  # key → line name: regions and provinces by name, outlets one line each
            "region": (region.name,) * 2 if region else ("—", "—"),
            "province": (province.name,) * 2 if province else ("—", "—"),
            "outlet": (outlet.id, outlet.name) if outlet else (None, "—"),
        }
        for level, (key, name) in names.items():
            line = areas[level].setdefault(key, AreaLine(name=name, id=key if level == "outlet" else None))
            line.assigned += 1
            line.complete += done[user.id]
            line.overdue += late[user.id]
    order = lambda lines: sorted(lines.values(), key=line_order)  # noqa: E731
    overdue = [u for u in users if late[u.id]]
    return AssignmentReport(assignment=assignment, regions=order(areas["region"]),
                            provinces=order(areas["province"]), outlets=order(areas["outlet"]),
                            overdue=overdue, assigned=len(users), complete=sum(done.values()))


@dataclass
class MyAssignment:
    assignment: Assignment
    progress: CourseProgress
    overdue: bool
    due: date | None = None  # this person's due date (see due_for)


def assignments_for(user: User, today: date) -> list[MyAssignment]:
    """The course assignments that reach this technician, soonest due first."""
    found = []
    for assignment in db.session.scalars(select(Assignment).where(Assignment.withdrawn_at.is_(None))
                                         .order_by(Assignment.due_date)):
        if not reaches(assignment, user):
            continue
        progress = course_progress(user, assignment.course)
        due = due_for(assignment, user)
        found.append(MyAssignment(assignment=assignment, progress=progress, due=due,
                                  overdue=is_overdue(due, today, progress.complete)))
    found.sort(key=lambda item: item.due)
    return found


# --- targeted assignments ---------------------------------------------------------------------


def assign_targeted(technician: User, item: Lesson | CourseModule, reason: Message | str, due_date: date,
                    assigned_by: User | None = None, source: str = "trainer",
                    commit: bool = True) -> TargetedAssignment:
    """Assign one lesson or module to one technician with the reason and a due date.

    Called by trainers from the portal and, later, by audit results (``source="audit"``,
    ``assigned_by=None``, ``commit=False`` to stay inside the caller's transaction)."""

    if not technician.has_role("technician"):
        raise LearningError(_("Only technicians get targeted lessons."))
    if not isinstance(reason, Message) and (not reason or not reason.strip()):
        raise LearningError(_("Say why the lesson is assigned."))
    if isinstance(item, Lesson):
        row = TargetedAssignment(user_id=technician.id, course_id=item.course_id, lesson_id=item.id)
    elif isinstance(item, CourseModule):
        row = TargetedAssignment(user_id=technician.id, course_id=item.course_id, module_id=item.id)
    else:
        raise LearningError(_("Assign a lesson or a module."))
    row.reason, row.due_date, row.source = (reason if isinstance(reason, Message) else reason.strip()[:2000],
                                            due_date, source)
    row.assigned_by_id = assigned_by.id if assigned_by else None
    db.session.add(row)
    db.session.flush()

    link = (f"/learning/courses/{item.course.slug}/lessons/{item.slug}" if isinstance(item, Lesson)
            else f"/learning/courses/{item.course.slug}")
    notify(technician.id, "targeted", f"targeted:{row.id}",
           msg("learning.targeted", title=both(item.title_zh, item.title_en), day=due_date),
           link)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return row


def withdraw_targeted(row: TargetedAssignment, commit: bool = True) -> None:
    """Take back a targeted lesson that is no longer needed (the audit that caused it was
    amended). The caller keeps the record of who withdrew it and why."""
    db.session.delete(row)
    if commit:
        db.session.commit()
    else:
        db.session.flush()


@dataclass
class MyTargeted:
    targeted: TargetedAssignment
    done: int
    total: int
    overdue: bool

    @property
    def complete(self) -> bool:
        """Complete once every lesson of it was marked done after it was assigned."""
        return self.targeted.completed_at is not None


def targeted_for(user: User, today: date) -> list[MyTargeted]:
    rows = db.session.scalars(select(TargetedAssignment).where(TargetedAssignment.user_id == user.id)
                              .order_by(TargetedAssignment.due_date)).all()
    found = []
    for row in rows:
        lessons = row.lessons()
        counted = set(row.lessons_done or [])
        done = sum(1 for l in lessons if l.id in counted)
        if row.completed_at is not None:
            done = max(done, len(lessons))
        found.append(MyTargeted(targeted=row, done=done, total=len(lessons),
                                overdue=is_overdue(row.due_date, today, row.completed_at is not None)))
    return found


def recent_targeted(limit: int = 50) -> list[TargetedAssignment]:
    return list(db.session.scalars(select(TargetedAssignment).order_by(TargetedAssignment.created_at.desc())
                                   .limit(limit)))


@dataclass
class NextSteps:
    course: Course | None = None
    lesson: Lesson | None = None  # where to carry on
    items: list[tuple[str, date, bool]] = field(default_factory=list)  # (title, due, overdue)

    @property
    def overdue(self) -> int:
        return sum(1 for _t, _d, late in self.items if late)

    @property
    def due(self) -> int:
        return len(self.items)


def next_steps(user: User, today: date, lang: str) -> NextSteps:
    """For the technician's home: where to carry on, then what is due, overdue first."""
    steps = NextSteps()
    cohorts = cohorts_of(user)
    if cohorts:
        progress = course_progress(user, cohorts[0].course, cohorts[0].start_date)
        if progress.resume is not None:
            steps.course, steps.lesson = progress.course, progress.resume
    for item in assignments_for(user, today):
        if not item.progress.complete:
            steps.items.append((item.assignment.course.text("title", lang), item.due, item.overdue))
            if steps.lesson is None and item.progress.resume is not None:
                steps.course, steps.lesson = item.assignment.course, item.progress.resume
    for item in targeted_for(user, today):
        if not item.complete:
            t = item.targeted
            title = t.lesson.text("title", lang) if t.lesson else t.module.text("title", lang)
            steps.items.append((title, t.due_date, item.overdue))
    steps.items = overdue_first(steps.items)
    return steps


def trainer_summary(today: date) -> dict:
    """For the trainer's home: the latest cohorts with how many members are behind, the number
    of overdue course assignments (technician × course), and how many courses there are."""
    rows = db.session.scalars(select(Cohort).where(Cohort.archived_at.is_(None))
                              .order_by(Cohort.start_date.desc(), Cohort.id.desc()).limit(5)).all()
    overdue = members.overdue_count(today)
    figures = cohort_figures(rows, today)
    return {"cohorts": [(c, figures[c.id][1]) for c in rows], "members": {i: n for i, (n, _b) in figures.items()},
            "overdue": overdue,
            "courses": db.session.scalar(select(func.count()).select_from(Course).where(Course.active)) or 0}


def notify_behind(today: date) -> int:
    """Tell each active cohort's trainers, once per member, when a member falls behind schedule
    (archived cohorts are done with: nobody is chased there)."""
    told = 0
    for cohort in db.session.scalars(select(Cohort).where(Cohort.archived_at.is_(None))):
        for row in cohort_matrix(cohort, today):
            if not row.behind:
                continue
            for trainer in cohort.trainers:
                name = row.user.display_name
                if notify(trainer.id, "behind", f"behind:{cohort.id}:{row.user.id}",
                          msg("learning.behind", name=name, cohort=cohort.name),
                          f"/learning/cohorts/{cohort.id}") is not None:
                    told += 1
    return told


# --- correcting a course assignment -----------------------------------------------------------


def manage_refusal(actor: User, assignment: Assignment) -> str | None:
    """Who may change an assignment (its due date, withdraw it, extend it for someone): the
    trainer who made it, or an administrator. None if ``actor`` may."""
    if actor.has_role("admin"):
        return None
    if actor.has_role("trainer") and assignment.created_by_id is not None and assignment.created_by_id == actor.id:
        return None
    return _("Only the trainer who made this assignment (%(name)s) or an administrator changes it.",
             name=assignment.created_by.display_name if assignment.created_by else "-")


def _locked(assignment: Assignment) -> Assignment:
    """The assignment re-read with its row locked (two trainers' changes one after the other)."""
    db.session.execute(select(Assignment.id).where(Assignment.id == assignment.id).with_for_update())
    db.session.refresh(assignment)
    if assignment.withdrawn:
        raise LearningError(_("This assignment was withdrawn: it is not changed any more. Assign the course again "
                              "to make a new one."))
    return assignment


def _reason(text: str, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise LearningError(_("Give the reason."))
    if len(text) > 2000:
        raise LearningError(_("The reason is too long (at most 2,000 characters)."))
    return text


def _log(assignment: Assignment, action: str, actor: User, what, reason: str, user: User | None = None) -> None:
    db.session.add(AssignmentEvent(assignment_id=assignment.id, action=action, actor_id=actor.id,
                                   user_id=user.id if user else None, what=what, reason=reason))


def change_due_date(assignment: Assignment, due_date: date, actor: User, today: date, reason: str = "") -> None:
    """Move the common due date (a late joiner's own date and extensions follow: see due_for);
    logged. Refused: a day before today, the same date, a withdrawn assignment."""
    refusal = manage_refusal(actor, assignment)
    if refusal:
        raise LearningError(refusal)
    reason = _reason(reason, required=False)
    if due_date < today:
        raise LearningError(_("The due date %(day)s has passed: choose today or a later day.",
                              day=due_date.isoformat()))
    try:
        _locked(assignment)
        if due_date == assignment.due_date:
            raise LearningError(_("That is already the due date."))
        old = assignment.due_date
        assignment.due_date = due_date
        _log(assignment, "due_changed", actor, msg("learning.due-changed", old=old, new=due_date), reason)
        db.session.commit()
    except LearningError:
        db.session.rollback()
        raise


def withdraw_assignment(assignment: Assignment, reason: str, actor: User) -> None:
    """Withdraw (the reason required; logged): off every technician's to-do and overdue list, kept
    for trainers as withdrawn; final."""
    refusal = manage_refusal(actor, assignment)
    if refusal:
        raise LearningError(refusal)
    reason = _reason(reason, required=True)
    try:
        _locked(assignment)
        assignment.withdrawn_at, assignment.withdrawn_by_id, assignment.withdraw_reason = utcnow(), actor.id, reason
        _log(assignment, "withdrawn", actor, msg("learning.withdrawn"), reason)
        db.session.commit()
    except LearningError:
        db.session.rollback()
        raise


def extend_for(assignment: Assignment, person: User, due_date: date, reason: str, actor: User, today: date) -> None:
    """Give one person a later due date of their own (the reason required; logged). Refused:
    oneself, someone the assignment does not reach, a date not later than theirs now or past."""
    refusal = manage_refusal(actor, assignment)
    if refusal:
        raise LearningError(refusal)
    if actor.id == person.id:
        raise LearningError(_("Nobody decides about themselves: another person must take this decision."))
    reason = _reason(reason, required=True)
    if not reaches(assignment, person):
        raise LearningError(_("This assignment does not reach %(name)s.", name=person.display_name))
    try:
        _locked(assignment)
        row = db.session.scalar(select(AssignmentExtension).where(
            AssignmentExtension.assignment_id == assignment.id, AssignmentExtension.user_id == person.id)
            .with_for_update())
        current = due_for(assignment, person)
        if due_date <= current or due_date < today:
            raise LearningError(_("Choose a day after %(day)s, the due date %(name)s has now.",
                                  day=format_day(current), name=person.display_name))
        if row is None:
            db.session.add(AssignmentExtension(assignment_id=assignment.id, user_id=person.id, due_on=due_date,
                                               granted_by_id=actor.id))
        else:
            row.due_on, row.granted_by_id, row.created_at = due_date, actor.id, utcnow()
        _log(assignment, "extended", actor, msg("learning.extended", name=person.display_name, old=current,
                                                new=due_date), reason, user=person)
        db.session.commit()
    except (LearningError, IntegrityError) as problem:
        db.session.rollback()
        if isinstance(problem, IntegrityError):
            raise LearningError(_("Someone changed this at the same moment: check and try again.")) from None
        raise


@dataclass
class OverdueFigures:
    """One line of an assignment's overdue list: lessons done of the course's, the course quiz
    (graded attempts, best percent, passed; None: not attempted), days past their own due date."""
    user: User
    due: date
    lessons_done: int
    quiz: tuple | None
    days: int


def overdue_figures_live(assignment: Assignment, user: User, today: date) -> OverdueFigures:
    """The reference for one person's line (lessons and days), walked from their progress rows
    (tests compare; the quiz figure is the kept assessment_quiz_result, checked there against
    the attempts)."""
    progress = course_progress(user, assignment.course)
    due = due_for(assignment, user)
    return OverdueFigures(user=user, due=due, lessons_done=progress.done, quiz=None, days=(today - due).days)


def assignment_log(assignment_id: int, limit: int = 200) -> list[AssignmentEvent]:
    """The assignment's logged changes, newest first."""
    return list(db.session.scalars(select(AssignmentEvent).where(AssignmentEvent.assignment_id == assignment_id)
                                   .options(selectinload(AssignmentEvent.actor), selectinload(AssignmentEvent.user))
                                   .order_by(AssignmentEvent.id.desc()).limit(limit)))
