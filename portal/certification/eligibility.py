"""Eligibility as a decision on plain values: for a tier's requirements (the ``requires`` mapping
of tiers.yaml) and the facts about one technician, every requirement as met or unmet, with the
evidence behind it. Also the certificate-status decisions: the status as of a day, what lifts
it, why a renewal is refused.

Nothing here reads the database, a request or a session: ``certification.rules`` gathers the
facts (titles already in the reader's language, addresses already built, datetimes already
turned into local days) and renders the result. Words come back as ``Msg`` values — a msgid and
its parameters — never as translated text; ``rules`` translates them with gettext. A parameter
that is a ``date`` (or ``None`` for "no date") is shown as a medium date, and one that is a
``Msg`` is translated first.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

T = TypeVar("T")


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    """A user-visible message, untranslated: gettext(msgid, **params), or, with ``plural``,
    ngettext(msgid, plural, num, **params)."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str | None = None
    num: int | None = None


def N_(msgid: str, **params: Any) -> Msg:
    """Marks a message for extraction (Babel's ``N_`` keyword) without translating it."""
    return Msg(msgid, params)


def ngettext(singular: str, plural: str, num: int, **params: Any) -> Msg:
    """Marks a plural message for extraction (Babel's ``ngettext`` keyword) without translating it."""
    return Msg(singular, params, plural, num)


STATUS_LABELS = {"active": N_("Valid"), "expired": N_("Expired"), "suspended": N_("Suspended"),
                 "lapsed": N_("Lapsed"), "revoked": N_("Revoked")}


def status_label(status: str) -> Msg | str:
    """A status in words; an unknown status as it is."""
    return STATUS_LABELS.get(status, status)


