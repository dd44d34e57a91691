"""A technician on a phone: search, open a case, save it, read it offline."""

from __future__ import annotations

from .conftest import ARTIFACTS, screenshot, sign_in
from .test_home_pages import PAGE_BUDGET_BYTES, _layout_problems, _page_bytes


def test_technician_searches_and_opens_a_case_at_360(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "tech")
    page.locator("[data-section=cases] input[name=q]").fill("E1")
    page.locator("[data-section=cases] button[type=submit]").click()
    page.wait_for_load_state()
    assert "/cases?q=E1" in page.url
    first = page.locator(".result").first
    assert "E1" in first.locator(".result-title").inner_text()
    assert first.locator("mark").count() >= 1
    assert _layout_problems(page, 360) == []
    screenshot(page, "kb-search-e1-360-zh")
    first.locator(".result-link").click()
    page.wait_for_load_state()
    heading = page.locator("article.case h1").inner_text()
    assert "代码 E1" in heading  # one of the makers' E1 cases (they rank first)
    assert page.locator(".case-section.safety").count() == 1
    assert _layout_problems(page, 360) == []
    assert _page_bytes(page) < 100 * 1024  # a case page, before images
    screenshot(page, "kb-case-360-zh")


def test_mixed_language_search_in_english(live_server, new_page):
    page = new_page(360, "en-US")
    sign_in(page, live_server, "tech")
    page.goto(live_server + "/cases?q=" + "室外机 fan 不转")
    titles = [t.lower() for t in page.locator(".result-title").all_inner_texts()[:3]]
    assert any("outdoor fan" in t for t in titles)
    screenshot(page, "kb-search-mixed-360-en")


def test_case_is_readable_offline_after_saving(live_server, browser):
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="zh-CN",
                                  service_workers="allow")
    try:
        page = context.new_page()
        sign_in(page, live_server, "tech")
        case_url = live_server + "/cases/ac-mech-outdoor-fan-not-running-zh"
        page.goto(case_url)
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # installed and active
        page.goto(case_url)  # now the service worker controls the page
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        title = page.locator("article.case h1").inner_text()
        save = page.locator("[data-save-offline]")
        save.click()
        page.locator("[data-offline-status]").wait_for(state="visible")
        context.set_offline(True)
        page.reload()
        assert page.locator("article.case h1").inner_text() == title
        assert page.locator("#offline-banner").is_visible()
        screenshot(page, "kb-offline-case-360-zh")
        page.goto(live_server + "/cases/ac-code-gree-e6-communication-zh")  # never opened
        assert page.locator("[data-section=offline]").count() == 1
        page.locator("[data-offline-list] a").first.wait_for()
        assert title in page.locator("[data-offline-list] a").all_inner_texts()
        screenshot(page, "kb-offline-page-360-zh")
    finally:
        context.set_offline(False)
        context.close()


def test_trainer_review_queue_at_desktop(live_server, new_page):
    page = new_page(1280, "zh-CN")
    sign_in(page, live_server, "trainer")
    for path in ("/cases/review", "/cases/reports/gaps", "/cases/reports/feedback"):
        page.goto(live_server + path)
        assert page.locator("h1").count() == 1
        assert _layout_problems(page, 1280) == []
        assert _page_bytes(page) < PAGE_BUDGET_BYTES
        screenshot(page, "kb" + path.replace("/", "-") + "-1280")


def test_contribute_form_fits_a_phone(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "tech")
    page.goto(live_server + "/cases/new")
    assert page.get_by_label("标题").is_visible()
    assert _layout_problems(page, 360) == []
    screenshot(page, "kb-contribute-360-zh")


def test_a_case_prints_without_the_interactive_parts(live_server, new_page):
    page = new_page(1280, "zh-CN")
    sign_in(page, live_server, "tech")
    page.goto(live_server + "/cases/ac-code-gree-e1-high-pressure-zh")
    page.emulate_media(media="print")
    assert page.locator("article.case h1").is_visible()
    assert page.locator(".case-section.safety").is_visible()
    for hidden in ("header.top", "[data-section=feedback]", "[data-section=case-actions]", ".jump"):
        assert not page.locator(hidden).is_visible(), hidden
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "kb-case-print.pdf"))


