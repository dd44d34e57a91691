"""The trainer dashboard: the network at a glance. Every figure is the length of a list it
links to (the technician list, the certificate register, an assignment report, a quiz report,
the audit reports, the search gaps, the overdue list), so a figure can always be checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import case, func, select

from ..assessment.models import Quiz, QuizResult
from ..assessment.services import active_quizzes, graded_attempts, results
from ..audits.models import Audit
from ..auth.models import Outlet, Province, Region, User, UserRole
from ..auth.services import active_technicians, technicians_query
from ..certification.models import Certificate, Tier
from ..certification.rules import effective_status, local_today
from ..certification.services import active_tiers, register, status_condition, top_valid_level
from ..dbtypes import utcnow
from ..extensions import db
from ..i18n import user_lang
from ..inputs import ListPage, int_arg
from ..kb.models import Case
from ..kb.models import CaseFeedback as Feedback
from ..kb.services import kb_summary
from ..learning.models import Assignment, Course
from ..learning import members
from ..learning.services import assignment_report, assignment_report_live, due_for, trainer_summary
from ..paging import Page, count, rows_page
from ..security import roles_required

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

LEVELS = ("region", "province", "outlet")
OVERDUE_PAGE = 100  # rows per page of the overdue list


def holders(tier_id: int, today: date, user_ids: set[int]) -> set[int]:
    """Technicians (of user_ids) certified at the tier: holding a valid certificate at this tier
    or at any higher one (a Master whose first-tier certificate lapsed is still certified at the
    first tier: the higher tier required it). The coverage figures and the technician list's
    tier filter both use this."""
    tier = db.session.get(Tier, tier_id)
    if tier is None:
        return set()
    rows = db.session.scalars(select(Certificate).join(Tier, Certificate.tier_id == Tier.id).where(
        Tier.level >= tier.level, Tier.active, Certificate.user_id.in_(user_ids or {-1})))
    return {c.user_id for c in rows if effective_status(c, today) == "active"}


def overdue_rows(today: date) -> members.OverdueList:
    """Every overdue course assignment, technician by technician, from the kept rows: a
    sequence of (assignment, technician) whose length is a COUNT and whose slices are pages.
    The trainer home's "overdue" figure is its length, and /dashboard/overdue shows it."""
    return members.OverdueList(today)


def overdue_rows_live(today: date) -> list[tuple[object, User]]:
    """The reference for overdue_rows: (assignment, technician) for each technician an
    assignment's live report counts as overdue."""
    rows = []
    # Only an assignment whose common due date has passed can be overdue for anyone (a personal
    # due date is never earlier): the same rows, without reporting on the others.
    for assignment in db.session.scalars(select(Assignment).where(Assignment.due_date < today,
                                                                  Assignment.withdrawn_at.is_(None))
                                         .order_by(Assignment.due_date, Assignment.id)):
        rows.extend((assignment, user) for user in assignment_report_live(assignment, today).overdue)
    return rows


@dataclass
class CoverageRow:
    name: str
    filters: dict  # region / province / outlet id for the links
    technicians: int
    tiers: list[tuple[object, int, int]] = field(default_factory=list)  # (tier, holders, percent)
    expiring: dict[int, int] = field(default_factory=dict)  # days → certificates


def _place_key(level: str):
    return {"outlet": Outlet.id, "province": Province.id, "region": Province.region_id}[level]


def _in_places(query):
    return query.join(Outlet, User.outlet_id == Outlet.id).join(Province, Outlet.province_id == Province.id)


def _place_filter(region_id: int | None, province_id: int | None) -> list:
    """Conditions on Province (joined) keeping the places of a region and/or a province."""
    where = []
    if region_id:
        where.append(Province.region_id == region_id)
    if province_id:
        where.append(Province.id == province_id)
    return where


