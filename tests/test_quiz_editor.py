"""The quiz editor (/quizzes/new, /quizzes/SLUG/edit, /quizzes/SLUG/export): creating and editing
a quiz in the browser with the loader's own validation, the change log, `content load` keeping a
browser edit (and reporting a changed file), the export round trip, attempts unaffected by an
edit, and who may do it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from portal.assessment import attempts as engine
from portal.assessment.bank import load_banks, load_quizzes, parse_quiz
from portal.assessment.models import Quiz, QuizEvent
from portal.certification.models import Tier
from portal.extensions import db
from portal.messages import render

from .conftest import csrf_from, login

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
# Six true/false questions, two of each difficulty, in category edit/bank.
QUESTIONS = [{"id": f"q{n}", "type": "truefalse", "difficulty": n % 3 + 1, "answer": n % 2 == 0,
              "text": {"zh": f"第 {n} 题说法正确。", "en": f"Statement {n} is right."}} for n in range(6)]
FILE_QUIZ = {"title": {"zh": "文件测验", "en": "File quiz"}, "time_limit_minutes": 20, "pass_mark": 0,
             "attempts": 0, "review": "explanations", "shuffle": False,
             "sections": [{"draw": 4, "categories": ["edit/bank"]}]}


@pytest.fixture
def root(app, users, tmp_path) -> Path:
    """quizzes/ with the bank and one quiz file (file-quiz), loaded as `content load` does; the
    people read the pages in English."""
    for user in users.values():
        user.locale = "en"
    db.session.commit()
    root = tmp_path / "quizzes"
    (root / "edit" / "bank").mkdir(parents=True)
    (root / "edit" / "bank" / "bank.yaml").write_text(yaml.safe_dump({"questions": QUESTIONS}), encoding="utf-8")
    write_quiz(root, "file-quiz", FILE_QUIZ)
    for report in (load_banks(root), load_quizzes(root)):
        assert not report.problems, [str(p) for p in report.problems]
    return root


def write_quiz(root: Path, slug: str, spec: dict) -> Path:
    path = root / f"{slug}.quiz.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def form(client, url: str, fields: dict | None = None, **more) -> dict:
    """The editor's fields as a browser would post them (one section unless given)."""
    token = csrf_from(client.get(url).get_data(as_text=True))
    fields = {**(fields or {}), **more}
    data = {"csrf_token": token, "title_zh": "新测验", "title_en": "New quiz", "time_limit_minutes": "30",
            "pass_mark": "75", "attempts": "2", "cooldown_hours": "12", "review": "answers", "shuffle": "y",
            "sections-0-draw": "3", "sections-0-categories": "edit/bank", "sections-0-tags": "",
            "sections-0-easy": "1", "sections-0-medium": "", "sections-0-hard": "", "save": "1"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def quiz(slug: str) -> Quiz:
    db.session.expire_all()
    return db.session.scalar(select(Quiz).where(Quiz.slug == slug))


def test_a_trainer_creates_a_quiz_and_it_is_logged(client, users, root):
    login(client, "trainer")
    response = client.post("/quizzes/new", data=form(client, "/quizzes/new", slug="web-quiz"))
    assert response.status_code == 302 and response.headers["Location"] == "/quizzes/web-quiz/edit"
    made = quiz("web-quiz")
    assert (made.title_zh, made.title_en, made.source) == ("新测验", "New quiz", "browser")
    assert made.settings == {"time_limit_minutes": 30, "pass_mark": 75, "attempts": 2, "cooldown_hours": 12,
                             "review": "answers", "shuffle": True}
    assert made.sections == [{"draw": 3, "categories": ["edit/bank"], "tags": [], "difficulty": {"1": 1}}]
    assert made.edited_in_browser_at is not None and made.edited_by_id == users["trainer"].id
    event = db.session.scalar(select(QuizEvent).where(QuizEvent.quiz_id == made.id))
    assert (event.action, event.actor_id, event.msg_id) == ("created", users["trainer"].id, "assessment.quiz-created")
    assert render(event.msg_id, event.params, "en") == "李敏 created the quiz New quiz"
    assert render(event.msg_id, event.params, "zh") != render(event.msg_id, event.params, "en")
    assert "新测验" in render(event.msg_id, event.params, "zh")
    # the technicians see it
    tech = client.application.test_client()
    login(tech, "tech")
    assert tech.get("/quizzes/web-quiz").status_code == 200


def test_a_refused_quiz_keeps_what_was_typed_and_writes_nothing(client, users, root):
    login(client, "trainer")
    data = form(client, "/quizzes/new", slug="too-big", title_en="Typed title", **{"sections-0-draw": "50"})
    response = client.post("/quizzes/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Draws 50 questions but the bank has 6." in page  # the loader's own message
    assert 'value="Typed title"' in page and 'value="too-big"' in page and 'value="50"' in page
    assert quiz("too-big") is None and db.session.scalar(select(QuizEvent)) is None
    # the same check refuses a mix larger than the draw, a pass mark out of range and a missing title
    data = form(client, "/quizzes/new", slug="bad", title_zh="", pass_mark="130",
                **{"sections-0-draw": "2", "sections-0-easy": "3"})
    page = client.post("/quizzes/new", data=data).get_data(as_text=True)
    assert "The mix asks for more than the draw." in page and "A number from 0 to 100." in page
    assert "title needs zh and en texts." in page and 'value="130"' in page
    assert quiz("bad") is None
    # a name that is taken, or one the pages use
    for slug in ("file-quiz", "reports"):
        page = client.post("/quizzes/new", data=form(client, "/quizzes/new", slug=slug)).get_data(as_text=True)
        assert 'class="error"' in page and quiz("reports") is None


def test_sections_are_added_and_removed_without_javascript(client, users, root):
    login(client, "trainer")
    data = form(client, "/quizzes/new", slug="rows", save=None, add_section="1")
    page = client.post("/quizzes/new", data=data).get_data(as_text=True)
    assert 'name="sections-1-draw"' in page and 'value="New quiz"' in page and quiz("rows") is None
    data = form(client, "/quizzes/new", slug="rows", **{"sections-1-draw": "2", "sections-1-categories": "edit/bank",
                                                        "sections-1-hard": "2"})
    assert client.post("/quizzes/new", data=data).status_code == 302
    assert [s["draw"] for s in quiz("rows").sections] == [3, 2]
    data = form(client, "/quizzes/rows/edit", **{"sections-1-draw": "2", "sections-1-categories": "edit/bank",
                                                 "sections-0-remove": "y", "sections-1-hard": ""})
    assert client.post("/quizzes/rows/edit", data=data).status_code == 302
    assert quiz("rows").sections == [{"draw": 2, "categories": ["edit/bank"], "tags": [], "difficulty": {}}]


def test_an_edit_is_logged_with_what_changed(client, users, root):
    login(client, "admin")
    page = client.get("/quizzes/file-quiz/edit").get_data(as_text=True)
    assert 'value="File quiz"' in page and 'value="20"' in page  # the form shows the quiz as it is
    data = form(client, "/quizzes/file-quiz/edit", title_zh="文件测验", title_en="File quiz", time_limit_minutes="20",
                pass_mark="60", attempts="0", cooldown_hours="", review="explanations", shuffle=None,
                **{"sections-0-draw": "4", "sections-0-easy": ""})
    assert client.post("/quizzes/file-quiz/edit", data=data).status_code == 302
    event = db.session.scalar(select(QuizEvent))
    assert event.action == "edited" and event.changes == {"pass_mark": [0, 60]}
    assert render(event.msg_id, event.params, "en") == "Admin changed the pass mark of the quiz File quiz"
    assert "Admin changed the pass mark" in client.get("/quizzes/file-quiz/edit").get_data(as_text=True)
    # saving again without a change logs nothing
    assert client.post("/quizzes/file-quiz/edit", data=form(client, "/quizzes/file-quiz/edit", {
        k: v for k, v in data.items() if k != "csrf_token"}, shuffle=None)).status_code == 302
    assert len(db.session.scalars(select(QuizEvent)).all()) == 1


def edit_file_quiz(client, **changes):
    data = form(client, "/quizzes/file-quiz/edit", {
        "title_zh": "文件测验", "title_en": "File quiz (edited)", "time_limit_minutes": "20", "pass_mark": "0",
        "attempts": "0", "cooldown_hours": "", "review": "explanations", "shuffle": None,
        "sections-0-draw": "4", "sections-0-easy": "", **changes})
    response = client.post("/quizzes/file-quiz/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def test_a_web_edit_survives_content_load_and_a_changed_file_is_reported(client, users, root):
    login(client, "trainer")
    edit_file_quiz(client, pass_mark="70")
    # the file has not changed since it was loaded: silent, the browser version stays
    report = load_quizzes(root)
    assert not report.problems and not report.warnings and report.unchanged == 1
    assert (quiz("file-quiz").title_en, quiz("file-quiz").setting("pass_mark")) == ("File quiz (edited)", 70)
    # the file changes: the conflict is reported as FILE:LINE: message, the browser version kept
    path = write_quiz(root, "file-quiz", {**FILE_QUIZ, "pass_mark": 90})
    report = load_quizzes(root)
    assert not report.problems and len(report.warnings) == 1
    assert report.warnings[0].startswith(f"{path}:1: quiz file-quiz was edited in the browser on ")
    assert quiz("file-quiz").setting("pass_mark") == 70 and quiz("file-quiz").edited_in_browser_at is not None
    # the `content load` command prints it and does not fail
    from portal.content.cli import content_cli
    result = client.application.test_cli_runner().invoke(content_cli, ["load", str(path)])
    assert result.exit_code == 0 and "quiz file-quiz was edited in the browser" in result.output
    assert quiz("file-quiz").setting("pass_mark") == 70
    # the browser version downloaded into the file: in step again, and the file owns the quiz
    path.write_bytes(client.get("/quizzes/file-quiz/export").data)
    report = load_quizzes(root)
    assert not report.warnings and not report.problems
    assert quiz("file-quiz").edited_in_browser_at is None and quiz("file-quiz").setting("pass_mark") == 70
    path = write_quiz(root, "file-quiz", {**FILE_QUIZ, "pass_mark": 90})
    assert not load_quizzes(root).warnings and quiz("file-quiz").setting("pass_mark") == 90


def test_the_export_round_trips_through_the_loader(client, users, root, tmp_path):
    login(client, "trainer")
    data = form(client, "/quizzes/new", slug="round-trip", title_zh="往返", title_en="Round trip",
                **{"sections-0-tags": "lesson:x, case:y", "sections-0-draw": "0"})
    # (a draw of 0 is refused: the loader needs 1 or more)
    assert "How many questions to draw (1 or more)." in client.post("/quizzes/new", data=data).get_data(as_text=True)
    tagged = [{**q, "tags": ["lesson:x"]} for q in QUESTIONS[:2]]
    (root / "edit" / "tagged").mkdir()
    (root / "edit" / "tagged" / "bank.yaml").write_text(yaml.safe_dump({"questions": tagged}), encoding="utf-8")
    assert not load_banks(root).problems
    data = form(client, "/quizzes/new", slug="round-trip", title_zh="往返", title_en="Round trip",
                **{"sections-0-tags": "lesson:x, case:y", "sections-0-draw": "2",
                   "sections-0-categories": "edit/tagged", "sections-0-easy": "",
                   "sections-1-draw": "3", "sections-1-categories": "edit/bank", "sections-1-medium": "1"})
    assert client.post("/quizzes/new", data=data).status_code == 302
    response = client.get("/quizzes/round-trip/export")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="round-trip.quiz.yaml"'
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "round-trip.quiz.yaml").write_bytes(response.data)
    spec, problems = parse_quiz(folder / "round-trip.quiz.yaml")
    made = quiz("round-trip")
    assert problems == []
    assert (spec["slug"], spec["title"], spec["settings"], spec["sections"]) == (
        "round-trip", {"zh": "往返", "en": "Round trip"}, made.settings, made.sections)
    assert made.sections[0]["tags"] == ["lesson:x", "case:y"]
    # and `content load` of it takes it over quietly (the file now says what the browser version says)
    report = load_quizzes(folder)
    assert not report.warnings and not report.problems and quiz("round-trip").source == "file"


def test_attempts_already_started_or_graded_are_unaffected_by_an_edit(client, users, root):
    tech, before = users["technician"], quiz("file-quiz")
    graded = engine.take(tech, before, T0, right=4, lang="en")
    db.session.refresh(graded)
    opened = engine.start(tech, before, "en", T0.replace(hour=11))
    graded_items, open_items, deadline = list(graded.items), list(opened.items), opened.deadline
    graded_score = (graded.score, graded.passed)
    login(client, "trainer")
    edit_file_quiz(client, pass_mark="100", time_limit_minutes="5", review="score",
                   **{"sections-0-draw": "6"})
    after = quiz("file-quiz")
    assert after.setting("pass_mark") == 100 and after.sections[0]["draw"] == 6
    graded, opened = db.session.get(type(graded), graded.id), db.session.get(type(opened), opened.id)
    assert (graded.items, graded.score, graded.passed) == (graded_items, *graded_score)
    assert opened.items == open_items and len(opened.items) == 4 and opened.deadline == deadline
    # graded at the pass mark it started under (0), not the new 100
    engine.submit(opened, T0.replace(hour=11, minute=5))
    assert opened.score == 0 and opened.passed is True
    assert opened.settings == {"pass_mark": 0, "review": "explanations"}
    # a new attempt gets the new settings and draw
    fresh = engine.start(tech, after, "en", T0.replace(hour=12))
    assert len(fresh.items) == 6 and fresh.setting("pass_mark") == 100


def test_who_may_create_and_edit(app, client, users, make_user, root):
    def signed_in(username):
        other = app.test_client()
        login(other, username)
        return other

    for role in ("technician", "auditor"):
        client = signed_in(users[role].username)
        assert client.get("/quizzes/new").status_code == 403
        assert client.get("/quizzes/file-quiz/edit").status_code == 403
        token = csrf_from(client.get("/account/password").get_data(as_text=True))
        assert client.post("/quizzes/file-quiz/edit", data={"csrf_token": token, "title_en": "x"}).status_code == 403
    assert quiz("file-quiz").title_en == "File quiz"
    # a trainer who also takes quizzes (holds the technician role) does not set them
    make_user("both", "technician", "trainer", outlet="GD-GZ-01")
    client = signed_in("both")
    assert client.get("/quizzes/new").status_code == 403
    assert client.get("/quizzes/file-quiz/edit").status_code == 403
    # an exam a certification tier names: admins only
    db.session.add(Tier(code="senior", level=2, title_zh="中级技师", title_en="Senior Technician",
                        requirements={"quiz": {"slug": "file-quiz", "min_score": 80}}))
    db.session.commit()
    client = signed_in("trainer")
    assert client.get("/quizzes/file-quiz/edit").status_code == 403
    assert "/quizzes/file-quiz/edit" not in client.get("/quizzes/reports").get_data(as_text=True)
    assert client.get("/quizzes/file-quiz/export").status_code == 200
    client = signed_in("admin")
    assert client.get("/quizzes/file-quiz/edit").status_code == 200
    assert "only administrators may change it" in client.get("/quizzes/file-quiz/edit").get_data(as_text=True)
