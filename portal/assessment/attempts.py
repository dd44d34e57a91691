"""Quizzes and attempts: drawing questions, saving answers on the server, deadlines, grading.

The rules are plain functions over model rows; the database enforces at most one open
attempt per user and quiz (a unique ``open_slot``), so two simultaneous starts get the same
attempt. Times come in as arguments (``now``), so deadlines are tested without waiting.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from . import grading, qtypes
from .models import (Attempt, ItemChoice, ItemResponse, ManualMark, OptionStat, Question, QuestionCategory,
                     QuestionStat, QuestionVersion, Quiz, QuizOverride, QuizResult, has_versions)


class AttemptError(ValueError):
    """Why an attempt cannot start or an answer cannot be saved (a message for the user)."""


# --- drawing ----------------------------------------------------------------------------------


def _pool(section: dict) -> list[Question]:
    query = select(Question).join(QuestionCategory).where(Question.active)
    if section.get("categories"):
        query = query.where(QuestionCategory.path.in_(section["categories"]))
    questions = list(db.session.scalars(query.order_by(Question.id)))
    tags = set(section.get("tags") or [])
    if tags:
        questions = [q for q in questions if tags & set(q.tags or [])]
    return questions


def draw(quiz: Quiz, rng: random.Random) -> list[Question]:
    """Each section's N questions, at random, honouring its difficulty mix where given (short
    levels are filled from the others); no question twice."""
    chosen: list[Question] = []
    taken: set[int] = set()
    for section in quiz.sections:
        pool = [q for q in _pool(section) if q.id not in taken]
        want = int(section.get("draw", len(pool)))
        picked: list[Question] = []
        mix = {int(k): int(v) for k, v in (section.get("difficulty") or {}).items()}
        for level, count in sorted(mix.items()):
            level_pool = [q for q in pool if q.difficulty == level and q not in picked]
            picked += rng.sample(level_pool, min(count, len(level_pool)))
        rest = [q for q in pool if q not in picked]
        picked += rng.sample(rest, min(max(0, want - len(picked)), len(rest)))
        if quiz.setting("shuffle", True):
            rng.shuffle(picked)
        chosen += picked[:want]
        taken.update(q.id for q in picked)
    return chosen


def _option_order(question: Question, lang: str, rng: random.Random, shuffle: bool) -> list[int] | None:
    data = question.data(lang)
    count = len(data.get("choices") or [])
    if not count:
        return None
    order = list(range(count))
    if shuffle:
        rng.shuffle(order)
    return order


# --- the attempt lifecycle --------------------------------------------------------------------


def _slot(user_id: int, quiz_id: int) -> str:
    return f"{user_id}:{quiz_id}"


def open_attempt(user, quiz: Quiz) -> Attempt | None:
    return db.session.scalar(select(Attempt).where(Attempt.open_slot == _slot(user.id, quiz.id)))


def override_for(user_id: int, quiz_id: int) -> QuizOverride | None:
    """The technician's own rules on the quiz, if a trainer set any."""
    return db.session.scalar(select(QuizOverride).where(QuizOverride.user_id == user_id,
                                                        QuizOverride.quiz_id == quiz_id))


def allowed_attempts(quiz: Quiz, own: QuizOverride | None) -> int:
    """Attempts allowed (0: any number): the quiz's, plus the override's extra ones."""
    allowed = int(quiz.setting("attempts", 0) or 0)
    return allowed + own.extra_attempts if (allowed and own is not None) else allowed


def cooldown_hours(quiz: Quiz, own: QuizOverride | None) -> float:
    """Hours between attempts: the quiz's, or none where the override lifts it."""
    return 0.0 if own is not None and own.lift_cooldown else float(quiz.setting("cooldown_hours", 0) or 0)


def time_limit(quiz: Quiz, own: QuizOverride | None) -> float | None:
    """Minutes an attempt may last (None: no limit): the quiz's, plus the override's extra time."""
    limit = quiz.setting("time_limit_minutes")
    if not limit:
        return None
    return float(limit) + (own.extra_minutes if own is not None else 0)


