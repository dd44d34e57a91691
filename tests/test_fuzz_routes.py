"""No input makes the portal fail: every route in ``app.url_map``, with hostile values in its
path arguments, in the common query parameters and in posted forms and JSON, as every role,
answers below 500.

Runs on the demo data (``flask demo``), on a copy of the run's demo instance (SQLite).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db

from .conftest import copy_demo_instance, csrf_from, make_app

DEMO_PASSWORD = "portal-demo"
ROLES = (None, "tech", "trainer", "auditor", "admin")  # None: not signed in

HOSTILE = [
    str(2**63),
    str(10**30),
    "-1",
    "0",
    "²",
    "١",
    "",
    "9" * 10_000,
    "a\x00b",
    "../../etc/passwd",
    " 7",
    "‮evil‬",
]
# Posted forms get the values that reach number and text parsing (the others are covered by the
# query walk and would only add minutes).
FORM_HOSTILE = [str(2**63), "-1", "²", "١", "9" * 10_000, "‮evil‬"]
QUERY_NAMES = ("page", "days", "s", "q", "tier", "outlet", "region", "province", "cohort", "status",
               "format", "lang", "next", "limit", "by", "show", "only", "technician", "role", "export")
FORM_NAMES = ("index", "item", "value", "comment", "note", "reason", "decision", "status", "done",
              "active", "fixed", "locale", "lang", "action", "back", "next", "title", "body", "name")
PLACEHOLDER = re.compile(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>")


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


HOSTILE_JSON = [deep(5000), '{"a":' * 5000 + "1" + "}" * 5000, "[]", "null", "1", '"x"', "{",
                json.dumps({"work_order": "9" * 10_000, "visited_at": "²", "technician": 2**63,
                            "answers": {"x": [[[[{}]]]]}})]


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, demo_instance):
    folder = tmp_path_factory.mktemp("fuzz")
    database = copy_demo_instance(demo_instance, folder / "instance") / "portal.sqlite3"
    # Generous rate limits: the walk must reach every handler, not stop at a 429 (the limits
    # themselves are tested in test_api_limits and test_certification).
    generous = "1000000 per minute"
    application = make_app(folder, "sqlite:///" + str(database), PORTAL_API_RATE=generous,
                           PORTAL_API_ADDRESS_RATE=generous, PORTAL_API_AUTH_FAILURE_RATE=generous,
                           PORTAL_VERIFY_RATE=generous)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def sample_values(app) -> dict:
    """A value that exists in the demo for each kind of path argument."""
    from portal.certification.models import Certificate
    from portal.kb.models import Case

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.status == "published").order_by(Case.id))
        cert = db.session.scalar(select(Certificate).order_by(Certificate.id))
        return {"slug": case.slug, "username": "tech", "number": cert.number, "lesson": "d01-welcome",
                "name": "x.png", "kind": "region", "action": "suspend", "tier_code": "x", "task": "x"}


def url_for_rule(rule, values: dict, hostile: str | None = None) -> str:
    def fill(match):
        converter, name = match.group(1), match.group(2)
        if hostile is not None:
            return quote(hostile, safe="")
        if converter == "int" or name.endswith("_id") or name == "version":
            return "1"
        if converter == "any":
            return match.group(0).split("(")[1].split(",")[0].strip()
        return quote(values.get(name, "x"), safe="")

    return PLACEHOLDER.sub(fill, rule.rule)


def signed_in_client(app, username):
    client = app.test_client()
    if username:
        token = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302, username
    token = csrf_from(client.get("/login" if not username else "/account/password").get_data(as_text=True))
    return client, token


def check(response, what: str):
    assert response.status_code < 500, f"{what} → {response.status_code}"


@pytest.mark.parametrize("username", ROLES)
def test_no_route_fails_on_hostile_input(demo_app, username):
    app = demo_app
    values = sample_values(app)
    client, token = signed_in_client(app, username)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in ("static", "auth.logout")]
    assert len(rules) > 80
    for rule in rules:
        methods = rule.methods & {"GET", "POST"}
        has_args = bool(rule.arguments)
        for bad in HOSTILE:
            if has_args:
                url = url_for_rule(rule, values, bad)
                for method in methods:
                    data = {"csrf_token": token} if method == "POST" else None
                    check(client.open(url, method=method, data=data), f"{method} {url[:80]}")
            query = urlencode({name: bad for name in QUERY_NAMES})
            url = url_for_rule(rule, values) + "?" + query
            if "GET" in methods:
                check(client.get(url), f"GET {rule.rule} ?{query[:80]}")
            if "POST" in methods and rule.endpoint != "auth.login" and bad in FORM_HOSTILE:
                form = {name: bad for name in FORM_NAMES} | {"csrf_token": token}
                check(client.post(url_for_rule(rule, values), data=form), f"POST {rule.rule} form {bad[:20]!r}")
        if "POST" in methods and rule.rule.startswith("/api/"):
            for body in HOSTILE_JSON:
                response = client.post(url_for_rule(rule, values), data=body,
                                       content_type="application/json", headers={"X-CSRFToken": token})
                check(response, f"POST {rule.rule} json {body[:20]!r}")


def test_deep_json_is_refused_with_400(demo_app):
    """The auditor's JSON endpoint refuses a deeply nested body (it used to raise RecursionError)."""
    client, token = signed_in_client(demo_app, "auditor")
    for body in (deep(100_000), '{"a":' * 100_000 + "1" + "}" * 100_000):
        response = client.post("/api/v1/audits", data=body, content_type="application/json",
                               headers={"X-CSRFToken": token})
        assert response.status_code == 400


