"""The attempt page sends one answer save at a time: answers given while a save is on its way
wait for it, and the newest answer to a question is the one kept."""

from __future__ import annotations

from .conftest import sign_in

# Every answer save is held back a little on its way out, so that a technician's quick answers
# would overlap; the page's own counters say how many were ever on their way at once.
SLOW_SAVES = """
(() => {
  const real = window.fetch.bind(window);
  window.__inFlight = 0; window.__mostInFlight = 0; window.__saves = 0;
  window.fetch = (url, options) => {
    if (!String(url).endsWith("/answer")) return real(url, options);
    window.__inFlight += 1; window.__saves += 1;
    window.__mostInFlight = Math.max(window.__mostInFlight, window.__inFlight);
    return new Promise((resolve) => setTimeout(resolve, 300))
      .then(() => real(url, options))
      .finally(() => { window.__inFlight -= 1; });
  };
})();
"""


RADIO = "[data-question][data-type=single], [data-question][data-type=truefalse]"


def test_quick_answers_are_saved_one_at_a_time_and_the_newest_is_kept(live_server, new_page):
    page = new_page(360, "zh-CN")
    page.add_init_script(SLOW_SAVES)
    sign_in(page, live_server, "luoming32")
    page.goto(live_server + "/quizzes/2026-q4-heat-pump-water-heaters")
    page.locator("[data-action=start]").click()
    page.wait_for_load_state()
    attempt_url = page.url
    assert "/quizzes/attempts/" in attempt_url
    # Questions answered with one radio button (single choice, true/false): every draw of this
    # quiz has several (15 of its 38 questions; fewer than three in a draw of 20: p < 1e-4).
    singles = page.locator(RADIO)
    assert singles.count() >= 3
    first, second, third = singles.nth(0), singles.nth(1), singles.nth(2)

    # Answer, change one's mind, answer two more: all before the first save has returned.
    first.locator("label.option").nth(0).click()
    second.locator("label.option").nth(1).click()
    first.locator("label.option").nth(1).click()
    third.locator("label.option").nth(0).click()
    for box in (first, second, third):
        box.locator("[data-save-state]").filter(has_text="已保存").wait_for()
    page.wait_for_function("window.__inFlight === 0")
    assert page.evaluate("window.__mostInFlight") == 1
    assert page.evaluate("window.__saves") >= 3

    page.goto(attempt_url)  # what the server kept
    singles = page.locator(RADIO)
    checked = [singles.nth(n).locator("input[type=radio]").evaluate_all(
        "inputs => inputs.findIndex(input => input.checked)") for n in range(3)]
    assert checked == [1, 1, 0]