def start(user, quiz: Quiz, lang: str, now: datetime, seed: int | None = None) -> Attempt:
    """The user's open attempt (resumed), or a new one if the rules allow it."""
    current = open_attempt(user, quiz)
    if current is not None:
        if current.deadline is not None and now >= current.deadline:
            close(current, now, timed_out=True)
        else:
            return current
    closed = list(db.session.scalars(select(Attempt).where(Attempt.user_id == user.id, Attempt.quiz_id == quiz.id,
                                                           Attempt.open_slot.is_(None))
                                     .order_by(Attempt.number)))
    own = override_for(user.id, quiz.id)
    allowed = allowed_attempts(quiz, own)
    if allowed and len(closed) >= allowed:
        raise AttemptError(ngettext("You have used your %(num)d attempt at this quiz.", "You have used all %(num)d attempts at this quiz.", allowed))
    cooldown = cooldown_hours(quiz, own)
    if closed and cooldown:
        last = max(a.submitted_at or a.started_at for a in closed)
        if now < last + timedelta(hours=cooldown):

            raise AttemptError(_("You can try again from %(when)s.",
                                 when=format_datetime(last + timedelta(hours=cooldown), "short")))
    rng = random.Random(seed)
    questions = draw(quiz, rng)
    if not questions:
        raise AttemptError(_("This quiz has no questions yet."))
    shuffle = bool(quiz.setting("shuffle", True))
    limit = time_limit(quiz, own)
    versions = current_versions([q.id for q in questions])
    attempt = Attempt(quiz_id=quiz.id, user_id=user.id, number=len(closed) + 1, lang=lang,
                      open_slot=_slot(user.id, quiz.id), started_at=now,
                      deadline=now + timedelta(minutes=float(limit)) if limit else None,
                      items=[{"question": q.id, "version": versions.get(q.id),
                              "order": _option_order(q, lang, rng, shuffle)} for q in questions], answers={},
                      settings={"pass_mark": quiz.setting("pass_mark", 60),
                                "review": quiz.setting("review", "explanations")})
    db.session.add(attempt)
    try:
        db.session.commit()
    except IntegrityError:  # another request opened it a moment ago: that one is the attempt
        db.session.rollback()
        existing = open_attempt(user, quiz)
        if existing is None:
            raise
        return existing
    return attempt


def current_versions(question_ids: list[int]) -> dict[int, int]:
    """question id → the id of its current version (what a new attempt draws)."""
    if not question_ids or not has_versions(db.session.connection()):  # (a database at an older revision)
        return {}
    return dict(db.session.execute(
        select(QuestionVersion.question_id, QuestionVersion.id)
        .join(Question, (Question.id == QuestionVersion.question_id) & (Question.version == QuestionVersion.number))
        .where(Question.id.in_(question_ids))).all())


def drawn(items: list[dict]) -> dict[int, QuestionVersion | Question]:
    """question id → what the items drew: the version an item names (immutable: what it was
    shown, graded and reviewed on), or the question itself for an item drawn before versions
    were kept. A question deleted since is absent. Two queries whatever the number of items."""
    ids = [i["version"] for i in items if i.get("version")]
    versions = {v.question_id: v for v in db.session.scalars(
        select(QuestionVersion).where(QuestionVersion.id.in_(ids)))} if ids else {}
    rest = [i["question"] for i in items if i["question"] not in versions]
    if rest:
        versions.update({q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(rest)))})
    return versions


