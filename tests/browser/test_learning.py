"""Onboarding in a browser: a new technician on a phone, a trainer at a desk."""

from __future__ import annotations

from .conftest import screenshot, sign_in
from .test_home_pages import _layout_problems


def _overall(page) -> int:
    return int(page.locator("[data-section=onboarding] progress").first.get_attribute("value"))


def test_a_new_technician_opens_todays_lesson_marks_it_done_and_sees_progress(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "newtech")
    page.goto(live_server + "/learning/")
    before = _overall(page)
    assert page.locator(".days li.today").count() == 1
    assert _layout_problems(page, 360) == []
    screenshot(page, "learning-home-360-zh")
    page.locator(".days li.today a").click()
    page.wait_for_load_state()
    today = page.locator("section.module").nth(3)  # the demo cohort is on its fourth day
    # On a weekend or holiday the day highlighted is the next working day, named as such.
    assert "今天" in today.inner_text() or "下一个工作日" in today.inner_text()
    today.locator(".lesson-item a").first.click()
    page.wait_for_load_state()
    assert page.locator("article.lesson h1").inner_text()
    assert _layout_problems(page, 360) == []
    screenshot(page, "learning-lesson-360-zh")
    lesson_url = page.url
    page.locator("[data-action=mark-done]").click()
    page.wait_for_load_state()
    assert page.url != lesson_url and "/lessons/" in page.url  # on to the next lesson
    page.go_back()
    page.reload()
    assert page.locator("[data-state=done]").count() == 1
    page.goto(live_server + "/learning/")
    assert _overall(page) > before
    screenshot(page, "learning-home-after-360-zh")


def test_a_lesson_reads_well_in_english_at_360(live_server, new_page):
    page = new_page(360, "en-US")
    sign_in(page, live_server, "tech")
    page.goto(live_server + "/learning/courses/onboarding/lessons/d07-refrigeration-cycle")
    assert page.locator(".lesson-body img").count() == 1
    assert page.locator(".lesson-body img").evaluate("img => img.naturalWidth") > 0  # the diagram loads
    page.goto(live_server + "/learning/courses/onboarding/lessons/d06-electrical-safety")
    assert page.locator(".callout-safety").count() >= 1
    assert _layout_problems(page, 360) == []
    screenshot(page, "learning-lesson-safety-360-en")


def test_the_trainer_sees_the_cohort_matrix_with_who_is_behind_first(live_server, new_page):
    page = new_page(1280, "zh-CN")
    sign_in(page, live_server, "trainer")
    page.goto(live_server + "/learning/cohorts")
    page.locator(".cards a").first.click()
    page.wait_for_load_state()
    matrix = page.locator("table.matrix")
    assert matrix.count() == 1
    first_row = matrix.locator("tbody tr").first
    assert "is-behind" in (first_row.get_attribute("class") or "")
    assert first_row.locator("td.day.status-behind").count() >= 1
    assert first_row.locator("td.day").count() == 10  # one cell per day, in one row
    assert _layout_problems(page, 1280) == []
    screenshot(page, "learning-cohort-matrix-1280-zh")
    page.goto(live_server + "/learning/assignments")
    screenshot(page, "learning-assignments-1280-zh")


def test_the_cohort_page_shows_practical_tasks_on_a_phone(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "trainer")
    page.goto(live_server + "/learning/cohorts")
    page.locator(".cards a").first.click()
    page.wait_for_load_state()
    panel = page.locator("[data-section=practical]")
    failed = panel.locator("[data-member=newtech] [data-state=failed]")
    assert failed.count() == 1 and failed.first.is_visible()  # the demo's failed seven-step drill
    assert panel.locator("[data-member=newtech] [data-state=not_tried]").count() >= 1
    assert "未通过" in panel.inner_text() and "未考核" in panel.inner_text()
    for chip in panel.locator(".chip").all():
        box = chip.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # every chip readable without scrolling
    assert _layout_problems(page, 360) == []
    screenshot(page, "learning-cohort-tasks-360-zh")
