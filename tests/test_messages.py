"""System messages are stored as an id and values and shown whole in the reader's language:
notifications, certificate reasons, targeted-lesson reasons, audit consequences, the record's
timeline; rows written the old way ("中文 / English") are converted by the migration."""

from __future__ import annotations

import html
import importlib.util
import re
from datetime import date, timedelta
from pathlib import Path

from babel.dates import format_date
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from portal.audits.models import Audit, AuditConsequence, AuditTemplate
from portal.certification import services as certs
from portal.certification.models import Certificate, CertificateEvent, Tier
from portal.extensions import db
from portal.learning import services as learning
from portal.learning.models import Course, Lesson, TargetedAssignment
from portal.messages import both, msg, render
from portal.notifications import Notification, notify

from .conftest import login, make_app

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
ENGLISH = ("Your certificate", "suspended", "lapsed", "expires on", "renew", "Audit report", "red-line",
           "New lesson", "due ", "scored", "below", "quarterly", "contribution", "behind schedule")
MIGRATION = next((Path(__file__).resolve().parent.parent / "migrations" / "versions").glob(
    "*_617e5d902921_*.py"))


def _migration():
    spec = importlib.util.spec_from_file_location("messages_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _note_texts(page: str) -> list[str]:
    found = re.findall(r"data-note=\"[^\"]*\"><a [^>]*>(.*?)</a>", page)
    return [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in found]


def _timeline(page: str) -> list[str]:
    block = page.split('data-record="timeline"', 1)[1].split("</section>", 1)[0]
    found = re.findall(r"<li data-kind[^>]*>(.*?)</li>", block, re.S)
    return [html.unescape(re.sub(r"<[^>]+>|\s+", " ", t)).strip() for t in found]


def _zh_ok(texts):
    for line in texts:
        assert not [w for w in ENGLISH if w.lower() in line.lower()], line


def _en_ok(texts):
    for line in texts:
        assert not CJK.search(line), line


def _tier() -> Tier:
    tier = Tier(code="certified", level=1, title_zh="认证技师", title_en="Certified technician", requirements={})
    db.session.add(tier)
    db.session.flush()
    return tier


def test_a_stored_message_renders_whole_in_the_readers_language(app, client, make_user, network, users, courses):
    ann = make_user("ann", "technician", outlet="GD-GZ-01", name="Ann Lee")
    today = date.today()
    soon = today + timedelta(days=10)
    cert = Certificate(number="SC-AAAA-BBBB-CCCC", tier_id=_tier().id, user_id=ann.id, issued_on=today,
                       valid_until=soon, status="active")
    db.session.add(cert)
    db.session.commit()
    certs.sweep(today)  # tells the holder the date is near
    red = msg("audit.red-line", n=7, items=[both("未穿鞋套进门", "Entered without shoe covers"),
                                           both("未核对身份", "Did not show ID")])
    certs.suspend(cert, red, rule="audit-red-line")
    lesson = db.session.scalars(select(Lesson).order_by(Lesson.id)).first()
    due = today + timedelta(days=14)
    learning.assign_targeted(ann, lesson, msg("audit.weak-section", n=7, section=both("上门礼仪", "Etiquette"),
                                              score=55.0, threshold=70.0), due)
    rows = list(db.session.scalars(select(Notification).where(Notification.user_id == ann.id)))
    assert {n.msg_id for n in rows} == {"cert.expiring", "cert.suspended", "learning.targeted"}
    assert all(" / " not in n.text and not CJK.search(n.text) for n in rows)  # the plain copy: English only
    assert cert.status_msg_id == "audit.red-line" and cert.events[-1].reason_msg_id == "audit.red-line"

    login(client, "ann")
    zh = _note_texts(client.get("/notifications/?lang=zh_CN").get_data(as_text=True))
    en = _note_texts(client.get("/notifications/?lang=en").get_data(as_text=True))
    assert len(zh) == len(en) == 3
    _zh_ok(zh)
    _en_ok(en)
    zh_day, en_day = format_date(soon, "medium", locale="zh_CN"), format_date(soon, "medium", locale="en")
    assert any(f"将于 {zh_day} 到期" in t for t in zh) and any(f"expires on {en_day}" in t for t in en)
    assert any("未穿鞋套进门、未核对身份" in t and "暗访报告 #7 红线问题" in t for t in zh)
    assert any("Entered without shoe covers, Did not show ID" in t for t in en)
    assert any(format_date(due, "medium", locale="zh_CN") in t and lesson.title_zh in t for t in zh)

    home_zh = client.get("/learning/?lang=zh_CN").get_data(as_text=True)
    assert "上门礼仪 得分 55%（低于 70%）" in home_zh and "scored" not in home_zh
    assert "Etiquette scored 55% (below 70%)" in client.get("/learning/?lang=en").get_data(as_text=True)

    notify(users["trainer"].id, "audit-red-line", "audit-red-line:7",
           msg("audit.red-line-of", name="Ann Lee", n=7, items=red.params["items"]), "/audits/7")
    db.session.commit()
    client = app.test_client()
    login(client, "trainer")
    home = client.get("/trainer?lang=zh_CN").get_data(as_text=True).split('data-section="notifications"')[1]
    assert "Ann Lee：暗访报告 #7 红线问题：未穿鞋套进门、未核对身份" in home and "red-line" not in home
    zh = _timeline(client.get("/technicians/ann?lang=zh_CN").get_data(as_text=True))
    en = _timeline(client.get("/technicians/ann?lang=en").get_data(as_text=True))
    assert any("暗访报告 #7 红线问题" in t for t in zh) and any("上门礼仪 得分 55%" in t for t in zh)
    _zh_ok(zh)
    _en_ok([t.replace(cert.number, "") for t in en])
    for lang, reason in (("en", "Audit report #7: Etiquette scored 55% (below 70%)"),
                         ("zh_CN", "暗访报告 #7：上门礼仪 得分 55%（低于 70%）")):
        api = client.get(f"/api/v1/technicians/ann/record?lang={lang}").get_json()
        assert [a["reason"] for a in api["assignments"] if a["kind"] == "lesson"] == [reason]
    certificate_en = client.get(f"/certificates/{cert.number}?lang=en").get_data(as_text=True)
    assert "Audit report #7, red-line failure: Entered without shoe covers" in certificate_en
    assert "未穿鞋套" not in certificate_en


def test_the_daily_run_stores_reasons_that_each_reader_reads_in_their_language(app, runner, make_user, network, users,
                                                                              monkeypatch):
    ann = make_user("ann", "technician", outlet="GD-GZ-01", name="Ann Lee")
    past = date.today() - timedelta(days=3)
    cert = Certificate(number="SC-DDDD-EEEE-FFFF", tier_id=_tier().id, user_id=ann.id,
                       issued_on=past - timedelta(days=300), valid_until=past, status="active")
    db.session.add(cert)
    db.session.commit()
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")  # a Chinese shell runs cron
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0 and "过期 1 张" in result.output, result.output
    db.session.expire_all()
    event = db.session.get(Certificate, cert.id).events[-1]
    assert (event.reason_msg_id, event.reason_params) == ("cert.validity-passed", {"day": {"date": past.isoformat()}})
    with app.test_request_context("/?lang=en"):  # an English reader's page
        assert event.shown_reason == f"The validity date {format_date(past, 'medium', locale='en')} passed."
    assert render(event.reason_msg_id, event.reason_params, "zh_CN") == \
        f"有效期 {format_date(past, 'medium', locale='zh_CN')} 已过。"
    assert render(event.reason_msg_id, event.reason_params, "en") == \
        f"The validity date {format_date(past, 'medium', locale='en')} passed."


OLD_SUSPENDED = ("你的证书 SC-AAAA-BBBB-CCCC 已暂停：暗访报告 #{a} 红线问题 / Audit report #{a}, red-line failure: "
                 "未穿鞋套进门 / Entered without shoe covers, mat, 未核对身份 / Did not show ID / Your certificate "
                 "SC-AAAA-BBBB-CCCC is suspended: 暗访报告 #{a} 红线问题 / Audit report #{a}, red-line failure: "
                 "未穿鞋套进门 / Entered without shoe covers, mat, 未核对身份 / Did not show ID")


def test_the_migration_converts_rows_written_the_old_way(app, make_user, network, users, courses):
    ann = make_user("ann", "technician", outlet="GD-GZ-01", name="Ann Lee")
    course = db.session.scalars(select(Course).order_by(Course.id)).first()
    lesson = db.session.scalars(select(Lesson).where(Lesson.course_id == course.id)).first()
    cert = Certificate(number="SC-AAAA-BBBB-CCCC", tier_id=_tier().id, user_id=ann.id, issued_on=date(2026, 1, 5),
                       valid_until=date(2027, 1, 5), status="suspended")
    template = AuditTemplate(slug="visit", version=1, title_zh="上门", title_en="Visit", content_hash="x", spec={
        "sections": [{"id": "s", "title": {"zh": "礼仪", "en": "Etiquette"}, "items": [
            {"id": "a", "text": {"zh": "未穿鞋套进门", "en": "Entered without shoe covers, mat"}},
            {"id": "b", "text": {"zh": "未核对身份", "en": "Did not show ID"}}]}]})
    db.session.add_all([cert, template])
    db.session.flush()
    audit = Audit(template_id=template.id, auditor_id=users["auditor"].id, technician_id=ann.id,
                  visited_at=cert.created_at, work_order="W1", product="refrigerator", city="广州", status="submitted")
    db.session.add(audit)
    db.session.flush()
    a = audit.id
    red_reason = (f"暗访报告 #{a} 红线问题 / Audit report #{a}, red-line failure: 未穿鞋套进门 / Entered without shoe "
                  f"covers, mat, 未核对身份 / Did not show ID")
    weak = (f"暗访报告 #{a}：礼仪 得分 55%（低于 70%）/ Audit report #{a}: Etiquette scored 55% (below 70%)")
    old = {
        "suspended": OLD_SUSPENDED.format(a=a),
        "expiring": "你的证书 SC-AAAA-BBBB-CCCC 将于 2027-01-05 到期，请及时续期 / Your certificate SC-AAAA-BBBB-CCCC "
                    "expires on 2027-01-05: renew it in time",
        "lapsed": (f"你的证书 SC-AAAA-BBBB-CCCC 已失效：The quarterly course {course.title_en} was due 2026-11-02 and "
                   f"not completed by the end of the grace period (2026-12-02). / Your certificate SC-AAAA-BBBB-CCCC has "
                   f"lapsed: The quarterly course {course.title_en} was due 2026-11-02 and not completed by the end of "
                   f"the grace period (2026-12-02)."),
        "ack": f"暗访报告 #{a}：请阅读并确认 / Audit report #{a}: please read and acknowledge",
        "trainer": f"Ann Lee: {red_reason}",
        "targeted": f"新的学习任务：{lesson.title_zh} / {lesson.title_en}，截止 2026-12-20 / New lesson for you: "
                    f"{lesson.title_zh} / {lesson.title_en}, due 2026-12-20",
        "behind": "Ann Lee 在 2026 春季班 中落后于进度 / Ann Lee is behind schedule in 2026 春季班",
        "accepted": "你的案例已被采纳：冰箱不制冷 / Your contribution was accepted: 冰箱不制冷",
        "odd": "系统维护通知 / Maintenance tonight",  # not a sentence the portal wrote: kept as is
    }
    for key, value in old.items():
        db.session.add(Notification(user_id=ann.id, kind=key, key=key, text=value))
    cert.status_reason = red_reason
    db.session.add_all([
        CertificateEvent(certificate_id=cert.id, action="suspended", from_status="active", to_status="suspended",
                         rule="audit-red-line", reason=red_reason),
        CertificateEvent(certificate_id=cert.id, action="lapsed", from_status="active", to_status="lapsed",
                         reason=f"季度课程 {course.title_en} 截止日期为 2026-11-02，宽限期（至 2026-12-02）结束时仍未完成。"),
        CertificateEvent(certificate_id=cert.id, action="expired", from_status="active", to_status="expired",
                         reason="The validity date 2026-01-05 passed."),
        CertificateEvent(certificate_id=cert.id, action="revoked", from_status="active", to_status="revoked",
                         reason="顾客投诉 / customer complaint"),  # a trainer's own words
    ])
    row = TargetedAssignment(user_id=ann.id, course_id=lesson.course_id, lesson_id=lesson.id, reason=weak,
                             due_date=date(2026, 12, 20), source="audit")
    db.session.add(row)
    db.session.flush()
    db.session.add(AuditConsequence(audit_id=a, kind="assign", key="s", targeted_id=row.id, detail=weak))
    db.session.commit()
    assert db.session.scalar(select(Notification.msg_id).where(Notification.kind == "suspended")) == ""

    counts = _migration().convert(db.session.connection())
    db.session.commit()
    db.session.expire_all()
    assert counts["notification"] == (8, 1) and counts["cert_event"] == (3, 1)

    notes = {n.kind: n for n in db.session.scalars(select(Notification).where(Notification.user_id == ann.id))}
    assert notes["odd"].msg_id == "" and notes["odd"].shown_text == old["odd"]
    assert notes["suspended"].params["reason"]["params"]["items"] == [
        {"zh": "未穿鞋套进门", "en": "Entered without shoe covers, mat"}, {"zh": "未核对身份", "en": "Did not show ID"}]
    assert notes["lapsed"].params["reason"]["params"]["course"] == {"zh": course.title_zh, "en": course.title_en}
    for kind, note in notes.items():
        if kind == "odd":
            continue
        zh, en = (render(note.msg_id, note.params, loc) for loc in ("zh_CN", "en"))
        _zh_ok([zh.replace("Ann Lee", "")])
        _en_ok([en.replace("2026 春季班", "").replace("冰箱不制冷", "")])
    assert render(notes["expiring"].msg_id, notes["expiring"].params, "en") == \
        "Your certificate SC-AAAA-BBBB-CCCC expires on Jan 5, 2027: renew it in time"
    assert render(notes["expiring"].msg_id, notes["expiring"].params, "zh_CN") == \
        "你的证书 SC-AAAA-BBBB-CCCC 将于 2027年1月5日 到期，请及时续期"

    reasons = {e.action: e for e in db.session.get(Certificate, cert.id).events}
    assert reasons["lapsed"].reason_msg_id == "cert.quarterly-missed"
    assert render(reasons["lapsed"].reason_msg_id, reasons["lapsed"].reason_params, "zh_CN").startswith(
        f"季度课程 {course.title_zh} 截止日期为 2026年11月2日")
    assert reasons["expired"].reason_params == {"day": {"date": "2026-01-05"}}
    assert reasons["revoked"].reason_msg_id == "" and reasons["revoked"].shown_reason == "顾客投诉 / customer complaint"
    assert db.session.get(Certificate, cert.id).status_msg_id == "audit.red-line"
    targeted = db.session.get(TargetedAssignment, row.id)
    assert render(targeted.reason_msg_id, targeted.reason_params, "en") == \
        f"Audit report #{a}: Etiquette scored 55% (below 70%)"
    consequence = db.session.scalar(select(AuditConsequence).where(AuditConsequence.audit_id == a))
    assert render(consequence.detail_msg_id, consequence.detail_params, "zh_CN") == f"暗访报告 #{a}：礼仪 得分 55%（低于 70%）"


def test_upgrading_converts_old_notifications(backend, tmp_path, request):
    """The real `db upgrade` from the revision before: an old row gets its id and values."""
    uri = ("sqlite:///" + str(tmp_path / "old.sqlite3") if backend == "sqlite"
           else request.getfixturevalue("postgres").new_database())
    application = make_app(tmp_path, uri)
    with application.app_context():
        upgrade(revision="15558c7f0a5a")
        with db.engine.begin() as conn:
            conn.execute(text('INSERT INTO "user" (id, username, name, password_hash, active, must_change_password, '
                              "auth_version, created_at) VALUES (1, 'ann', 'Ann', 'x', true, false, 1, :t)"),
                         {"t": "2026-12-01 00:00:00+00:00"})
            conn.execute(text("INSERT INTO notification (user_id, key, kind, text, link, created_at) VALUES "
                              "(1, 'audit-acknowledge:3', 'audit-acknowledge', :x, '/audits/3', :t)"),
                         {"x": "暗访报告 #3：请阅读并确认 / Audit report #3: please read and acknowledge",
                          "t": "2026-12-01 00:00:00+00:00"})
        upgrade()
        note = db.session.scalar(select(Notification))
        assert (note.msg_id, note.params) == ("audit.acknowledge", {"n": 3})
        assert render(note.msg_id, note.params, "en") == "Audit report #3: please read and acknowledge"
        assert render(note.msg_id, note.params, "zh_CN") == "暗访报告 #3：请阅读并确认"
        db.session.remove()
        downgrade(revision="15558c7f0a5a")  # the old text is still there
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT text FROM notification")).scalar().startswith("暗访报告 #3")
        db.engine.dispose()
