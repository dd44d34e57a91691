"""Sign-in, sign-out, passwords, throttling, deactivation, session cookies."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from portal.auth.models import LoginAttempt, User
from portal.extensions import db

from .conftest import PASSWORD, get_csrf, login
from .test_production import gunicorn  # noqa: F401  (the live server fixture)


def test_sign_in_lands_on_the_role_home_page(client, users):
    response = login(client, "tech")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    response = client.get("/")
    assert response.headers["Location"] == "/technician"
    page = client.get("/technician", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Hello, 陈强" in page
    assert "Guangzhou Tianhe" in page  # the technician's own outlet


def test_username_is_case_insensitive(client, users):
    assert login(client, "TeCh").status_code == 302


def test_sign_in_follows_a_local_next_only(client, users):
    token = get_csrf(client)
    response = client.post("/login?next=/admin/users", data={
        "username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/admin/users"
    client.post("/logout", data={"csrf_token": get_csrf(client, "/admin")})
    token = get_csrf(client)
    response = client.post("/login?next=https://evil.example/x", data={
        "username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_with_a_message(client, users):
    response = login(client, "tech", "not-the-password", **{"Accept-Language": "en"})
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "Wrong username or password." in page
    assert 'value="tech"' in page  # what the user typed is kept
    assert client.get("/technician").status_code == 302  # still signed out


def test_unknown_user_gets_the_same_message(client, users):
    response = login(client, "nobody", "whatever-123", **{"Accept-Language": "en"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_sign_out_ends_the_session(client, users):
    login(client, "tech")
    assert client.get("/technician").status_code == 200
    response = client.post("/logout", data={"csrf_token": get_csrf(client, "/technician")})
    assert response.status_code == 302
    assert client.get("/technician").status_code == 302


def test_sign_out_needs_post_with_csrf(client, users):
    login(client, "tech")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/technician").status_code == 200


def test_deactivated_user_cannot_sign_in_and_is_signed_out(app, client, users):
    from portal.auth.services import set_active

    login(client, "tech")
    assert client.get("/technician").status_code == 200
    set_active(users["technician"], False, users["admin"])
    # The open session ends at once.
    assert client.get("/technician").status_code == 302
    response = login(client, "tech", **{"Accept-Language": "en"})
    assert response.status_code == 403
    assert "This account is deactivated" in response.get_data(as_text=True)
    # Records stay.
    assert db.session.scalar(select(User).where(User.username == "tech")) is not None


def test_change_own_password(client, users):
    login(client, "tech")
    token = get_csrf(client, "/account/password")
    response = client.post("/account/password", data={
        "current": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1",
        "csrf_token": token})
    assert response.status_code == 302
    # This device stays signed in…
    assert client.get("/technician").status_code == 200
    client.post("/logout", data={"csrf_token": get_csrf(client, "/technician")})
    # …the old password no longer works, the new one does.
    assert login(client, "tech").status_code == 401
    assert login(client, "tech", "a-new-password-1").status_code == 302


def test_change_password_keeps_input_and_explains_errors(client, users):
    login(client, "tech")
    token = get_csrf(client, "/account/password")
    response = client.post("/account/password?lang=en", data={
        "current": "wrong-current", "new": "a-new-password-1", "confirm": "a-new-password-1",
        "csrf_token": token})
    assert response.status_code == 400
    assert "Your current password is not correct." in response.get_data(as_text=True)
    response = client.post("/account/password?lang=en", data={
        "current": PASSWORD, "new": "short", "confirm": "short", "csrf_token": token})
    assert "at least 8 characters" in response.get_data(as_text=True)
    response = client.post("/account/password?lang=en", data={
        "current": PASSWORD, "new": "a-new-password-1", "confirm": "different-1",
        "csrf_token": token})
    assert "The two new passwords differ." in response.get_data(as_text=True)


def test_password_change_signs_out_other_devices(app, users):
    phone, desktop = app.test_client(), app.test_client()
    login(phone, "tech")
    login(desktop, "tech")
    token = get_csrf(desktop, "/account/password")
    desktop.post("/account/password", data={
        "current": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1",
        "csrf_token": token})
    assert desktop.get("/technician").status_code == 200
    assert phone.get("/technician").status_code == 302


def test_passwords_are_hashed_with_scrypt_by_default(app, tmp_path):
    from portal import create_app

    # The production configuration, untouched: no hash method given by the test.
    prod = create_app({"INSTANCE_PATH": str(tmp_path / "prod"),
                       "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "prod.sqlite3")})
    assert prod.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with prod.app_context():
        db.create_all()
        from portal.auth.services import create_user

        user = create_user("hashme", ["technician"], "plain-text-pw")
        assert user.password_hash.startswith("scrypt:")
        assert "plain-text-pw" not in user.password_hash
        db.engine.dispose()


# --- throttling -------------------------------------------------------------------------------


GENERIC = "Wrong username or password. After several failed attempts, wait a minute"


def _age_attempts(seconds: float) -> None:
    """As if `seconds` had passed since every recorded attempt (instead of sleeping)."""
    db.session.expire_all()
    for attempt in db.session.scalars(select(LoginAttempt)):
        attempt.at -= timedelta(seconds=seconds)
    db.session.commit()


def test_account_is_slowed_down_after_repeated_failures(app, client, users):
    for _ in range(5):
        assert login(client, "tech", "wrong-password").status_code == 401
    # Even the right password is refused while the account must wait, with the same answer.
    response = login(client, "tech", **{"Accept-Language": "en"})
    assert response.status_code == 401
    assert GENERIC in response.get_data(as_text=True)
    # Other accounts from the same address are not slowed by one account's failures.
    assert login(app.test_client(), "trainer").status_code == 302


def test_generic_message_is_translated(client, users):
    for _ in range(5):
        login(client, "tech", "wrong-password")
    response = login(client, "tech", **{"Accept-Language": "zh-CN"})
    assert "用户名或密码错误。多次失败后，请等待一分钟再试。" in response.get_data(as_text=True)


def test_the_wait_grows_exponentially_up_to_a_cap_and_never_locks(app, client, users):
    cap = app.config["LOGIN_MAX_DELAY_SECONDS"]
    expected = [1, 2, 4, 8, 16, 32, 60, 60]
    for wait in expected:
        for _ in range(5 if wait == 1 else 0):
            login(client, "tech", "wrong-password")
        assert login(client, "tech", "wrong-password").status_code == 401  # refused unchecked
        _age_attempts(wait - 0.5)
        assert login(client, "tech").status_code == 401, wait  # not yet
        _age_attempts(0.6)
        # The wait is over: this wrong guess is checked and makes the next wait longer.
        assert login(client, "tech", "wrong-password").status_code == 401
    assert cap == 60
    _age_attempts(cap + 0.1)
    assert login(client, "tech").status_code == 302  # the real user gets in within a minute


def test_success_resets_the_account_count(client, users):
    for _ in range(4):
        login(client, "tech", "wrong-password")
    assert login(client, "tech").status_code == 302
    client.post("/logout", data={"csrf_token": get_csrf(client, "/technician")})
    for _ in range(4):
        assert login(client, "tech", "wrong-password").status_code == 401
    assert login(client, "tech").status_code == 302


def test_address_is_slowed_across_accounts(app, client, users):
    # 20 failures from one address, spread over many usernames (password spraying).
    for i in range(20):
        assert login(client, f"user{i}", "wrong-password").status_code == 401
    assert login(client, "trainer").status_code == 401
    # Another address is unaffected.
    other = app.test_client()
    token = get_csrf(other)
    response = other.post("/login", data={"username": "trainer", "password": PASSWORD,
                                          "csrf_token": token},
                          environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 302
    _age_attempts(1.1)  # one second later the address may try again
    assert login(client, "trainer").status_code == 302


def test_refused_attempts_do_not_make_the_wait_grow(app, client, users):
    for _ in range(5):
        login(client, "tech", "wrong-password")
    before = db.session.scalar(select(func.count(LoginAttempt.id)))
    for _ in range(3):
        assert login(client, "tech", "wrong-password").status_code == 401
    assert db.session.scalar(select(func.count(LoginAttempt.id))) == before


def test_a_device_that_signed_in_before_is_not_slowed_by_strangers(app, users):
    phone = app.test_client()
    assert login(phone, "tech").status_code == 302
    phone.post("/logout", data={"csrf_token": get_csrf(phone, "/technician")})
    attacker = app.test_client()
    for i in range(30):  # the account's and the address's counts are both exhausted
        login(attacker, "tech" if i % 2 else f"user{i}", "wrong-password")
    assert login(attacker, "tech").status_code == 401
    assert login(phone, "tech").status_code == 302
    # The trusted device has a count of its own: its own failures still slow it down.
    phone.post("/logout", data={"csrf_token": get_csrf(phone, "/technician")})
    for _ in range(5):
        login(phone, "tech", "wrong-password")
    assert login(phone, "tech").status_code == 401


def test_a_forged_or_foreign_device_cookie_earns_nothing(app, users):
    from portal.auth.services import DEVICE_COOKIE

    mine = app.test_client()
    assert login(mine, "trainer").status_code == 302  # trusted for trainer, not for tech
    own_cookie = mine.get_cookie(DEVICE_COOKIE).value
    for _ in range(5):
        login(app.test_client(), "tech", "wrong-password")
    for value in (own_cookie, own_cookie[:-3] + "abc", "garbage"):
        other = app.test_client()
        other.set_cookie(DEVICE_COOKIE, value)
        assert login(other, "tech").status_code == 401


def test_every_refusal_checks_one_hash(monkeypatch, client, users):
    """Unknown user, wrong password and a refusal while waiting do the same work (one hash
    check each), so their timing does not tell them apart. A spy counts the checks."""
    from portal.auth import services

    checked = []
    real = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    for username in ("no.such.user", "trainer"):
        checked.clear()
        assert login(client, username, "wrong-password").status_code == 401
        assert len(checked) == 1
    for _ in range(5):
        login(client, "tech", "wrong-password")
    checked.clear()
    assert login(client, "tech", "wrong-password").status_code == 401  # refused while waiting
    assert len(checked) == 1


def test_admin_can_unlock_an_account(app, client, users):
    for _ in range(5):
        login(client, "tech", "wrong-password")
    admin = app.test_client()
    login(admin, "admin")
    token_page = admin.get("/admin/users/tech?lang=en").get_data(as_text=True)
    assert "Sign-ins to this account are being slowed down after repeated failures." in token_page
    from .conftest import csrf_from

    response = admin.post("/admin/users/tech/unlock", data={"csrf_token": csrf_from(token_page)})
    assert response.status_code == 302
    assert login(client, "tech").status_code == 302


# --- cookies -----------------------------------------------------------------------------------


def _session_cookie_header(response) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("portal_session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite(client, users):
    header = _session_cookie_header(login(client, "tech"))
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # plain HTTP in development


def test_session_cookie_is_secure_over_https(app, users):
    https = app.test_client()
    page = https.get("/login", base_url="https://portal.example")
    from .conftest import csrf_from

    response = https.post("/login", base_url="https://portal.example", data={
        "username": "tech", "password": PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True))},
        headers={"Referer": "https://portal.example/login"})
    assert response.status_code == 302
    header = _session_cookie_header(response)
    assert "Secure" in header and "HttpOnly" in header


def test_must_change_password_is_enforced(client, make_user, network):
    make_user("fresh", "technician", outlet="GD-GZ-01", must_change_password=True)
    response = login(client, "fresh")
    assert response.headers["Location"].startswith("/account/password")
    # Every other page sends them back to the password form.
    assert client.get("/technician").headers["Location"].startswith("/account/password")
    token = get_csrf(client, "/account/password")
    client.post("/account/password", data={
        "current": PASSWORD, "new": "my-own-password", "confirm": "my-own-password",
        "csrf_token": token})
    assert client.get("/technician").status_code == 200


def test_nul_bytes_in_input_are_refused_cleanly(client, users):
    token = get_csrf(client)
    response = client.post("/login", data={"username": "te\x00ch", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 400
    assert client.get("/login?next=/\x00").status_code == 400


def test_simultaneous_guesses_cannot_exceed_the_limit(app, users):
    """Many wrong passwords at once: only as many as the limit get checked."""
    import threading

    clients = [app.test_client() for _ in range(16)]
    tokens = [get_csrf(c) for c in clients]
    start = threading.Barrier(len(clients))
    statuses = []

    def guess(client, token):
        start.wait()
        statuses.append(client.post("/login", data={
            "username": "tech", "password": "wrong-password", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * 16
    db.session.expire_all()
    failures = db.session.scalar(select(func.count(LoginAttempt.id)).where(
        LoginAttempt.username == "tech", LoginAttempt.success.is_(False)))
    assert failures == 5


def test_sign_out_ends_a_copied_session_cookie(app, users):
    phone = app.test_client()
    login(phone, "tech")
    thief = app.test_client()
    cookie = phone.get_cookie("portal_session")
    thief.set_cookie("portal_session", cookie.value)
    assert thief.get("/technician").status_code == 200  # the copy works while signed in…
    phone.post("/logout", data={"csrf_token": get_csrf(phone, "/technician")})
    assert thief.get("/technician").status_code == 302  # …and not after signing out


def test_admin_can_sign_a_user_out_everywhere(app, users):
    phone, desktop = app.test_client(), app.test_client()
    login(phone, "tech")
    login(desktop, "tech")
    admin = app.test_client()
    login(admin, "admin")
    page = admin.get("/admin/users/tech?lang=en").get_data(as_text=True)
    assert page.count("last seen") == 2
    from .conftest import csrf_from

    admin.post("/admin/users/tech/sessions/end", data={"csrf_token": csrf_from(page)})
    assert phone.get("/technician").status_code == 302
    assert desktop.get("/technician").status_code == 302
    assert login(app.test_client(), "tech").status_code == 302  # signing in again works


def test_reset_password_lifts_the_lock(app, client, users):
    from portal.auth.services import reset_password

    for _ in range(5):
        login(client, "tech", "wrong-password")
    assert login(client, "tech").status_code == 401
    new_password = reset_password(users["technician"], users["admin"])
    assert login(client, "tech", new_password).status_code == 302


def test_locked_list_shows_only_real_accounts(app, client, users):
    from portal.auth.services import locked_accounts

    for name in ("tech", "no.such.user"):
        for _ in range(5):
            login(client, name, "wrong-password")
    assert [name for name, _wait in locked_accounts()] == ["tech"]


def test_signed_in_user_visiting_login_goes_on(client, users):
    login(client, "admin")
    assert client.get("/login").headers["Location"] == "/"
    assert client.get("/login?next=/admin/users").headers["Location"] == "/admin/users"
    assert client.get("/login?next=//evil.example").headers["Location"] == "/"


def test_next_cannot_leave_the_site(client, users):
    from portal.security import safe_next

    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "\t//evil.example",
                   "javascript:alert(1)", "evil.example", "/\\/evil.example"):
        assert safe_next(target, "/") == "/", target
    assert safe_next("/admin/users?q=a", "/") == "/admin/users?q=a"


def test_temporary_password_also_blocks_the_session_api(app, client, make_user, network):
    from portal.auth.services import issue_token

    user = make_user("fresh", "technician", outlet="GD-GZ-01", must_change_password=True)
    login(client, "fresh")
    response = client.get("/api/v1/me")
    assert response.status_code == 403 and response.is_json
    # A token an administrator issued for an integration is not held up.
    token = issue_token(user)
    bearer = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200


def test_portal_https_forces_secure_cookies(tmp_path, network):
    from .conftest import make_app

    app = make_app(tmp_path, "sqlite:///" + str(tmp_path / "https.sqlite3"), SESSION_COOKIE_SECURE=True)
    with app.app_context():
        from portal.auth.services import create_user

        db.create_all()
        create_user("tech2", ["technician"], PASSWORD)
        client = app.test_client()
        header = _session_cookie_header(login(client, "tech2"))
        assert "Secure" in header
        db.engine.dispose()


def test_portal_https_environment_variable(tmp_path, monkeypatch):
    from portal.config import build_config

    assert build_config(str(tmp_path))["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("PORTAL_HTTPS", "1")
    assert build_config(str(tmp_path))["SESSION_COOKIE_SECURE"] is True


def test_proxy_headers_are_trusted_only_when_configured(tmp_path):
    """X-Forwarded-* decide the client address and https only behind a configured proxy."""
    from portal.auth.services import create_user

    from .conftest import csrf_from, make_app

    # Browsers send a Referer; over HTTPS Flask-WTF insists on a same-site one.
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
               "Referer": "https://localhost/login"}
    for hops, expect_secure, expect_address in ((0, False, "127.0.0.1"), (1, True, "203.0.113.9")):
        app = make_app(tmp_path / str(hops), "sqlite:///" + str(tmp_path / f"p{hops}.sqlite3"),
                       PROXY_HOPS=hops)
        with app.app_context():
            db.create_all()
            create_user("tech3", ["technician"], PASSWORD)
            client = app.test_client()
            token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
            response = client.post("/login", data={"username": "tech3", "password": "wrong-pw-1",
                                                   "csrf_token": token}, headers=headers)
            assert response.status_code == 401
            assert db.session.scalar(select(LoginAttempt.address)) == expect_address
            response = client.post("/login", data={"username": "tech3", "password": PASSWORD,
                                                   "csrf_token": token}, headers=headers)
            assert response.status_code == 302
            assert ("Secure" in _session_cookie_header(response)) is expect_secure
            db.engine.dispose()


def test_old_device_sessions_are_pruned_and_idle_ones_expire(app, users):
    from portal.auth.models import UserSession

    phone = app.test_client()
    login(phone, "tech")
    row = db.session.scalar(select(UserSession))
    row.last_seen_at -= timedelta(days=15)  # idle longer than the 14-day cookie
    db.session.commit()
    assert phone.get("/technician").status_code == 302
    login(app.test_client(), "trainer")  # any sign-in prunes what no cookie can use
    db.session.expire_all()
    assert [s.user_id for s in db.session.scalars(select(UserSession))] == [users["trainer"].id]


# --- the throttle on a live server (several gunicorn workers share it through the database) ---


def _age_live_attempts(db_path, seconds: float) -> None:
    import sqlite3
    from datetime import datetime

    con = sqlite3.connect(db_path)
    try:
        for row_id, at in con.execute("SELECT id, at FROM login_attempt").fetchall():
            moved = datetime.fromisoformat(at) - timedelta(seconds=seconds)
            con.execute("UPDATE login_attempt SET at = ? WHERE id = ?", (moved.isoformat(" "), row_id))
        con.commit()
    finally:
        con.close()


def test_live_throttle_delays_strangers_but_never_locks_the_real_user(gunicorn, tmp_path):  # noqa: F811
    from .conftest import csrf_from
    from .test_production import Browser

    db_path = tmp_path / "instance" / "portal.sqlite3"
    phone = Browser(gunicorn)
    assert phone.login("auditor", "portal-demo") == 302  # this device is now trusted
    _status, _headers, page = phone.request("/auditor")
    assert phone.request("/logout", {"csrf_token": csrf_from(page)})[0] == 302
    for _ in range(5):  # new connections: the guesses land on different workers
        assert Browser(gunicorn).login("auditor", "wrong-password") == 401
    # A stranger must wait, even with the right password, and is told nothing more.
    assert Browser(gunicorn).login("auditor", "portal-demo") == 401
    # The real user's device is not slowed down by the stranger.
    assert phone.login("auditor", "portal-demo") == 302
    # After the wait (moved in the database, not slept), anyone with the password gets in.
    _age_live_attempts(db_path, 1.5)
    assert Browser(gunicorn).login("auditor", "portal-demo") == 302


def test_the_device_cookie_does_not_list_who_signed_in(app, users):
    from portal.auth.services import DEVICE_COOKIE, read_device_cookie

    shared = app.test_client()
    for name in ("tech", "trainer"):
        assert login(shared, name).status_code == 302
        shared.post("/logout", data={"csrf_token": get_csrf(shared, "/account/password")})
    value = shared.get_cookie(DEVICE_COOKIE).value
    with app.test_request_context("/"):
        device, tags = read_device_cookie(value)
    assert device and len(tags) == 2
    import base64
    import zlib

    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    decoded = (zlib.decompress(raw) if compressed else raw).decode()
    assert '"d"' in decoded  # really the payload
    assert "tech" not in decoded and "trainer" not in decoded
