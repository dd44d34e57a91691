"""Tiered certification: tiers as data, each eligibility requirement with its evidence, the
certificate lifecycle (issue, suspend, reinstate, revoke, renew, expire, lapse), `certs issue`,
and the public verification page and API."""

from __future__ import annotations

import csv
import re
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal.assessment import attempts
from portal.assessment.services import quiz_by_slug
from portal.certification import rules
from portal.certification import services as certs
from portal.certification.loader import load_tiers
from portal.certification.models import Certificate, Tier
from portal.extensions import db
from portal.learning import services as learning
from portal.learning.models import Course

from .conftest import ROOT_DIR, get_csrf, login, pass_quiz
from .paging import csv_rows, walk, xlsx_rows

TODAY = date(2026, 11, 20)

TIERS = """
validity_months: 12
lapse_grace_days: 30
tiers:
  - code: certified
    level: 1
    title: {zh: 初级技师, en: Certified Technician}
    requires:
      courses: [2026-q3-r32-inverter-splits]
      quiz: {slug: onboarding-final, min_score: 90}
      tasks: [onboarding]
  - code: senior
    level: 2
    title: {zh: 中级技师, en: Senior Technician}
    validity_months: 24
    requires:
      months_at_previous: 12
      audits: {count: 2, average: 85, months: 12}
      contributions: 2
      current_quarterly: true
"""


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


