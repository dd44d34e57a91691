"""Nobody decides about themselves. One walk through every decision the portal takes about a
person — issuing (also "anyway"), renewing, suspending, reinstating and revoking a certificate;
publishing or rejecting a field contribution; signing off a practical task; auditing a visit;
amending an audit report; seeing the per-question marks of a score-only exam — taken by a user
who holds the deciding role *and* is the person decided about (trainer + technician, auditor +
technician). Each is refused with the same rule (``security.refuse_self``) and changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.assessment.services import quiz_by_slug
from portal.audits import services as audits
from portal.audits.loader import load_templates
from portal.audits.models import Audit, AuditAmendment, AuditTemplate
from portal.certification import services as certs
from portal.certification.loader import load_tiers
from portal.certification.models import Certificate, CertificateEvent, Tier
from portal.extensions import db
from portal.kb import contributions as contrib
from portal.kb.models import Case, Contribution
from portal.learning.models import Course, PracticalTask, SignOff
from portal.security import SelfDecision, refuse_self  # noqa

from .conftest import ROOT_DIR, get_csrf, login, pass_quiz
from .test_audits import PERFECT, TEMPLATE
from .test_certification import TIERS
from .test_kb_pages import _new_case_form

REFUSED = "Nobody decides about themselves"


@pytest.fixture
def world(app, users, make_user, quizzes, kb_cases, tmp_path):
    with app.test_request_context():
        folder = tmp_path / "certification"
        folder.mkdir()
        (folder / "tiers.yaml").write_text(TIERS, encoding="utf-8")
        assert not load_tiers(folder).problems
        folder = tmp_path / "audits"
        folder.mkdir()
        (folder / "test-visit.yaml").write_text(TEMPLATE, encoding="utf-8")
        assert not load_templates(folder).problems
    both = make_user("both", "trainer", "technician", outlet="GD-GZ-01", name="双角色")
    auditech = make_user("auditech", "auditor", "technician", outlet="GD-GZ-01", name="审核技师")
    return {"both": both, "auditech": auditech, "trainer": users["trainer"], "auditor": users["auditor"],
            "tier": db.session.scalar(select(Tier).where(Tier.code == "certified")),
            "template": db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == "test-visit"))}


def _client(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    client.post("/language", data={"locale": "en", "csrf_token": get_csrf(client, "/notifications/")})  # messages in English
    return client


def _cert_state(cert_id):
    db.session.expire_all()
    cert = db.session.get(Certificate, cert_id)
    return cert.status, cert.valid_until, db.session.scalar(
        select(func.count()).select_from(CertificateEvent).where(CertificateEvent.certificate_id == cert_id))


def test_the_rule_itself(app):
    with app.test_request_context(), force_locale("en"):
        with pytest.raises(SelfDecision, match=REFUSED):
            refuse_self(7, 7)
        refuse_self(7, 8)
        refuse_self(None, 8)  # a rule, not a person, decides


def test_every_decision_about_oneself_is_refused_and_changes_nothing(app, world):
    both, auditech, trainer = world["both"], world["auditech"], world["trainer"]
    me = _client(app, "both")

    # 1. Granting oneself a certificate, even "anyway" with a note.
    url = "/certificates/eligibility/both/certified"
    token = get_csrf(me, url)
    page = me.post(url, data={"csrf_token": token, "force": "y", "note": "I trust myself"})
    assert page.status_code == 200 and REFUSED in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0

    # A certificate another trainer issued, 300 days ago (inside the renewal window).
    with app.test_request_context():
        cert = certs.issue(both, world["tier"], date.today() - timedelta(days=300), by=trainer, force=True,
                           note="issued by someone else")
    cert_id, number = cert.id, cert.number
    assert REFUSED not in me.get(f"/certificates/{number}").get_data(as_text=True)
    assert 'data-own' in me.get(f"/certificates/{number}").get_data(as_text=True)  # no forms offered

    def change(action, **extra):
        before = _cert_state(cert_id)
        page = me.post(f"/certificates/{number}/{action}", follow_redirects=True,
                       data={"csrf_token": token, "reason": "my own call", **extra})
        assert REFUSED in page.get_data(as_text=True), action
        assert _cert_state(cert_id) == before, action

    # 2. Renewing (also "anyway"), suspending and revoking one's own certificate.
    change("renew", force="y")
    change("suspend")
    change("revoke", confirm="y")
    # 3. Reinstating it after someone else suspended it.
    other = _client(app, "trainer")
    other_token = get_csrf(other, f"/certificates/{number}")
    other.post(f"/certificates/{number}/suspend", data={"csrf_token": other_token, "reason": "complaint"})
    assert _cert_state(cert_id)[0] == "suspended"
    change("reinstate")
    # The same steps by another trainer go through: the refusals above were about the person.
    other.post(f"/certificates/{number}/reinstate", data={"csrf_token": other_token, "reason": "cleared"})
    assert _cert_state(cert_id)[0] == "active"

    # 4. Publishing or rejecting one's own field contribution.
    token = get_csrf(me, "/cases/new")
    assert me.post("/cases/new", data=_new_case_form(token)).status_code == 302
    mine = db.session.scalar(select(Contribution).where(Contribution.author_id == both.id))
    cases_before = db.session.scalar(select(func.count()).select_from(Case))
    review = f"/cases/review/{mine.id}"
    token = get_csrf(me, review)
    for action in ("approve", "reject"):
        page = me.post(review, data=_new_case_form(token, action=action, reason="fine by me"))
        assert page.status_code == 400 and REFUSED in page.get_data(as_text=True), action
        db.session.expire_all()
        assert db.session.get(Contribution, mine.id).status == "pending"
    assert db.session.scalar(select(func.count()).select_from(Case)) == cases_before

    # 5. Signing off one's own practical task.
    task = db.session.scalar(select(PracticalTask).join(Course, PracticalTask.course_id == Course.id)
                             .where(Course.slug == "onboarding", PracticalTask.slug == "seven-step-drill"))
    url = "/learning/signoff/both/onboarding/seven-step-drill"
    token = get_csrf(me, url)
    page = me.post(url, data={"csrf_token": token, **{f"item-{i}": "pass" for i in range(len(task.checklist))}})
    assert page.status_code == 200 and "own practical task" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SignOff)) == 0

    # 6. Amending an audit report about oneself (filed by a real auditor).
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        audit = audits.start(world["auditor"], both, world["template"], now - timedelta(days=1), "WO-7",
                             "air-conditioner", "广州", now)
        for item, value in PERFECT.items():
            audits.save_answer(audit, item, value)
        audits.submit(audit, now)
    score = audit.score
    url = f"/audits/{audit.id}/amend"
    token = get_csrf(me, url)
    page = me.post(url, follow_redirects=True, data={"csrf_token": token, "reason": "the auditor was harsh",
                                                      "r.on-time": "yes"})
    assert REFUSED in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AuditAmendment)) == 0
    db.session.expire_all()
    assert db.session.get(Audit, audit.id).score == score

    # 7. Seeing the per-question marks of one's own score-only exam (as trainer, of oneself).
    quiz = quiz_by_slug("onboarding-final")
    quiz.settings = {**(quiz.settings or {}), "review": "score"}
    db.session.commit()
    with app.test_request_context():
        attempt = pass_quiz(both, "onboarding-final")
    html = me.get(f"/quizzes/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "data-score" in html and "review-item" not in html
    assert "review-item" in _client(app, "trainer").get(f"/quizzes/attempts/{attempt.id}/result").get_data(as_text=True)

    # 8. Auditing one's own visit (auditor + technician).
    auditor = _client(app, "auditech")
    token = get_csrf(auditor, "/audits/new")
    audits_before = db.session.scalar(select(func.count()).select_from(Audit))
    page = auditor.post("/audits/new", data={
        "csrf_token": token, "technician": "auditech", "template": "test-visit",
        "visited_at": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "work_order": "WO-8",
        "product": "air-conditioner", "city": "广州"})
    assert page.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Audit)) == audits_before
    with app.test_request_context(), pytest.raises(audits.AuditInvalid):
        audits.start(auditech, auditech, world["template"], now - timedelta(hours=3), "WO-8", "air-conditioner",
                     "广州", now)

    # Services refuse too (the CLI and the API call them).
    with app.test_request_context(), force_locale("en"):
        cert = db.session.get(Certificate, cert_id)
        for step in (lambda: certs.renew(cert, date.today(), by=both, force=True, note="x"),
                     lambda: certs.suspend(cert, "x", by=both), lambda: certs.revoke(cert, "x", by=both)):
            with pytest.raises(certs.CertificateError, match=REFUSED):
                step()
        with pytest.raises(contrib.ContributionError, match=REFUSED):
            contrib.approve(db.session.get(Contribution, mine.id), both)


def test_the_eligibility_board_offers_no_grant_on_ones_own_row(app, world, courses):
    """A trainer who is also an eligible technician sees they are eligible, without a grant
    button on their own row; the same state for someone else is a grant button."""
    from .test_certification import make_tier1_eligible

    both, trainer = world["both"], world["trainer"]
    make_tier1_eligible(both, trainer)
    make_tier1_eligible(world["auditech"], trainer)
    html = _client(app, "both").get("/certificates/eligibility").get_data(as_text=True)
    own = html.split('data-cell="both/certified"', 1)[1].split("</td>", 1)[0]
    other = html.split('data-cell="auditech/certified"', 1)[1].split("</td>", 1)[0]
    assert "data-self" in own and "Eligible: another trainer grants it" in own
    assert "Eligible: grant" not in own and "/certificates/eligibility/both/" not in own
    assert "Eligible: grant" in other and 'href="/certificates/eligibility/auditech/certified"' in other
