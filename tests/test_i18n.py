"""Language: negotiation, switching, remembering; dates and numbers per language and time zone."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from portal.auth.models import User
from portal.extensions import db
from portal.i18n import negotiate

from .conftest import get_csrf, login

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "portal/translations/zh_CN/LC_MESSAGES/messages.po"


@pytest.mark.parametrize("header, expected", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
    ("zh", "zh_CN"),
    ("zh-Hans", "zh_CN"),
    ("zh-TW", "zh_CN"),
    ("en-US,en;q=0.9", "en"),
    ("en-GB", "en"),
    ("fr-FR,en;q=0.5,zh;q=0.9", "zh_CN"),
    ("de-DE,en;q=0.7", "en"),
    ("fr-FR", None),
    ("", None),
])
def test_negotiation(header, expected):
    assert negotiate(parse_accept_header(header, LanguageAccept)) == expected


def test_pages_follow_accept_language(client):
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    page = client.get("/login", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Sign in" in page and '<html lang="en">' in page
    # Unknown languages fall back to the configured default, Chinese.
    page = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "登录" in page


def test_switch_on_every_page_and_remembered_in_the_session(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'name="locale" value="en"' in page
    response = client.post("/language", data={"locale": "en", "next": "/login",
                                              "csrf_token": get_csrf(client)},
                           headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Sign in" in page and 'name="locale" value="zh_CN"' in page


def test_switch_returns_to_the_page_without_a_lang_override(client):
    page = client.get("/login?lang=en&next=/admin").get_data(as_text=True)
    assert 'name="next" value="/login?next=%2Fadmin"' in page
    client.post("/language", data={"locale": "zh_CN", "next": "/login?next=%2Fadmin",
                                   "csrf_token": get_csrf(client)})
    assert "登录" in client.get("/login?next=%2Fadmin").get_data(as_text=True)


def test_switch_is_not_offered_where_the_page_cannot_be_reloaded(client, users):
    """A password shown once (the answer to a POST) would be lost by a reload."""
    login(client, "admin")
    page = client.get("/admin/users/tech").get_data(as_text=True)
    assert 'name="locale"' in page
    shown = client.post("/admin/users/tech/password", data={"csrf_token": get_csrf(client, "/admin")})
    assert 'class="secret"' in shown.get_data(as_text=True)
    assert 'name="locale"' not in shown.get_data(as_text=True)
    # Error pages keep the switch and send the user home.
    missing = client.get("/no-such-page").get_data(as_text=True)
    assert 'name="next" value="/"' in missing


def test_switch_ignores_unknown_locales_and_foreign_next(client):
    response = client.post("/language", data={"locale": "xx", "next": "https://evil.example/",
                                              "csrf_token": get_csrf(client)})
    assert response.headers["Location"] == "/"


def test_choice_is_remembered_for_the_signed_in_user(app, users):
    phone = app.test_client()
    login(phone, "tech")
    phone.post("/language", data={"locale": "en", "next": "/technician",
                                  "csrf_token": get_csrf(phone, "/technician")})
    db.session.expire_all()
    assert db.session.scalar(select(User.locale).where(User.username == "tech")) == "en"
    # A new device with a Chinese browser: after sign-in the saved choice wins.
    desktop = app.test_client()
    login(desktop, "tech", **{"Accept-Language": "zh-CN"})
    page = desktop.get("/technician", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "What to do next" in page


def test_dates_are_formatted_per_language_in_the_portal_time_zone(client, users):
    tech = users["technician"]
    tech.created_at = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)  # 08:30 in Shanghai
    db.session.commit()
    login(client, "admin")
    zh = client.get("/admin/users/tech?lang=zh_CN").get_data(as_text=True)
    en = client.get("/admin/users/tech?lang=en").get_data(as_text=True)
    assert "2026年1月1日 08:30:00" in zh
    assert re.search(r"Jan 1, 2026, 8:30:00\s?AM", en)


def test_time_zone_comes_from_the_environment(tmp_path, monkeypatch, network, users):
    from .conftest import make_app

    monkeypatch.setenv("PORTAL_TIMEZONE", "Europe/London")
    london = make_app(tmp_path / "london", str(db.engine.url.render_as_string(hide_password=False)))
    assert london.config["BABEL_DEFAULT_TIMEZONE"] == "Europe/London"
    users["technician"].created_at = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
    db.session.commit()
    client = london.test_client()
    login(client, "admin")
    assert "2026年1月1日 00:30:00" in client.get("/admin/users/tech?lang=zh_CN").get_data(as_text=True)


def test_number_and_date_filters_follow_the_language(app):
    from datetime import date

    from flask import render_template_string

    import contextvars

    def render(lang):
        with app.test_request_context(f"/?lang={lang}"):
            return render_template_string("{{ 12345.5|number }} · {{ d|date('full') }}",
                                          d=date(2026, 3, 2))

    # Each in a fresh context, as separate requests would be.
    assert contextvars.Context().run(render, "en") == "12,345.5 · Monday, March 2, 2026"
    assert contextvars.Context().run(render, "zh_CN") == "12,345.5 · 2026年3月2日星期一"


def test_every_message_is_translated_into_chinese():
    catalog = read_po(PO.open("rb"))
    untranslated = [m.id for m in catalog if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == []


def test_catalogue_covers_every_string_in_the_code(tmp_path):
    """Extract the strings from the source again: none may be missing from the catalogue."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "lazy_gettext", "-k", "_l", "-o", str(pot), "--no-location", "."],
                   cwd=ROOT, check=True, capture_output=True)
    source_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot.open("rb")) if m.id}
    catalog_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(PO.open("rb")) if m.id}
    assert sorted(source_ids - catalog_ids) == []


def test_chinese_pages_have_no_english_leftovers(app, users):
    """Spot-check whole pages in Chinese for untranslated interface words."""
    client = app.test_client()
    login(client, "admin")
    for path in ("/admin", "/admin/users", "/admin/network", "/admin/import", "/admin/users/tech"):
        page = client.get(path + "?lang=zh_CN").get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S))
        for word in ("Sign out", "Users", "Save", "Edit", "Search", "Status", "Outlet", "Region"):
            assert not re.search(rf"\b{word}\b", text), (path, word)
