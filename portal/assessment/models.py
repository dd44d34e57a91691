"""The question bank (categories, questions), quizzes and attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, event, inspect
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..auth.models import User
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..messages import message_columns


class QuestionCategory(db.Model):
    __tablename__ = "assessment_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)  # e.g. onboarding/final


class Question(db.Model):
    """One question in both languages. ``data_zh`` / ``data_en`` hold the type's data (see
    qtypes) in each language; grading uses the language the question was shown in."""

    __tablename__ = "assessment_question"
    __table_args__ = (UniqueConstraint("category_id", "ident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("assessment_category.id"), index=True)
    ident: Mapped[str] = mapped_column(String(120))  # stable within its category
    type: Mapped[str] = mapped_column(String(20))
    difficulty: Mapped[int] = mapped_column(default=2)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    norms: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # facts.yaml norm keys
    title: Mapped[str] = mapped_column(String(200), default="")
    format: Mapped[str] = mapped_column(String(12), default="markdown")
    text_zh: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    explanation_zh: Mapped[str] = mapped_column(Text, default="")
    explanation_en: Mapped[str] = mapped_column(Text, default="")
    data_zh: Mapped[dict] = mapped_column(JSON, default=dict)
    data_en: Mapped[dict] = mapped_column(JSON, default=dict)
    image: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default="content")  # content | gift | moodle-xml
    content_hash: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the number of its current version (QuestionVersion.number); every change of a versioned
    # field makes a new version (``_new_versions``, at flush)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # set when a trainer saved it in the browser: `content load` then keeps it and reports a
    # file that would change it (bank.store)
    edited_in_browser_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    editor_id = None  # not stored: who is saving it in the browser (its version names them)

    category: Mapped[QuestionCategory] = relationship()

    def text(self, lang: str) -> str:
        return (self.text_zh if lang == "zh" else self.text_en) or self.text_en or self.text_zh

    def data(self, lang: str) -> dict:
        return (self.data_zh if lang == "zh" else self.data_en) or self.data_en or self.data_zh

    def explanation(self, lang: str) -> str:
        return (self.explanation_zh if lang == "zh" else self.explanation_en) or self.explanation_en or \
            self.explanation_zh


# What a version keeps: everything a technician sees and grading reads.
VERSIONED = ("type", "difficulty", "tags", "title", "format", "text_zh", "text_en", "explanation_zh",
             "explanation_en", "data_zh", "data_en", "image")


class QuestionVersion(db.Model):
    """One immutable state of a question (never updated after it is written). An attempt's items
    name the version they drew (``{"question": id, "version": version id, …}``): it is shown,
    reviewed and graded on that version, whatever the question has become since."""

    __tablename__ = "assessment_question_version"
    __table_args__ = (UniqueConstraint("question_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("assessment_question.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    source: Mapped[str] = mapped_column(String(20), default="content")  # content | gift | moodle-xml | browser
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(20))
    difficulty: Mapped[int] = mapped_column(default=2)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(String(200), default="")
    format: Mapped[str] = mapped_column(String(12), default="markdown")
    text_zh: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    explanation_zh: Mapped[str] = mapped_column(Text, default="")
    explanation_en: Mapped[str] = mapped_column(Text, default="")
    data_zh: Mapped[dict] = mapped_column(JSON, default=dict)
    data_en: Mapped[dict] = mapped_column(JSON, default=dict)
    image: Mapped[str | None] = mapped_column(String(200))

    text = Question.text
    data = Question.data
    explanation = Question.explanation

    @classmethod
    def of(cls, question: Question, number: int) -> "QuestionVersion":
        return cls(question_id=question.id, number=number, source=question.source or "content",
                   created_by_id=question.editor_id,
                   **{name: getattr(question, name) for name in VERSIONED})


def _changed(question: Question) -> bool:
    state = inspect(question)
    return any(state.attrs[name].history.has_changes() for name in VERSIONED)


@event.listens_for(Session, "before_flush")
def _new_versions(session, _context, _instances) -> None:
    """Every question written with a changed versioned field gets its next version number;
    the version rows themselves are written after the flush (``_write_versions``), when a new
    question has its id. One path for every writer: the loader, imports, the browser editor."""
    pending = session.info.setdefault("question_versions", [])
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Question):
            continue
        if obj in session.new:
            obj.version = obj.version or 1
            pending.append(obj)
        elif _changed(obj):
            obj.version = (inspect(obj).attrs.version.history.deleted or [obj.version])[0] + 1
            pending.append(obj)


_SCHEMA_SEEN: set[str] = set()


def has_versions(connection) -> bool:
    """Whether the database has the versions table (not one migrated to an older revision)."""
    key = connection.engine.url.render_as_string(hide_password=True)
    if key not in _SCHEMA_SEEN and inspect(connection).has_table(QuestionVersion.__tablename__):
        _SCHEMA_SEEN.add(key)
    return key in _SCHEMA_SEEN


@event.listens_for(Session, "after_flush")
def _write_versions(session, _context) -> None:
    pending = session.info.pop("question_versions", [])
    if pending and has_versions(session.connection()):
        session.connection().execute(QuestionVersion.__table__.insert(), [
            {c.name: getattr(v, c.key) for c in QuestionVersion.__table__.columns if c.key != "id"}
            | {"created_at": utcnow()}
            for v in (QuestionVersion.of(q, q.version) for q in pending)])


REVIEW_MODES = ("score", "answers", "explanations")


class Quiz(db.Model):
    __tablename__ = "assessment_quiz"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    # time_limit_minutes, pass_mark (percent), attempts (0 = any), cooldown_hours, review, shuffle
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # [{"draw": N, "categories": [...], "tags": [...], "difficulty": {"1": n, …}}, …]
    sections: Mapped[list] = mapped_column(JSON, default=list)
    # The hash of the *.quiz.yaml file as last loaded (a quiz made in the browser has none).
    content_hash: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(10), default="file", server_default="file")  # file | browser
    # Set by an edit in the browser: `content load` then keeps this version and reports a changed
    # file as a conflict (bank.load_quizzes) until the file says the same as the browser version.
    edited_in_browser_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_by_id: Mapped[int | None] = mapped_column()  # a user id (no foreign key: see the migration)

    def setting(self, name: str, default=None):
        return (self.settings or {}).get(name, default)

    def title(self, lang: str) -> str:
        return (self.title_zh if lang == "zh" else self.title_en) or self.title_en


class Attempt(db.Model):
    __tablename__ = "assessment_attempt"
    # (quiz, submitted_at): the report's list of every attempt, newest first, a page at a time
    __table_args__ = (UniqueConstraint("open_slot"),
                      Index("ix_assessment_attempt_quiz_submitted", "quiz_id", "submitted_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(default=1)
    lang: Mapped[str] = mapped_column(String(2), default="zh")  # started in (option order drawn in it)
    # "user:quiz" while open, NULL once closed: the database allows one open attempt each.
    open_slot: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | submitted | timed_out
    # [{"question": id, "order": [original option indexes in the order shown] or None}, …]
    items: Mapped[list] = mapped_column(JSON, default=list)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # item index (str) → response as shown
    # item index (str) → the language ("zh" | "en") the page showed when the answer was given; an
    # answer is graded in that language (matching texts and ordering ids differ per language).
    # Missing (answers saved before this column existed): the attempt's ``lang``.
    answer_langs: Mapped[dict | None] = mapped_column(JSON, default=dict)
    # The quiz's pass mark and review mode when the attempt started: a later edit of the quiz
    # applies to new attempts only. None (attempts started before this was kept): the quiz's.
    settings: Mapped[dict | None] = mapped_column(JSON)
    scores: Mapped[list] = mapped_column(JSON, default=list)  # per item, 0..1, after grading
    score: Mapped[float | None] = mapped_column()  # percent
    passed: Mapped[bool | None] = mapped_column()

    quiz: Mapped[Quiz] = relationship()
    user: Mapped["User"] = relationship()

    def completes_nothing(self) -> bool:
        """Not passed, now or before this unit of work's changes (an open attempt, every answer
        saved to it, or a failed one): no course is completed by it (the assignment keeper skips it)."""
        return not self.passed and not any(inspect(self).attrs.passed.history.deleted)

    def setting(self, name: str, default=None):
        """A setting as it stood when the attempt started (pass_mark, review), else the quiz's."""
        kept = self.settings or {}
        return kept[name] if name in kept else self.quiz.setting(name, default)

    def review_mode(self) -> str:
        """What its review shows: the mode when it started, or the quiz's now if that shows
        less (a quiz made score-only later to protect its bank hides old attempts' keys too)."""
        modes = [self.setting("review", "explanations"), self.quiz.setting("review", "explanations")]
        return min(modes, key=lambda m: REVIEW_MODES.index(m) if m in REVIEW_MODES else 0)

    def answer_lang(self, index: int) -> str:
        """The language the answer to item ``index`` was given in."""
        return (self.answer_langs or {}).get(str(index)) or self.lang


