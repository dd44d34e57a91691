"""Creating and editing a quiz in the browser (trainers and admins).

The form's values become the fields of a ``*.quiz.yaml`` file and go through the same validation
as a file (bank.check_quiz). A saved edit marks the quiz ``edited_in_browser_at`` (``content load``
then keeps it and reports a changed file as a conflict), applies to attempts started afterwards
(an attempt keeps its drawn questions, deadline, pass mark and review mode), and is logged as a
QuizEvent: who, when, which fields (before and after), as a message id + values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..extensions import db
from ..messages import both, msg
from .bank import IDENT_RE, check_quiz
from .models import Quiz, QuizEvent

# Filled by create_app from certification (a higher layer): "exam_slugs" → the slugs of the quizzes
# that certification tiers name. Those are edited by admins only: their pass mark decides who is
# certified.
CERTIFICATION: dict[str, Callable[[], set[str]]] = {}

# Words the quiz pages use after /quizzes/: a quiz cannot be named like them.
RESERVED = {"new", "reports", "import", "images", "attempts"}
FIELDS = ("title", "time_limit_minutes", "pass_mark", "attempts", "cooldown_hours", "review", "shuffle",
          "sections")


def is_certification_exam(quiz: Quiz) -> bool:
    finder = CERTIFICATION.get("exam_slugs")
    return bool(finder) and quiz.slug in finder()


def may_create(user: User) -> bool:
    """Trainers and admins, unless they take quizzes themselves: someone who also holds the
    technician role takes every active quiz, and nobody sets their own exam."""
    return user.has_role("trainer", "admin") and not user.has_role("technician")


def may_edit(quiz: Quiz, user: User) -> bool:
    """As :func:`may_create`; a quiz that a certification tier names (its pass mark decides who
    is certified) only an admin."""
    if not may_create(user):
        return False
    return user.has_role("admin") or not is_certification_exam(quiz)


def editable(quizzes: list[Quiz], user: User) -> set[int]:
    """The ids of those ``quizzes`` that ``user`` may edit (one look-up of the exams)."""
    if not may_create(user):
        return set()
    if user.has_role("admin"):
        return {q.id for q in quizzes}
    exams = CERTIFICATION["exam_slugs"]() if "exam_slugs" in CERTIFICATION else set()
    return {q.id for q in quizzes if q.slug not in exams}


def slug_problem(slug: str) -> str | None:
    if not IDENT_RE.match(slug or "") or len(slug) > 80:
        return _("Lower-case letters, digits and dashes, starting with a letter or digit.")
    if slug in RESERVED:
        return _("This name is used by the quiz pages; choose another.")
    if db.session.scalar(select(Quiz.id).where(Quiz.slug == slug)) is not None:
        return _("A quiz with this name exists already.")
    return None


def current(quiz: Quiz) -> dict:
    """The quiz as the values check_quiz returns, per field (for the change log)."""
    out = {"title": {"zh": quiz.title_zh, "en": quiz.title_en}, "sections": quiz.sections or []}
    for name in FIELDS[1:-1]:
        out[name] = (quiz.settings or {}).get(name)
    return out


def save(quiz: Quiz | None, slug: str | None, data: dict, actor: User, now: datetime
         ) -> tuple[Quiz | None, list[tuple[str, str]]]:
    """Create (``quiz`` None, with ``slug``) or change a quiz from ``data`` (a file's fields).
    Returns (the quiz, []) when saved, or (None, [(field, message)…]) and nothing written."""
    spec, problems = check_quiz(data)
    problems = [(name, message) for _line, name, message in problems]
    if quiz is None:
        problem = slug_problem(slug or "")
        if problem:
            problems.insert(0, ("slug", problem))
    if problems:
        return None, problems
    created = quiz is None
    if created:
        quiz = Quiz(slug=slug, source="browser", active=True)
        db.session.add(quiz)
        before = {}
    else:
        # Two editors at once: the second waits for the first's commit and logs its change
        # against what the first saved (the row re-read under its lock).
        quiz = db.session.scalar(select(Quiz).where(Quiz.id == quiz.id).with_for_update()
                                 .execution_options(populate_existing=True))
        before = current(quiz)
    quiz.title_zh, quiz.title_en = spec["title"]["zh"], spec["title"]["en"]
    quiz.settings, quiz.sections = spec["settings"], spec["sections"]
    after = current(quiz)
    changes = {name: [before.get(name), after[name]] for name in FIELDS if before.get(name) != after[name]}
    if not changes:
        db.session.rollback()
        return quiz, []
    quiz.edited_in_browser_at, quiz.edited_by_id = now, actor.id
    try:
        db.session.flush()
    except IntegrityError:  # the same name taken a moment ago by another request
        db.session.rollback()
        return None, [("slug", _("A quiz with this name exists already."))]
    title = both(quiz.title_zh, quiz.title_en)
    if created:
        text = msg("assessment.quiz-created", name=actor.name or actor.username, quiz=title)
    else:
        text = msg("assessment.quiz-edited", name=actor.name or actor.username, quiz=title,
                   fields=[msg(f"assessment.quiz-field.{name}") for name in changes])
    db.session.add(QuizEvent(quiz_id=quiz.id, actor_id=actor.id, at=now, action="created" if created else "edited",
                             changes=changes, text=text))
    db.session.commit()
    return quiz, []


def events(quiz: Quiz, limit: int = 20) -> list[QuizEvent]:
    return list(db.session.scalars(select(QuizEvent).where(QuizEvent.quiz_id == quiz.id)
                                   .order_by(QuizEvent.id.desc()).limit(limit)))
