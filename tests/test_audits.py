"""Mystery-shopper audits: response types, scoring, template versions, drafts and locking,
amendments, access, consequences (once each, rolled back with the report), the API, records
and reports."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal.audits import reports as rep
from portal.audits import rtypes
from portal.audits import services as audits
from portal.audits.loader import load_templates
from portal.audits.models import Audit, AuditAmendment, AuditConsequence, AuditTemplate, GoodPracticeStory
from portal.notifications import Notification
from portal.audits.scoring import score_report
from portal.certification import services as certs
from portal.extensions import db
from portal.learning.models import Lesson, TargetedAssignment

from .conftest import ROOT_DIR, get_csrf, login, png_bytes
from .paging import csv_rows, walk, xlsx_rows

TEMPLATE = """
slug: test-visit
title: {zh: 测试暗访表, en: Test visit form}
grades:
  - {code: excellent, min: 90, title: {zh: 优秀, en: Excellent}}
  - {code: good, min: 75, title: {zh: 良好, en: Good}}
  - {code: needs-improvement, min: 60, title: {zh: 待改进, en: Needs improvement}}
  - {code: fail, min: 0, title: {zh: 不合格, en: Fail}}
rules:
  red_line: {suspend_certificate: true, notify_trainers: true}
  weak_section: {below: 70, due_days: 14}
  good_practice: {grades: [excellent], story: story}
sections:
  - id: arrival
    title: {zh: 准时, en: Arrival}
    trains: lesson:onboarding/d02-arrival-and-repair-times
    items:
      - {id: on-time, type: yesno, weight: 3, text: {zh: 准时到达？, en: "Arrived on time?"}}
      - id: called
        type: choice
        weight: 2
        text: {zh: 提前电话？, en: "Called ahead?"}
        options:
          - {id: before, label: {zh: 提前打了, en: Called before}, score: 1}
          - {id: late, label: {zh: 迟了才打, en: Called late}, score: 0.5}
          - {id: none, label: {zh: 没打, en: Did not call}, score: 0}
      - {id: arrival-time, type: time, weight: 0, text: {zh: 到达时间, en: Arrival time}}
      - {id: minutes-late, type: number, weight: 1, target: {min: 0, max: 0}, max: 2000,
         text: {zh: 迟到分钟, en: Minutes late}}
  - id: integrity
    title: {zh: 诚信, en: Integrity}
    trains: lesson:onboarding/d04-integrity-red-lines
    items:
      - {id: gift, type: yesno, weight: 2, red_line: true, pass_when: "no", na: false,
         text: {zh: 收了礼品？, en: "Accepted a gift?"}}
  - id: manner
    title: {zh: 用语, en: Manner}
    trains: module:onboarding/5
    below: 80
    items:
      - {id: polite, type: rating, weight: 2, text: {zh: 礼貌用语, en: Polite phrases}}
      - {id: forbidden, type: yesno, weight: 2, red_line: true, pass_when: "no", na: false,
         text: {zh: 说了禁语？, en: "Used a forbidden phrase?"}}
  - id: outcome
    title: {zh: 结果, en: Outcome}
    items:
      - {id: fixed, type: yesno, weight: 3, evidence: photo, text: {zh: 一次修好？, en: "Fixed first time?"}}
      - {id: suggestions, type: text, weight: 0, text: {zh: 客户建议, en: Customer suggestions}}
      - {id: story, type: text, weight: 0, text: {zh: 感动故事, en: Story}}
      - {id: pictures, type: photo, weight: 0, text: {zh: 照片, en: Photos}}
