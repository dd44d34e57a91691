"""A trainer's corrections for one person on a quiz: their own rules (an override: extra attempts,
the cooldown lifted, extra time, a due date of their own), a manual mark on a typed answer no
accepted answer matched, and the log of both.

Who may act for whom (``refusal``): a trainer or an administrator; nobody for themselves
(``security.refuse_self``); a technician in a cohort only by that cohort's trainers (the
sign-off rule), one in no cohort by any trainer; an administrator for anyone but themselves.
Every change is one transaction, logged as a message id and values (``AssessmentEvent``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import exists, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload

from ..auth.models import User
from ..dbtypes import utcnow
from ..extensions import db
from ..learning.models import CohortMember, CohortTrainer
from ..messages import both, msg
from ..paging import Page, count, rows_page
from ..security import SelfDecision, refuse_self
from . import attempts as engine
from .models import AssessmentEvent, Attempt, ItemResponse, ManualMark, Question, Quiz, QuizOverride
from .services import user_filter

MAX_EXTRA_ATTEMPTS = 20
MAX_EXTRA_MINUTES = 600
MAX_COMMENT = 1000


class CorrectionError(ValueError):
    """Why a correction cannot be made (a message for the trainer)."""


# --- who may act for whom -----------------------------------------------------------------------


def in_scope(viewer: User, user_column):
    """A condition on a user id column: the technicians ``viewer`` may correct (see the module),
    evaluated by the database (no list of people read). ``user_column`` may be one id."""
    if isinstance(user_column, int):
        user_column = literal(user_column)
    if viewer.has_role("admin"):
        return user_column != viewer.id
    in_a_cohort = exists().where(CohortMember.user_id == user_column)
    theirs = exists().where(CohortMember.user_id == user_column, CohortTrainer.cohort_id == CohortMember.cohort_id,
                            CohortTrainer.user_id == viewer.id)
    return (user_column != viewer.id) & or_(~in_a_cohort, theirs)


def refusal(actor: User, technician: User) -> str | None:
    """Why ``actor`` may not correct ``technician``'s quiz (None: they may)."""
    try:
        refuse_self(actor, technician)
    except SelfDecision as problem:
        return str(problem)
    if not actor.has_role("trainer", "admin"):
        return _("Only trainers correct quizzes.")
    if not technician.has_role("technician"):
        return _("Only technicians take quizzes.")
    allowed = db.session.scalar(select(in_scope(actor, technician.id)))
    if not allowed:
        return _("%(name)s is in a cohort you do not run: only its trainers correct their quizzes.",
                 name=technician.display_name)
    return None


def _log(actor: User, quiz: Quiz, user_id: int, action: str, message, attempt_id: int | None = None) -> None:
    db.session.add(AssessmentEvent(actor_id=actor.id, quiz_id=quiz.id, user_id=user_id, attempt_id=attempt_id,
                                   action=action, text=message, at=utcnow()))


def events(quiz: Quiz, user_id: int, limit: int = 50) -> list[AssessmentEvent]:
    """The latest corrections made for this person on this quiz, newest first."""
    return list(db.session.scalars(select(AssessmentEvent).options(joinedload(AssessmentEvent.actor))
                                   .where(AssessmentEvent.quiz_id == quiz.id, AssessmentEvent.user_id == user_id)
                                   .order_by(AssessmentEvent.at.desc(), AssessmentEvent.id.desc()).limit(limit)))


# --- overrides ------------------------------------------------------------------------------------


def _quiz_title(quiz: Quiz) -> dict:
    return both(quiz.title_zh, quiz.title_en)