def _locked(attempt: Attempt) -> Attempt:
    """The attempt re-read under a lock on its row, held until the commit, so that saving an
    answer, keeping posted answers and closing never interleave for one attempt: each reads the
    answers and the status another has committed, never a copy from before it.

    Why a row lock rather than one row per answer: closing must also wait for a save in flight
    (an answer acknowledged while the attempt is being graded would be stored but not graded), so
    a lock on the attempt is needed anyway, and with it the answers column stays one value.
    PostgreSQL: SELECT … FOR UPDATE. SQLite has no row locks and its reads outside a write take
    no lock at all, so the database's write lock is taken *before* the read, by a no-op UPDATE
    of the row as the transaction's first statement (what BEGIN IMMEDIATE would do, without
    failing when the connection is already in a transaction); busy_timeout makes others wait.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Attempt).where(Attempt.id == attempt.id).values(open_slot=Attempt.open_slot)
                           .execution_options(synchronize_session=False))
    return db.session.scalars(select(Attempt).where(Attempt.id == attempt.id).with_for_update()
                              .execution_options(populate_existing=True)).one()


def lock_own(attempt_id: int, user_id: int) -> Attempt | None:
    """A user's attempt read under the lock on its row (as ``_locked``), in one statement: what
    the answer endpoint starts with, so that a save is one locked read and one UPDATE of that
    row. None (nothing locked) when there is no such attempt of this user."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Attempt).where(Attempt.id == attempt_id).values(open_slot=Attempt.open_slot)
                           .execution_options(synchronize_session=False))
    attempt = db.session.scalars(select(Attempt).where(Attempt.id == attempt_id).with_for_update()
                                 .execution_options(populate_existing=True)).one_or_none()
    if attempt is None or attempt.user_id != user_id:
        db.session.rollback()  # releases the lock
        return None
    return attempt


def save_answer(attempt: Attempt, index: int, response, now: datetime, lang: str | None = None,
                locked: bool = False) -> Attempt:
    """Keep one answer on the server as it is given (``lang``: the language the page showed it
    in; the attempt's own by default). After the deadline the attempt closes with what was
    saved, and the answer is refused. Runs under the attempt's lock: overlapping saves to one
    attempt each keep their answer (``locked``: the caller read it with ``lock_own`` in this
    transaction, so it is not read again). Only the attempt's row is written; no question is read."""
    if not locked:
        attempt = _locked(attempt)
    if attempt.status != "open":
        db.session.commit()  # nothing changed: releases the lock
        raise AttemptError(_("This attempt is already closed."))
    if attempt.deadline is not None and now >= attempt.deadline:
        close(attempt, now, timed_out=True)
        raise AttemptError(_("Time is up: the attempt was closed with the answers saved before."))
    if not 0 <= index < len(attempt.items):
        db.session.commit()  # nothing changed: releases the lock
        raise AttemptError(_("There is no such question in this attempt."))
    attempt.answers = {**(attempt.answers or {}), str(index): response}
    attempt.answer_langs = {**(attempt.answer_langs or {}), str(index): lang or attempt.lang}
    db.session.commit()
    return attempt


def keep_answers(attempt: Attempt, given: dict[int, object], now: datetime, lang: str | None = None) -> None:
    """Keep the answers posted with a whole page (a submit without JavaScript), under the
    attempt's lock, while it is open and before its deadline. An answer the page showed as
    saved and sent back unchanged keeps the language it was given in."""
    attempt = _locked(attempt)
    if attempt.status != "open" or (attempt.deadline is not None and now >= attempt.deadline):
        db.session.commit()  # nothing changed: releases the lock
        return
    lang = lang or attempt.lang
    answers, langs = dict(attempt.answers or {}), dict(attempt.answer_langs or {})
    for question in shown(attempt, lang):
        response = given.get(question.index)
        if response is None or (question.answer is not None and response == question.answer):
            continue
        answers[str(question.index)] = response
        langs[str(question.index)] = question.lang
    attempt.answers, attempt.answer_langs = answers, langs
    db.session.commit()


def _fits(question: Question, item: dict, lang: str) -> bool:
    """Whether the item's option order (drawn in the attempt's language) fits the question in
    ``lang`` (both languages normally have the same choices)."""
    return grading.fits(question.data(lang), item.get("order"))


def _to_original(item: dict, response, kind: str):
    """A response in the order shown → in the question's own order (shuffled options)."""
    return grading.to_original(item.get("order"), response, kind)


def _answer(question: Question | None, item: dict, response, answer_lang: str, attempt_lang: str) -> grading.Answer:
    """A drawn question and its answer as plain values for grading (None: the question is gone)."""
    if question is None:
        return grading.Answer(None, {}, response, answer_lang, attempt_lang, item.get("order"))
    keys = {lang: question.data(lang) for lang in (answer_lang, attempt_lang)}
    return grading.Answer(question.type, keys, response, answer_lang, attempt_lang, item.get("order"))


