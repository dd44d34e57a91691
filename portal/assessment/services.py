"""What the quiz pages and reports need: a learner's standing on a quiz, answers read from a
form, review of a graded attempt, results per quiz and item analysis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import BigInteger, case, cast, func, select, update
from sqlalchemy.orm import joinedload, lazyload, load_only

from ..auth.models import User
from ..auth.services import in_place
from ..dbtypes import utcnow
from ..extensions import db
from ..inputs import parse_int
from ..learning.models import CohortMember
from . import grading
from .attempts import (ShownQuestion, allowed_attempts, close, cooldown_hours, drawn, keep_answers, model_answer,
                       override_for, shown, time_limit)
from .models import (Attempt, ItemChoice, ItemResponse, ManualMark, OptionStat, Question, QuestionStat, Quiz,
                     QuizOverride, QuizResult)

MAX_TEXT = 200  # longest typed answer kept


# --- a learner and a quiz ---------------------------------------------------------------------


@dataclass
class Standing:
    quiz: Quiz
    used: int
    allowed: int  # 0: any number
    open: Attempt | None
    best: Attempt | None
    passed: Attempt | None
    next_start: datetime | None  # cooldown ends
    can_start: bool
    own: QuizOverride | None = None  # the technician's own rules on the quiz (a trainer's override)

    @property
    def due_at(self) -> datetime | None:
        """The technician's own due date on the quiz (an override's), if any."""
        return self.own.due_at if self.own is not None else None

    @property
    def time_limit(self) -> float | None:
        """Minutes an attempt may last, extra time included (None: no limit)."""
        return time_limit(self.quiz, self.own)

    @property
    def left(self) -> int | None:
        return None if not self.allowed else max(0, self.allowed - self.used)


def closed_attempts(user_id: int, quiz: Quiz) -> list[Attempt]:
    return list(db.session.scalars(select(Attempt).where(
        Attempt.user_id == user_id, Attempt.quiz_id == quiz.id, Attempt.status != "open").order_by(Attempt.number)))


def standing(user: User, quiz: Quiz, now: datetime) -> Standing:
    attempts = list(db.session.scalars(select(Attempt).where(
        Attempt.user_id == user.id, Attempt.quiz_id == quiz.id).order_by(Attempt.number)))
    current = next((a for a in attempts if a.status == "open"), None)
    if current is not None and current.deadline is not None and now >= current.deadline:

        close(current, now, timed_out=True)
        current = None
    closed = [a for a in attempts if a.status != "open"]
    best = max(closed, key=lambda a: (a.score or 0, -a.number), default=None)
    passed = next((a for a in closed if a.passed), None)
    own = override_for(user.id, quiz.id)
    allowed = allowed_attempts(quiz, own)
    cooldown = cooldown_hours(quiz, own)
    next_start = None
    if closed and cooldown and (not allowed or len(closed) < allowed):
        last = max(a.submitted_at or a.started_at for a in closed)
        if now < last + timedelta(hours=cooldown):
            next_start = last + timedelta(hours=cooldown)
    can_start = current is not None or ((not allowed or len(closed) < allowed) and next_start is None)
    return Standing(quiz, len(closed), allowed, current, best, passed, next_start, can_start, own)


def active_quizzes() -> list[Quiz]:
    return list(db.session.scalars(select(Quiz).where(Quiz.active).order_by(Quiz.slug)))


def quiz_by_slug(slug: str) -> Quiz | None:
    return db.session.scalar(select(Quiz).where(Quiz.slug == slug, Quiz.active))


def passed_attempts(user_ids: list[int], slug: str) -> dict[int, Attempt]:
    """Each user's first passing attempt at the quiz (users who have not passed are absent)."""
    if not user_ids:
        return {}
    rows = db.session.scalars(select(Attempt).join(Quiz).where(
        Quiz.slug == slug, Attempt.user_id.in_(user_ids), Attempt.passed.is_(True))
        .order_by(Attempt.submitted_at, Attempt.id))
    found: dict[int, Attempt] = {}
    for attempt in rows:
        found.setdefault(attempt.user_id, attempt)
    return found


