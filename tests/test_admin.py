"""Administration through the web UI: users, passwords, deactivation, tokens, the network."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.auth.models import AccountEvent, ApiToken, Outlet, Province, Region, User
from portal.extensions import db

from .conftest import PASSWORD, csrf_from, get_csrf, login


def _user(username):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def _admin(app, users):
    client = app.test_client()
    login(client, "admin")
    return client


def test_create_user_shows_the_password_once_and_forces_a_change(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/users/new")
    response = admin.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "Zhao.Liu", "name": "赵六", "roles": ["technician"],
        "outlet": "GD-FS-01", "start_date": "2026-11-23", "password": ""})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    password = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    user = _user("zhao.liu")
    assert user.outlet.code == "GD-FS-01" and user.must_change_password
    newcomer = app.test_client()
    assert login(newcomer, "zhao.liu", password).headers["Location"].startswith("/account/password")
    # The password is not shown again anywhere.
    assert password not in admin.get("/admin/users/zhao.liu").get_data(as_text=True)


def test_broken_user_form_keeps_what_was_typed(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/users/new")
    before = db.session.scalar(select(func.count(User.id)))
    response = admin.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "tech", "name": "重名的人", "roles": ["trainer"],
        "outlet": "", "password": "long-enough-pw"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "already taken" in page
    assert 'value="重名的人"' in page and 'value="tech"' in page
    assert re.search(r'value="trainer"[^>]*checked|checked[^>]*value="trainer"', page)
    response = admin.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "newbie", "name": "新人", "roles": ["technician"],
        "outlet": "GD-GZ-01", "password": "short"})
    assert response.status_code == 400 and "at least 8 characters" in response.get_data(as_text=True)
    response = admin.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "newbie", "name": "新人", "password": "long-enough-pw"})
    assert response.status_code == 400 and "Choose at least one role." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(User.id))) == before


def test_edit_roles_and_outlet(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/users/tech/edit")
    response = admin.post("/admin/users/tech/edit", data={
        "csrf_token": token, "name": "陈强", "roles": ["technician", "auditor"],
        "outlet": "GD-FS-01", "start_date": ""})
    assert response.status_code == 302
    user = _user("tech")
    assert user.roles == {"technician", "auditor"} and user.outlet.code == "GD-FS-01"
    events = db.session.scalars(select(AccountEvent.action).where(AccountEvent.user_id == user.id)).all()
    assert "updated" in events


def test_admin_cannot_lock_themselves_out(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/users/admin/edit")
    response = admin.post("/admin/users/admin/edit?lang=en", data={
        "csrf_token": token, "name": "Admin", "roles": ["trainer"], "outlet": ""})
    assert response.status_code == 400
    assert "cannot remove the admin role" in response.get_data(as_text=True)
    admin.post("/admin/users/admin/active", data={"csrf_token": token, "active": "0"})
    assert _user("admin").active and _user("admin").roles == {"admin"}


def test_reset_password(app, users):
    admin = _admin(app, users)
    tech = app.test_client()
    login(tech, "tech")
    token = get_csrf(admin, "/admin/users/tech")
    page = admin.post("/admin/users/tech/password", data={"csrf_token": token}).get_data(as_text=True)
    new_password = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    assert tech.get("/technician").status_code == 302  # the old session has ended
    assert login(app.test_client(), "tech", PASSWORD).status_code == 401
    assert login(app.test_client(), "tech", new_password).status_code == 302


def test_deactivate_and_reactivate(app, users):
    admin = _admin(app, users)
    tech = app.test_client()
    login(tech, "tech")
    token = get_csrf(admin, "/admin/users/tech")
    admin.post("/admin/users/tech/active", data={"csrf_token": token, "active": "0"})
    assert not _user("tech").active
    assert tech.get("/technician").status_code == 302
    assert login(app.test_client(), "tech").status_code == 403
    listing = admin.get("/admin/users?status=inactive").get_data(as_text=True)
    assert ">tech<" in listing
    admin.post("/admin/users/tech/active", data={"csrf_token": token, "active": "1"})
    assert login(app.test_client(), "tech").status_code == 302


def test_tokens_listed_and_revoked_by_admin(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/users/tech")
    page = admin.post("/admin/users/tech/tokens", data={"csrf_token": token, "label": "手机 App"}
                      ).get_data(as_text=True)
    secret = re.search(r'<code class="secret">(ptk_[^<]+)</code>', page).group(1)
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = admin.get("/admin/tokens").get_data(as_text=True)
    assert "手机 App" in listing and secret not in listing and secret[:12] in listing
    row = db.session.scalar(select(ApiToken))
    admin.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": token})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    in_table = f"<td><code>{secret[:12]}…</code></td>"
    assert in_table not in admin.get("/admin/tokens").get_data(as_text=True)
    assert in_table in admin.get("/admin/tokens?show=all").get_data(as_text=True)


def test_user_list_filters(app, users, make_user):
    make_user("loner", "technician")  # no outlet
    admin = _admin(app, users)
    page = admin.get("/admin/users?role=trainer").get_data(as_text=True)
    assert ">trainer<" in page and ">tech<" not in page
    page = admin.get("/admin/users?q=陈").get_data(as_text=True)
    assert ">tech<" in page and ">trainer<" not in page
    page = admin.get("/admin/users?status=no-outlet").get_data(as_text=True)
    assert ">loner<" in page and ">tech<" not in page
    home = admin.get("/admin?lang=en").get_data(as_text=True)
    assert "1 technician has no outlet." in home


def test_network_create_edit_delete(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/network")
    response = admin.post("/admin/network/region/new", data={
        "csrf_token": token, "code": "WEST", "name_zh": "西部大区", "name_en": "West Region"})
    assert response.status_code == 302
    west = db.session.scalar(select(Region).where(Region.code == "WEST"))
    admin.post("/admin/network/province/new", data={
        "csrf_token": token, "code": "SC", "name_zh": "四川", "name_en": "Sichuan",
        "region": str(west.id)})
    sc = db.session.scalar(select(Province).where(Province.code == "SC"))
    admin.post("/admin/network/outlet/new", data={
        "csrf_token": token, "code": "SC-CD-01", "name_zh": "成都网点", "name_en": "Chengdu",
        "province": str(sc.id), "city": "成都"})
    outlet = db.session.scalar(select(Outlet).where(Outlet.code == "SC-CD-01"))
    assert outlet.province.region.code == "WEST"
    assert outlet.products == []  # none ticked: every product line
    admin.post(f"/admin/network/outlet/{outlet.id}/edit", data={
        "csrf_token": token, "code": "SC-CD-01", "name_zh": "成都网点", "name_en": "Chengdu",
        "province": str(sc.id), "city": "成都", "products": ["air-conditioner", "water-heater"]})
    db.session.refresh(outlet)
    assert outlet.products == ["air-conditioner", "water-heater"]
    page = admin.get("/admin/network?lang=en").get_data(as_text=True)
    assert "Sichuan" in page and "SC-CD-01" in page
    # A duplicate code is refused and the form keeps what was typed.
    response = admin.post("/admin/network/outlet/new?lang=en", data={
        "csrf_token": token, "code": "sc-cd-01", "name_zh": "另一个", "name_en": "Another",
        "province": str(sc.id), "city": ""})
    assert response.status_code == 400
    assert "already used" in response.get_data(as_text=True)
    assert 'value="另一个"' in response.get_data(as_text=True)
    # A region with provinces cannot be deleted; an empty outlet can.
    admin.post(f"/admin/network/region/{west.id}/delete", data={"csrf_token": token})
    assert db.session.get(Region, west.id) is not None
    admin.post(f"/admin/network/outlet/{outlet.id}/delete", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.scalar(select(Outlet).where(Outlet.code == "SC-CD-01")) is None


def test_outlet_with_technicians_cannot_be_deleted(app, users):
    admin = _admin(app, users)
    gz = db.session.scalar(select(Outlet).where(Outlet.code == "GD-GZ-01"))
    page = admin.get("/admin/network").get_data(as_text=True)
    admin.post(f"/admin/network/outlet/{gz.id}/delete", data={"csrf_token": csrf_from(page)})
    db.session.expire_all()
    assert db.session.get(Outlet, gz.id) is not None
    assert _user("tech").outlet_id == gz.id


def test_a_technician_needs_an_outlet_in_the_forms(app, users):
    admin = _admin(app, users)
    token = get_csrf(admin, "/admin/users/new")
    response = admin.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "no.outlet", "name": "无网点", "roles": ["technician"],
        "outlet": "", "password": "long-enough-pw"})
    assert response.status_code == 400
    assert "A technician belongs to an outlet" in response.get_data(as_text=True)
    assert _user("no.outlet") is None
    response = admin.post("/admin/users/tech/edit?lang=en", data={
        "csrf_token": token, "name": "陈强", "roles": ["technician"], "outlet": ""})
    assert response.status_code == 400
    assert _user("tech").outlet.code == "GD-GZ-01"
    # Other roles need none.
    response = admin.post("/admin/users/new", data={
        "csrf_token": token, "username": "new.trainer", "name": "培训师", "roles": ["trainer"],
        "outlet": "", "password": "long-enough-pw"})
    assert response.status_code == 200 and _user("new.trainer") is not None
