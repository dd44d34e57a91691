"""The technician record page and notifications: who sees which record, what it shows, each
notification raised once by its event and marked read."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal.certification import services as certs
from portal.certification.loader import load_tiers
from portal.extensions import db
from portal.learning import services as learning
from portal.learning.models import Course, Lesson
from portal.notifications import Notification

from .conftest import ROOT_DIR, get_csrf, login, pass_quiz


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


def notes(user, kind=None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query.order_by(Notification.id)))


# --- the record -------------------------------------------------------------------------------


def test_each_role_sees_only_the_records_it_may(app, users, make_user, courses):
    make_user("tech2", "technician", outlet="GD-FS-01")
    expected = {"tech": 200, "trainer": 200, "admin": 200, "auditor": 403, "tech2": 404}
    for username, status in expected.items():
        client = app.test_client()
        login(client, username)
        assert client.get("/technicians/tech").status_code == status, username
    assert app.test_client().get("/technicians/tech").status_code == 302  # sign in first
    client = app.test_client()
    login(client, "trainer")
    assert client.get("/technicians/trainer").status_code == 404  # not a technician
    assert client.get("/technicians/nobody").status_code == 404


def test_the_record_brings_everything_together_newest_first(app, users, quizzes, ctx):
    tech, trainer = users["technician"], users["trainer"]
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    learning.create_cohort("Record cohort", onboarding, date(2026, 11, 2), [trainer], [tech], trainer)
    first = onboarding.lessons()[0]
    learning.set_done(tech, first)
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    learning.create_assignment(quarterly, "all", date(2026, 12, 31), trainer)
    pass_quiz(tech, quarterly.quiz)
    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    cert = certs.issue(tech, certs.tier_by_code("certified"), date(2026, 6, 1), force=True, note="paper records")
    learning.assign_targeted(tech, onboarding.lessons()[5], "mystery visit: no shoe covers", date(2026, 12, 1), trainer)
    client = app.test_client()
    login(client, "trainer")
    page = client.get("/technicians/tech").get_data(as_text=True)
    for section in ("profile", "learning", "quizzes", "certificates", "audits", "contributions", "timeline"):
        assert f'data-record="{section}"' in page, section
    assert "Record cohort" in page and cert.number in page and "mystery visit: no shoe covers" in page
    assert 'data-requirement="quiz"' in page  # what the next tier still needs
    assert "GD-GZ-01" in page
    timeline = page[page.index('data-record="timeline"'):]
    kinds = [chunk.split('"')[0] for chunk in timeline.split('data-kind="')[1:]]
    assert {"lesson", "quiz", "certificate", "assignment"} <= set(kinds)
    assert kinds.index("assignment") < kinds.index("lesson")  # newest first


def test_record_api_includes_admins_and_excludes_auditors(app, users):
    from portal.auth.services import issue_token

    client = app.test_client()
    for role, status in (("admin", 200), ("trainer", 200), ("technician", 200), ("auditor", 403)):
        token = issue_token(users[role])
        reply = client.get("/api/v1/technicians/tech/record", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == status, role


# --- notifications ----------------------------------------------------------------------------


def test_a_targeted_lesson_notifies_the_technician_once_and_opening_marks_it_read(app, users, courses):
    tech = users["technician"]
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "d05-forbidden-phrases"))
    row = learning.assign_targeted(tech, lesson, "said 'no parts'", date(2026, 12, 1), users["trainer"])
    [note] = notes(tech, "targeted")
    assert note.key == f"targeted:{row.id}" and note.link.endswith("/lessons/d05-forbidden-phrases")
    client = app.test_client()
    login(client, "tech")
    home = client.get("/technician").get_data(as_text=True)
    assert 'data-unread="1"' in home
    opened = client.get(f"/notifications/{note.id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/lessons/d05-forbidden-phrases")
    db.session.refresh(note)
    assert note.read_at is not None
    assert 'data-unread="0"' in client.get("/technician").get_data(as_text=True)
    other = app.test_client()
    login(other, "trainer")
    assert other.get(f"/notifications/{note.id}").status_code == 404


def test_certificate_suspension_expiry_and_lapse_each_notify_the_holder_once(app, users, quizzes, ctx):
    tech = users["technician"]
    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    today = date.today()
    cert = certs.issue(tech, certs.tier_by_code("certified"), today - timedelta(days=350), force=True, note="x")
    certs.sweep(today)
    certs.sweep(today)
    assert [n.kind for n in notes(tech)] == ["cert-expiring"]
    certs.suspend(cert, "complaint", by=users["trainer"])
    certs.reinstate(cert, "cleared", today, by=users["trainer"])
    certs.suspend(cert, "second complaint", by=users["trainer"])
    assert [n.kind for n in notes(tech)] == ["cert-expiring", "cert-suspended", "cert-suspended"]  # two events
    assert all(n.link == f"/certificates/{cert.number}" for n in notes(tech))


def test_contribution_review_notifies_the_author_once(app, users, kb_data):
    from portal.kb import contributions
    from portal.kb.models import Contribution

    pending = db.session.scalar(select(Contribution).where(Contribution.status == "pending"))
    author = db.session.get(type(users["technician"]), pending.author_id)
    contributions.reject(pending, users["trainer"], "needs the model number")
    [note] = notes(author, "contribution-rejected")
    assert note.link == "/cases/mine"
    with pytest.raises(contributions.ContributionError):
        contributions.reject(pending, users["trainer"], "again")
    assert len(notes(author, "contribution-rejected")) == 1


def test_falling_behind_notifies_the_cohorts_trainers_once(app, users, courses, runner):
    tech, trainer = users["technician"], users["trainer"]
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    learning.create_cohort("Behind cohort", onboarding, date.today() - timedelta(days=10), [trainer], [tech], trainer)
    first = runner.invoke(args=["daily"])
    assert first.exit_code == 0, first.output
    assert "trainers told about 1 member falling behind" in first.output.splitlines()
    second = runner.invoke(args=["daily"])
    assert second.exit_code == 0
    assert len(notes(trainer, "behind")) == 1 and notes(trainer, "behind")[0].link.startswith("/learning/cohorts/")


def test_mark_all_read(app, users, courses):
    tech = users["technician"]
    for n, slug in enumerate(("d05-forbidden-phrases", "d04-privacy")):
        lesson = db.session.scalar(select(Lesson).where(Lesson.slug == slug))
        learning.assign_targeted(tech, lesson, f"reason {n}", date(2026, 12, 1), users["trainer"])
    client = app.test_client()
    login(client, "tech")
    page = client.get("/notifications/").get_data(as_text=True)
    assert page.count('class="unread"') == 2
    token = get_csrf(client, "/notifications/")
    client.post("/notifications/read", data={"csrf_token": token})
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.read_at.is_(None))) == 0


# --- the technician's home: next steps by urgency ---------------------------------------------


def test_next_steps_are_ordered_by_urgency(app, users, quizzes, kb_data, ctx):
    from portal.assessment import attempts
    from portal.assessment.services import quiz_by_slug
    from portal.records.record import next_steps

    tech, trainer = users["technician"], users["trainer"]
    today = date.today()
    q3, q4 = db.session.scalars(select(Course).where(Course.kind == "quarterly").order_by(Course.slug)).all()
    learning.create_assignment(q3, "all", today - timedelta(days=3), trainer)  # overdue
    learning.create_assignment(q4, "all", today + timedelta(days=3), trainer)  # due soon
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "d04-privacy"))
    learning.assign_targeted(tech, lesson, "later", today + timedelta(days=20), trainer)  # due, not soon
    attempts.start(tech, quiz_by_slug("onboarding-final"), "zh", datetime.now(timezone.utc))  # unfinished
    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    expiring = certs.issue(tech, certs.tier_by_code("certified"), today - timedelta(days=350), force=True, note="x")
    kinds = [s.kind for s in next_steps(tech, today, "en")]
    assert kinds == ["overdue", "quiz", "due-soon", "certificate", "due", "contribution"]
    certs.suspend(expiring, "complaint", by=trainer)
    kinds = [s.kind for s in next_steps(tech, today, "en")]
    assert kinds[:2] == ["overdue", "certificate"]  # a suspended certificate comes right after overdue work
    client = app.test_client()
    login(client, "tech")
    home = client.get("/technician").get_data(as_text=True)
    shown = [chunk.split('"')[0] for chunk in home.split('data-step="')[1:]]
    assert shown == kinds


def test_an_audit_report_asks_the_technician_to_acknowledge_once(app, users, courses, ctx):
    from portal.audits import services as audits
    from portal.audits.loader import current_template, load_templates

    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    form = current_template("home-service-visit")
    now = datetime.now(timezone.utc)
    audit = audits.start(users["auditor"], users["technician"], form, now - timedelta(hours=3), "WO-1",
                         "air-conditioner", "广州", now)
    for item, value in audits.model_answers(form.spec).items():
        audits.save_answer(audit, item, value)
    audits.submit(audit, now)
    audits.amend(audit, users["trainer"], "typo", {"customer-suggestions": "more evening slots"}, None, now)
    [note] = notes(users["technician"], "audit-acknowledge")
    assert note.link == f"/audits/{audit.id}"
    assert users["auditor"].name not in note.text  # the auditor stays anonymous


def test_an_accepted_contribution_notifies_its_author(app, users, kb_data):
    from portal.kb import contributions
    from portal.kb.models import Contribution

    pending = db.session.scalar(select(Contribution).where(Contribution.status == "pending"))
    contributions.approve(pending, users["trainer"])
    [note] = notes(users["technician"], "contribution-approved")
    assert "热水器点不着火" in note.text and note.link == "/cases/mine"
