"""A trainer's corrections for one person on a quiz: overrides (extra attempts, cooldown lifted,
extra time, own due date), manual marks on typed answers (score, pass and every kept figure equal
to the live computation), nobody for themselves, cohort scope; the report's list of every
attempt, the trainer's review with the key, and item analysis of matching questions by pair."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import delete, func, select

from portal.assessment import attempts as engine
from portal.assessment import corrections
from portal.assessment import services as svc
from portal.assessment.models import (AssessmentEvent, Attempt, ItemChoice, ManualMark, OptionStat, Question,
                                      QuizOverride)
from portal.extensions import db
from portal.learning.models import Cohort, CohortMember, CohortTrainer, Course

from .conftest import get_csrf
from .paging import walk
from .test_assessment_pages import (PAIRS, PARTIAL, RIGHT, T0, TYPED_WRONG, _random_response, _same, age,  # noqa: F401
                                    bank, fresh, index_of, path_of, people, signed_in, take, try_start)


@pytest.fixture(autouse=True)
def in_a_request(app):
    """Messages of refusals are translated: the service calls run as in a request."""
    with app.test_request_context(), force_locale("en"):
        yield


def _post(client, url: str, data: dict, token_from: str | None = None):
    token = get_csrf(client, token_from or url)
    return client.post(url, data={"csrf_token": token, **data})


def _set(client, slug: str, user_id: int, **fields):
    data = {"extra_attempts": "0", "extra_minutes": "0", **{k: str(v) for k, v in fields.items()}}
    if data.pop("lift_cooldown", None) in ("True", "y"):
        data["lift_cooldown"] = "y"
    return _post(client, f"/quizzes/{slug}/overrides/{user_id}", data)


# --- overrides ------------------------------------------------------------------------------------


def test_an_extra_attempt_allows_a_start_after_the_limit(app, bank, people):
    tech, trainer = signed_in(app, "tech"), signed_in(app, "trainer")
    first = take(tech, "pages-limited", TYPED_WRONG)
    age(first, 25)
    second = take(tech, "pages-limited", TYPED_WRONG)
    age(second, 25)
    assert "You have used all 2 attempts" in tech.get(path_of(try_start(tech, "pages-limited"))).get_data(as_text=True)

    response = _set(trainer, "pages-limited", people["technician"].id, extra_attempts=1)
    assert response.status_code == 302
    page = tech.get("/quizzes/pages-limited").get_data(as_text=True)
    assert "2 of 3 used" in page and 'data-action="start"' in page
    third = try_start(tech, "pages-limited")
    assert re.fullmatch(r"/quizzes/attempts/\d+", path_of(third))
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 3
    # exactly one more: the fourth is refused again
    engine.submit(fresh(int(path_of(third).rsplit("/", 1)[1])), T0 + timedelta(days=30))
    age(int(path_of(third).rsplit("/", 1)[1]), 25)
    assert "You have used all 3 attempts" in tech.get(path_of(try_start(tech, "pages-limited"))).get_data(as_text=True)


def test_lifting_the_cooldown_allows_a_start_at_once_and_nothing_else(app, bank, people):
    tech, trainer = signed_in(app, "tech"), signed_in(app, "trainer")
    take(tech, "pages-limited", TYPED_WRONG)
    assert "You can try again from" in tech.get("/quizzes/pages-limited").get_data(as_text=True)
    _set(trainer, "pages-limited", people["technician"].id, lift_cooldown="y")
    own = db.session.scalar(select(QuizOverride))
    assert own.lift_cooldown and own.extra_attempts == 0 and own.extra_minutes == 0 and own.due_at is None
    page = tech.get("/quizzes/pages-limited").get_data(as_text=True)
    assert "You can try again from" not in page and "1 of 2 used" in page and "lifted for you" in page
    assert re.fullmatch(r"/quizzes/attempts/\d+", path_of(try_start(tech, "pages-limited")))
    # another technician still waits
    other = signed_in(app, "tech2")
    take(other, "pages-limited", TYPED_WRONG)
    assert "You can try again from" in other.get("/quizzes/pages-limited").get_data(as_text=True)


def test_extra_time_moves_the_servers_deadline_and_a_due_date_is_shown(app, bank, people):
    quiz = bank["pages-explanations"]  # 30 minutes
    tech = people["technician"]
    corrections.set_override(quiz, tech, people["trainer"], 0, False, 15, None)
    attempt = engine.start(tech, quiz, "en", T0, seed=1)
    assert attempt.deadline == T0 + timedelta(minutes=45)
    # the server closes it at the extended deadline, not at 30 minutes
    engine.save_answer(attempt, 0, 0, T0 + timedelta(minutes=40))
    with pytest.raises(engine.AttemptError):
        engine.save_answer(attempt, 0, 0, T0 + timedelta(minutes=45))
    assert fresh(attempt.id).status == "timed_out"
    other = engine.start(people["other"], quiz, "en", T0, seed=2)
    assert other.deadline == T0 + timedelta(minutes=30)

    client, trainer = signed_in(app, "tech"), signed_in(app, "trainer")
    response = _set(trainer, "pages-explanations", tech.id, extra_minutes=15, due_on=date(2026, 12, 20).isoformat())
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/quizzes/pages-explanations").get_data(as_text=True)
    assert re.search(r"<dd data-own-due>12/20/26, 11:59\sPM</dd>", page) and "45 minutes" in page
    assert "due 12/20/26, 11:59" in client.get("/quizzes/").get_data(as_text=True)
    assert "data-own-due" not in signed_in(app, "tech2").get("/quizzes/pages-explanations").get_data(as_text=True)


def test_an_override_is_logged_editable_and_removable(app, bank, people):
    trainer = signed_in(app, "trainer")
    tech = people["technician"]
    url = f"/quizzes/pages-limited/overrides/{tech.id}"
    _set(trainer, "pages-limited", tech.id, extra_attempts=2)
    _set(trainer, "pages-limited", tech.id, extra_attempts=1, extra_minutes=10)
    assert db.session.scalar(select(func.count()).select_from(QuizOverride)) == 1
    events = list(db.session.scalars(select(AssessmentEvent).order_by(AssessmentEvent.id)))
    assert [e.action for e in events] == ["override-set", "override-set"]
    assert events[1].msg_id == "quiz.override-set" and events[1].params["attempts"] == 1
    assert events[1].params["minutes"] == 10 and events[1].actor_id == people["trainer"].id
    page = trainer.get(url).get_data(as_text=True)
    assert 'value="1"' in page and "1 extra attempts, 10 extra minutes" in page
    # bad input: a message, the typed values kept, nothing written
    bad = _set(trainer, "pages-limited", tech.id, extra_attempts=99, extra_minutes=5)
    assert bad.status_code == 200 and "From 0 to 20." in bad.get_data(as_text=True)
    assert 'value="99"' in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AssessmentEvent)) == 2
    # removed
    assert _post(trainer, url + "/remove", {}, token_from=url).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(QuizOverride)) == 0
    assert db.session.scalars(select(AssessmentEvent.action).order_by(AssessmentEvent.id.desc())).first() == \
        "override-removed"
    # the list shows who has rules of their own
    _set(trainer, "pages-limited", tech.id, lift_cooldown="y")
    assert tech.display_name in trainer.get("/quizzes/pages-limited/overrides").get_data(as_text=True)
    assert trainer.get(f"/quizzes/pages-limited/overrides?username={tech.username}").headers["Location"].endswith(url)


def test_nobody_overrides_for_themselves_and_only_in_their_cohorts(app, bank, people, make_user):
    both = make_user("both", "trainer", "technician", outlet="GD-GZ-01")
    quiz = bank["pages-limited"]
    with pytest.raises(corrections.CorrectionError, match="Nobody decides about themselves"):
        corrections.set_override(quiz, both, both, 1, False, 0, None)
    client = signed_in(app, "both")
    page = client.get(f"/quizzes/pages-limited/overrides/{both.id}").get_data(as_text=True)
    assert "data-refusal" in page and "<form method=\"post\" novalidate" not in page
    assert _set(client, "pages-limited", both.id, extra_attempts=1).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(QuizOverride)) == 0
    # a technician in a cohort: only its trainers
    course = Course(slug="c1", kind="onboarding", title_zh="课程", title_en="Course")
    db.session.add(course)
    db.session.flush()
    cohort = Cohort(name="C1", course_id=course.id, start_date=date(2026, 11, 2))
    db.session.add(cohort)
    db.session.flush()
    db.session.add_all([CohortMember(cohort_id=cohort.id, user_id=people["technician"].id),
                        CohortTrainer(cohort_id=cohort.id, user_id=both.id)])
    db.session.commit()
    with pytest.raises(corrections.CorrectionError, match="cohort you do not run"):
        corrections.set_override(quiz, people["technician"], people["trainer"], 1, False, 0, None)
    corrections.set_override(quiz, people["technician"], both, 1, False, 0, None)
    corrections.set_override(quiz, people["technician"], people["admin"], 2, False, 0, None)
    assert db.session.scalar(select(QuizOverride.extra_attempts)) == 2


def test_technicians_cannot_reach_the_correction_pages(app, bank, people):
    tech = signed_in(app, "tech")
    uid = people["technician"].id
    for url in ("/quizzes/pages-limited/overrides", f"/quizzes/pages-limited/overrides/{uid}",
                "/quizzes/pages-limited/marking", "/quizzes/pages-limited/report/attempts"):
        assert tech.get(url).status_code == 403, url
    token = get_csrf(tech, "/quizzes/pages-limited")
    assert tech.post(f"/quizzes/pages-limited/overrides/{uid}", data={"csrf_token": token, "extra_attempts": "3",
                                                                     "extra_minutes": "0"}).status_code == 403
    assert tech.post("/quizzes/pages-limited/marking/1/1", data={"csrf_token": token, "mark": "1"}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(QuizOverride)) == 0


# --- manual marks -------------------------------------------------------------------------------


def _check_kept_equals_live(quiz):
    attempts = svc.graded_attempts(quiz)
    svc.refresh_discrimination()
    _same(svc.item_analysis_kept(quiz, "en"), svc.item_analysis(attempts, "en"))
    _same(svc.item_analysis_kept(quiz, "en"), svc.item_analysis_sql(quiz, "en"))
    live = svc.results(attempts)
    kept = [svc.result_line(row) for row in db.session.execute(svc.results_query(quiz))]
    assert [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in kept] == \
        [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in live]
    summary = svc.result_summary(quiz)
    assert summary.passed == sum(1 for line in live if line.passed)
    assert summary.mean == round(sum(a.score or 0 for a in attempts) / len(attempts), 1)
    for attempt in attempts:
        rows = dict(db.session.execute(select(svc.ItemResponse.position, svc.ItemResponse.score)
                                       .where(svc.ItemResponse.attempt_id == attempt.id)).all())
        assert rows == {n: s for n, s in enumerate(attempt.scores)}
        assert set(db.session.scalars(select(svc.ItemResponse.attempt_score)
                                      .where(svc.ItemResponse.attempt_id == attempt.id))) == {attempt.score}


def test_a_manual_mark_changes_the_score_the_pass_and_every_kept_figure(app, bank, people):
    """Right but for a typed answer no accepted answer matched ("ohmmeter": 6/7 = 85.71 %, below
    the 90 % pass mark of a quiz made stricter here): marked 1 by the trainer, the attempt
    scores 100 % and passes, and every kept figure equals the live computation."""
    quiz = bank["pages-answers"]
    quiz.settings = {**quiz.settings, "pass_mark": 90}
    db.session.commit()
    tech = signed_in(app, "tech")
    attempt_id = take(tech, "pages-answers", {**RIGHT, "short": "insulation tester"})
    take(signed_in(app, "tech2"), "pages-answers", PARTIAL)
    attempt = fresh(attempt_id)
    assert attempt.score == pytest.approx(85.71) and not attempt.passed
    _check_kept_equals_live(quiz)

    trainer = signed_in(app, "trainer")
    queue = trainer.get("/quizzes/pages-answers/marking").get_data(as_text=True)
    assert "insulation tester" in queue and "megohmmeter" in queue  # the typed answer and the key
    assert queue.count('class="card marking-item"') == 1  # tech2's Chinese answer matched: not in it
    position = index_of(attempt, "short")
    response = _post(trainer, f"/quizzes/pages-answers/marking/{attempt_id}/{position + 1}",
                     {"mark": "1", "comment": "Also right: an insulation tester is a megohmmeter."},
                     token_from="/quizzes/pages-answers/marking")
    assert response.status_code == 302
    attempt = fresh(attempt_id)
    assert attempt.score == 100 and attempt.passed and attempt.scores[position] == 1.0
    assert db.session.scalar(select(ManualMark.comment)).startswith("Also right")
    _check_kept_equals_live(quiz)
    event = db.session.scalar(select(AssessmentEvent).where(AssessmentEvent.action == "marked"))
    assert event.attempt_id == attempt_id and event.params["mark"] == 1.0 and event.params["after"] == 100
    assert "waiting" not in trainer.get("/quizzes/pages-answers/marking").get_data(as_text=True).lower() or \
        'class="card marking-item"' not in trainer.get("/quizzes/pages-answers/marking").get_data(as_text=True)
    assert "insulation tester" in trainer.get("/quizzes/pages-answers/marking?state=marked").get_data(as_text=True)
    # the technician sees the mark and the comment in the review
    review = tech.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "Marked by a trainer: 1" in review and "an insulation tester is a megohmmeter" in review
    # marked down again: the pass goes, best and passed follow (decided again, not incremented)
    corrections.mark(fresh(attempt_id), position, 0.25, "", people["trainer"])
    attempt = fresh(attempt_id)
    assert attempt.score == pytest.approx(round(100 * 6.25 / 7, 2)) and not attempt.passed
    _check_kept_equals_live(quiz)


def test_manual_marks_after_random_gradings_keep_the_kept_figures_equal_to_the_live_ones(app, bank, people,
                                                                                           make_user):
    quiz = bank["pages-analysis"]
    rng = random.Random(21)
    when = T0
    crowd = [make_user(f"crowd{n}", "technician", outlet="GD-GZ-01") for n in range(5)]
    for _step in range(12):
        user = rng.choice(crowd)
        when += timedelta(minutes=rng.randint(1, 60))
        attempt = engine.start(user, quiz, rng.choice(["en", "zh"]), when, seed=rng.randrange(10**6))
        for view in engine.shown(attempt):
            response = _random_response(rng, view)
            if response is not None:
                engine.save_answer(attempt, view.index, response, when)
        engine.submit(attempt, when)
    waiting = corrections.queue_page(quiz, people["trainer"]).items
    assert waiting and all(u.response.score == 0 and u.question.type == "short" for u in waiting)
    for unmatched in waiting:
        corrections.mark(unmatched.attempt, unmatched.response.position, rng.choice([0.0, 0.5, 1.0]), "",
                         people["trainer"])
    assert corrections.queue_page(quiz, people["trainer"]).total == 0
    assert corrections.queue_page(quiz, people["trainer"], "marked").total == len(waiting)
    _check_kept_equals_live(quiz)


def test_nobody_marks_their_own_attempt(app, bank, people, make_user):
    both = make_user("both", "trainer", "technician", outlet="GD-GZ-01")
    both.locale = "en"
    db.session.commit()
    client = signed_in(app, "both")
    attempt_id = take(client, "pages-answers", TYPED_WRONG)
    attempt = fresh(attempt_id)
    assert corrections.queue_page(bank["pages-answers"], both).total == 0  # not in their queue
    assert corrections.queue_page(bank["pages-answers"], people["trainer"]).total == 1
    with pytest.raises(corrections.CorrectionError, match="Nobody decides about themselves"):
        corrections.mark(attempt, index_of(attempt, "short"), 1.0, "", both)
    response = _post(client, f"/quizzes/pages-answers/marking/{attempt_id}/{index_of(attempt, 'short') + 1}",
                     {"mark": "1"}, token_from="/quizzes/pages-answers/marking")
    assert response.status_code == 302
    assert "Nobody decides about themselves" in client.get(path_of(response)).get_data(as_text=True)
    assert fresh(attempt_id).score == attempt.score
    assert db.session.scalar(select(func.count()).select_from(ManualMark)) == 0
    # only a typed short answer is marked by hand; a mark outside 0..1 is refused
    with pytest.raises(corrections.CorrectionError, match="Only a typed short answer"):
        corrections.mark(attempt, index_of(attempt, "single"), 1.0, "", people["trainer"])
    with pytest.raises(corrections.CorrectionError, match="from 0 to 1"):
        corrections.mark(attempt, index_of(attempt, "short"), 1.5, "", people["trainer"])
    assert db.session.scalar(select(func.count()).select_from(ManualMark)) == 0


# --- the report: every attempt, the trainer's review, matching by pair ------------------------------

ATTEMPT_ROW = re.compile(r'<tr data-attempt="(\d+)">')


def test_the_report_lists_every_attempt_newest_first_a_page_at_a_time(app, bank, people, make_user):
    app.config["PAGE_SIZE"] = 3
    quiz = bank["pages-analysis"]
    made = []
    for n in range(7):
        user = make_user(f"lister{n}", "technician", outlet="GD-GZ-01" if n % 2 else "GD-FS-01")
        made.append((engine.take(user, quiz, T0 + timedelta(minutes=n), right=n % 4, seed=n).id, n % 2))
    open_one = engine.start(make_user("opener", "technician", outlet="GD-GZ-01"), quiz, "en", T0)
    client = signed_in(app, "trainer")
    pages, _urls = walk(client, "/quizzes/pages-analysis/report/attempts", ATTEMPT_ROW, 3)
    listed = [int(i) for p in pages for i in p]
    assert listed == [i for i, _o in reversed(made)] and open_one.id not in listed
    outlet = db.session.scalar(select(svc.User.outlet_id).where(svc.User.username == "lister1"))
    filtered = ATTEMPT_ROW.findall(client.get(f"/quizzes/pages-analysis/report/attempts?outlet={outlet}")
                                   .get_data(as_text=True))
    assert [int(i) for i in filtered] == [i for i, o in reversed(made) if o][:3]
    assert f'href="/quizzes/attempts/{listed[0]}/result"' in client.get(
        "/quizzes/pages-analysis/report/attempts").get_data(as_text=True)


def test_the_trainer_review_shows_the_key_and_the_candidate_only_what_the_quiz_shows(app, bank, people):
    tech = signed_in(app, "tech")
    attempt_id = take(tech, "pages-score", TYPED_WRONG)
    own = tech.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "megohmmeter" not in own and "Right answer" not in own
    review = signed_in(app, "trainer").get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "Right answer" in review and "megohmmeter" in review and "Their answer" in review
    assert "data-key-shown" in review


def test_item_analysis_breaks_a_matching_question_down_by_pair(app, bank, people, make_user):
    """PARTIAL matches E1 right, E5 and F3 wrong; RIGHT all three; a blank none. Per pair: the
    share of the responses that matched it right, the same kept, aggregated and live."""
    quiz = bank["pages-analysis"]
    take(signed_in(app, "tech"), "pages-analysis", PARTIAL)
    take(signed_in(app, "tech2"), "pages-analysis", RIGHT)
    make_user("blank", "technician", outlet="GD-GZ-01")
    take(signed_in(app, "blank"), "pages-analysis", {})
    expected = [(f"{left} → {right}", share) for (left, right), share in zip(PAIRS, (0.667, 0.333, 0.333))]
    for stats in (svc.item_analysis_kept(quiz, "en"), svc.item_analysis_sql(quiz, "en"),
                  svc.item_analysis(svc.graded_attempts(quiz), "en")):
        matching = next(s for s in stats if s.question.type == "matching")
        assert matching.pairs == expected
        assert all(not s.pairs for s in stats if s.question.type != "matching")
    outlet = people["other"].outlet_id
    matching = next(s for s in svc.item_analysis_sql(quiz, "en", outlet_id=outlet) if s.question.type == "matching")
    assert [share for _t, share in matching.pairs] == [1.0, 1.0, 1.0]
    page = signed_in(app, "trainer").get("/quizzes/pages-analysis/report").get_data(as_text=True)
    assert "data-pairs" in page and "E1 → High-pressure protection" in page and "67%" in page


def test_pairs_of_responses_kept_before_pairs_were_are_added_once(app, bank, people, runner):
    quiz = bank["pages-analysis"]
    take(signed_in(app, "tech"), "pages-analysis", PARTIAL)
    take(signed_in(app, "tech2"), "pages-analysis", RIGHT)
    # as kept before this change: no pair values, in the responses or the kept counts
    db.session.execute(delete(ItemChoice).where(ItemChoice.value.like("pair:%")))
    db.session.execute(delete(OptionStat).where(OptionStat.value.like("pair:%")))
    db.session.commit()
    matching = next(s for s in svc.item_analysis_kept(quiz, "en") if s.question.type == "matching")
    assert [share for _t, share in matching.pairs] == [0.0, 0.0, 0.0]
    result = runner.invoke(args=["quizzes", "keep-responses"])
    assert "4 matching pairs kept" in result.output, result.output
    assert "0 matching pairs kept" in runner.invoke(args=["quizzes", "keep-responses"]).output
    for stats in (svc.item_analysis_kept(quiz, "en"), svc.item_analysis_sql(quiz, "en")):
        matching = next(s for s in stats if s.question.type == "matching")
        assert [share for _t, share in matching.pairs] == [1.0, 0.5, 0.5]


def test_the_new_pages_read_a_constant_number_of_statements(app, bank, people, make_user):
    """Three or twelve rows on a page: the same number of statements (no query per row)."""
    from sqlalchemy import event

    quiz = bank["pages-answers"]
    trainer = signed_in(app, "trainer")

    def statements(url):
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert trainer.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    def grow(start, count):
        for n in range(start, start + count):
            user = make_user(f"many{n}", "technician", outlet="GD-GZ-01")
            attempt = engine.start(user, quiz, "en", T0 + timedelta(minutes=n), seed=n)
            engine.save_answer(attempt, index_of(attempt, "short"), f"wrong {n}", T0 + timedelta(minutes=n))
            engine.submit(attempt, T0 + timedelta(minutes=n))
            corrections.set_override(quiz, user, people["trainer"], 1, False, 0, None)

    urls = ("/quizzes/pages-answers/report/attempts", "/quizzes/pages-answers/marking",
            "/quizzes/pages-answers/overrides", "/quizzes/pages-answers/marking?state=marked")
    grow(0, 3)
    for unmatched in corrections.queue_page(quiz, people["trainer"]).items[:2]:
        corrections.mark(unmatched.attempt, unmatched.response.position, 0.5, "ok", people["trainer"])
    few = [statements(u) for u in urls]
    grow(3, 9)
    for unmatched in corrections.queue_page(quiz, people["trainer"]).items[:6]:
        corrections.mark(unmatched.attempt, unmatched.response.position, 0.5, "ok", people["trainer"])
    assert [statements(u) for u in urls] == few


def test_a_manual_mark_marks_the_persons_eligibility_for_a_new_decision(app, bank, people, tmp_path):
    """Certificates follow a changed pass the way they follow a grading: the attempt's change marks
    the technician's kept eligibility rows stale in the same transaction (and no one else's)."""
    from portal.certification import board
    from portal.certification.loader import load_tiers
    from portal.certification.models import EligibilityStatus

    tiers = """