def quiz_results(user_ids: list[int], slug: str) -> dict[int, tuple[int, float, bool]]:
    """Each user's kept result at the quiz (assessment_quiz_result): user id → (graded
    attempts, best percent, passed); users without a graded attempt are absent. One query."""
    if not user_ids:
        return {}
    rows = db.session.execute(select(QuizResult.user_id, QuizResult.attempts, QuizResult.best, QuizResult.passed)
                              .join(Quiz, Quiz.id == QuizResult.quiz_id)
                              .where(Quiz.slug == slug, QuizResult.user_id.in_(list(user_ids)),
                                     QuizResult.attempts > 0))
    return {uid: (n, best, passed) for uid, n, best, passed in rows}


# --- answers from a form ----------------------------------------------------------------------


def response_from_form(form, question: ShownQuestion):
    """The answer to one shown question as the form gives it (field ``q<index>`` and, for
    matching and ordering, ``q<index>.<n>``), or None when it is left blank."""
    name = f"q{question.index}"
    public = question.public
    kind = question.type
    if kind == "single":
        return parse_int(form.get(name), 0, len(public["choices"]) - 1)
    if kind == "multiple":
        picked = sorted({n for v in form.getlist(name)
                         if (n := parse_int(v, 0, len(public["choices"]) - 1)) is not None})
        return picked if (picked or form.get(f"{name}.seen")) else None
    if kind == "truefalse":
        return {"true": True, "false": False}.get(form.get(name, ""))
    if kind in ("short", "numerical"):
        value = form.get(name, "").strip()[:MAX_TEXT]
        return value or None
    if kind == "matching":
        rights = set(public["right"])
        chosen = {str(n): form.get(f"{name}.{n}") for n in range(len(public["left"]))}
        chosen = {k: v for k, v in chosen.items() if v in rights}
        return chosen or None
    if kind == "ordering":
        ids = [item["id"] for item in public["items"]]
        positions = {}
        for shown_at, item_id in enumerate(ids):
            value = parse_int(form.get(f"{name}.{item_id}"))
            if value is not None:
                positions[item_id] = (value, shown_at)
        if not positions:
            return None
        return sorted(ids, key=lambda i: positions.get(i, (len(ids) + 1, ids.index(i))))
    return None


def keep_posted_answers(attempt: Attempt, form, now: datetime, lang: str | None = None) -> None:
    """Keep every answer given in a posted page shown in ``lang`` (blank ones leave the saved
    answer alone), while the attempt is open and before its deadline."""
    given = {question.index: response_from_form(form, question) for question in shown(attempt, lang)}
    keep_answers(attempt, {k: v for k, v in given.items() if v is not None}, now, lang)


# --- review after submission ------------------------------------------------------------------


@dataclass
class Reviewed:
    index: int
    type: str
    text: str
    format: str
    image: str | None
    score: float
    given: list[str]  # the answer as text lines
    correct: list[str]  # the right answer as text lines (shown in "answers" and "explanations")
    explanation: str
    manual: ManualMark | None = None  # a trainer's mark on it (a typed answer), with their comment


def _as_lines(kind: str, public: dict, response) -> list[str]:
    if response is None or response == [] or response == {}:
        return []
    if kind == "single":
        return [public["choices"][int(response)]]
    if kind == "multiple":
        return [public["choices"][int(i)] for i in response]
    if kind == "truefalse":
        return [_("True") if response else _("False")]
    if kind in ("short", "numerical"):
        return [str(response)]
    if kind == "matching":
        return [f"{left} → {response.get(str(n)) or response.get(n) or '—'}"
                for n, left in enumerate(public["left"])]
    if kind == "ordering":
        texts = {item["id"]: item["text"] for item in public["items"]}
        return [f"{n}. {texts.get(i, '?')}" for n, i in enumerate(response, start=1)]
    return [str(response)]


