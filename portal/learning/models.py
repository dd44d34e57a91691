"""Courses, lessons, practical tasks, cohorts, progress, sign-offs and assignments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Region, User
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..messages import message_columns, render

COURSE_KINDS = ("onboarding", "quarterly", "remedial", "elective")


class Bilingual:
    """Rows with ``<name>_zh`` / ``<name>_en`` columns: the text in the reader's language."""

    def text(self, name: str, lang: str) -> str:
        value = getattr(self, f"{name}_{'zh' if lang == 'zh' else 'en'}")
        return value or getattr(self, f"{name}_{'en' if lang == 'zh' else 'zh'}") or ""


class Course(Bilingual, db.Model):
    __tablename__ = "learning_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    quarter: Mapped[str | None] = mapped_column(String(7))
    product: Mapped[str | None] = mapped_column(String(40))
    quiz: Mapped[str | None] = mapped_column(String(80))  # the quiz that completes it
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    modules: Mapped[list["CourseModule"]] = relationship(
        back_populates="course", order_by="CourseModule.position", cascade="all, delete-orphan")

    def lessons(self) -> list["Lesson"]:
        return [lesson for module in self.modules for lesson in module.lessons if lesson.active]

    def tasks(self) -> list["PracticalTask"]:
        return [task for module in self.modules for task in module.tasks if task.active]


