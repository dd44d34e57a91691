"""A programme's draw: which technicians get a mystery visit this period, who visits them, by when.

The steps, each set-based (one query per kind of fact, whatever the network's size):

1. the candidates: active users with the role "technician", with outlet, province and region;
2. out for this period: a suspended certificate (``blackout.suspended``), the first N working days
   of onboarding (``blackout.onboarding_working_days``, from ``user.start_date`` on the learning
   calendar), and those who already have ``per_year.max`` visits this calendar year (this
   programme's planned visits not cancelled, by their period's year, and submitted reports with the
   programme's form that no visit made, by the visit's local year);
3. forced: those who must be drawn now to still reach their minimum by the year's end (one visit
   per period at most, so: still needed ≥ periods left including this one). The minimum is
   ``per_year.min`` for a whole year and in proportion (rounded down) for the part of a year a
   technician can be visited under the programme: from its first draw of the year, or from the
   period the technician's onboarding blackout ends — a programme started in December, or a
   technician who joined in November, does not force everyone into the last draws of the year;
4. weights (multiplied): a red-line failure in the last N days, a low first-time-fix share in the
   kb's "did this fix it?" answers, a certificate issued in the last N days;
5. groups: each technician's sampling rule is the most specific override (outlet > province >
   region > default); the default and region rules form one group per region, the province and
   outlet overrides one per province / outlet. A group's quota is round(rate × candidates) (or the
   count, capped at the candidates), raised to the number forced;
6. :func:`pick`: the forced, then weighted sampling without replacement (Efraimidis–Spirakis) from a
   ``random.Random(seed)``, groups in key order and candidates in id order, so the same seed and
   inputs give the same technicians. The inputs are kept in ``AuditDraw.candidates``: :func:`verify`
   draws again from them and compares with the visits;
7. auditors: assigning.load_pool / pick (least loaded of the region, never own outlet, never self).

One transaction; a second draw of the same programme and period changes nothing and returns the
first (the unique constraint decides between two at once).
"""

from __future__ import annotations

import math
import random
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, exists, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..auth.models import Outlet, Province, Region, User, UserRole
from ..dbtypes import utcnow
from ..extensions import db
from ..kb.models import CaseFeedbackAnswer
from ..learning import services as learning
from ..learning.schedule import Calendar
from ..messages import both, msg
from ..notifications import notify, notify_many
from .assigning import load_pool
from .models import Audit, AuditDraw, AuditProgramme, AuditTemplate, AuditVisit
# Certification is above audits: the draw reads it through the registry create_app fills
# ("suspended_users" () → ids, "issued_since" (day) → ids; one query each).
from .services import CERTIFICATES

EXCLUSIONS = ("suspended", "onboarding", "max_reached")  # the order a technician's reason is decided in
REASONS = ("forced_min", "red_line", "low_ftf", "new_certificate")  # why a visit was drawn (AuditVisit.reasons)
PERIOD_RE = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")
SEED_RE = re.compile(r"^[0-9a-f]{1,64}$")


class DrawError(ValueError):
    """A draw that cannot be made (bad period or seed); nothing was written."""


# --- periods ------------------------------------------------------------------------------------


