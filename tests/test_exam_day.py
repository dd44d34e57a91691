"""The exam-day load script (benchmarks/exam_day.py) against a live gunicorn, on SQLite and on
PostgreSQL: technicians sign in, take the shipped onboarding final at the same time, save every
answer (some changed twice) and submit; nothing acknowledged is lost, every grade equals its
recomputation, no 5xx. And the script does count a lost answer when one is lost (one is removed
from the database before its check). Behaviour only: the script's timings are not asserted."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from portal.assessment.bank import load_banks, load_quizzes
from portal.auth.services import create_user
from portal.extensions import db
from portal.learning.loader import load_courses

from .conftest import BACKENDS, PASSWORD, ROOT_DIR, make_app
from .test_production import _free_port, serve

TECHNICIANS = 10
SPEC = importlib.util.spec_from_file_location("exam_day", ROOT_DIR / "benchmarks" / "exam_day.py")
exam_day = sys.modules.setdefault("exam_day", importlib.util.module_from_spec(SPEC))
SPEC.loader.exec_module(exam_day)


@pytest.fixture(params=BACKENDS)
def exam(request, tmp_path):
    """The shipped courses, banks and quizzes; two groups of technicians (the final allows one
    attempt a day, so each run has its own); gunicorn serving it. Yields (base URL, database
    URL, groups of accounts)."""
    if request.param == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "exam.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    app = make_app(tmp_path, uri)
    groups = [[], []]
    with app.app_context():
        db.create_all()
        for report in (load_courses(ROOT_DIR / "content" / "courses"), load_banks(ROOT_DIR / "quizzes"),
                       load_quizzes(ROOT_DIR / "quizzes")):
            assert not report.problems, [str(p) for p in report.problems[:3]]
        for group, accounts in enumerate(groups):
            for n in range(TECHNICIANS):
                create_user(f"exam{group}-{n}", ["technician"], PASSWORD, name=f"Exam {group} {n}")
                accounts.append((f"exam{group}-{n}", PASSWORD))
        db.session.remove()
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update({"PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "LANG": "C.UTF-8",
                "DATABASE_URL": uri, "SECRET_KEY": "exam-day-test-secret"})
    with serve(env, _free_port()) as base:
        yield base, uri, groups


def test_exam_day_loses_nothing_and_counts_a_loss(exam):
    base, uri, (first, second) = exam

    # Two pages per technician saving at once: overlapping writes to every attempt.
    result = exam_day.run(base, first, "onboarding-final", duration_s=8, database_url=uri, think_s=0.02, seed=1,
                          tabs=2)
    assert result["problems"] == []
    assert result["tabs"] == 2
    assert result["signed_in_and_started"] == result["submitted"] == TECHNICIANS
    assert result["saves"] > TECHNICIANS and result["acknowledged"] == result["saves"]
    assert result["answers_checked"] > 0 and result["attempts_checked"] == TECHNICIANS
    assert result["lost"] == 0 and result["ambiguous"] == 0, result["mismatches"]
    assert result["regraded_differently"] == 0 and result["left_open"] == 0, result["mismatches"]
    assert result["status_5xx"] == 0 and result["errors"] == 0 and result["no_reply"] == 0
    # The sign-ins, the opening (starts and attempt pages) and the saves are reported apart.
    assert all(result[k] is not None for k in ("login_p95_ms", "start_p95_ms", "attempt_page_p95_ms", "save_p95_ms"))

    # One acknowledged answer removed from the database: the script must report it lost.
    result = exam_day.run(base, second, "onboarding-final", duration_s=4, database_url=uri, think_s=0.02,
                          inject_loss=True, seed=2)
    injected = result["injected"]
    assert injected is not None
    assert result["lost"] == 1, result["mismatches"]
    # … and it names that answer: the one removed, not some other.
    named = [m for m in result["mismatches"] if ": acknowledged " in m]
    assert named == [f"attempt {injected['attempt']} q{injected['index']}: acknowledged {injected['removed']!r}, "
                     f"stored None"], result["mismatches"]
    assert result["status_5xx"] == 0 and result["errors"] == 0


def test_exam_day_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        exam_day.run("http://example.com", [("a", "b")], "onboarding-final", 1, database_url="sqlite://")
