"""Links that leave the site come from PORTAL_BASE_URL, never from the request's Host header;
production refuses to start without PORTAL_BASE_URL and PORTAL_TRUSTED_HOSTS."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import segno

from portal import create_app

from .conftest import login
from .test_certification import ctx, issued, tiers  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
EVIL = {"Host": "evil.example"}


def _qr_for(url: str, number: str) -> bytes:
    """The SVG the portal draws for ``url`` (same options), to compare payloads exactly."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, xmldecl=False, title=number)
    return out.getvalue()


def _holder(app, cert):
    """The holder's client; its session cookie is also sent to evil.example (the test client
    keeps cookies per host; a forged Host header with a stolen cookie is the point)."""
    client = app.test_client()
    login(client, cert.user.username)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    client.set_cookie(cookie.key, cookie.value, domain="evil.example")
    return client


def test_a_forged_host_never_reaches_the_print_page_badge_or_qr_code(app, issued):  # noqa: F811
    cert = issued["active"]
    app.config["PORTAL_BASE_URL"] = "https://service.example.cn"
    client = _holder(app, cert)  # the session cookie is kept per host
    expected = f"https://service.example.cn/verify/{cert.number}"
    for path in ("/print", "/badge"):
        page = client.get(f"/certificates/{cert.number}{path}", headers=EVIL)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "evil.example" not in html and expected in html, path
    qr = client.get(f"/certificates/{cert.number}/qr.svg", headers=EVIL)
    assert qr.status_code == 200 and qr.data == _qr_for(expected, cert.number)


def test_without_a_base_url_development_links_are_relative(app, issued):  # noqa: F811
    cert = issued["active"]
    client = _holder(app, cert)
    html = client.get(f"/certificates/{cert.number}/print", headers=EVIL).get_data(as_text=True)
    assert "evil.example" not in html and f"<code>/verify/{cert.number}</code>" in html
    qr = client.get(f"/certificates/{cert.number}/qr.svg", headers=EVIL)
    assert qr.data == _qr_for(f"/verify/{cert.number}", cert.number)


def test_without_a_base_url_the_first_trusted_host_is_used_and_others_are_refused(app, issued):  # noqa: F811
    cert = issued["active"]
    app.config["TRUSTED_HOSTS"] = [".example.cn", "service.example.cn", "localhost"]
    client = _holder(app, cert)
    html = client.get(f"/certificates/{cert.number}/print").get_data(as_text=True)
    assert f"http://service.example.cn/verify/{cert.number}" in html
    refused = client.get(f"/certificates/{cert.number}/print", headers=EVIL)
    assert refused.status_code == 400 and "evil.example" not in refused.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=EVIL).get_json()["status"] == 400


def test_api_case_links_use_the_base_url(app, client, users, kb_cases):
    from portal.auth.services import issue_token

    app.config["PORTAL_BASE_URL"] = "https://service.example.cn/"
    headers = {"Authorization": f"Bearer {issue_token(users['technician'])}", **EVIL}
    found = client.get("/api/v1/cases?q=E1", headers=headers).get_json()
    assert found["results"] and all(r["url"].startswith("https://service.example.cn/cases/")
                                    for r in found["results"])
    case = client.get(f"/api/v1/cases/{found['results'][0]['slug']}", headers=headers)
    assert "evil.example" not in case.get_data(as_text=True)
    assert case.get_json()["url"].startswith("https://service.example.cn/cases/")


def _config(tmp_path, **extra):
    return {"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "db.sqlite3"), **extra}


@pytest.mark.parametrize("extra, setting", [
    ({}, "PORTAL_BASE_URL must be set"),
    ({"PORTAL_BASE_URL": "https://service.example.cn"}, "PORTAL_TRUSTED_HOSTS must be set"),
    ({"PORTAL_BASE_URL": "service.example.cn", "TRUSTED_HOSTS": ["service.example.cn"]},
     "PORTAL_BASE_URL must be a scheme and host only"),
    ({"PORTAL_BASE_URL": "https://service.example.cn/verify?x=1",
      "TRUSTED_HOSTS": ["service.example.cn"]}, "PORTAL_BASE_URL must be a scheme and host only"),
    ({"PORTAL_BASE_URL": "https://service.example.cn", "TRUSTED_HOSTS": ["other.example.cn"]},
     r"PORTAL_TRUSTED_HOSTS must include the host of PORTAL_BASE_URL \(service.example.cn\)"),
])
def test_production_without_its_public_address_refuses_to_start(tmp_path, extra, setting):
    with pytest.raises(RuntimeError, match=setting) as refused:
        create_app(_config(tmp_path, PORTAL_ENV="production", **extra))
    assert "\n" not in str(refused.value)


def test_production_with_its_public_address_starts(tmp_path):
    app = create_app(_config(tmp_path, PORTAL_ENV="production",
                             PORTAL_BASE_URL="https://service.example.cn",
                             TRUSTED_HOSTS=["service.example.cn"]))
    assert app.config["PORTAL_BASE_URL"] == "https://service.example.cn"


def test_the_command_line_names_the_missing_setting(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PORTAL_BASE_URL", "PORTAL_TRUSTED_HOSTS", "DATABASE_URL", "SECRET_KEY")}
    env.update({"PORTAL_ENV": "production", "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
                "PORTAL_TRUSTED_HOSTS": "service.example.cn"})
    result = subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "portal", "routes"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "PORTAL_BASE_URL must be set when PORTAL_ENV=production" in result.stderr