def test_huge_and_unicode_ids_are_not_found(demo_app):
    client, _token = signed_in_client(demo_app, "admin")
    for bad in (str(2**63), str(10**30), "²", "١", "0"):
        for path in (f"/quizzes/attempts/{bad}/result", f"/audits/{bad}", f"/learning/cohorts/{bad}",
                     f"/learning/assignments/{bad}", f"/cases/review/{bad}",
                     f"/admin/network/region/{bad}/edit"):
            assert client.get(path).status_code == 404, path
    assert client.get(f"/learning/cohorts/{2**63 - 1}").status_code == 404


def test_unicode_digits_in_filters_are_ignored(demo_app):
    client, _token = signed_in_client(demo_app, "admin")
    for path in ("/technicians/", "/certificates/", "/dashboard/", "/admin/users", "/admin/tokens"):
        for bad in ("²", "١", str(2**63), "9" * 10_000):
            query = urlencode({"tier": bad, "outlet": bad, "region": bad, "cohort": bad, "province": bad,
                               "days": bad, "page": bad})
            response = client.get(f"{path}?{query}")
            assert response.status_code == 200, (path, bad, response.status_code)


TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path_value=TEXT, query_value=TEXT)
def test_arbitrary_text_in_ids_and_queries(demo_app, path_value, query_value):
    """Property: whatever text stands in an id or a query parameter, the answer is below 500."""
    client, _token = _trainer(demo_app)
    for path in ("/audits/{}", "/learning/cohorts/{}", "/quizzes/attempts/{}/result", "/cases/{}"):
        check(client.get(path.format(quote(path_value, safe=""))), path)
    query = urlencode({name: query_value for name in QUERY_NAMES})
    for path in ("/technicians/", "/certificates/", "/audits/", "/cases/", "/cases/reports/gaps",
                 "/api/v1/cases"):
        check(client.get(f"{path}?{query}"), path)


_TRAINER = {}


def _trainer(app):
    """One signed-in trainer for all examples (signing in per example would cost the budget)."""
    if _TRAINER.get("app") is not app:
        _TRAINER.update(app=app, client=signed_in_client(app, "trainer"))
    return _TRAINER["client"]