def period_of(day: date, kind: str) -> str:
    """The period (``2027-01`` monthly, ``2027-Q1`` quarterly) a day falls in."""
    if kind == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def period_kind(period: str) -> str | None:
    match = PERIOD_RE.match(period or "")
    if not match:
        return None
    return "quarterly" if match.group(3) else "monthly"


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a period."""
    match = PERIOD_RE.match(period)
    if not match:
        raise DrawError(_("Period %(period)s: write it as YYYY-MM (monthly) or YYYY-Qn (quarterly).", period=period))
    year = int(match.group(1))
    first_month = int(match.group(2)) if match.group(2) else (int(match.group(3)) - 1) * 3 + 1
    months = 1 if match.group(2) else 3
    start = date(year, first_month, 1)
    end_month = first_month + months
    end = (date(year + 1, 1, 1) if end_month > 12 else date(year, end_month, 1)) - timedelta(days=1)
    return start, end


def period_index(period: str) -> int:
    """1-based position of the period in its year (month or quarter number)."""
    match = PERIOD_RE.match(period)
    return int(match.group(2) or match.group(3))


def periods_in_year(period: str) -> int:
    return 12 if PERIOD_RE.match(period).group(2) else 4


def year_minimum(minimum: int, period: str, first_index: int) -> int:
    """``minimum`` for the periods from ``first_index`` to the year's end, in proportion, rounded
    down (2 a year: 2 from January, 1 from July, 0 from August on)."""
    whole = periods_in_year(period)
    covered = whole - max(1, first_index) + 1
    return (minimum * covered) // whole


def first_period_this_year(programme: AuditProgramme, period: str) -> int:
    """The position of the programme's first draw in the period's year (this one if none yet)."""
    earliest = db.session.scalar(select(func.min(AuditDraw.period)).where(
        AuditDraw.programme_id == programme.id, AuditDraw.period.like(f"{period[:4]}-%")))
    return period_index(min(earliest, period) if earliest else period)


def periods_left(period: str) -> int:
    """The periods of the year from this one to the last, this one included."""
    match = PERIOD_RE.match(period)
    if match.group(2):
        return 12 - int(match.group(2)) + 1
    return 4 - int(match.group(3)) + 1


def first_working_day(period: str, cal: Calendar) -> date:
    start, _end = period_bounds(period)
    return cal.working_days(start, 1)[0]


def last_working_day(period: str, cal: Calendar) -> date:
    start, end = period_bounds(period)
    day = end
    while day > start and not cal.is_working_day(day):
        day -= timedelta(days=1)
    return day


def due_date(spec: dict, period: str, today: date, cal: Calendar) -> date:
    """``due.working_days`` N: the N-th working day after the draw's day; none: the period's last
    working day."""
    n = (spec.get("due") or {}).get("working_days")
    if n:
        return cal.working_days(today + timedelta(days=1), int(n))[-1]
    return max(last_working_day(period, cal), today)


# --- the pure core ------------------------------------------------------------------------------


def pick(groups: list[dict], seed: str) -> dict[str, list[int]]:
    """The technicians drawn in each group: a plain function of the groups (``key``, ``quota``,
    ``candidates`` as [id, weight, forced]) and the seed. Every forced candidate is drawn; the rest
    of the quota by weighted sampling without replacement: each candidate (in id order) gets the key
    log(u)/w from one ``random()`` of the seeded generator and the largest keys win (Efraimidis–
    Spirakis: P(chosen first) ∝ w)."""
    rng = random.Random(int(seed, 16))
    picks: dict[str, list[int]] = {}
    for group in sorted(groups, key=lambda g: g["key"]):
        candidates = sorted(group["candidates"], key=lambda c: c[0])
        forced = [c[0] for c in candidates if c[2]]
        keyed = []
        for tech_id, weight, is_forced in candidates:
            if is_forced:
                continue
            u = 1.0 - rng.random()  # in (0, 1]
            keyed.append((math.log(u) / max(float(weight), 1e-9), -tech_id))
        keyed.sort(reverse=True)
        room = max(0, int(group["quota"]) - len(forced))
        picks[group["key"]] = sorted(forced + [-neg_id for _key, neg_id in keyed[:room]])
    return picks


def quota(rule: dict, size: int) -> int:
    if rule.get("count") is not None:
        return min(int(rule["count"]), size)
    return min(size, int(math.floor(float(rule.get("rate") or 0) * size + 0.5)))


# --- the facts, one query each ------------------------------------------------------------------


@dataclass
class Tech:
    id: int
    outlet_id: int | None
    outlet: str | None
    province: str | None
    region: str | None
    region_id: int | None
    start_date: date | None


def technicians() -> list[Tech]:
    rows = db.session.execute(
        select(User.id, User.outlet_id, Outlet.code, Province.code, Region.code, Region.id, User.start_date)
        .join(UserRole, UserRole.user_id == User.id)
        .outerjoin(Outlet, User.outlet_id == Outlet.id).outerjoin(Province, Outlet.province_id == Province.id)
        .outerjoin(Region, Province.region_id == Region.id)
        .where(UserRole.role == "technician", User.active.is_(True)).order_by(User.id)).all()
    return [Tech(*row) for row in rows]


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_midnight(day: date) -> datetime:
    """The start of a local day, in UTC (stored moments are UTC)."""
    return datetime.combine(day, time(0), tzinfo=_zone()).astimezone(timezone.utc)


def onboarding(techs: list[Tech], days: int, today: date, cal: Calendar) -> set[int]:
    """Those still in their first ``days`` working days (or not started yet)."""
    if not days:
        return set()
    # N working days back from today, then a month for the holidays before them: earlier starts are done.
    back, seen, day = today, 0, today
    while seen < days and (today - day).days < days * 7 + 400:
        if cal.is_working_day(day):
            seen, back = seen + 1, day
        day -= timedelta(days=1)
    lower = back - timedelta(days=31)
    last_day: dict[date, date] = {}
    out = set()
    for t in techs:
        if t.start_date is None or t.start_date < lower:
            continue
        if t.start_date not in last_day:
            last_day[t.start_date] = cal.working_days(t.start_date, days)[-1]
        if last_day[t.start_date] >= today:
            out.add(t.id)
    return out


def visits_this_year(programme: AuditProgramme, year: int) -> Counter:
    """Per technician: the programme's planned visits of the year not cancelled, and submitted
    reports with its form that no visit made, by the visit's local year."""
    counts = Counter(dict(db.session.execute(
        select(AuditVisit.technician_id, func.count()).where(
            AuditVisit.programme_id == programme.id, AuditVisit.period.like(f"{year}-%"),
            AuditVisit.status != "cancelled").group_by(AuditVisit.technician_id)).all()))
    linked = exists().where(AuditVisit.audit_id == Audit.id)
    reports = db.session.execute(
        select(Audit.technician_id, func.count()).join(AuditTemplate, Audit.template_id == AuditTemplate.id)
        .where(Audit.status == "submitted", AuditTemplate.slug == programme.template_slug,
               Audit.visited_at >= local_midnight(date(year, 1, 1)),
               Audit.visited_at < local_midnight(date(year + 1, 1, 1)), ~linked)
        .group_by(Audit.technician_id)).all()
    counts.update(dict(reports))
    return counts


