"""The demo tells one story: every note beside an audit answer agrees with the answer, and the
README's figures about the demo are what ``flask demo`` creates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.audits import draw as drawing
from portal.audits import visit_services
from portal.audits.models import Audit, AuditDraw, AuditVisit, AuditVisitHandback, GoodPracticeStory
from portal.kb.models import Contribution
from portal.learning.models import TargetedAssignment
from portal.certification.models import CertificateEvent
from portal.audits.services import all_items, model_answers
from portal.auth.models import Outlet, Province, Region, User
from portal.auth.services import find_user
from portal.certification.models import Certificate
from portal.certification.rules import effective_status, local_today
from portal.extensions import db
from portal.notifications.models import Notification
from portal.voice.models import VoiceAnswer, VoiceMessage

from .conftest import BACKENDS, ROOT_DIR, copy_demo_instance, login, make_app

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18}


def number(word: str) -> int:
    return int(word) if word.isdigit() else WORDS[word.lower()]


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request, tmp_path_factory):
    """The demo, built once per database for these read-only checks: on SQLite a copy of the run's
    demo instance (``flask db upgrade`` + ``flask demo``), on PostgreSQL ``flask demo`` into a new
    database."""
    folder = tmp_path_factory.mktemp("demo")
    if request.param == "sqlite":
        instance = copy_demo_instance(request.getfixturevalue("demo_instance"), folder / "instance")
        uri = "sqlite:///" + str(instance / "portal.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    application = make_app(folder, uri)
    with application.app_context():
        if request.param == "postgresql":
            db.create_all()
            result = application.test_cli_runner().invoke(args=["demo"])
            assert result.exit_code == 0, result.output
        yield application
        db.session.remove()
        db.engine.dispose()


def test_no_demo_audit_note_contradicts_its_answer(demo):
    audits = db.session.scalars(select(Audit).where(Audit.status == "submitted")).all()
    assert audits
    for audit in audits:
        perfect = model_answers(audit.template.spec)
        items = all_items(audit.template.spec)
        answers, notes = audit.responses or {}, audit.comments or {}
        for item_id, note in notes.items():
            item = items[item_id]
            if item["type"] in ("text", "photo"):
                continue
            # A note stands beside a finding; beside a perfect answer it would tell another story
            # (a red line answered "pass" with a note saying the technician took the tea).
            assert answers.get(item_id) != perfect[item_id], (audit.id, item_id, answers.get(item_id), note)
        for item_id, item in items.items():
            if item.get("red_line") and answers.get(item_id) == item.get("pass_when", "yes"):
                assert item_id not in notes, (audit.id, item_id)
        on_time = answers.get("arrived-in-window") == "yes"
        assert (answers.get("minutes-late") == 0) == on_time, (audit.id, answers.get("minutes-late"))
        if not on_time:
            assert answers["arrival-time"] in notes["arrived-in-window"], audit.id
        assert audit.red_line_failed == any(
            item.get("red_line") and answers.get(item_id) not in (None, item.get("pass_when", "yes"))
            for item_id, item in items.items())


def test_the_readme_counts_what_demo_creates(demo):
    readme = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Demo users"):readme.index("## Roles")]
    auditor, auditor2 = find_user("auditor"), find_user("auditor2")
    submitted = db.session.scalars(select(Audit).where(Audit.status == "submitted")).all()

    row = re.search(r"\| `auditor` .*?(\w+) submitted reports \((\w+) red-line failures?.*?a draft for `(\w+)`.*?"
                    r"`auditor2` submitted (\w+) more", section)
    # The reports of planned visits are told apart (which technicians a draw picks depends on the
    # day the demo runs): the counts are of the reports that made no visit.
    linked = set(db.session.scalars(select(AuditVisit.audit_id).where(AuditVisit.audit_id.is_not(None))))
    assert linked
    submitted = [a for a in submitted if a.id not in linked]
    mine = [a for a in submitted if a.auditor_id == auditor.id]
    assert number(row[1]) == len(mine)
    assert number(row[2]) == sum(a.red_line_failed for a in mine)
    drafts = db.session.scalars(select(Audit).where(Audit.status == "draft")).all()
    assert [(d.auditor_id, d.technician.username) for d in drafts] == [(auditor.id, row[3])]
    assert number(row[4]) == sum(a.auditor_id == auditor2.id for a in submitted)

    named = re.search(r"(\w+) more technicians \(([^)]*)\).*?; (\w+) of them hold\s+certificates migrated from "
                      r"paper: (\w+) active, (\w+) suspended, (\w+) expired", section, re.S)
    usernames = re.findall(r"`(\w+)`", named[2])
    assert number(named[1]) == len(usernames) and all(find_user(u) for u in usernames)
    today = local_today()
    states = [effective_status(c, today) for c in db.session.scalars(
        select(Certificate).join(User, Certificate.user_id == User.id).where(User.username.in_(usernames)))]
    assert number(named[3]) == len({c.user_id for c in db.session.scalars(
        select(Certificate).join(User, Certificate.user_id == User.id).where(User.username.in_(usernames)))})
    assert [number(named[4]), number(named[5]), number(named[6])] == [
        states.count("active"), states.count("suspended"), states.count("expired")]

    network = re.search(r"a network of (\d+) more\s+\(`(\w+)` … `(\w+)`", section)
    technicians = [u for u in db.session.scalars(select(User)) if u.has_role("technician")]
    others = [u for u in technicians if u.username not in {"tech", "newtech", *usernames}]
    assert number(network[1]) == len(others) and find_user(network[2]) and find_user(network[3])
    audited = re.search(r"(\w+) audited over six months \((\w+) of\s+them twice; (\w+) red-line failure", section)
    theirs = [a for a in submitted if a.technician_id in {u.id for u in others}]
    per_person = {}
    for a in theirs:
        per_person[a.technician_id] = per_person.get(a.technician_id, 0) + 1
    assert number(audited[1]) == len(per_person)
    assert number(audited[2]) == sum(n == 2 for n in per_person.values())
    assert number(audited[3]) == sum(a.red_line_failed for a in theirs)

    places = re.search(r"The demo network has (\w+) regional centres, every mainland province and (\w+) outlets",
                       section)
    assert number(places[1]) == db.session.scalar(select(func.count(Region.id)))
    assert db.session.scalar(select(func.count(Province.id))) == 31
    assert number(places[2]) == db.session.scalar(select(func.count(Outlet.id)))


def test_demo_texts_are_written_in_one_language(demo):
    """What people typed in the demo is in one language (as a person types it), never the
    "中文 / English" pairs that read as a system text shown twice."""
    pair = re.compile(r"[\u4e00-\u9fff][^/]* / [A-Za-z]")
    texts = [t.reason for t in db.session.scalars(select(TargetedAssignment))]
    texts += [e.reason for e in db.session.scalars(select(CertificateEvent))]
    texts += [a.technician_comment for a in db.session.scalars(select(Audit))]
    texts += [note for a in db.session.scalars(select(Audit)) for note in (a.comments or {}).values()]
    texts += [t for c in db.session.scalars(select(Contribution)) for t in (c.note, c.reason, (c.data or {}).get("title"))]
    texts += [s.story for s in db.session.scalars(select(GoodPracticeStory))]
    texts += [h.reason for h in db.session.scalars(select(AuditVisitHandback))]
    texts += [m.text for m in db.session.scalars(select(VoiceMessage))]
    texts += [a.text for a in db.session.scalars(select(VoiceAnswer))]
    assert len(texts) > 20
    assert not [t for t in texts if t and pair.search(t)]


def test_the_demo_shows_the_audit_programme_over_three_periods(demo):
    """Three periods drawn (the same technicians drawn again from the kept inputs); last month's
    visits done with linked reports, one overdue, one handed back; ``auditor``'s home page has
    something in every group."""
    draws = db.session.scalars(select(AuditDraw).order_by(AuditDraw.period)).all()
    assert len(draws) == 3 and len({d.programme_id for d in draws}) == 1
    today = visit_services.today(visit_services.now_utc())
    kind = drawing.period_kind(draws[0].period)
    assert draws[-1].period == drawing.period_of(today, kind)
    for earlier, later in zip(draws, draws[1:]):  # consecutive periods
        assert drawing.period_bounds(earlier.period)[1] + timedelta(days=1) == drawing.period_bounds(later.period)[0]
    assert all(drawing.verify(d) for d in draws)

    done = db.session.scalars(select(AuditVisit).where(AuditVisit.status == "done")).all()
    assert {v.period for v in done} >= {draws[0].period, draws[1].period}
    for visit in done:
        report = db.session.get(Audit, visit.audit_id)
        assert report.status == "submitted"
        assert (report.technician_id, report.auditor_id) == (visit.technician_id, visit.auditor_id)
    assert not [v for v in db.session.scalars(select(AuditVisit).where(AuditVisit.period == draws[0].period))
                if v.status != "done"]

    handbacks = db.session.scalars(select(AuditVisitHandback)).all()
    assert handbacks and all(h.reason.strip() for h in handbacks)
    last_month = db.session.scalars(select(AuditVisit).where(AuditVisit.period == draws[1].period)).all()
    if len(last_month) >= 3:  # room for all three stories: overdue, handed back to nobody, done
        assert [v for v in last_month if v.status == "open" and v.auditor_id is None]

    auditor = find_user("auditor")
    home = visit_services.home(auditor, today)
    assert home.overdue and home.due and home.done
    assert all(v.due_on < today for v in home.overdue) and all(v.due_on >= today for v in home.due)


def test_the_demo_technician_never_learns_of_a_visit(demo):
    tech = find_user("tech")
    assert db.session.scalar(select(func.count()).select_from(visit_services.visible(tech).subquery())) == 0
    assert not db.session.scalars(select(Notification).where(Notification.user_id == tech.id,
                                                             Notification.kind.like("audit-visit%"))).all()
    client = demo.test_client()
    assert login(client, "tech", "portal-demo").status_code == 302
    assert client.get("/audits/visits/").status_code in (403, 404)
    home = client.get("/technician", follow_redirects=True).get_data(as_text=True)
    assert "/audits/visits" not in home


def test_the_demo_has_technicians_voice_named_and_anonymous(demo):
    messages = db.session.scalars(select(VoiceMessage)).all()
    named = [m for m in messages if m.named]
    anonymous = [m for m in messages if not m.named]
    assert len(named) >= 2 and len(anonymous) >= 2
    assert all(m.sender_id for m in named) and not [m for m in anonymous if m.sender_id is not None]
    assert any(re.search(r"[\u4e00-\u9fff]", m.text) for m in messages)
    assert any(re.fullmatch(r"[ -~]+", m.text) for m in messages)  # and in English
    answered = [m for m in messages if m.answers]
    assert answered and all(m.named for m in answered)
    for message in answered:  # the sender was told through the bell
        assert db.session.scalar(select(Notification).where(
            Notification.user_id == message.sender_id, Notification.key == f"voice-answer:{message.answers[0].id}"))
