"""Reminders (/reminders/): each target reaches exactly its people, once; scope; languages; the
mail outbox against a real local SMTP server (aiosmtpd); trainers told of a contribution."""

from __future__ import annotations

import socket
import threading
from datetime import date
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select, update

from portal.auth.models import User
from portal.extensions import db
from portal.kb import contributions
from portal.learning import services as learning
from portal.learning.models import AssignmentMember, Course
from portal.notifications import MailOutbox, Notification, Reminder
from portal.notifications import mail
from portal.records import reminders

from .conftest import csrf_from, login

CASE_DATA = {"title": "热水器点不着火", "lang": "zh", "product": "water-heater",
             "error_codes": ["E1"], "body": "## 故障现象\n打不着火。\n"}


@pytest.fixture
def people(users, make_user, courses):
    """Technicians in two outlets (one English-speaking), a second trainer, a cohort of trainer's."""
    made = {
        "a": make_user("tech-a", "technician", outlet="GD-GZ-01", name="甲"),
        "b": make_user("tech-b", "technician", outlet="GD-GZ-01", name="乙"),
        "c": make_user("tech-c", "technician", outlet="GD-FS-01", name="Carl"),
        "trainer2": make_user("trainer2", "trainer", name="张伟"),
        "both": make_user("trainer-tech", "trainer", "technician", outlet="GD-FS-01", name="Both"),
    }
    made["c"].locale = "en"
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    cohort = learning.create_cohort("Remind cohort", onboarding, date(2026, 11, 2), [users["trainer"], made["both"]],
                                    [made["a"], made["c"], made["both"]], users["trainer"])
    db.session.commit()
    return {**users, **made, "cohort": cohort.id}


def ids_notified(key_prefix="reminder:"):
    return sorted(db.session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                     .where(Notification.key.startswith(key_prefix))))


def signed_in(app, username):
    """A fresh client signed in as ``username``."""
    fresh = app.test_client()
    login(fresh, username)
    return fresh


def _form(client, url):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:400]
    html = page.get_data(as_text=True)
    token = html.split('name="token" type="hidden" value="')[1].split('"')[0]
    return html, {"csrf_token": csrf_from(html), "token": token}


def test_overdue_reaches_exactly_the_overdue_once(client, people):
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    assignment = learning.create_assignment(quarterly, "all", date(2026, 12, 31), people["trainer"])
    db.session.commit()
    t = AssignmentMember.__table__
    late = [people["a"].id, people["c"].id]
    db.session.execute(update(t).where(t.c.assignment_id == assignment.id, t.c.user_id.in_(late))
                       .values(due_on=date(2026, 1, 5)))
    db.session.commit()
    login(client, "trainer")
    assert 'href="/reminders/new/overdue?assignment=%d"' % assignment.id in client.get(
        f"/learning/assignments/{assignment.id}").get_data(as_text=True)
    html, data = _form(client, f"/reminders/new/overdue?assignment={assignment.id}")
    assert 'data-people="2"' in html
    data["note"] = "请本周内完成"
    url = f"/reminders/new/overdue?assignment={assignment.id}"
    first = client.post(url, data=data)
    assert first.status_code == 303
    again = client.post(url, data=data)  # the double click: the same form once more
    assert again.status_code == 303
    assert ids_notified() == ["tech-a", "tech-c"]
    reminder = db.session.scalar(select(Reminder))
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 1
    assert (reminder.reached, reminder.kind, reminder.note) == (2, "overdue", "请本周内完成")
    assert reminder.sender_id == people["trainer"].id
    log = client.get("/reminders/").get_data(as_text=True)
    assert "请本周内完成" in log and quarterly.title_zh in log


