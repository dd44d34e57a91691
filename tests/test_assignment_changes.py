"""Correcting a course assignment: its due date changed, withdrawn with a reason, one person's own
due date (extension); each logged; who may (the trainer who made it, or an administrator; nobody
about themselves); and the overdue list with each person's progress, equal to the live figures,
in a constant number of queries per page, in both languages."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from portal.assessment import attempts
from portal.assessment import services as assessment
from portal.assessment.models import Attempt
from portal.extensions import db
from portal.learning import members
from portal.learning import services as learning
from portal.learning.models import Assignment, AssignmentEvent, AssignmentExtension, Course

from .conftest import csrf_from, login

# The portal's day (its default time zone, Asia/Shanghai), which its pages count overdue days by;
# after 16:00 UTC the machine's date is a day behind it.
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
ROW = re.compile(r'<tr data-overdue="([^"]+)">(.*?)</tr>', re.S)


def _course() -> Course:
    return next(c for c in db.session.scalars(select(Course).where(Course.kind != "onboarding")
                                              .order_by(Course.slug)) if c.quiz)


@pytest.fixture
def setup(app, quizzes, users, make_user):
    """An assignment made by the trainer, due five days ago (so everyone reached is overdue)."""
    trainer = users["trainer"]
    others = [make_user(f"tech{n}", "technician", outlet="GD-FS-01" if n % 2 else "GD-GZ-01", name=f"技师{n}")
              for n in range(1, 5)]
    course = _course()
    assignment = learning.create_assignment(course, "all", TODAY - timedelta(days=5), trainer)
    return {"assignment": assignment, "course": course, "trainer": trainer, "tech": users["technician"],
            "others": others}


def _post(client, url: str, data: dict):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def _events(assignment_id: int) -> list[AssignmentEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AssignmentEvent).where(AssignmentEvent.assignment_id == assignment_id)
                                   .order_by(AssignmentEvent.id)))


def _overdue_ids(assignment_id: int) -> list[int]:
    db.session.expire_all()
    return [u.id for _a, u in members.overdue_page(TODAY, 0, 1000, assignment_id)]


# --- the due date -----------------------------------------------------------------------------


def test_changing_the_due_date_is_logged_and_everyones_state_follows(app, setup):
    a, tech = setup["assignment"], setup["tech"]
    assert tech.id in _overdue_ids(a.id)
    client = app.test_client()
    login(client, "trainer")
    url = f"/learning/assignments/{a.id}/due"
    # A past day is refused, with the day typed kept and nothing changed.
    typed = (TODAY - timedelta(days=1)).isoformat()
    page = _post(client, url, {"due_date": typed, "reason": "later"}).get_data(as_text=True)
    assert "已经过去" in page
    assert f'value="{typed}"' in page
    assert _events(a.id) == [] and db.session.get(Assignment, a.id).due_date == TODAY - timedelta(days=5)
    new = TODAY + timedelta(days=7)
    response = _post(client, url, {"due_date": new.isoformat(), "reason": "Stock of manuals arrived late"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Assignment, a.id).due_date == new
    assert _overdue_ids(a.id) == []  # nobody is overdue any more: the kept rows followed
    assert members.due_of(a.id, tech.id) == new
    (logged,) = _events(a.id)
    assert (logged.action, logged.actor_id, logged.user_id) == ("due_changed", setup["trainer"].id, None)
    assert logged.what_msg_id == "learning.due-changed"
    assert logged.what_params == {"old": {"date": (TODAY - timedelta(days=5)).isoformat()},
                                  "new": {"date": new.isoformat()}}
    assert logged.reason == "Stock of manuals arrived late" and logged.created_at is not None
    # The same date again is refused.
    with app.test_request_context(), pytest.raises(learning.LearningError):
        learning.change_due_date(db.session.get(Assignment, a.id), new, setup["trainer"], TODAY)
    assert len(_events(a.id)) == 1


# --- withdrawing ------------------------------------------------------------------------------


def test_withdrawing_needs_a_reason_is_logged_and_takes_it_off_technicians_lists(app, setup):
    a, tech, trainer = setup["assignment"], setup["tech"], setup["trainer"]
    with app.test_request_context():
        assert any(m.assignment.id == a.id for m in learning.assignments_for(tech, TODAY))
        assert learning.trainer_summary(TODAY)["overdue"] == 5
    client = app.test_client()
    login(client, "trainer")
    url = f"/learning/assignments/{a.id}/withdraw"
    page = _post(client, url, {"reason": "  "}).get_data(as_text=True)
    assert "Give the reason." in page or "请填写原因" in page
    assert db.session.get(Assignment, a.id).withdrawn_at is None and _events(a.id) == []
    assert _post(client, url, {"reason": "Course replaced by the 2027 edition"}).status_code == 302
    item = db.session.get(Assignment, a.id)
    assert item.withdrawn and item.withdrawn_by_id == trainer.id
    (logged,) = _events(a.id)
    assert (logged.action, logged.actor_id, logged.what_msg_id) == ("withdrawn", trainer.id, "learning.withdrawn")
    assert logged.reason == "Course replaced by the 2027 edition"
    with app.test_request_context():
        assert all(m.assignment.id != a.id for m in learning.assignments_for(tech, TODAY))  # off the to-do
        assert learning.next_steps(tech, TODAY, "en").overdue == 0
        assert learning.trainer_summary(TODAY)["overdue"] == 0
        assert learning.assignment_report(item, TODAY).overdue == []
        assert learning.assignment_report_live(item, TODAY).overdue == []
    assert _overdue_ids(a.id) == []
    # Trainers still see it, marked withdrawn, with the reason and the log.
    page = client.get(f"/learning/assignments/{a.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "data-withdrawn" in page and "Course replaced by the 2027 edition" in page
    assert 'data-event="withdrawn"' in page
    assert "data-withdrawn" in client.get("/learning/assignments").get_data(as_text=True)
    # Final: not changed again, not silently reused.
    response = client.get(f"/learning/assignments/{a.id}/due")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/learning/assignments/{a.id}")
    with app.test_request_context():
        for change in (lambda: learning.change_due_date(item, TODAY + timedelta(days=9), trainer, TODAY),
                       lambda: learning.withdraw_assignment(item, "again", trainer),
                       lambda: learning.extend_for(item, tech, TODAY + timedelta(days=9), "x", trainer, TODAY)):
            with pytest.raises(learning.LearningError):
                change()
        # Assigning the course again makes a new assignment (the withdrawn one does not block it).
        again = learning.create_assignment(setup["course"], "all", TODAY + timedelta(days=20), trainer, today=TODAY)
    assert again.id != a.id and db.session.get(Assignment, a.id).withdrawn
    assert len(_events(a.id)) == 1


# --- one person's own due date ----------------------------------------------------------------


def test_extending_for_one_person_is_logged_and_only_their_state_changes(app, setup):
    a, tech, trainer = setup["assignment"], setup["tech"], setup["trainer"]
    client = app.test_client()
    login(client, "trainer")
    url = f"/learning/assignments/{a.id}/extend/{tech.username}"
    new = TODAY + timedelta(days=3)
    page = _post(client, url, {"due_date": new.isoformat(), "reason": ""}).get_data(as_text=True)
    assert "Give the reason." in page or "请填写原因" in page
    page = _post(client, url, {"due_date": (TODAY - timedelta(days=6)).isoformat(), "reason": "ill"}).get_data(
        as_text=True)
    assert "data-current" in page and db.session.scalar(select(func.count()).select_from(AssignmentExtension)) == 0
    assert _post(client, url, {"due_date": new.isoformat(), "reason": "On sick leave for a week"}).status_code == 302
    assert members.due_of(a.id, tech.id) == new
    overdue = _overdue_ids(a.id)
    assert tech.id not in overdue and {u.id for u in setup["others"]} <= set(overdue)
    (logged,) = _events(a.id)
    assert (logged.action, logged.actor_id, logged.user_id) == ("extended", trainer.id, tech.id)
    assert logged.what_msg_id == "learning.extended" and logged.what_params["new"] == {"date": new.isoformat()}
    assert logged.reason == "On sick leave for a week"
    with app.test_request_context():
        assert learning.due_for(db.session.get(Assignment, a.id), tech) == new
        # The person's own date is the later of theirs and the common one: moving the common
        # date past it carries them along.
        later = TODAY + timedelta(days=10)
        learning.change_due_date(db.session.get(Assignment, a.id), later, trainer, TODAY)
    assert members.due_of(a.id, tech.id) == later
    # Once the extension has passed, they are overdue again by it.
    with app.test_request_context():
        assert members.overdue_count(TODAY + timedelta(days=11), a.id) == 5


def test_nobody_extends_their_own_due_date(app, quizzes, users, make_user):
    both = make_user("both", "technician", "trainer", outlet="GD-GZ-01", name="自己")
    mine = learning.create_assignment(_course(), "all", TODAY - timedelta(days=1), both)
    client = app.test_client()
    login(client, "both")
    assert client.get(f"/learning/assignments/{mine.id}/extend/both").status_code == 403
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    assert client.post(f"/learning/assignments/{mine.id}/extend/both", data={
        "csrf_token": token, "due_date": (TODAY + timedelta(days=30)).isoformat(), "reason": "me"}).status_code == 403
    with app.test_request_context(), pytest.raises(learning.LearningError, match="themselves"):
        learning.extend_for(mine, both, TODAY + timedelta(days=30), "me", both, TODAY)
    # Someone else they reach is extended as usual.
    assert client.get(f"/learning/assignments/{mine.id}/extend/tech").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(AssignmentExtension)) == 0
    assert members.due_of(mine.id, both.id) == TODAY - timedelta(days=1)


# --- who may ----------------------------------------------------------------------------------


def test_technicians_auditors_and_other_trainers_are_refused(app, setup, users, make_user):
    a, tech = setup["assignment"], setup["tech"]
    make_user("trainer2", "trainer", name="另一位")
    changes = {f"/learning/assignments/{a.id}/due": {"due_date": (TODAY + timedelta(days=9)).isoformat()},
               f"/learning/assignments/{a.id}/withdraw": {"reason": "no"},
               f"/learning/assignments/{a.id}/extend/{tech.username}": {
                   "due_date": (TODAY + timedelta(days=9)).isoformat(), "reason": "no"}}
    for who in ("tech", "auditor", "trainer2"):
        client = app.test_client()
        login(client, who)
        token = csrf_from(client.get("/account/password").get_data(as_text=True))
        for url, data in changes.items():
            assert client.get(url).status_code == 403, (who, url)
            assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, (who, url)
        expected = 200 if who == "trainer2" else 403  # another trainer sees the list, changes nothing
        assert client.get(f"/learning/assignments/{a.id}/overdue").status_code == expected
    db.session.expire_all()
    item = db.session.get(Assignment, a.id)
    assert item.due_date == TODAY - timedelta(days=5) and not item.withdrawn and _events(a.id) == []
    # An administrator may.
    client = app.test_client()
    login(client, "admin")
    assert _post(client, f"/learning/assignments/{a.id}/withdraw", {"reason": "admin"}).status_code == 302
    assert _events(a.id)[0].actor_id == users["admin"].id


# --- the overdue list -------------------------------------------------------------------------


def _progress(setup):
    """Varied progress: lessons done, a failed quiz attempt, a quiz passed without every lesson."""
    course, others = setup["course"], setup["others"]
    lessons = course.lessons()
    quiz = assessment.quiz_by_slug(course.quiz)
    long_ago = datetime.now(timezone.utc) - timedelta(days=60)
    for lesson in lessons[:2]:
        learning.set_done(others[0], lesson, True)
    attempts.take(others[0], quiz, long_ago, right=1, seed=1)
    for lesson in lessons[:-1]:
        learning.set_done(others[1], lesson, True)
    attempts.take(others[1], quiz, long_ago - timedelta(days=20), seed=2)  # passed; a lesson left: still overdue
    attempts.take(others[1], quiz, long_ago, right=0, seed=3)
    return lessons


def _live_best(user_id: int, quiz_slug: str):
    best = db.session.scalar(select(func.max(Attempt.score)).join(Attempt.quiz).where(
        Attempt.user_id == user_id, Attempt.score.is_not(None),
        Attempt.quiz_id == assessment.quiz_by_slug(quiz_slug).id))
    return None if best is None else round(best)


def test_overdue_list_figures_equal_the_live_computation(app, setup):
    a = setup["assignment"]
    lessons = _progress(setup)
    client = app.test_client()
    login(client, "trainer")
    page = client.get(f"/learning/assignments/{a.id}/overdue", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    rows = dict(ROW.findall(page))
    db.session.expire_all()
    item = db.session.get(Assignment, a.id)
    with app.test_request_context():
        live = {u.username: learning.overdue_figures_live(item, u, TODAY)
                for u in learning.assignment_report_live(item, TODAY).overdue}
    assert set(rows) == set(live) and len(rows) == 5
    for username, figures in live.items():
        cells = rows[username]
        assert f"<td data-lessons>{figures.lessons_done} / {len(lessons)}</td>" in cells, username
        assert f"<td data-days>{figures.days}</td>" in cells and figures.days == 5
        best = _live_best(figures.user.id, setup["course"].quiz)
        quiz_cell = re.search(r"<td data-quiz>(.*?)</td>", cells).group(1)
        assert quiz_cell == ("not attempted" if best is None else f"best {best}%"), (username, quiz_cell)
    assert rows[setup["others"][1].username].count("best 100%") == 1
    assert "not attempted" in rows[setup["tech"].username]
    # The place filter narrows the list in SQL.
    outlet = setup["tech"].outlet_id
    filtered = client.get(f"/learning/assignments/{a.id}/overdue?outlet={outlet}").get_data(as_text=True)
    assert set(dict(ROW.findall(filtered))) == {name for name, f in live.items() if f.user.outlet_id == outlet}
    assert 0 < len(dict(ROW.findall(filtered))) < len(live)


def test_overdue_list_pages_in_a_constant_number_of_queries(app, setup, make_user):
    a = setup["assignment"]
    _progress(setup)
    for n in range(12):
        make_user(f"late{n:02d}", "technician", outlet="GD-GZ-01")
    client = app.test_client()
    login(client, "trainer")
    client.get(f"/learning/assignments/{a.id}/overdue")  # warm caches (session, catalogue)
    statements = []
    counter = lambda *args: statements.append(1)  # noqa: E731
    sizes, seen = {}, []
    for per_page in (2, 10):
        app.config["PAGE_SIZE"] = per_page
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            statements.clear()
            page = client.get(f"/learning/assignments/{a.id}/overdue").get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert len(ROW.findall(page)) == per_page
        sizes[per_page] = len(statements)
    assert sizes[2] == sizes[10], sizes
    # Walking every page gives everyone once, most overdue first.
    from .paging import walk

    app.config["PAGE_SIZE"] = 4
    pages, _urls = walk(client, f"/learning/assignments/{a.id}/overdue", ROW, 4)
    names = [name for found in pages for name, _cells in found]
    assert len(names) == len(set(names)) == 17


def test_pages_render_in_both_languages(app, setup):
    a, tech = setup["assignment"], setup["tech"]
    client = app.test_client()
    login(client, "trainer")
    urls = [f"/learning/assignments/{a.id}", f"/learning/assignments/{a.id}/overdue",
            f"/learning/assignments/{a.id}/due", f"/learning/assignments/{a.id}/withdraw",
            f"/learning/assignments/{a.id}/extend/{tech.username}"]
    words = {"en": ("Overdue", "Withdraw", "Change the due date", "Extend the due date for one person", "Days overdue"),
             "zh": ("逾期", "撤回", "修改截止日期", "为一人延长截止日期", "逾期天数")}
    for lang, header in (("en", "en"), ("zh", "zh-CN")):
        pages = "".join(client.get(u, headers={"Accept-Language": header}).get_data(as_text=True) for u in urls)
        for word in words[lang]:
            assert word in pages, (lang, word)
    _post(client, f"/learning/assignments/{a.id}/due", {"due_date": (TODAY + timedelta(days=2)).isoformat()})
    zh = client.get(f"/learning/assignments/{a.id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "截止日期由" in zh  # the logged change, rendered in the reader's language
    en = client.get(f"/learning/assignments/{a.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Due date changed from" in en
