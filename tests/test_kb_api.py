"""GET /api/v1/cases and /api/v1/cases/SLUG."""

from __future__ import annotations

import pytest

from portal.auth.services import issue_token


@pytest.fixture
def api(app, users, kb_cases):
    token = issue_token(users["technician"])
    client = app.test_client()

    def get(url):
        return client.get(url, headers={"Authorization": f"Bearer {token}"})

    return get


def test_search_shape(api):
    response = api("/api/v1/cases?q=E1&lang=en&limit=5")
    assert response.status_code == 200
    data = response.get_json()
    assert data["total"] >= 1
    first = data["results"][0]
    assert set(first) >= {"slug", "title", "lang", "product", "error_codes", "url", "snippet"}
    assert first["slug"] == "demo-e1-en" and first["lang"] == "en"
    assert first["error_codes"] == ["E1"] and first["url"].endswith("/cases/demo-e1-en")
    assert "<mark>" in first["snippet"]


def test_lang_product_limit_page(api):
    zh = api("/api/v1/cases?q=E1&lang=zh").get_json()
    assert zh["results"][0]["slug"] == "demo-e1-zh"
    washers = api("/api/v1/cases?q=E21&product=washing-machine").get_json()
    assert [r["slug"] for r in washers["results"]] == ["demo-drain-zh"]
    page1 = api("/api/v1/cases?product=air-conditioner&limit=1&page=1").get_json()
    page2 = api("/api/v1/cases?product=air-conditioner&limit=1&page=2").get_json()
    assert page1["total"] == page2["total"] == 2
    assert page1["results"][0]["slug"] != page2["results"][0]["slug"]


@pytest.mark.parametrize("query", [
    "limit=abc&q=E1", "limit=0&q=E1", "limit=101&q=E1", "page=0&q=E1", "lang=fr&q=E1",
    "product=Air%20Con!&q=E1", "", "q=" + "x" * 201,
])
def test_bad_parameters_are_400_json(api, query):
    response = api("/api/v1/cases?" + query)
    assert response.status_code == 400
    assert response.is_json and response.get_json()["error"]


def test_whole_case(api):
    data = api("/api/v1/cases/demo-e1-zh").get_json()
    assert data["title"] == "格力式代码 E1 高压保护" and data["translations"] == ["demo-e1-en"]
    assert data["body"].startswith("## 故障现象") and data["version"] == 1
    assert data["error_codes"] == ["E1"] and data["models"] == ["KFR-35GW"]
    response = api("/api/v1/cases/no-such-case")
    assert response.status_code == 404 and response.is_json


def test_needs_credentials(client, kb_cases):
    assert client.get("/api/v1/cases?q=E1").status_code == 401
    assert client.get("/api/v1/cases/demo-e1-zh").status_code == 401