def close(attempt: Attempt, now: datetime, timed_out: bool = False) -> Attempt:
    """Grade and close (submit, or the deadline passed). Closing twice changes nothing. The
    grading is ``grading.grade_attempt`` over plain values; this gathers and stores."""
    attempt = _locked(attempt)
    if attempt.status != "open":
        db.session.commit()  # nothing changed: releases the lock
        return attempt
    questions = drawn(attempt.items)
    graded = grading.grade_attempt(
        [_answer(questions.get(item["question"]), item, (attempt.answers or {}).get(str(index)),
                 attempt.answer_lang(index), attempt.lang) for index, item in enumerate(attempt.items)],
        float(attempt.setting("pass_mark", 60)))
    attempt.scores = graded.marks
    attempt.score = graded.percent
    attempt.passed = graded.passed
    attempt.status = "timed_out" if timed_out else "submitted"
    attempt.submitted_at = min(now, attempt.deadline) if (timed_out and attempt.deadline) else now
    attempt.open_slot = None
    record_responses(attempt, questions)
    count_result(attempt)
    db.session.commit()
    return attempt


def record_responses(attempt: Attempt, questions: dict[int, Question]) -> None:
    """Write a graded attempt's responses (one row per drawn question still in the bank, and what
    each chose) for the item analysis, in the caller's transaction: the figures aggregated from
    them are always those of the graded attempts."""
    scores = attempt.scores or []
    seen: dict[int, list] = {}  # question id → [responses, marks, blanks]
    chosen: Counter = Counter()  # (question id, value) → times
    for index, item in enumerate(attempt.items):
        question = questions.get(item["question"])
        if question is None:
            continue
        given = (attempt.answers or {}).get(str(index))
        blank, values = grading.choice_values(question.type, item.get("order"), given)
        values += grading.pair_values(question.type, question.data(attempt.answer_lang(index)), given)
        score = scores[index] if index < len(scores) else 0.0
        qid = item["question"]
        response = ItemResponse(attempt_id=attempt.id, quiz_id=attempt.quiz_id, user_id=attempt.user_id,
                                question_id=qid, position=index, attempt_number=attempt.number,
                                attempt_score=attempt.score or 0.0, blank=blank, score=score)
        db.session.add(response)
        db.session.add_all(ItemChoice(response=response, quiz_id=attempt.quiz_id, user_id=attempt.user_id,
                                      question_id=qid, value=value, attempt_number=attempt.number)
                           for value in values)
        figures = seen.setdefault(qid, [0, 0.0, 0])
        figures[0] += 1
        figures[1] += score
        figures[2] += int(blank)
        chosen.update((qid, value) for value in values)
    if not seen:
        # nothing to record (every question deleted): a row with no question keeps the attempt from
        # being picked again by backfill_responses
        db.session.add(ItemResponse(attempt_id=attempt.id, quiz_id=attempt.quiz_id, user_id=attempt.user_id,
                                    question_id=0, position=-1, attempt_number=attempt.number,
                                    attempt_score=attempt.score or 0.0, score=0.0, blank=True))
    count_responses(attempt, seen, chosen)


# --- kept figures: increments in the grading transaction -------------------------------------


def _insert(model):
    """The dialect's INSERT (with ON CONFLICT DO UPDATE: PostgreSQL, SQLite ≥ 3.24)."""
    return (postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite).insert(model)


def _greater(new, old):
    return case((new > old, new), else_=old)


def count_responses(attempt: Attempt, seen: dict[int, list], chosen: Counter) -> None:
    """Add one graded attempt's responses to the kept per-question and per-option figures, by
    increments (INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n), rows in key order so two
    gradings lock them in the same order."""
    if seen:
        insert = _insert(QuestionStat).values([
            {"quiz_id": attempt.quiz_id, "question_id": qid, "seen": n, "score_sum": total, "blank": blank}
            for qid, (n, total, blank) in sorted(seen.items())])
        db.session.execute(insert.on_conflict_do_update(
            index_elements=["quiz_id", "question_id"],
            set_={"seen": QuestionStat.seen + insert.excluded.seen,
                  "score_sum": QuestionStat.score_sum + insert.excluded.score_sum,
                  "blank": QuestionStat.blank + insert.excluded.blank}))
    if chosen:
        first = attempt.user_id * 1_000_000 + attempt.number
        insert = _insert(OptionStat).values([
            {"quiz_id": attempt.quiz_id, "question_id": qid, "value": value, "chosen": n, "first": first}
            for (qid, value), n in sorted(chosen.items())])
        db.session.execute(insert.on_conflict_do_update(
            index_elements=["quiz_id", "question_id", "value"],
            set_={"chosen": OptionStat.chosen + insert.excluded.chosen,
                  "first": case((insert.excluded.first < OptionStat.first, insert.excluded.first),
                                else_=OptionStat.first)}))


