"""Who may reach what: every route, every role; CSRF on every form; deny by default."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.auth.models import ApiToken, Region, User
from portal.extensions import db
from portal.security import access_rule

from .conftest import PASSWORD, ROOT_DIR, csrf_from, get_csrf, login

ROLES = ("technician", "trainer", "auditor", "admin")
ANY = set(ROLES)

# endpoint → (method, URL, roles allowed). Anonymous visitors: sign-in redirect (HTML) or 401 (API).
# Public endpoints list "public". Every endpoint the app registers must appear here.
MATRIX = {
    "static": ("GET", "/static/css/portal.css", "public"),
    "core.healthz": ("GET", "/healthz", "public"),
    "auth.login": ("GET", "/login", "public"),
    "core.set_language": ("POST", "/language", "public"),
    "auth.logout": ("POST", "/logout", "public"),
    "core.home": ("GET", "/", ANY),
    "auth.change_password": ("GET", "/account/password", ANY),
    "core.home_technician": ("GET", "/technician", {"technician"}),
    "core.home_trainer": ("GET", "/trainer", {"trainer"}),
    "core.home_auditor": ("GET", "/auditor", {"auditor"}),
    "core.home_admin": ("GET", "/admin", {"admin"}),
    "admin.users": ("GET", "/admin/users", {"admin"}),
    "admin.new_user": ("GET", "/admin/users/new", {"admin"}),
    "admin.user_detail": ("GET", "/admin/users/tech", {"admin"}),
    "admin.edit_user": ("GET", "/admin/users/tech/edit", {"admin"}),
    "admin.reset_user_password": ("POST", "/admin/users/tech/password", {"admin"}),
    "admin.set_user_active": ("POST", "/admin/users/tech/active", {"admin"}),
    "admin.unlock_user": ("POST", "/admin/users/tech/unlock", {"admin"}),
    "admin.end_sessions": ("POST", "/admin/users/trainer/sessions/end", {"admin"}),
    "admin.create_token": ("POST", "/admin/users/tech/tokens", {"admin"}),
    "admin.tokens": ("GET", "/admin/tokens", {"admin"}),
    "admin.revoke": ("POST", "/admin/tokens/1/revoke", {"admin"}),
    "admin.import_users": ("GET", "/admin/import", {"admin"}),
    "admin.import_template": ("GET", "/admin/import/template.csv", {"admin"}),
    "admin.network_view": ("GET", "/admin/network", {"admin"}),
    "admin.edit_place": ("GET", "/admin/network/region/new", {"admin"}),
    "admin.delete_place": ("POST", "/admin/network/region/1/delete", {"admin"}),
    "core.service_worker": ("GET", "/sw.js", "public"),
    "core.offline": ("GET", "/offline", "public"),
    "kb.search": ("GET", "/cases?q=E1", ANY),
    "kb.case": ("GET", "/cases/demo-e1-zh", ANY),
    "kb.feedback": ("POST", "/cases/demo-e1-zh/feedback", ANY, {"fixed": "yes"}),
    "kb.photo": ("GET", "/cases/photos/{case_photo}", ANY),  # a published case's (test_photo_privacy: the rest)
    "kb.history": ("GET", "/cases/demo-e1-zh/history", ANY),
    "kb.revision": ("GET", "/cases/demo-e1-zh/history/1", ANY),
    "kb.contribute": ("GET", "/cases/new", {"technician", "trainer"}),
    "kb.suggest": ("GET", "/cases/demo-e1-zh/suggest", {"technician", "trainer"}),
    "kb.mine": ("GET", "/cases/mine", {"technician", "trainer"}),
    "kb.review_queue": ("GET", "/cases/review", {"trainer"}),
    "kb.review": ("GET", "/cases/review/{contribution}", {"trainer"}),
    "kb.edit": ("GET", "/cases/demo-e1-zh/edit", {"trainer"}),
    "kb.change_status": ("POST", "/cases/demo-e1-zh/status", {"trainer"},
                         {"status": "published", "note": "matrix"}),
    "kb.gaps": ("GET", "/cases/reports/gaps", {"trainer"}),
    "kb.feedback_report": ("GET", "/cases/reports/feedback", {"trainer"}),
    "learning.home": ("GET", "/learning/", {"technician"}),
    "learning.courses": ("GET", "/learning/courses", {"technician", "trainer", "admin"}),
    "learning.course": ("GET", "/learning/courses/onboarding", {"technician", "trainer", "admin"}),
    "learning.lesson": ("GET", "/learning/courses/onboarding/lessons/d01-welcome",
                        {"technician", "trainer", "admin"}),
    "learning.mark_done": ("POST", "/learning/courses/onboarding/lessons/d01-welcome/done", {"technician"},
                           {"done": "1"}),
    "learning.image": ("GET", "/learning/courses/onboarding/images/refrigeration-cycle.svg",
                       {"technician", "trainer", "admin"}),
    "learning.cohorts": ("GET", "/learning/cohorts", {"trainer", "admin"}),
    "learning.new_cohort": ("GET", "/learning/cohorts/new", {"trainer", "admin"}),
    "learning.cohort": ("GET", "/learning/cohorts/{cohort}", {"trainer", "admin"}),
    # The cohort's own trainers and administrators (another trainer: 403, test_cohort_management).
    "learning.cohort_settings": ("GET", "/learning/cohorts/{cohort}/settings", {"trainer", "admin"}),
    "learning.cohort_members": ("GET", "/learning/cohorts/{cohort}/members", {"trainer", "admin"}),
    "learning.cohort_pick": ("GET", "/learning/cohorts/{cohort}/members/add?q=te", {"trainer", "admin"}),
    "learning.cohort_archive": ("POST", "/learning/cohorts/{cohort}/archive", {"trainer", "admin"}, {"archived": "0"}),
    "learning.signoff": ("GET", "/learning/signoff/tech/onboarding/seven-step-drill", {"trainer"}),
    "learning.assignments": ("GET", "/learning/assignments", {"trainer", "admin"}),
    "learning.assignment": ("GET", "/learning/assignments/{assignment}", {"trainer", "admin"}),
    "learning.assignment_due": ("GET", "/learning/assignments/{assignment}/due", {"trainer", "admin"}),
    "learning.assignment_withdraw": ("GET", "/learning/assignments/{assignment}/withdraw", {"trainer", "admin"}),
    "learning.assignment_extend": ("GET", "/learning/assignments/{assignment}/extend/tech", {"trainer", "admin"}),
    "learning.assignment_overdue": ("GET", "/learning/assignments/{assignment}/overdue", {"trainer", "admin"}),
    "learning.targeted": ("GET", "/learning/targeted", {"trainer", "admin"}),
    "assessment.index": ("GET", "/quizzes/", {"technician"}),
    "assessment.quiz": ("GET", "/quizzes/onboarding-final", {"technician"}),
    "assessment.start": ("POST", "/quizzes/onboarding-final/start", {"technician"}),
    "assessment.attempt": ("GET", "/quizzes/attempts/{attempt}", {"technician"}),
    "assessment.answer": ("POST", "/quizzes/attempts/{attempt}/answer", {"technician"}, {"index": "0"}),
    "assessment.submit": ("POST", "/quizzes/attempts/{attempt}/submit", {"technician"}),
    "assessment.result": ("GET", "/quizzes/attempts/{closed}/result", {"technician", "trainer", "admin"}),
    "assessment.image": ("GET", "/quizzes/images/standing-test-levels-off.svg", {"technician", "trainer", "admin"}),
    "assessment.reports": ("GET", "/quizzes/reports", {"trainer", "admin"}),
    "assessment.report": ("GET", "/quizzes/onboarding-final/report", {"trainer", "admin"}),
    "assessment.import_questions": ("GET", "/quizzes/import", {"trainer", "admin"}),
    "assessment.new_quiz": ("GET", "/quizzes/new", {"trainer", "admin"}),
    # a quarterly quiz: a trainer may edit it (an exam a tier names: admins only, test_quiz_editor)
    "assessment.edit_quiz": ("GET", "/quizzes/2026-q3-r32-inverter-splits/edit", {"trainer", "admin"}),
    "assessment.export_quiz_file": ("GET", "/quizzes/2026-q3-r32-inverter-splits/export", {"trainer", "admin"}),
    "assessment.report_attempts": ("GET", "/quizzes/onboarding-final/report/attempts", {"trainer", "admin"}),
    "assessment.overrides": ("GET", "/quizzes/onboarding-final/overrides", {"trainer", "admin"}),
    "assessment.override": ("GET", "/quizzes/onboarding-final/overrides/{tech}", {"trainer", "admin"}),
    "assessment.remove_override": ("POST", "/quizzes/onboarding-final/overrides/{tech}/remove", {"trainer", "admin"}),
    "assessment.marking": ("GET", "/quizzes/onboarding-final/marking", {"trainer", "admin"}),
    "assessment.mark": ("POST", "/quizzes/{closed_quiz}/marking/{closed}/1", {"trainer", "admin"}, {"mark": "1"}),
    "bank.index": ("GET", "/assessment/bank/", {"trainer", "admin"}),
    "bank.question": ("GET", "/assessment/bank/1", {"trainer", "admin"}),
    "bank.preview": ("GET", "/assessment/bank/1/preview", {"trainer", "admin"}),
    "bank.new": ("GET", "/assessment/bank/new?type=matching", {"trainer", "admin"}),
    "bank.edit": ("GET", "/assessment/bank/1/edit", {"trainer", "admin"}),
    "bank.regrade": ("POST", "/assessment/bank/1/regrade", {"trainer", "admin"}),
    "bank.export": ("GET", "/assessment/bank/export?category=onboarding/final", {"trainer", "admin"}),
    "certification.verify": ("GET", "/verify/{cert}", "public"),
    "api.certificate_json": ("GET", "/api/v1/certificates/{cert}", "public"),
    "api.openapi": ("GET", "/api/v1/openapi.json", "public"),
    "certification.mine": ("GET", "/certificates/mine", {"technician"}),
    "certification.certificate": ("GET", "/certificates/{cert}", {"technician", "trainer", "admin"}),
    "certification.badge": ("GET", "/certificates/{cert}/badge", {"technician", "trainer", "admin"}),
    "certification.printable": ("GET", "/certificates/{cert}/print", {"technician", "trainer", "admin"}),
    "certification.qr": ("GET", "/certificates/{cert}/qr.svg", {"technician", "trainer", "admin"}),
    "certification.register": ("GET", "/certificates/", {"trainer", "admin"}),
    "certification.board": ("GET", "/certificates/eligibility", {"trainer", "admin"}),
    "certification.grant": ("GET", "/certificates/eligibility/tech/certified", {"trainer", "admin"}),
    "certification.change": ("POST", "/certificates/{cert}/suspend", {"trainer", "admin"}, {"reason": "matrix"}),
    "audits.index": ("GET", "/audits/", {"technician", "trainer", "auditor"}),
    "audits.new": ("GET", "/audits/new", {"auditor"}),
    "audits.edit": ("GET", "/audits/{draft}/edit", {"auditor"}),
    "audits.edit_header": ("GET", "/audits/{draft}/header", {"auditor"}),
    "audits.delete": ("GET", "/audits/{draft}/delete", {"auditor"}),  # the confirmation page
    "audits.answer": ("POST", "/audits/{draft}/answer", {"auditor"}, {"item": "arrived-in-window", "value": "yes"}),
    "audits.save": ("POST", "/audits/{draft}/save", {"auditor"}),
    "audits.upload_photo": ("POST", "/audits/{draft}/photos", {"auditor"}, {"item": "evidence-photos"}),
    "audits.submit": ("POST", "/audits/{draft}/submit", {"auditor"}),
    "audits.view": ("GET", "/audits/{audit}", {"technician", "trainer", "auditor"}),
    "audits.photo": ("GET", "/audits/photos/{audit_photo}", {"technician", "trainer", "auditor"}),
    "audits.acknowledge": ("POST", "/audits/{audit}/acknowledge", {"technician"}, {"comment": "seen"}),
    "audits.amend": ("GET", "/audits/{audit}/amend", {"trainer"}),
    "audits.stories": ("GET", "/audits/good-practice", {"technician", "trainer", "auditor"}),
    "audits.decide": ("POST", "/audits/good-practice/{story}", {"trainer"}, {"decision": "approve"}),
    "audits.reports": ("GET", "/audits/reports", {"trainer"}),
    "audit_coverage.index": ("GET", "/audits/coverage/", {"trainer", "admin"}),
    "audit_coverage.listing": ("GET", "/audits/coverage/list?what=never", {"trainer", "admin"}),
    "audit_coverage.export": ("GET", "/audits/coverage/export.csv", {"trainer", "admin"}),
    "audits.undo": ("POST", "/audits/{audit}/consequences/999999/reinstate", {"trainer"}),
    "audit_draws.show": ("GET", "/audits/programmes/home-service-visit/draws/2027-01", {"trainer", "admin"}),
    "audit_draws.draw_now": ("POST", "/audits/programmes/home-service-visit/draw", {"trainer", "admin"}),
    "audits.record_page": ("GET", "/audits/records/tech", {"technician", "trainer", "admin"}, None, 301),
    "audit_visits.index": ("GET", "/audits/visits/", {"auditor", "trainer", "admin"}),
    "audit_visits.detail": ("GET", "/audits/visits/{visit}", {"auditor", "trainer", "admin"}),
    # No reason / no auditor: past the access rule to the form's "400: say why" / "choose".
    "audit_visits.hand_back": ("POST", "/audits/visits/{visit}/hand-back", {"auditor"}, {"reason": ""}, 400),
    "audit_visits.assign": ("POST", "/audits/visits/{visit}/assign", {"trainer"}, {"auditor": ""}, 400),
    "api.audit_visits_json": ("GET", "/api/v1/audit-visits?auditor=me", {"auditor", "trainer", "admin"}),
    "audit_programmes.index": ("GET", "/audits/programmes/", {"trainer", "admin"}),
    "audit_programmes.new": ("GET", "/audits/programmes/new", {"trainer", "admin"}),
    "audit_programmes.detail": ("GET", "/audits/programmes/home-service-visit", {"trainer", "admin"}),
    # a trainer who is also a technician reads but may not edit (test_audit_programme)
    "audit_programmes.edit": ("GET", "/audits/programmes/home-service-visit/edit", {"trainer", "admin"}),
    # Technicians' voice: {voice} is tech's named message (a technician sees only their own named ones).
    "voice.mine": ("GET", "/voice/", {"technician"}),
    "voice.new": ("GET", "/voice/new", {"technician"}),
    "voice.receipt": ("GET", "/voice/receipt", {"technician"}),
    "voice.inbox": ("GET", "/voice/inbox", {"trainer", "admin"}),
    "voice.export": ("GET", "/voice/inbox/export.csv", {"trainer", "admin"}),
    "voice.message": ("GET", "/voice/{voice}", {"technician", "trainer", "admin"}),
    "voice.answer": ("POST", "/voice/{voice}/answer", {"trainer", "admin"}, {"text": "matrix"}),
    "voice.update": ("POST", "/voice/{voice}/update", {"trainer", "admin"}, {"status": "read", "theme_tag": ""}),
    "technicians.record": ("GET", "/technicians/tech", {"technician", "trainer", "admin"}),
    "api.record_json": ("GET", "/api/v1/technicians/tech/record", {"technician", "trainer", "admin"}),
    "api.template_json": ("GET", "/api/v1/audit-templates/home-service-visit", {"auditor", "trainer"}),
    # No JSON body: an auditor gets past the access rule to "400: invalid audit".
    "api.create_json": ("POST", "/api/v1/audits", {"auditor"}, None, 400),
    "technicians.index": ("GET", "/technicians/", {"trainer", "admin"}),
    "reminders.index": ("GET", "/reminders/", {"trainer"}),
    # The matrix's trainer runs the matrix cohort (a trainer who does not: test_reminders.py).
    "reminders.new": ("GET", "/reminders/new/cohort?cohort={cohort}", {"trainer"}),
    "dashboard.index": ("GET", "/dashboard/", {"trainer", "admin"}),
    "dashboard.overdue": ("GET", "/dashboard/overdue", {"trainer", "admin"}),
    "content.trace_page": ("GET", "/content/trace", {"trainer", "admin"}),
    "content.review": ("GET", "/content/review", {"trainer", "admin"}),
    "notifications.index": ("GET", "/notifications/", ANY),
    "notifications.open_note": ("GET", "/notifications/{note}", ANY, None, 302),  # each opens their own
    "notifications.read_all": ("POST", "/notifications/read", ANY),
    "api.cases": ("GET", "/api/v1/cases?q=E1", ANY),
    "api.case_detail": ("GET", "/api/v1/cases/demo-e1-zh", ANY),
    "api.me": ("GET", "/api/v1/me", ANY),
    "api.users": ("GET", "/api/v1/users", {"admin"}),
}


def test_every_endpoint_declares_an_access_rule(app):
    undeclared = [ep for ep in app.view_functions if access_rule(app, ep) is None]
    assert undeclared == []


def test_the_matrix_covers_every_endpoint(app):
    assert set(app.view_functions) == set(MATRIX), (
        "add new endpoints to MATRIX with the roles that may use them"
    )


def test_declared_rules_match_the_matrix(app):
    for endpoint, (_method, _url, allowed, *_data) in MATRIX.items():
        kind, roles = access_rule(app, endpoint)
        if allowed == "public":
            assert kind == "public", endpoint
        elif allowed == ANY:
            assert kind == "signed_in" or (kind == "roles" and set(roles) == ANY), endpoint
        else:
            assert kind == "roles" and set(roles) == allowed, endpoint


def _request(client, method, url, signed_in, data=None):
    if method == "GET":
        return client.get(url)
    # A valid CSRF token, so that only the access rule can refuse the request.
    token = get_csrf(client, "/account/password" if signed_in else "/login")
    return client.post(url, data={"csrf_token": token, **(data or {})})


@pytest.fixture
def token_row(app, users, kb_data, learning_data, quizzes):
    from datetime import date, datetime, timedelta, timezone

    from portal.certification import services as certs
    from portal.certification.loader import load_tiers

    from portal.assessment import attempts
    from portal.assessment.services import quiz_by_slug
    from portal.auth.services import issue_token

    now = datetime.now(timezone.utc)
    tech = users["technician"]
    closed = attempts.take(tech, quiz_by_slug(learning_data["quarterly"].quiz), now, right=5)
    open_ = attempts.start(tech, quiz_by_slug("onboarding-final"), "zh", now)
    assert not load_tiers(ROOT_DIR / "content" / "certification").problems
    with app.test_request_context():
        cert = certs.issue(tech, certs.tier_by_code("certified"), date.today(), force=True, note="matrix")
    from portal.audits import services as audit_svc
    from portal.audits.loader import current_template, load_templates
    from portal.audits.models import GoodPracticeStory

    from .conftest import png_bytes

    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    from portal.audits.programme import load_programmes
    assert not load_programmes(ROOT_DIR / "content" / "audits" / "programmes").problems
    form = current_template("home-service-visit")
    visited = now - timedelta(days=1)
    done = audit_svc.start(users["auditor"], tech, form, visited, "WO-M1", "air-conditioner", "广州", now)
    for item, value in audit_svc.model_answers(form.spec).items():
        audit_svc.save_answer(done, item, value)
    photo = audit_svc.add_photo(done, "evidence-photos", png_bytes())
    with app.test_request_context():
        audit_svc.submit(done, now)
    draft = audit_svc.start(users["auditor"], tech, form, visited, "WO-M2", "air-conditioner", "广州", now)
    for item, value in audit_svc.model_answers(form.spec).items():
        audit_svc.save_answer(draft, item, value)
    story = GoodPracticeStory(audit_id=done.id, technician_id=tech.id, story="matrix", status="proposed")
    db.session.add(story)
    from portal.audits.models import AuditDraw, AuditProgramme, AuditVisit

    programme = db.session.scalar(select(AuditProgramme).where(AuditProgramme.template_slug == "home-service-visit"))
    # A past period's visit (the draw rows above draw this period and show 2027-01 for themselves).
    draw = AuditDraw(programme_id=programme.id, period="2026-01", seed="00", spec=programme.spec, due_on=date(2026, 1, 30))
    db.session.add(draw)
    db.session.flush()
    visit = AuditVisit(draw_id=draw.id, programme_id=programme.id, period="2026-01", technician_id=tech.id,
                       outlet_id=tech.outlet_id, auditor_id=users["auditor"].id, due_on=date(2026, 1, 30))
    db.session.add(visit)
    from portal.notifications import notify

    notes = {role: notify(user.id, "matrix", "matrix", "matrix", "/").id for role, user in users.items()}
    db.session.commit()
    from portal.voice.models import VoiceMessage

    voice = VoiceMessage(kind="suggestion", theme="other", text="matrix", named=True, sender_id=tech.id,
                         sent_on=date(2026, 12, 1), status="new")
    db.session.add(voice)
    db.session.commit()

    issue_token(users["technician"], "matrix")
    db.session.add(Region(code="EMPTY", name_zh="空", name_en="Empty"))
    db.session.commit()
    from portal.kb.photos import save_photo

    case_photo = save_photo(png_bytes(), users["trainer"])
    case_photo.case_id = kb_data["cases"]["demo-e1-zh"].id
    db.session.commit()
    return {"photo": kb_data["photo"].name, "case_photo": case_photo.name, "contribution": kb_data["contribution"].id,
            "cohort": learning_data["cohort"], "assignment": learning_data["assignment"],
            "attempt": open_.id, "closed": closed.id, "closed_quiz": closed.quiz.slug, "tech": tech.id, "cert": cert.number, "audit": done.id, "draft": draft.id,
            "audit_photo": photo.name, "story": story.id, "notes": notes,
            "voice": voice.id, "visit": visit.id}


@pytest.mark.parametrize("identity", ("anonymous",) + ROLES)
def test_role_matrix(app, users, token_row, identity):
    for endpoint, (method, url, allowed, *data) in MATRIX.items():
        url = url.format(**token_row, note=token_row["notes"].get(identity, 999999))
        client = app.test_client()
        if identity != "anonymous":
            assert login(client, users[identity].username).status_code == 302
        response = _request(client, method, url, identity != "anonymous", data[0] if data else None)
        expected_ok = data[1] if len(data) > 1 else None  # an allowed call refused for its body
        where = f"{identity} {method} {url}"
        if allowed == "public":
            assert response.status_code in (200, 302), where
        elif identity == "anonymous":
            if url.startswith("/api/"):
                assert response.status_code == 401, where
                assert response.is_json
            else:
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/login"), where
        elif identity in allowed and expected_ok is not None:
            assert response.status_code == expected_ok, where
        elif identity in allowed:
            if method == "GET" and endpoint != "core.home":
                assert response.status_code == 200, where
            else:
                assert response.status_code in (200, 302), where
                location = response.headers.get("Location", "")
                assert not location.startswith(("/login", "/account/password")), where
                if endpoint == "core.home":
                    assert location == "/" + identity, where
        else:
            assert response.status_code == 403, where
            if url.startswith("/api/"):
                assert response.get_json()["status"] == 403


@pytest.mark.parametrize("identity", ROLES)
def test_api_matrix_with_bearer_tokens(app, users, kb_cases, courses, identity):
    from portal.audits.loader import load_templates
    from portal.auth.services import issue_token

    assert not load_templates(ROOT_DIR / "content" / "audits").problems

    token = issue_token(users[identity])
    client = app.test_client()
    for method, url, allowed, *data in MATRIX.values():
        if not url.startswith("/api/") or allowed == "public":  # public ones: test_role_matrix
            continue
        response = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"})
        expected = (data[1] if len(data) > 1 else 200) if identity in allowed else 403
        assert response.status_code == expected, (identity, url)
        assert response.is_json


def test_each_role_home_shows_its_own_content(app, users):
    expected = {
        "technician": ("/technician", 'data-section="next-steps"'),
        "trainer": ("/trainer", 'data-section="cohorts"'),
        "auditor": ("/auditor", 'data-section="audits"'),
        "admin": ("/admin", 'data-section="people"'),
    }
    for role, (path, marker) in expected.items():
        client = app.test_client()
        login(client, users[role].username)
        assert client.get("/").headers["Location"] == path
        page = client.get(path).get_data(as_text=True)
        assert marker in page
        for other_role, (_other_path, other_marker) in expected.items():
            if other_role != role:
                assert other_marker not in page


def test_multi_role_user_sees_links_to_each_home(client, make_user, network):
    make_user("both", "technician", "trainer", outlet="GD-GZ-01")
    login(client, "both")
    assert client.get("/").headers["Location"] == "/trainer"
    page = client.get("/trainer").get_data(as_text=True)
    assert 'href="/technician"' in page and 'href="/trainer"' in page
    assert 'href="/admin/users"' not in page
    assert client.get("/technician").status_code == 200


def test_an_undeclared_view_is_refused(app, users):
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    client = app.test_client()
    assert client.get("/undeclared").status_code == 403
    login(client, "admin")
    assert client.get("/undeclared").status_code == 403


# --- CSRF ------------------------------------------------------------------------------------


def test_login_without_csrf_is_rejected(client, users):
    response = client.post("/login", data={"username": "tech", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/technician").status_code == 302


def test_admin_form_without_csrf_changes_nothing(client, users):
    login(client, "admin")
    before = db.session.scalar(select(func.count(User.id)))
    response = client.post("/admin/users/new", data={
        "username": "sneaky", "roles": ["admin"], "password": "whatever-123"})
    assert response.status_code == 400
    response = client.post("/admin/users/tech/active", data={"active": "0"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(func.count(User.id))) == before
    assert db.session.scalar(select(User).where(User.username == "tech")).active


def test_csrf_token_from_another_session_is_rejected(app, users):
    attacker, victim = app.test_client(), app.test_client()
    foreign_token = get_csrf(attacker)
    login(victim, "admin")
    response = victim.post("/admin/users/tech/active", data={"active": "0",
                                                             "csrf_token": foreign_token})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.username == "tech")).active


def test_language_switch_without_csrf_is_rejected(client):
    assert client.post("/language", data={"locale": "en"}).status_code == 400


def test_csrf_error_page_is_clear(client, users):
    response = client.post("/login?lang=en", data={"username": "tech", "password": PASSWORD})
    assert "The form had expired" in response.get_data(as_text=True)


def test_api_with_bearer_token_needs_no_csrf_but_session_api_posts_do(app, users):
    # There is no state-changing API endpoint yet; register one to check the rule itself.
    from portal.security import signed_in

    @signed_in
    def poke():
        return {"ok": True}

    app.add_url_rule("/api/v1/_poke", "api._poke", poke, methods=["POST"])
    from portal.auth.services import issue_token

    token = issue_token(users["technician"])
    bearer = app.test_client()
    assert bearer.post("/api/v1/_poke", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    session_client = app.test_client()
    login(session_client, "tech")
    assert session_client.post("/api/v1/_poke").status_code == 400
    page = session_client.get("/technician").get_data(as_text=True)
    response = session_client.post("/api/v1/_poke", headers={"X-CSRFToken": csrf_from(page)})
    assert response.status_code == 200


def test_pages_send_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_errors_never_show_a_stack_trace(app, users):
    from portal.security import signed_in

    @signed_in
    def boom():
        raise RuntimeError("internal detail that must not leak")

    app.add_url_rule("/boom", "boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    login(client, "tech")
    response = client.get("/boom?lang=en")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "internal detail" not in page and "Traceback" not in page
    assert "Something went wrong" in page


def test_tokens_are_stored_only_as_hashes(users):
    from portal.auth.services import issue_token

    token = issue_token(users["technician"], "check")
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "check"))
    assert token not in (row.token_hash, row.prefix)
    assert len(row.token_hash) == 64 and token.startswith(row.prefix)


def test_405_keeps_the_allow_header(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_nul_in_the_path_is_a_clean_400(client, users):
    login(client, "admin")
    assert client.get("/admin/users/te%00ch").status_code == 400


# --- sign-off: the cohort's trainers only ---------------------------------------------------


def test_a_trainer_of_another_cohort_may_not_sign_off(app, users, make_user, learning_data):
    """The matrix's trainer runs the technician's cohort; another trainer, and an administrator who
    is not a trainer, are refused on the page (403 with the reason) and in the service."""
    from portal.learning import services as learning
    from portal.learning.models import PracticalTask, SignOff

    other = make_user("trainer2", "trainer", name="赵老师")
    url = "/learning/signoff/tech/onboarding/seven-step-drill"
    task = db.session.scalar(select(PracticalTask).where(PracticalTask.slug == "seven-step-drill"))
    data = {f"item-{i}": "pass" for i in range(len(task.checklist))}
    client = app.test_client()
    login(client, "trainer2", **{"Accept-Language": "en"})
    page = client.get(url, headers={"Accept-Language": "en"})
    assert page.status_code == 403
    assert "a cohort you do not run" in page.get_data(as_text=True)
    assert "李敏" in page.get_data(as_text=True)  # who may
    token = get_csrf(client, "/account/password")
    assert client.post(url, data={"csrf_token": token, **data}).status_code == 403
    with app.test_request_context():
        with pytest.raises(learning.LearningError, match="李敏"):
            learning.record_signoff(task, users["technician"], other, [(True, "")] * len(task.checklist))
        with pytest.raises(learning.LearningError):  # an administrator alone does not sign off
            learning.record_signoff(task, users["technician"], users["admin"],
                                    [(True, "")] * len(task.checklist))
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 0
    # The cohort's own trainer may; so may any trainer for a technician in no cohort.
    mine = app.test_client()
    login(mine, "trainer")
    assert mine.post(url, data={"csrf_token": get_csrf(mine, url), **data}).status_code == 302
    loner = make_user("loner", "technician", outlet="GD-GZ-01")
    assert client.get("/learning/signoff/loner/onboarding/seven-step-drill").status_code == 200
    with app.test_request_context():
        assert learning.may_sign_off(other, loner) is None
