"""The technician record: everything the portal knows about one technician, in one place, and
a timeline of it newest first. Read by ``/technicians/USERNAME`` and
``GET /api/v1/technicians/USERNAME/record``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from flask import url_for
from flask_babel import format_date
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select

from ..assessment.models import Attempt, Quiz
from ..audits.loader import all_items
from ..audits.models import Audit, AuditConsequence
from ..auth.models import User
from ..certification.models import Certificate
from ..certification.rules import effective_status, eligibility, status_label
from ..certification.services import action_label
from ..certification.services import next_tier as tier_to_work_towards
from ..extensions import db
from ..kb.models import Contribution
from ..learning import services as learning
from ..learning.models import LessonProgress, SignOff


@dataclass
class Event:
    at: datetime
    kind: str  # lesson | quiz | certificate | audit | assignment | contribution | signoff
    text: str
    url: str | None = None


@dataclass
class QuizLine:
    title: str
    attempts: int
    best: float | None
    passed: bool
    last: datetime | None
    url: str | None


@dataclass
class FullRecord:
    user: User
    onboarding: object | None  # learning CourseProgress of the latest cohort
    cohort: object | None
    courses: list  # learning MyAssignment
    quizzes: list[QuizLine]
    certificates: list
    statuses: dict
    next_tier: object | None
    next_check: object | None
    audits: list
    audit_chart: Markup
    failed_items: list[tuple[str, int]]
    targeted: list  # learning MyTargeted
    caused_by: dict  # targeted id → audit id
    consequences: list
    contributions: list
    timeline: list[Event] = field(default_factory=list)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=timezone.utc)


def full_record(user: User, today: date, lang: str, viewer_is_trainer: bool) -> FullRecord:
    cohorts = learning.cohorts_of(user)
    cohort = cohorts[0] if cohorts else None
    onboarding = learning.course_progress(user, cohort.course, cohort.start_date) if cohort else None
    courses = learning.assignments_for(user, today)

    attempts = list(db.session.scalars(select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.id)))
    by_quiz: dict[int, list] = {}
    for attempt in attempts:
        by_quiz.setdefault(attempt.quiz_id, []).append(attempt)
    quizzes = []
    for quiz_id, rows in by_quiz.items():
        quiz = db.session.get(Quiz, quiz_id)
        closed = [a for a in rows if a.status != "open"]
        best = max(closed, key=lambda a: a.score or 0, default=None)
        quizzes.append(QuizLine(quiz.title(lang), len(closed),
                                best.score if best else None, any(a.passed for a in closed),
                                max((a.submitted_at for a in closed if a.submitted_at), default=None),
                                url_for("assessment.result", attempt_id=best.id) if best else None))

    certs = list(db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)
                                    .order_by(Certificate.issued_on.desc())))
    statuses = {c.id: effective_status(c, today) for c in certs}
    next_tier = tier_to_work_towards(user, today)  # a suspended or lapsed tier is still held
    next_check = eligibility(user, next_tier, today) if next_tier else None

    audits = list(db.session.scalars(select(Audit).where(Audit.technician_id == user.id, Audit.status == "submitted")
                                     .order_by(Audit.visited_at, Audit.id)))
    failed: dict[str, int] = {}
    for audit in audits:
        items = all_items(audit.template.spec)
        for item_id in audit.failed_items or []:
            if item_id in items:
                text = items[item_id]["text"][lang]
                failed[text] = failed.get(text, 0) + 1
    consequences = list(db.session.scalars(select(AuditConsequence).join(Audit).where(
        Audit.technician_id == user.id).order_by(AuditConsequence.id.desc())))
    caused_by = {c.targeted_id: c.audit_id for c in consequences if c.targeted_id}
    targeted = learning.targeted_for(user, today)
    contributions = list(db.session.scalars(select(Contribution).where(Contribution.author_id == user.id)
                                            .order_by(Contribution.created_at.desc())))

    record = FullRecord(user, onboarding, cohort, courses, quizzes, certs, statuses, next_tier, next_check,
                        list(reversed(audits)), trend_svg(audits), sorted(failed.items(), key=lambda kv: -kv[1]),
                        targeted, caused_by, consequences, contributions)

    # The timeline: everything dated, newest first.
    events = record.timeline
    for progress in db.session.scalars(select(LessonProgress).where(
            LessonProgress.user_id == user.id, LessonProgress.completed_at.is_not(None))):
        events.append(Event(progress.completed_at, "lesson", _("Lesson done: %(title)s",
                                                              title=progress.lesson.text("title", lang))))
    for attempt in attempts:
        if attempt.submitted_at:
            quiz = db.session.get(Quiz, attempt.quiz_id)
            events.append(Event(attempt.submitted_at, "quiz", _("%(quiz)s: %(score)s%%, %(result)s",
                                                               quiz=quiz.title(lang),
                                                               score=f"{attempt.score or 0:g}",
                                                               result=_("passed") if attempt.passed else _("not passed")),
                                url_for("assessment.result", attempt_id=attempt.id)))
    for signoff in db.session.scalars(select(SignOff).where(SignOff.user_id == user.id)):
        events.append(Event(signoff.created_at, "signoff", _("Practical task %(task)s: %(result)s",
                                                             task=signoff.task.text("title", lang),
                                                             result=_("passed") if signoff.passed else _("not passed"))))

    for cert in certs:
        for event in cert.events:
            events.append(Event(event.at, "certificate", f"{cert.tier.title(lang)} {cert.number}: "
                                f"{action_label(event.action)}" + (f" — {event.shown_reason}" if event.reason else ""),
                                url_for("certification.certificate", number=cert.number)))
    for audit in audits:
        events.append(Event(audit.submitted_at or audit.visited_at, "audit",
                            _("Audit report #%(n)d: %(score)s%%", n=audit.id, score=f"{audit.score or 0:g}")
                            + (" · " + _("Red line") if audit.red_line_failed else ""),
                            url_for("audits.view", audit_id=audit.id)))
    for item in targeted:
        row = item.targeted
        title = (row.lesson or row.module).text("title", lang)
        events.append(Event(row.created_at, "assignment", _("Assigned: %(title)s — %(reason)s", title=title,
                                                            reason=row.shown_reason)))
    for contribution in contributions:
        title = str((contribution.data or {}).get("title") or "")
        events.append(Event(contribution.reviewed_at or contribution.created_at, "contribution",
                            _("Contribution %(title)s: %(status)s", title=title,
                              status=contribution_status(contribution.status))))
    events.sort(key=lambda e: e.at, reverse=True)
    return record


def contribution_status(status: str) -> str:
    return {"pending": _("waiting for review"), "approved": _("accepted"), "rejected": _("not accepted")}.get(
        status, status)


def trend_svg(audits: list) -> Markup:
    """Audit scores over time as a small line chart (oldest left); plain SVG, readable at 360 px."""
    points = [(a.visited_at, a.score or 0.0, a.red_line_failed) for a in audits if a.score is not None]
    if len(points) < 2:
        return Markup("")
    width, height, pad = 320, 140, 28
    first, last = points[0][0].timestamp(), points[-1][0].timestamp()
    span = max(last - first, 1)

    def xy(moment, score):
        return (pad + (width - 2 * pad) * (moment.timestamp() - first) / span,
                height - pad - (height - 2 * pad) * score / 100)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="trend">',
             f'<title>{escape(_("Audit scores over time"))}</title>']
    for level in (0, 50, 100):
        y = height - pad - (height - 2 * pad) * level / 100
        parts.append(f'<line x1="{pad}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="#cbd2d9"/>')
        parts.append(f'<text x="{pad - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#52606d">{level}</text>')
    coords = [xy(m, s) for m, s, _r in points]
    parts.append('<polyline fill="none" stroke="#0b5cad" stroke-width="2" points="'
                 + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for (x, y), (moment, score, red) in zip(coords, points):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{"#b42318" if red else "#0b5cad"}">'
                     f'<title>{_day(moment.date())}: {score:g}%</title></circle>')
    parts.append(f'<text x="{pad}" y="{height - 8}" font-size="10" fill="#52606d">{_day(points[0][0].date())}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 8}" font-size="10" text-anchor="end" fill="#52606d">'
                 f'{_day(points[-1][0].date())}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass
class Step:
    rank: int  # lower first: how urgent
    kind: str
    text: str
    url: str | None
    due: date | None = None


SOON_DAYS = 7
EXPIRY_DAYS = 30


def next_steps(user: User, today: date, lang: str) -> list[Step]:
    """What a technician should do next, most urgent first: overdue learning; a suspended or
    lapsed certificate; an unfinished quiz attempt; learning due within a week; a certificate
    expiring within 30 days; audits to acknowledge; other learning; contributions' status."""
    steps: list[Step] = []

    def learning_step(title, due, overdue, url):
        if overdue:
            steps.append(Step(0, "overdue", _("Overdue: %(title)s (due %(day)s)", title=title, day=_day(due)), url, due))
        elif (due - today).days <= SOON_DAYS:
            steps.append(Step(3, "due-soon", _("Due soon: %(title)s (%(day)s)", title=title, day=_day(due)), url, due))
        else:
            steps.append(Step(6, "due", _("%(title)s, due %(day)s", title=title, day=_day(due)), url, due))

    for item in learning.assignments_for(user, today):
        if not item.progress.complete:
            course = item.assignment.course
            learning_step(course.text("title", lang), item.due, item.overdue,
                          url_for("learning.course", slug=course.slug))
    for item in learning.targeted_for(user, today):
        if not item.complete:
            row = item.targeted
            url = (url_for("learning.lesson", slug=row.course.slug, lesson=row.lesson.slug) if row.lesson
                   else url_for("learning.course", slug=row.course.slug))
            learning_step((row.lesson or row.module).text("title", lang), row.due_date, item.overdue, url)
    for cert in db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)):
        status = effective_status(cert, today)
        url = url_for("certification.certificate", number=cert.number)
        if status in ("suspended", "lapsed"):
            steps.append(Step(1, "certificate", _("Your certificate %(number)s is %(status)s: %(reason)s",
                                                  number=cert.number, status=_status(status),
                                                  reason=cert.shown_status_reason), url))
        elif status == "active" and (cert.valid_until - today).days <= EXPIRY_DAYS:
            steps.append(Step(4, "certificate", _("Your certificate %(number)s expires on %(day)s",
                                                  number=cert.number, day=_day(cert.valid_until)), url,
                              cert.valid_until))
    for attempt in db.session.scalars(select(Attempt).where(Attempt.user_id == user.id, Attempt.status == "open")):
        quiz = db.session.get(Quiz, attempt.quiz_id)
        steps.append(Step(2, "quiz", _("Finish your attempt: %(quiz)s",
                                       quiz=quiz.title(lang)),
                          url_for("assessment.attempt", attempt_id=attempt.id)))
    for audit in db.session.scalars(select(Audit).where(Audit.technician_id == user.id, Audit.status == "submitted",
                                                        Audit.acknowledged_at.is_(None))):
        steps.append(Step(5, "audit", _("Read and acknowledge audit report #%(n)d", n=audit.id),
                          url_for("audits.view", audit_id=audit.id)))
    for contribution in db.session.scalars(select(Contribution).where(Contribution.author_id == user.id)
                                           .order_by(Contribution.created_at.desc()).limit(3)):
        title = str((contribution.data or {}).get("title") or "")
        steps.append(Step(7, "contribution", _("Contribution %(title)s: %(status)s", title=title,
                                               status=contribution_status(contribution.status)),
                          url_for("kb.mine")))
    steps.sort(key=lambda s: (s.rank, s.due or date.max))
    return steps


def _day(value: date) -> str:
    return format_date(value, "medium")


def _status(status: str) -> str:
    return status_label(status)
