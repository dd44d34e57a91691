"""What people type and send: numbers read one way, JSON nested within bounds, and no text that
hides or reorders what others read (bidirectional overrides, invisible format characters,
control characters) in any user-written field."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.extensions import db
from portal.inputs import MAX_ID, MAX_JSON_DEPTH, hidden_character, json_depth, parse_int

from .conftest import ROOT_DIR, get_csrf, login

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "‮evil‬" shows as "live"
EVIL = f"{RLO}evil\u202c"
MESSAGE = "contains an invisible or direction-changing character (U+202E)"


# --- the parsers --------------------------------------------------------------------------------


def test_parse_int_takes_ascii_digits_within_bounds_only():
    assert parse_int("42") == 42
    assert parse_int(str(MAX_ID)) == MAX_ID
    for bad in (str(MAX_ID + 1), str(10**30), "-1", "²", "١", "+1", " 1", "1_0", "", None, "9" * 10_000):
        assert parse_int(bad) is None, bad
    assert parse_int("5", 0, 4) is None and parse_int("0", 1) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.integers(min_value=-(2**70), max_value=2**70).map(str)))
def test_parse_int_never_raises_and_stays_in_bounds(raw):
    value = parse_int(raw, 1, 1000)
    assert value is None or (1 <= value <= 1000 and raw == str(value).zfill(len(raw)))


def test_hidden_characters():
    for char in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
                 "\u200e", "\u200f", "\u061c", "\u200b", "\ufeff", "\x07", "\x1b", "\x85", "\t", "\n"):
        assert hidden_character(f"a{char}b") == f"U+{ord(char):04X}", repr(char)
    assert hidden_character("a\tb\r\nc", multiline=True) is None
    # Joiners some scripts (and emoji sequences) need are allowed.
    assert hidden_character("می\u200cخواهم") is None
    assert hidden_character("👩\u200d🔧 陈强 O'Brien") is None


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=60))
def test_json_depth_matches_the_structure(document):
    def depth(value):
        if isinstance(value, list):
            return 1 + max((depth(v) for v in value), default=0)
        if isinstance(value, dict):
            return 1 + max((depth(v) for v in value.values()), default=0)
        return 0

    text = json.dumps(document)
    measured = json_depth(text)
    assert measured == depth(document) or (measured == 0 and depth(document) <= MAX_JSON_DEPTH)


def test_json_depth_ignores_brackets_in_strings():
    assert json_depth(json.dumps(["[" * 100 + '"\\'])) <= 1


# --- forms and the API refuse hidden characters -----------------------------------------------


@pytest.fixture
def audit_draft(app, users, quizzes):
    from portal.audits import services as audit_svc
    from portal.audits.loader import current_template, load_templates

    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    now = datetime.now(timezone.utc)
    form = current_template("home-service-visit")
    return audit_svc.start(users["auditor"], users["technician"], form, now - timedelta(days=1), "WO-1",
                           "air-conditioner", "广州", now)


def test_new_user_form_refuses_a_bidi_name_and_keeps_what_was_typed(client, users):
    from portal.auth.models import User

    login(client, "admin")
    token = get_csrf(client, "/admin/users/new")
    before = db.session.scalar(select(func.count(User.id)))
    response = client.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "newtech", "name": f"Li {EVIL}", "roles": ["technician"],
        "outlet": "GD-GZ-01", "start_date": "2026-11-02"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Full name " + MESSAGE in page
    assert 'value="newtech"' in page  # kept what was typed
    assert db.session.scalar(select(func.count(User.id))) == before


def test_message_is_translated(client, users):
    login(client, "admin")
    token = get_csrf(client, "/admin/users/new")
    response = client.post("/admin/users/new?lang=zh_CN", data={
        "csrf_token": token, "username": "newtech", "name": EVIL, "roles": ["admin"]})
    assert "含有不可见字符或改变文字方向的字符（U+202E）" in response.get_data(as_text=True)


def test_kb_contribution_refuses_a_bidi_title(client, users, kb_cases):
    from portal.kb.models import Contribution

    login(client, "tech")
    token = get_csrf(client, "/cases/new")
    response = client.post("/cases/new?lang=en", data={
        "csrf_token": token, "title": f"Fan {EVIL}", "lang": "en", "product": "air-conditioner",
        "error_codes": "", "models": "", "components": "", "symptoms": "", "series": "", "difficulty": "",
        "time_minutes": "", "body": "## Symptoms\nThe fan stops.\n", "note": ""})
    assert response.status_code in (200, 400)
    assert "Title " + MESSAGE in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Contribution.id))) == 0


def test_cohort_name_refuses_bidi(client, users, courses):
    from portal.learning.models import Cohort, Course

    login(client, "trainer")
    token = get_csrf(client, "/learning/cohorts/new")
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    response = client.post("/learning/cohorts/new?lang=en", data={
        "csrf_token": token, "name": f"Guangzhou {EVIL}", "course": str(onboarding.id),
        "start_date": "2026-11-02", "trainers": [str(users["trainer"].id)],
        "members": [str(users["technician"].id)]})
    assert response.status_code == 200
    assert "Name " + MESSAGE in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Cohort.id))) == 0


def test_certificate_reason_refuses_bidi(app, client, users, quizzes):
    from portal.certification import services as certs
    from portal.certification.loader import load_tiers

    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    with app.test_request_context():
        cert = certs.issue(users["technician"], certs.tier_by_code("certified"), date.today(), force=True,
                           note="ok")
    number, status = cert.number, cert.status
    login(client, "trainer")
    token = get_csrf(client, f"/certificates/{number}")
    response = client.post(f"/certificates/{number}/suspend?lang=en",
                           data={"csrf_token": token, "reason": f"fraud {EVIL}"}, follow_redirects=True)
    assert MESSAGE in response.get_data(as_text=True)
    db.session.expire_all()
    assert certs.find(number).status == status


def test_audit_comment_refuses_bidi(client, users, audit_draft):
    login(client, "auditor")
    token = get_csrf(client, f"/audits/{audit_draft.id}/edit")
    response = client.post(f"/audits/{audit_draft.id}/answer?lang=en", data={
        "csrf_token": token, "item": "arrived-in-window", "value": "yes", "comment": f"late {EVIL}"})
    assert response.status_code == 400
    assert "Comment " + MESSAGE in response.get_json()["error"]
    db.session.expire_all()
    assert "arrived-in-window" not in (audit_draft.comments or {})
    assert "arrived-in-window" not in (audit_draft.responses or {})


def test_audit_json_api_refuses_bidi_text(client, users, audit_draft):
    from portal.audits import services as audit_svc
    from portal.audits.models import Audit

    login(client, "auditor")
    token = get_csrf(client, "/audits/")
    answers = audit_svc.model_answers(audit_draft.template.spec)
    before = db.session.scalar(select(func.count(Audit.id)))
    body = {"technician": "tech", "template": "home-service-visit",
            "visited_at": (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat(),
            "work_order": f"WO-{EVIL}", "product": "air-conditioner", "city": "广州",
            "responses": {k: v for k, v in answers.items() if not isinstance(v, int) or True},
            "comments": {"arrived-in-window": f"x {EVIL}"}}
    response = client.post("/api/v1/audits?lang=en", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    fields = response.get_json()["fields"]
    assert MESSAGE in fields["work_order"] and MESSAGE in fields["comments.arrived-in-window"]
    assert db.session.scalar(select(func.count(Audit.id))) == before


def test_audit_json_api_takes_names_with_a_nul_byte_as_unknown(client, users):
    """PostgreSQL refuses a NUL byte in a query: the API must not ask it (a 400, never a 500)."""
    from portal.auth.services import issue_token

    bearer = {"Authorization": f"Bearer {issue_token(users['auditor'])}"}
    response = client.post("/api/v1/audits", json={"technician": "tech\x00", "template": "home-service-visit\x00"},
                           headers=bearer)
    assert response.status_code == 400
    assert {"technician", "template"} <= set(response.get_json()["fields"])


def test_csv_import_refuses_a_bidi_name(app, users):
    from portal.auth.csvimport import import_technicians
    from portal.auth.models import User

    data = f"username,name,outlet\nnewtech,Li {EVIL},GD-GZ-01\n".encode()
    with app.test_request_context("/?lang=en"):
        result = import_technicians(data, users["admin"])
    assert not result.ok
    assert any(MESSAGE in reason for _line, reason in result.errors)
    assert db.session.scalar(select(User).where(User.username == "newtech")) is None


def test_cli_user_creation_refuses_a_bidi_name(app, network):
    from portal.auth.models import User

    result = app.test_cli_runner().invoke(args=["users", "create", "newtech", "--role", "admin",
                                                "--password", "correct-horse-42", "--name", EVIL])
    assert result.exit_code != 0
    assert "U+202E" in result.output
    assert db.session.scalar(select(User).where(User.username == "newtech")) is None


def test_a_name_with_a_joiner_is_accepted(client, users):
    from portal.auth.models import User

    login(client, "admin")
    token = get_csrf(client, "/admin/users/new")
    response = client.post("/admin/users/new?lang=en", data={
        "csrf_token": token, "username": "newadmin", "name": "می\u200cخواهم", "roles": ["admin"]})
    assert response.status_code == 200
    assert db.session.scalar(select(User).where(User.username == "newadmin")).name == "می\u200cخواهم"


def test_sign_off_item_comment_refuses_bidi_and_keeps_what_was_typed(client, courses, users):
    from portal.learning.models import PracticalTask, SignOff

    login(client, "trainer")
    url = "/learning/signoff/tech/onboarding/seven-step-drill"
    token = get_csrf(client, url)
    task = db.session.scalar(select(PracticalTask).where(PracticalTask.slug == "seven-step-drill"))
    data = {"csrf_token": token, **{f"item-{i}": "pass" for i in range(len(task.checklist))},
            "comment-1": "good greeting " + EVIL}
    response = client.post(url + "?lang=en", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Comment " + MESSAGE in html and "good greeting" in html
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 0


def test_undo_note_refuses_bidi(app, users, audit_draft):
    from portal.audits import services as audit_svc

    with app.test_request_context("/?lang=en"):
        for undo in (audit_svc.reinstate_certificate, audit_svc.withdraw_lesson):
            with pytest.raises(audit_svc.AuditError, match=r"Note contains an invisible"):
                undo(audit_draft, 1, users["trainer"], f"ok {EVIL}", datetime.now(timezone.utc))