class QuizEvent(db.Model):
    """Who created or changed a quiz in the browser, when, and what (``changes``: field →
    [before, after]); ``text`` is a message id + values (portal/messages.py)."""
    __tablename__ = "assessment_quiz_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(20))  # created | edited
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text, default="")  # the English copy of:
    msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")

    actor: Mapped["User | None"] = relationship()

    _message, shown_text = message_columns("text", "msg_id", "params")


class ItemResponse(db.Model):
    """One drawn question of a graded attempt, written when the attempt is graded (in the same
    transaction): what the item analysis and the results aggregate in SQL instead of reading every
    attempt's JSON. ``attempt_score`` and ``attempt_number`` are copied from the attempt so the
    upper and lower groups can be ranked without a join."""
    __tablename__ = "assessment_response"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),
                      Index("ix_assessment_response_quiz_question", "quiz_id", "question_id"),
                      # a report filtered by region, outlet or cohort reads its technicians' responses
                      Index("ix_assessment_response_quiz_user", "quiz_id", "user_id"),
                      # the marking queue (assessment/corrections.py): answers the key marked 0,
                      # in submission order, with what the queue filters on, read without the table
                      Index("ix_assessment_response_unmatched", "quiz_id", "question_id", "id",
                            postgresql_include=["user_id", "attempt_id", "position"],
                            postgresql_where=sql_text("score = 0 AND blank IS false"),
                            sqlite_where=sql_text("score = 0 AND blank IS 0")))

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("assessment_attempt.id", ondelete="CASCADE"))
    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column()  # a question deleted later keeps its figures here
    position: Mapped[int] = mapped_column()  # the item's index in the attempt
    attempt_number: Mapped[int] = mapped_column()
    attempt_score: Mapped[float] = mapped_column()  # the attempt's percent
    score: Mapped[float] = mapped_column()  # on this question, 0..1
    blank: Mapped[bool] = mapped_column(default=False)


