"""Every CLI command, with good and bad input; plus the real `flask --app portal` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from portal.auth.models import ApiToken, Outlet, Province, Region, User
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_users_create(runner, network):
    result = runner.invoke(args=["users", "create", "zhang.wei", "--role", "technician",
                                 "--role", "trainer", "--password", "long-enough-1",
                                 "--name", "张伟", "--outlet", "gd-gz-01"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "zhang.wei"))
    assert user.roles == {"technician", "trainer"}
    assert user.name == "张伟" and user.outlet.code == "GD-GZ-01"
    assert user.password_hash != "long-enough-1"


def test_technician_without_outlet_is_created_with_a_warning(runner, network):
    result = runner.invoke(args=["users", "create", "lone.tech", "--role", "technician",
                                 "--password", "long-enough-1"])
    assert result.exit_code == 0
    assert "warning" in result.output and "outlet" in result.output
    result = runner.invoke(args=["users", "create", "a.trainer", "--role", "trainer",
                                 "--password", "long-enough-1"])
    assert "warning" not in result.output


def test_users_create_duplicate_changes_nothing(runner, users):
    before = _count(User)
    result = runner.invoke(args=["users", "create", "TECH", "--role", "technician",
                                 "--password", "long-enough-1"])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "tech" in lines[0] and "taken" in lines[0]
    assert _count(User) == before


def test_users_create_unknown_role_changes_nothing(runner, users):
    before = _count(User)
    result = runner.invoke(args=["users", "create", "newbie", "--role", "technician",
                                 "--role", "wizard", "--password", "long-enough-1"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "wizard" in result.output
    assert _count(User) == before


def test_users_create_bad_outlet_and_short_password(runner, users):
    before = _count(User)
    result = runner.invoke(args=["users", "create", "newbie", "--role", "technician",
                                 "--password", "long-enough-1", "--outlet", "NOPE"])
    assert result.exit_code != 0 and "NOPE" in result.output
    result = runner.invoke(args=["users", "create", "newbie", "--role", "technician",
                                 "--password", "short"])
    assert result.exit_code != 0 and "8" in result.output
    result = runner.invoke(args=["users", "create", "bad name", "--role", "technician",
                                 "--password", "long-enough-1"])
    assert result.exit_code != 0
    assert _count(User) == before


def test_users_create_requires_role_and_password(runner):
    assert runner.invoke(args=["users", "create", "x1x", "--password", "long-enough-1"]).exit_code != 0
    assert runner.invoke(args=["users", "create", "x1x", "--role", "admin"]).exit_code != 0


def test_users_token_prints_a_working_token(app, runner, users):
    result = runner.invoke(args=["users", "token", "tech"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("ptk_")
    row = db.session.scalar(select(ApiToken))
    assert row.token_hash != token and token not in row.token_hash
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["username"] == "tech"


def test_users_token_unknown_or_inactive_user(runner, users):
    from portal.auth.services import set_active

    result = runner.invoke(args=["users", "token", "ghost"])
    assert result.exit_code != 0 and "ghost" in result.output
    set_active(users["technician"], False, None)
    result = runner.invoke(args=["users", "token", "tech"])
    assert result.exit_code != 0
    assert _count(ApiToken) == 0


def test_users_tokens_lists_and_deactivate(runner, users):
    runner.invoke(args=["users", "token", "tech", "--label", "phone app"])
    result = runner.invoke(args=["users", "tokens", "tech"])
    assert result.exit_code == 0 and "phone app" in result.output and "live" in result.output
    result = runner.invoke(args=["users", "deactivate", "tech"])
    assert result.exit_code == 0
    db.session.expire_all()
    assert not db.session.scalar(select(User).where(User.username == "tech")).active
    # Deactivation revokes the user's tokens.
    assert "revoked" in runner.invoke(args=["users", "tokens", "tech"]).output
    assert runner.invoke(args=["users", "deactivate", "ghost"]).exit_code != 0
    result = runner.invoke(args=["users", "tokens", "ghost"])
    assert result.exit_code != 0 and "ghost" in result.output


def test_users_tokens_shows_times_in_the_portal_time_zone(runner, users):
    from datetime import datetime, timezone

    runner.invoke(args=["users", "token", "tech"])
    row = db.session.scalar(select(ApiToken))
    row.created_at = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
    db.session.commit()
    assert "created 2026-01-01 08:30:00 +08:00" in runner.invoke(args=["users", "tokens", "tech"]).output


def test_users_import(runner, network, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("username,name,outlet\nli.lei,李雷,GD-GZ-01\nhan.mei,韩梅梅,GD-FS-01\n",
                    encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "imported 2 technicians" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("username,name,outlet\nok.one,甲,GD-GZ-01\nli.lei,乙,GD-GZ-01\n", encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(bad)])
    assert result.exit_code != 0
    assert f"{bad}:3:" in result.output
    assert _count(User) == 2


def test_demo_is_idempotent(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    counts = {m: _count(m) for m in (Region, Province, Outlet, User)}
    assert counts[Region] == 5 and counts[Province] == 31 and counts[User] >= 4
    hashes = dict(db.session.execute(select(User.username, User.password_hash)).all())
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0
    assert {m: _count(m) for m in counts} == counts
    assert dict(db.session.execute(select(User.username, User.password_hash)).all()) == hashes
    roles = {r for u in db.session.scalars(select(User)) for r in u.roles}
    assert roles == {"technician", "trainer", "auditor", "admin"}


def _flask(args, instance: Path, **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "SECRET_KEY", "FLASK_APP")}
    full_env.update({"PORTAL_INSTANCE_PATH": str(instance), "LANG": "C.UTF-8", **env})
    return subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *args],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def test_real_command_line(tmp_path):
    """The documented commands, run the way an operator runs them."""
    instance = tmp_path / "instance"
    result = _flask(["db", "upgrade"], instance)
    assert result.returncode == 0, result.stderr
    assert (instance / "portal.sqlite3").exists()
    assert (instance / "secret_key").exists()  # generated once, kept in the instance folder
    key = (instance / "secret_key").read_text()
    result = _flask(["demo"], instance)
    assert result.returncode == 0, result.stderr
    first = result.stdout
    result = _flask(["demo"], instance)
    assert result.returncode == 0 and "0 users created" in result.stdout and first != result.stdout
    assert (instance / "secret_key").read_text() == key
    result = _flask(["users", "create", "admin", "--role", "admin", "--password", "xx-long-pw"],
                    instance)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "admin" in result.stderr
    result = _flask(["users", "token", "tech"], instance)
    assert result.returncode == 0 and result.stdout.strip().startswith("ptk_")


def test_cli_messages_follow_the_shell_language(tmp_path):
    instance = tmp_path / "instance"
    _flask(["db", "upgrade"], instance)
    result = _flask(["users", "token", "ghost"], instance, LANG="zh_CN.UTF-8")
    assert result.returncode != 0 and "没有名为 ghost 的用户" in result.stderr


def test_commands_before_db_upgrade_say_what_to_do(tmp_path):
    instance = tmp_path / "instance"
    for args in (["demo"], ["users", "create", "x1x", "--role", "admin", "--password", "long-enough"],
                 ["users", "token", "x1x"]):
        result = _flask(args, instance)
        assert result.returncode == 1, args
        assert "db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_fails_cleanly(tmp_path):
    instance = tmp_path / "instance"
    url = "postgresql://postgres@127.0.0.1:9/portal?connect_timeout=2"
    result = _flask(["users", "token", "tech"], instance, DATABASE_URL=url)
    assert result.returncode == 1 and "Cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr
    result = _flask(["db", "upgrade"], instance, DATABASE_URL=url)
    assert result.returncode != 0


def test_environment_settings(tmp_path):
    """PORTAL_INSTANCE_PATH holds all local state; DATABASE_URL and SECRET_KEY override."""
    instance = tmp_path / "elsewhere"
    other_db = tmp_path / "other.sqlite3"
    result = _flask(["db", "upgrade"], instance, DATABASE_URL=f"sqlite:///{other_db}",
                    SECRET_KEY="from-the-environment")
    assert result.returncode == 0, result.stderr
    assert other_db.exists() and not (instance / "portal.sqlite3").exists()
    assert not (instance / "secret_key").exists()  # the environment's key is used, none generated
    import sqlite3

    with sqlite3.connect(other_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