# --- dates ------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier when negative); the month's last day when that
    month is shorter (31 January + 1 month = 28 or 29 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


# --- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseFact:
    title: str  # in the reader's language
    url: str
    completed_on: date | None = None  # local day of completion; None: not complete


@dataclass(frozen=True)
class AttemptFact:
    """A submitted (not open) attempt at the tier's quiz."""

    id: int
    number: int
    score: float | None
    passed: bool
    url: str
    submitted_on: date | None = None


@dataclass(frozen=True)
class QuizFact:
    title: str  # the quiz's title, or its slug when the quiz does not exist
    available: bool = True
    attempts: Sequence[AttemptFact] = ()  # in the order they were made


@dataclass(frozen=True)
class TaskFact:
    """A practical task and its latest sign-off (``passed`` None: never signed off)."""

    title: str
    passed: bool | None = None
    trainer: str | None = None  # who signed off last; None: nobody on record
    signed_on: date | None = None


@dataclass(frozen=True)
class TasksFact:
    course_titles: Sequence[str] = ()
    tasks: Sequence[TaskFact] = ()  # course by course, in course order


@dataclass(frozen=True)
class HeldCertificate:
    number: str
    issued_on: date
    valid_until: date
    status: str  # as stored; the decision works out the effective status
    url: str


@dataclass(frozen=True)
class PreviousTierFact:
    """The tier below and the technician's certificates of it, oldest issue first. ``title``
    None: there is no active tier below."""

    title: str | None
    certificates: Sequence[HeldCertificate] = ()


@dataclass
class AuditFact:
    """One audit of a technician, as the audit work reports it."""

    day: date
    score: float  # percent
    red_line: bool
    label: str
    url: str | None = None


@dataclass(frozen=True)
class ContributionFact:
    """An accepted knowledge-base contribution."""

    title: str
    accepted_on: date | None = None
    url: str | None = None


@dataclass(frozen=True)
class QuarterlyFact:
    """The holder's current quarterly course (see ``pick_current_quarterly``)."""

    title: str
    url: str
    due: date  # the holder's own due date (later for a late joiner)
    completed_on: date | None = None


@dataclass(frozen=True)
class Facts:
    """What the decision needs, for the requirement kinds the tier has. ``quarterly`` None:
    no quarterly course assigned to this technician."""

    courses: Sequence[CourseFact] = ()
    quiz: QuizFact | None = None
    tasks: TasksFact = field(default_factory=TasksFact)
    previous: PreviousTierFact = field(default_factory=lambda: PreviousTierFact(None))
    audits: Sequence[AuditFact] = ()
    contributions: Sequence[ContributionFact] = ()
    quarterly: QuarterlyFact | None = None
    # For ``changes_on`` only (the decision does not read them): the days of the technician's
    # audits after today (they enter the window when their day comes); whether audits come from
    # sources whose days are not known ahead (then any day may change it); the technician's own
    # due dates of every quarterly course assigned to them (a new one becomes current on its day).
    audit_days_ahead: Sequence[date] = ()
    audits_unforeseeable: bool = False
    quarterly_dues: Sequence[date] = ()


# --- the result -------------------------------------------------------------------------------


@dataclass
class Evidence:
    text: Msg
    url: str | None = None
    day: date | None = None


@dataclass
class Requirement:
    kind: str
    label: Msg
    met: bool
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[Msg] = field(default_factory=list)  # what is still needed


# --- one decision per requirement kind ---------------------------------------------------------


def courses(facts: Sequence[CourseFact]) -> Requirement:
    req = Requirement("courses", N_("Courses completed: %(names)s", names=", ".join(c.title for c in facts)), True)
    for course in facts:
        if course.completed_on is None:
            req.met = False
            req.missing.append(N_("%(course)s is not complete yet (every lesson done and its quiz passed).",
                                  course=course.title))
        else:
            req.evidence.append(Evidence(N_("%(course)s completed on %(day)s", course=course.title,
                                            day=course.completed_on), course.url, course.completed_on))
    return req


def quiz(spec: dict, fact: QuizFact) -> Requirement:
    """Passed with at least ``min_score``; the evidence is the best such attempt (the earlier
    one of equal scores)."""
    minimum = float(spec.get("min_score", 0))
    req = Requirement("quiz", N_("%(quiz)s passed with at least %(score)d%%", quiz=fact.title,
                                 score=round(minimum)), False)
    if not fact.available:
        req.missing.append(N_("The quiz is not available."))
        return req
    attempts = list(fact.attempts)
    good = [a for a in attempts if a.passed and (a.score or 0) >= minimum]
    if good:
        best = max(good, key=lambda a: (a.score or 0, -a.id))
        req.met = True
        req.evidence.append(Evidence(
            N_("Attempt %(n)d: %(score)s%% on %(day)s", n=best.number, score=f"{best.score:g}", day=best.submitted_on),
            best.url, best.submitted_on))
    elif attempts:
        best = max(attempts, key=lambda a: a.score or 0)
        req.missing.append(ngettext("Best so far: %(score)s%% in %(num)d attempt.",
                                    "Best so far: %(score)s%% in %(num)d attempts.", len(attempts),
                                    score=f"{best.score or 0:g}"))
    else:
        req.missing.append(N_("Not taken yet."))
    return req


def tasks(fact: TasksFact) -> Requirement:
    """Every task's latest sign-off passed (an earlier pass does not count once a later
    sign-off failed)."""
    req = Requirement("tasks", N_("Every practical task of %(names)s signed off",
                                  names=", ".join(fact.course_titles)), True)
    for task in fact.tasks:
        if task.passed:
            req.evidence.append(Evidence(
                N_("%(task)s: passed, signed off by %(trainer)s on %(day)s", task=task.title,
                   trainer="—" if task.trainer is None else task.trainer, day=task.signed_on),
                None, task.signed_on))
        else:
            req.met = False
            req.missing.append(N_("%(task)s: not signed off yet", task=task.title) if task.passed is None else
                               N_("%(task)s: not passed at the last sign-off", task=task.title))
    return req


def months_at_previous(months: int, fact: PreviousTierFact, today: date) -> Requirement:
    """Held a valid certificate of the tier below for ``months``, counted from its issue."""
    name = fact.title if fact.title is not None else "—"
    req = Requirement("months_at_previous", ngettext("At least %(num)d month as %(tier)s",
                                                     "At least %(num)d months as %(tier)s", months, tier=name), False)
    if fact.title is None:
        return req
    held = list(fact.certificates)
    current = [c for c in held if effective_status(c.status, c.valid_until, today) == "active"]
    if not current:
        req.missing.append(N_("No valid %(tier)s certificate.", tier=name) if not held else
                           N_("The %(tier)s certificate is %(status)s.", tier=name,
                              status=status_label(effective_status(held[-1].status, held[-1].valid_until, today))))
        return req
    cert = current[0]
    since = cert.issued_on
    enough = add_months(since, months) <= today
    req.met = enough
    req.evidence.append(Evidence(N_("Certificate %(number)s held since %(day)s", number=cert.number, day=since),
                                 cert.url, since))
    if not enough:
        req.missing.append(N_("Eligible from %(day)s.", day=add_months(since, months)))
    return req


def audit_window(spec: dict, today: date) -> tuple[date, date]:
    """The days whose audits count: the last ``months`` (12 unless the tier says)."""
    return add_months(today, -int(spec.get("months", 12))), today


def audits(spec: dict, facts: Iterable[AuditFact]) -> Requirement:
    """At least ``count`` audits (those of the window, as the providers report them), averaging
    ``average`` or more, and not one red-line failure."""
    count, average, months = int(spec["count"]), float(spec.get("average", 0)), int(spec.get("months", 12))
    req = Requirement("audits", N_(
        "At least %(count)d audits in the last %(months)d months, averaging %(average)s or more, "
        "with no red-line failure", count=count, months=months, average=f"{average:g}"), False)
    facts = sorted(facts, key=lambda f: f.day)
    if not facts:
        req.missing.append(N_("No audits yet."))
        return req
    mean = sum(f.score for f in facts) / len(facts)
    red = [f for f in facts if f.red_line]
    for fact in facts:
        req.evidence.append(Evidence(
            N_("%(audit)s on %(day)s: %(score)s%%%(red)s", audit=fact.label, day=fact.day, score=f"{fact.score:g}",
               red=N_(" (red-line failure)") if fact.red_line else ""), fact.url, fact.day))
    req.met = len(facts) >= count and mean >= average and not red
    if len(facts) < count:
        req.missing.append(N_("%(n)d of %(count)d audits.", n=len(facts), count=count))
    if mean < average:
        req.missing.append(N_("Average %(mean)s, below %(average)s.", mean=f"{mean:.1f}", average=f"{average:g}"))
    if red:
        req.missing.append(N_("A red-line failure on %(day)s.", day=red[-1].day))
    return req


def contributions(needed: int, facts: Sequence[ContributionFact]) -> Requirement:
    req = Requirement("contributions", N_("At least %(n)d accepted knowledge-base contributions", n=needed), False)
    for row in facts:
        req.evidence.append(Evidence(N_("%(title)s, accepted on %(day)s", title=row.title, day=row.accepted_on),
                                     row.url, row.accepted_on))
    req.met = len(facts) >= needed
    if not req.met:
        req.missing.append(N_("%(n)d of %(needed)d.", n=len(facts), needed=needed))
    return req


def pick_current_quarterly(candidates: Sequence[tuple[date, T]], today: date) -> T | None:
    """Of the quarterly courses assigned to someone — (their own due date, item), latest common
    due date first — the one due most recently, or, if none is due yet, the one due next (the
    last). A late joiner's own due date decides what is past, not the common one."""
    if not candidates:
        return None
    past = [item for due, item in candidates if due <= today]
    return past[0] if past else candidates[-1][1]


def current_quarterly(fact: QuarterlyFact | None) -> Requirement:
    req = Requirement("current_quarterly", N_("The current quarterly product course completed"), True)
    if fact is None:
        req.evidence.append(Evidence(N_("No quarterly course has been assigned yet.")))
        return req
    if fact.completed_on is None:
        req.met = False
        req.missing.append(N_("%(course)s, due %(day)s: not complete yet.", course=fact.title, day=fact.due))
    else:
        req.evidence.append(Evidence(N_("%(course)s completed on %(day)s", course=fact.title, day=fact.completed_on),
                                     fact.url, fact.completed_on))
    return req


# The kinds, in the order they are listed.
KINDS = ("courses", "quiz", "tasks", "months_at_previous", "audits", "contributions", "current_quarterly")


def asked(spec: dict, renewal: bool = False) -> list[str]:
    """The requirement kinds a tier asks for. For a renewal, the time held at the tier below is
    not asked again (it was an entry requirement)."""
    return [k for k in KINDS if spec.get(k) and not (k == "months_at_previous" and renewal)]


def decide(spec: dict, facts: Facts, today: date, renewal: bool = False) -> list[Requirement]:
    """Every requirement the tier asks for, decided on the facts."""
    out = []
    for kind in asked(spec, renewal):
        if kind == "courses":
            out.append(courses(facts.courses))
        elif kind == "quiz":
            out.append(quiz(spec["quiz"], facts.quiz if facts.quiz is not None else
                            QuizFact(spec["quiz"]["slug"], available=False)))
        elif kind == "tasks":
            out.append(tasks(facts.tasks))
        elif kind == "months_at_previous":
            out.append(months_at_previous(int(spec["months_at_previous"]), facts.previous, today))
        elif kind == "audits":
            out.append(audits(spec["audits"], facts.audits))
        elif kind == "contributions":
            out.append(contributions(int(spec["contributions"]), facts.contributions))
        elif kind == "current_quarterly":
            out.append(current_quarterly(facts.quarterly))
    return out


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def leaves_window(day: date, months: int) -> date:
    """The first day on which an audit of ``day`` is no longer in the window of the last
    ``months`` (``audit_window``): the first ``t`` with ``add_months(t, -months) > day``."""
    t = date.fromordinal(add_months(day, months).toordinal() - 3)  # month ends clamp: start early
    while add_months(t, -months) <= day:
        t = _next_day(t)
    return t


def changes_on(spec: dict, facts: Facts, today: date, renewal: bool = False) -> date | None:
    """The first day after ``today`` on which ``decide`` on these same facts may come out
    differently because of the date alone (None: never): a certificate of the tier below
    expiring, the months at the tier below completed, an audit entering or leaving the window,
    another quarterly course becoming current. Earlier is safe (the decision is made again
    and comes out the same); later would leave a wrong figure."""
    days: list[date] = []
    kinds = asked(spec, renewal)
    if "months_at_previous" in kinds and facts.previous.title is not None:
        current = [c for c in facts.previous.certificates
                   if effective_status(c.status, c.valid_until, today) == "active"]
        days += [_next_day(c.valid_until) for c in current]  # expired from the day after
        if current:
            days.append(add_months(current[0].issued_on, int(spec["months_at_previous"])))
    if "audits" in kinds:
        if facts.audits_unforeseeable:
            days.append(_next_day(today))
        months = int(spec["audits"].get("months", 12))
        days += [leaves_window(f.day, months) for f in facts.audits]
        days += list(facts.audit_days_ahead)
    if "current_quarterly" in kinds:
        days += list(facts.quarterly_dues)
    later = [d for d in days if d > today]
    return min(later) if later else None


# --- certificate status -----------------------------------------------------------------------

# A certificate's log, as plain tuples: (action, rule, valid_until), oldest first.
Event = tuple[str, str, "date | None"]


def effective_status(status: str, valid_until: date, today: date) -> str:
    """The status as of today: an active certificate past its date is expired even before the
    daily sweep writes it down."""
    if status == "active" and valid_until < today:
        return "expired"
    return status


def what_lifts_it(status: str, valid_until: date, events: Sequence[Event], today: date) -> Msg | None:
    """For a certificate that is not valid: what makes it valid again, for its holder; None
    for a valid one."""
    status = effective_status(status, valid_until, today)
    if status == "suspended":
        last = next((e for e in reversed(list(events)) if e[0] == "suspended"), None)
        if last is not None and last[1].startswith("audit"):
            return N_("A trainer reinstates it after reviewing the audit report behind it (for example once the "
                      "report is amended).")
        return N_("A trainer reinstates it after reviewing the reason.")
    if status == "lapsed":
        return N_("Complete the current quarterly course; then a trainer reinstates or renews it.")
    if status == "expired":
        return N_("A trainer renews it while you meet the tier's requirements.")
    if status == "revoked":
        return N_("A revoked certificate is final: a new one is issued only on new evidence.")
    return None


def renewal_refusal(status: str, valid_until: date, events: Sequence[Event], today: date,
                    window_days: int) -> Msg | None:
    """Why this certificate cannot be renewed today, or None. Expired and lapsed certificates
    renew from today. A valid one renews from its current expiry, only within ``window_days``
    before it, and once per validity period: a renewal made ahead of the current period's end
    is not made again until that new period has begun."""
    status = effective_status(status, valid_until, today)
    if status not in ("active", "expired", "lapsed"):
        return N_("Not possible while the certificate's status is “%(status)s”.", status=status_label(status))
    if status != "active":
        return None
    events = list(events)
    renewals = [i for i, e in enumerate(events) if e[0] == "renewed"]
    if renewals:
        last = renewals[-1]
        previous = next((e[2] for e in reversed(events[:last]) if e[2]), None)
        if (events[last][2] == valid_until and previous is not None and previous < valid_until
                and today < previous):
            return N_("Already renewed for the next period: it runs from %(start)s to %(until)s.",
                      start=previous, until=valid_until)
    opens = date.fromordinal(valid_until.toordinal() - window_days)
    if today < opens:
        return N_("Too early: a valid certificate can be renewed from %(day)s, %(n)d days before it expires "
                  "on %(until)s.", day=opens, n=window_days, until=valid_until)
    return None
