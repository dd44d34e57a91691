"""The technician record on a phone and the trainer dashboard at a desk, on the demo network."""

from __future__ import annotations

from .conftest import screenshot, sign_in
from .test_home_pages import _layout_problems

FULL_RECORD = "mayong11"  # demo technician with learning, exams, a certificate, audits and a contribution


def test_a_technician_record_at_phone_width(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, FULL_RECORD)
    page.goto(live_server + f"/technicians/{FULL_RECORD}")
    for section in ("profile", "learning", "quizzes", "certificates", "audits", "contributions", "timeline"):
        assert page.locator(f"[data-record={section}]").count() == 1, section
    assert page.locator("[data-record=audits] li").count() >= 2
    assert page.locator("[data-record=audits] svg.trend circle").count() >= 2  # the score trend
    assert page.locator("[data-record=contributions] li .tag").count() >= 1
    assert page.locator("[data-record=timeline] li").count() >= 20
    problems = _layout_problems(page, 360)
    assert problems == [], problems[:10]
    screenshot(page, "technician-record-360-zh")
    page.goto(live_server + "/technicians/mayong11?lang=en")
    screenshot(page, "technician-record-360-en")


def test_the_trainer_dashboard_at_desk_width(live_server, new_page):
    page = new_page(1280, "en-US")
    sign_in(page, live_server, "trainer")
    page.goto(live_server + "/dashboard/?lang=en")
    for section in ("cohorts", "coverage", "quarterly", "quizzes", "audits", "knowledge"):
        assert page.locator(f"[data-section={section}]").count() == 1, section
    assert page.locator("[data-figures=coverage] tbody tr").count() >= 4
    first = page.locator("[data-figures=coverage] tbody tr").first.locator("a[data-figure]").first
    number = int(first.inner_text())
    page.locator("[data-figures=coverage] thead th").nth(1).click()  # sort by technicians
    assert page.locator("[data-figures=coverage] thead th").nth(1).get_attribute("aria-sort") == "ascending"
    problems = _layout_problems(page, 1280)
    assert problems == [], problems[:10]
    screenshot(page, "trainer-dashboard-1280-en")
    first.click()
    page.wait_for_load_state()
    assert int(page.locator("[data-count]").inner_text()) == number
    bell = new_page(360, "zh-CN")
    sign_in(bell, live_server, "trainer")
    bell.goto(live_server + "/dashboard/")
    assert int(bell.locator(".bell").get_attribute("data-unread")) >= 1
    screenshot(bell, "trainer-dashboard-360-zh")
