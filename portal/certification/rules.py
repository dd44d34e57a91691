"""Eligibility: for a technician and a tier, every requirement as met or unmet, with the
evidence behind it (which attempt, which sign-off, which audit, which dates).

The decisions are in ``certification.eligibility`` (plain values in, messages out); this module
gathers the facts they need from the database, calls them and renders their words. Audit
results come from the audits below (``audits.services.audit_results``) and from any further
source added to ``AUDIT_PROVIDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from flask import url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..assessment.models import Attempt, Quiz
from ..audits.models import Audit
from ..audits.services import audit_results
from ..auth.models import User
from ..extensions import db
from ..i18n import local_date, local_today, user_lang  # noqa: F401  (local_today: importable from here)
from ..kb.models import Contribution
from ..learning.models import Assignment, Course, SignOff
from ..learning.services import course_completed_at, due_for, latest_signoffs, reaches
from . import eligibility as pure
from .eligibility import AuditFact, Msg, add_months  # noqa: F401  (importable from here, as before)
from .models import Certificate, Tier


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


# Further sources of audit results besides the portal's own audits (an outside audit programme,
# a test): callables (user, since, until) → list[AuditFact].
AUDIT_PROVIDERS: list[Callable[[User, date, date], list[AuditFact]]] = []


# --- rendering the decisions' words -----------------------------------------------------------


def _lang() -> str:
    return user_lang()


def _day(value: date | None) -> str:
    return format_date(value, "medium") if value else ""


def _param(value):
    if isinstance(value, Msg):
        return render(value)
    if value is None or isinstance(value, date):
        return _day(value)
    return value


def render(message: Msg | str | None) -> str:
    """A decision's message in the reader's language ("" for None; a plain string as it is)."""
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    params = {key: _param(value) for key, value in message.params.items()}
    if message.plural is not None:
        return ngettext(message.msgid, message.plural, message.num, **params)
    return _(message.msgid, **params)


def _rendered(req: pure.Requirement) -> Requirement:
    return Requirement(req.kind, render(req.label), req.met,
                       [Evidence(render(e.text), e.url, e.day) for e in req.evidence],
                       [render(m) for m in req.missing])


# --- gathering the facts ----------------------------------------------------------------------


def _courses(slugs):
    found = {c.slug: c for c in db.session.scalars(select(Course).where(Course.slug.in_(list(slugs))))}
    return [found[s] for s in slugs if s in found]


def _course_facts(user: User, slugs: list[str], lang: str) -> list[pure.CourseFact]:
    return [pure.CourseFact(course.text("title", lang), url_for("learning.course", slug=course.slug),
                              local_date(course_completed_at([user.id], course).get(user.id)))
            for course in _courses(slugs)]


def _quiz_fact(user: User, spec: dict, lang: str) -> pure.QuizFact:
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == spec["slug"]))
    if quiz is None:
        return pure.QuizFact(spec["slug"], available=False)
    attempts = db.session.scalars(select(Attempt).where(
        Attempt.user_id == user.id, Attempt.quiz_id == quiz.id, Attempt.status != "open").order_by(Attempt.id))
    return pure.QuizFact(quiz.title(lang), True, [
        pure.AttemptFact(a.id, a.number, a.score, bool(a.passed), url_for("assessment.result", attempt_id=a.id),
                           local_date(a.submitted_at)) for a in attempts])


def _tasks_fact(user: User, slugs: list[str], lang: str) -> pure.TasksFact:
    courses = _courses(slugs)
    facts = []
    for course in courses:
        tasks = course.tasks()
        latest = latest_signoffs(user.id, [t.id for t in tasks])
        for task in tasks:
            signoff = latest.get(task.id)
            if signoff is None:
                facts.append(pure.TaskFact(task.text("title", lang)))
            else:
                facts.append(pure.TaskFact(task.text("title", lang), bool(signoff.passed),
                                             signoff.trainer.display_name if signoff.trainer else None,
                                             local_date(signoff.created_at)))
    return pure.TasksFact([c.text("title", lang) for c in courses], facts)


def _previous_fact(user: User, tier: Tier, lang: str) -> pure.PreviousTierFact:
    below = db.session.scalar(select(Tier).where(Tier.level == tier.level - 1, Tier.active))
    if below is None:
        return pure.PreviousTierFact(None)
    held = db.session.scalars(select(Certificate).where(
        Certificate.user_id == user.id, Certificate.tier_id == below.id).order_by(Certificate.issued_on))
    return pure.PreviousTierFact(below.title(lang), [
        pure.HeldCertificate(c.number, c.issued_on, c.valid_until, c.status,
                               url_for("certification.certificate", number=c.number)) for c in held])


def _audit_facts(user: User, spec: dict, today: date) -> tuple[list[AuditFact], list[date]]:
    """(the audits of the window, the days of the portal's audits after it: they enter the
    window when their day comes)."""
    since, until = pure.audit_window(spec, today)
    found = audit_results(user, since, date.max)
    own = [AuditFact(r.day, r.score, r.red_line, r.label, r.url) for r in found if r.day <= until]
    ahead = [r.day for r in found if r.day > until]
    return own + [f for provider in AUDIT_PROVIDERS for f in provider(user, since, until)], ahead


def _contribution_facts(user: User) -> list[pure.ContributionFact]:
    rows = db.session.scalars(select(Contribution).where(
        Contribution.author_id == user.id, Contribution.status == "approved").order_by(Contribution.reviewed_at))
    return [pure.ContributionFact(str((row.data or {}).get("title") or "") or (row.case.title if row.case else ""),
                                    local_date(row.reviewed_at),
                                    url_for("kb.case", slug=row.case.slug) if row.case else None) for row in rows]


def _quarterly_candidates(user: User) -> list[tuple[date, tuple[Assignment, Course]]]:
    rows = db.session.execute(select(Assignment, Course).join(Course, Assignment.course_id == Course.id).where(
        Course.kind == "quarterly", Course.active, Assignment.withdrawn_at.is_(None)).order_by(Assignment.due_date.desc(), Assignment.id.desc())).all()
    # A late joiner's own due date (learning.services.due_for) decides what is past, not the common one.
    return [(due_for(a, user), (a, c)) for a, c in rows if reaches(a, user)]


def current_quarterly(user: User, today: date):
    """(assignment, course) of the holder's current quarterly course: of the quarterly courses
    assigned to them, the one due most recently (or next, if none is due yet). None if none."""
    return pure.pick_current_quarterly(_quarterly_candidates(user), today)


def _quarterly_fact(user: User, today: date, lang: str,
                    candidates: list | None = None) -> pure.QuarterlyFact | None:
    candidates = _quarterly_candidates(user) if candidates is None else candidates
    found = pure.pick_current_quarterly(candidates, today)
    if found is None:
        return None
    assignment, course = found
    return pure.QuarterlyFact(course.text("title", lang), url_for("learning.course", slug=course.slug),
                                due_for(assignment, user),
                                local_date(course_completed_at([user.id], course).get(user.id)))


def gather(user: User, tier: Tier, today: date, renewal: bool = False) -> pure.Facts:
    """The facts the tier's requirements are decided on (only those it asks for)."""
    spec = tier.requirements or {}
    kinds = pure.asked(spec, renewal)
    lang = _lang() if {"courses", "quiz", "tasks", "months_at_previous", "current_quarterly"} & set(kinds) else ""
    facts = {}
    if "courses" in kinds:
        facts["courses"] = _course_facts(user, spec["courses"], lang)
    if "quiz" in kinds:
        facts["quiz"] = _quiz_fact(user, spec["quiz"], lang)
    if "tasks" in kinds:
        facts["tasks"] = _tasks_fact(user, spec["tasks"], lang)
    if "months_at_previous" in kinds:
        facts["previous"] = _previous_fact(user, tier, lang)
    if "audits" in kinds:
        facts["audits"], facts["audit_days_ahead"] = _audit_facts(user, spec["audits"], today)
        facts["audits_unforeseeable"] = bool(AUDIT_PROVIDERS)
    if "contributions" in kinds:
        facts["contributions"] = _contribution_facts(user)
    if "current_quarterly" in kinds:
        candidates = _quarterly_candidates(user)
        facts["quarterly"] = _quarterly_fact(user, today, lang, candidates)
        facts["quarterly_dues"] = [due for due, _item in candidates]
    return pure.Facts(**facts)