def red_lines_since(since: datetime) -> set[int]:
    return set(db.session.scalars(select(Audit.technician_id).where(
        Audit.status == "submitted", Audit.visited_at >= since, Audit.red_line_failed.is_(True)).distinct()))


def low_first_time_fix(since: datetime, below: float, min_answers: int) -> set[int]:
    """Users whose "did this fix it?" answers since then number at least ``min_answers`` and say
    fixed in a share below ``below``."""
    fixed = func.sum(case((CaseFeedbackAnswer.fixed.is_(True), 1), else_=0))
    rows = db.session.execute(
        select(CaseFeedbackAnswer.user_id, func.count(), fixed).where(
            CaseFeedbackAnswer.created_at >= since, CaseFeedbackAnswer.user_id.is_not(None))
        .group_by(CaseFeedbackAnswer.user_id).having(func.count() >= max(1, int(min_answers)))).all()
    return {user_id for user_id, total, yes in rows if (yes or 0) / total < below}


# --- the draw -----------------------------------------------------------------------------------


def _rule_of(tech: Tech, overrides: dict) -> tuple[str, dict]:
    """(group key, rule): the most specific override, else the default (per region)."""
    if tech.outlet and ("outlet", tech.outlet) in overrides:
        return f"outlet:{tech.outlet}", overrides[("outlet", tech.outlet)]
    if tech.province and ("province", tech.province) in overrides:
        return f"province:{tech.province}", overrides[("province", tech.province)]
    if tech.region and ("region", tech.region) in overrides:
        return f"region:{tech.region}", overrides[("region", tech.region)]
    return f"default:{tech.region or '-'}", None


@dataclass
class Plan:
    """A draw's inputs and outcome before anything is written."""

    groups: list[dict]
    eligible: int
    excluded: dict[str, int]
    reasons: dict[int, list[str]]
    techs: dict[int, Tech]


