"""The demo tells one story: every note beside an audit answer agrees with the answer, and the
README's figures about the demo are what ``flask demo`` creates."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.audits.models import Audit, GoodPracticeStory
from portal.kb.models import Contribution
from portal.learning.models import TargetedAssignment
from portal.certification.models import CertificateEvent
from portal.audits.services import all_items, model_answers
from portal.auth.models import Outlet, Province, Region, User
from portal.auth.services import find_user
from portal.certification.models import Certificate
from portal.certification.rules import effective_status, local_today
from portal.extensions import db

from .conftest import BACKENDS, ROOT_DIR, copy_demo_instance, make_app

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
    assert len(texts) > 20
    assert not [t for t in texts if t and pair.search(t)]