class CourseModule(Bilingual, db.Model):
    """A day of the onboarding programme, or a module of another course."""

    __tablename__ = "learning_module"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("learning_course.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column()
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    course: Mapped[Course] = relationship(back_populates="modules")
    lessons: Mapped[list["Lesson"]] = relationship(back_populates="module", order_by="Lesson.position")
    tasks: Mapped[list["PracticalTask"]] = relationship(back_populates="module",
                                                        order_by="PracticalTask.position")


class Lesson(Bilingual, db.Model):
    __tablename__ = "learning_lesson"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("learning_course.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("learning_module.id"))
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(default=0)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    body_zh: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    minutes_zh: Mapped[int] = mapped_column(default=1)
    minutes_en: Mapped[int] = mapped_column(default=1)
    cases: Mapped[list] = mapped_column(JSON, default=list)  # fault-case keys it teaches
    norms: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # facts.yaml norm keys
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # Who last checked the technical content (both language files), and when; see kb.models.Case.
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_on: Mapped[date | None] = mapped_column(Date, index=True)
    # A lesson dropped from its course file is kept (learners' progress stays) but hidden.
    active: Mapped[bool] = mapped_column(default=True)

    course: Mapped[Course] = relationship()
    module: Mapped[CourseModule | None] = relationship(back_populates="lessons")

    def minutes(self, lang: str) -> int:
        return self.minutes_zh if lang == "zh" else self.minutes_en


class PracticalTask(Bilingual, db.Model):
    __tablename__ = "learning_task"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("learning_course.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("learning_module.id"))
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(default=0)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    checklist: Mapped[list] = mapped_column(JSON, default=list)  # [{"zh": …, "en": …}, …]
    active: Mapped[bool] = mapped_column(default=True)

    course: Mapped[Course] = relationship()
    module: Mapped[CourseModule | None] = relationship(back_populates="tasks")

    def items(self, lang: str) -> list[str]:
        key, other = ("zh", "en") if lang == "zh" else ("en", "zh")
        return [item.get(key) or item.get(other) or "" for item in self.checklist]


class LessonProgress(db.Model):
    __tablename__ = "learning_progress"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("learning_lesson.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lesson: Mapped[Lesson] = relationship()


class Holiday(db.Model):
    """A date the calendar treats differently: a holiday on a weekday, or a working weekend day."""

    __tablename__ = "learning_holiday"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(default=False)  # True: a weekend day worked (调休)
    name: Mapped[str] = mapped_column(String(100), default="")


class Cohort(db.Model):
    __tablename__ = "learning_cohort"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    course_id: Mapped[int] = mapped_column(ForeignKey("learning_course.id"))
    start_date: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Archived: out of the active lists (cohorts, quiz report filter), still readable; restoring clears it.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship()
    trainers: Mapped[list[User]] = relationship(secondary="learning_cohort_trainer", order_by=User.username)
    members: Mapped[list[User]] = relationship(secondary="learning_cohort_member", order_by=User.username)


class CohortTrainer(db.Model):
    __tablename__ = "learning_cohort_trainer"

    cohort_id: Mapped[int] = mapped_column(ForeignKey("learning_cohort.id", ondelete="CASCADE"),
                                           primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)


class CohortMember(db.Model):
    """A technician is in one cohort at a time (moving them is explicit and logged)."""

    __tablename__ = "learning_cohort_member"
    __table_args__ = (UniqueConstraint("user_id", name="uq_learning_cohort_member_user"),)

    cohort_id: Mapped[int] = mapped_column(ForeignKey("learning_cohort.id", ondelete="CASCADE"),
                                           primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)


class CohortEvent(db.Model):
    """What a trainer changed in a cohort (see learning.cohorts), as a message id + values rendered
    in the reader's language (portal/messages.py)."""

    __tablename__ = "learning_cohort_event"
    __table_args__ = (Index("ix_learning_cohort_event_cohort", "cohort_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("learning_cohort.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    msg_id: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()

    @property
    def shown(self) -> str:
        return render(self.msg_id, self.params)


class SignOff(db.Model):
    """One attempt at a practical task, judged item by item by a trainer. Never edited."""

    __tablename__ = "learning_signoff"
    __table_args__ = (Index("ix_learning_signoff_user_task", "user_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("learning_task.id", ondelete="CASCADE"))
    trainer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    attempt: Mapped[int] = mapped_column(default=1)
    passed: Mapped[bool] = mapped_column()
    # [{"item": the item's text as it was, "passed": bool, "comment": str}, …]
    items: Mapped[list] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    task: Mapped[PracticalTask] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    trainer: Mapped[User | None] = relationship(foreign_keys=[trainer_id])


class Assignment(db.Model):
    """A course assigned to a group of technicians with a due date."""

    __tablename__ = "learning_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("learning_course.id"))
    scope: Mapped[str] = mapped_column(String(12))  # all | region | product
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    product: Mapped[str | None] = mapped_column(String(40))
    due_date: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Withdrawn: kept and shown to trainers as withdrawn, off every technician's to-do and
    # overdue list; final (never edited or revived: a new assignment is made instead).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a user id, no foreign key: adding one to this existing table would copy it on SQLite (see
    # the migration 4b8e2c7d1a90); users are deactivated, not deleted
    withdrawn_by_id: Mapped[int | None] = mapped_column()
    withdraw_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    course: Mapped[Course] = relationship()
    region: Mapped[Region | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    withdrawn_by: Mapped[User | None] = relationship(primaryjoin="foreign(Assignment.withdrawn_by_id) == User.id",
                                                     viewonly=True)

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


class AssignmentExtension(db.Model):
    """One person's own due date for a course assignment (later than the one they had), with the
    reason. The person's due date is the later of this and the assignment's rule (``due_for``)."""

    __tablename__ = "learning_assignment_extension"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("learning_assignment.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    due_on: Mapped[date] = mapped_column(Date)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ASSIGNMENT_ACTIONS = ("due_changed", "withdrawn", "extended")


class AssignmentEvent(db.Model):
    """The log of changes to a course assignment: who, when, what (a message id + values) and
    the reason (what the trainer typed). Never edited."""

    __tablename__ = "learning_assignment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("learning_assignment.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # ASSIGNMENT_ACTIONS
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))  # the person, if one
    what: Mapped[str] = mapped_column(Text, default="")  # the English copy of:
    what_msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    what_params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    reason: Mapped[str] = mapped_column(Text, default="")  # plain text, or the English copy of:
    reason_msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    reason_params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    _what, shown_what = message_columns("what", "what_msg_id", "what_params")
    _reason, shown_reason = message_columns("reason", "reason_msg_id", "reason_params")


class TargetedAssignment(db.Model):
    """One lesson or module assigned to one technician, with the reason."""

    __tablename__ = "learning_targeted"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("learning_course.id"))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("learning_lesson.id"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("learning_module.id"))
    reason: Mapped[str] = mapped_column(Text)  # plain text, or the English copy of:
    reason_msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    reason_params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    due_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(20), default="trainer")  # trainer | audit
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Only lessons marked done after the assignment count (a lesson done in onboarding does not
    # answer an audit finding): their ids, and when the last of them was done.
    lessons_done: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])
    course: Mapped[Course] = relationship()
    lesson: Mapped[Lesson | None] = relationship()
    module: Mapped[CourseModule | None] = relationship()

    _message, shown_reason = message_columns("reason", "reason_msg_id", "reason_params")

    def lessons(self) -> list[Lesson]:
        if self.lesson is not None:
            return [self.lesson]
        return [lesson for lesson in self.module.lessons if lesson.active] if self.module else []


class AssignmentMember(db.Model):
    """Kept: one row per (course assignment, technician it reaches now), with that person's own
    due date and when they completed the course (None: not yet). Kept equal to the live rule
    (``services.assignment_targets``, ``due_for``, ``course_completed_at``) by learning.keeper
    in the same transaction as every change it depends on."""

    __tablename__ = "learning_assignment_member"
    __table_args__ = (Index("ix_learning_assignment_member_open", "assignment_id", "completed_at", "due_on"),)

    assignment_id: Mapped[int] = mapped_column(ForeignKey("learning_assignment.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    due_on: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
