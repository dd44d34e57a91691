"""Install is one step: the wheel, built from a clean clone, serves both languages and migrates.

The end-to-end test builds the sdist and, from it, the wheel (``uv build``, isolated: the build
requirements come from [build-system]), installs the wheel with its declared dependencies into
a fresh venv outside the checkout (``uv pip install``, from the package index), migrates a new
SQLite database there and starts gunicorn. It tests the committed HEAD: commit before running it.
uv (a test dependency) is used for CI time: a venv and the install take it 2 s on a warm cache,
`python -m venv` and pip about 40 s (and `python -m build` two pip-made build environments more).
"""

from __future__ import annotations

import gettext
import io
import os
import socket
import sqlite3
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import uv
from alembic.script import ScriptDirectory

from portal import _migrations_dir, create_app
from portal.auth.models import User
from portal.content.cli import default_content_root
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite"])
def backend(request):
    """Packaging and the content root's lookup do not depend on the database (CI time)."""
    return request.param


def _run(*args, cwd: Path, env: dict | None = None, timeout: int = 300) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout[-3000:]}"
                    f"\n{done.stderr[-3000:]}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers) -> str:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def _clean_env(**extra) -> dict:
    """The environment of a new shell: nothing of the checkout's venv, database or settings
    (uv's own settings, an index mirror say, are kept)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORTAL_", "PYTHON", "VIRTUAL_ENV"))
           and k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")}
    env.update({"LANG": "C.UTF-8", "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}, **extra)
    return env


def test_the_wheel_from_a_clean_clone_installs_migrates_and_speaks_chinese(tmp_path):
    head = _run("git", "rev-parse", "HEAD", cwd=ROOT).strip()
    source = tmp_path / "clone"
    _run("git", "clone", "--quiet", "--no-checkout", ROOT, source, cwd=tmp_path)
    _run("git", "checkout", "--quiet", "--detach", head, cwd=source)
    tracked = _run("git", "ls-files", "migrations", "portal/translations", cwd=source).split()
    migrations = [p for p in tracked if p.startswith("migrations/")]
    catalogues = [p for p in tracked if p.endswith(".po")]
    assert "migrations/env.py" in migrations and catalogues

    env = _clean_env()
    uv_bin = uv.find_uv_bin()
    dist = tmp_path / "dist"
    # No --sdist/--wheel: the sdist is built from the clone, then the wheel from the sdist.
    _run(uv_bin, "build", "--quiet", "--python", sys.executable, "--out-dir", dist, source,
         cwd=tmp_path, env=env)
    (sdist,), (wheel,) = dist.glob("*.tar.gz"), dist.glob("*.whl")

    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert not set(migrations + catalogues) - in_sdist
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        assert not {"portal/" + p for p in migrations} - in_wheel
        compiled = {po: archive.read(po.removesuffix(".po") + ".mo") for po in catalogues}
    chinese = next(data for po, data in compiled.items() if "/zh_CN/" in po)
    assert gettext.GNUTranslations(io.BytesIO(chinese)).gettext("Sign in") == "登录"

    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _run(uv_bin, "venv", "--quiet", "--python", sys.executable, venv, cwd=elsewhere, env=env)
    _run(uv_bin, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel,
         cwd=elsewhere, env=env)
    (installed,) = venv.glob("lib/python*/site-packages/portal")
    assert (installed / "migrations" / "env.py").is_file() and list(installed.glob("translations/*/*/*.mo"))

    # From outside the checkout, the installed package migrates with the migrations it carries.
    instance = tmp_path / "instance"
    env["PORTAL_INSTANCE_PATH"] = str(instance)
    _run(venv / "bin" / "flask", "--app", "portal", "db", "upgrade", cwd=elsewhere, env=env)
    with sqlite3.connect(instance / "portal.sqlite3") as conn:
        applied = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    assert applied == set(ScriptDirectory(str(source / "migrations")).get_heads())

    port = _free_port()
    server = subprocess.Popen([venv / "bin" / "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
                               "portal:create_app()"], cwd=elsewhere, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/healthz")
                break
            except (OSError, urllib.error.URLError):
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail("gunicorn did not start: " + server.stderr.read().decode()[-2000:])
                time.sleep(0.2)
        page = _get(base + "/login", **{"Accept-Language": "zh-CN,zh;q=0.9"})
        assert '<html lang="zh-CN">' in page
        assert "<h1>登录</h1>" in page and "管理员" in page and "Sign in" not in page
        page = _get(base + "/login", **{"Accept-Language": "en"})
        assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page and "登录" not in page
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_checkout_migrates_from_its_own_migrations_an_installed_package_from_its_copy(tmp_path):
    assert _migrations_dir(ROOT / "portal") == str(ROOT / "migrations")
    installed = tmp_path / "site-packages" / "portal"
    (installed / "migrations").mkdir(parents=True)
    (installed.parent / "migrations").mkdir()  # another distribution's top-level folder: not ours
    assert _migrations_dir(installed) == str(installed / "migrations")


def test_the_content_root_is_configurable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTAL_CONTENT_DIR", "network-content/content ")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
    with app.app_context():
        assert default_content_root() == tmp_path / "network-content" / "content"
    monkeypatch.delenv("PORTAL_CONTENT_DIR")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
    with app.app_context():
        assert default_content_root() == ROOT / "content"  # no content/ here: the checkout's


def test_demo_without_content_refuses_and_creates_nothing(app, runner, tmp_path):
    app.config["PORTAL_CONTENT_DIR"] = str(tmp_path / "content")  # as an installed portal elsewhere
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: Nothing under {tmp_path / 'content'} that the portal knows how to load."
    assert db.session.query(User).count() == 0