def coverage(level: str, today: date, region_id: int | None = None, province_id: int | None = None,
             outlet_ids: list[int] | None = None) -> list[CoverageRow]:
    """Per place: active technicians, how many are certified at each tier and certificates
    expiring within 30/60/90 days, with one grouped query each (``coverage_live`` is the same
    figures place by place; each figure is the length of the list it links to). Only the places
    of ``region_id`` / ``province_id`` when given, and only the outlets ``outlet_ids`` (a page of
    them: ``coverage_outlets``) when given."""
    tiers = active_tiers()
    key = _place_key(level)
    where = _place_filter(region_id, province_id)
    if outlet_ids is not None:
        where.append(Outlet.id.in_(outlet_ids or [-1]))
    people = _in_places(technicians_query().with_only_columns(key.label("place"), User.id.label("uid"))
                        .where(*where).distinct()).subquery()
    top = top_valid_level(today)
    columns = [func.count()] + [func.coalesce(func.sum(case((top.c.level >= tier.level, 1), else_=0)), 0)
                                for tier in tiers]
    counts = {row[0]: row[1:] for row in db.session.execute(
        select(people.c.place, *columns).select_from(people).outerjoin(top, top.c.user_id == people.c.uid)
        .group_by(people.c.place))}
    valid = status_condition({"active"}, today)
    soon = {days: date.fromordinal(today.toordinal() + days) for days in (30, 60, 90)}
    expiring = {row[0]: row[1:] for row in db.session.execute(_in_places(
        select(key, *[func.coalesce(func.sum(case((Certificate.valid_until <= limit, 1), else_=0)), 0)
                      for limit in soon.values()]).select_from(Certificate).join(User, Certificate.user_id == User.id))
        .where(valid, *where).group_by(key))}
    if level == "outlet":
        places = [(o.id, f"{o.code} {o.name}", {"outlet": o.id}) for o in
                  db.session.scalars(select(Outlet).where(Outlet.id.in_(list(counts) or [-1])).order_by(Outlet.code))]
    elif level == "province":
        places = [(p.id, p.name, {"province": p.id}) for p in db.session.scalars(select(Province).order_by(Province.code))]
    else:
        places = [(r.id, r.name, {"region": r.id}) for r in db.session.scalars(select(Region).order_by(Region.code))]
    rows = []
    for place_id, name, filters in places:
        if place_id not in counts:
            continue
        total, *held = counts[place_id]
        row = CoverageRow(name, filters, total)
        for tier, count_ in zip(tiers, held):
            row.tiers.append((tier, int(count_), round(100 * int(count_) / total)))
        for days, count_ in zip(soon, expiring.get(place_id, (0, 0, 0))):
            row.expiring[days] = int(count_)
        rows.append(row)
    return rows


def staffed_outlets(region_id: int | None = None, province_id: int | None = None):
    """The outlets with at least one active technician (of a region / province), by code: the
    rows of the by-outlet coverage, as a select to page."""
    staffed = (select(User.outlet_id).join(UserRole, UserRole.user_id == User.id)
               .where(UserRole.role == "technician", User.active, User.outlet_id.is_not(None)))
    return (select(Outlet.id).join(Province, Outlet.province_id == Province.id)
            .where(Outlet.id.in_(staffed), *_place_filter(region_id, province_id)).order_by(Outlet.code, Outlet.id))


def coverage_outlets(today: date, region_id: int | None = None, province_id: int | None = None,
                     per_page: int | None = None) -> Page:
    """One page of the by-outlet coverage (``page`` of the query string): the page's outlets are
    chosen by LIMIT/OFFSET and only their figures are computed (8,000 outlets are not one page)."""
    query = staffed_outlets(region_id, province_id)
    page = rows_page(query, count(query), per_page)
    page.items = coverage("outlet", today, outlet_ids=[outlet_id for outlet_id, in page.items])
    return page


def coverage_live(level: str, today: date, region_id: int | None = None,
                  province_id: int | None = None) -> list[CoverageRow]:
    """The reference for coverage: place by place, technician by technician."""
    tiers = active_tiers()
    if level == "outlet":
        places = [(o.id, f"{o.code} {o.name}", {"outlet": o.id}) for o in
                  db.session.scalars(select(Outlet).order_by(Outlet.code, Outlet.id))
                  if (not region_id or o.province.region_id == region_id)
                  and (not province_id or o.province_id == province_id)]
    elif level == "province":
        places = [(p.id, p.name, {"province": p.id}) for p in db.session.scalars(select(Province).order_by(Province.code))
                  if (not region_id or p.region_id == region_id) and (not province_id or p.id == province_id)]
    else:
        places = [(r.id, r.name, {"region": r.id}) for r in db.session.scalars(select(Region).order_by(Region.code))
                  if not region_id or r.id == region_id]
    rows = []
    for _id, name, filters in places:
        people = active_technicians(region_id=filters.get("region"), province_id=filters.get("province"),
                                    outlet_id=filters.get("outlet"))
        if not people:
            continue
        ids = {u.id for u in people}
        row = CoverageRow(name, filters, len(people))
        for tier in tiers:
            count = len(holders(tier.id, today, ids))
            row.tiers.append((tier, count, round(100 * count / len(people))))
        for days in (30, 60, 90):
            row.expiring[days] = len(register(region_id=filters.get("region"), province_id=filters.get("province"),
                                              outlet_id=filters.get("outlet"), expiring_days=days, today=today))
        rows.append(row)
    return rows


def quarterly(today: date) -> list[tuple[object, int, int, int]]:
    """(assignment, assigned, complete, overdue) for each quarterly course assignment."""
    out = []
    for assignment in db.session.scalars(select(Assignment).join(Course, Assignment.course_id == Course.id)
                                         .where(Course.kind == "quarterly", Assignment.withdrawn_at.is_(None))
                                         .order_by(Assignment.due_date.desc())):
        out.append((assignment, *members.counts(assignment.id, today)))
    return out


