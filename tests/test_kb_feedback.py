""""Did this fix it?": one technician has one current answer per case, whatever they click."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.kb import feedback
from portal.kb.models import Case, CaseFeedback, CaseFeedbackAnswer

from .conftest import get_csrf, login


def _count(model, case_id):
    return db.session.scalar(select(func.count(model.id)).where(model.case_id == case_id))


def test_five_clicks_count_once(app, kb_cases, users, client):
    assert login(client, "tech").status_code == 302
    token = get_csrf(client, "/cases/demo-e1-en")
    for answer in ("yes", "yes", "no", "yes", "yes"):
        assert client.post("/cases/demo-e1-en/feedback",
                           data={"csrf_token": token, "fixed": answer}).status_code == 302
    case_id = kb_cases["demo-e1-en"].id
    assert _count(CaseFeedback, case_id) == 1
    assert _count(CaseFeedbackAnswer, case_id) == 5
    assert feedback.stats(case_id)["total"] == 1 and feedback.stats(case_id)["yes"] == 1


def test_the_database_refuses_a_second_current_answer(app, kb_cases, users):
    case, tech = kb_cases["demo-e1-zh"], users["technician"]
    db.session.add(CaseFeedback(case_id=case.id, user_id=tech.id, fixed=True))
    db.session.commit()
    db.session.add(CaseFeedback(case_id=case.id, user_id=tech.id, fixed=False))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_rates_after_a_random_sequence_are_each_technicians_last_answer(app, kb_cases, make_user,
                                                                        users):
    rng = random.Random(20261206)
    techs = [users["technician"]] + [make_user(f"tech{n}", "technician") for n in range(4)]
    cases = [kb_cases["demo-e1-zh"], kb_cases["demo-fan-en"], kb_cases["demo-drain-zh"]]
    last = {}
    for _ in range(60):
        tech, case, fixed = rng.choice(techs), rng.choice(cases), rng.random() < 0.5
        feedback.answer(case, tech, fixed, rng.choice(["", "电容坏了"]))
        last[(case.id, tech.id)] = fixed
    for case in cases:
        mine = [fixed for (case_id, _u), fixed in last.items() if case_id == case.id]
        got = feedback.stats(case.id)
        assert (got["yes"], got["total"]) == (sum(mine), len(mine))
    report = {c.id: (total, yes) for c, total, yes in feedback.lowest_fix_rates()}
    for case in cases:
        mine = [fixed for (case_id, _u), fixed in last.items() if case_id == case.id]
        if mine:
            assert report[case.id] == (len(mine), sum(mine))
    assert db.session.scalar(select(func.count(CaseFeedbackAnswer.id))) == 60


def test_concurrent_clicks_leave_one_current_answer(app, kb_cases, users):
    """Threads, each with its own connection, answer at once (SQLite and PostgreSQL)."""
    case_id, user_id = kb_cases["demo-e1-zh"].id, users["technician"].id
    clicks, errors = 8, []
    start = threading.Barrier(clicks)

    def click(n):
        try:
            with app.app_context():
                case = db.session.get(Case, case_id)
                user = db.session.get(type(users["technician"]), user_id)
                start.wait(timeout=30)
                feedback.answer(case, user, n % 2 == 0, f"click {n}")
                db.session.remove()
        except Exception as exc:  # reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=click, args=(n,)) for n in range(clicks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    db.session.expire_all()
    assert _count(CaseFeedback, case_id) == 1
    assert _count(CaseFeedbackAnswer, case_id) == clicks
    current = db.session.scalar(select(CaseFeedback).where(CaseFeedback.case_id == case_id))
    assert current.comment in {f"click {n}" for n in range(clicks)}
    assert current.fixed == (int(current.comment.split()[1]) % 2 == 0)
    assert feedback.stats(case_id)["total"] == 1


def test_migration_keeps_each_technicians_latest_answer_and_the_history(backend, tmp_path, request):
    from datetime import datetime, timedelta, timezone

    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from .conftest import make_app

    if backend == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "migrated.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    app = make_app(tmp_path, uri)
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with app.app_context():
        upgrade(revision="15558c7f0a5a")  # before: one row per click
        with db.engine.begin() as conn:
            for uid, name in ((1, "techa"), (2, "techb")):
                conn.execute(sa.text(
                    'INSERT INTO "user" (id, username, name, password_hash, active, '
                    'must_change_password, auth_version, created_at) '
                    "VALUES (:id, :u, :u, 'x', true, false, 1, :t)"), {"id": uid, "u": name, "t": t0})
            conn.execute(sa.text(
                "INSERT INTO kb_case (id, slug, key, lang, title, product, error_codes, models, "
                "components, symptoms, series, related, body, status, origin, version, created_at, "
                "updated_at) VALUES (1, 'c-zh', 'c', 'zh', 'C', 'air-conditioner', '[]', '[]', '[]', "
                "'[]', '', '[]', 'b', 'published', 'content', 1, :t, :t)"), {"t": t0})
            clicks = [(1, True, "先说修好了"), (1, False, "其实是电容"), (2, True, ""), (2, True, ""),
                      (None, False, "deleted user")]
            for n, (uid, fixed, comment) in enumerate(clicks):
                conn.execute(sa.text(
                    "INSERT INTO kb_case_feedback (case_id, user_id, fixed, comment, created_at) "
                    "VALUES (1, :u, :f, :c, :t)"),
                    {"u": uid, "f": fixed, "c": comment, "t": t0 + timedelta(minutes=n)})
        upgrade()
        current = {(f.user_id, f.fixed, f.comment) for f in db.session.scalars(select(CaseFeedback))}
        assert current == {(1, False, "其实是电容"), (2, True, ""), (None, False, "deleted user")}
        assert db.session.scalar(select(func.count(CaseFeedbackAnswer.id))) == 5
        assert feedback.stats(1)["total"] == 3 and feedback.stats(1)["yes"] == 1
        assert "先说修好了" in [c.comment for c in feedback.stats(1)["comments"]]
        db.session.remove()
        downgrade(revision="15558c7f0a5a")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM kb_case_feedback")).scalar() == 5
        db.engine.dispose()


def test_the_case_page_script_gets_json_and_the_reader_sees_their_answer(app, kb_cases, users, client):
    assert login(client, "tech").status_code == 302
    token = get_csrf(client, "/cases/demo-e1-en")
    response = client.post("/cases/demo-e1-en/feedback", data={"csrf_token": token, "fixed": "no",
                                                               "comment": "kept offline"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json()["ok"] is True
    bad = client.post("/cases/demo-e1-en/feedback", data={"csrf_token": token, "fixed": "maybe"},
                      headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.get_json()["ok"] is False
    page = client.get("/cases/demo-e1-en?lang=en").get_data(as_text=True)
    assert "Your answer: not fixed. You can change it." in page
    assert _count(CaseFeedbackAnswer, kb_cases["demo-e1-en"].id) == 1