@pytest.fixture
def english(ctx):
    """Messages in English, to match them by their words."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


@pytest.fixture
def tiers(quizzes, tmp_path, ctx):
    path = tmp_path / "certification" / "tiers.yaml"
    path.parent.mkdir()
    path.write_text(TIERS, encoding="utf-8")
    report = load_tiers(path.parent)
    assert not report.problems, [str(p) for p in report.problems]
    return {t.code: t for t in db.session.scalars(select(Tier))}


def q3() -> Course:
    return db.session.scalar(select(Course).where(Course.slug == "2026-q3-r32-inverter-splits"))


def onboarding() -> Course:
    return db.session.scalar(select(Course).where(Course.slug == "onboarding"))


def complete_course(user, course: Course) -> None:
    for lesson in course.lessons():
        learning.set_done(user, lesson)
    if course.quiz:
        pass_quiz(user, course.quiz)


def sign_off_all(user, trainer, course: Course, passed=True) -> None:
    for task in course.tasks():
        learning.record_signoff(task, user, trainer, [(passed, "" if passed else "not yet")] * len(task.checklist))


def requirement(check, kind):
    return next(r for r in check.requirements if r.kind == kind)


def make_tier1_eligible(user, trainer):
    complete_course(user, q3())
    pass_quiz(user, "onboarding-final")
    sign_off_all(user, trainer, onboarding())


# --- tiers as data ----------------------------------------------------------------------------


def test_the_shipped_tiers_load_with_their_requirements(quizzes, ctx):
    report = load_tiers(ROOT_DIR / "content" / "certification")
    assert not report.problems, [str(p) for p in report.problems]
    tiers = list(db.session.scalars(select(Tier).order_by(Tier.level)))
    assert [(t.level, t.title_zh, t.title_en) for t in tiers] == [
        (1, "初级技师", "Certified Technician"), (2, "中级技师", "Senior Technician"), (3, "高级技师", "Master Technician")]
    assert tiers[0].requirements["quiz"] == {"slug": "onboarding-final", "min_score": 80}
    assert tiers[2].requirements["contributions"] >= 1 and tiers[2].requirements["current_quarterly"] is True
    for tier in tiers[1:]:
        quiz = quiz_by_slug(tier.requirements["quiz"]["slug"])
        assert quiz is not None and sum(s["draw"] for s in quiz.sections) >= 30
    assert load_tiers(ROOT_DIR / "content" / "certification").unchanged == 3


def test_a_malformed_tiers_file_names_file_line_and_field_and_changes_nothing(quizzes, tmp_path, ctx):
    folder = tmp_path / "certification"
    folder.mkdir()
    (folder / "tiers.yaml").write_text(TIERS.replace("min_score: 90", "min_score: 190")
                                       .replace("contributions: 2", "contribution: 2"), encoding="utf-8")
    report = load_tiers(folder)
    found = {(p.line, p.field) for p in report.problems}
    text = TIERS.splitlines()  # the file's line N is text[N - 1]
    assert (text.index("      quiz: {slug: onboarding-final, min_score: 90}") + 1, "certified.requires.quiz") in found
    assert (text.index("      contributions: 2") + 1, "senior.requires.contribution") in found
    assert all(p.path.endswith("tiers.yaml") for p in report.problems)
    assert db.session.scalar(select(Tier)) is None


# --- eligibility, requirement by requirement --------------------------------------------------


def test_courses_requirement_needs_lessons_and_the_course_quiz(tiers, users):
    tech = users["technician"]
    for lesson in q3().lessons():
        learning.set_done(tech, lesson)
    req = requirement(rules.eligibility(tech, tiers["certified"], TODAY), "courses")
    assert not req.met and req.missing
    pass_quiz(tech, q3().quiz)
    req = requirement(rules.eligibility(tech, tiers["certified"], TODAY), "courses")
    assert req.met and len(req.evidence) == 1
    assert req.evidence[0].day is not None and req.evidence[0].url.endswith("/learning/courses/2026-q3-r32-inverter-splits")


def test_quiz_requirement_uses_the_tiers_minimum_score_and_names_the_attempt(tiers, users):
    tech = users["technician"]
    quiz = quiz_by_slug("onboarding-final")
    now = datetime.now(timezone.utc)
    low = attempts.take(tech, quiz, now - timedelta(days=3), right=43, seed=2)  # 86 %: passes the quiz, not the tier
    assert low.passed and low.score == 86.0
    req = requirement(rules.eligibility(tech, tiers["certified"], TODAY), "quiz")
    assert not req.met and "86" in req.missing[0]
    best = attempts.take(tech, quiz, now, seed=3)
    req = requirement(rules.eligibility(tech, tiers["certified"], TODAY), "quiz")
    assert req.met and req.evidence[0].url.endswith(f"/quizzes/attempts/{best.id}/result")
    assert "100" in req.evidence[0].text


def test_tasks_requirement_lists_each_sign_off_and_what_is_missing(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    tasks = onboarding().tasks()
    for task in tasks[:-1]:
        learning.record_signoff(task, tech, trainer, [(True, "")] * len(task.checklist))
    last = tasks[-1]
    learning.record_signoff(last, tech, trainer, [(False, "not yet")] + [(True, "")] * (len(last.checklist) - 1))
    req = requirement(rules.eligibility(tech, tiers["certified"], TODAY), "tasks")
    assert not req.met and len(req.evidence) == len(tasks) - 1 and len(req.missing) == 1
    assert trainer.display_name in req.evidence[0].text
    learning.record_signoff(last, tech, trainer, [(True, "")] * len(last.checklist))
    assert requirement(rules.eligibility(tech, tiers["certified"], TODAY), "tasks").met


def test_months_at_the_tier_below_count_from_the_lower_certificates_issue(tiers, users):
    tech = users["technician"]
    lower = certs.issue(tech, tiers["certified"], date(2025, 12, 21), note="paper records", force=True)
    req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "months_at_previous")
    assert not req.met and lower.number in req.evidence[0].text
    assert req.missing  # "eligible from 2026-12-21"
    assert requirement(rules.eligibility(tech, tiers["senior"], date(2026, 12, 21)), "months_at_previous").met
    certs.suspend(lower, "investigation", by=users["trainer"])
    req = requirement(rules.eligibility(tech, tiers["senior"], date(2026, 12, 21)), "months_at_previous")
    assert not req.met


def test_audit_requirement_reads_no_audits_yet_until_the_audit_work_reports(tiers, users):
    tech = users["technician"]
    req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "audits")
    assert not req.met and req.missing and not req.evidence
    facts = [rules.AuditFact(date(2026, 3, 1), 92, False, "Audit A"),
             rules.AuditFact(date(2026, 9, 1), 88, False, "Audit B")]
    provider = lambda user, since, until: [f for f in facts if since <= f.day <= until]  # noqa: E731
    rules.AUDIT_PROVIDERS.append(provider)
    try:
        req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "audits")
        assert req.met and [e.day for e in req.evidence] == [date(2026, 3, 1), date(2026, 9, 1)]
        facts.append(rules.AuditFact(date(2026, 10, 1), 95, True, "Audit C"))
        req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "audits")
        assert not req.met and len(req.evidence) == 3  # a red-line failure, whatever the average
        facts[:] = [rules.AuditFact(date(2026, 3, 1), 80, False, "A"), rules.AuditFact(date(2026, 9, 1), 84, False, "B")]
        assert not requirement(rules.eligibility(tech, tiers["senior"], TODAY), "audits").met  # average 82
        facts[:] = [rules.AuditFact(date(2025, 10, 1), 99, False, "old"), rules.AuditFact(date(2026, 9, 1), 99, False, "B")]
        assert not requirement(rules.eligibility(tech, tiers["senior"], TODAY), "audits").met  # one in 12 months
    finally:
        rules.AUDIT_PROVIDERS.remove(provider)


def test_contribution_requirement_counts_accepted_contributions_only(tiers, users):
    from portal.kb.models import Contribution

    tech = users["technician"]
    for status in ("approved", "rejected", "pending", "approved"):
        db.session.add(Contribution(kind="new", author_id=tech.id, status=status, data={"title": f"Case {status}"},
                                    reviewed_at=datetime.now(timezone.utc)))
    db.session.commit()
    req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "contributions")
    assert req.met and len(req.evidence) == 2 and all(e.text.startswith("Case approved") for e in req.evidence)
    db.session.execute(Contribution.__table__.update().where(Contribution.status == "approved")
                       .values(status="rejected"))
    assert not requirement(rules.eligibility(tech, tiers["senior"], TODAY), "contributions").met


def test_current_quarterly_course_requirement(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "current_quarterly")
    assert req.met  # nothing assigned yet
    learning.create_assignment(q3(), "all", date(2026, 10, 31), trainer)
    req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "current_quarterly")
    assert not req.met and req.missing
    complete_course(tech, q3())
    req = requirement(rules.eligibility(tech, tiers["senior"], TODAY), "current_quarterly")
    assert req.met and req.evidence[0].url.endswith("/learning/courses/2026-q3-r32-inverter-splits")


def test_everything_met_makes_the_technician_eligible(tiers, users):
    tech = users["technician"]
    assert not rules.eligibility(tech, tiers["certified"], TODAY).eligible
    make_tier1_eligible(tech, users["trainer"])
    check = rules.eligibility(tech, tiers["certified"], TODAY)
    assert check.eligible and [r.kind for r in check.requirements] == ["courses", "quiz", "tasks"]


# --- issue and the lifecycle ------------------------------------------------------------------


def test_issue_refuses_the_ineligible_and_logs_a_forced_issue(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    with pytest.raises(certs.NotEligible) as refused:
        certs.issue(tech, tiers["certified"], TODAY, by=trainer)
    assert {r.kind for r in refused.value.result.unmet} == {"courses", "quiz", "tasks"}
    with pytest.raises(certs.CertificateError):
        certs.issue(tech, tiers["certified"], TODAY, by=trainer, force=True)  # no note
    assert db.session.scalar(select(Certificate)) is None
    cert = certs.issue(tech, tiers["certified"], TODAY, by=trainer, force=True, note="transferred from another brand")
    assert cert.forced and cert.status == "active" and cert.valid_until == date(2027, 11, 20)
    event = cert.events[0]
    assert (event.action, event.by_id, event.forced, event.reason) == ("issued", trainer.id, True,
                                                                     "transferred from another brand")
    assert {r["kind"]: r["met"] for r in event.evidence} == {"courses": False, "quiz": False, "tasks": False}
    with pytest.raises(certs.CertificateError):  # one certificate per tier
        certs.issue(tech, tiers["certified"], TODAY, by=trainer, force=True, note="again")


def test_certificate_numbers_are_random_and_well_formed(tiers, make_user, network):
    numbers = set()
    for n in range(12):
        user = make_user(f"tech{n}", "technician")
        numbers.add(certs.issue(user, tiers["certified"], TODAY, force=True, note="bulk").number)
    assert len(numbers) == 12
    for number in numbers:
        assert len(number) == 17 and number.startswith("SC-") and not set(number[3:]) & set("01OIL")


def test_every_lifecycle_transition_is_logged_with_who_when_and_why(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    cert = certs.issue(tech, tiers["certified"], TODAY, by=trainer, note="passed everything")
    assert not cert.forced
    with pytest.raises(certs.CertificateError):
        certs.suspend(cert, "  ", by=trainer)  # a reason is required
    certs.suspend(cert, "customer complaint under review", by=trainer)
    assert cert.status == "suspended" and cert.status_reason == "customer complaint under review"
    with pytest.raises(certs.CertificateError):
        certs.renew(cert, TODAY, by=trainer)  # not while suspended
    certs.reinstate(cert, "complaint unfounded", TODAY, by=trainer)
    assert cert.status == "active"
    certs.suspend(cert, "red-line failure in audit 7", rule="audit-red-line")  # a rule, no person
    certs.reinstate(cert, "appeal upheld", TODAY, by=trainer)
    renewed_from = cert.valid_until
    in_window = renewed_from - timedelta(days=30)
    certs.renew(cert, in_window, by=trainer, note="annual renewal")
    assert cert.valid_until == rules.add_months(renewed_from, 12)  # early renewal extends from its date
    certs.revoke(cert, "left the company", by=trainer)
    with pytest.raises(certs.CertificateError):
        certs.reinstate(cert, "oops", TODAY, by=trainer)
    log = [(e.action, e.from_status, e.to_status, e.by_id, e.rule, e.reason) for e in cert.events]
    assert log == [
        ("issued", None, "active", trainer.id, "", "passed everything"),
        ("suspended", "active", "suspended", trainer.id, "", "customer complaint under review"),
        ("reinstated", "suspended", "active", trainer.id, "", "complaint unfounded"),
        ("suspended", "active", "suspended", None, "audit-red-line", "red-line failure in audit 7"),
        ("reinstated", "suspended", "active", trainer.id, "", "appeal upheld"),
        ("renewed", "active", "active", trainer.id, "", "annual renewal"),
        ("revoked", "active", "revoked", trainer.id, "", "left the company"),
    ]
    assert all(e.at is not None for e in cert.events)


def test_expiry_when_the_date_passes_and_renewal_from_expired(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    cert = certs.issue(tech, tiers["certified"], date(2025, 11, 1), by=trainer)
    assert cert.valid_until == date(2026, 11, 1)
    assert rules.effective_status(cert, TODAY) == "expired"  # shown as expired before the sweep
    assert certs.sweep(TODAY).expired == 1 and cert.status == "expired"
    assert cert.events[-1].action == "expired" and cert.events[-1].by_id is None
    assert certs.sweep(TODAY).expired == 0  # written once
    certs.renew(cert, TODAY, by=trainer)
    assert cert.status == "active" and cert.valid_until == date(2027, 11, 20)


def test_renewal_needs_the_requirements_to_hold(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    cert = certs.issue(tech, tiers["certified"], TODAY, by=trainer, force=True, note="pilot")
    due = cert.valid_until - timedelta(days=10)
    with pytest.raises(certs.NotEligible):
        certs.renew(cert, due, by=trainer)
    certs.renew(cert, due, by=trainer, force=True, note="pilot continues")
    assert cert.events[-1].forced


def test_a_valid_certificate_renews_from_its_expiry_inside_the_window_and_once_per_period(tiers, users, english):
    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    cert = certs.issue(tech, tiers["certified"], TODAY, by=trainer)
    until = cert.valid_until
    assert until == date(2027, 11, 20)
    with pytest.raises(certs.CertificateError, match="Too early"):  # 12 months ahead: outside the window
        certs.renew(cert, TODAY, by=trainer)
    early = until - timedelta(days=91)
    with pytest.raises(certs.CertificateError, match="Too early"):
        certs.renew(cert, early, by=trainer)
    assert cert.valid_until == until and [e.action for e in cert.events] == ["issued"]
    opened = until - timedelta(days=90)
    certs.renew(cert, opened, by=trainer)
    assert cert.valid_until == date(2028, 11, 20)  # from the current expiry, not from today
    for _click in range(2):  # more clicks in the same period change nothing
        with pytest.raises(certs.CertificateError, match="Already renewed"):
            certs.renew(cert, opened, by=trainer)
        with pytest.raises(certs.CertificateError, match="Already renewed"):
            certs.renew(cert, until - timedelta(days=1), by=trainer)
    assert cert.valid_until == date(2028, 11, 20)
    assert [e.action for e in cert.events] == ["issued", "renewed"]
    # Once the renewed period has begun, the next renewal waits for its own window.
    with pytest.raises(certs.CertificateError, match="Too early"):
        certs.renew(cert, until, by=trainer)
    certs.renew(cert, date(2028, 9, 1), by=trainer)
    assert cert.valid_until == date(2029, 11, 20)


def test_the_renewal_window_is_configurable(tiers, users, app, english):
    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    cert = certs.issue(tech, tiers["certified"], TODAY, by=trainer)
    app.config["PORTAL_RENEWAL_WINDOW_DAYS"] = 30
    with pytest.raises(certs.CertificateError, match="30 days"):
        certs.renew(cert, cert.valid_until - timedelta(days=31), by=trainer)
    certs.renew(cert, cert.valid_until - timedelta(days=30), by=trainer)
    assert cert.valid_until == date(2028, 11, 20)


def test_two_renewals_decided_on_the_same_row_extend_it_once(tiers, users, app, english):
    """Two trainers renew at once: each read the certificate before the other wrote. The second
    write must not land (conditional UPDATE on the status and date it was decided on)."""
    from sqlalchemy.orm import Session

    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    cert = certs.issue(tech, tiers["certified"], TODAY, by=trainer)
    until, day = cert.valid_until, cert.valid_until - timedelta(days=20)
    assert cert.events and cert.tier  # the first request has read everything it decides on
    with Session(db.engine) as other:  # the second request, on its own connection, wins the race
        twin = other.get(Certificate, cert.id)
        twin.valid_until = rules.add_months(until, 12)
        other.commit()
    with pytest.raises(certs.CertificateError, match="changed this certificate meanwhile"):
        certs.renew(cert, day, by=trainer)
    db.session.expire_all()
    cert = db.session.get(Certificate, cert.id)
    assert cert.valid_until == rules.add_months(until, 12)  # extended once, not twice
    assert [e.action for e in cert.events] == ["issued"]


def test_renewing_on_the_web_three_times_extends_once_and_says_why_not(app, tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    issued_on = date.today() - timedelta(days=300)
    cert = certs.issue(tech, tiers["certified"], issued_on, by=trainer)
    until = cert.valid_until
    client = app.test_client()
    login(client, "trainer")
    token = get_csrf(client, f"/certificates/{cert.number}")
    for _click in range(3):
        client.post(f"/certificates/{cert.number}/renew?lang=en", data={"csrf_token": token, "reason": ""})
    db.session.expire_all()
    cert = db.session.get(Certificate, cert.id)
    assert cert.valid_until == rules.add_months(until, 12)
    assert [e.action for e in cert.events] == ["issued", "renewed"]
    page = client.get(f"/certificates/{cert.number}?lang=en").get_data(as_text=True)
    assert "Already renewed for the next period" in page
    public = app.test_client().get(f"/verify/{cert.number}").get_data(as_text=True)
    assert rules.add_months(until, 24).isoformat() not in public


def test_a_missed_quarterly_course_lapses_the_certificate_after_the_grace_period(tiers, users, make_user):
    tech, trainer = users["technician"], users["trainer"]
    keen = make_user("keen", "technician", outlet="GD-FS-01")
    today = date.today()  # course completion is stamped now: the dates are around it
    day = lambda n: today + timedelta(days=n)  # noqa: E731
    cert = certs.issue(tech, tiers["certified"], day(-100), by=trainer, force=True, note="x")
    other = certs.issue(keen, tiers["certified"], day(-100), by=trainer, force=True, note="x")
    learning.create_assignment(q3(), "all", day(-10), trainer)
    complete_course(keen, q3())
    assert certs.sweep(day(20)).lapsed == 0  # due + 30 days: still in grace
    report = certs.sweep(day(21))
    assert report.lapsed == 1 and cert.status == "lapsed" and other.status == "active"
    event = cert.events[-1]
    assert (event.action, event.rule, event.by_id) == ("lapsed", "quarterly-course", None)
    assert event.reason_msg_id == "cert.quarterly-missed" and event.reason_params["due"] == {"date": day(-10).isoformat()}
    assert rules.effective_status(cert, day(21)) == "lapsed"
    complete_course(tech, q3())
    certs.reinstate(cert, "course completed late", day(25), by=trainer)
    assert cert.status == "active"
    assert certs.sweep(day(26)).lapsed == 0  # completed now: no second lapse


def test_a_late_joiner_lapses_only_after_their_own_due_date_and_grace(tiers, users, make_user):
    """Someone who joined after the quarterly course was assigned has their own due date
    (learning.services.due_for); the lapse sweep and the requirement count from it."""
    tech, trainer = users["technician"], users["trainer"]
    today = date.today()
    day = lambda n: today + timedelta(days=n)  # noqa: E731
    assignment = learning.create_assignment(q3(), "all", day(-46), trainer)
    assignment.created_at = datetime.combine(day(-60), datetime.min.time())
    late = make_user("late", "technician", outlet="GD-FS-01", start_date=day(-20))
    old = certs.issue(tech, tiers["certified"], day(-100), by=trainer, force=True, note="x")
    new = certs.issue(late, tiers["certified"], day(-10), by=trainer, force=True, note="x")
    db.session.commit()
    assert learning.due_for(assignment, late) == day(-6)  # joined + the 14 days everyone had
    assert certs.sweep(today).lapsed == 1 and old.status == "lapsed" and new.status == "active"
    assert certs.sweep(day(24)).lapsed == 0 and new.status == "active"  # own due + 30 days of grace
    assert certs.sweep(day(25)).lapsed == 1 and new.status == "lapsed"
    assert new.events[-1].reason_params["due"] == {"date": day(-6).isoformat()}


def test_a_reinstated_certificate_does_not_lapse_again_for_the_same_course(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    today = date.today()
    cert = certs.issue(tech, tiers["certified"], today - timedelta(days=100), by=trainer, force=True, note="x")
    learning.create_assignment(q3(), "all", today - timedelta(days=60), trainer)
    assert certs.sweep(today).lapsed == 1
    certs.reinstate(cert, "trainer's decision: course booked for next week", today, by=trainer)
    assert certs.sweep(today + timedelta(days=1)).lapsed == 0 and cert.status == "active"


def test_a_certificate_issued_after_the_grace_period_does_not_lapse_for_an_old_miss(tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    learning.create_assignment(q3(), "all", date(2026, 8, 1), trainer)
    cert = certs.issue(tech, tiers["certified"], date(2026, 10, 1), by=trainer, force=True, note="x")
    assert certs.sweep(TODAY).lapsed == 0 and cert.status == "active"


# --- the command ------------------------------------------------------------------------------


def test_certs_issue_command(tiers, users, runner):
    tech = users["technician"]
    refused = runner.invoke(args=["certs", "issue", "tech", "--tier", "certified"])
    assert refused.exit_code == 1
    assert "not eligible" in refused.output and refused.output.count("\n- ") == 3
    assert db.session.scalar(select(Certificate)) is None
    assert runner.invoke(args=["certs", "issue", "nobody", "--tier", "certified"]).exit_code == 1
    assert runner.invoke(args=["certs", "issue", "tech", "--tier", "nope"]).exit_code == 1
    assert runner.invoke(args=["certs", "issue", "tech", "--tier", "certified", "--force"]).exit_code == 1
    forced = runner.invoke(args=["certs", "issue", "tech", "--tier", "certified", "--force", "--note", "audit 2026"])
    assert forced.exit_code == 0, forced.output
    number = forced.output.strip().splitlines()[-1]
    cert = certs.find(number)
    assert cert.user_id == tech.id and cert.forced and cert.events[0].reason == "audit 2026"
    assert cert.events[0].by_id is None


def test_certs_issue_command_for_an_eligible_technician(tiers, users, runner):
    make_tier1_eligible(users["technician"], users["trainer"])
    done = runner.invoke(args=["certs", "issue", "tech", "--tier", "certified"])
    assert done.exit_code == 0, done.output
    cert = certs.find(done.output.strip().splitlines()[-1])
    assert cert is not None and not cert.forced and all(r["met"] for r in cert.events[0].evidence)


def test_certs_sweep_command(tiers, users, runner):
    cert = certs.issue(users["technician"], tiers["certified"], date(2024, 1, 1), force=True, note="old")
    out = runner.invoke(args=["certs", "sweep"])
    assert out.exit_code == 0 and "expired 1" in out.output
    db.session.refresh(cert)
    assert cert.status == "expired"


# --- verification at the door -----------------------------------------------------------------


@pytest.fixture
def issued(tiers, users, make_user):
    trainer = users["trainer"]
    out = {}
    for name, status in (("active", None), ("suspended", "suspend"), ("expired", None), ("revoked", "revoke")):
        user = make_user(f"holder-{name}", "technician", name=f"持证人{name}", outlet="GD-GZ-01")
        day = date(2024, 1, 1) if name == "expired" else date.today()
        cert = certs.issue(user, tiers["certified"], day, by=trainer, force=True, note="test")
        if status == "suspend":
            certs.suspend(cert, "under review", by=trainer)
        if status == "revoke":
            certs.revoke(cert, "fraud", by=trainer)
        out[name] = cert
    return out


@pytest.mark.parametrize("state", ["active", "suspended", "expired", "revoked"])
def test_the_public_verification_page_shows_name_tier_status_and_date_only(app, issued, state):
    cert = issued[state]
    client = app.test_client()
    page = client.get(f"/verify/{cert.number}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-verify="{state}"' in html
    assert cert.user.name in html and "初级技师" in html and cert.valid_until.isoformat()[:4] in html
    for private in (cert.user.username, "GD-GZ-01", "广州", "under review", "fraud", "test"):
        assert private not in html, private
    api = client.get(f"/api/v1/certificates/{cert.number}")
    assert api.status_code == 200
    assert api.get_json() == {"number": cert.number, "name": cert.user.name,
                              "tier": {"code": "certified", "zh": "初级技师", "en": "Certified Technician"},
                              "status": state, "valid_until": cert.valid_until.isoformat()}


def test_lower_case_numbers_from_a_hand_typed_lookup_still_match(app, issued):
    number = issued["active"].number
    assert app.test_client().get(f"/verify/{number.lower()}").status_code == 200


def test_an_unknown_number_gets_a_plain_not_found(app, issued):
    client = app.test_client()
    page = client.get("/verify/SC-AAAA-BBBB-CCCC")
    assert page.status_code == 404 and page.mimetype == "text/plain"
    assert page.get_data(as_text=True) in ("Not found", "未找到")
    api = client.get("/api/v1/certificates/SC-AAAA-BBBB-CCCC")
    # The API's error shape, as every other /api/v1 error (see the OpenAPI document).
    assert api.status_code == 404 and api.get_json()["status"] == 404 and api.get_json()["error"]


def test_lookups_are_rate_limited_per_address(app, issued):
    app.config["PORTAL_VERIFY_RATE"] = "5 per minute"
    client = app.test_client()
    codes = [client.get(f"/verify/SC-AAAA-BBBB-CCC{n}").status_code for n in range(5)]
    assert codes == [404] * 5
    assert client.get(f"/verify/{issued['active'].number}").status_code == 429
    assert client.get(f"/api/v1/certificates/{issued['active'].number}").status_code == 429  # one budget
    other = app.test_client()
    assert other.get(f"/verify/{issued['active'].number}",
                     environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200


def test_badge_print_and_qr_for_the_holder_and_trainers_only(app, issued, users):
    cert = issued["active"]
    holder = app.test_client()
    login(holder, cert.user.username)
    for path in ("", "/badge", "/print", "/qr.svg"):
        assert holder.get(f"/certificates/{cert.number}{path}").status_code == 200, path
    badge = holder.get(f"/certificates/{cert.number}/badge").get_data(as_text=True)
    assert cert.number in badge and "初级技师" in badge and f"/certificates/{cert.number}/qr.svg" in badge
    qr = holder.get(f"/certificates/{cert.number}/qr.svg")
    assert qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    other = app.test_client()
    login(other, "tech")
    for path in ("", "/badge", "/print", "/qr.svg"):
        assert other.get(f"/certificates/{cert.number}{path}").status_code == 404, path
    trainer = app.test_client()
    login(trainer, "trainer")
    assert trainer.get(f"/certificates/{cert.number}/print").status_code == 200


def test_the_qr_code_opens_the_verification_address(app, issued):
    from portal.certification.views import verify_url

    cert = issued["active"]
    app.config["PORTAL_BASE_URL"] = "https://service.example.cn"
    with app.test_request_context():
        assert verify_url(cert) == f"https://service.example.cn/verify/{cert.number}"


# --- the register and granting on the web -----------------------------------------------------


def test_register_filters_expiring_and_csv(app, issued, users, network):
    client = app.test_client()
    login(client, "trainer")
    page = client.get("/certificates/").get_data(as_text=True)
    assert all(c.number in page for c in issued.values())
    only = client.get("/certificates/?status=suspended").get_data(as_text=True)
    assert issued["suspended"].number in only and issued["active"].number not in only
    expired = client.get("/certificates/?status=expired").get_data(as_text=True)
    assert issued["expired"].number in expired and issued["active"].number not in expired
    region = client.get(f"/certificates/?region={network['region'].id}").get_data(as_text=True)
    assert issued["active"].number in region
    none = client.get(f"/certificates/?outlet={network['outlets'][1].id}").get_data(as_text=True)
    assert issued["active"].number not in none
    soon = certs.register(expiring_days=30, today=issued["active"].valid_until - timedelta(days=20))
    assert [c.number for c in soon] == [issued["active"].number]
    assert certs.register(expiring_days=30, today=issued["active"].valid_until - timedelta(days=45)) == []
    assert len(certs.register(expiring_days=60, today=issued["active"].valid_until - timedelta(days=45))) == 1
    exported = client.get("/certificates/?status=active&format=csv&lang=en")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["number"] for r in rows] == [issued["active"].number]
    assert rows[0]["tier"] == "certified" and rows[0]["outlet"] == "GD-GZ-01" and rows[0]["region"] == "SOUTH"


def test_trainer_grants_on_evidence_and_changes_status_on_the_web(app, tiers, users):
    tech = users["technician"]
    make_tier1_eligible(tech, users["trainer"])
    client = app.test_client()
    login(client, "trainer")
    board = client.get("/certificates/eligibility").get_data(as_text=True)
    assert 'data-cell="tech/certified"' in board and "/certificates/eligibility/tech/certified" in board
    page = client.get("/certificates/eligibility/tech/certified")
    assert 'data-eligible="yes"' in page.get_data(as_text=True)
    token = get_csrf(client, "/certificates/eligibility/tech/certified")
    done = client.post("/certificates/eligibility/tech/certified", data={"csrf_token": token, "note": "well done"})
    assert done.status_code == 302
    cert = db.session.scalar(select(Certificate).where(Certificate.user_id == tech.id))
    assert cert.events[0].reason == "well done" and cert.events[0].by_id == users["trainer"].id
    missing = client.post(f"/certificates/{cert.number}/suspend", data={"csrf_token": token, "reason": ""})
    assert missing.status_code == 302
    db.session.refresh(cert)
    assert cert.status == "active"  # no reason: nothing changed
    client.post(f"/certificates/{cert.number}/suspend", data={"csrf_token": token, "reason": "complaint"})
    db.session.refresh(cert)
    assert cert.status == "suspended"
    page = client.get(f"/certificates/{cert.number}").get_data(as_text=True)
    assert 'data-event="suspended"' in page and "complaint" in page


def test_granting_the_ineligible_needs_the_box_and_a_note(app, tiers, users):
    client = app.test_client()
    login(client, "trainer")
    token = get_csrf(client, "/certificates/eligibility/tech/certified")
    page = client.post("/certificates/eligibility/tech/certified", data={"csrf_token": token, "note": "typed"})
    assert page.status_code == 200 and "typed" in page.get_data(as_text=True)
    assert db.session.scalar(select(Certificate)) is None
    client.post("/certificates/eligibility/tech/certified", data={"csrf_token": token, "force": "y", "note": ""})
    assert db.session.scalar(select(Certificate)) is None
    client.post("/certificates/eligibility/tech/certified", data={"csrf_token": token, "force": "y", "note": "pilot"})
    assert db.session.scalar(select(Certificate)).forced


def test_a_technician_sees_their_certificates_and_what_the_next_tier_needs(app, tiers, users):
    tech = users["technician"]
    client = app.test_client()
    login(client, "tech")
    page = client.get("/certificates/mine").get_data(as_text=True)
    assert 'data-requirement="quiz"' in page and 'data-met="no"' in page
    cert = certs.issue(tech, tiers["certified"], date.today(), force=True, note="x")
    page = client.get("/certificates/mine").get_data(as_text=True)
    assert cert.number in page and 'data-requirement="months_at_previous"' in page


def test_a_suspended_holder_is_told_why_and_what_lifts_it_not_that_he_can_be_granted(app, tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    make_tier1_eligible(tech, trainer)
    cert = certs.issue(tech, tiers["certified"], date.today(), by=trainer)
    certs.suspend(cert, "customer complaint under review", by=trainer)
    client = app.test_client()
    login(client, "tech")
    for url in ("/certificates/mine?lang=en", "/technician?lang=en"):
        page = client.get(url).get_data(as_text=True)
        assert "You meet every requirement" not in page and "No valid certificate yet" not in page, url
        assert "Towards Certified Technician" not in page, url
        assert 'data-paused="suspended"' in page and "customer complaint under review" in page, url
        assert "A trainer reinstates it after reviewing the reason." in page, url
    record = client.get("/technicians/tech?lang=en").get_data(as_text=True)
    assert "Towards Certified Technician" not in record
    certs.reinstate(cert, "unfounded", date.today(), by=trainer)
    certs.suspend(cert, "red-line failure in audit 7", rule="audit-red-line")
    page = client.get("/technician?lang=en").get_data(as_text=True)
    assert "red-line failure in audit 7" in page and "audit report behind it" in page
    certs.revoke(cert, "left", by=trainer)  # revoked: no longer held, the tier can be granted anew
    page = client.get("/certificates/mine?lang=en").get_data(as_text=True)
    assert "Towards Certified Technician" in page and "You meet every requirement" in page


def test_revoking_needs_an_explicit_confirmation_and_a_reason(app, tiers, users):
    tech, trainer = users["technician"], users["trainer"]
    cert = certs.issue(tech, tiers["certified"], date.today(), by=trainer, force=True, note="pilot")
    client = app.test_client()
    login(client, "trainer")
    url = f"/certificates/{cert.number}"
    page = client.get(url + "?lang=en").get_data(as_text=True)
    form = page[page.index('data-action-form="revoke"'):]
    form = form[:form.index("</form>")]
    assert 'name="confirm"' in form and "cannot be undone" in form and 'name="reason"' in form
    token = get_csrf(client, url)
    refused = client.post(url + "/revoke?lang=en", data={"csrf_token": token, "reason": "left the company"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Not revoked" in refused
    db.session.refresh(cert)
    assert cert.status == "active" and [e.action for e in cert.events] == ["issued"]
    client.post(url + "/revoke", data={"csrf_token": token, "reason": "  ", "confirm": "y"})
    db.session.refresh(cert)
    assert cert.status == "active"  # confirmed but no reason: nothing changed
    client.post(url + "/revoke", data={"csrf_token": token, "reason": "left the company", "confirm": "y"})
    db.session.refresh(cert)
    assert cert.status == "revoked" and cert.events[-1].reason == "left the company"


def test_the_csv_export_cannot_smuggle_a_spreadsheet_formula(app, tiers, make_user, users):
    user = make_user("formula", "technician", name='=HYPERLINK("http://x.example","click")')
    certs.issue(user, tiers["certified"], date.today(), force=True, note="x")
    client = app.test_client()
    login(client, "trainer")
    rows = list(csv.DictReader(io.StringIO(client.get("/certificates/?format=csv&lang=en").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x.example\",\"click\")"


def test_home_pages_show_the_badge_and_the_registers_figures(app, issued, users):
    holder = app.test_client()
    login(holder, issued["active"].user.username)
    page = holder.get("/technician").get_data(as_text=True)
    assert f'/certificates/{issued["active"].number}/badge' in page and 'data-action="badge"' in page
    expired_holder = app.test_client()
    login(expired_holder, issued["expired"].user.username)
    assert 'data-action="badge"' not in expired_holder.get("/technician").get_data(as_text=True)
    trainer = app.test_client()
    login(trainer, "trainer")
    home = trainer.get("/trainer").get_data(as_text=True)
    section = home[home.index('data-section="certification"'):]
    figures = [int(n) for n in re.findall(r'<span class="stat">(\d+)</span>', section)[:3]]
    assert figures == [1, 0, 1]  # one valid, none expiring within 30 days, one suspended


# --- network scale: the register and the technician list, a page at a time ---------------------

REGISTER_ROW = re.compile(r'<tr data-row="([^"]+)">')
TECH_ROW = re.compile(r'<tr><th scope="row"><a href="/technicians/([^"]+)">')


@pytest.fixture
def many(tiers, users, make_user, network):
    """Seven technicians at the first outlet (each certified), two at the second."""
    trainer = users["trainer"]
    out = []
    for n in range(9):
        user = make_user(f"many{n}", "technician", outlet="GD-GZ-01" if n < 7 else "GD-FS-01")
        out.append(certs.issue(user, tiers["certified"], date.today() - timedelta(days=n), by=trainer, force=True,
                               note="test"))
    return out


def test_the_register_pages_keep_their_filters_and_the_download_has_every_page(app, many, network):
    app.config["PAGE_SIZE"] = 3
    client = app.test_client()
    login(client, "trainer")
    outlet = network["outlets"][0].id
    pages, urls = walk(client, f"/certificates/?outlet={outlet}&status=active", REGISTER_ROW, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert all(f"outlet={outlet}" in u and "status=active" in u for u in urls)  # the filters survive paging
    listed = [n for p in pages for n in p]
    wanted = certs.register(outlet_id=outlet, status="active", today=date.today())
    assert listed == [c.number for c in wanted] and len(set(listed)) == 7  # page 2 goes on where page 1 ended
    assert REGISTER_ROW.findall(client.get(f"/certificates/?outlet={outlet}&status=active&page=9").get_data(
        as_text=True)) == []  # past the end: an empty page
    assert "7 certificates" in client.get(f"/certificates/?outlet={outlet}&status=active&lang=en").get_data(as_text=True)
    exported = csv_rows(client.get(f"/certificates/?outlet={outlet}&status=active&format=csv&lang=en"))
    assert [r["number"] for r in exported] == listed
    workbook = xlsx_rows(client.get(f"/certificates/?outlet={outlet}&status=active&format=xlsx&lang=en"))
    assert [r["number"] for r in workbook] == listed


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_register_download_has_each_certificates_values_in_the_readers_language(app, issued, tiers, make_user,
                                                                                    lang):
    """The download reads plain columns (no objects per row): each row is what the certificate,
    its holder, tier and place say, as the page shows them (an active one past its date as
    expired; a holder without an outlet with empty places)."""
    from portal.csvexport import place, yes_no

    nowhere = make_user("no-outlet", "technician", name="无网点")
    certs.issue(nowhere, tiers["certified"], date.today(), force=True, note="x")
    client = app.test_client()
    login(client, "trainer")
    got = list(csv.reader(io.StringIO(client.get(f"/certificates/?format=csv&lang={lang}").get_data(as_text=True)
                                      .lstrip("\ufeff"))))[1:]
    today = date.today()
    with app.test_request_context(f"/?lang={lang}"):
        from flask_babel import force_locale

        with force_locale(lang if lang == "en" else "zh_CN"):
            expected = []
            for cert in certs.register(today=today):
                outlet, status = cert.user.outlet, rules.effective_status(cert, today)
                expected.append([cert.number, cert.user.username, cert.user.name, cert.tier.code, cert.tier.title(lang),
                                 status, rules.status_label(status), cert.issued_on.isoformat(),
                                 cert.valid_until.isoformat(), *place(outlet), *place(outlet.province if outlet else None),
                                 *place(outlet.province.region if outlet else None), yes_no(cert.forced)])
    assert got == expected and len(got) == 5 and any(row[9] == "" for row in got)


def test_the_register_counts_statuses_in_sql_as_the_rules_read_them(app, issued):
    """An active certificate past its date is listed as expired, never as active."""
    today = date.today()
    for status in ("active", "expired", "suspended", "revoked", "suspended,lapsed"):
        by_sql = {c.number for c in certs.register(status=status, today=today)}
        by_rule = {c.number for c in db.session.scalars(select(Certificate))
                   if rules.effective_status(c, today) in status.split(",")}
        assert by_sql == by_rule, status


def test_the_technician_list_pages_and_its_download_has_every_page(app, many, network, tiers):
    app.config["PAGE_SIZE"] = 4
    client = app.test_client()
    login(client, "trainer")
    outlet = network["outlets"][0].id
    pages, urls = walk(client, f"/technicians/?outlet={outlet}&tier={tiers['certified'].id}", TECH_ROW, 4)
    assert [len(p) for p in pages] == [4, 3]
    assert all(f"outlet={outlet}" in u and f"tier={tiers['certified'].id}" in u for u in urls)
    listed = [n for p in pages for n in p]
    assert listed == sorted(listed) == [f"many{n}" for n in range(7)]
    assert TECH_ROW.findall(client.get(f"/technicians/?outlet={outlet}&page=3").get_data(as_text=True)) == []
    for fmt, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        rows = read(client.get(f"/technicians/?outlet={outlet}&tier={tiers['certified'].id}&format={fmt}&lang=en"))
        assert [r["username"] for r in rows] == listed
        assert {r[tiers["certified"].title("en")] for r in rows} == {"yes"}