def review(attempt: Attempt, lang: str | None = None, key: bool = False) -> list[Reviewed]:
    """The graded attempt for a reader of ``lang`` (the attempt's language by default): the
    questions, answers and explanations in that language; the right answer to a typed question
    is the one from the key the answer was graded against (the language it was typed in).
    ``key``: the right answers and explanations whatever the quiz's review mode (a trainer going
    through someone else's attempt; never the candidate); else the mode the attempt started under."""
    mode = "explanations" if key else attempt.review_mode()
    marks = manual_marks(attempt)
    questions = drawn(attempt.items)  # the versions it drew and was graded on
    out = []
    for item, view in zip(attempt.items, shown(attempt, lang)):
        question = questions[item["question"]]
        correct = []
        if mode in ("answers", "explanations"):
            key_lang = attempt.answer_lang(view.index) if view.type == "short" else view.lang
            correct = _as_lines(view.type, view.public, model_answer(question, item, key_lang))
        explanation = ""
        if mode == "explanations":
            explanation = (question.explanation_zh if view.lang == "zh" else question.explanation_en) or \
                question.explanation_en or question.explanation_zh
        scores = attempt.scores or []
        out.append(Reviewed(view.index, view.type, view.text, view.format, view.image,
                            scores[view.index] if view.index < len(scores) else 0.0,
                            _as_lines(view.type, view.public, view.answer), correct, explanation,
                            marks.get(view.index)))
    return out


def may_see_questions(attempt: Attempt, viewer: User) -> bool:
    """Whether ``viewer`` may see a graded attempt question by question. Where the quiz's review
    mode shows the questions, anyone who may open the result may. A score-only quiz shows them
    to a trainer going through someone else's attempt, never to the person who took it, whatever
    other roles that person holds (a trainer who is also a technician is still the candidate)."""
    if attempt.review_mode() != "score":
        return True
    return viewer.id != attempt.user_id and viewer.has_role("trainer", "admin")


def for_item_analysis(quiz: Quiz, attempts: list[Attempt], viewer: User) -> list[Attempt]:
    """The attempts whose per-question marks ``viewer`` may study: in a score-only quiz, not
    their own (with few attempts the item analysis would show their marks question by question)."""
    if quiz.setting("review", "explanations") != "score":
        return attempts
    return [a for a in attempts if a.user_id != viewer.id]


# --- results and item analysis ----------------------------------------------------------------


@dataclass
class ResultLine:
    user: User
    attempts: int
    best: float
    passed: bool
    last: datetime | None


def _users_in(cohort_id: int | None, region_id: int | None, outlet_id: int | None) -> set[int] | None:
    """The users a filter keeps (None: no filter)."""
    keep: set[int] | None = None

    def narrow(ids):
        nonlocal keep
        keep = set(ids) if keep is None else keep & set(ids)

    if cohort_id:
        narrow(db.session.scalars(select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)))
    if region_id or outlet_id:
        narrow(db.session.scalars(in_place(select(User.id), region_id=region_id, outlet_id=outlet_id)))
    return keep


def graded_attempts(quiz: Quiz, cohort_id=None, region_id=None, outlet_id=None) -> list[Attempt]:
    query = select(Attempt).where(Attempt.quiz_id == quiz.id, Attempt.status != "open")
    keep = _users_in(cohort_id, region_id, outlet_id)
    if keep is not None:
        query = query.where(Attempt.user_id.in_(keep or {-1}))
    return list(db.session.scalars(query.order_by(Attempt.user_id, Attempt.number)))


def results(attempts: list[Attempt]) -> list[ResultLine]:
    by_user: dict[int, list[Attempt]] = {}
    for attempt in attempts:
        by_user.setdefault(attempt.user_id, []).append(attempt)
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(list(by_user))))}
    lines = [ResultLine(users[uid], len(rows), max(a.score or 0 for a in rows), any(a.passed for a in rows),
                        max((a.submitted_at for a in rows if a.submitted_at), default=None))
             for uid, rows in by_user.items()]
    return sorted(lines, key=lambda l: (-l.best, l.user.username))


@dataclass
class ItemStats:
    question: Question
    seen: int  # attempts that drew it
    facility: float | None  # mean score on it, 0..1
    discrimination: float | None  # upper group's mean − lower group's mean
    options: list[tuple[str, int]] = field(default_factory=list)  # (option, times chosen)
    blank: int = 0
    flags: list[str] = field(default_factory=list)
    pairs: list[tuple[str, float]] = field(default_factory=list)  # matching: (pair, share answered right)


