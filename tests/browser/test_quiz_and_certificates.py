"""A quiz taken on a phone through to the result; the certificate badge and the public check
a customer opens at the door."""

from __future__ import annotations

import re

from .conftest import screenshot, sign_in
from .test_home_pages import _layout_problems


def _answer_everything(page) -> int:
    """Give an answer to every question the way a thumb would; returns how many there are."""
    questions = page.locator("[data-question]")
    count = questions.count()
    for n in range(count):
        box = questions.nth(n)
        kind = box.get_attribute("data-type")
        if kind in ("single", "multiple", "truefalse"):
            box.locator("label.option").first.click()
        elif kind in ("short", "numerical"):
            box.locator("input[type=text]").fill("1")
            box.locator("input[type=text]").blur()
        elif kind == "matching":
            for select in box.locator("select").all():
                select.select_option(index=1)
        elif kind == "ordering":
            box.locator("button[data-move=down]").first.click()
        page.locator(f"[data-question='{box.get_attribute('data-question')}'][data-saved]").wait_for()
    return count


def test_a_technician_takes_the_final_exam_on_a_phone_through_to_the_result(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "newtech")
    page.goto(live_server + "/quizzes/onboarding-final")
    assert _layout_problems(page, 360) == []
    page.locator("[data-action=start]").click()
    page.wait_for_load_state()
    assert "/quizzes/attempts/" in page.url
    attempt_url = page.url
    html = page.content()
    assert "fraction" not in html and "correct" not in html  # no answer key in the page
    assert page.locator("[data-question]").count() == 50
    assert page.locator("[data-clock]").inner_text().startswith(("59:", "60:"))
    # Every answer goes to the server as it is given; a reload (a dropped connection) keeps them.
    total = _answer_everything(page)
    assert page.locator("[data-answered]").inner_text() == str(total)
    problems = _layout_problems(page, 360)
    assert problems == [], problems[:12]
    screenshot(page, "quiz-attempt-360-zh")
    page.reload()
    assert page.url == attempt_url
    assert page.locator("[data-answered]").inner_text() == str(total)
    assert page.locator("input:checked").count() >= 1
    page.locator("[data-action=submit]").click()
    page.wait_for_url("**/result")
    assert page.locator("[data-score]").inner_text().endswith("%")
    assert page.locator(".review-item").count() == total  # the final exam reviews with explanations
    assert page.locator(".explanation").count() == total
    assert _layout_problems(page, 360) == []
    screenshot(page, "quiz-result-360-zh")
    page.goto(attempt_url)  # a submitted attempt cannot be reopened
    assert page.url.endswith("/result")


def test_the_badge_on_a_phone_and_the_check_a_customer_opens(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "tech")
    page.goto(live_server + "/certificates/mine")
    page.locator("a[href$='/badge']").first.click()
    page.wait_for_load_state()
    badge = page.locator("[data-badge]")
    assert "陈强" in badge.inner_text() and "初级技师" in badge.inner_text()
    assert page.locator(".badge-qr").evaluate("img => img.naturalWidth") > 100  # the QR code loads
    assert _layout_problems(page, 360) == []
    screenshot(page, "certificate-badge-360-zh")
    number = page.locator(".badge-number code").inner_text()

    customer = new_page(360, "zh-CN")  # not signed in
    customer.goto(f"{live_server}/verify/{number}")
    assert customer.locator("[data-verify=active]").count() == 1
    assert "陈强" in customer.locator("[data-field=name]").inner_text()
    shown = customer.locator("main").inner_text()
    assert not re.search(r"\btech\b", shown) and "GD-GZ-01" not in shown  # no username, no outlet
    assert _layout_problems(customer, 360) == []
    screenshot(customer, "certificate-verify-360-zh")
    english = new_page(360, "en-US")
    english.goto(f"{live_server}/verify/{number}?lang=en")
    assert "Genuine and valid" in english.locator("main").inner_text()
    screenshot(english, "certificate-verify-360-en")
    unknown = customer.goto(f"{live_server}/verify/SC-ZZZZ-ZZZZ-ZZZZ")
    assert unknown.status == 404


def test_a_suspended_certificate_says_so_at_the_door(live_server, new_page):
    trainer = new_page(1280, "en-US")
    sign_in(trainer, live_server, "trainer")
    trainer.goto(live_server + "/certificates/?status=suspended&lang=en")
    number = trainer.locator("[data-register] tbody th code").first.inner_text()
    assert _layout_problems(trainer, 1280) == []
    screenshot(trainer, "certificate-register-1280-en")
    customer = new_page(360, "zh-CN")
    customer.goto(f"{live_server}/verify/{number}")
    assert customer.locator("[data-verify=suspended]").count() == 1
    screenshot(customer, "certificate-verify-suspended-360-zh")


def test_a_trainer_reads_results_and_item_analysis_at_a_desk(live_server, new_page):
    page = new_page(1280, "en-US")
    sign_in(page, live_server, "trainer")
    page.goto(live_server + "/quizzes/onboarding-final/report?lang=en")
    assert page.locator("[data-results] tbody tr").count() >= 7
    assert page.locator(".item-stats").count() >= 50
    assert _layout_problems(page, 1280) == []
    screenshot(page, "quiz-report-1280-en")
