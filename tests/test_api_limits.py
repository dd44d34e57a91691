"""/api/v1/ rate limits: per token, per client address, and failed authentication per address.
429 answers are JSON in the API's error shape with Retry-After."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from portal.auth.services import issue_token

from .test_production import gunicorn  # noqa: F401  (fixture: a live gunicorn on the demo)


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _is_429(response):
    assert response.status_code == 429
    body = response.get_json()
    assert body["status"] == 429 and body["error"]
    assert int(response.headers["Retry-After"]) >= 1
    return True


def test_a_token_over_its_budget_gets_429_and_another_token_is_unaffected(app, client, users):
    app.config["PORTAL_API_RATE"] = "5 per minute"
    first, second = issue_token(users["technician"]), issue_token(users["trainer"])
    codes = [client.get("/api/v1/me", headers=_bearer(first)).status_code for _ in range(5)]
    assert codes == [200] * 5
    assert _is_429(client.get("/api/v1/me", headers=_bearer(first)))
    # Same address, another token: its own budget.
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 200


def test_the_hourly_budget_counts_too(app, client, users):
    app.config["PORTAL_API_RATE"] = "100 per minute; 3 per hour"
    token = issue_token(users["technician"])
    assert [client.get("/api/v1/me", headers=_bearer(token)).status_code
            for _ in range(3)] == [200] * 3
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert _is_429(response) and int(response.headers["Retry-After"]) > 60


def test_the_chinese_caller_reads_the_429_in_chinese(app, client, users):
    app.config["PORTAL_API_RATE"] = "1 per minute"
    token = issue_token(users["technician"])
    client.get("/api/v1/me", headers=_bearer(token))
    response = client.get("/api/v1/me", headers={**_bearer(token), "Accept-Language": "zh-CN"})
    assert _is_429(response) and "请求过多" in response.get_json()["error"]


def test_an_address_over_its_budget_gets_429_and_another_address_is_unaffected(app, client, users):
    app.config["PORTAL_API_ADDRESS_RATE"] = "4 per minute"
    tokens = [issue_token(users[role]) for role in ("technician", "trainer", "auditor", "admin")]
    # Spread over four tokens: the per-address budget still runs out.
    assert [client.get("/api/v1/me", headers=_bearer(t)).status_code for t in tokens] == [200] * 4
    assert _is_429(client.get("/api/v1/me", headers=_bearer(tokens[0])))
    elsewhere = client.get("/api/v1/me", headers=_bearer(tokens[0]),
                           environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert elsewhere.status_code == 200


def test_bad_and_missing_tokens_are_limited_per_address_separately(app, client, users):
    app.config["PORTAL_API_AUTH_FAILURE_RATE"] = "3 per minute"
    good = issue_token(users["technician"])
    assert client.get("/api/v1/me", headers=_bearer("pt_wrong")).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401  # no credential at all
    assert _is_429(client.get("/api/v1/me", headers=_bearer("pt_wrong-again")))
    assert _is_429(client.get("/api/v1/users"))
    # A valid token from the same address is not held up by the failures...
    assert client.get("/api/v1/me", headers=_bearer(good)).status_code == 200
    # ...nor is a bad token from another address.
    other = client.get("/api/v1/me", headers=_bearer("pt_wrong"),
                       environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 401


def test_a_signed_in_session_has_its_own_budget(app, client, users):
    from .conftest import login

    app.config["PORTAL_API_RATE"] = "2 per minute"
    login(client, "tech")
    assert [client.get("/api/v1/me").status_code for _ in range(2)] == [200, 200]
    assert _is_429(client.get("/api/v1/me"))


def test_limits_hold_on_a_live_gunicorn_server(gunicorn):  # noqa: F811
    """Three workers with the default memory:// store count each for itself, so 3 × 20 failed
    attempts may pass; well beyond that the server answers 429 with Retry-After."""
    codes, retry_after, body = [], None, None
    for n in range(100):
        request = urllib.request.Request(gunicorn + "/api/v1/me",
                                         headers={"Authorization": f"Bearer pt_guess{n}"})
        try:
            urllib.request.urlopen(request, timeout=10)
            codes.append(200)
        except urllib.error.HTTPError as error:
            codes.append(error.code)
            if error.code == 429:
                retry_after, body = error.headers["Retry-After"], json.loads(error.read())
    assert set(codes) == {401, 429} and codes.count(401) <= 60
    assert int(retry_after) >= 1 and body["status"] == 429