def test_safety_comes_first_on_a_phone(live_server, new_page):
    for locale, slug in (("zh-CN", "ac-mech-outdoor-fan-not-running-zh"),
                         ("en-US", "ac-mech-outdoor-fan-not-running-en")):
        page = new_page(360, locale)
        sign_in(page, live_server, "tech")
        page.goto(live_server + "/cases/" + slug)
        sections = page.locator("article.case .case-section")
        safety = page.locator("article.case .case-section.safety")
        assert safety.count() == 1
        tops = [box["y"] for box in (sections.nth(i).bounding_box() for i in range(sections.count()))]
        safety_top = safety.bounding_box()["y"]
        steps = page.locator("article.case .case-section:not(.safety) ol li").first.bounding_box()
        assert safety_top == min(tops) and safety_top < steps["y"]
        link = page.locator(".jump a.jump-safety")
        box = link.bounding_box()
        assert link.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert box["y"] + box["height"] <= 800  # on the first screen, no scrolling
        link.click()
        page.wait_for_function("location.hash.length > 1")
        assert page.evaluate("location.hash") == "#" + safety.get_attribute("id")
        screenshot(page, "kb-case-safety-first-360-" + locale)


def _controlled(page, url):
    page.goto(url)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # installed and active
    page.goto(url)  # now the service worker controls the page
    assert page.evaluate("navigator.serviceWorker.controller !== null")


# Polled: each call starts a look into the cache and answers with what the last look found.
OFFLINE_PAGE_KEPT = """lang => {
  caches.open('portal-shell-v2').then(c => c.match('/offline'))
    .then(r => { window['kept_' + lang] = !!r && r.headers.get('X-Offline-Lang') === lang; });
  return window['kept_' + lang] === true;
}"""


def test_offline_page_comes_back_after_signing_out_and_in(live_server, browser):
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="zh-CN",
                                  service_workers="allow")
    try:
        page = context.new_page()
        sign_in(page, live_server, "tech")
        _controlled(page, live_server + "/cases/ac-mech-outdoor-fan-not-running-zh")
        page.wait_for_function(OFFLINE_PAGE_KEPT, arg="zh_CN")
        page.evaluate("document.querySelector('form[data-clear-offline]').requestSubmit()")
        page.wait_for_url("**/login**")
        sign_in(page, live_server, "tech")
        page.wait_for_function(OFFLINE_PAGE_KEPT, arg="zh_CN")  # signing in kept it again
        # The reader switches to English: the offline page follows.
        page.goto(live_server + "/cases/ac-mech-outdoor-fan-not-running-en?lang=en")
        page.wait_for_function(OFFLINE_PAGE_KEPT, arg="en")
        context.set_offline(True)
        page.goto(live_server + "/cases/ac-code-gree-e6-communication-en")  # never opened
        assert page.locator("[data-section=offline]").count() == 1
        assert page.locator("h1").inner_text() == "The portal cannot be reached"
        assert "You are offline" in page.locator("[data-unreachable]").inner_text()
        screenshot(page, "kb-offline-unreachable-360-en")
    finally:
        context.set_offline(False)
        context.close()


def test_feedback_typed_offline_is_sent_when_back_online(live_server, browser):
    slug = "ac-mech-fan-capacitor-zh"
    comment = "离线时写的备注：电容鼓包"
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="zh-CN",
                                  service_workers="allow")
    try:
        page = context.new_page()
        sign_in(page, live_server, "tech")
        _controlled(page, live_server + "/cases/" + slug)
        context.set_offline(True)
        page.locator("[data-section=feedback] textarea[name=comment]").fill(comment)
        page.locator("[data-section=feedback] button[value=no]").click()
        status = page.locator("[data-feedback-status]")
        status.wait_for(state="visible")
        assert "没有网络" in status.inner_text()
        page.reload()  # still offline: the page comes from the phone, the answer is still kept
        assert page.locator("#offline-banner").is_visible()
        queued = page.evaluate("JSON.parse(localStorage.getItem('portal-feedback-queue') || '[]')")
        assert [(q["fixed"], q["comment"]) for q in queued] == [("no", comment)]
        page.locator("[data-feedback-status]").wait_for(state="visible")
        screenshot(page, "kb-feedback-kept-offline-360-zh")
        context.set_offline(False)
        page.wait_for_function("() => JSON.parse(localStorage.getItem('portal-feedback-queue') || '[]').length === 0")
        page.wait_for_function("() => document.querySelector('[data-feedback-status]').textContent.includes('谢谢')")
    finally:
        context.set_offline(False)
        context.close()
    trainer = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = trainer.new_page()
        sign_in(page, live_server, "trainer")
        page.goto(live_server + "/cases/" + slug)
        assert comment in page.locator("[data-section=fix-rate]").inner_text()
    finally:
        trainer.close()
