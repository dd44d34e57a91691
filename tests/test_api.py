"""/api/v1/: bearer tokens or session, 401 and 403 as JSON."""

from __future__ import annotations

from portal.auth.services import issue_token, revoke_token, set_active, user_tokens

from .conftest import login


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_missing_and_bad_credentials_get_401_json(client, users):
    for headers in ({}, _bearer("ptk_nonsense"), {"Authorization": "Basic dGVjaDpwdw=="},
                    {"Authorization": "Bearer"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.is_json and response.get_json()["status"] == 401
        assert "Bearer" in response.headers["WWW-Authenticate"]


def test_token_identifies_the_user(client, users):
    token = issue_token(users["technician"])
    data = client.get("/api/v1/me", headers=_bearer(token)).get_json()
    assert data["username"] == "tech" and data["roles"] == ["technician"]
    assert data["outlet"] == "GD-GZ-01" and data["province"] == "GD" and data["region"] == "SOUTH"


def test_token_requests_set_no_session_cookie(client, users):
    token = issue_token(users["technician"])
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert not response.headers.getlist("Set-Cookie")


def test_wrong_role_gets_403_json(client, users):
    token = issue_token(users["technician"])
    response = client.get("/api/v1/users", headers=_bearer(token))
    assert response.status_code == 403 and response.get_json()["status"] == 403
    admin_token = issue_token(users["admin"])
    response = client.get("/api/v1/users?role=technician", headers=_bearer(admin_token))
    assert response.status_code == 200
    assert [u["username"] for u in response.get_json()["users"]] == ["tech"]
    response = client.get("/api/v1/users?role=wizard", headers=_bearer(admin_token))
    assert response.status_code == 400 and "role" in response.get_json()["error"]


def test_revoked_token_and_deactivated_user_are_refused(client, users):
    token = issue_token(users["technician"])
    revoke_token(user_tokens(users["technician"])[0], users["admin"])
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    token = issue_token(users["trainer"])
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    set_active(users["trainer"], False, users["admin"])
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_a_bad_token_is_refused_even_with_a_session(client, users):
    login(client, "tech")
    assert client.get("/api/v1/me").status_code == 200  # the session works for the API
    assert client.get("/api/v1/me", headers=_bearer("ptk_wrong")).status_code == 401


def test_token_use_is_recorded(client, users):
    token = issue_token(users["technician"])
    assert user_tokens(users["technician"])[0].last_used_at is None
    client.get("/api/v1/me", headers=_bearer(token))
    from portal.extensions import db

    db.session.expire_all()
    assert user_tokens(users["technician"])[0].last_used_at is not None


def test_unknown_api_route_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json
