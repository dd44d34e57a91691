"""Signed-in devices end on the server after an absolute lifetime and after idling: short for
trainers, auditors and admins, longer for technicians on a phone. The limits are enforced on
the session row, so a copied cookie expires too. Time is moved in the database, never slept."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal.auth.models import UserSession
from portal.extensions import db

from .conftest import login
from .test_production import Browser, gunicorn  # noqa: F401  (the live server fixture)

HOME = {"technician": "/technician", "trainer": "/trainer", "auditor": "/auditor", "admin": "/admin"}


def _row(user) -> UserSession:
    db.session.expire_all()
    return db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))


def _age(user, *, created=timedelta(0), idle=timedelta(0)) -> None:
    row = _row(user)
    row.created_at -= created
    row.last_seen_at -= idle
    db.session.commit()


def _signed_in(app, role, users):
    client = app.test_client()
    assert login(client, users[role].username).status_code == 302
    assert client.get(HOME[role]).status_code == 200
    return client


def _copy(app, client):
    """A second client holding a copy of the first one's session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("portal_session")
    thief.set_cookie("portal_session", cookie.value)
    return thief


def test_default_limits_are_documented_values(app):
    cfg = app.config
    assert cfg["SESSION_PRIVILEGED_ABSOLUTE_SECONDS"] == 12 * 3600
    assert cfg["SESSION_PRIVILEGED_IDLE_SECONDS"] == 60 * 60
    assert cfg["SESSION_TECHNICIAN_ABSOLUTE_SECONDS"] == 14 * 24 * 3600
    assert cfg["SESSION_TECHNICIAN_IDLE_SECONDS"] == 72 * 3600


@pytest.mark.parametrize("role", ["trainer", "auditor", "admin"])
def test_privileged_session_ends_after_its_absolute_lifetime(app, users, role):
    client = _signed_in(app, role, users)
    thief = _copy(app, client)
    _age(users[role], created=timedelta(hours=11, minutes=50))
    assert client.get(HOME[role]).status_code == 200  # still inside 12 hours, kept busy
    _age(users[role], created=timedelta(minutes=11))
    assert client.get(HOME[role]).status_code == 302
    assert thief.get(HOME[role]).status_code == 302  # the copied cookie is dead too
    assert _row(users[role]).ended_at is not None


@pytest.mark.parametrize("role", ["trainer", "auditor", "admin"])
def test_privileged_session_ends_after_an_hour_idle(app, users, role):
    client = _signed_in(app, role, users)
    _age(users[role], idle=timedelta(minutes=50))
    assert client.get(HOME[role]).status_code == 200
    _age(users[role], idle=timedelta(minutes=61))
    assert client.get(HOME[role]).status_code == 302


def test_technician_keeps_a_long_session_but_not_forever(app, users):
    tech = users["technician"]
    client = _signed_in(app, "technician", users)
    # A day old and idle for a day: fine for a phone in a van.
    _age(tech, created=timedelta(days=1), idle=timedelta(days=1))
    assert client.get("/technician").status_code == 200
    _age(tech, created=timedelta(days=12, hours=23))  # 13 days 23 hours old in all
    assert client.get("/technician").status_code == 200
    _age(tech, created=timedelta(hours=2))
    assert client.get("/technician").status_code == 302


def test_technician_session_ends_after_three_days_idle(app, users):
    tech = users["technician"]
    client = _signed_in(app, "technician", users)
    thief = _copy(app, client)
    _age(tech, idle=timedelta(hours=71))
    assert client.get("/technician").status_code == 200
    _age(tech, idle=timedelta(hours=73))
    assert client.get("/technician").status_code == 302
    assert thief.get("/technician").status_code == 302


def test_a_technician_who_is_also_a_trainer_gets_the_short_limits(app, make_user, network):
    both = make_user("tech.trainer", "technician", "trainer", outlet="GD-GZ-01")
    client = app.test_client()
    assert login(client, "tech.trainer").status_code == 302
    _age(both, idle=timedelta(hours=2))
    assert client.get("/trainer").status_code == 302


def test_limits_are_configurable(app, users):
    app.config["SESSION_TECHNICIAN_IDLE_SECONDS"] = 600
    client = _signed_in(app, "technician", users)
    _age(users["technician"], idle=timedelta(minutes=11))
    assert client.get("/technician").status_code == 302


def _move_back(db_path, *, created=timedelta(0), idle=timedelta(0)) -> int:
    """Age every open session row in the live server's SQLite database."""
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT id, created_at, last_seen_at FROM user_session WHERE ended_at IS NULL").fetchall()
        for sid, c, seen in rows:
            c = datetime.fromisoformat(c) - created
            seen = datetime.fromisoformat(seen) - idle
            con.execute("UPDATE user_session SET created_at = ?, last_seen_at = ? WHERE id = ?",
                        (c.isoformat(" "), seen.isoformat(" "), sid))
        con.commit()
        return len(rows)
    finally:
        con.close()


def test_live_server_ends_expired_sessions_on_every_worker(gunicorn, tmp_path):  # noqa: F811
    db_path = tmp_path / "instance" / "portal.sqlite3"
    admin, tech = Browser(gunicorn), Browser(gunicorn)
    assert admin.login("admin", "portal-demo") == 302
    assert tech.login("tech", "portal-demo") == 302
    for _ in range(3):  # several workers answer
        assert admin.request("/admin/users")[0] == 200
        assert tech.request("/technician")[0] == 200
    assert _move_back(db_path, idle=timedelta(hours=2)) == 2
    for _ in range(3):
        assert admin.request("/admin/users")[0] == 302  # privileged: idle too long
        assert tech.request("/technician")[0] == 200  # technician: two idle hours are fine
    _move_back(db_path, created=timedelta(days=15))
    assert tech.request("/technician")[0] == 302
