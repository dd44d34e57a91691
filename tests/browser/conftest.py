"""Browser tests: a live portal (migrated, demo data) driven by Debian's Chromium."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal.extensions import db

from ..conftest import make_app

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DEMO_PASSWORD = "portal-demo"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The portal served over HTTP on a free loopback port, as `make serve` sets it up."""
    from flask_migrate import upgrade

    from portal.demo.cli import load_demo

    base = tmp_path_factory.mktemp("live")
    app = make_app(base, "sqlite:///" + str(base / "live.sqlite3"))
    with app.app_context():
        from portal.content.cli import default_content_root, load_content

        upgrade()
        load_demo()
        load_content(default_content_root(), echo=lambda _line: None)
        from portal.demo.cli import load_learning_demo
        from portal.i18n import local_today as today

        load_learning_demo(today())
        from portal.demo.cli import load_assessment_demo

        load_assessment_demo(today())
        from portal.demo.cli import load_audit_demo

        load_audit_demo(today())
        from portal.demo.cli import load_network_demo

        load_network_demo(today())
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium and fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(width: int, locale: str = "zh-CN"):
        context = browser.new_context(viewport={"width": width, "height": 800}, locale=locale)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base: str, username: str, password: str = DEMO_PASSWORD):
    page.goto(base + "/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