def test_languages_and_the_note_as_typed(app, client, people):
    login(client, "trainer")
    url = f"/reminders/new/cohort?cohort={people['cohort']}"
    _html, data = _form(client, url)
    data["note"] = "Keep going <b>now</b>"
    assert client.post(url, data=data).status_code == 303
    english = signed_in(app, "tech-c").get("/notifications/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Reminder from 李敏 to the cohort Remind cohort" in english
    assert "Keep going &lt;b&gt;now&lt;/b&gt;" in english  # escaped, as typed
    chinese = signed_in(app, "tech-a").get("/notifications/?lang=zh_CN").get_data(as_text=True)
    assert "李敏提醒" in chinese and "Remind cohort" in chinese


def test_cohort_reaches_its_members_but_not_the_sender(client, people):
    login(client, "trainer-tech")  # a trainer of the cohort who is also one of its members
    url = f"/reminders/new/cohort?cohort={people['cohort']}"
    html, data = _form(client, url)
    assert 'data-people="2"' in html
    assert client.post(url, data=data).status_code == 303
    assert ids_notified() == ["tech-a", "tech-c"]


def test_only_the_cohorts_trainers_remind_its_members(client, people):
    login(client, "trainer2")
    url = f"/reminders/new/cohort?cohort={people['cohort']}"
    page = client.get(url)
    assert page.status_code == 403 and "李敏" in page.get_data(as_text=True)
    # a forged post changes nothing either
    post = client.post(url, data={"csrf_token": csrf_from(client.get("/reminders/").get_data(as_text=True)),
                                  "token": "x" * 32})
    assert post.status_code == 403
    assert ids_notified() == [] and db.session.scalar(select(func.count()).select_from(Reminder)) == 0


def test_admin_and_technicians_may_not_remind(app, people):
    for who in ("admin", "tech"):
        assert signed_in(app, who).get(f"/reminders/new/cohort?cohort={people['cohort']}").status_code == 403


def test_technician_filter_reaches_the_filtered_list(client, people, network):
    login(client, "trainer")
    outlet = network["outlets"][0]  # GD-GZ-01: tech, tech-a, tech-b
    listing = client.get(f"/technicians/?outlet={outlet.id}").get_data(as_text=True)
    assert f'href="/reminders/new/technicians?outlet={outlet.id}"' in listing
    url = f"/reminders/new/technicians?outlet={outlet.id}"
    html, data = _form(client, url)
    assert 'data-people="3"' in html and "Guangzhou Tianhe" in client.get(
        url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert client.post(url, data=data).status_code == 303
    assert ids_notified() == ["tech", "tech-a", "tech-b"]
    # the whole region: every active technician there (the trainer-technician too, not the sender)
    url = f"/reminders/new/technicians?region={network['region'].id}"
    _html, data = _form(client, url)
    client.post(url, data=data)
    second = db.session.scalar(select(Reminder).order_by(Reminder.id.desc()))
    assert second.reached == 5 and second.target == {"region": network["region"].id}


def test_a_reminder_past_the_limit_is_refused_and_writes_nothing(client, people, monkeypatch):
    monkeypatch.setattr(reminders, "MAX_PEOPLE", 1)
    login(client, "trainer")
    url = f"/reminders/new/cohort?cohort={people['cohort']}"
    _html, data = _form(client, url)
    data["note"] = "typed"
    page = client.post(url, data=data)
    assert page.status_code == 200 and "最多发给 1 人" in page.get_data(as_text=True)
    assert "typed" in page.get_data(as_text=True)  # the form keeps what was typed
    assert ids_notified() == [] and db.session.scalar(select(func.count()).select_from(Reminder)) == 0


def test_unknown_targets_are_404(client, people):
    login(client, "trainer")
    assert client.get("/reminders/new/everyone").status_code == 404
    assert client.get("/reminders/new/cohort?cohort=999999").status_code == 404
    assert client.get("/reminders/new/overdue").status_code == 404


# --- contributions waiting for review ---------------------------------------------------------


def test_trainers_are_told_when_a_contribution_waits(app, people):
    app.config["MAIL_SERVER"] = "127.0.0.1"  # queued only: nothing is sent here
    people["trainer"].email = "trainer@example.cn"
    people["both"].email = "both@example.cn"
    db.session.commit()
    item = contributions.submit_new(people["a"], dict(CASE_DATA))
    assert ids_notified("contribution:") == ["trainer", "trainer-tech", "trainer2"]
    note = db.session.scalar(select(Notification).where(Notification.user_id == people["trainer"].id))
    assert note.link == f"/cases/review/{item.id}" and note.msg_id == "kb.contribution-waiting"
    assert sorted(db.session.scalars(select(MailOutbox.address))) == ["both@example.cn", "trainer@example.cn"]
    # a trainer who contributes is not told about their own contribution
    contributions.submit_new(people["both"], dict(CASE_DATA, title="另一个"))
    own = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == people["both"].id, Notification.kind == "contribution-waiting"))
    assert own == 1


def test_no_mail_is_queued_without_an_smtp_server(app, people):
    people["trainer"].email = "trainer@example.cn"
    db.session.commit()
    contributions.submit_new(people["a"], dict(CASE_DATA))
    assert db.session.scalar(select(func.count()).select_from(MailOutbox)) == 0