GROUP_SHARE = 0.27  # the classic upper and lower 27 %
MIN_FOR_DISCRIMINATION = 4


def discrimination(pairs: list[tuple[float, float]]) -> float | None:
    """pairs: (attempt's total score, score on this question). Upper-minus-lower index over the
    top and bottom 27 % of attempts by total (at least one each); None below four attempts."""
    if len(pairs) < MIN_FOR_DISCRIMINATION:
        return None
    ranked = sorted(pairs, key=lambda p: p[0])
    size = max(1, round(len(ranked) * GROUP_SHARE))
    lower = [s for _t, s in ranked[:size]]
    upper = [s for _t, s in ranked[-size:]]
    return round(sum(upper) / size - sum(lower) / size, 3)


def flags_for(facility: float | None, disc: float | None) -> list[str]:
    flags = []
    if disc is not None and disc < 0:
        flags.append("negative-discrimination")
    if facility is not None and facility < 0.2:
        flags.append("too-hard")
    if facility is not None and facility > 0.95:
        flags.append("too-easy")
    return flags


def item_analysis(attempts: list[Attempt], lang: str) -> list[ItemStats]:
    """Per question drawn in these graded attempts: facility, discrimination, how often each
    option was chosen (in the question's own option order) and flags for suspect questions."""
    ids = {item["question"] for attempt in attempts for item in attempt.items}
    questions = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(ids)))}
    seen: dict[int, list[tuple[float, float]]] = {}
    chosen: dict[int, Counter] = {}
    blanks: Counter = Counter()
    for attempt in attempts:
        scores = attempt.scores or []
        for index, item in enumerate(attempt.items):
            qid = item["question"]
            question = questions.get(qid)
            if question is None:
                continue
            score = scores[index] if index < len(scores) else 0.0
            seen.setdefault(qid, []).append((attempt.score or 0.0, score))
            given = (attempt.answers or {}).get(str(index))
            blank, values = grading.choice_values(question.type, item.get("order"), given)
            values += grading.pair_values(question.type, question.data(attempt.answer_lang(index)), given)
            counter = chosen.setdefault(qid, Counter())
            blanks[qid] += blank
            for value in values:
                counter[value] += 1
    out = []
    for qid, pairs in seen.items():
        question = questions[qid]
        facility = round(sum(s for _t, s in pairs) / len(pairs), 3)
        disc = discrimination(pairs)
        out.append(ItemStats(question, len(pairs), facility, disc, _option_lines(question, chosen[qid], lang),
                             blanks[qid], flags_for(facility, disc), _pair_lines(question, chosen[qid], len(pairs), lang)))
    return sorted(out, key=lambda s: (not s.flags, s.facility if s.facility is not None else 1, s.question.id))


# --- the same figures, aggregated by the database (what the pages show) ---------------------------


def user_filter(column, cohort_id=None, region_id=None, outlet_id=None) -> list:
    """Conditions on a ``user_id`` column for the report's filters, as subqueries (no list of
    ids is read into Python)."""
    conditions = []
    if cohort_id:
        conditions.append(column.in_(select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)))
    if region_id or outlet_id:
        conditions.append(column.in_(in_place(select(User.id), region_id=region_id, outlet_id=outlet_id)))
    return conditions


def results_query(quiz: Quiz, cohort_id=None, region_id=None, outlet_id=None):
    """One row per technician who took the quiz (the filters applied): (user, attempts, best,
    passed, last), best first, from the results kept at grading (``QuizResult``: one row per
    technician, no grouping of attempts; ordered along its (quiz, best) index)."""
    return (select(User, QuizResult.attempts, QuizResult.best, QuizResult.passed, QuizResult.last)
            .join(QuizResult, QuizResult.user_id == User.id)
            .where(QuizResult.quiz_id == quiz.id, *user_filter(QuizResult.user_id, cohort_id, region_id, outlet_id))
            .options(joinedload(User.outlet), lazyload(User.role_rows))
            .order_by(QuizResult.best.desc(), User.username))