"""

PERFECT = {"on-time": "yes", "called": "before", "arrival-time": "09:55", "minutes-late": "0", "gift": "no",
           "polite": "5", "forbidden": "no", "fixed": "yes"}
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def template(app, courses, tmp_path):
    folder = tmp_path / "audits"
    folder.mkdir()
    (folder / "test-visit.yaml").write_text(TEMPLATE, encoding="utf-8")
    report = load_templates(folder)
    assert not report.problems, [str(p) for p in report.problems]
    return db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == "test-visit"))


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


WORK_ORDERS = itertools.count(1)


def draft(users, template, answers=None, **header) -> Audit:
    """A draft of a new visit (each its own work order: one visit is one report)."""
    audit = audits.start(users["auditor"], users["technician"], template, header.get("visited_at", NOW - timedelta(days=1)),
                         header.get("work_order") or f"WO-{next(WORK_ORDERS)}", "air-conditioner", "广州", NOW)
    for item, value in (answers or {}).items():
        audits.save_answer(audit, item, value)
    return audit


def filed(users, template, answers=PERFECT, comments=None, now=NOW) -> Audit:
    audit = draft(users, template, answers)
    for item, text in (comments or {}).items():
        audits.save_answer(audit, item, audit.responses.get(item), text)
    return audits.submit(audit, now)


# --- response types ---------------------------------------------------------------------------


def test_every_response_type_validates_its_answers(app):
    yesno = {"id": "x", "type": "yesno", "na": False}
    assert rtypes.get("yesno").clean(yesno, "yes") == "yes"
    for bad in ("maybe", "na", 1):
        with pytest.raises(ValueError):
            rtypes.get("yesno").clean(yesno, bad)
    rating = {"id": "r", "type": "rating", "na": True}
    assert rtypes.get("rating").clean(rating, "4") == 4 and rtypes.get("rating").clean(rating, "na") == "na"
    for bad in ("0", "6", "3.5", "x", True):
        with pytest.raises(ValueError):
            rtypes.get("rating").clean(rating, bad)
    choice = {"id": "c", "type": "choice", "na": False, "options": [{"id": "a", "score": 1}, {"id": "b", "score": 0}]}
    assert rtypes.get("choice").clean(choice, "b") == "b"
    with pytest.raises(ValueError):
        rtypes.get("choice").clean(choice, "z")
    number = {"id": "n", "type": "number", "na": True}
    assert rtypes.get("number").clean(number, "12.5") == 12.5 and rtypes.get("number").clean(number, "7") == 7
    for bad in ("abc", "nan", "1e12", "12,5"):  # a decimal comma is refused, never read as 125 or 1.25
        with pytest.raises(ValueError):
            rtypes.get("number").clean(number, bad)
    assert rtypes.get("time").clean({}, "9:05") == "09:05"
    for bad in ("25:00", "9.05", "noon"):
        with pytest.raises(ValueError):
            rtypes.get("time").clean({}, bad)
    assert rtypes.get("text").clean({}, "  fine  ") == "fine"
    with pytest.raises(ValueError):
        rtypes.get("text").clean({}, "x" * 4001)
    for kind in ("yesno", "rating", "choice", "number", "time", "text", "photo"):
        assert rtypes.get(kind).clean(choice if kind == "choice" else {}, "") is None  # blank


def test_every_response_type_scores(app):
    yes, gift = {"type": "yesno"}, {"type": "yesno", "pass_when": "no", "red_line": True}
    assert rtypes.get("yesno").score(yes, "yes") == 1 and rtypes.get("yesno").score(yes, "no") == 0
    assert rtypes.get("yesno").score(yes, "na") is None
    assert rtypes.get("yesno").score(gift, "no") == 1 and rtypes.get("yesno").fails_red_line(gift, "yes")
    assert not rtypes.get("yesno").fails_red_line(gift, "no")
    assert [rtypes.get("rating").score({}, n) for n in (1, 3, 5)] == [0, 0.5, 1]
    assert rtypes.get("rating").fails_red_line({"red_line": True}, 2) and not rtypes.get("rating").fails_red_line(
        {"red_line": True}, 3)
    choice = {"options": [{"id": "a", "score": 1}, {"id": "half", "score": 0.5}, {"id": "bad", "score": 0, "red_line": True}]}
    assert rtypes.get("choice").score(choice, "half") == 0.5 and rtypes.get("choice").fails_red_line(choice, "bad")
    assert rtypes.get("number").score({"target": {"min": 0, "max": 5}}, 3) == 1
    assert rtypes.get("number").score({"target": {"min": 0, "max": 5}}, 6) == 0
    assert rtypes.get("number").score({}, 6) is None  # no target: recorded, not scored
    assert rtypes.get("time").score({}, "09:00") is None and rtypes.get("text").score({}, "x") is None


# --- scoring ----------------------------------------------------------------------------------


def test_weighted_score_with_not_applicable_items_left_out(template):
    spec = template.spec
    perfect = score_report(spec, {k: rtypes.get(spec_type(spec, k)).clean({}, v) if False else v
                                  for k, v in _clean(spec, PERFECT).items()})
    assert perfect.score == 100 and perfect.result == "excellent" and not perfect.red_line_failed
    answers = _clean(spec, {**PERFECT, "on-time": "no", "called": "late"})
    # weights: on-time 3 (0), called 2 (0.5), minutes 1, gift 2, polite 2, forbidden 2, fixed 3 → 15
    result = score_report(spec, answers)
    assert result.score == round(100 * (15 - 3 - 1) / 15, 1) == 73.3
    assert result.section_scores["arrival"] == round(100 * (1 + 1) / 6, 1)  # called 0.5×2 + minutes 1
    assert result.result == "needs-improvement"
    na = score_report(spec, _clean(spec, {**PERFECT, "on-time": "na", "called": "late"}))
    assert na.score == round(100 * (15 - 3 - 1) / (15 - 3), 1) == 91.7  # on-time left the denominator
    assert na.result == "excellent"
    assert na.section_scores["outcome"] == 100 and na.section_scores["integrity"] == 100


def test_a_red_line_failure_fails_the_report_whatever_the_score(template):
    spec = template.spec
    result = score_report(spec, _clean(spec, {**PERFECT, "gift": "yes"}))
    assert result.score == round(100 * 13 / 15, 1) and result.score > 75
    assert result.result == "fail" and result.red_line_failed and result.red_line_items == ["gift"]


def _clean(spec, answers):
    from portal.audits.loader import all_items

    items = all_items(spec)
    return {k: rtypes.get(items[k]["type"]).clean(items[k], v) for k, v in answers.items()}


def spec_type(spec, item_id):
    from portal.audits.loader import all_items

    return all_items(spec)[item_id]["type"]


# --- templates --------------------------------------------------------------------------------


def test_the_shipped_home_service_form_loads_in_both_languages(app, courses):
    report = load_templates(ROOT_DIR / "content" / "audits")
    assert not report.problems, [str(p) for p in report.problems]
    template = db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == "home-service-visit"))
    sections = {s["id"]: s for s in template.spec["sections"]}
    for needed in ("timeliness", "appearance", "fees-and-records", "seven-steps", "five-ones", "three-completions",
                   "integrity", "communication", "outcome"):
        assert needed in sections, needed
    items = [i for s in template.spec["sections"] for i in s["items"]]
    assert len([i for i in sections["integrity"]["items"] if i["red_line"]]) == 4
    assert any(i["red_line"] for i in sections["communication"]["items"])  # the forbidden phrase
    # the hotline, callback and complaint checks are the service centre's, never the technician's
    assert sections["office-side"]["about"] == "office"
    assert not any(i["weight"] or i["red_line"] for i in sections["office-side"]["items"])
    for item in items:
        assert item["text"]["zh"] and item["text"]["en"], item["id"]
    assert template.spec["rules"]["good_practice"]["story"] in {i["id"] for i in items if i["type"] == "text"}


def test_a_malformed_template_names_file_line_and_field(app, courses, tmp_path):
    folder = tmp_path / "audits"
    folder.mkdir()
    text = TEMPLATE.replace("type: rating", "type: stars").replace("trains: module:onboarding/5",
                                                                 "trains: lesson:onboarding/no-such-lesson")
    (folder / "bad.yaml").write_text(text, encoding="utf-8")
    report = load_templates(folder)
    lines = text.splitlines()
    found = {(p.line, p.field) for p in report.problems}
    assert (next(n for n, l in enumerate(lines, 1) if "type: stars" in l), "polite.type") in found
    assert (next(n for n, l in enumerate(lines, 1) if "no-such-lesson" in l), "manner.trains") in found
    assert db.session.scalar(select(func.count()).select_from(AuditTemplate)) == 0


def test_an_office_section_carries_no_weight_no_red_line_and_trains_nobody(app, courses, tmp_path):
    folder = tmp_path / "audits"
    folder.mkdir()
    text = TEMPLATE.replace("trains: module:onboarding/5", "about: office\n    trains: module:onboarding/5")
    assert text != TEMPLATE
    (folder / "bad.yaml").write_text(text, encoding="utf-8")
    report = load_templates(folder)
    fields = {p.field for p in report.problems}
    assert "manner.trains" in fields and any(f.endswith(".weight") for f in fields), fields
    assert db.session.scalar(select(func.count()).select_from(AuditTemplate)) == 0
    (folder / "bad.yaml").write_text(TEMPLATE.replace("trains: module:onboarding/5", "about: outlet"),
                                     encoding="utf-8")
    assert "manner.about" in {p.field for p in load_templates(folder).problems}


def test_editing_a_template_never_changes_a_filed_report(template, users, tmp_path):
    first = filed(users, template)
    folder = tmp_path / "audits"
    (folder / "test-visit.yaml").write_text(TEMPLATE.replace("weight: 3, text: {zh: 准时到达？",
                                                             "weight: 9, text: {zh: 准时到达？"), encoding="utf-8")
    report = load_templates(folder)
    assert report.created == 1
    versions = db.session.scalars(select(AuditTemplate).where(AuditTemplate.slug == "test-visit")
                                  .order_by(AuditTemplate.version)).all()
    assert [(v.version, v.current) for v in versions] == [(1, False), (2, True)]
    db.session.refresh(first)
    assert first.template.version == 1 and first.template.spec["sections"][0]["items"][0]["weight"] == 3
    assert first.score == 100
    # No report uses version 2 yet: another change updates it in place.
    (folder / "test-visit.yaml").write_text(TEMPLATE.replace("weight: 3, text: {zh: 准时到达？",
                                                             "weight: 8, text: {zh: 准时到达？"), encoding="utf-8")
    assert load_templates(folder).updated == 1
    assert db.session.scalar(select(func.count()).select_from(AuditTemplate)) == 2
    assert load_templates(folder).unchanged == 1


# --- drafts, locking, amendments --------------------------------------------------------------


def test_a_draft_keeps_each_answer_and_a_submitted_report_is_locked(template, users, app, ctx):
    audit = draft(users, template, {"on-time": "yes"})
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    reply = client.post(f"/audits/{audit.id}/answer", data={"csrf_token": token, "item": "called", "value": "late",
                                                            "comment": "rang 5 minutes before"})
    assert reply.status_code == 200 and reply.get_json()["ok"]
    bad = client.post(f"/audits/{audit.id}/answer", data={"csrf_token": token, "item": "polite", "value": "9"})
    assert bad.status_code == 400 and "1" in bad.get_json()["error"]
    again = app.test_client()  # the browser was closed: a new session finds the draft as it was
    login(again, "auditor")
    page = again.get(f"/audits/{audit.id}/edit").get_data(as_text=True)
    assert 'name="r.called" value="late" checked' in page and "rang 5 minutes before" in page
    assert 'name="r.on-time" value="yes" checked' in page
    for item, value in PERFECT.items():
        audits.save_answer(audit, item, value)
    audits.submit(audit, NOW)
    assert audit.status == "submitted" and audit.submitted_at is not None
    with pytest.raises(audits.AuditError):
        audits.save_answer(audit, "on-time", "no")
    locked = client.post(f"/audits/{audit.id}/answer", data={"csrf_token": token, "item": "on-time", "value": "no"})
    assert locked.status_code == 409
    assert client.get(f"/audits/{audit.id}/edit").status_code == 302  # to the locked report


def test_submitting_needs_every_answer_and_evidence_for_failures(template, users, app):
    audit = draft(users, template, {**PERFECT, "gift": "yes", "fixed": "no"})
    audits.save_answer(audit, "on-time", None)
    with pytest.raises(audits.AuditInvalid) as invalid:
        audits.submit(audit, NOW)
    assert set(invalid.value.problems) == {"on-time", "gift", "fixed"}  # missing; comment needed; photo needed
    assert audit.status == "draft"


def test_the_page_keeps_what_was_typed_when_submission_is_refused(template, users, app):
    audit = draft(users, template, {})
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    page = client.post(f"/audits/{audit.id}/submit", data={"csrf_token": token, "r.on-time": "yes",
                                                           "r.suggestions": "wants a weekend slot", "r.polite": "7"})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "wants a weekend slot" in html and 'value="yes" checked' in html and 'class="error"' in html
    db.session.refresh(audit)
    assert audit.status == "draft" and audit.responses["suggestions"] == "wants a weekend slot"


def test_a_trainer_amends_with_a_reason_and_the_original_is_kept(template, users, app, ctx):
    audit = filed(users, template)
    with pytest.raises(audits.AuditInvalid):
        audits.amend(audit, users["trainer"], "  ", {"on-time": "no"}, None, NOW)
    with pytest.raises(audits.AuditError):
        audits.amend(audit, users["auditor"], "mine", {"on-time": "no"}, None, NOW)
    audits.amend(audit, users["trainer"], "the customer's call log shows 40 minutes late", {"on-time": "no"},
                 None, NOW + timedelta(hours=1))
    assert audit.responses["on-time"] == "no" and audit.score == round(100 * 12 / 15, 1)
    amendment = db.session.scalar(select(AuditAmendment))
    assert amendment.before["responses"]["on-time"] == "yes" and amendment.before["score"] == 100
    assert amendment.after["responses"]["on-time"] == "no" and amendment.by_id == users["trainer"].id
    client = app.test_client()
    login(client, "trainer")
    page = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "the customer&#39;s call log shows 40 minutes late" in page and "on-time" in page
    auditor = app.test_client()
    login(auditor, "auditor")
    assert auditor.get(f"/audits/{audit.id}/amend").status_code == 403


# --- who sees what ----------------------------------------------------------------------------


def test_auditors_see_only_their_own_and_never_audit_themselves(template, users, make_user, app):
    other = make_user("auditor2", "auditor")
    both = make_user("dual", "auditor", "technician", outlet="GD-GZ-01")
    mine = filed(users, template)
    with pytest.raises(audits.AuditInvalid) as refused:
        audits.start(both, both, template, NOW - timedelta(hours=2), "WO-9", "air-conditioner", "广州", NOW)
    assert "technician" in refused.value.problems
    client = app.test_client()
    login(client, "auditor2")
    assert client.get(f"/audits/{mine.id}").status_code == 404
    assert client.get(f"/audits/{mine.id}/edit").status_code == 404
    assert f"#{mine.id}" not in client.get("/audits/").get_data(as_text=True)
    login(client := app.test_client(), "dual")
    assert "dual" not in client.get("/audits/new").get_data(as_text=True).split('id="technician"')[1].split("</select>")[0]
    assert other.has_role("auditor") and mine.auditor_id == users["auditor"].id


def test_the_technician_sees_their_report_without_the_auditor_and_acknowledges_it(template, users, make_user, app):
    audit = filed(users, template)
    make_user("tech2", "technician", outlet="GD-FS-01")
    tech = app.test_client()
    login(tech, "tech")
    page = tech.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert 'data-score' in page and users["auditor"].name not in page and "auditor" not in page.lower().split("<main")[1]
    token = get_csrf(tech, f"/audits/{audit.id}")
    tech.post(f"/audits/{audit.id}/acknowledge", data={"csrf_token": token, "comment": "I will call ahead next time"})
    db.session.refresh(audit)
    assert audit.acknowledged_at is not None and audit.technician_comment == "I will call ahead next time"
    other = app.test_client()
    login(other, "tech2")
    assert other.get(f"/audits/{audit.id}").status_code == 404
    assert other.post(f"/audits/{audit.id}/acknowledge", data={"csrf_token": token}).status_code in (400, 404)
    trainer = app.test_client()
    login(trainer, "trainer")
    assert users["auditor"].name in trainer.get(f"/audits/{audit.id}").get_data(as_text=True)
    drafted = draft(users, template, {"on-time": "yes"})
    assert tech.get(f"/audits/{drafted.id}").status_code == 404  # drafts are the auditor's


# --- consequences -----------------------------------------------------------------------------


@pytest.fixture
def certified(app, users, ctx, quizzes):
    from portal.certification.loader import load_tiers

    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    return certs.issue(users["technician"], certs.tier_by_code("certified"), date(2026, 6, 1), force=True, note="x")


def test_a_red_line_failure_suspends_the_certificate_and_notifies_trainers_once(template, users, certified, app):
    audit = filed(users, template, {**PERFECT, "gift": "yes"}, {"gift": "accepted a box of tea"})
    assert audit.result == "fail"
    db.session.refresh(certified)
    assert certified.status == "suspended"
    assert certified.events[-1].rule == "audit-red-line" and f"#{audit.id}" in certified.events[-1].reason
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == users["trainer"].id)) == 1
    kinds = sorted(c.kind for c in audit.consequences)
    assert kinds == ["assign", "notify", "suspend"]  # integrity scored 0: its lesson is assigned too
    audits.apply_consequences(audit, NOW)  # again: nothing new
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AuditConsequence)) == 3
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "audit-red-line")) == 1
    client = app.test_client()
    login(client, "tech")
    record = client.get("/technicians/tech").get_data(as_text=True)
    assert 'data-consequence="suspend"' in record and f"/audits/{audit.id}" in record


def test_a_weak_section_assigns_its_lesson_once_with_a_due_date(template, users, app, ctx):
    audit = filed(users, template, {**PERFECT, "on-time": "no", "called": "none"})
    assert audit.section_scores["arrival"] < 70
    rows = db.session.scalars(select(TargetedAssignment)).all()
    assert len(rows) == 1 and rows[0].lesson.slug == "d02-arrival-and-repair-times"
    assert rows[0].source == "audit" and rows[0].due_date == date(2026, 12, 4) and f"#{audit.id}" in rows[0].reason
    audits.amend(audit, users["trainer"], "polite was 2 after all", {"polite": "2"}, None, NOW)
    rows = db.session.scalars(select(TargetedAssignment)).all()
    assert len(rows) == 2  # manner (below its own 80) now too; arrival not twice
    assert {r.module_id is not None for r in rows} == {True, False}
    client = app.test_client()
    login(client, "trainer")
    record = client.get("/technicians/tech").get_data(as_text=True)
    assert record.count(f'data-caused-by="{audit.id}"') == 2


def test_an_excellent_visit_with_a_story_is_proposed_and_a_trainer_publishes_it(template, users, app):
    audit = filed(users, template, {**PERFECT, "story": "fixed the neighbour's heater for an elderly customer"})
    story = db.session.scalar(select(GoodPracticeStory))
    assert story.status == "proposed" and story.audit_id == audit.id
    with app.test_request_context():
        audits.amend(audit, users["trainer"], "typo in the suggestions", {"suggestions": "weekend visits"}, None, NOW)
    assert db.session.scalar(select(func.count()).select_from(GoodPracticeStory)) == 1  # still once
    tech = app.test_client()
    login(tech, "tech")
    assert "elderly customer" not in tech.get("/audits/good-practice").get_data(as_text=True)
    trainer = app.test_client()
    login(trainer, "trainer")
    token = get_csrf(trainer, "/audits/good-practice")
    trainer.post(f"/audits/good-practice/{story.id}", data={"csrf_token": token, "decision": "approve"})
    assert "elderly customer" in tech.get("/audits/good-practice").get_data(as_text=True)
    plain = filed(users, template, {**PERFECT, "polite": "4", "story": ""})  # no story: nothing proposed
    assert not [c for c in plain.consequences if c.kind == "good_practice"]


def test_consequences_roll_back_with_the_report_when_one_fails(template, users, certified, app):
    audit = draft(users, template, {**PERFECT, "gift": "yes", "on-time": "no", "called": "none"})
    audits.save_answer(audit, "gift", "yes", "tea")
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == "d02-arrival-and-repair-times"))
    lesson.active = False  # the arrival section's lesson is gone: that consequence cannot happen
    db.session.commit()
    with pytest.raises(audits.AuditError):
        audits.submit(audit, NOW)
    db.session.refresh(audit)
    db.session.refresh(certified)
    assert audit.status == "draft" and audit.score is None
    assert certified.status == "active"
    assert db.session.scalar(select(func.count()).select_from(AuditConsequence)) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    assert db.session.scalar(select(func.count()).select_from(TargetedAssignment)) == 0


def test_the_certification_audit_requirement_reads_the_reports(template, users, ctx, quizzes):
    from portal.certification import rules
    from portal.certification.loader import load_tiers

    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    first = filed(users, template)
    filed(users, template, {**PERFECT, "polite": "4"})
    senior = certs.tier_by_code("senior")
    req = next(r for r in rules.eligibility(users["technician"], senior, date(2026, 11, 21)).requirements
               if r.kind == "audits")
    assert req.met and len(req.evidence) == 2 and req.evidence[0].url == f"/audits/{first.id}"


# --- the API ----------------------------------------------------------------------------------


def _token(user):
    from portal.auth.services import issue_token

    return {"Authorization": f"Bearer {issue_token(user)}"}


def test_api_template(template, users, app):
    client = app.test_client()
    body = client.get("/api/v1/audit-templates/test-visit", headers=_token(users["auditor"])).get_json()
    assert body["slug"] == "test-visit" and body["version"] == 1
    items = {i["id"]: i for s in body["sections"] for i in s["items"]}
    gift = items["gift"]
    assert {k: gift[k] for k in ("id", "type", "weight", "red_line", "options", "text", "evidence")} == {
        "id": "gift", "type": "yesno", "weight": 2, "red_line": True, "options": ["yes", "no"],
        "text": {"zh": "收了礼品？", "en": "Accepted a gift?"}, "evidence": "comment"}  # the fields clients had
    # What the page knows and the JSON once did not: "no" passes it, it cannot be n/a, it must be answered.
    assert (gift["pass_when"], gift["na"], gift["required"], gift["scored"], gift["about"]) == ("no", False, True,
                                                                                             True, "technician")
    assert gift["answer"] == {"enum": ["yes", "no"]}
    assert items["called"]["options"] == ["before", "late", "none"] and items["polite"]["options"][:5] == [1, 2, 3, 4, 5]
    assert [(c["id"], c["score"], c["red_line"]) for c in items["called"]["choices"]] == [
        ("before", 1, False), ("late", 0.5, False), ("none", 0, False)]
    assert (items["polite"]["red_line_at"], items["polite"]["na"]) == (None, True)
    assert (items["minutes-late"]["target"], items["minutes-late"]["min"], items["minutes-late"]["max"]) == (
        {"min": 0, "max": 0}, 0, 2000)
    assert items["fixed"]["evidence"] == "photo" and not items["pictures"]["scored"]
    sections = {s["id"]: s for s in body["sections"]}
    assert sections["arrival"]["lesson"]["url"].endswith("/learning/courses/onboarding/lessons/"
                                                         "d02-arrival-and-repair-times")
    assert (sections["arrival"]["below"], sections["manner"]["below"], sections["outcome"]["below"]) == (70, 80, None)
    assert sections["manner"]["lesson"]["kind"] == "module" and sections["arrival"]["weight"] == 6
    assert body["grades"][0] == {"code": "excellent", "min": 90, "title": {"zh": "优秀", "en": "Excellent"}}
    assert client.get("/api/v1/audit-templates/nope", headers=_token(users["auditor"])).status_code == 404
    assert client.get("/api/v1/audit-templates/test-visit", headers=_token(users["technician"])).status_code == 403


def test_api_files_an_audit_or_stores_nothing(template, users, app):
    client = app.test_client()
    headers = {**_token(users["auditor"]), "Content-Type": "application/json"}
    payload = {"technician": "tech", "template": "test-visit",
               "visited_at": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat(),
               "work_order": "WO-77", "product": "air-conditioner", "city": "广州",
               "responses": {**PERFECT, "minutes-late": 12, "polite": 4}, "comments": {"minutes-late": "12 min"}}
    created = client.post("/api/v1/audits", data=json.dumps(payload), headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert set(body) == {"id", "score", "result", "red_line_failed", "section_scores"}
    assert body["score"] == round(100 * (15 - 1 - 0.5) / 15, 1) == 90.0 and body["result"] == "excellent"
    assert db.session.get(Audit, body["id"]).status == "submitted"
    bad = {**payload, "technician": "auditor", "visited_at": "yesterday", "product": "toaster",
           "responses": {"on-time": "perhaps", "nope": "yes", "gift": "yes"}, "extra": 1}
    refused = client.post("/api/v1/audits", data=json.dumps(bad), headers=headers)
    assert refused.status_code == 400
    fields = refused.get_json()["fields"]
    for name in ("technician", "visited_at", "product", "responses.on-time", "responses.nope", "extra"):
        assert name in fields, name
    missing = client.post("/api/v1/audits", data=json.dumps({**payload, "responses": {"on-time": "yes"}}),
                          headers=headers)
    assert missing.status_code == 400 and "responses.gift" in missing.get_json()["fields"]
    not_json = client.post("/api/v1/audits", data="nonsense", headers=headers)
    assert not_json.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 1
    assert client.post("/api/v1/audits", data=json.dumps(payload),
                       headers={**_token(users["trainer"]), "Content-Type": "application/json"}).status_code == 403


def test_api_record_for_trainers_and_the_technician_only(template, users, make_user, certified, app):
    audit = filed(users, template, {**PERFECT, "gift": "yes"}, {"gift": "tea"})
    make_user("tech2", "technician", outlet="GD-FS-01")
    client = app.test_client()
    mine = client.get("/api/v1/technicians/tech/record", headers=_token(users["technician"])).get_json()
    assert mine["certificates"] == [{"number": certified.number, "tier": "certified", "status": "suspended",
                                     "valid_until": certified.valid_until.isoformat()}]
    assert mine["audits"][0]["id"] == audit.id and mine["audits"][0]["result"] == "fail"
    assert "auditor" not in mine["audits"][0]
    [assigned] = mine["assignments"]  # the integrity section scored 0: its lesson was assigned
    assert assigned["source"] == "audit" and assigned["audit"] == audit.id
    assert {"kind", "title", "reason", "due", "status"} <= set(assigned)
    trainer = client.get("/api/v1/technicians/tech/record", headers=_token(users["trainer"])).get_json()
    assert trainer["audits"][0]["auditor"] == "auditor"
    assert client.get("/api/v1/technicians/tech/record", headers=_token(make_user("tech3", "technician"))).status_code == 404
    assert client.get("/api/v1/technicians/tech/record", headers=_token(users["auditor"])).status_code == 403


# --- reports and photos -----------------------------------------------------------------------


def test_reports_by_month_pareto_and_red_lines_with_csv(template, users, app, ctx):
    filed(users, template, {**PERFECT, "on-time": "no"}, now=NOW)
    filed(users, template, {**PERFECT, "on-time": "no", "called": "none"}, now=NOW)
    filed(users, template, {**PERFECT, "forbidden": "yes"}, {"forbidden": "said 'this model always breaks'"}, now=NOW)
    client = app.test_client()
    login(client, "trainer")
    page = client.get("/audits/reports?by=region").get_data(as_text=True)
    assert "South Region" in page or "华南大区" in page
    pareto = list(csv.DictReader(io.StringIO(client.get("/audits/reports?export=pareto&lang=en").get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["item"], r["failed"]) for r in pareto][:1] == [("on-time", "2")]
    assert pareto[-1]["cumulative_percent"] == "100.0"
    monthly = list(csv.DictReader(io.StringIO(client.get("/audits/reports?by=technician&export=monthly&lang=en")
                                              .get_data(as_text=True).lstrip("\ufeff"))))
    assert monthly[0]["audits"] == "3" and monthly[0]["month"] == "2026-11"
    red = list(csv.DictReader(io.StringIO(client.get("/audits/reports?export=red-lines&lang=en").get_data(as_text=True).lstrip("\ufeff"))))
    assert len(red) == 1 and red[0]["technician"] == "tech"
    assert app.test_client().get("/audits/reports").status_code == 302
    auditor = app.test_client()
    login(auditor, "auditor")
    assert auditor.get("/audits/reports").status_code == 403


def test_photos_are_checked_and_shown_only_to_those_who_see_the_report(template, users, make_user, app):
    audit = draft(users, template, {})
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    client.post(f"/audits/{audit.id}/photos", data={"csrf_token": token, "item": "pictures",
                                                    "photo": (io.BytesIO(b"not an image"), "x.jpg")},
                content_type="multipart/form-data")
    assert not audit.photos
    client.post(f"/audits/{audit.id}/photos", data={"csrf_token": token, "item": "pictures",
                                                    "photo": (io.BytesIO(png_bytes()), "x.png")},
                content_type="multipart/form-data")
    db.session.refresh(audit)
    assert len(audit.photos) == 1 and audit.responses["pictures"] == 1
    name = audit.photos[0].name
    assert client.get(f"/audits/photos/{name}").status_code == 200
    make_user("tech2", "technician", outlet="GD-FS-01")
    other = app.test_client()
    login(other, "tech2")
    assert other.get(f"/audits/photos/{name}").status_code == 404


# --- one visit, one report --------------------------------------------------------------------


def test_the_api_files_a_visit_once_and_answers_repeats_with_the_first_report(template, users, make_user, certified,
                                                                               app):
    client = app.test_client()
    headers = {**_token(users["auditor"]), "Content-Type": "application/json"}
    payload = {"technician": "tech", "template": "test-visit",
               "visited_at": (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0).isoformat(),
               "work_order": "WO-88", "product": "air-conditioner", "city": "广州",
               "responses": {**PERFECT, "gift": "yes"}, "comments": {"gift": "tea"}}
    first = client.post("/api/v1/audits", data=json.dumps(payload), headers=headers)
    assert first.status_code == 201
    again = client.post("/api/v1/audits", data=json.dumps(payload), headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditConsequence)) == 3  # applied once
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "audit-red-line")) == 1
    other = make_user("auditor3", "auditor")
    conflict = client.post("/api/v1/audits", data=json.dumps(payload),
                           headers={**_token(other), "Content-Type": "application/json"})
    assert conflict.status_code == 409 and conflict.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 1


def test_the_database_refuses_a_second_report_of_one_visit(template, users):
    from sqlalchemy.exc import IntegrityError

    audit = draft(users, template)
    db.session.add(Audit(template_id=template.id, auditor_id=users["auditor"].id, technician_id=audit.technician_id,
                         visited_at=audit.visited_at, work_order=audit.work_order, product="air-conditioner",
                         city="广州", status="draft", responses={}, comments={}))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_web_form_refuses_a_second_report_of_a_visit_with_a_link_to_the_first(template, users, app):
    audit = draft(users, template, visited_at=datetime(2026, 11, 19, 6, 30, tzinfo=timezone.utc), work_order="WO-1")
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, "/audits/new")
    local = audit.visited_at.astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]))
    reply = client.post("/audits/new", data={"csrf_token": token, "technician": "tech", "template": "test-visit",
                                             "visited_at": local.strftime("%Y-%m-%dT%H:%M"), "work_order": "WO-1",
                                             "product": "air-conditioner", "city": "广州"})
    assert reply.status_code == 409
    page = reply.get_data(as_text=True)
    assert f'href="/audits/{audit.id}"' in page and 'value="WO-1"' in page
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 1


def test_the_readme_record_address_leads_to_the_technician_record(users, app):
    client = app.test_client()
    login(client, "trainer")
    reply = client.get("/audits/records/tech")
    assert reply.status_code in (301, 302) and reply.headers["Location"].endswith("/technicians/tech")
    assert client.get("/audits/records/tech", follow_redirects=True).status_code == 200


# --- correcting and deleting a draft ----------------------------------------------------------


def test_the_auditor_corrects_a_drafts_visit_details_and_nobody_else_does(template, users, make_user, app):
    audit = draft(users, template, {"on-time": "yes"})
    other_tech = make_user("tech2", "technician", outlet="GD-FS-01")
    make_user("auditor2", "auditor")
    client = app.test_client()
    login(client, "auditor")
    page = client.get(f"/audits/{audit.id}/edit").get_data(as_text=True)
    assert f"/audits/{audit.id}/header" in page and f"/audits/{audit.id}/delete" in page
    token = get_csrf(client, f"/audits/{audit.id}/header")
    header = {"csrf_token": token, "technician": "tech2", "visited_at": "2026-11-19T09:15", "work_order": "WO-900",
              "product": "air-conditioner", "city": "佛山"}
    bad = client.post(f"/audits/{audit.id}/header", data={**header, "visited_at": "2099-01-01T10:00"})
    assert bad.status_code == 400 and 'value="WO-900"' in bad.get_data(as_text=True)
    db.session.refresh(audit)
    assert audit.work_order != "WO-900"
    reply = client.post(f"/audits/{audit.id}/header", data=header)
    assert reply.status_code == 302
    db.session.refresh(audit)
    assert (audit.technician_id, audit.work_order, audit.city) == (other_tech.id, "WO-900", "佛山")
    assert audit.visited_at == datetime(2026, 11, 19, 1, 15, tzinfo=timezone.utc)
    assert audit.responses == {"on-time": "yes"}  # the answers stay
    stranger = app.test_client()
    login(stranger, "auditor2")
    assert stranger.get(f"/audits/{audit.id}/header").status_code == 404
    theirs = get_csrf(stranger, "/audits/new")
    assert stranger.post(f"/audits/{audit.id}/delete", data={"csrf_token": theirs}).status_code == 404
    with pytest.raises(audits.AuditError):
        audits.delete_draft(audit, users["trainer"])


def test_the_auditor_deletes_a_draft_after_confirming_but_never_a_submitted_report(template, users, app):
    audit = draft(users, template, {"on-time": "yes"})
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    client.post(f"/audits/{audit.id}/photos", data={"csrf_token": token, "item": "pictures",
                                                    "photo": (io.BytesIO(png_bytes()), "x.png")},
                content_type="multipart/form-data")
    db.session.refresh(audit)
    stored = audits.photo_folder() / audit.photos[0].name
    assert stored.exists()
    confirm = client.get(f"/audits/{audit.id}/delete")
    assert confirm.status_code == 200 and 'data-action="delete-draft"' in confirm.get_data(as_text=True)
    assert db.session.get(Audit, audit.id) is not None  # asking is not deleting
    assert client.post(f"/audits/{audit.id}/delete", data={"csrf_token": token}).status_code == 302
    db.session.expunge(audit)
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 0 and not stored.exists()
    report = filed(users, template)
    assert client.post(f"/audits/{report.id}/delete", data={"csrf_token": token}).status_code == 302
    with pytest.raises(audits.AuditError):
        audits.delete_draft(report, users["auditor"])
    assert db.session.get(Audit, report.id) is not None


def test_a_draft_for_a_technician_deactivated_since_is_refused_and_kept(template, users, app):
    audit = draft(users, template, PERFECT)
    users["technician"].active = False
    db.session.commit()
    with pytest.raises(audits.AuditError) as refused:
        audits.submit(audit, NOW)
    assert "no longer an active technician" in str(refused.value)
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    page = client.post(f"/audits/{audit.id}/submit", data={"csrf_token": token, "r.on-time": "yes"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已不是在职技师" in page or "no longer an active technician" in page
    db.session.refresh(audit)
    assert audit.status == "draft" and audit.score is None
    assert db.session.scalar(select(func.count()).select_from(AuditConsequence)) == 0


# --- answers checked by their type ------------------------------------------------------------


def test_a_number_is_checked_against_its_range_and_read_as_written(app):
    number = rtypes.get("number")
    minutes = {"id": "m", "type": "number", "min": 0, "max": 1440}
    plain = {"id": "n", "type": "number"}
    assert number.clean(plain, "1,500") == 1500 and number.clean(plain, "9,345.5") == 9345.5
    assert number.clean(plain, "1.5") == 1.5 and number.clean(plain, " 7 ") == 7 and number.clean(plain, 3) == 3
    for bad in ("1,5", "1,50", "12,34,567", "abc", "1e5", [1], {"n": 1}, True, float("nan")):
        with pytest.raises(ValueError):
            number.clean(plain, bad)
    for bad in (-5, "-5", "99,999,999", 99999999, "10001"):
        with pytest.raises(ValueError):
            number.clean(plain, bad)
    with pytest.raises(ValueError) as refused:
        number.clean(minutes, "1441")
    assert "1,440" in str(refused.value)
    assert number.clean(minutes, "1,440") == 1440
    assert number.check_spec({**minutes, "target": {"min": 0, "max": 2000}})  # the target outside the range
    assert number.check_spec({**minutes, "min": 10, "max": 5})
    with pytest.raises(ValueError):
        rtypes.get("text").clean({"id": "t", "type": "text"}, ["a", "list"])


def test_the_form_refuses_a_nonsense_number_and_keeps_what_was_typed(template, users, app):
    audit = draft(users, template, {})
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    for typed in ("-5", "99,999,999", "1,5"):
        page = client.post(f"/audits/{audit.id}/save", data={"csrf_token": token, "r.minutes-late": typed,
                                                             "submit": "0"})
        assert page.status_code == 400
        assert f'value="{typed}"' in page.get_data(as_text=True)
    db.session.refresh(audit)
    assert "minutes-late" not in audit.responses
    single = client.post(f"/audits/{audit.id}/answer", data={"csrf_token": token, "item": "minutes-late",
                                                             "value": "-5"})
    assert single.status_code == 400
    client.post(f"/audits/{audit.id}/save", data={"csrf_token": token, "r.minutes-late": "1,500", "submit": "0"})
    db.session.refresh(audit)
    assert audit.responses["minutes-late"] == 1500  # a thousands separator, not 1.5
    over = client.post(f"/audits/{audit.id}/answer", data={"csrf_token": token, "item": "minutes-late",
                                                           "value": "2,001"})
    assert over.status_code == 400 and "2,000" in over.get_json()["error"]


def test_the_api_refuses_answers_and_header_fields_of_the_wrong_type(template, users, app):
    client = app.test_client()
    headers = {**_token(users["auditor"]), "Content-Type": "application/json"}
    payload = {"technician": "tech", "template": "test-visit",
               "visited_at": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat(),
               "work_order": 12345, "product": "air-conditioner", "city": "广州",
               "responses": {**PERFECT, "suggestions": ["a", "list"], "minutes-late": -5}}
    refused = client.post("/api/v1/audits", data=json.dumps(payload), headers=headers)
    assert refused.status_code == 400
    fields = refused.get_json()["fields"]
    assert {"work_order", "responses.suggestions", "responses.minutes-late"} <= set(fields)
    assert db.session.scalar(select(func.count()).select_from(Audit)) == 0


def test_a_photo_too_large_or_with_too_many_pixels_is_refused_on_the_form_with_the_limit(template, users, app):
    from PIL import Image

    audit = draft(users, template, {})
    client = app.test_client()
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit.id}/edit")
    huge = io.BytesIO()
    Image.new("L", (8000, 6000)).save(huge, "PNG")  # 48 megapixels, a small file
    reply = client.post(f"/audits/{audit.id}/photos", data={"csrf_token": token, "item": "pictures",
                                                            "photo": (io.BytesIO(huge.getvalue()), "big.png")},
                        content_type="multipart/form-data", follow_redirects=True)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and 'data-audit' in page
    assert "40" in page.split('class="flash flash-error"')[1].split("</p>")[0]
    heavy = b"\xff\xd8" + b"\0" * (13 * 1024 * 1024)  # over the request limit (about 12 MB)
    reply = client.post(f"/audits/{audit.id}/photos", data={"csrf_token": token, "item": "pictures",
                                                            "photo": (io.BytesIO(heavy), "heavy.jpg")},
                        content_type="multipart/form-data")
    assert reply.status_code == 302 and reply.headers["Location"].endswith(f"/audits/{audit.id}/edit")
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "10 MB" in page.split('class="flash flash-error"')[1].split("</p>")[0]
    db.session.refresh(audit)
    assert not audit.photos


# --- an amendment undoes what it made unnecessary ---------------------------------------------


def test_amending_away_a_red_line_offers_to_undo_its_consequences_each_a_logged_trainer_action(
        template, users, certified, app):
    audit = filed(users, template, {**PERFECT, "gift": "yes"}, {"gift": "accepted a box of tea"})
    suspend = next(c for c in audit.consequences if c.kind == "suspend")
    assign = next(c for c in audit.consequences if c.kind == "assign")
    with pytest.raises(audits.AuditError):  # the report still calls for it
        audits.reinstate_certificate(audit, suspend.id, users["trainer"], "", NOW)
    trainer = app.test_client()
    login(trainer, "trainer")
    page = trainer.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert f'href="/certificates/{certified.number}"' in page  # the line links the certificate…
    assert 'href="/learning/courses/onboarding/lessons/d04-integrity-red-lines"' in page  # …and the lesson
    assert 'data-action="reinstate"' not in page
    assert f'href="/audits/{audit.id}"' in trainer.get("/trainer").get_data(as_text=True)

    with app.test_request_context():
        audits.amend(audit, users["trainer"], "the box was the customer's own", {"gift": "no"}, None, NOW)
    assert not audit.red_line_failed
    page = trainer.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert 'data-consequence="suspend" data-state="no-longer-called-for"' in page
    assert 'data-consequence="assign" data-state="no-longer-called-for"' in page
    assert 'data-consequence="notify" data-state="cleared"' in page
    assert 'data-action="reinstate"' in page and 'data-action="withdraw"' in page
    assert f'href="/audits/{audit.id}"' not in trainer.get("/trainer").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "audit-red-line")) == 0
    db.session.refresh(certified)
    assert certified.status == "suspended"  # nothing undone without a trainer deciding

    token = get_csrf(trainer, f"/audits/{audit.id}")
    trainer.post(f"/audits/{audit.id}/consequences/{suspend.id}/reinstate",
                 data={"csrf_token": token, "note": "checked the call log"})
    trainer.post(f"/audits/{audit.id}/consequences/{assign.id}/withdraw", data={"csrf_token": token})
    db.session.expire_all()
    assert certified.status == "active" and certified.events[-1].by_id == users["trainer"].id
    assert certified.events[-1].reason == "checked the call log"
    assert db.session.scalar(select(func.count()).select_from(TargetedAssignment)) == 0
    assert (suspend.resolution, suspend.resolved_by_id) == ("reinstated", users["trainer"].id)
    assert assign.resolution == "withdrawn" and assign.resolved_at is not None
    page = trainer.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert 'data-state="reinstated"' in page and 'data-state="withdrawn"' in page and "data-action" not in page.split(
        'id="consequences"')[1].split("</section>")[0]
    record = trainer.get("/technicians/tech").get_data(as_text=True)
    assert 'data-consequence="suspend" data-state="reinstated"' in record
    assert 'data-consequence="assign" data-state="withdrawn"' in record
    again = trainer.post(f"/audits/{audit.id}/consequences/{suspend.id}/reinstate", data={"csrf_token": token})
    assert again.status_code == 302  # refused with a message: already undone

    with app.test_request_context():  # amended back: the red line applies again, once
        audits.amend(audit, users["trainer"], "the tea was a gift after all", {"gift": "yes"}, None, NOW)
    db.session.refresh(certified)
    assert certified.status == "suspended" and suspend.resolution == ""
    assert db.session.scalar(select(func.count()).select_from(AuditConsequence)) == 3


def test_nobody_undoes_what_their_own_audit_caused(template, users, make_user, certified, app):
    both = make_user("both", "technician", "trainer", outlet="GD-GZ-01")
    audit = audits.start(users["auditor"], both, template, NOW - timedelta(days=1), "WO-S1", "air-conditioner",
                         "广州", NOW)
    for item, value in {**PERFECT, "on-time": "no", "called": "none"}.items():
        audits.save_answer(audit, item, value)
    audits.submit(audit, NOW)
    with app.test_request_context():
        audits.amend(audit, users["trainer"], "he was on time", {"on-time": "yes", "called": "before"}, None, NOW)
    with pytest.raises(audits.AuditError) as refused, app.test_request_context():
        audits.amend(audit, both, "I was polite enough", {"polite": "4"}, None, NOW)
    assert "Nobody decides about themselves" in str(refused.value) or "自己" in str(refused.value)
    [assign] = [c for c in audit.consequences if c.kind == "assign"]
    with pytest.raises(audits.AuditError):
        audits.withdraw_lesson(audit, assign.id, both, "", NOW)
    audits.withdraw_lesson(audit, assign.id, users["trainer"], "", NOW)
    assert assign.resolution == "withdrawn"


def test_the_migration_keeps_reports_already_filed_twice_and_marks_the_repeats(backend, tmp_path, request):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from .conftest import make_app

    uri = ("sqlite:///" + str(tmp_path / "repeats.sqlite3") if backend == "sqlite"
           else request.getfixturevalue("postgres").new_database())
    app = make_app(tmp_path, uri)
    with app.app_context():
        upgrade(revision="15558c7f0a5a")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO \"user\" (id, username, name, password_hash, active, must_change_password, "
                              "auth_version, created_at) VALUES (1, 'u', 'U', 'x', true, false, 1, :at)"),
                         {"at": NOW})
            conn.execute(text("INSERT INTO audit_template (id, slug, version, title_zh, title_en, spec, content_hash, "
                              "current, created_at) VALUES (1, 's', 1, 't', 't', '{}', 'h', true, :at)"), {"at": NOW})
            for n in (1, 2, 3):
                conn.execute(text(
                    "INSERT INTO audit (id, template_id, auditor_id, technician_id, visited_at, work_order, product, "
                    "city, status, responses, comments, red_line_failed, section_scores, failed_items, created_at, "
                    "updated_at, technician_comment) VALUES (:n, 1, 1, 1, :at, 'WO-1', 'x', 'c', 'submitted', '{}', "
                    "'{}', false, '{}', '[]', :at, :at, '')"), {"n": n, "at": NOW})
        upgrade()
        with db.engine.connect() as conn:
            orders = [r[0] for r in conn.execute(text("SELECT work_order FROM audit ORDER BY id"))]
        assert orders == ["WO-1", "WO-1 (#2, repeat of #1)", "WO-1 (#3, repeat of #1)"]
        db.engine.dispose()


# --- network scale: the reports grouped by the database, a page at a time ------------------------

MONTHLY_ROW = re.compile(r'<tr data-group><th scope="row">([^<]+)</th>')


def test_the_reports_page_groups_and_red_lines_and_downloads_have_every_page(template, users, app, ctx,
                                                                             make_user):
    """Five technicians (two in another month), a red line among them: the page shows two groups
    at a time, the figures equal the ones computed from every report, downloads have them all."""
    for n in range(5):
        people = {**users, "technician": make_user(f"audited{n}", "technician", outlet="GD-GZ-01",
                                                   name=f"Tech {n}")}
        answers = {**PERFECT, "forbidden": "yes"} if n == 2 else {**PERFECT, "on-time": "no"} if n % 2 else PERFECT
        comments = {"forbidden": "said 'this model always breaks'"} if n == 2 else None
        audit = draft(people, template, answers, visited_at=NOW - timedelta(days=1 if n < 3 else 40))
        for item, text in (comments or {}).items():
            audits.save_answer(audit, item, audit.responses.get(item), text)
        audits.submit(audit, NOW)
    app.config["PAGE_SIZE"] = 2
    client = app.test_client()
    login(client, "trainer")
    pages, urls = walk(client, "/audits/reports?by=technician&lang=en", MONTHLY_ROW, 2)
    assert [len(p) for p in pages] == [2, 2, 1] and all("by=technician" in u for u in urls)
    reference = rep.monthly(rep.submitted_audits(), "technician")
    assert [html.unescape(g) for p in pages for g in p] == [row.group for row in reference.rows]
    for by in rep.GROUPINGS:
        keys = [row[0] for row in db.session.execute(rep.group_keys_query(by))]
        kept = rep.monthly_table(by, keys, rep.month_starts(app.config["BABEL_DEFAULT_TIMEZONE"]))
        live = rep.monthly(rep.submitted_audits(), by)
        assert kept.months == live.months
        assert sorted((r.group, r.counts, r.averages, r.overall) for r in kept.rows) == \
            sorted((r.group, r.counts, r.averages, r.overall) for r in live.rows)
    assert rep.pareto_counts("en") == rep.pareto(rep.submitted_audits(), "en")
    monthly = csv_rows(client.get("/audits/reports?by=technician&export=monthly&lang=en"))
    assert [(r["group"], r["month"], int(r["audits"])) for r in monthly] == [
        (row.group, month, row.counts.get(month, 0)) for row in reference.rows for month in reference.months]
    red = xlsx_rows(client.get("/audits/reports?export=red-lines&format=xlsx&lang=en"))
    assert [r["technician"] for r in red] == ["audited2"]


def test_the_reports_groups_pareto_and_red_lines_equal_the_live_figures_after_random_reports(template, users, app,
                                                                                            ctx, make_user):
    """Random reports about technicians in two outlets and in none, some left as drafts, some
    amended: after each step the groups the page counts and lists (from the technicians with
    submitted reports) and their figures, in every grouping, and the Pareto counted from
    ``audit_failed_item`` alone equal those computed from every submitted report; the red-line
    download is streamed and lists every incident, latest first."""
    import random

    from portal.paging import count

    rng = random.Random(13)
    techs = [make_user(f"rnd{n}", "technician", outlet=(None, "GD-GZ-01", "GD-FS-01")[n % 3], name=f"Rnd {n}")
             for n in range(6)]
    variants = [(PERFECT, None), ({**PERFECT, "on-time": "no"}, None),
                ({**PERFECT, "forbidden": "yes"}, {"forbidden": "said 'this model always breaks'"}),
                ({**PERFECT, "on-time": "no", "called": "none", "minutes-late": "30"}, None)]
    zone = app.config["BABEL_DEFAULT_TIMEZONE"]

    def check():
        submitted = rep.submitted_audits()
        starts = rep.month_starts(zone)
        for by in rep.GROUPINGS:
            keys = [row[0] for row in db.session.execute(rep.group_keys_query(by))]
            live = rep.monthly(submitted, by)
            assert count(rep.group_keys_query(by)) == len(keys) == len(live.rows)
            kept = rep.monthly_table(by, keys, starts)
            assert kept.months == live.months
            assert sorted((r.group, r.counts, r.averages, r.overall) for r in kept.rows) == \
                sorted((r.group, r.counts, r.averages, r.overall) for r in live.rows)
            if by == "outlet" and any(a.technician.outlet is None for a in submitted):
                assert kept.rows[-1].group == "—"  # no place last
        assert rep.pareto_counts("en") == rep.pareto(submitted, "en")

    for _step in range(16):
        people = {**users, "technician": rng.choice(techs)}
        chosen = rng.randrange(len(variants))
        answers, comments = variants[chosen]
        audit = draft(people, template, answers, visited_at=NOW - timedelta(days=rng.randrange(1, 80),
                                                                             hours=rng.randrange(24)))
        for item, text in (comments or {}).items():
            audits.save_answer(audit, item, audit.responses.get(item), text)
        if rng.random() < 0.2:
            db.session.commit()
            check()  # a draft counts nowhere
            continue
        audits.submit(audit, NOW)
        if rng.random() < 0.4:
            changes, comments = variants[rng.choice([n for n in range(len(variants)) if n != chosen])]
            audits.amend(audit, users["trainer"], "the call log says otherwise", changes, comments,
                         NOW + timedelta(hours=1))
        check()
    assert rep.pareto_counts("en")  # the steps did fail items
    client = app.test_client()
    login(client, "trainer")
    response = client.get("/audits/reports?export=red-lines&lang=en")
    assert response.is_streamed
    red = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    live = sorted(rep.red_line_incidents(rep.submitted_audits(), "en"),
                  key=lambda i: (i.audit.visited_at, i.audit.id), reverse=True)  # the latest visit first
    assert live and [(int(r["audit"]), r["visited"], r["technician"], r["items"]) for r in red] == \
        [(i.audit.id, i.visited.isoformat(), i.audit.technician.username, "; ".join(i.items)) for i in live]
    xlsx = client.get("/audits/reports?export=red-lines&format=xlsx&lang=en")
    assert xlsx.is_streamed and [str(r["audit"]) for r in xlsx_rows(xlsx)] == [r["audit"] for r in red]
