"""Quizzes and attempts: draws, shuffling, saving, resume, deadline, double submit, concurrency."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.assessment import attempts
from portal.assessment.bank import load_banks, load_quizzes
from portal.assessment.models import Attempt, Question, Quiz
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def banks(app):
    assert not load_banks(ROOT / "quizzes").problems
    report = load_quizzes(ROOT / "quizzes")
    assert not report.problems, [str(p) for p in report.problems]
    return {q.slug: q for q in db.session.scalars(select(Quiz))}


def _right_response(question: Question, item: dict, lang: str):
    return attempts.model_answer(question, item, lang)


def test_the_shipped_quizzes_draw_by_section_and_difficulty_mix(banks, users):
    final = banks["onboarding-final"]
    attempt = attempts.start(users["technician"], final, "zh", T0, seed=1)
    assert len(attempt.items) == 50
    questions = [db.session.get(Question, i["question"]) for i in attempt.items]
    assert len({q.id for q in questions}) == 50
    first_half = [q for q in questions if any(t.startswith("lesson:onboarding/d0" + d) for t in q.tags
                                              for d in "12345")]
    assert len(first_half) >= 25
    assert sum(1 for q in questions if q.difficulty == 3) >= 10
    assert attempt.deadline == T0 + timedelta(minutes=60)


def test_options_are_shuffled_and_the_page_never_holds_the_key(banks, users):
    quiz = banks["2026-q3-r32-inverter-splits"]
    attempt = attempts.start(users["technician"], quiz, "en", T0, seed=3)
    orders = [i["order"] for i in attempt.items if i["order"]]
    assert any(order != sorted(order) for order in orders)
    for shown in attempts.shown(attempt):
        text = repr(shown.public)
        assert "fraction" not in text and "'answer'" not in text and "'answers'" not in text
    again = attempts.start(users["trainer"], quiz, "en", T0, seed=4)
    assert [i["question"] for i in again.items] != [i["question"] for i in attempt.items]


def test_answers_are_saved_on_the_server_and_an_attempt_resumes(banks, users):
    quiz = banks["2026-q4-heat-pump-water-heaters"]
    attempt = attempts.start(users["technician"], quiz, "zh", T0, seed=5)
    attempts.save_answer(attempt, 0, "whatever", T0 + timedelta(minutes=1))
    db.session.expire_all()
    resumed = attempts.start(users["technician"], quiz, "zh", T0 + timedelta(minutes=2), seed=99)
    assert resumed.id == attempt.id and resumed.answers == {"0": "whatever"}
    assert [i["question"] for i in resumed.items] == [i["question"] for i in attempt.items]


def test_a_perfect_attempt_passes_and_a_double_submit_counts_once(banks, users):
    quiz = banks["2026-q3-r32-inverter-splits"]
    attempt = attempts.start(users["technician"], quiz, "en", T0, seed=6)
    for index, item in enumerate(attempt.items):
        question = db.session.get(Question, item["question"])
        attempts.save_answer(attempt, index, _right_response(question, item, "en"), T0 + timedelta(minutes=5))
    done = attempts.submit(attempt, T0 + timedelta(minutes=10))
    assert done.score == 100 and done.passed and done.status == "submitted"
    again = attempts.submit(attempt, T0 + timedelta(minutes=11))
    assert again.submitted_at == done.submitted_at and again.score == 100
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
    with pytest.raises(attempts.AttemptError):
        attempts.save_answer(attempt, 0, 1, T0 + timedelta(minutes=12))


def test_the_server_enforces_the_deadline(banks, users):
    quiz = banks["2026-q3-r32-inverter-splits"]  # 30 minutes
    attempt = attempts.start(users["technician"], quiz, "en", T0, seed=7)
    first = db.session.get(Question, attempt.items[0]["question"])
    attempts.save_answer(attempt, 0, _right_response(first, attempt.items[0], "en"), T0 + timedelta(minutes=29))
    with pytest.raises(attempts.AttemptError):
        attempts.save_answer(attempt, 1, 0, T0 + timedelta(minutes=31))
    assert attempt.status == "timed_out" and attempt.submitted_at == attempt.deadline
    assert attempt.scores[0] == 1 and attempt.score == pytest.approx(100 / len(attempt.items), abs=0.01)
    # A late submit from a page left open counts as timed out too, with what was saved.
    other = attempts.start(users["trainer"], quiz, "en", T0, seed=8)
    assert attempts.submit(other, T0 + timedelta(hours=2)).status == "timed_out"


def test_attempts_allowed_and_cooldown(banks, users):
    final = banks["onboarding-final"]  # 3 attempts, 24 h apart
    tech = users["technician"]
    first = attempts.start(tech, final, "zh", T0, seed=0)
    attempts.submit(first, T0 + timedelta(minutes=30))
    with pytest.raises(attempts.AttemptError):
        attempts.start(tech, final, "zh", T0 + timedelta(hours=5))  # within the cooldown
    for n in (1, 2):
        start = T0 + timedelta(days=n, hours=n)
        attempts.submit(attempts.start(tech, final, "zh", start, seed=n), start + timedelta(minutes=30))
    with pytest.raises(attempts.AttemptError):
        attempts.start(tech, final, "zh", T0 + timedelta(days=10))  # all three used
    assert attempts.attempts_used(tech, final) == 3


def test_simultaneous_starts_give_one_open_attempt(app, banks, users):
    quiz_id, user_id = banks["2026-q4-heat-pump-water-heaters"].id, users["technician"].id
    results, barrier = [], threading.Barrier(4)

    def start_one(seed):
        with app.app_context():
            from portal.auth.models import User

            quiz, user = db.session.get(Quiz, quiz_id), db.session.get(User, user_id)
            barrier.wait()
            results.append(attempts.start(user, quiz, "zh", T0, seed=seed).id)
            db.session.remove()

    threads = [threading.Thread(target=start_one, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4 and len(set(results)) == 1
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