def eligibility(user: User, tier: Tier, today: date, renewal: bool = False) -> Eligibility:
    """Every requirement of the tier for this technician. For a renewal, the time held at the
    tier below is not asked again (it was an entry requirement)."""
    spec = tier.requirements or {}
    decided = pure.decide(spec, gather(user, tier, today, renewal), today, renewal)
    return Eligibility(user, tier, [_rendered(r) for r in decided])


@dataclass
class Standing:
    """The eligibility board's figure for one technician and tier (no words rendered)."""

    eligible: bool
    unmet: int
    recheck_on: date | None  # the first day the date alone may change it (None: never)


def standings(users: list[User], tier: Tier, today: date) -> dict[int, Standing]:
    """``standing`` for many technicians at once (user id → Standing): the same decision
    (``eligibility.decide`` and ``changes_on``) on the same facts, gathered with a query or two
    per kind of fact for all of them rather than a dozen per technician. Titles and addresses are
    left out: the figure does not show them. The board's refresh uses it; ``tests/
    test_eligibility_board.py`` checks it against ``eligibility`` after random changes."""
    spec = tier.requirements or {}
    kinds = pure.asked(spec)
    ids = [u.id for u in users]
    per: dict[int, dict] = {u.id: {} for u in users}
    if not ids:
        return {}
    if "courses" in kinds:
        found = [(c, course_completed_at(ids, c)) for c in _courses(spec["courses"])]
        for uid in ids:
            per[uid]["courses"] = [pure.CourseFact(c.slug, "", local_date(done.get(uid))) for c, done in found]
    if "quiz" in kinds:
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == spec["quiz"]["slug"]))
        tried: dict[int, list] = {uid: [] for uid in ids}
        if quiz is not None:
            for uid, aid, number, score, passed in db.session.execute(
                    select(Attempt.user_id, Attempt.id, Attempt.number, Attempt.score, Attempt.passed).where(
                        Attempt.user_id.in_(ids), Attempt.quiz_id == quiz.id, Attempt.status != "open")
                    .order_by(Attempt.id)):
                tried[uid].append(pure.AttemptFact(aid, number, score, bool(passed), ""))
        for uid in ids:
            per[uid]["quiz"] = (pure.QuizFact(spec["quiz"]["slug"], available=False) if quiz is None
                                else pure.QuizFact(quiz.slug, True, tried[uid]))
    if "tasks" in kinds:
        task_ids = [t.id for c in _courses(spec["tasks"]) for t in c.tasks()]
        latest: dict[tuple[int, int], bool] = {}
        if task_ids:
            for uid, task_id, passed in db.session.execute(
                    select(SignOff.user_id, SignOff.task_id, SignOff.passed).where(
                        SignOff.user_id.in_(ids), SignOff.task_id.in_(task_ids))
                    .order_by(SignOff.attempt, SignOff.id)):
                latest[(uid, task_id)] = bool(passed)  # the last sign-off of each task counts
        for uid in ids:
            per[uid]["tasks"] = pure.TasksFact((), [pure.TaskFact("", latest.get((uid, t))) for t in task_ids])
    if "months_at_previous" in kinds:
        below = db.session.scalar(select(Tier).where(Tier.level == tier.level - 1, Tier.active))
        held: dict[int, list] = {uid: [] for uid in ids}
        if below is not None:
            for uid, number, issued, until, status in db.session.execute(
                    select(Certificate.user_id, Certificate.number, Certificate.issued_on, Certificate.valid_until,
                           Certificate.status).where(Certificate.user_id.in_(ids), Certificate.tier_id == below.id)
                    .order_by(Certificate.issued_on, Certificate.id)):
                held[uid].append(pure.HeldCertificate(number, issued, until, status, ""))
        for uid in ids:
            per[uid]["previous"] = pure.PreviousTierFact(None if below is None else below.code, held[uid])
    if "audits" in kinds:
        since, until = pure.audit_window(spec["audits"], today)
        days: dict[int, list] = {uid: [] for uid in ids}
        for uid, visited, score, red in db.session.execute(
                select(Audit.technician_id, Audit.visited_at, Audit.score, Audit.red_line_failed).where(
                    Audit.technician_id.in_(ids), Audit.status == "submitted")):
            days[uid].append((local_date(visited), score or 0.0, red))  # as audits.services.audit_results
        by_id = {u.id: u for u in users}
        for uid in ids:
            facts = [AuditFact(d, score, red, "") for d, score, red in days[uid] if since <= d <= until]
            facts += [f for provider in AUDIT_PROVIDERS for f in provider(by_id[uid], since, until)]
            per[uid].update(audits=facts, audit_days_ahead=[d for d, _s, _r in days[uid] if d > until],
                            audits_unforeseeable=bool(AUDIT_PROVIDERS))
    if "contributions" in kinds:
        accepted = dict(db.session.execute(select(Contribution.author_id, func.count()).where(
            Contribution.author_id.in_(ids), Contribution.status == "approved").group_by(Contribution.author_id)).all())
        for uid in ids:
            per[uid]["contributions"] = [pure.ContributionFact("")] * accepted.get(uid, 0)
    if "current_quarterly" in kinds:
        rows = db.session.execute(select(Assignment, Course).join(Course, Assignment.course_id == Course.id).where(
            Course.kind == "quarterly", Course.active, Assignment.withdrawn_at.is_(None)).order_by(Assignment.due_date.desc(), Assignment.id.desc())).all()
        chosen: dict[int, tuple] = {}
        for user in users:
            candidates = [(due_for(a, user), (a, c)) for a, c in rows if reaches(a, user)]
            per[user.id]["quarterly_dues"] = [due for due, _item in candidates]
            picked = pure.pick_current_quarterly(candidates, today)
            if picked is not None:
                chosen[user.id] = (picked[1], due_for(picked[0], user))
        done: dict[int, dict] = {}
        for course in {c.id: c for c, _due in chosen.values()}.values():
            done[course.id] = course_completed_at([uid for uid, (c, _d) in chosen.items() if c.id == course.id],
                                                  course)
        for uid in ids:
            if uid in chosen:
                course, due = chosen[uid]
                per[uid]["quarterly"] = pure.QuarterlyFact(course.slug, "", due,
                                                           local_date(done[course.id].get(uid)))
            else:
                per[uid]["quarterly"] = None
    out = {}
    for uid in ids:
        facts = pure.Facts(**per[uid])
        decided = pure.decide(spec, facts, today)
        out[uid] = Standing(all(r.met for r in decided), sum(1 for r in decided if not r.met),
                            pure.changes_on(spec, facts, today))
    return out


# --- certificate status -----------------------------------------------------------------------


def _events(cert: Certificate) -> list[pure.Event]:
    return [(e.action, e.rule, e.valid_until) for e in cert.events]


def effective_status(cert: Certificate, today: date) -> str:
    """The status as of today: an active certificate past its date is expired even before the
    daily sweep writes it down."""
    return pure.effective_status(cert.status, cert.valid_until, today)


def what_lifts_it(cert: Certificate, today: date) -> str:
    """For a certificate that is not valid: what makes it valid again, in words for its holder."""
    # The log is read only when the decision looks at it (a suspended certificate), as before.
    events = _events(cert) if effective_status(cert, today) == "suspended" else []
    return render(pure.what_lifts_it(cert.status, cert.valid_until, events, today))


def renewal_refusal(cert: Certificate, today: date, window_days: int) -> str | None:
    """Why this certificate cannot be renewed today, or None (``eligibility.renewal_refusal``)."""
    events = _events(cert) if effective_status(cert, today) == "active" else []  # read only when looked at
    refusal = pure.renewal_refusal(cert.status, cert.valid_until, events, today, window_days)
    return None if refusal is None else render(refusal)


def status_label(status: str) -> str:
    return render(pure.status_label(status))