class ItemChoice(db.Model):
    """What a response chose, in the question's own terms: an option's original index ("0", "1",
    …), "true"/"false", a typed answer folded for comparison, or "answered"; one row per option
    of a multiple-answer question."""
    __tablename__ = "assessment_response_choice"
    __table_args__ = (Index("ix_assessment_response_choice_quiz_question", "quiz_id", "question_id"),
                      Index("ix_assessment_response_choice_quiz_user", "quiz_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("assessment_response.id", ondelete="CASCADE"),
                                             index=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column()
    value: Mapped[str] = mapped_column(String(200))
    # copied from the response, so the filtered item analysis orders options by first appearance
    # without joining the responses
    attempt_number: Mapped[int | None] = mapped_column()

    response: Mapped[ItemResponse] = relationship()


# --- figures kept at grading for the unfiltered report (services.item_analysis_kept, results) ----
# Each is changed only by ``UPDATE … SET n = n + …`` (an INSERT … ON CONFLICT DO UPDATE) in the
# grading transaction (attempts.keep_counts), never read and written back.


class QuestionStat(db.Model):
    """Per quiz and question: graded responses (``seen``), the sum of their marks, blanks; and the
    discrimination index, which cannot be kept by increments: decided again by ``flask daily``
    (``refreshed_at``)."""
    __tablename__ = "assessment_question_stat"

    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(primary_key=True)
    seen: Mapped[int] = mapped_column(default=0)
    score_sum: Mapped[float] = mapped_column(default=0.0)
    blank: Mapped[int] = mapped_column(default=0)
    discrimination: Mapped[float | None] = mapped_column()
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OptionStat(db.Model):
    """Per quiz, question and chosen value (ItemChoice.value): how often it was chosen, and the
    first (user_id × 1,000,000 + attempt number) that chose it (options listed in that order)."""
    __tablename__ = "assessment_option_stat"

    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    chosen: Mapped[int] = mapped_column(default=0)
    first: Mapped[int] = mapped_column(BigInteger)


class QuizResult(db.Model):
    """Per quiz and technician: graded attempts, best percent, passed, last submitted and the sum
    of the percents (the report's mean); the results list reads these instead of grouping attempts."""
    __tablename__ = "assessment_quiz_result"
    __table_args__ = (Index("ix_assessment_quiz_result_quiz_best", "quiz_id", "best"),)

    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    best: Mapped[float] = mapped_column(default=0.0)
    passed: Mapped[bool] = mapped_column(default=False)
    last: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score_sum: Mapped[float] = mapped_column(default=0.0)


# --- a trainer's corrections for one person: overrides, manual marks, and their log --------------


class QuizOverride(db.Model):
    """One technician's own rules on one quiz (Moodle's "user override"), set by a trainer:
    attempts added to the quiz's limit, its cooldown lifted, minutes added to its time limit, a
    due date of their own. ``attempts.start`` and ``services.standing`` honour it."""
    __tablename__ = "assessment_override"
    __table_args__ = (UniqueConstraint("quiz_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    extra_attempts: Mapped[int] = mapped_column(default=0)
    lift_cooldown: Mapped[bool] = mapped_column(default=False)
    extra_minutes: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped["User"] = relationship(foreign_keys=[user_id])


class ManualMark(db.Model):
    """A trainer's mark (0..1) on one item of a graded attempt (a typed answer no accepted
    answer matched), with an optional comment: re-scoring the attempt (``attempts.rescore``)
    keeps it over the key's mark."""
    __tablename__ = "assessment_manual_mark"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("assessment_attempt.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    mark: Mapped[float] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    marked_by: Mapped["User | None"] = relationship()


class AssessmentEvent(db.Model):
    """What a trainer changed about one person's quiz: an override set or removed, an item
    marked. The sentence is stored as a message id and values (``portal.messages``)."""
    __tablename__ = "assessment_event"
    __table_args__ = (Index("ix_assessment_event_quiz_user", "quiz_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    quiz_id: Mapped[int] = mapped_column(ForeignKey("assessment_quiz.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_attempt.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))  # override-set | override-removed | marked
    text: Mapped[str] = mapped_column(Text, default="")  # the English copy of:
    msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")

    actor: Mapped["User | None"] = relationship(foreign_keys=[actor_id])

    _message, shown_text = message_columns("text", "msg_id", "params")


class BankLog(db.Model):
    """What a trainer changed in the bank and what it did: a question created or edited in the
    browser, an attempt regraded. Stored as a message id and values (portal.messages), shown in
    the reader's language."""
    __tablename__ = "assessment_bank_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_question.id", ondelete="SET NULL"),
                                                    index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_attempt.id", ondelete="SET NULL"))
    msg_id: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