def set_override(quiz: Quiz, technician: User, actor: User, extra_attempts: int, lift_cooldown: bool,
                 extra_minutes: int, due_at: datetime | None) -> QuizOverride:
    """Set (create or replace) the technician's own rules on the quiz, logged; one transaction."""
    problem = refusal(actor, technician)
    if problem:
        raise CorrectionError(problem)
    if not 0 <= extra_attempts <= MAX_EXTRA_ATTEMPTS:
        raise CorrectionError(_("Extra attempts: from 0 to %(n)d.", n=MAX_EXTRA_ATTEMPTS))
    if not 0 <= extra_minutes <= MAX_EXTRA_MINUTES:
        raise CorrectionError(_("Extra time: from 0 to %(n)d minutes.", n=MAX_EXTRA_MINUTES))
    if not (extra_attempts or lift_cooldown or extra_minutes or due_at):
        raise CorrectionError(_("Nothing to set: give extra attempts, lift the cooldown, add time or set a due date "
                                "(or remove the override)."))
    own = db.session.scalar(select(QuizOverride).where(QuizOverride.quiz_id == quiz.id,
                                                       QuizOverride.user_id == technician.id).with_for_update())
    if own is None:
        own = QuizOverride(quiz_id=quiz.id, user_id=technician.id)
        db.session.add(own)
    own.extra_attempts, own.lift_cooldown, own.extra_minutes, own.due_at = \
        extra_attempts, lift_cooldown, extra_minutes, due_at
    own.set_by_id, own.updated_at = actor.id, utcnow()
    _log(actor, quiz, technician.id, "override-set", msg(
        "quiz.override-set", quiz=_quiz_title(quiz), attempts=extra_attempts, minutes=extra_minutes,
        cooldown=msg("quiz.cooldown-lifted" if lift_cooldown else "quiz.cooldown-kept"),
        due=due_at if due_at else msg("quiz.no-due")))
    try:
        db.session.commit()
    except IntegrityError:  # another trainer created it a moment ago: theirs stands, try again
        db.session.rollback()
        raise CorrectionError(_("Someone else changed this override just now: look at it again."))
    return own


def remove_override(quiz: Quiz, technician: User, actor: User) -> bool:
    """Remove the technician's own rules on the quiz (False: there were none), logged."""
    problem = refusal(actor, technician)
    if problem:
        raise CorrectionError(problem)
    own = db.session.scalar(select(QuizOverride).where(QuizOverride.quiz_id == quiz.id,
                                                       QuizOverride.user_id == technician.id).with_for_update())
    if own is None:
        db.session.rollback()
        return False
    db.session.delete(own)
    _log(actor, quiz, technician.id, "override-removed", msg("quiz.override-removed", quiz=_quiz_title(quiz)))
    db.session.commit()
    return True


def overrides_page(quiz: Quiz, **filters) -> Page:
    """The quiz's overrides (the report's filters applied), a page at a time, newest first."""
    query = (select(QuizOverride).options(joinedload(QuizOverride.user))
             .where(QuizOverride.quiz_id == quiz.id, *user_filter(QuizOverride.user_id, **filters))
             .order_by(QuizOverride.updated_at.desc(), QuizOverride.id.desc()))
    page = rows_page(query, count(query))
    page.items = [row[0] for row in page.items]
    return page


# --- manual marking of typed answers -------------------------------------------------------------


@dataclass
class Unmatched:
    """One typed answer in the marking queue."""
    response: ItemResponse
    attempt: Attempt
    user: User
    question: Question
    mark: ManualMark | None

    @property
    def typed(self) -> str:
        return str((self.attempt.answers or {}).get(str(self.response.position)) or "")

    def accepted(self) -> list[str]:
        """The accepted answers of the language it was typed in (the key: trainers only)."""
        data = self.question.data(self.attempt.answer_lang(self.response.position))
        return [f"{a['text']} ({round(100 * float(a.get('fraction', 1)))}%)" for a in data.get("answers") or []]


QUEUE_STATES = ("waiting", "marked")


