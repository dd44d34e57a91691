"""Words: counts agree with their nouns in English, durations read as people say them, dates
in messages follow the reader's language, one Chinese term per idea."""

from __future__ import annotations

import contextvars
import re
from datetime import date

import pytest

from .conftest import ROOT_DIR, login


@pytest.mark.parametrize("hours, en, zh", [
    (720, "30 days", "30 天"), (24, "1 day", "1 天"), (36, "1 day 12 hours", "1 天 12 小时"),
    (1, "1 hour", "1 小时"), (2, "2 hours", "2 小时"), (0.5, "30 minutes", "30 分钟")])
def test_durations_are_days_from_one_day_up_and_hours_below(app, hours, en, zh):
    from portal.templating import hours_duration

    def say(lang):
        with app.test_request_context(f"/?lang={lang}"):
            return hours_duration(hours)

    # Each in a fresh context, as separate requests would be.
    assert [contextvars.Context().run(say, lang) for lang in ("en", "zh_CN")] == [en, zh]


def test_a_quiz_with_a_thirty_day_wait_says_thirty_days(app, users, quizzes):
    client = app.test_client()
    login(client, "tech")
    for lang, days, hours in (("en", "30 days", "720 hours"), ("zh_CN", "30 天", "720 小时")):
        page = client.get(f"/quizzes/certification-tier-2?lang={lang}").get_data(as_text=True)
        assert days in page and hours not in page, lang


def test_one_of_a_thing_is_singular(app, users, learning_data):
    client = app.test_client()
    login(client, "trainer")
    page = client.get("/learning/cohorts?lang=en").get_data(as_text=True)
    assert "1 member" in page and "1 members" not in page
    page = client.get("/trainer?lang=en").get_data(as_text=True)
    assert "1 members" not in page


def test_a_date_inside_a_message_follows_the_reader(app, users, courses):
    from portal.extensions import db
    from portal.learning.models import Course
    from sqlalchemy import select

    from .conftest import get_csrf

    client = app.test_client()
    login(client, "trainer")
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    token = get_csrf(client, "/learning/cohorts/new?lang=zh_CN")
    response = client.post("/learning/cohorts/new?lang=zh_CN", data={
        "csrf_token": token, "name": "日期班", "course": onboarding.id, "start_date": "2026-12-07",
        "trainers": [users["trainer"].id], "members": [users["technician"].id]}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "2026年12月7日" in page and "2026-12-07" not in page.split("培训班已创建")[1][:80]


def test_one_chinese_term_for_the_audit_and_the_auditor():
    """服务暗访 / 暗访员 / 技师 everywhere; never the other words for the same idea."""
    po = (ROOT_DIR / "portal" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    texts = [po] + [p.read_text(encoding="utf-8") for p in (ROOT_DIR / "portal" / "templates").rglob("*.html")] \
        + [p.read_text(encoding="utf-8") for p in (ROOT_DIR / "content" / "audits").glob("*.yaml")]
    for text in texts:
        assert not re.search("稽核|督查员|检查员|审计员", text)
    assert 'msgid "Auditor"\nmsgstr "暗访员"' in po
    assert "师傅" not in po  # the technician is 技师 in the interface
