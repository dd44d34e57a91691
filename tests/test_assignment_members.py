"""The kept course-assignment members (learning.members / learning.keeper) equal the live rule
after a random sequence of assignments, lessons done and undone, quiz passes, late joiners,
outlet moves, outlet product lines changing, deactivation, and quiz attempts failed or left open
(which the keeper skips: no pass); so do the grouped figures read from them (lines by region,
province and outlet, in order and a page at a time), the migration's fill of the table, and the
cohorts' grouped figures (members, who is behind)."""

from __future__ import annotations

import importlib.util
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.assessment import attempts
from portal.assessment import services as assessment
from portal.assessment.models import Attempt, Question
from portal.auth import services as accounts
from portal.auth.models import Outlet, User
from portal.extensions import db
from portal.learning import members
from portal.learning import services as learning
from portal.learning.models import Assignment, AssignmentMember, Cohort, Course
from portal.records.dashboard import overdue_rows, overdue_rows_live

from .conftest import pass_quiz

TODAY = date.today()
MIGRATION = (Path(__file__).resolve().parent.parent / "migrations" / "versions"
             / "20261206_c2d8e4f6a913_learning_assignment_members_kept.py")


def _migration():
    spec = importlib.util.spec_from_file_location("members_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(lines):
    return sorted((l.name, l.assigned, l.complete, l.overdue) for l in lines)


def _ordered(lines):
    return [(l.id, l.name, l.assigned, l.complete, l.overdue) for l in lines]


def _kept_rows():
    table = AssignmentMember.__table__
    return sorted(db.session.execute(select(table.c.assignment_id, table.c.user_id, table.c.due_on,
                                            table.c.completed_at)).all())


def check_fill(app) -> list:
    """Empty the kept table and fill it as the migration does: the same rows as the keeper's."""
    kept = _kept_rows()
    db.session.execute(AssignmentMember.__table__.delete())
    _migration().fill(db.session.connection(), app.config["BABEL_DEFAULT_TIMEZONE"])
    filled = _kept_rows()
    db.session.commit()
    assert filled == kept
    return kept


def _check(today: date) -> None:
    db.session.expire_all()
    for assignment in db.session.scalars(select(Assignment)):
        kept, live = learning.assignment_report(assignment, today), learning.assignment_report_live(assignment, today)
        assert (kept.assigned, kept.complete) == (live.assigned, live.complete)
        assert [u.id for u in kept.overdue] == [u.id for u in live.overdue]
        assert len(kept.overdue) == len(live.overdue)
        for level in ("regions", "provinces", "outlets"):
            assert _lines(getattr(kept, level)) == _lines(getattr(live, level)), level
            # In the same order: the outlet lines are sorted and paged by SQL.
            assert _ordered(getattr(kept, level)) == _ordered(getattr(live, level)), level
        outlets = _ordered(live.outlets)
        assert len(kept.outlets) == len(outlets)
        for size in (1, 2, 3):  # every page of the outlet lines, read with LIMIT/OFFSET
            assert [line for start in range(0, len(outlets) + size, size)
                    for line in _ordered(kept.outlets[start:start + size])] == outlets
        states = members.member_states(assignment.id, today)
        targets = learning.assignment_targets(assignment)
        assert set(states) == {u.id for u in targets}
        for u in targets:
            assert members.due_of(assignment.id, u.id) == learning.due_for(assignment, u)
    kept_rows = [(a.id, u.id) for a, u in overdue_rows(today)]
    assert kept_rows == [(a.id, u.id) for a, u in overdue_rows_live(today)]
    assert len(overdue_rows(today)) == len(kept_rows) == learning.trainer_summary(today)["overdue"]
    cohorts = list(db.session.scalars(select(Cohort).order_by(Cohort.id)))
    assert learning.cohort_figures(cohorts, today) == {
        c.id: (len(c.members), learning.behind_count(c, today)) for c in cohorts}


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_members_equal_the_live_rule(app, quizzes, make_user, users, network, seed):
    rng = random.Random(seed)
    outlets = network["outlets"]
    techs = [users["technician"]] + [make_user(f"tech{i}", "technician", outlet=rng.choice(outlets).code,
                                               start_date=TODAY - timedelta(days=rng.randint(0, 400)))
                                     for i in range(6)]
    courses = list(db.session.scalars(select(Course).where(Course.kind != "onboarding").order_by(Course.slug)))
    onboarding = db.session.scalar(select(Course).where(Course.kind == "onboarding").order_by(Course.slug))
    trainer = users["trainer"]
    # Two cohorts part-way through the programme (and one not started): who is behind changes
    # with lessons done and undone and sign-offs passed or failed.
    for number, start in enumerate((TODAY - timedelta(days=rng.randint(3, 12)), TODAY - timedelta(days=30),
                                    TODAY + timedelta(days=3))):
        learning.create_cohort(f"C{number}", onboarding, start, [trainer], techs[number * 2:number * 2 + 2], trainer)
    tasks = onboarding.tasks()
    for step in range(45):
        action = rng.choice(["assign", "done", "done", "undo", "quiz", "fail", "open", "join", "move", "active",
                             "products", "onboarding", "signoff"])
        tech = rng.choice(techs)
        if action == "assign":
            scope = rng.choice(["all", "region", "product"])
            try:
                learning.create_assignment(rng.choice(courses), scope, TODAY + timedelta(days=rng.randint(-20, 20)),
                                           trainer, region=network["region"],
                                           product=rng.choice(["water-heater", "washing-machine"]))
            except learning.LearningError:
                db.session.rollback()
        elif action in ("done", "undo"):
            course = rng.choice(courses)
            lessons = course.lessons()
            for lesson in (lessons if rng.random() < 0.5 else rng.sample(lessons, 1)):
                learning.set_done(tech, lesson, action == "done")
        elif action == "onboarding":
            lessons = onboarding.lessons()
            for lesson in (lessons[:rng.randint(1, len(lessons))] if rng.random() < 0.5 else rng.sample(lessons, 2)):
                learning.set_done(tech, lesson, rng.random() < 0.8)
        elif action == "signoff":
            task = rng.choice(tasks)
            n = len(task.checklist)
            passed = rng.random() < 0.7
            try:
                learning.record_signoff(task, tech, trainer, [(True, "")] * (n - 1) + [(passed, "" if passed else "no")])
            except learning.LearningError:
                db.session.rollback()
        elif action == "quiz":
            course = rng.choice([c for c in courses if c.quiz] or courses)
            if course.quiz:
                try:
                    pass_quiz(tech, course.quiz)
                except attempts.AttemptError:  # attempts used up by failed ones (below)
                    db.session.rollback()
        elif action in ("fail", "open"):
            # A failed attempt, or one left open with an answer saved: the keeper skips both
            # (no pass), and the kept rows must still equal the live rule.
            course = rng.choice([c for c in courses if c.quiz] or courses)
            if course.quiz:
                quiz = assessment.quiz_by_slug(course.quiz)
                now = datetime.now(timezone.utc) - timedelta(days=90 - step)  # before the passes: no cooldown
                try:
                    if action == "fail":
                        attempts.take(tech, quiz, now, right=0, seed=step)
                    else:
                        attempt = attempts.start(tech, quiz, "en", now, seed=step)
                        question = db.session.get(Question, attempt.items[0]["question"])
                        attempts.save_answer(attempt, 0, attempts.model_answer(question, attempt.items[0], "en"),
                                             now)
                except attempts.AttemptError:  # a cooldown or the attempts used up
                    db.session.rollback()
        elif action == "join":
            techs.append(make_user(f"join{step}", "technician", outlet=rng.choice(outlets + [None]) and
                                   rng.choice(outlets).code, start_date=TODAY - timedelta(days=rng.randint(0, 30))))
        elif action == "move":
            target = rng.choice(outlets + [None])
            accounts.update_user(tech, name=tech.name, roles=sorted(tech.roles),
                                 outlet_code=target.code if target else None, start_date=tech.start_date, actor=None)
        elif action == "active":
            accounts.set_active(tech, not tech.active, None)
        else:
            outlet = db.session.get(Outlet, rng.choice(outlets).id)
            outlet.products = rng.choice([[], ["water-heater"], ["washing-machine"]])
            db.session.commit()
        for offset in (0, 30):
            _check(TODAY + timedelta(days=offset))
        if step % 9 == 8:
            check_fill(app)
    assert check_fill(app)  # the fill made rows (an empty table would equal an empty fill)
    assert db.session.scalar(select(db.func.count()).select_from(User)) > 0
    made = {(a.status, bool(a.passed)) for a in db.session.scalars(select(Attempt))}
    assert {("open", False), ("submitted", False), ("submitted", True)} <= made, made


def test_a_pass_completes_the_kept_member_and_a_fail_or_an_open_attempt_does_not(app, quizzes, users, network):
    """The keeper skips attempts with no pass (one left open with answers saved, a failed one);
    the pass that completes the course is kept in the same transaction."""
    tech, trainer = users["technician"], users["trainer"]
    course = next(c for c in db.session.scalars(select(Course).where(Course.kind != "onboarding")
                                                 .order_by(Course.slug)) if c.quiz)
    assignment = learning.create_assignment(course, "all", TODAY + timedelta(days=10), trainer)
    for lesson in course.lessons():
        learning.set_done(tech, lesson, True)
    quiz = assessment.quiz_by_slug(course.quiz)
    long_ago = datetime.now(timezone.utc) - timedelta(days=60)

    def complete() -> int:
        _check(TODAY)
        return learning.assignment_report(assignment, TODAY).complete

    assert complete() == 0
    attempt = attempts.start(tech, quiz, "en", long_ago, seed=1)
    question = db.session.get(Question, attempt.items[0]["question"])
    attempts.save_answer(attempt, 0, attempts.model_answer(question, attempt.items[0], "en"), long_ago)
    assert complete() == 0
    attempts.take(tech, quiz, long_ago, right=0, seed=1)  # closes the open one, failed
    assert complete() == 0
    pass_quiz(tech, course.quiz)
    assert complete() == 1