def queue_query(quiz: Quiz, viewer: User, state: str = "waiting", **filters):
    """The ids of the typed (short-answer) responses of the quiz's graded attempts that no accepted
    answer matched (marked 0 by the key) and no trainer has marked yet (``waiting``, oldest first),
    or of those a trainer has marked (``marked``, latest first); the viewer's own attempts and
    those of people outside their scope are not in it. Filtered by the report's filters, in SQL.

    Only ids and columns the partial index ``ix_assessment_response_unmatched`` carries are read,
    so the waiting queue and its count are an index-only scan however many attempts the quiz has;
    ``queue_page`` loads the rows of the page shown."""
    base = (select(ItemResponse.id)
            .join(Question, Question.id == ItemResponse.question_id)
            .outerjoin(ManualMark, (ManualMark.attempt_id == ItemResponse.attempt_id)
                       & (ManualMark.position == ItemResponse.position))
            .where(ItemResponse.quiz_id == quiz.id, Question.type == "short", ItemResponse.blank.is_(False),
                   in_scope(viewer, ItemResponse.user_id), *user_filter(ItemResponse.user_id, **filters)))
    if state == "marked":
        return (base.add_columns(ManualMark.marked_at, ManualMark.id.label("mark_id"))
                .where(ManualMark.id.is_not(None)).order_by(ManualMark.marked_at.desc(), ManualMark.id.desc()))
    # Oldest first by the response rows' ids: they are written when the attempt is graded, so
    # their order is the order of submission.
    return base.where(ManualMark.id.is_(None), ItemResponse.score == 0).order_by(ItemResponse.id)


def queue_page(quiz: Quiz, viewer: User, state: str = "waiting", **filters) -> Page:
    query = queue_query(quiz, viewer, state, **filters)
    page = rows_page(query, count(query))
    ids = [row[0] for row in page.items]
    rows = db.session.execute(
        select(ItemResponse, Attempt, User, Question, ManualMark)
        .join(Attempt, Attempt.id == ItemResponse.attempt_id)
        .join(User, User.id == ItemResponse.user_id)
        .join(Question, Question.id == ItemResponse.question_id)
        .outerjoin(ManualMark, (ManualMark.attempt_id == ItemResponse.attempt_id)
                   & (ManualMark.position == ItemResponse.position))
        .options(joinedload(ManualMark.marked_by), lazyload(User.role_rows))
        .where(ItemResponse.id.in_(ids))).all() if ids else []
    by_id = {row[0].id: row for row in rows}
    page.items = [Unmatched(*by_id[i]) for i in ids if i in by_id]
    return page


def mark(attempt: Attempt, position: int, value: float, comment: str, actor: User) -> tuple[float, float]:
    """A trainer's mark (0..1) on a typed answer of a graded attempt, with an optional comment:
    the mark is kept, the attempt re-scored with every kept figure (``attempts.rescore``) and the
    change logged, in one transaction under the lock on the attempt's row. Returns the attempt's
    percent (before, after)."""
    problem = refusal(actor, attempt.user)
    if problem:
        raise CorrectionError(problem)
    if not 0 <= value <= 1:
        raise CorrectionError(_("A mark is from 0 to 1 (a share of the question's mark)."))
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise CorrectionError(_("The comment is longer than %(n)d characters.", n=MAX_COMMENT))
    attempt = engine._locked(attempt)
    if attempt.status == "open":
        db.session.rollback()
        raise CorrectionError(_("This attempt is still open."))
    if not 0 <= position < len(attempt.items):
        db.session.rollback()
        raise CorrectionError(_("There is no such question in this attempt."))
    question = db.session.get(Question, attempt.items[position]["question"])
    if question is None or question.type != "short" or (attempt.answers or {}).get(str(position)) in (None, ""):
        db.session.rollback()
        raise CorrectionError(_("Only a typed short answer is marked by hand."))
    was = float((attempt.scores or [])[position]) if position < len(attempt.scores or []) else 0.0
    existing = db.session.scalar(select(ManualMark).where(ManualMark.attempt_id == attempt.id,
                                                          ManualMark.position == position))
    if existing is None:
        existing = ManualMark(attempt_id=attempt.id, position=position)
        db.session.add(existing)
    existing.mark, existing.comment, existing.marked_by_id, existing.marked_at = value, comment, actor.id, utcnow()
    db.session.flush()
    before, after = engine.rescore(attempt)
    _log(actor, attempt.quiz, attempt.user_id, "marked", msg(
        "quiz.marked", quiz=_quiz_title(attempt.quiz), n=position + 1, attempt=attempt.number, mark=value, was=was,
        before=before, after=after, comment=comment), attempt_id=attempt.id)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise CorrectionError(_("Someone else marked this answer just now: look at it again."))
    return before, after
