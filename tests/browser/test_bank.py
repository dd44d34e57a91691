"""The question bank's pages on a phone and a desktop, in both languages: nothing wider than
the screen; screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from .conftest import screenshot, sign_in

PAGES = {"bank-list": "/assessment/bank/", "bank-question": "/assessment/bank/1",
         "bank-preview": "/assessment/bank/1/preview", "bank-edit": "/assessment/bank/1/edit",
         "bank-new-matching": "/assessment/bank/new?type=matching"}


@pytest.mark.parametrize("width", (360, 1280))
@pytest.mark.parametrize("locale", ("zh-CN", "en-US"))
def test_the_bank_pages_fit_the_screen(live_server, new_page, width, locale):
    page = new_page(width, locale)
    sign_in(page, live_server, "trainer")
    for name, path in PAGES.items():
        response = page.goto(live_server + path)
        assert response.status == 200, path
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        screenshot(page, f"{name}-{width}-{locale}")
        assert scroll <= width, (path, scroll)