def result_line(row) -> ResultLine:
    user, attempts, best, passed, last = row
    return ResultLine(user, attempts, float(best), bool(passed), last)


@dataclass
class ResultSummary:
    technicians: int
    attempts: int
    passed: int
    mean: float | None


def result_summary(quiz: Quiz, cohort_id=None, region_id=None, outlet_id=None) -> ResultSummary:
    """The report's headline figures, from the kept results (one row per technician)."""
    technicians, attempts, passed, total = db.session.execute(
        select(func.count(), func.sum(QuizResult.attempts),
               func.sum(case((QuizResult.passed.is_(True), 1), else_=0)), func.sum(QuizResult.score_sum))
        .where(QuizResult.quiz_id == quiz.id,
               *user_filter(QuizResult.user_id, cohort_id, region_id, outlet_id))).one()
    attempts = int(attempts or 0)
    return ResultSummary(technicians, attempts, int(passed or 0),
                         round(float(total) / attempts, 1) if attempts else None)


def takers_by_quiz() -> dict[int, int]:
    """quiz id → how many technicians have a graded attempt at it (kept results)."""
    return dict(db.session.execute(select(QuizResult.quiz_id, func.count()).group_by(QuizResult.quiz_id)).all())


def _response_where(table, quiz: Quiz, viewer: User | None, filters: dict) -> list:
    """Which kept responses count: this quiz, the filters, and not the viewer's own in a
    score-only quiz (``for_item_analysis``)."""
    where = [table.quiz_id == quiz.id, *user_filter(table.user_id, **filters)]
    if viewer is not None and quiz.setting("review", "explanations") == "score":
        where.append(table.user_id != viewer.id)
    return where


def group_size(seen: int) -> int | None:
    """How many attempts form the upper (and the lower) group (as ``discrimination``)."""
    return max(1, round(seen * GROUP_SHARE)) if seen >= MIN_FOR_DISCRIMINATION else None


def item_analysis_sql(quiz: Quiz, lang: str, viewer: User | None = None, **filters) -> list[ItemStats]:
    """``item_analysis`` of the graded attempts, from the responses kept at grading and
    aggregated by the database: three grouped queries, whatever the number of attempts."""
    where = _response_where(ItemResponse, quiz, viewer, filters)
    totals = db.session.execute(
        select(ItemResponse.question_id, func.count(), func.sum(ItemResponse.score),
               func.sum(case((ItemResponse.blank.is_(True), 1), else_=0)))
        .join(Question, Question.id == ItemResponse.question_id).where(*where)
        .group_by(ItemResponse.question_id)).all()
    if not totals:
        return []
    sizes = {qid: group_size(n) for qid, n, _s, _b in totals if group_size(n)}
    groups = _groups(where, sizes)
    chosen: dict[int, Counter] = {}
    first = func.min(cast(ItemChoice.user_id, BigInteger) * 1_000_000 + ItemChoice.attempt_number)
    for qid, value, n, _first in db.session.execute(
            select(ItemChoice.question_id, ItemChoice.value, func.count(), first)
            .where(*_response_where(ItemChoice, quiz, viewer, filters))
            .group_by(ItemChoice.question_id, ItemChoice.value).order_by(first)):
        chosen.setdefault(qid, Counter())[value] = n  # in order of first appearance, as in item_analysis
    questions = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_([t[0] for t in totals])))}
    out = []
    for qid, seen, total, blank in totals:
        facility = round(float(total) / seen, 3)
        disc = None
        if qid in groups:
            lower, upper = groups[qid]
            disc = round(upper / sizes[qid] - lower / sizes[qid], 3)
        out.append(ItemStats(questions[qid], seen, facility, disc,
                             _option_lines(questions[qid], chosen.get(qid, Counter()), lang), int(blank),
                             flags_for(facility, disc), _pair_lines(questions[qid], chosen.get(qid, Counter()), seen, lang)))
    return sorted(out, key=lambda s: (not s.flags, s.facility if s.facility is not None else 1, s.question.id))