def quiz_rates() -> list[tuple[object, int, int]]:
    """(quiz, technicians who took it, who passed) for each active quiz with graded attempts, by
    slug: one grouped query on the results kept at grading (``QuizResult``, one row per quiz and
    technician; "took it" is the length of the quiz report's results list, which reads the same
    rows). ``quiz_rates_live`` is the reference."""
    kept = (select(QuizResult.quiz_id, func.count().label("took"),
                   func.sum(case((QuizResult.passed.is_(True), 1), else_=0)).label("passed"))
            .group_by(QuizResult.quiz_id).subquery())
    return [(quiz, int(took), int(passed or 0)) for quiz, took, passed in db.session.execute(
        select(Quiz, kept.c.took, kept.c.passed).join(kept, kept.c.quiz_id == Quiz.id)
        .where(Quiz.active).order_by(Quiz.slug))]


def quiz_rates_live() -> list[tuple[object, int, int]]:
    """The reference for quiz_rates: every graded attempt of every quiz, grouped in Python."""
    out = []
    for quiz in active_quizzes():
        lines = results(graded_attempts(quiz))
        if lines:
            out.append((quiz, len(lines), sum(1 for line in lines if line.passed)))
    return out


def _recent_audits(days: int):
    """Submitted audit reports visited in the last ``days`` days (the audit list's ``days``
    filter: the figures link there). Read along the (status, visited_at) index."""
    return (Audit.status == "submitted", Audit.visited_at >= utcnow() - timedelta(days=days))


def audit_summary(today: date, days: int = 90) -> dict:
    """How many reports, their average score and red-line incidents over the last ``days`` days:
    one aggregate query (``audit_summary_live`` is the reference)."""
    reports, scored, total, red = db.session.execute(
        select(func.count(), func.count(Audit.score), func.sum(Audit.score),
               func.coalesce(func.sum(case((Audit.red_line_failed.is_(True), 1), else_=0)), 0))
        .where(*_recent_audits(days))).one()
    return {"days": days, "count": reports, "average": round(float(total) / scored, 1) if scored else None,
            "red_lines": int(red)}


def audit_summary_live(today: date, days: int = 90) -> dict:
    """The reference for audit_summary: every report as an object, added up in Python."""
    rows = list(db.session.scalars(select(Audit).where(*_recent_audits(days))))
    scores = [a.score for a in rows if a.score is not None]
    return {"days": days, "count": len(rows), "average": round(sum(scores) / len(scores), 1) if scores else None,
            "red_lines": sum(1 for a in rows if a.red_line_failed)}


def most_used_cases(limit: int = 5) -> list[tuple[object, int]]:
    """The cases with the most field feedback over 90 days, with their case rows (one query)."""
    since = utcnow() - timedelta(days=90)
    used = (select(Feedback.case_id, func.count().label("n")).where(Feedback.created_at >= since)
            .group_by(Feedback.case_id).order_by(func.count().desc(), Feedback.case_id).limit(limit).subquery())
    return [(c, int(n)) for c, n in db.session.execute(
        select(Case, used.c.n).join(used, used.c.case_id == Case.id).order_by(used.c.n.desc(), Case.id))]


@bp.route("/")
@roles_required("trainer", "admin")
def index():
    """The dashboard; the coverage table per region, per province (of a region) or per outlet (of
    a region or province), the outlets a page at a time."""
    level = request.args.get("by") if request.args.get("by") in LEVELS else "region"
    region_id = int_arg("region") if level != "region" else None
    province_id = int_arg("province") if level == "outlet" else None
    today = local_today()
    page = None
    if level == "outlet":
        page = coverage_outlets(today, region_id, province_id)
        rows = page.items
    else:
        rows = coverage(level, today, region_id, province_id)
    return render_template("dashboard/index.html", level=level, levels=LEVELS, rows=rows, page=page,
                           place={"region": region_id, "province": province_id},
                           regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
                           provinces=db.session.scalars(select(Province).where(*(
                               [Province.region_id == region_id] if region_id else [])).order_by(Province.code)).all(),
                           quarterly=quarterly(today), quizzes=quiz_rates(), audits=audit_summary(today),
                           kb=kb_summary(), cases=most_used_cases(), learning=trainer_summary(today),
                           lang=user_lang(), today=today)


@bp.route("/overdue")
@roles_required("trainer", "admin")
def overdue():
    """The list behind the trainer home's "overdue course assignments" figure: one query for the
    page's rows with their own due dates (and outlets)."""
    today = local_today()
    page = ListPage(members.OverdueList(today, with_due=True), int_arg("page", 1, 1, 1_000_000), OVERDUE_PAGE)
    return render_template("dashboard/overdue.html", rows=page.items, page=page, today=today, lang=user_lang())


def technician_list_url(**filters) -> str:
    return url_for("technicians.index", **{k: v for k, v in filters.items() if v})