validity_months: 12
lapse_grace_days: 30
tiers:
  - code: answered
    level: 1
    title: {zh: 答题合格, en: Answered}
    requires:
      quiz: {slug: pages-answers, min_score: 90}
"""
    folder = tmp_path / "certification"
    folder.mkdir()
    (folder / "tiers.yaml").write_text(tiers, encoding="utf-8")
    assert not load_tiers(folder).problems
    attempt_id = take(signed_in(app, "tech"), "pages-answers", {**RIGHT, "short": "insulation tester"})
    take(signed_in(app, "tech2"), "pages-answers", TYPED_WRONG)
    board.refresh_all(date.today())
    db.session.commit()
    assert not db.session.scalar(select(func.count()).select_from(EligibilityStatus)
                                 .where(EligibilityStatus.stale.is_(True)))
    attempt = fresh(attempt_id)
    corrections.mark(attempt, index_of(attempt, "short"), 1.0, "", people["trainer"])
    stale = set(db.session.scalars(select(EligibilityStatus.user_id).where(EligibilityStatus.stale.is_(True))))
    assert stale == {people["technician"].id}
    board.refresh_all(date.today())
    db.session.commit()
    eligible = dict(db.session.execute(select(EligibilityStatus.user_id, EligibilityStatus.eligible)).all())
    assert eligible[people["technician"].id] is True and eligible[people["other"].id] is False


QUEUE_ROW = re.compile(r'class="card marking-item" data-response="(\d+)-\d+"')


def test_the_marking_queue_lists_each_waiting_answer_once_oldest_first_a_page_at_a_time(app, bank, people,
                                                                                        make_user):
    """The queue reads ids from the partial index of answers the key marked 0 (in submission order)
    and loads the page's rows: every waiting answer once, oldest first, the count equal to the
    rows; a marked one leaves it for the "marked" list, newest mark first."""
    app.config["PAGE_SIZE"] = 2
    submitted = []
    for n in range(5):
        make_user(f"queued{n}", "technician", outlet="GD-GZ-01").locale = "en"
        db.session.commit()
        submitted.append(take(signed_in(app, f"queued{n}"), "pages-answers", TYPED_WRONG))
    take(signed_in(app, "tech2"), "pages-answers", RIGHT)  # matched: never in the queue
    trainer = signed_in(app, "trainer")
    pages, _urls = walk(trainer, "/quizzes/pages-answers/marking", QUEUE_ROW, 2)
    assert [int(i) for p in pages for i in p] == submitted and len(pages) == 3
    assert "5 answers" in trainer.get("/quizzes/pages-answers/marking").get_data(as_text=True)

    for attempt_id in (submitted[3], submitted[1]):
        corrections.mark(fresh(attempt_id), index_of(fresh(attempt_id), "short"), 0.5, "", people["trainer"])
    pages, _urls = walk(trainer, "/quizzes/pages-answers/marking", QUEUE_ROW, 2)
    assert [int(i) for p in pages for i in p] == [submitted[0], submitted[2], submitted[4]]
    marked = QUEUE_ROW.findall(trainer.get("/quizzes/pages-answers/marking?state=marked").get_data(as_text=True))
    assert [int(i) for i in marked] == [submitted[1], submitted[3]]
