"""Passwords on the shipped list of common or leaked passwords, or containing the username or
name, are refused wherever a password is set (ASVS 2.1.7); only `flask demo` may use the
published demo password."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.auth.csvimport import import_technicians
from portal.auth.models import User
from portal.auth.passwords import DEMO_PASSWORD, LIST_PATH, common_passwords, contains_identity, is_common
from portal.auth.services import AccountError, create_user, reset_password
from portal.extensions import db

from .conftest import PASSWORD, get_csrf, login

def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(User.id)))


def test_the_list_ships_with_the_project_sorted_and_lower_case():
    lines = [line for line in LIST_PATH.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert len(lines) >= 5000
    assert lines == sorted(set(lines)) and all(line == line.lower() for line in lines)
    assert {"12345678", "password", "qwerty123", "iloveyou", "woaini1314"} <= common_passwords()


def test_lookup_ignores_case_and_includes_the_demo_password():
    assert is_common("12345678") and is_common("PassWord1") and is_common(" Qwerty123 ")
    assert is_common(DEMO_PASSWORD) and is_common("Portal-Demo")
    assert not is_common(PASSWORD) and not is_common("violet-kettle-73")


def test_identity_rule_username_and_long_names_only():
    assert contains_identity("my-Zhang.Wei-pw", "zhang.wei") == "username"
    assert contains_identity("xxMaryJanexx", "mj01", "Mary Jane") == "name"
    assert contains_identity("lilian-kettle", "tech", "Li") is None  # short names do not count


@pytest.mark.parametrize("password, message", [
    ("12345678", "list of common or leaked passwords"),
    ("Password1", "list of common or leaked passwords"),
    ("portal-demo", "list of common or leaked passwords"),
    ("new.tech-kettle", "contains your username"),
    ("ZhaoLiu-kettle", "contains your name"),
])
def test_create_user_refuses_weak_passwords_and_changes_nothing(app, network, password, message):
    with app.test_request_context("/?lang=en"):
        before = _count()
        with pytest.raises(AccountError, match=message):
            create_user("new.tech", ["technician"], password, name="Zhao Liu", outlet_code="GD-GZ-01")
        db.session.rollback()
        assert _count() == before


def test_change_own_password_refuses_common_and_says_why_in_both_languages(client, users):
    login(client, "tech")
    token = get_csrf(client, "/account/password")
    for lang, text in (("en", "This password is on a list of common or leaked passwords"),
                       ("zh_CN", "此密码在常见或已泄露密码名单中")):
        response = client.post(f"/account/password?lang={lang}", data={
            "current": PASSWORD, "new": "12345678", "confirm": "12345678", "csrf_token": token})
        assert response.status_code == 400
        assert text in response.get_data(as_text=True)
    response = client.post("/account/password?lang=en", data={
        "current": PASSWORD, "new": "TECH-is-me-99", "confirm": "TECH-is-me-99", "csrf_token": token})
    assert response.status_code == 400
    assert "This password contains your username" in response.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account/password")})
    assert login(client, "tech", "12345678").status_code == 401
    assert login(client, "tech").status_code == 302  # the old one still works


def test_admin_create_form_refuses_the_demo_password(app, users):
    admin = app.test_client()
    login(admin, "admin")
    token = get_csrf(admin, "/admin/users/new")
    before = _count()
    response = admin.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "zhao.liu", "name": "赵六", "roles": ["trainer"],
        "outlet": "", "password": "portal-demo"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This password is on a list of common or leaked passwords" in page
    assert 'value="zhao.liu"' in page
    assert _count() == before


def test_reset_to_a_chosen_password_refuses_weak_ones(app, users):
    with app.test_request_context("/?lang=en"):
        with pytest.raises(AccountError, match="common or leaked"):
            reset_password(users["technician"], users["admin"], "qwerty123")
        with pytest.raises(AccountError, match="contains your username"):
            reset_password(users["technician"], users["admin"], "Tech-kettle-73")
    db.session.expire_all()
    assert not users["technician"].must_change_password  # nothing changed


def test_generated_reset_passwords_pass_the_rules(app, make_user, network):
    user = make_user("abc", "technician", outlet="GD-GZ-01")
    with app.test_request_context("/"):
        for _ in range(50):
            password = reset_password(user, None)
            assert "abc" not in password and not is_common(password)


def test_csv_import_refuses_weak_passwords_and_imports_nothing(app, network):
    before = _count()
    data = ("username,name,outlet,password\n"
            "li.lei,李雷,GD-GZ-01,iloveyou1\n"
            "han.mei,Han Meimei,GD-FS-01,hanmeimei-2026\n"
            "wu.fan,吴凡,GD-FS-01,wu.fan-kettle\n").encode()
    with app.test_request_context("/?lang=en"):
        result = import_technicians(data)
    assert not result.ok
    reasons: dict[int, str] = {}
    for line, reason in result.errors:
        reasons[line] = reasons.get(line, "") + " " + str(reason)
    assert "common or leaked" in reasons[2]
    assert "contains your name" in reasons[3]
    assert "contains your username" in reasons[4]
    assert _count() == before


def test_cli_users_create_refuses_a_common_password(runner, network):
    before = _count()
    result = runner.invoke(args=["users", "create", "zhang.wei", "--role", "admin",
                                 "--password", "12345678"])
    assert result.exit_code != 0
    assert _count() == before


def test_only_the_demo_command_may_use_the_demo_password(app, network):
    with app.test_request_context("/?lang=en"):
        with pytest.raises(AccountError, match="common or leaked"):
            create_user("real.user", ["admin"], DEMO_PASSWORD)
        with pytest.raises(ValueError):
            create_user("real.user", ["admin"], "12345678", demo_password=True)
        db.session.rollback()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "admin", DEMO_PASSWORD).status_code == 302
