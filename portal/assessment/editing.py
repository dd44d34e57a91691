"""The question bank in the browser: searching it, saving a question a trainer wrote or edited
(validated as its file would be: ``bank.spec_row``), and regrading the attempts that drew a
question after its key was corrected.

``rescore_attempt`` is the one re-scoring of a graded attempt: it grades it again on the versions
its items name (after swapping in new ones), and keeps every figure kept at grading equal to
the live computation (responses, per-question and per-option figures, the technician's result),
under the attempt's row lock; a change of ``passed`` reaches courses and certificates through
the flush listeners a first grading goes through. It logs what changed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import String, case, cast, delete, func, or_, select, update

from ..dbtypes import utcnow
from ..extensions import db
from ..messages import both
from . import grading
from .attempts import (_locked, count_responses, current_versions, drawn, graded_marks, record_responses)
from .bank import category, question_spec, spec_row
from .models import (Attempt, BankLog, ItemChoice, ItemResponse, OptionStat, Question, QuestionCategory,
                     QuestionStat, QuestionVersion, QuizResult)

# --- searching the bank ---------------------------------------------------------------------

FACILITY_BANDS = {"hard": (0.0, 0.3), "medium": (0.3, 0.8), "easy": (0.8, 1.01)}


def facility_of():
    """question id → facility (mean marks 0..1 over every quiz's graded responses), kept at grading."""
    return (select(QuestionStat.question_id.label("question_id"),
                   (func.sum(QuestionStat.score_sum) / func.nullif(func.sum(QuestionStat.seen), 0)).label("facility"),
                   func.sum(QuestionStat.seen).label("seen"))
            .group_by(QuestionStat.question_id).subquery())


def search(category_id: int | None = None, kind: str | None = None, tag: str | None = None,
           text: str | None = None, band: str | None = None, difficulty: int | None = None):
    """A select of (Question, facility, seen) for the filters, filtered in SQL, newest first."""
    stats = facility_of()
    query = (select(Question, stats.c.facility, stats.c.seen)
             .outerjoin(stats, stats.c.question_id == Question.id).where(Question.active))
    if category_id:
        query = query.where(Question.category_id == category_id)
    if kind:
        query = query.where(Question.type == kind)
    if difficulty:
        query = query.where(Question.difficulty == difficulty)
    if tag:
        needle = '"' + tag.replace("\\", "").replace('"', "") + '"'
        query = query.where(cast(Question.tags, String).contains(needle))
    if text:
        like = f"%{text.strip()}%"
        query = query.where(or_(Question.text_zh.ilike(like), Question.text_en.ilike(like),
                                Question.ident.ilike(like)))
    if band in FACILITY_BANDS:
        low, high = FACILITY_BANDS[band]
        query = query.where(stats.c.facility >= low, stats.c.facility < high)
    elif band == "unseen":
        query = query.where(stats.c.seen.is_(None))
    return query.order_by(Question.id.desc())


def versions_of(question: Question) -> list[QuestionVersion]:
    return list(db.session.scalars(select(QuestionVersion).where(QuestionVersion.question_id == question.id)
                                   .order_by(QuestionVersion.number.desc())))


def log_lines(question: Question, limit: int = 50) -> list[BankLog]:
    return list(db.session.scalars(select(BankLog).where(BankLog.question_id == question.id)
                                   .order_by(BankLog.id.desc()).limit(limit)))


# --- saving a question from the browser -------------------------------------------------------


def key_of(question) -> tuple:
    """What grading reads: a change here may change marks (a regrade is offered)."""
    return (question.type, question.data_zh, question.data_en)


def save_question(spec: dict, category_path: str | None, actor, images: Path, question: Question | None = None,
                  now: datetime | None = None) -> tuple[Question | None, tuple[str, str] | None, bool]:
    """Create (``question`` None: in ``category_path``) or edit a question from its spec (the
    files' fields), validated as its file would be. One transaction: (question, None, key changed)
    or (None, (field, message), False) with nothing written. The question is marked edited in the
    browser (``content load`` then keeps it) and gets a new version (models._new_versions)."""
    now = now or utcnow()
    row, problem = spec_row(spec, images)
    if problem:
        return None, problem, False
    if question is None:
        cat = db.session.scalar(select(QuestionCategory).where(QuestionCategory.path == category_path))
        if cat is not None and db.session.scalar(select(Question.id).where(
                Question.category_id == cat.id, Question.ident == row["ident"])) is not None:
            return None, ("id", "taken"), False
        cat = cat or category(category_path)
        question = Question(category_id=cat.id, ident=row["ident"], content_hash=None)
        db.session.add(question)
        msg_id = "bank.question-created"
    else:
        # the row locked for the edit: two trainers saving at once make two versions in turn
        question = db.session.scalars(select(Question).where(Question.id == question.id).with_for_update()
                                      .execution_options(populate_existing=True)).one()
        msg_id = "bank.question-edited"
    before = key_of(question)
    for name in ("type", "difficulty", "tags", "title", "text_zh", "text_en", "explanation_zh",
                 "explanation_en", "data_zh", "data_en", "image"):
        setattr(question, name, row[name])
    # content_hash stays the file's: a file that has not changed since is not a conflict
    question.source, question.active, question.updated_at = "browser", True, now
    question.edited_in_browser_at, question.editor_id = now, getattr(actor, "id", None)
    db.session.flush()  # the new version (if anything changed)
    db.session.add(BankLog(actor_id=getattr(actor, "id", None), question_id=question.id, msg_id=msg_id, at=now,
                           params={"question": f"{question.category.path}/{question.ident}",
                                   "version": question.version}))
    db.session.commit()
    return question, None, before != key_of(question) and msg_id == "bank.question-edited"


# --- regrading ---------------------------------------------------------------------------------


@dataclass
class Rescored:
    attempt_id: int
    old: float
    new: float
    old_passed: bool
    new_passed: bool

    @property
    def changed(self) -> bool:
        return self.old != self.new or self.old_passed != self.new_passed


def _forget_responses(attempt: Attempt) -> None:
    """Take a graded attempt's kept responses out of the kept figures (by decrements), and
    delete them: ``record_responses`` writes them again from the new grading."""
    seen: dict[int, list] = {}
    for qid, score, blank in db.session.execute(
            select(ItemResponse.question_id, ItemResponse.score, ItemResponse.blank)
            .where(ItemResponse.attempt_id == attempt.id, ItemResponse.position >= 0)):
        figures = seen.setdefault(qid, [0, 0.0, 0])
        figures[0] -= 1
        figures[1] -= score
        figures[2] -= int(bool(blank))
    chosen = Counter()
    for qid, value in db.session.execute(
            select(ItemChoice.question_id, ItemChoice.value).join(ItemResponse)
            .where(ItemResponse.attempt_id == attempt.id)):
        chosen[(qid, value)] -= 1
    count_responses(attempt, seen, chosen)
    db.session.execute(delete(ItemChoice).where(ItemChoice.response_id.in_(
        select(ItemResponse.id).where(ItemResponse.attempt_id == attempt.id))))
    db.session.execute(delete(ItemResponse).where(ItemResponse.attempt_id == attempt.id))
    if chosen:
        db.session.execute(delete(OptionStat).where(
            OptionStat.quiz_id == attempt.quiz_id, OptionStat.question_id.in_({q for q, _v in chosen}),
            OptionStat.chosen <= 0))


def _result_again(attempt: Attempt) -> None:
    """The technician's kept result on the quiz decided again from their graded attempts (best
    and passed cannot be taken back by a decrement), its row locked first."""
    where = (QuizResult.quiz_id == attempt.quiz_id, QuizResult.user_id == attempt.user_id)
    db.session.execute(select(QuizResult.quiz_id).where(*where).with_for_update())
    graded = (Attempt.quiz_id == attempt.quiz_id, Attempt.user_id == attempt.user_id, Attempt.status != "open",
              select(ItemResponse.id).where(ItemResponse.attempt_id == Attempt.id).exists())
    count, best, passed, last, total = db.session.execute(
        select(func.count(), func.max(Attempt.score), func.max(case((Attempt.passed.is_(True), 1), else_=0)),
               func.max(Attempt.submitted_at), func.sum(Attempt.score)).where(*graded)).one()
    db.session.execute(update(QuizResult).where(*where).values(
        attempts=count, best=float(best or 0), passed=bool(passed), last=last, score_sum=float(total or 0)))


def rescore_attempt(attempt: Attempt, versions: dict[int, int] | None = None, actor_id: int | None = None,
                    question: Question | None = None) -> Rescored:
    """Grade a graded attempt again, on the versions its items name after ``versions``
    (question id → version id) is applied, in the caller's transaction, under the attempt's row
    lock: its marks, percent and passed; its kept responses and every kept figure (per question,
    per option, the technician's result) as a first grading would have left them. Logged when
    the result changed (``bank.regraded``). Not for open attempts (ValueError)."""
    attempt = _locked(attempt)
    if attempt.status == "open":
        raise ValueError("open attempt")
    old, old_passed = attempt.score or 0.0, bool(attempt.passed)
    if versions:
        attempt.items = [{**item, "version": versions[item["question"]]} if item["question"] in versions else item
                         for item in attempt.items]
    questions = drawn(attempt.items)
    # the key's marks on the drawn versions, a trainer's manual marks kept over them
    marks = graded_marks(attempt, questions)
    percent, passed = grading.score_of(marks, float(attempt.setting("pass_mark", 60)))
    _forget_responses(attempt)
    attempt.scores, attempt.score, attempt.passed = marks, percent, passed
    db.session.flush()
    record_responses(attempt, questions)
    _result_again(attempt)
    outcome = Rescored(attempt.id, old, percent, old_passed, passed)
    if outcome.changed:
        version = next((v.number for qid, v in questions.items() if question is not None and qid == question.id
                        and isinstance(v, QuestionVersion)), 0)
        yes, no = both("通过", "passed"), both("未通过", "not passed")
        db.session.add(BankLog(actor_id=actor_id, attempt_id=attempt.id,
                               question_id=question.id if question is not None else None, msg_id="bank.regraded",
                               params={"attempt": attempt.id, "version": version,
                                       "question": f"{question.category.path}/{question.ident}" if question else "",
                                       "old": f"{old:g}", "new": f"{percent:g}",
                                       "old_passed": yes if old_passed else no,
                                       "new_passed": yes if passed else no}))
    return outcome


@dataclass
class Regrade:
    attempts: int = 0  # graded attempts that drew the question
    changed: list[int] = field(default_factory=list)  # ids of those whose percent or passed changed
    own_skipped: int = 0  # the acting trainer's own attempts: nobody regrades themselves


def regrade_question(question: Question, actor=None, batch: int = 200) -> Regrade:
    """Every graded attempt that drew ``question`` (any version) graded again on its current
    version, ``batch`` attempts per transaction (each attempt under its row lock), found by the
    responses kept per quiz and question (indexed), in attempt order. The acting trainer's own
    attempts are left alone (counted)."""
    version = current_versions([question.id]).get(question.id)
    outcome = Regrade()
    if version is None:
        return outcome
    actor_id = getattr(actor, "id", None)
    quiz_ids = list(db.session.scalars(select(QuestionStat.quiz_id).where(QuestionStat.question_id == question.id)))
    for quiz_id in quiz_ids:
        last = 0
        while True:
            ids = list(db.session.scalars(
                select(ItemResponse.attempt_id).where(ItemResponse.quiz_id == quiz_id,
                                                      ItemResponse.question_id == question.id,
                                                      ItemResponse.attempt_id > last)
                .distinct().order_by(ItemResponse.attempt_id).limit(batch)))
            if not ids:
                break
            for attempt in db.session.scalars(select(Attempt).where(Attempt.id.in_(ids)).order_by(Attempt.id)).all():
                if actor_id is not None and attempt.user_id == actor_id:
                    outcome.own_skipped += 1
                    continue
                outcome.attempts += 1
                result = rescore_attempt(attempt, {question.id: version}, actor_id, question)
                if result.changed:
                    outcome.changed.append(result.attempt_id)
            db.session.commit()
            last = ids[-1]
    return outcome


def spec_of(question) -> dict:
    return question_spec(question)