def count_result(attempt: Attempt) -> None:
    """Add a graded attempt to its technician's kept result on the quiz, by increments."""
    score = attempt.score or 0.0
    insert = _insert(QuizResult).values(quiz_id=attempt.quiz_id, user_id=attempt.user_id, attempts=1, best=score,
                                        passed=bool(attempt.passed), last=attempt.submitted_at, score_sum=score)
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["quiz_id", "user_id"],
        set_={"attempts": QuizResult.attempts + 1,
              "best": _greater(insert.excluded.best, QuizResult.best),
              "passed": QuizResult.passed | insert.excluded.passed,
              "last": case((QuizResult.last.is_(None), insert.excluded.last),
                           (insert.excluded.last > QuizResult.last, insert.excluded.last),
                           else_=QuizResult.last),
              "score_sum": QuizResult.score_sum + insert.excluded.score_sum}))


# --- re-scoring a graded attempt (a manual mark; a regrade after a key is corrected) -------------


def graded_marks(attempt: Attempt, questions: dict) -> list[float]:
    """The attempt's marks per item from its saved answers against ``questions`` (what its items
    drew: :func:`drawn`), with the trainers' manual marks over the key's. An item whose question has left the bank keeps
    the mark it was graded with (there is no key to grade it against again)."""
    marks = grading.grade_attempt(
        [_answer(questions.get(item["question"]), item, (attempt.answers or {}).get(str(index)),
                 attempt.answer_lang(index), attempt.lang) for index, item in enumerate(attempt.items)],
        float(attempt.setting("pass_mark", 60))).marks
    before = attempt.scores or []
    for index, item in enumerate(attempt.items):
        if item["question"] not in questions and index < len(before):
            marks[index] = float(before[index])
    for position, mark in db.session.execute(select(ManualMark.position, ManualMark.mark)
                                             .where(ManualMark.attempt_id == attempt.id)):
        if 0 <= position < len(marks):
            marks[position] = float(mark)
    return marks


def rescore(attempt: Attempt) -> tuple[float, float]:
    """Grade a closed attempt again from its items — its saved answers against the questions as
    they are now, the manual marks on it kept — and write the result and every figure kept from
    it, in the caller's transaction (not committed), under the lock on the attempt's row:

    * the attempt's marks, percent and passed (the eligibility board and the course completion
      react to this change through their flush listeners, as they do to a grading);
    * its kept responses' marks and attempt percent (``assessment_response``);
    * the kept per-question sums (``assessment_question_stat.score_sum``, by the difference:
      ``UPDATE … SET score_sum = score_sum + Δ``, rows in key order);
    * the technician's kept result (``assessment_quiz_result``: sum of percents by the
      difference; best and passed decided again from their graded attempts with the row locked —
      a lower mark can lower them, which increments cannot).

    What the responses chose (options, typed answers, matching pairs right) does not depend on the
    key's marks and is left alone. An attempt whose responses are not kept yet (graded before
    they were; ``flask quizzes keep-responses`` adds them) changes only itself. Returns
    (percent before, percent after). Used by a manual mark; meant for a regrade too."""
    attempt = _locked(attempt)
    if attempt.status == "open":
        raise AttemptError(_("This attempt is still open."))
    questions = drawn(attempt.items)  # the versions it drew: a mark never moves it to a new key
    marks = graded_marks(attempt, questions)
    before = float(attempt.score or 0.0)
    percent, passed = grading.score_of(marks, float(attempt.setting("pass_mark", 60)))
    attempt.scores, attempt.score, attempt.passed = marks, percent, passed
    responses = list(db.session.scalars(select(ItemResponse).where(ItemResponse.attempt_id == attempt.id)
                                        .order_by(ItemResponse.position)))
    if not responses:
        db.session.flush()
        return before, percent
    delta: dict[int, float] = {}
    for response in responses:
        if response.position >= 0:
            new = marks[response.position] if response.position < len(marks) else 0.0
            delta[response.question_id] = delta.get(response.question_id, 0.0) + new - response.score
            response.score = new
        response.attempt_score = percent
    db.session.flush()
    for qid, change in sorted(delta.items()):
        if change:
            db.session.execute(update(QuestionStat).where(QuestionStat.quiz_id == attempt.quiz_id,
                                                          QuestionStat.question_id == qid)
                               .values(score_sum=QuestionStat.score_sum + change))
    _recount_result(attempt, percent - before)
    return before, percent


