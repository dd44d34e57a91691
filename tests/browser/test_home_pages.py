"""Each role signs in through the real form in Chromium, at phone and desktop width."""

from __future__ import annotations

import pytest

from .conftest import screenshot, sign_in

HOMES = {
    "tech": ("/technician", "next-steps", {"zh-CN": "接下来要做的事", "en-US": "What to do next"}),
    "trainer": ("/trainer", "cohorts", {"zh-CN": "培训班与课程", "en-US": "Cohorts and courses"}),
    "auditor": ("/auditor", "audits", {"zh-CN": "我的暗访报告", "en-US": "Your audit reports"}),
    "admin": ("/admin", "people", {"zh-CN": "人员", "en-US": "People"}),
}

PAGE_BUDGET_BYTES = 300 * 1024  # "a few hundred KB before it is usable"


def _page_bytes(page) -> int:
    """Bytes the current page needed: the document and every resource it loaded (cached or not)."""
    return page.evaluate(
        """() => performance.getEntriesByType('navigation')
              .concat(performance.getEntriesByType('resource'))
              .reduce((sum, e) => sum + e.decodedBodySize, 0)"""
    )


def _layout_problems(page, width: int) -> list[str]:
    """Overflow, small tap targets, small text: what makes a page hard to use on a phone."""
    return page.evaluate(
        """(width) => {
        const problems = [];
        if (document.documentElement.scrollWidth > width)
            problems.push(`page is ${document.documentElement.scrollWidth}px wide`);
        const visible = (el) => {
            const r = el.getBoundingClientRect();
            const s = getComputedStyle(el);
            return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
        };
        for (const el of document.querySelectorAll('button, input:not([type=hidden]), select, summary, .button, .brand')) {
            if (!visible(el)) continue;
            const r = el.getBoundingClientRect();
            const minimum = el.matches('input[type=checkbox], input[type=radio]') ? 22 : 44;
            if (r.height < minimum) problems.push(`${el.outerHTML.slice(0, 60)} is ${r.height}px tall`);
        }
        for (const el of document.querySelectorAll('main p, main dd, main li, main label, input, button')) {
            if (!visible(el)) continue;
            const size = parseFloat(getComputedStyle(el).fontSize);
            if (size < 14) problems.push(`${el.tagName} text is ${size}px`);
        }
        for (const el of document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]), select')) {
            if (parseFloat(getComputedStyle(el).fontSize) < 16) problems.push(`${el.id} would zoom on iOS`);
        }
        return problems;
    }""",
        width,
    )


@pytest.mark.parametrize("width", [360, 1280])
@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("username", list(HOMES))
def test_role_home_page(live_server, new_page, username, width, locale):
    path, section, heading = HOMES[username]
    page = new_page(width, locale)
    sign_in(page, live_server, username)
    assert page.url == live_server + path
    assert page.locator(f'[data-section="{section}"]').is_visible()
    assert heading[locale] in page.locator(f'[data-section="{section}"] h2').inner_text()
    lang = "zh-CN" if locale == "zh-CN" else "en"
    assert page.locator("html").get_attribute("lang") == lang
    assert _layout_problems(page, width) == []
    assert 1000 < _page_bytes(page) < PAGE_BUDGET_BYTES
    shot = screenshot(page, f"home-{username}-{width}-{locale}")
    assert shot.stat().st_size > 5000


def test_login_page_is_light_labelled_and_keyboard_usable(live_server, new_page):
    page = new_page(360)
    page.goto(live_server + "/login")
    assert 1000 < _page_bytes(page) < PAGE_BUDGET_BYTES
    # Labels are tied to their fields.
    page.get_by_label("用户名").fill("tech")
    page.get_by_label("密码").fill("portal-demo")
    # The form submits from the keyboard.
    page.get_by_label("密码").press("Enter")
    page.wait_for_url(live_server + "/technician")
    assert _layout_problems(page, 360) == []


def test_wrong_password_in_the_browser(live_server, new_page):
    page = new_page(360, "en-US")
    sign_in(page, live_server, "trainer", "not-the-password")
    assert "Wrong username or password." in page.locator(".flash-error").inner_text()
    assert page.locator("#username").input_value() == "trainer"
    screenshot(page, "login-error-360-en")


def test_language_switch_and_menu_on_a_phone(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "admin")
    assert page.locator("h1").inner_text() == "系统管理"
    page.get_by_role("button", name="EN").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Administration"
    # The choice sticks as the user moves on.
    page.locator(".menu summary").click()
    page.get_by_role("link", name="Users").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Users")
    assert _layout_problems(page, 360) == []
    screenshot(page, "admin-users-360-en")
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("用户")
    page.locator(".menu summary").click()
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(live_server + "/login")
    assert "您已退出登录。" in page.locator(".flash-info").inner_text()


@pytest.mark.parametrize("width", [360, 1280])
def test_admin_pages_fit_the_screen(live_server, new_page, width):
    page = new_page(width, "zh-CN")
    sign_in(page, live_server, "admin")
    for path in ("/admin/users", "/admin/users/tech", "/admin/users/new", "/admin/network",
                 "/admin/import", "/admin/tokens", "/account/password"):
        page.goto(live_server + path)
        assert page.locator("h1").count() == 1, path
        assert _layout_problems(page, width) == [], path
        assert _page_bytes(page) < PAGE_BUDGET_BYTES, path
        screenshot(page, f"admin{path.replace('/', '-')}-{width}")
