"""Courses and onboarding: schedule, content loading, progress and resume, sign-off, assignments."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.content.cli import load_content
from portal.extensions import db
from portal.learning import services as learning
from portal.learning.loader import load_calendar, load_courses
from portal.learning.models import Course, Holiday, Lesson, LessonProgress, PracticalTask, SignOff
from portal.learning.schedule import BEHIND, DONE, IN_PROGRESS, UPCOMING, Calendar, current_day

from .conftest import get_csrf, login, pass_quiz

ROOT = Path(__file__).resolve().parent.parent


def _lesson(course_slug: str, slug: str) -> Lesson:
    return db.session.scalar(select(Lesson).join(Course).where(Course.slug == course_slug, Lesson.slug == slug))


# --- the working-day schedule (plain functions) ---------------------------------------------


def test_working_days_skip_weekends_and_holidays():
    cal = Calendar(holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}))
    # Thursday 2026-09-24: Thu, Fri, then Mon 28, Tue 29, Wed 30; 1-2 Oct are holidays; Mon 5 Oct…
    days = cal.working_days(date(2026, 9, 24), 7)
    assert days == [date(2026, 9, 24), date(2026, 9, 25), date(2026, 9, 28), date(2026, 9, 29),
                    date(2026, 9, 30), date(2026, 10, 5), date(2026, 10, 6)]
    assert all(d.weekday() < 5 for d in days)


def test_the_day_highlighted_is_today_or_the_next_programme_day():
    days = [date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 7), date(2026, 12, 8)]
    assert current_day(days, date(2026, 12, 3)) == date(2026, 12, 3)  # a working day of the programme
    assert current_day(days, date(2026, 12, 6)) == date(2026, 12, 7)  # Sunday: Monday is next
    assert current_day(days, date(2026, 12, 1)) == date(2026, 12, 2)  # before it starts
    assert current_day(days, date(2026, 12, 9)) is None  # after it ends
    assert current_day([None, None], date(2026, 12, 3)) is None  # no cohort dates


def test_a_start_on_a_non_working_day_begins_on_the_next_working_day():
    cal = Calendar(holidays=frozenset({date(2026, 11, 9)}))
    assert cal.working_days(date(2026, 11, 7), 1) == [date(2026, 11, 10)]  # Sat → (Mon holiday) → Tue
    assert len(Calendar().working_days(date(2026, 11, 2), 10)) == 10
    assert Calendar().working_days(date(2026, 11, 2), 10)[-1] == date(2026, 11, 13)  # two weeks


def test_a_weekend_declared_working_counts():
    cal = Calendar(holidays=frozenset({date(2026, 10, 5)}), workdays=frozenset({date(2026, 10, 10)}))
    assert cal.working_days(date(2026, 10, 9), 3) == [date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 12)]


def test_the_calendar_loads_from_content_and_drives_cohort_days(app, courses, users, tmp_path):
    folder = tmp_path / "calendar"
    folder.mkdir()
    (folder / "2026.yaml").write_text(
        "holidays:\n  - {date: 2026-11-04, name: Test holiday}\nworkdays:\n  - {date: 2026-11-07, name: Make-up}\n")
    report = load_calendar(folder)
    assert not report.problems and report.created == 2
    assert load_calendar(folder).unchanged == 2
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    cohort = learning.create_cohort("C", onboarding, date(2026, 11, 2), [users["trainer"]],
                                    [users["technician"]], users["trainer"])
    days = [d for _m, d in learning.cohort_days(cohort)]
    assert len(days) == 10
    assert date(2026, 11, 4) not in days and date(2026, 11, 7) in days and date(2026, 11, 8) not in days
    (folder / "2026.yaml").write_text("holidays:\n  - {date: 2026-13-40}\n")
    bad = load_calendar(folder)
    assert bad.problems and bad.problems[0].line == 2
    assert db.session.scalar(select(func.count()).select_from(Holiday)) == 2  # nothing changed


def test_the_shipped_calendar_file_loads(app):
    report = load_calendar(ROOT / "content" / "calendar")
    assert not report.problems
    assert db.session.scalar(select(func.count()).select_from(Holiday)) >= 10


# --- content --------------------------------------------------------------------------------


def test_the_shipped_onboarding_programme_is_complete(courses):
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    assert onboarding.kind == "onboarding" and len([m for m in onboarding.modules if m.active]) == 10
    lessons = onboarding.lessons()
    assert len(lessons) >= 40
    assert len(onboarding.tasks()) >= 8
    for lesson in lessons:
        assert lesson.title_zh and lesson.title_en and lesson.body_zh and lesson.body_en, lesson.slug
        assert lesson.minutes_zh >= 1 and lesson.minutes_en >= 1
    for task in onboarding.tasks():
        assert task.checklist and all(item["zh"] and item["en"] for item in task.checklist)
    quarterly = db.session.scalars(select(Course).where(Course.kind == "quarterly")).all()
    assert {c.quarter for c in quarterly} >= {"2026-Q3", "2026-Q4"}
    assert all(c.lessons() for c in quarterly)


def test_loading_is_idempotent_through_the_cli(app, runner):
    first = runner.invoke(args=["content", "load", str(ROOT / "content" / "courses")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["content", "load", str(ROOT / "content" / "courses")])
    assert "created 0 / updated 0" in second.output
    assert db.session.scalar(select(func.count()).select_from(Course)) >= 3


@pytest.fixture
def course_copy(tmp_path):
    """A writable copy of the onboarding course."""
    root = tmp_path / "courses"
    shutil.copytree(ROOT / "content" / "courses" / "onboarding", root / "onboarding")
    shutil.copy(ROOT / "content" / "facts.yaml", tmp_path)  # its norms and {{table:…}} references
    return root / "onboarding"


def test_editing_a_lesson_keeps_progress(app, users, course_copy):
    assert not load_courses(course_copy.parent).problems
    lesson = _lesson("onboarding", "d01-welcome")
    learning.set_done(users["technician"], lesson)
    path = course_copy / "lessons" / "d01-welcome.en.md"
    path.write_text(path.read_text() + "\n\nOne more paragraph.\n")
    report = load_courses(course_copy.parent)
    assert report.updated == 1 and not report.problems
    same = _lesson("onboarding", "d01-welcome")
    assert same.id == lesson.id and "One more paragraph." in same.body_en
    assert db.session.scalar(select(LessonProgress).where(LessonProgress.lesson_id == same.id)).completed_at


@pytest.mark.parametrize("breakage, where, field", [
    ("course_yaml_bad", "course.yaml:4", "file"),
    ("missing_lesson", "d01-welcome.zh.md:1", "file"),
    ("unknown_field", "d01-welcome.en.md:3", "colour"),
    ("bad_link", "d01-welcome.en.md", "body"),
    ("unknown_task", "course.yaml", "days[1].tasks"),
])
def test_a_broken_course_is_reported_and_nothing_of_it_loads(app, course_copy, breakage, where, field):
    assert not load_courses(course_copy.parent).problems
    before = _lesson("onboarding", "d01-company-and-products").body_en
    company = course_copy / "lessons" / "d01-company-and-products.en.md"
    company.write_text(company.read_text() + "\n\nAn edit that must not land.\n")
    welcome_en = course_copy / "lessons" / "d01-welcome.en.md"
    course_yaml = course_copy / "course.yaml"
    if breakage == "course_yaml_bad":
        lines = course_yaml.read_text().splitlines()
        lines[2] = "  zh: [unclosed"
        course_yaml.write_text("\n".join(lines))
    elif breakage == "missing_lesson":
        (course_copy / "lessons" / "d01-welcome.zh.md").unlink()
    elif breakage == "unknown_field":
        text = welcome_en.read_text().split("\n")
        text.insert(2, "colour: blue")
        welcome_en.write_text("\n".join(text))
    elif breakage == "bad_link":
        welcome_en.write_text(welcome_en.read_text() + "\nSee [this](lesson:no-such-lesson).\n")
    elif breakage == "unknown_task":
        course_yaml.write_text(course_yaml.read_text().replace("    tasks: []", "    tasks: [no-such-task]", 1))
    report = load_courses(course_copy.parent)
    assert report.problems
    text = [str(p) for p in report.problems]
    assert any(where in t and f": {field}:" in t for t in text), text
    assert _lesson("onboarding", "d01-company-and-products").body_en == before  # nothing half-loaded


def test_the_cli_reports_file_line_and_field_and_exits_non_zero(app, runner, course_copy):
    (course_copy / "lessons" / "d01-welcome.zh.md").unlink()
    result = runner.invoke(args=["content", "load", str(course_copy.parent)])
    assert result.exit_code == 1
    assert "d01-welcome.zh.md:1: file:" in result.output


# --- progress and resume --------------------------------------------------------------------


def test_progress_and_resume(app, courses, users):
    tech = users["technician"]
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    first, second, third = onboarding.lessons()[:3]
    assert learning.course_progress(tech, onboarding).resume.id == first.id
    learning.record_visit(tech, first)
    learning.set_done(tech, first)
    learning.record_visit(tech, third)  # opened last, not done: still, carry on at the first unfinished
    progress = learning.course_progress(tech, onboarding)
    assert progress.done == 1 and progress.resume.id == second.id
    assert progress.modules[0].done == 1 and 0 < progress.modules[0].percent < 100
    learning.set_done(tech, third)
    assert learning.course_progress(tech, onboarding).resume.id == second.id  # first not done
    learning.set_done(tech, second)
    fourth = onboarding.lessons()[3]
    assert learning.course_progress(tech, onboarding).resume.id == fourth.id
    learning.set_done(tech, third, done=False)
    assert learning.course_progress(tech, onboarding).done == 2
    assert learning.course_progress(tech, onboarding).resume.id == third.id


def test_a_technician_marks_a_lesson_done_through_the_page(app, client, courses, users):
    login(client, "tech")
    page = client.get("/learning/courses/onboarding/lessons/d01-welcome")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-action="mark-done"' in html
    token = get_csrf(client, "/learning/courses/onboarding/lessons/d01-welcome")
    done = client.post("/learning/courses/onboarding/lessons/d01-welcome/done",
                       data={"csrf_token": token, "done": "1", "next": "1"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/lessons/d01-company-and-products")
    assert learning.course_progress(users["technician"], _lesson("onboarding", "d01-welcome").course).done == 1
    refused = client.post("/learning/courses/onboarding/lessons/d01-welcome/done", data={"done": "1"})
    assert refused.status_code == 400  # no CSRF token: nothing changes


def test_lessons_render_callouts_links_and_tables_safely(app, client, courses, kb_cases, users):
    login(client, "tech")
    html = client.get("/learning/courses/onboarding/lessons/d06-electrical-safety").get_data(as_text=True)
    assert 'class="callout callout-safety"' in html
    body = html.split('<div class="lesson-body">', 1)[1].split("</article>", 1)[0]
    assert "[!SAFETY]" not in body and "<script" not in body
    kpis = client.get("/learning/courses/onboarding/lessons/d03-kpi-formulas").get_data(as_text=True)
    assert "<table>" in kpis


def test_trainers_read_lessons_without_progress_being_recorded(app, client, courses, users):
    login(client, "trainer")
    assert client.get("/learning/courses/onboarding/lessons/d01-welcome").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 0


# --- cohorts --------------------------------------------------------------------------------


def test_the_cohort_matrix_shows_who_is_behind_first(app, courses, make_user, users):
    ahead = make_user("ahead", "technician", outlet="GD-GZ-01")
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    cohort = learning.create_cohort("Nov", onboarding, date(2026, 11, 2), [users["trainer"]],
                                    [ahead, users["technician"]], users["trainer"])
    day1 = [l for l in onboarding.modules[0].lessons if l.active]
    for lesson in day1:
        learning.set_done(ahead, lesson)
    learning.record_visit(ahead, onboarding.modules[1].lessons[0])
    today = date(2026, 11, 3)  # day 2
    rows = learning.cohort_matrix(cohort, today)
    assert [r.user.username for r in rows] == ["tech", "ahead"]  # behind first
    tech_row, ahead_row = rows
    assert tech_row.days[0].status == BEHIND and tech_row.behind == 1
    assert ahead_row.days[0].status == DONE and ahead_row.days[1].status == IN_PROGRESS
    assert ahead_row.days[2].status == UPCOMING
    assert learning.behind_count(cohort, today) == 1


def test_a_trainer_creates_a_cohort_through_the_form(app, client, courses, users):
    login(client, "trainer")
    token = get_csrf(client, "/learning/cohorts/new")
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    form = client.get("/learning/cohorts/new").get_data(as_text=True)
    assert f'value="{users["technician"].id}"' not in form.split('name="trainers"')[-1]  # no list of technicians
    bad = client.post("/learning/cohorts/new", data={
        "csrf_token": token, "name": "Guangzhou Nov", "course": str(onboarding.id), "start_date": "",
        "trainers": [str(users["trainer"].id)]})
    assert bad.status_code == 200 and "Guangzhou Nov" in bad.get_data(as_text=True)  # kept what was typed
    empty = client.post("/learning/cohorts/new", data={
        "csrf_token": token, "name": "Empty start", "course": str(onboarding.id), "start_date": "2026-11-02",
        "trainers": [str(users["trainer"].id)]})
    assert empty.status_code == 302 and empty.headers["Location"].endswith("/members/add")  # on to the picker
    ok = client.post("/learning/cohorts/new", data={
        "csrf_token": token, "name": "Guangzhou Nov", "course": str(onboarding.id), "start_date": "2026-11-02",
        "trainers": [str(users["trainer"].id)], "members": [str(users["technician"].id)]})
    assert ok.status_code == 302
    page = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "Guangzhou Nov" in page and "matrix" in page


# --- practical sign-off ---------------------------------------------------------------------


def test_sign_off_pass_fail_and_retry_keep_the_history(app, courses, users):
    task = db.session.scalar(select(PracticalTask).where(PracticalTask.slug == "seven-step-drill"))
    n = len(task.checklist)
    tech, trainer = users["technician"], users["trainer"]
    failed = learning.record_signoff(task, tech, trainer, [(True, "")] * (n - 1) + [(False, "no summary")],
                                     "Try again tomorrow")
    assert not failed.passed and failed.attempt == 1 and failed.items[-1]["comment"] == "no summary"
    passed = learning.record_signoff(task, tech, trainer, [(True, "")] * n)
    assert passed.passed and passed.attempt == 2
    history = learning.signoff_history(task, tech)
    assert [s.attempt for s in history] == [2, 1] and history[1].trainer_id == trainer.id
    with pytest.raises(learning.LearningError):
        learning.record_signoff(task, tech, trainer, [(True, "")] * (n - 1))  # every item judged
    with pytest.raises(learning.LearningError):
        learning.record_signoff(task, tech, tech, [(True, "")] * n)  # not by a technician, not self
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 2


def test_the_sign_off_form_needs_every_item_and_keeps_what_was_entered(app, client, courses, users):
    login(client, "trainer")
    url = "/learning/signoff/tech/onboarding/seven-step-drill"
    token = get_csrf(client, url)
    partial = client.post(url, data={"csrf_token": token, "item-0": "pass", "comment-0": "good greeting"})
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "good greeting" in html
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 0
    task = db.session.scalar(select(PracticalTask).where(PracticalTask.slug == "seven-step-drill"))
    data = {"csrf_token": token, **{f"item-{i}": "pass" for i in range(len(task.checklist))}}
    data["item-3"] = "fail"
    data["comment-3"] = "skipped the fault diagnosis step"
    assert client.post(url, data=data).status_code == 302
    data["item-3"] = "pass"
    client.post(url, data=data)
    rows = db.session.scalars(select(SignOff).order_by(SignOff.attempt)).all()
    assert [(r.attempt, r.passed) for r in rows] == [(1, False), (2, True)]


# --- assignments ----------------------------------------------------------------------------


def test_assignments_reach_the_right_technicians_and_list_the_overdue(app, quizzes, make_user, users, network):
    from portal.auth.models import Outlet, Province, Region

    north = Region(code="NORTH", name_zh="华北大区", name_en="North Region")
    bj = Province(code="BJ", name_zh="北京", name_en="Beijing", region=north)
    outlet = Outlet(code="BJ-01", name_zh="北京网点", name_en="Beijing outlet", city="北京", province=bj)
    db.session.add_all([north, bj, outlet])
    db.session.commit()
    far = make_user("far", "technician", outlet="BJ-01")
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    everyone = learning.create_assignment(quarterly, "all", date(2026, 9, 30), users["trainer"])
    other = db.session.scalar(select(Course).where(Course.kind == "quarterly", Course.id != quarterly.id))
    south_only = learning.create_assignment(other, "region", date(2026, 12, 31), users["trainer"],
                                            region=network["region"])
    assert {u.username for u in learning.assignment_targets(everyone)} == {"tech", "far"}
    assert {u.username for u in learning.assignment_targets(south_only)} == {"tech"}
    for lesson in quarterly.lessons():
        learning.set_done(far, lesson)
    # Every lesson done is not enough: the course is complete once its quiz is passed.
    assert quarterly.quiz and learning.assignment_report(everyone, date(2026, 10, 8)).complete == 0
    assert not learning.course_progress(far, quarterly).complete
    pass_quiz(far, quarterly.quiz)
    assert learning.course_progress(far, quarterly).complete
    report = learning.assignment_report(everyone, date(2026, 10, 8))
    assert report.assigned == 2 and report.complete == 1
    assert [u.username for u in report.overdue] == ["tech"]
    by_region = {l.name: (l.assigned, l.complete, l.overdue) for l in report.regions}
    assert by_region == {network["region"].name: (1, 0, 1), north.name: (1, 1, 0)}
    assert {l.name: l.overdue for l in report.outlets} == {network["outlets"][0].name: 1, outlet.name: 0}
    assert learning.assignment_report(south_only, date(2026, 10, 8)).overdue == []  # not due yet
    mine = learning.assignments_for(users["technician"], date(2026, 10, 8))
    assert [(m.assignment.id, m.overdue) for m in mine] == [(everyone.id, True), (south_only.id, False)]


def test_a_product_line_assignment_reaches_the_outlets_that_service_it(app, courses, make_user, users,
                                                                      network):
    washers_only = network["outlets"][1]
    washers_only.products = ["washing-machine"]
    db.session.commit()
    make_user("washer", "technician", outlet=washers_only.code)
    heaters = db.session.scalar(select(Course).where(Course.product == "water-heater"))
    assignment = learning.create_assignment(heaters, "product", date(2026, 12, 31), users["trainer"],
                                            product="water-heater")
    # tech's outlet lists no lines (it services every line); washer's outlet only washers.
    assert {u.username for u in learning.assignment_targets(assignment)} == {"tech"}
    with pytest.raises(learning.LearningError):
        learning.create_assignment(heaters, "product", date(2026, 12, 31), users["trainer"])


def test_the_assignment_report_page_counts_match(app, client, learning_data, users):
    login(client, "trainer")
    url = f"/learning/assignments/{learning_data['assignment']}"
    assert "0 of 1 complete" in client.get(url + "?lang=en").get_data(as_text=True)
    assert "1 人中 0 人完成" in client.get(url + "?lang=zh_CN").get_data(as_text=True)
    overdue = client.get(url + "?lang=en").get_data(as_text=True).split('data-section="overdue"')[1][:300]
    assert "Nobody is overdue." in overdue  # due on 2026-12-31: not yet


def _cells(page: str, heading: str) -> list[str]:
    """The first cell of each row of the area table under ``heading``."""
    table = page.split(f"<h3>{heading}</h3>")[1].split("</table>")[0]
    return [row.split("</th>")[0] for row in table.split('<th scope="row">')[1:]]


def test_the_assignment_report_pages_outlet_lines_in_order_and_exports_everyone(app, client, quizzes, users,
                                                                               network, make_user, monkeypatch):
    """Outlet lines come a page at a time in the report's order (most overdue first); the
    download has every technician the assignment reaches, by username."""
    import csv
    import io

    from portal.learning import views

    gz, fs = network["outlets"]
    make_user("late-fs", "technician", outlet=fs.code)
    make_user("late-none", "technician")
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    assignment = learning.create_assignment(quarterly, "all", date(2026, 3, 10), users["trainer"])
    for lesson in quarterly.lessons():
        learning.set_done(users["technician"], lesson)
    pass_quiz(users["technician"], quarterly.quiz)
    today = date(2026, 4, 1)
    monkeypatch.setattr(views, "today", lambda: today)
    monkeypatch.setattr(views, "REPORT_PAGE", 1)
    live = [l.name for l in learning.assignment_report_live(assignment, today).outlets]
    assert live[-1] == gz.name_en and len(live) == 3  # the complete outlet last (names in English here)
    login(client, "trainer")
    url = f"/learning/assignments/{assignment.id}"
    pages = [_cells(client.get(f"{url}?outlets={n}&lang=en").get_data(as_text=True), "By outlet") for n in (1, 2, 3)]
    assert pages == [[name] for name in live]
    rows = list(csv.reader(io.StringIO(client.get(f"{url}?format=csv&lang=en").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1:] == [["late-fs", "", fs.code, fs.name_en, "no", "yes"], ["late-none", "", "", "", "no", "yes"],
                        ["tech", "陈强", gz.code, gz.name_en, "yes", "no"]]


def test_the_cohorts_list_comes_a_page_at_a_time_with_its_figures(app, client, courses, users, make_user):
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    other = make_user("tech2", "technician")
    learning.create_cohort("Older cohort", onboarding, date(2026, 1, 5), [users["trainer"]],
                           [users["technician"], other], users["trainer"])
    learning.create_cohort("Newer cohort", onboarding, date.today() + timedelta(days=7), [users["trainer"]],
                           [make_user("tech3", "technician")], users["trainer"])
    app.config["PAGE_SIZE"] = 1
    login(client, "trainer")
    first = client.get("/learning/cohorts?lang=en").get_data(as_text=True)
    second = client.get("/learning/cohorts?page=2&lang=en").get_data(as_text=True)
    assert "Newer cohort" in first and "Older cohort" not in first and "Page 1 of 2" in first
    assert "1 member" in first and "behind schedule" not in first  # not started yet
    assert "Older cohort" in second and "Newer cohort" not in second
    assert "2 members" in second and "2 behind schedule" in second  # nothing done since January


def test_targeted_assignment_is_a_plain_function(app, courses, users):
    lesson = _lesson("onboarding", "d05-forbidden-phrases")
    due = date(2026, 12, 1)
    row = learning.assign_targeted(users["technician"], lesson, "Audit: used a forbidden phrase", due)
    assert row.source == "trainer" and row.assigned_by_id is None and row.lessons() == [lesson]
    module = lesson.module
    by_audit = learning.assign_targeted(users["technician"], module, "Audit section 5 weak", due,
                                        source="audit")
    assert len(by_audit.lessons()) == len([l for l in module.lessons if l.active])
    with pytest.raises(learning.LearningError):
        learning.assign_targeted(users["trainer"], lesson, "not a technician", due)
    with pytest.raises(learning.LearningError):
        learning.assign_targeted(users["technician"], lesson, "  ", due)
    mine = learning.targeted_for(users["technician"], date(2026, 12, 2))
    assert len(mine) == 2 and all(m.overdue for m in mine)
    learning.set_done(users["technician"], lesson)
    assert learning.targeted_for(users["technician"], date(2026, 12, 2))[0].complete


def test_the_technician_sees_assignments_and_the_reason_on_their_pages(app, client, learning_data, users):
    lesson = _lesson("onboarding", "d05-forbidden-phrases")
    learning.assign_targeted(users["technician"], lesson, "Said 'no parts, come back later'",
                             date.today() + timedelta(days=7), assigned_by=users["trainer"])
    login(client, "tech")
    html = client.get("/learning/").get_data(as_text=True)
    assert "Said &#39;no parts, come back later&#39;" in html or "Said 'no parts, come back later'" in html
    assert learning_data["quarterly"].title_zh in html or learning_data["quarterly"].title_en in html
    home = client.get("/technician").get_data(as_text=True)
    assert 'data-action="resume"' in home


def test_a_case_page_links_the_lessons_that_teach_it(app, client, courses, users):
    report = load_content(ROOT / "content" / "kb", echo=lambda _l: None)
    assert not report.problems
    teaching = [l for l in db.session.scalars(select(Lesson)) if l.cases]
    assert teaching, "some lessons list the cases they teach"
    key = teaching[0].cases[0]
    from portal.kb.models import Case

    case = db.session.scalar(select(Case).where(Case.key == key, Case.lang == "zh"))
    login(client, "tech")
    html = client.get(f"/cases/{case.slug}").get_data(as_text=True)
    assert f"/learning/courses/{teaching[0].course.slug}/lessons/{teaching[0].slug}" in html


def test_the_trainer_home_shows_cohorts_and_overdue_assignments(app, client, courses, users):
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    learning.create_cohort("Home cohort", onboarding, date(2026, 1, 5), [users["trainer"]],
                           [users["technician"]], users["trainer"])
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    learning.create_assignment(quarterly, "all", date(2026, 1, 31), users["trainer"])
    summary = learning.trainer_summary(date(2026, 3, 1))
    assert summary["overdue"] == 1 and summary["cohorts"][0][1] == 1  # the technician is behind
    login(client, "trainer")
    html = client.get("/trainer").get_data(as_text=True)
    assert "Home cohort" in html and "/dashboard/overdue" in html


def test_reaches_agrees_with_assignment_targets(app, courses, make_user, users, network):
    make_user("other", "technician", outlet=network["outlets"][1].code)
    make_user("retired", "technician", outlet=network["outlets"][1].code).active = False
    network["outlets"][1].products = ["washing-machine"]
    db.session.commit()
    course = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    from portal.auth.models import User
    from portal.learning.models import Assignment

    everyone = db.session.scalars(select(User)).all()
    for scope, extra in (("all", {}), ("region", {"region": network["region"]}),
                         ("product", {"product": "water-heater"}), ("product", {"product": "washing-machine"})):
        # Not saved: one course reaches a technician once, so these targets are compared unsaved.
        assignment = Assignment(course_id=course.id, scope=scope, due_date=date(2026, 12, 31),
                                region_id=extra["region"].id if "region" in extra else None,
                                product=extra.get("product"))
        targets = {u.id for u in learning.assignment_targets(assignment)}
        assert {u.id for u in everyone if learning.reaches(assignment, u)} == targets, scope


# --- promises kept: targeted lessons count only when done after they were assigned ----------


def test_a_targeted_lesson_done_in_onboarding_must_be_done_again(app, client, courses, users):
    tech = users["technician"]
    lesson = _lesson("onboarding", "d05-forbidden-phrases")
    learning.record_visit(tech, lesson)
    learning.set_done(tech, lesson)  # in onboarding, long before the audit
    row = learning.assign_targeted(tech, lesson, "Audit: used a forbidden phrase", date.today() + timedelta(days=14),
                                   source="audit")
    module_row = learning.assign_targeted(tech, lesson.module, "Audit section weak", date.today() + timedelta(days=14),
                                          source="audit")
    mine = {m.targeted.id: m for m in learning.targeted_for(tech, date.today())}
    assert not mine[row.id].complete and mine[row.id].done == 0
    assert not mine[module_row.id].complete and mine[module_row.id].done == 0
    steps = learning.next_steps(tech, date.today(), "en")
    assert lesson.title_en in [title for title, _due, _late in steps.items]
    login(client, "tech")
    html = client.get("/learning/?lang=en").get_data(as_text=True)
    assert "0 of 1 lessons" in html
    page = client.get("/learning/courses/onboarding/lessons/d05-forbidden-phrases?lang=en").get_data(as_text=True)
    assert 'data-state="assigned-again"' in page and 'data-action="mark-done"' in page
    token = get_csrf(client, "/learning/courses/onboarding/lessons/d05-forbidden-phrases")
    client.post("/learning/courses/onboarding/lessons/d05-forbidden-phrases/done",
                data={"csrf_token": token, "done": "1"})
    db.session.expire_all()  # the request ran in its own session
    mine = {m.targeted.id: m for m in learning.targeted_for(tech, date.today())}
    assert mine[row.id].complete and mine[row.id].targeted.completed_at is not None
    assert not mine[module_row.id].complete and mine[module_row.id].done == 1
    for other in lesson.module.lessons:
        if other.active and other.id != lesson.id:
            learning.set_done(tech, other)
    assert all(m.complete for m in learning.targeted_for(tech, date.today()))
    # Unmarking the lesson later does not reopen an assignment already complete.
    learning.set_done(tech, lesson, done=False)
    assert all(m.complete for m in learning.targeted_for(tech, date.today()))
    page = client.get("/learning/courses/onboarding/lessons/d05-forbidden-phrases").get_data(as_text=True)
    assert 'data-state="assigned-again"' not in page


# --- promises kept: no past due date, no course twice, no technician in two cohorts ---------


def test_an_assignment_due_in_the_past_is_refused_and_nothing_saved(app, client, courses, users):
    from portal.i18n import local_today
    from portal.learning.models import Assignment

    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    with pytest.raises(learning.LearningError):
        learning.create_assignment(quarterly, "all", date(2026, 12, 1), users["trainer"], today=date(2026, 12, 2))
    login(client, "trainer")
    token = get_csrf(client, "/learning/assignments")
    today = local_today()  # the portal's day (Asia/Shanghai), not the machine's: they differ after 16:00 UTC
    yesterday = (today - timedelta(days=1)).isoformat()
    page = client.post("/learning/assignments?lang=en", data={
        "csrf_token": token, "course": str(quarterly.id), "scope": "all", "due_date": yesterday})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "has passed" in html and yesterday in html  # kept what was typed
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0
    ok = client.post("/learning/assignments", data={
        "csrf_token": token, "course": str(quarterly.id), "scope": "all", "due_date": today.isoformat()})
    assert ok.status_code == 302


def test_the_same_course_to_the_same_technicians_twice_is_refused_with_a_link(app, client, courses, users, network):
    from portal.learning.models import Assignment

    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    due = date.today() + timedelta(days=30)
    first = learning.create_assignment(quarterly, "region", due, users["trainer"], region=network["region"])
    with pytest.raises(learning.DuplicateAssignment) as same:
        learning.create_assignment(quarterly, "region", due + timedelta(days=5), users["trainer"],
                                   region=network["region"])
    assert same.value.existing.id == first.id
    with pytest.raises(learning.DuplicateAssignment):  # "all" reaches the same technician again
        learning.create_assignment(quarterly, "all", due, users["trainer"])
    other = db.session.scalar(select(Course).where(Course.kind == "quarterly", Course.id != quarterly.id))
    learning.create_assignment(other, "all", due, users["trainer"])  # another course is fine
    login(client, "trainer")
    token = get_csrf(client, "/learning/assignments")
    page = client.post("/learning/assignments?lang=en", data={
        "csrf_token": token, "course": str(quarterly.id), "scope": "all", "due_date": due.isoformat()})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'href="/learning/assignments/{first.id}"' in html
    assert "already assigned" in html
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 2
    assert learning.trainer_summary(due + timedelta(days=40))["overdue"] == 2  # one per course, not three


def test_a_technician_in_a_cohort_moves_to_another_only_when_confirmed(app, client, courses, users):
    from portal.auth.models import AccountEvent
    from portal.learning.models import CohortMember

    tech, trainer = users["technician"], users["trainer"]
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    old = learning.create_cohort("Old", onboarding, date(2026, 1, 5), [trainer], [tech], trainer)
    with pytest.raises(learning.CohortConflict):
        learning.create_cohort("New", onboarding, date(2026, 11, 2), [trainer], [tech], trainer)
    assert db.session.scalar(select(func.count()).select_from(CohortMember)) == 1
    login(client, "trainer")
    token = get_csrf(client, "/learning/cohorts/new")
    data = {"csrf_token": token, "name": "Guangzhou Nov", "course": str(onboarding.id),
            "start_date": "2026-11-02", "trainers": [str(trainer.id)], "members": [str(tech.id)]}
    page = client.post("/learning/cohorts/new?lang=en", data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Already in a cohort" in html and 'name="move"' in html
    assert "Guangzhou Nov" in html and f"/learning/cohorts/{old.id}" in html
    moved = client.post("/learning/cohorts/new", data={**data, "move": "y"})
    assert moved.status_code == 302
    db.session.expire_all()
    assert [c.name for c in learning.cohorts_of(tech)] == ["Guangzhou Nov"]
    assert learning.cohort_matrix(db.session.get(type(old), old.id), date(2026, 12, 1)) == []  # not behind there
    event = db.session.scalar(select(AccountEvent).where(AccountEvent.action == "cohort_moved"))
    assert event.user_id == tech.id and event.actor_id == trainer.id and "Old" in event.detail
    assert learning.notify_behind(date(2026, 12, 31)) == 1  # one reminder, from the new cohort


# --- promises kept: someone who joins after a course is due gets their own due date ---------


def test_personal_due_dates_for_people_who_joined_later():
    from portal.learning.schedule import personal_due

    due, assigned = date(2026, 3, 31), date(2026, 3, 1)  # 30 days to do it
    assert personal_due(due, assigned, date(2026, 1, 5)) == due  # already there
    assert personal_due(due, assigned, None) == due
    assert personal_due(due, assigned, date(2026, 6, 1)) == date(2026, 7, 1)  # the same 30 days
    assert personal_due(due, assigned, date(2026, 3, 20)) == date(2026, 4, 19)
    assert personal_due(date(2026, 3, 2), assigned, date(2026, 6, 1)) == date(2026, 6, 15)  # at least 14


def test_someone_who_joins_after_the_due_date_is_not_overdue_at_once(app, courses, make_user, users):
    from datetime import datetime, timezone

    users["technician"].start_date = date(2026, 1, 5)
    late = make_user("late", "technician", outlet="GD-GZ-01", start_date=date(2026, 6, 1))
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    assignment = learning.create_assignment(quarterly, "all", date(2026, 3, 31), users["trainer"])
    assignment.created_at = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    db.session.commit()
    report = learning.assignment_report(assignment, date(2026, 6, 2))
    assert [u.username for u in report.overdue] == ["tech"]
    mine = learning.assignments_for(late, date(2026, 6, 2))
    assert [(m.due, m.overdue) for m in mine] == [(date(2026, 7, 1), False)]
    assert learning.trainer_summary(date(2026, 6, 2))["overdue"] == 1
    assert [u.username for u in learning.assignment_report(assignment, date(2026, 7, 2)).overdue] == ["late", "tech"]
    steps = learning.next_steps(late, date(2026, 6, 2), "en")
    assert steps.items == [(quarterly.title_en, date(2026, 7, 1), False)]
    from portal.records.record import next_steps as urgent_steps

    with app.test_request_context("/"):
        step = next(s for s in urgent_steps(late, date(2026, 6, 2), "en") if s.due is not None)
    assert (step.kind, step.due) == ("due", date(2026, 7, 1))  # not "overdue", not "due soon"


# --- promises kept: the cohort page shows each member's practical tasks ---------------------


def test_the_cohort_page_shows_tasks_passed_failed_and_not_tried(app, client, courses, make_user, users):
    other = make_user("other", "technician", outlet="GD-GZ-01")
    tech, trainer = users["technician"], users["trainer"]
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    cohort = learning.create_cohort("Tasks", onboarding, date(2026, 11, 2), [trainer], [tech, other], trainer)
    drill = db.session.scalar(select(PracticalTask).where(PracticalTask.slug == "seven-step-drill"))
    n = len(drill.checklist)
    learning.record_signoff(drill, tech, trainer, [(True, "")] * n)
    learning.record_signoff(drill, other, trainer, [(True, "")] * (n - 1) + [(False, "no summary")])
    states = learning.cohort_task_states(cohort)
    assert states[(tech.id, drill.id)] == "passed" and states[(other.id, drill.id)] == "failed"
    assert {s for (m, t), s in states.items() if t != drill.id} == {"not_tried"}
    login(client, "trainer")
    for lang, words in (("en", ("Passed", "Not passed", "Not tried")), ("zh_CN", ("已通过", "未通过", "未考核"))):
        html = client.get(f"/learning/cohorts/{cohort.id}?lang={lang}").get_data(as_text=True)
        panel = html.split('data-section="practical"', 1)[1]
        assert all(word in panel for word in words)
        mine = panel.split('data-member="tech"', 1)[1].split('data-member=', 1)[0]
        theirs = panel.split('data-member="other"', 1)[1].split('data-member=', 1)[0]
        assert 'data-task="seven-step-drill" data-state="passed"' in mine
        assert 'data-task="seven-step-drill" data-state="failed"' in theirs
        assert theirs.count('data-state="not_tried"') == len(onboarding.tasks()) - 1
        assert "/learning/signoff/other/" in theirs  # the cohort's trainer: each task links to its sign-off
    # Another trainer sees the states but no link to a sign-off page that would refuse them.
    make_user("elsewhere", "trainer")
    stranger = app.test_client()
    login(stranger, "elsewhere")
    html = stranger.get(f"/learning/cohorts/{cohort.id}?lang=en").get_data(as_text=True)
    panel = html.split('data-section="practical"', 1)[1]
    assert 'data-task="seven-step-drill" data-state="failed"' in panel and "/learning/signoff/" not in panel


# --- promises kept: a failed sign-off item says why -----------------------------------------


def test_a_failed_sign_off_item_needs_a_comment(app, client, courses, users):
    task = db.session.scalar(select(PracticalTask).where(PracticalTask.slug == "seven-step-drill"))
    n = len(task.checklist)
    tech, trainer = users["technician"], users["trainer"]
    with pytest.raises(learning.LearningError):
        learning.record_signoff(task, tech, trainer, [(True, "")] * (n - 1) + [(False, "  ")])
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 0
    login(client, "trainer")
    url = "/learning/signoff/tech/onboarding/seven-step-drill"
    token = get_csrf(client, url)
    data = {"csrf_token": token, **{f"item-{i}": "pass" for i in range(n)}, "comment": "overall: nearly there"}
    data.update({"item-1": "fail", "comment-1": "forgot the shoe covers", "item-2": "fail"})
    page = client.post(url + "?lang=en", data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Say why item 3 failed" in html
    assert "forgot the shoe covers" in html and "overall: nearly there" in html  # kept what was typed
    assert 'id="comment-2"' in html and html.split('id="comment-2"', 1)[1].split(">", 1)[0].count("data-needs-comment") == 1
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 0
    zh = client.post(url + "?lang=zh_CN", data=data).get_data(as_text=True)
    assert "不合格的项目必须填写评语" in zh
    data["comment-2"] = "no service summary"
    assert client.post(url, data=data).status_code == 302
    row = db.session.scalar(select(SignOff))
    assert not row.passed and [i["comment"] for i in row.items if not i["passed"]] == [
        "forgot the shoe covers", "no service summary"]


# --- promises kept: the migration converts rows already wrong -------------------------------


def test_the_migration_reopens_targeted_lessons_done_before_and_keeps_one_cohort_each(backend, tmp_path, request):
    from datetime import datetime, timezone

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from portal.auth.services import create_user
    from portal.dbtypes import UTCDateTime
    from portal.learning.models import Cohort, CohortMember, CourseModule, TargetedAssignment

    from .test_migrations import _add_later_columns, _drop_columns, _fresh_app

    def at(month):
        return datetime(2026, month, 1, 2, 0, tzinfo=timezone.utc)

    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade(revision="15558c7f0a5a")  # before this change
        later = _add_later_columns()  # today's models write these rows
        tech = create_user("tech", ["technician"], "a-long-password-1")
        course = Course(slug="remedial", kind="remedial", title_zh="补课", title_en="Remedial")
        module = CourseModule(course=course, slug="m", position=1, title_zh="模块", title_en="Module")
        first, second = (Lesson(course=course, module=module, slug=s, position=n, title_zh=s, title_en=s)
                         for n, s in enumerate(("one", "two")))
        db.session.add_all([course, module, first, second])
        db.session.flush()
        db.session.add_all([LessonProgress(user_id=tech.id, lesson_id=first.id, completed_at=at(1)),
                            LessonProgress(user_id=tech.id, lesson_id=second.id, completed_at=at(6))])
        old = Cohort(name="Old", course_id=course.id, start_date=date(2026, 1, 5))
        new = Cohort(name="New", course_id=course.id, start_date=date(2026, 11, 2))
        db.session.add_all([old, new])
        db.session.commit()
        targeted = sa.table("learning_targeted", *(sa.column(c) for c in (
            "id", "user_id", "course_id", "lesson_id", "module_id", "reason", "due_date", "source")),
            sa.column("created_at", UTCDateTime))
        rows = {"early": first.id, "late": second.id, "module": None}
        for n, (key, lesson_id) in enumerate(rows.items(), start=1):
            db.session.execute(targeted.insert().values(
                id=n, user_id=tech.id, course_id=course.id, lesson_id=lesson_id,
                module_id=module.id if lesson_id is None else None, reason=key, due_date=date(2026, 4, 1),
                source="audit", created_at=at(3)))
        member = sa.table("learning_cohort_member", sa.column("cohort_id"), sa.column("user_id"))
        db.session.execute(member.insert(), [{"cohort_id": old.id, "user_id": tech.id},
                                             {"cohort_id": new.id, "user_id": tech.id}])
        db.session.commit()
        _drop_columns(later)
        upgrade()
        db.session.expire_all()
        found = {t.reason: t for t in db.session.scalars(select(TargetedAssignment))}
        assert found["early"].completed_at is None and found["early"].lessons_done == []  # done before: open
        assert found["late"].completed_at == at(6) and found["late"].lessons_done == [second.id]
        assert found["module"].completed_at is None and found["module"].lessons_done == [second.id]
        assert db.session.execute(select(CohortMember.cohort_id)).scalars().all() == [new.id]
        db.session.remove()
        db.engine.dispose()