def _recount_result(attempt: Attempt, change: float) -> None:
    """The technician's kept result on the quiz after one of their graded attempts changed score:
    its row locked, best and passed decided from their graded attempts whose responses are kept
    (the attempts the kept result counts), the sum of percents moved by ``change``."""
    where = (QuizResult.quiz_id == attempt.quiz_id, QuizResult.user_id == attempt.user_id)
    if db.session.scalar(select(QuizResult.quiz_id).where(*where).with_for_update()) is None:
        return
    counted = (Attempt.quiz_id == attempt.quiz_id, Attempt.user_id == attempt.user_id, Attempt.status != "open",
               select(ItemResponse.id).where(ItemResponse.attempt_id == Attempt.id).exists())
    best = db.session.scalar(select(func.max(Attempt.score)).where(*counted)) or 0.0
    passed = db.session.scalar(select(Attempt.id).where(*counted, Attempt.passed.is_(True)).limit(1)) is not None
    db.session.execute(update(QuizResult).where(*where).values(
        best=float(best), passed=passed, score_sum=QuizResult.score_sum + change))


def submit(attempt: Attempt, now: datetime) -> Attempt:
    """Submit once: a second submit (a double click, a retry after a dropped connection)
    returns the graded attempt unchanged. After the deadline it counts as timed out."""
    if attempt.status != "open":
        return attempt
    late = attempt.deadline is not None and now >= attempt.deadline
    return close(attempt, now, timed_out=late)


@dataclass
class ShownQuestion:
    index: int
    type: str
    text: str
    public: dict  # what the browser may see: options in the order shown, no key
    answer: object  # the saved response, if any
    format: str = "markdown"
    image: str | None = None
    lang: str = "zh"  # the language it is shown in


def shown(attempt: Attempt, lang: str | None = None) -> list[ShownQuestion]:
    """The attempt's questions as a page in ``lang`` (the reader's interface language; the
    attempt's own by default) shows them before submission: never the key. Saved answers given
    in the other language are shown as the same answer in this one."""
    questions = drawn(attempt.items)
    return [_shown(attempt, index, item, questions[item["question"]], lang)
            for index, item in enumerate(attempt.items)]


def shown_one(attempt: Attempt, index: int, lang: str | None = None) -> ShownQuestion:
    """One question of the attempt as ``shown`` gives it (reading that question only): what an
    answer to it is read against when it is saved."""
    item = attempt.items[index]
    question = drawn([item]).get(item["question"])
    if question is None:  # deleted from the bank since the draw: nothing to answer
        raise AttemptError(_("There is no such question in this attempt."))
    return _shown(attempt, index, item, question, lang)


def _shown(attempt: Attempt, index: int, item: dict, question: Question, lang: str | None) -> ShownQuestion:
    here = lang if lang and _fits(question, item, lang) else attempt.lang
    data = question.data(here)
    public = qtypes.get(question.type).public(data)
    if item.get("order") and "choices" in public:
        public = {**public, "choices": [public["choices"][i] for i in item["order"]]}
    answer = (attempt.answers or {}).get(str(index))
    given_in = attempt.answer_lang(index)
    if answer is not None and given_in != here:
        answer = qtypes.translate(question.type, question.data(given_in), data, answer)
    return ShownQuestion(index, question.type, question.text(here), public, answer, question.format,
                         question.image, here)