# --- e-mail, against a real SMTP server ---------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    controller_module = pytest.importorskip("aiosmtpd.controller")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_DEFAULT_SENDER="portal@example.cn",
                      PORTAL_BASE_URL="https://service.example.cn")
    yield inbox
    controller.stop()


def test_a_reminder_arrives_at_the_smtp_server_once_in_the_recipients_language(client, runner, people,
                                                                              smtp_server):
    people["a"].email = "a@example.cn"       # no locale: the portal's default, Chinese
    people["c"].email = "carl@example.com"   # English
    db.session.commit()
    login(client, "trainer")
    url = f"/reminders/new/cohort?cohort={people['cohort']}"
    _html, data = _form(client, url)
    data["note"] = "周五前完成"
    assert client.post(url, data=data).status_code == 303
    assert client.post(url, data=data).status_code == 303  # double submit
    assert smtp_server.messages == []  # nothing is sent while the request is answered
    assert db.session.scalar(select(Reminder)).mailed == 2
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 2, failed 0, waiting 0" in result.output
    again = runner.invoke(args=["mail", "send"])  # a second worker run finds nothing to send
    assert "sent 0" in again.output
    got = {rcpt[0]: message for rcpt, message in smtp_server.messages}
    assert len(smtp_server.messages) == 2 and set(got) == {"a@example.cn", "carl@example.com"}
    english = got["carl@example.com"]
    assert english["Subject"].startswith("Service portal: Reminder from 李敏")
    body = english.get_content()
    assert "Reminder from 李敏 to the cohort Remind cohort" in body and "周五前完成" in body
    assert "https://service.example.cn/learning/" in body
    chinese = got["a@example.cn"].get_content()
    assert "李敏提醒" in chinese and "打开门户" in chinese
    assert db.session.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.sent_at.is_(None))) == 0


def test_two_workers_never_claim_the_same_message(app, people, smtp_server):
    for who in ("trainer", "trainer2", "both"):
        people[who].email = f"{people[who].username}@example.cn"
    db.session.commit()
    contributions.submit_new(people["a"], dict(CASE_DATA))  # to the three trainers
    assert db.session.scalar(select(func.count()).select_from(MailOutbox)) == 3
    first = mail.claim_batch(2)
    second = mail.claim_batch(10)
    third = mail.claim_batch(10)
    claims = list(db.session.scalars(select(MailOutbox.claim)))
    assert first and second and third is None
    assert claims.count(first) == 2 and claims.count(second) == 1
    # a claim that outlived MAIL_CLAIM_SECONDS (its worker died) is taken over and sent
    app.config["MAIL_CLAIM_SECONDS"] = -1
    sent, failed = mail.send_pending()
    assert (sent, failed) == (3, 0) and len(smtp_server.messages) == 3
    assert mail.send_pending() == (0, 0)


def test_mail_send_without_smtp_says_so(runner, app):
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1 and "PORTAL_MAIL_SERVER" in result.output


def test_users_email_sets_and_clears_an_address(runner, people):
    assert runner.invoke(args=["users", "email", "tech-a", "not-an-address"]).exit_code == 1
    assert db.session.get(User, people["a"].id).email is None
    assert runner.invoke(args=["users", "email", "tech-a", "a@example.cn"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(User, people["a"].id).email == "a@example.cn"
    assert runner.invoke(args=["users", "email", "tech-a"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(User, people["a"].id).email is None


def test_a_name_search_on_the_technician_list_is_the_reminders_target_too(client, people, network):
    """The list's shared filter (name or username, start dates) narrows the reminder exactly as it
    narrows the list: searching "tech-" in one outlet reaches tech-a and tech-b, not tech."""
    login(client, "trainer")
    outlet = network["outlets"][0]
    listing = client.get(f"/technicians/?q=tech-&outlet={outlet.id}").get_data(as_text=True)
    assert f'href="/reminders/new/technicians?q=tech-&amp;outlet={outlet.id}"' in listing
    url = f"/reminders/new/technicians?q=tech-&outlet={outlet.id}"
    html, data = _form(client, url)
    assert 'data-people="2"' in html
    assert client.post(url, data=data).status_code == 303
    assert ids_notified() == ["tech-a", "tech-b"]
    sent = db.session.scalar(select(Reminder).order_by(Reminder.id.desc()))
    assert sent.reached == 2 and sent.target == {"q": "tech-", "outlet": outlet.id}