def plan(programme: AuditProgramme, spec: dict, period: str, today: date, cal: Calendar) -> Plan:
    techs = technicians()
    blackout = spec.get("blackout") or {}
    suspended = set(CERTIFICATES["suspended_users"]()) if blackout.get("suspended") else set()
    starting = onboarding(techs, int(blackout.get("onboarding_working_days") or 0), today, cal)
    per_year = spec.get("per_year") or {}
    done = visits_this_year(programme, int(period[:4]))
    top, bottom = per_year.get("max"), per_year.get("min") or 0
    left = periods_left(period)
    started = first_period_this_year(programme, period)
    onboarding_days = int(blackout.get("onboarding_working_days") or 0)
    kind, year = period_kind(period), int(period[:4])

    free_from: dict[date, date] = {}  # start date → first working day after the blackout

    def minimum(tech: Tech) -> int:
        first = started
        if tech.start_date is not None and tech.start_date.year >= year:
            if tech.start_date not in free_from:
                free_from[tech.start_date] = (cal.working_days(tech.start_date, onboarding_days + 1)[-1]
                                              if onboarding_days else tech.start_date)
            free = free_from[tech.start_date]
            first = max(first, period_index(period_of(free, kind)) if free.year == year else periods_in_year(period) + 1)
        return year_minimum(bottom, period, first)

    weights = spec.get("weights") or {}

    def since(days) -> datetime:
        return local_midnight(today - timedelta(days=int(days)))

    factors: list[tuple[str, float, set[int]]] = []
    if (rule := weights.get("red_line")) and rule.get("weight", 1) != 1:
        factors.append(("red_line", float(rule["weight"]), red_lines_since(since(rule.get("days", 180)))))
    if (rule := weights.get("low_ftf")) and rule.get("weight", 1) != 1:
        factors.append(("low_ftf", float(rule["weight"]), low_first_time_fix(
            since(rule.get("days", 90)), float(rule.get("below", 0.7)), int(rule.get("min_answers", 5)))))
    if (rule := weights.get("new_certificate")) and rule.get("weight", 1) != 1:
        factors.append(("new_certificate", float(rule["weight"]),
                        set(CERTIFICATES["issued_since"](today - timedelta(days=int(rule.get("days", 60)))))))

    overrides = {(o["scope"], o["code"]): o for o in spec.get("overrides") or ()}
    default = spec.get("sampling") or {}
    excluded = Counter()
    groups: dict[str, dict] = {}
    reasons: dict[int, list[str]] = {}
    for tech in techs:
        if tech.id in suspended:
            excluded["suspended"] += 1
            continue
        if tech.id in starting:
            excluded["onboarding"] += 1
            continue
        if top is not None and done[tech.id] >= top:
            excluded["max_reached"] += 1
            continue
        need = minimum(tech) if bottom else 0
        forced = need > 0 and need - done[tech.id] >= left
        weight, why = 1.0, ["forced_min"] if forced else []
        for name, factor, ids in factors:
            if tech.id in ids:
                weight *= factor
                why.append(name)
        reasons[tech.id] = why
        key, rule = _rule_of(tech, overrides)
        group = groups.setdefault(key, {"key": key, "rule": rule or default, "candidates": []})
        group["candidates"].append([tech.id, round(weight, 6), forced])
    out = []
    for key in sorted(groups):
        group = groups[key]
        forced = sum(1 for c in group["candidates"] if c[2])
        out.append({"key": key, "quota": max(quota(group["rule"], len(group["candidates"])), forced),
                    "candidates": group["candidates"]})
    return Plan(out, sum(len(g["candidates"]) for g in out), {r: excluded[r] for r in EXCLUSIONS if excluded[r]},
                reasons, {t.id: t for t in techs})


def existing_draw(programme: AuditProgramme, period: str) -> AuditDraw | None:
    return db.session.scalar(select(AuditDraw).where(AuditDraw.programme_id == programme.id,
                                                     AuditDraw.period == period))


def check_period(programme: AuditProgramme, period: str) -> None:
    kind = (programme.spec or {}).get("period", "monthly")
    if period_kind(period) != kind:
        raise DrawError(_("Period %(period)s: this programme is drawn quarterly (e.g. 2027-Q1).", period=period)
                        if kind == "quarterly" else
                        _("Period %(period)s: this programme is drawn monthly (e.g. 2027-01).", period=period))


def draw(programme: AuditProgramme, period: str, *, seed: str | None = None, by: User | None = None,
         today: date, cal: Calendar | None = None) -> AuditDraw:
    """Draw ``period`` of ``programme`` (once: an existing draw is returned unchanged). ``today``
    is the portal's day of the draw (weights' windows, onboarding, due date). Commits."""
    check_period(programme, period)
    if seed is not None:
        seed = seed.strip().lower()
        if not SEED_RE.match(seed):
            raise DrawError(_("Seed %(seed)s: hexadecimal digits (0-9, a-f), at most 64.", seed=seed))
    found = existing_draw(programme, period)
    if found is not None:
        return found
    given = seed is not None
    seed = seed or secrets.token_hex(16)
    cal = cal or learning.calendar()
    spec = dict(programme.spec)
    inputs = plan(programme, spec, period, today, cal)
    picks = pick(inputs.groups, seed)
    due = due_date(spec, period, today, cal)
    drawn_ids = sorted(tech_id for ids in picks.values() for tech_id in ids)
    now = utcnow()
    row = AuditDraw(programme_id=programme.id, period=period, seed=seed, seed_given=given, spec=spec,
                    candidates={"groups": inputs.groups}, drawn_at=now, drawn_by_id=by.id if by else None,
                    due_on=due, eligible=inputs.eligible, excluded=inputs.excluded, drawn=len(drawn_ids),
                    unassigned=0)
    try:
        db.session.add(row)
        db.session.flush()  # the unique (programme, period) decides between two draws at once
    except IntegrityError as error:
        return _drawn_meanwhile(programme, period, error)
    pool = load_pool(random.Random(f"{seed}:auditors"))
    # Those with an auditor at their own outlet (or who audit themselves) first, while every
    # auditor is still free to take them; the rest then level the loads out.
    auditors = [c for members in pool.by_region.values() for c in members]
    outlets, people = {c.outlet_id for c in auditors if c.outlet_id}, {c.id for c in auditors}
    order = sorted(drawn_ids, key=lambda i: (inputs.techs[i].outlet_id not in outlets and i not in people, i))
    visits, unassigned = [], 0
    for tech_id in order:
        tech = inputs.techs[tech_id]
        auditor = pool.pick(tech_id, tech.outlet_id, tech.region_id)
        unassigned += auditor is None
        visits.append({"draw_id": row.id, "programme_id": programme.id, "period": period, "technician_id": tech_id,
                       "outlet_id": tech.outlet_id, "auditor_id": auditor, "due_on": due, "status": "open",
                       "reasons": inputs.reasons[tech_id], "created_at": now,
                       "assigned_at": now if auditor else None})
    try:
        for start in range(0, len(visits), 5000):
            db.session.execute(insert(AuditVisit), visits[start:start + 5000])
        row.unassigned = unassigned
        _tell(programme, row, visits)
        db.session.commit()
    except IntegrityError as error:
        return _drawn_meanwhile(programme, period, error)
    return row