def attempts_used(user, quiz: Quiz) -> int:
    return db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.user_id == user.id, Attempt.quiz_id == quiz.id)) or 0


def model_answer(question: Question, item: dict, lang: str):
    """The fully right response to a question as the attempt shows it (options in its order):
    for the review page's "correct answers" mode and for demo data."""
    data = question.data(lang)
    order = item.get("order") or list(range(len(data.get("choices") or [])))
    if question.type == "single":
        best = max(range(len(data["choices"])), key=lambda i: data["choices"][i]["fraction"])
        return order.index(best)
    if question.type == "multiple":
        return [order.index(i) for i, c in enumerate(data["choices"]) if c["fraction"] > 0]
    if question.type == "truefalse":
        return data["answer"]
    if question.type == "short":
        return max(data["answers"], key=lambda a: a["fraction"])["text"]
    if question.type == "numerical":
        return max(data["answers"], key=lambda a: a["fraction"])["value"]
    if question.type == "matching":
        return {i: p["right"] for i, p in enumerate(data["pairs"])}
    return [qtypes.item_id(t) for t in data["items"]]


def take(user, quiz: Quiz, now: datetime, right: int | None = None, lang: str = "zh",
         seed: int | None = None) -> Attempt:
    """Start an attempt, answer the first ``right`` questions fully right (all when None), leave
    the rest blank, and submit: for demo data and for tests that need a graded attempt."""
    attempt = start(user, quiz, lang, now, seed=seed)
    questions = drawn(attempt.items)
    answers = {}
    for index, item in enumerate(attempt.items):
        if right is None or index < right:
            answers[str(index)] = model_answer(questions[item["question"]], item, lang)
    attempt = _locked(attempt)
    attempt.answers = answers
    attempt.answer_langs = {key: lang for key in answers}
    db.session.commit()
    return submit(attempt, now)


def backfill_responses(batch: int = 500) -> int:
    """Write the responses of graded attempts that have none (attempts graded before responses
    were kept) and add them to the kept figures; idempotent. Returns how many attempts it filled."""
    done = 0
    while True:
        todo = list(db.session.scalars(
            select(Attempt).where(Attempt.status != "open",
                                  ~select(ItemResponse.id).where(ItemResponse.attempt_id == Attempt.id).exists())
            .order_by(Attempt.id).limit(batch)))
        if not todo:
            return done
        for attempt in todo:
            record_responses(attempt, drawn(attempt.items))
            count_result(attempt)  # an attempt is in the kept results once its responses are kept
        db.session.commit()
        done += len(todo)


def backfill_pairs(batch: int = 500) -> int:
    """Keep the pairs matched right (``pair:<n>`` choices, and their kept counts) for matching
    responses kept before pairs were: idempotent (a response that has one is skipped; one with
    none right is read again and adds nothing). Returns how many pair values it added."""
    added, after = 0, 0
    has_pair = select(ItemChoice.id).where(ItemChoice.response_id == ItemResponse.id,
                                           ItemChoice.value.like(f"{grading.PAIR_PREFIX}%")).exists()
    while True:
        rows = db.session.execute(
            select(ItemResponse, Attempt, Question).join(Attempt, Attempt.id == ItemResponse.attempt_id)
            .join(Question, Question.id == ItemResponse.question_id)
            .where(Question.type == "matching", ItemResponse.blank.is_(False), ItemResponse.id > after, ~has_pair)
            .order_by(ItemResponse.id).limit(batch)).all()
        if not rows:
            return added
        for response, attempt, question in rows:
            after = response.id
            values = grading.pair_values(question.type, question.data(attempt.answer_lang(response.position)),
                                         (attempt.answers or {}).get(str(response.position)))
            if not values:
                continue
            db.session.add_all(ItemChoice(response_id=response.id, quiz_id=response.quiz_id, user_id=response.user_id,
                                          question_id=question.id, value=value, attempt_number=response.attempt_number)
                               for value in values)
            count_responses(attempt, {}, Counter((question.id, value) for value in values))
            added += len(values)
        db.session.commit()
