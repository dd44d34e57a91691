"""The documented production run: gunicorn with several workers sharing one database."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import copy_demo_instance, csrf_from

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            response = self.opener.open(self.base + path, body, timeout=10)
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()
        return response.status, response.headers, response.read().decode()

    def login(self, username: str, password: str) -> int:
        _status, _headers, page = self.request("/login")
        status, _headers, _body = self.request("/login", {
            "username": username, "password": password, "csrf_token": csrf_from(page)})
        return status


@pytest.fixture
def gunicorn(tmp_path, demo_instance):
    """gunicorn (3 workers) on a copy of the demo instance (``flask db upgrade`` and ``flask demo``
    ran in it once for the whole test run)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update({"PORTAL_INSTANCE_PATH": str(copy_demo_instance(demo_instance, tmp_path / "instance")),
                "LANG": "C.UTF-8"})
    port = _free_port()
    # As documented for production: the public address and host names are required.
    env.update({"PORTAL_ENV": "production", "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
                "PORTAL_TRUSTED_HOSTS": "127.0.0.1",
                "GUNICORN_CMD_ARGS": f"--capture-output --error-logfile {tmp_path / 'gunicorn.log'}"})
    with serve(env, port) as base:
        yield base


@contextlib.contextmanager
def serve(env: dict, port: int, workers: int = 3):
    """gunicorn serving the portal with ``env`` on ``port``, once /healthz answers; stopped after."""
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "portal:create_app()"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("gunicorn did not start: " + process.stderr.read().decode()[-2000:])
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_gunicorn_serves_the_portal(gunicorn):
    status, _headers, body = Browser(gunicorn).request("/healthz")
    assert status == 200 and '"status":"ok"' in body.replace(" ", "")
    browser = Browser(gunicorn)
    assert browser.login("admin", "portal-demo") == 302
    # Many requests land on different workers: the signed-cookie session works on all.
    for _ in range(12):
        status, _headers, page = browser.request("/admin/users")
        assert status == 200 and "trainer" in page


def test_throttle_is_shared_by_all_workers(gunicorn):
    for _ in range(5):
        # A new connection each time, so the attempts spread over the workers.
        assert Browser(gunicorn).login("trainer", "wrong-password") == 401
    assert Browser(gunicorn).login("trainer", "portal-demo") == 401  # must wait: refused unchecked


def test_several_workers_without_a_shared_store_warn_that_limits_are_per_worker(gunicorn, tmp_path):
    """The documented start (3 workers here) with the default memory:// store: each worker logs
    that it counts the rate limits for itself (with Redis configured it does not: see
    tests/test_shared_limits.py)."""
    path, deadline = tmp_path / "gunicorn.log", time.monotonic() + 30
    while True:  # the first worker answered /healthz; the others may still be starting
        log = path.read_text(encoding="utf-8")
        if log.count("rate limits are counted per worker") >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert log.count("rate limits are counted per worker") == 3, log[-3000:]
    assert "gunicorn runs 3 workers" in log