def _groups(where: list, sizes: dict[int, int]) -> dict[int, tuple[float, float]]:
    """question id → (lower group's marks, upper group's marks), the groups ``sizes[qid]`` strong:
    one grouped query over the responses ranked by their attempt's total."""
    if not sizes:
        return {}
    ranked = (select(ItemResponse.question_id, ItemResponse.score,
                     func.row_number().over(partition_by=ItemResponse.question_id,
                                            order_by=(ItemResponse.attempt_score, ItemResponse.user_id,
                                                      ItemResponse.attempt_number)).label("rank"),
                     func.count().over(partition_by=ItemResponse.question_id).label("seen"))
              .where(*where, ItemResponse.question_id.in_(list(sizes))).subquery())
    # Each question's group size, as a small table joined on (one CASE per question, not one per
    # response: a CASE of a hundred branches evaluated twice per response was most of the query).
    sized = (select(Question.id.label("question_id"), case(sizes, value=Question.id, else_=1).label("size"))
             .where(Question.id.in_(list(sizes))).subquery())
    return {qid: (float(lower or 0), float(upper or 0)) for qid, lower, upper in db.session.execute(
        select(ranked.c.question_id,
               func.sum(case((ranked.c.rank <= sized.c.size, ranked.c.score), else_=0.0)),
               func.sum(case((ranked.c.rank > ranked.c.seen - sized.c.size, ranked.c.score), else_=0.0)))
        .join(sized, sized.c.question_id == ranked.c.question_id)
        .group_by(ranked.c.question_id))}


# --- the unfiltered report from the figures kept at grading -------------------------------------


def _sees_own(quiz: Quiz, viewer: User | None) -> bool:
    """Whether the kept figures would include the viewer's own marks where they must not (a
    score-only quiz the viewer took): then the report is aggregated live, without them."""
    return viewer is not None and quiz.setting("review", "explanations") == "score" and db.session.scalar(
        select(ItemResponse.id).where(ItemResponse.user_id == viewer.id, ItemResponse.quiz_id == quiz.id).limit(1)) \
        is not None


def item_analysis_kept(quiz: Quiz, lang: str, viewer: User | None = None) -> list[ItemStats]:
    """``item_analysis_sql`` without filters, read from the figures kept at grading (one row per
    question and per chosen option: no work that grows with the attempts). The discrimination
    index is the one ``flask daily`` last decided (``refresh_discrimination``)."""
    if _sees_own(quiz, viewer):
        return item_analysis_sql(quiz, lang, viewer)
    rows = db.session.execute(select(Question, QuestionStat)
                              .join(QuestionStat, QuestionStat.question_id == Question.id)
                              .options(joinedload(Question.category))
                              .where(QuestionStat.quiz_id == quiz.id, QuestionStat.seen > 0)).all()
    chosen: dict[int, Counter] = {}
    for qid, value, n in db.session.execute(
            select(OptionStat.question_id, OptionStat.value, OptionStat.chosen)
            .where(OptionStat.quiz_id == quiz.id).order_by(OptionStat.first, OptionStat.value)):
        chosen.setdefault(qid, Counter())[value] = n
    out = []
    for question, stat in rows:
        facility = round(float(stat.score_sum) / stat.seen, 3)
        disc = stat.discrimination
        out.append(ItemStats(question, stat.seen, facility, disc,
                             _option_lines(question, chosen.get(question.id, Counter()), lang), stat.blank,
                             flags_for(facility, disc),
                             _pair_lines(question, chosen.get(question.id, Counter()), stat.seen, lang)))
    return sorted(out, key=lambda s: (not s.flags, s.facility if s.facility is not None else 1, s.question.id))


def discrimination_refreshed(quiz: Quiz) -> datetime | None:
    """When the kept discrimination indexes were last decided (the oldest of the quiz's)."""
    return db.session.scalar(select(func.min(QuestionStat.refreshed_at)).where(QuestionStat.quiz_id == quiz.id))


