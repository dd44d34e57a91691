"""Eligibility: for a technician and a tier, every requirement as met or unmet, with the
evidence behind it (which attempt, which sign-off, which audit, which dates).

Each requirement in tiers.yaml has a checker here. The audit record comes from providers the
audit work registers (``AUDIT_PROVIDERS``); until there is one, it reads "no audits yet".
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from .models import Certificate, Tier


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def local_date(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    from zoneinfo import ZoneInfo

    from flask import current_app

    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


@dataclass
class Evidence:
    text: str
    url: str | None = None
    day: date | None = None

    def as_dict(self) -> dict:
        return {"text": self.text, "url": self.url, "date": self.day.isoformat() if self.day else None}


@dataclass
class Requirement:
    kind: str
    label: str
    met: bool
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what is still needed, in words

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "met": self.met,
                "evidence": [e.as_dict() for e in self.evidence], "missing": self.missing}


@dataclass
class Eligibility:
    user: User
    tier: Tier
    requirements: list[Requirement]

    @property
    def eligible(self) -> bool:
        return all(r.met for r in self.requirements)

    @property
    def unmet(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.met]

    def snapshot(self) -> list[dict]:
        return [r.as_dict() for r in self.requirements]


@dataclass
class AuditFact:
    """One audit of a technician, as the audit work reports it."""

    day: date
    score: float  # percent
    red_line: bool
    label: str
    url: str | None = None


# Callables (user, since, until) → list[AuditFact]; the audit work appends one.
AUDIT_PROVIDERS: list[Callable[[User, date, date], list[AuditFact]]] = []


def _lang() -> str:
    from ..i18n import user_lang

    return user_lang()


def _day(value: date | None) -> str:
    return format_date(value, "medium") if value else ""


def _courses(slugs):
    from ..learning.models import Course

    found = {c.slug: c for c in db.session.scalars(select(Course).where(Course.slug.in_(list(slugs))))}
    return [found[s] for s in slugs if s in found]


def check_courses(user: User, slugs: list[str], today: date) -> Requirement:
    from ..learning.services import course_completed_at, due_for

    lang = _lang()
    courses = _courses(slugs)
    req = Requirement("courses", _("Courses completed: %(names)s",
                                   names=", ".join(c.text("title", lang) for c in courses)), True)
    for course in courses:
        done = course_completed_at([user.id], course).get(user.id)
        if done is None:
            req.met = False
            req.missing.append(_("%(course)s is not complete yet (every lesson done and its quiz passed).",
                                 course=course.text("title", lang)))
        else:
            req.evidence.append(Evidence(_("%(course)s completed on %(day)s", course=course.text("title", lang),
                                           day=_day(local_date(done))),
                                         url_for("learning.course", slug=course.slug), local_date(done)))
    return req


def check_quiz(user: User, spec: dict, today: date) -> Requirement:
    from ..assessment.models import Attempt, Quiz

    lang = _lang()
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == spec["slug"]))
    title = quiz.title(lang) if quiz else spec["slug"]
    minimum = float(spec.get("min_score", 0))
    req = Requirement("quiz", _("%(quiz)s passed with at least %(score)d%%", quiz=title, score=round(minimum)), False)
    if quiz is None:
        req.missing.append(_("The quiz is not available."))
        return req
    attempts = list(db.session.scalars(select(Attempt).where(
        Attempt.user_id == user.id, Attempt.quiz_id == quiz.id, Attempt.status != "open").order_by(Attempt.id)))
    good = [a for a in attempts if a.passed and (a.score or 0) >= minimum]
    if good:
        best = max(good, key=lambda a: (a.score or 0, -a.id))
        req.met = True
        req.evidence.append(Evidence(
            _("Attempt %(n)d: %(score)s%% on %(day)s", n=best.number, score=f"{best.score:g}",
              day=_day(local_date(best.submitted_at))),
            url_for("assessment.result", attempt_id=best.id), local_date(best.submitted_at)))
    elif attempts:
        best = max(attempts, key=lambda a: a.score or 0)
        req.missing.append(ngettext("Best so far: %(score)s%% in %(num)d attempt.",
                                    "Best so far: %(score)s%% in %(num)d attempts.", len(attempts),
                                    score=f"{best.score or 0:g}"))
    else:
        req.missing.append(_("Not taken yet."))
    return req


def check_tasks(user: User, slugs: list[str], today: date) -> Requirement:
    from ..learning.services import latest_signoffs

    lang = _lang()
    courses = _courses(slugs)
    req = Requirement("tasks", _("Every practical task of %(names)s signed off",
                                 names=", ".join(c.text("title", lang) for c in courses)), True)
    for course in courses:
        tasks = course.tasks()
        latest = latest_signoffs(user.id, [t.id for t in tasks])
        for task in tasks:
            signoff = latest.get(task.id)
            if signoff is not None and signoff.passed:
                trainer = signoff.trainer.display_name if signoff.trainer else "—"
                req.evidence.append(Evidence(
                    _("%(task)s: passed, signed off by %(trainer)s on %(day)s", task=task.text("title", lang),
                      trainer=trainer, day=_day(local_date(signoff.created_at))),
                    None, local_date(signoff.created_at)))
            else:
                req.met = False
                req.missing.append(_("%(task)s: not signed off yet", task=task.text("title", lang))
                                   if signoff is None else
                                   _("%(task)s: not passed at the last sign-off", task=task.text("title", lang)))
    return req


def effective_status(cert: Certificate, today: date) -> str:
    """The status as of today: an active certificate past its date is expired even before the
    daily sweep writes it down."""
    if cert.status == "active" and cert.valid_until < today:
        return "expired"
    return cert.status


def what_lifts_it(cert: Certificate, today: date) -> str:
    """For a certificate that is not valid: what makes it valid again, in words for its holder."""
    status = effective_status(cert, today)
    if status == "suspended":
        last = next((e for e in reversed(list(cert.events)) if e.action == "suspended"), None)
        if last is not None and last.rule.startswith("audit"):
            return _("A trainer reinstates it after reviewing the audit report behind it (for example once the "
                     "report is amended).")
        return _("A trainer reinstates it after reviewing the reason.")
    if status == "lapsed":
        return _("Complete the current quarterly course; then a trainer reinstates or renews it.")
    if status == "expired":
        return _("A trainer renews it while you meet the tier's requirements.")
    if status == "revoked":
        return _("A revoked certificate is final: a new one is issued only on new evidence.")
    return ""


def renewal_refusal(cert: Certificate, today: date, window_days: int) -> str | None:
    """Why this certificate cannot be renewed today, or None. Expired and lapsed certificates
    renew from today. A valid one renews from its current expiry, only within ``window_days``
    before it, and once per validity period: a renewal made ahead of the current period's end
    is not made again until that new period has begun."""
    status = effective_status(cert, today)
    if status not in ("active", "expired", "lapsed"):
        return _("Not possible while the certificate's status is “%(status)s”.", status=status_label(status))
    if status != "active":
        return None
    events = list(cert.events)
    renewals = [i for i, e in enumerate(events) if e.action == "renewed"]
    if renewals:
        last = renewals[-1]
        previous = next((e.valid_until for e in reversed(events[:last]) if e.valid_until), None)
        if (events[last].valid_until == cert.valid_until and previous is not None and previous < cert.valid_until
                and today < previous):
            return _("Already renewed for the next period: it runs from %(start)s to %(until)s.",
                     start=_day(previous), until=_day(cert.valid_until))
    opens = date.fromordinal(cert.valid_until.toordinal() - window_days)
    if today < opens:
        return _("Too early: a valid certificate can be renewed from %(day)s, %(n)d days before it expires "
                 "on %(until)s.", day=_day(opens), n=window_days, until=_day(cert.valid_until))
    return None


def check_months_at_previous(user: User, tier: Tier, months: int, today: date) -> Requirement:
    lang = _lang()
    below = db.session.scalar(select(Tier).where(Tier.level == tier.level - 1, Tier.active))
    name = below.title(lang) if below else "—"
    req = Requirement("months_at_previous", ngettext("At least %(num)d month as %(tier)s", "At least %(num)d months as %(tier)s", months, tier=name), False)
    if below is None:
        return req
    held = list(db.session.scalars(select(Certificate).where(
        Certificate.user_id == user.id, Certificate.tier_id == below.id).order_by(Certificate.issued_on)))
    current = [c for c in held if effective_status(c, today) == "active"]
    if not current:
        req.missing.append(_("No valid %(tier)s certificate.", tier=name) if not held else
                           _("The %(tier)s certificate is %(status)s.", tier=name,
                             status=status_label(effective_status(held[-1], today))))
        return req
    cert = current[0]
    since = cert.issued_on
    enough = add_months(since, months) <= today
    req.met = enough
    req.evidence.append(Evidence(_("Certificate %(number)s held since %(day)s", number=cert.number, day=_day(since)),
                                 url_for("certification.certificate", number=cert.number), since))
    if not enough:
        req.missing.append(_("Eligible from %(day)s.", day=_day(add_months(since, months))))
    return req


def check_audits(user: User, spec: dict, today: date) -> Requirement:
    count, average, months = int(spec["count"]), float(spec.get("average", 0)), int(spec.get("months", 12))
    req = Requirement("audits", _(
        "At least %(count)d audits in the last %(months)d months, averaging %(average)s or more, "
        "with no red-line failure", count=count, months=months, average=f"{average:g}"), False)
    since = add_months(today, -months)
    facts = sorted((f for provider in AUDIT_PROVIDERS for f in provider(user, since, today)), key=lambda f: f.day)
    if not facts:
        req.missing.append(_("No audits yet."))
        return req
    mean = sum(f.score for f in facts) / len(facts)
    red = [f for f in facts if f.red_line]
    for fact in facts:
        req.evidence.append(Evidence(
            _("%(audit)s on %(day)s: %(score)s%%%(red)s", audit=fact.label, day=_day(fact.day), score=f"{fact.score:g}",
              red=_(" (red-line failure)") if fact.red_line else ""), fact.url, fact.day))
    req.met = len(facts) >= count and mean >= average and not red
    if len(facts) < count:
        req.missing.append(_("%(n)d of %(count)d audits.", n=len(facts), count=count))
    if mean < average:
        req.missing.append(_("Average %(mean)s, below %(average)s.", mean=f"{mean:.1f}", average=f"{average:g}"))
    if red:
        req.missing.append(_("A red-line failure on %(day)s.", day=_day(red[-1].day)))
    return req


def check_contributions(user: User, needed: int, today: date) -> Requirement:
    from ..kb.models import Contribution

    req = Requirement("contributions", _("At least %(n)d accepted knowledge-base contributions", n=needed), False)
    rows = list(db.session.scalars(select(Contribution).where(
        Contribution.author_id == user.id, Contribution.status == "approved").order_by(Contribution.reviewed_at)))
    for row in rows:
        title = str((row.data or {}).get("title") or "") or (row.case.title if row.case else "")
        req.evidence.append(Evidence(_("%(title)s, accepted on %(day)s", title=title,
                                       day=_day(local_date(row.reviewed_at))),
                                     url_for("kb.case", slug=row.case.slug) if row.case else None,
                                     local_date(row.reviewed_at)))
    req.met = len(rows) >= needed
    if not req.met:
        req.missing.append(_("%(n)d of %(needed)d.", n=len(rows), needed=needed))
    return req


def current_quarterly(user: User, today: date):
    """(assignment, course) of the holder's current quarterly course: of the quarterly courses
    assigned to them, the one due most recently (or next, if none is due yet). None if none."""
    from ..learning.models import Assignment, Course
    from ..learning.services import due_for, reaches

    rows = db.session.execute(select(Assignment, Course).join(Course, Assignment.course_id == Course.id).where(
        Course.kind == "quarterly", Course.active).order_by(Assignment.due_date.desc(), Assignment.id.desc())).all()
    mine = [(a, c) for a, c in rows if reaches(a, user)]
    if not mine:
        return None
    # A late joiner's own due date (learning.services.due_for) decides what is past, not the common one.
    past = [(a, c) for a, c in mine if due_for(a, user) <= today]
    return past[0] if past else mine[-1]


def check_current_quarterly(user: User, today: date) -> Requirement:
    from ..learning.services import course_completed_at, due_for

    lang = _lang()
    req = Requirement("current_quarterly", _("The current quarterly product course completed"), True)
    found = current_quarterly(user, today)
    if found is None:
        req.evidence.append(Evidence(_("No quarterly course has been assigned yet.")))
        return req
    assignment, course = found
    done = course_completed_at([user.id], course).get(user.id)
    if done is None:
        req.met = False
        req.missing.append(_("%(course)s, due %(day)s: not complete yet.", course=course.text("title", lang),
                             day=_day(due_for(assignment, user))))
    else:
        req.evidence.append(Evidence(_("%(course)s completed on %(day)s", course=course.text("title", lang),
                                       day=_day(local_date(done))),
                                     url_for("learning.course", slug=course.slug), local_date(done)))
    return req


def eligibility(user: User, tier: Tier, today: date, renewal: bool = False) -> Eligibility:
    """Every requirement of the tier for this technician. For a renewal, the time held at the
    tier below is not asked again (it was an entry requirement)."""
    spec = tier.requirements or {}
    out = []
    if spec.get("courses"):
        out.append(check_courses(user, spec["courses"], today))
    if spec.get("quiz"):
        out.append(check_quiz(user, spec["quiz"], today))
    if spec.get("tasks"):
        out.append(check_tasks(user, spec["tasks"], today))
    if spec.get("months_at_previous") and not renewal:
        out.append(check_months_at_previous(user, tier, int(spec["months_at_previous"]), today))
    if spec.get("audits"):
        out.append(check_audits(user, spec["audits"], today))
    if spec.get("contributions"):
        out.append(check_contributions(user, int(spec["contributions"]), today))
    if spec.get("current_quarterly"):
        out.append(check_current_quarterly(user, today))
    return Eligibility(user, tier, out)


def status_label(status: str) -> str:
    return {"active": _("Valid"), "expired": _("Expired"), "suspended": _("Suspended"), "lapsed": _("Lapsed"),
            "revoked": _("Revoked")}.get(status, status)


def local_today() -> date:
    """Today in the portal's time zone (certificates are dated in local days)."""
    from zoneinfo import ZoneInfo

    from flask import current_app

    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