def _drawn_meanwhile(programme: AuditProgramme, period: str, error: IntegrityError) -> AuditDraw:
    """After an integrity error: the draw another process made of this period at the same moment
    (that one stands); any other integrity error is raised again."""
    db.session.rollback()
    found = existing_draw(programme, period)
    if found is None:
        raise error
    return found


def _tell(programme: AuditProgramme, row: AuditDraw, visits: list[dict]) -> None:
    """Each auditor hears how many visits the draw gave them (one bell each); the trainers hear of
    visits nobody could take. The technicians drawn are never told."""
    per_auditor = Counter(v["auditor_id"] for v in visits if v["auditor_id"] is not None)
    for auditor_id, count in sorted(per_auditor.items()):
        notify(auditor_id, "audit-visit", f"audit-draw:{row.id}:{auditor_id}",
               msg("audit.draw-assigned", period=row.period, n=count, day=row.due_on), "/audits/visits/")
    if row.unassigned:
        drawn = select(AuditVisit.technician_id).where(AuditVisit.draw_id == row.id)
        trainers = select(User.id).join(UserRole, UserRole.user_id == User.id).where(
            UserRole.role == "trainer", User.active.is_(True), User.id.not_in(drawn))
        notify_many(trainers, "audit-visit", f"audit-draw-unassigned:{row.id}",
                    msg("audit.draw-unassigned", period=row.period, programme=both(programme.title_zh, programme.title_en),
                        n=row.unassigned), f"/audits/visits/?period={row.period}&status=unassigned")


def verify(row: AuditDraw) -> bool:
    """Drawn again from the kept inputs and seed: the same technicians as the visits?"""
    picks = pick((row.candidates or {}).get("groups", []), row.seed)
    again = sorted(tech_id for ids in picks.values() for tech_id in ids)
    visited = sorted(db.session.scalars(select(AuditVisit.technician_id).where(AuditVisit.draw_id == row.id)))
    return again == visited


def due_draws(today: date, cal: Calendar | None = None) -> list[tuple[AuditProgramme, str]]:
    """The active programmes whose current period is not drawn yet and has begun (its first
    working day is today or past): ``flask daily`` draws these, so a missed day is caught up."""
    cal = cal or learning.calendar()
    due = []
    for programme in db.session.scalars(select(AuditProgramme).where(AuditProgramme.active.is_(True))
                                        .order_by(AuditProgramme.slug)):
        period = period_of(today, (programme.spec or {}).get("period", "monthly"))
        if today >= first_working_day(period, cal) and existing_draw(programme, period) is None:
            due.append((programme, period))
    return due


def draw_due(today: date) -> list[tuple[AuditProgramme, str, AuditDraw | None, str]]:
    """Draw what :func:`due_draws` lists: (programme, period, the draw or None, the error's text).
    One programme's bad spec does not stop the others."""
    cal = learning.calendar()
    done = []
    for programme, period in due_draws(today, cal):
        try:
            done.append((programme, period, draw(programme, period, today=today, cal=cal), ""))
        except DrawError as error:
            done.append((programme, period, None, str(error)))
        except Exception as error:  # a spec the code cannot read: say so, draw the others
            db.session.rollback()
            current_app.logger.exception("audit draw of %s, %s failed", programme.slug, period)
            done.append((programme, period, None, f"{type(error).__name__}: {error}"))
    return done