def refresh_discrimination(now: datetime | None = None) -> int:
    """Decide every quiz's kept discrimination indexes again from the kept responses (``flask
    daily``): one grouped query per quiz. Writes only the index and its time, never the counters
    (those change by increments at grading). Returns how many questions were decided."""
    now = now or utcnow()
    done = 0
    for quiz_id in list(db.session.scalars(select(QuestionStat.quiz_id).distinct())):
        where = [ItemResponse.quiz_id == quiz_id]
        seen = dict(db.session.execute(select(ItemResponse.question_id, func.count()).where(*where)
                                       .group_by(ItemResponse.question_id)).all())
        sizes = {qid: group_size(n) for qid, n in seen.items() if group_size(n)}
        groups = _groups(where, sizes)
        for qid in db.session.scalars(select(QuestionStat.question_id).where(QuestionStat.quiz_id == quiz_id)):
            disc = None
            if qid in groups:
                lower, upper = groups[qid]
                disc = round(upper / sizes[qid] - lower / sizes[qid], 3)
            db.session.execute(update(QuestionStat).where(QuestionStat.quiz_id == quiz_id,
                                                          QuestionStat.question_id == qid)
                               .values(discrimination=disc, refreshed_at=now))
            done += 1
        db.session.commit()
    return done


def own_left_out(quiz: Quiz, viewer: User, **filters) -> int:
    """How many of the viewer's own graded attempts the item analysis leaves out (score-only)."""
    if quiz.setting("review", "explanations") != "score":
        return 0
    return db.session.scalar(select(func.count()).where(
        Attempt.quiz_id == quiz.id, Attempt.status != "open", Attempt.user_id == viewer.id,
        *user_filter(Attempt.user_id, **filters)))


def _option_lines(question: Question, counter: Counter, lang: str) -> list[tuple[str, int]]:
    data = question.data(lang)
    if question.type in ("single", "multiple"):
        return [(c["text"], counter.get(str(n), 0)) for n, c in enumerate(data["choices"])]
    if question.type == "truefalse":
        return [(_("True"), counter.get("true", 0)), (_("False"), counter.get("false", 0))]
    if question.type in ("short", "numerical"):
        return counter.most_common(5)
    return [(_("Answered"), counter.get("answered", 0))]


def _pair_lines(question: Question, counter: Counter, seen: int, lang: str) -> list[tuple[str, float]]:
    """A matching question broken down by pair: each pair (left → right, in ``lang``) and the
    share of the responses (blank ones included) that matched it right, from the ``pair:<n>``
    values kept with the responses (``grading.pair_values``)."""
    if question.type != "matching" or not seen:
        return []
    return [(f"{pair['left']} → {pair['right']}", round(counter.get(f"{grading.PAIR_PREFIX}{n}", 0) / seen, 3))
            for n, pair in enumerate(question.data(lang).get("pairs") or [])]


# --- every graded attempt of a quiz, for the trainer's report ------------------------------------


def attempts_query(quiz: Quiz, cohort_id=None, region_id=None, outlet_id=None):
    """The quiz's graded attempts (the report's filters applied), newest first, with their
    technicians: (attempt, user) rows, read a page at a time along (quiz, submitted_at)."""
    return (select(Attempt, User).join(User, User.id == Attempt.user_id)
            .where(Attempt.quiz_id == quiz.id, Attempt.status != "open",
                   *user_filter(Attempt.user_id, cohort_id, region_id, outlet_id))
            .options(load_only(Attempt.id, Attempt.quiz_id, Attempt.user_id, Attempt.number, Attempt.status,
                               Attempt.submitted_at, Attempt.score, Attempt.passed),
                     joinedload(User.outlet), lazyload(User.role_rows))
            .order_by(Attempt.submitted_at.desc(), Attempt.id.desc()))


def attempts_count(quiz: Quiz, cohort_id=None, region_id=None, outlet_id=None) -> int:
    return db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.status != "open",
        *user_filter(Attempt.user_id, cohort_id, region_id, outlet_id))) or 0


def manual_marks(attempt: Attempt) -> dict[int, ManualMark]:
    """position → the trainer's mark on that item of the attempt."""
    return {m.position: m for m in db.session.scalars(select(ManualMark).where(ManualMark.attempt_id == attempt.id))}
