"""Answer saves under real concurrency: a live gunicorn with several workers, on SQLite and on
PostgreSQL, technicians whose pages post overlapping saves (answering before the last save has
returned, retrying after the connection comes back). Every acknowledged answer is stored, and
the grade equals one recomputed from the answers acknowledged last."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone

import pytest
import yaml
from sqlalchemy import select

from portal.assessment import attempts as engine
from portal.assessment.bank import load_banks, load_quizzes
from portal.assessment.models import Attempt, Question, Quiz
from portal.auth.models import User
from portal.auth.services import create_user
from portal.extensions import db

from .conftest import BACKENDS, PASSWORD, csrf_from, make_app
from .test_production import Browser, _free_port, serve

SLOTS = 12  # questions per attempt
TECHNICIANS = 4
THREADS = 3  # pages (tabs, retries) posting at once for one attempt
ROUNDS = 2  # each thread answers each of its questions this many times (the last one counts)


def key(n: int) -> str:
    return f"key-{n}"


QUESTIONS = [{"id": f"q{n}", "type": "short", "difficulty": 2,
              "text": {"zh": f"第 {n} 题", "en": f"Question {n}"},
              "answers": [{"zh": key(n), "en": key(n)}]} for n in range(SLOTS)]


@pytest.fixture(params=BACKENDS)
def served(request, tmp_path):
    """A migrated-as-models database with the bank, the quiz, technicians and their open
    attempts; gunicorn (3 workers) serving it. Yields (base URL, app for direct reads)."""
    if request.param == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "live.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    app = make_app(tmp_path, uri)
    with app.app_context():
        db.create_all()
        root = tmp_path / "quizzes"
        (root / "live" / "all").mkdir(parents=True)
        (root / "live" / "all" / "bank.yaml").write_text(
            yaml.safe_dump({"questions": QUESTIONS}, allow_unicode=True), encoding="utf-8")
        (root / "live-exam.quiz.yaml").write_text(yaml.safe_dump({
            "title": {"zh": "考试", "en": "Exam"}, "shuffle": True, "review": "explanations", "pass_mark": 50,
            "sections": [{"draw": SLOTS, "categories": ["live/all"]}]}, allow_unicode=True), encoding="utf-8")
        for report in (load_banks(root), load_quizzes(root)):
            assert not report.problems, [str(p) for p in report.problems]
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == "live-exam"))
        for n in range(TECHNICIANS):
            user = create_user(f"tech{n}", ["technician"], PASSWORD, name=f"Tech {n}")
            user.locale = "en"
            db.session.commit()
            engine.start(user, quiz, "en", datetime.now(timezone.utc), seed=n)
        db.session.remove()
        db.engine.dispose()

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update({"PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "LANG": "C.UTF-8",
                "DATABASE_URL": uri, "SECRET_KEY": "live-test-secret"})
    port = _free_port()
    with serve(env, port) as base:
        yield base, app


def _attempts(app) -> dict[str, Attempt]:
    with app.app_context():
        rows = db.session.execute(select(User.username, Attempt).join(Attempt, Attempt.user_id == User.id)).all()
        out = {name: attempt for name, attempt in rows}
        for attempt in out.values():
            db.session.expunge(attempt)
        db.session.remove()
        return out


def _question_numbers(app) -> dict[int, int]:
    """Question id → its number n (its key is key(n))."""
    with app.app_context():
        numbers = {q.id: int(q.ident[1:]) for q in db.session.scalars(select(Question))}
        db.session.remove()
        return numbers


def test_overlapping_saves_are_all_stored_and_graded(served):
    base, app = served
    attempts = _attempts(app)
    numbers = _question_numbers(app)
    assert len(attempts) == TECHNICIANS

    # Each page (thread) owns some questions of its attempt and answers them in turns with the
    # other pages of the same attempt: first wrong, then (last) right on even slots, wrong on odd.
    def final_value(slot: int, attempt: Attempt) -> str:
        n = numbers[attempt.items[slot]["question"]]
        return key(n) if slot % 2 == 0 else f"wrong-{n}"

    acknowledged: dict[tuple[str, int], str] = {}
    refused: list[str] = []
    lock = threading.Lock()
    pages = []
    for username, attempt in attempts.items():
        for t in range(THREADS):
            browser = Browser(base)
            assert browser.login(username, PASSWORD) == 302
            status, _headers, html = browser.request(f"/quizzes/attempts/{attempt.id}")
            assert status == 200
            pages.append((browser, csrf_from(html), username, attempt, list(range(t, SLOTS, THREADS))))
    start = threading.Barrier(len(pages))

    def page_posts(browser, token, username, attempt, slots):
        start.wait()
        for round_ in range(ROUNDS):
            for slot in slots:
                value = final_value(slot, attempt) if round_ == ROUNDS - 1 else f"draft-{round_}-{slot}"
                status, _headers, body = browser.request(
                    f"/quizzes/attempts/{attempt.id}/answer",
                    {"csrf_token": token, "index": str(slot), "lang": "en", f"q{slot}": value})
                with lock:
                    if status == 200 and json.loads(body)["ok"] is True:
                        acknowledged[(username, slot)] = value
                    else:
                        refused.append(f"{username} {slot}: {status} {body[:200]}")

    threads = [threading.Thread(target=page_posts, args=page) for page in pages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert refused == []
    assert len(acknowledged) == TECHNICIANS * SLOTS

    # Every acknowledged answer is stored: the one each question's page acknowledged last.
    stored = _attempts(app)
    for username, attempt in stored.items():
        assert attempt.status == "open"
        assert attempt.answers == {str(slot): acknowledged[(username, slot)] for slot in range(SLOTS)}, username

    # Submit: the grade is the one recomputed from those answers (half right: 50 %, passed).
    for username, attempt in stored.items():
        browser = Browser(base)
        assert browser.login(username, PASSWORD) == 302
        _status, _headers, html = browser.request(f"/quizzes/attempts/{attempt.id}")
        status, _headers, _body = browser.request(f"/quizzes/attempts/{attempt.id}/submit",
                                                  {"csrf_token": csrf_from(html), "lang": "en"})
        assert status == 302
    for username, attempt in _attempts(app).items():
        expected = [1.0 if acknowledged[(username, slot)] == key(numbers[item["question"]]) else 0.0
                    for slot, item in enumerate(attempt.items)]
        assert attempt.status == "submitted"
        assert attempt.scores == expected == [1.0 if slot % 2 == 0 else 0.0 for slot in range(SLOTS)]
        assert attempt.score == 50.0 and attempt.passed is True

    # A submit racing the saves (the exam's last seconds): each save is either acknowledged and
    # then graded, or refused as closed; none is acknowledged and left out of the grade.
    attempt_of = {}
    pages, submitters = [], []
    for username in attempts:
        browser = Browser(base)
        assert browser.login(username, PASSWORD) == 302
        _status, _headers, html = browser.request("/quizzes/live-exam")
        status, headers, _body = browser.request("/quizzes/live-exam/start", {"csrf_token": csrf_from(html)})
        assert status == 302
        attempt_id = int(headers["Location"].rstrip("/").rsplit("/", 1)[1])
        _status, _headers, html = browser.request(f"/quizzes/attempts/{attempt_id}")
        with app.app_context():
            items = db.session.get(Attempt, attempt_id).items
            db.session.remove()
        half = threading.Event()
        submitters.append((browser, csrf_from(html), attempt_id, half))
        attempt_of[username] = attempt_id
        for t in range(THREADS):
            page = Browser(base)
            assert page.login(username, PASSWORD) == 302
            _status, _headers, html = page.request(f"/quizzes/attempts/{attempt_id}")
            pages.append((page, csrf_from(html), username, attempt_id, items, list(range(t, SLOTS, THREADS)), half))
    last_ack: dict[tuple[str, int], str] = {}
    unexpected: list[str] = []
    start = threading.Barrier(len(pages) + len(submitters))

    def racing_saves(page, token, username, attempt_id, items, slots, half):
        start.wait()
        for round_ in range(ROUNDS):
            for slot in slots:
                right = round_ == ROUNDS - 1 and slot % 2 == 0
                value = key(numbers[items[slot]["question"]]) if right else f"draft-{round_}-{slot}"
                status, _headers, body = page.request(
                    f"/quizzes/attempts/{attempt_id}/answer",
                    {"csrf_token": token, "index": str(slot), "lang": "en", f"q{slot}": value})
                reply = json.loads(body)
                with lock:
                    if status == 200 and reply["ok"] is True:
                        last_ack[(username, slot)] = value
                        if sum(1 for (name, _s) in last_ack if name == username) >= SLOTS // 2:
                            half.set()
                    elif not (status == 409 and reply.get("closed") is True):
                        unexpected.append(f"{username} {slot}: {status} {body[:200]}")
        half.set()

    def racing_submit(browser, token, attempt_id, half):
        start.wait()
        half.wait(timeout=120)
        status, _headers, _body = browser.request(f"/quizzes/attempts/{attempt_id}/submit",
                                                  {"csrf_token": token, "lang": "en"})
        if status != 302:
            unexpected.append(f"submit {attempt_id}: {status}")

    threads = ([threading.Thread(target=racing_saves, args=page) for page in pages]
               + [threading.Thread(target=racing_submit, args=s) for s in submitters])
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert unexpected == []
    with app.app_context():
        for username, attempt_id in attempt_of.items():
            attempt = db.session.get(Attempt, attempt_id)
            acked = {str(slot): value for (name, slot), value in last_ack.items() if name == username}
            assert attempt.status == "submitted"
            assert attempt.answers == acked, username  # every acknowledged answer, and only those
            assert attempt.scores == [1.0 if acked.get(str(slot)) == key(numbers[item["question"]]) else 0.0
                                      for slot, item in enumerate(attempt.items)]
            assert attempt.score == round(100 * sum(attempt.scores) / SLOTS, 2)
        db.session.remove()
